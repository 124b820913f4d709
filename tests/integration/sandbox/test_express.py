"""Express workflows and StartSyncExecution in the sandbox (moto has no StartSyncExecution): over
real HTTP on loopback, botocore's ``stepfunctions`` client against the direct API and signed
requests against the gateway's opt-in ``start-sync-execution`` resource."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from airflow_restjob.sandbox import Sandbox
from airflow_restjob.sandbox import express as express_module
from airflow_restjob.sandbox.express import billed_milliseconds, express_arn, is_express_arn
from tests.integration.sandbox.sandbox_helpers import post
from tests.integration.sandbox.states_helpers import error_of, sfn_client, states_post

SYNC_SHAPE = {
    "executionArn",
    "stateMachineArn",
    "name",
    "startDate",
    "stopDate",
    "status",
    "input",
    "inputDetails",
    "billingDetails",
}
INVALID_ARN = "Invalid Arn: 'Resource type not valid in this context: express'"
NOT_SUPPORTED = "This operation is not supported by this type of state machine"


@pytest.fixture()
def sb(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The session sandbox; extra resources and the sync limit put back afterwards."""
    seconds = sandbox.express_sync_seconds
    resources = set(sandbox.extra_resources)
    yield sandbox
    sandbox.set_express_sync_seconds(seconds)
    sandbox.set_extra_resources(resources)


def sync_client(sb: Sandbox) -> Any:
    """botocore's client for StartSyncExecution. Its service model gives the operation
    ``endpoint.hostPrefix`` ``sync-`` (AWS serves it on sync-states.{region}.amazonaws.com): against
    an endpoint_url of 127.0.0.1 that would be the host ``sync-127.0.0.1``, so the prefix is not
    injected (inject_host_prefix=False) and the direct listener serves the action itself."""
    return sfn_client(sb, inject_host_prefix=False)


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = exc.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def _express_arn_pattern(machine: str, name: str) -> re.Pattern[str]:
    return re.compile(
        rf"^arn:aws:states:us-east-1:123456789012:express:{machine}:{re.escape(name)}:"
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$"
    )


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _wait_moto(sb: Sandbox, arn: str, wanted: set[str], timeout: float = 15) -> dict[str, Any]:
    """Sandbox.describe_execution (straight against moto) until the status is one of ``wanted``."""
    deadline = time.monotonic() + timeout
    while (doc := sb.describe_execution(arn))["status"] not in wanted:
        assert time.monotonic() < deadline, f"{arn} still {doc['status']} after {timeout}s"
        time.sleep(0.2)
    return doc


# --------------------------------------------------------------------------- pure parts


def test_express_arns_and_billing():
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:express_succeed"
    assert (
        express_arn(machine, "n1", "u1")
        == "arn:aws:states:us-east-1:123456789012:express:express_succeed:n1:u1"
    )
    assert express_arn(machine + ":3", "n1", "u1").endswith(":express:express_succeed:n1:u1")
    assert is_express_arn("arn:aws:states:us-east-1:123456789012:express:sm:n:u")
    # a Standard state machine may be called "express": its executions are not Express ones
    assert not is_express_arn("arn:aws:states:us-east-1:123456789012:execution:express:n")
    assert not is_express_arn("arn:aws:states:us-east-1:123456789012:execution:sm:n")
    billed = {0: 100, 0.05: 100, 0.1: 100, 0.1001: 200, 1.234: 1300, 2.0: 2000}
    assert {seconds: billed_milliseconds(seconds) for seconds in billed} == billed
    with pytest.raises(ValueError):
        express_module.ExpressExecutions(0)


def test_example_machines_are_express(sb):
    moto = sb.aws_client("stepfunctions")
    for name in ("express_succeed", "express_fail"):
        arn = sb.state_machine_arn(name)
        assert arn == f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}"
        assert moto.describe_state_machine(stateMachineArn=arn)["type"] == "EXPRESS"
    assert moto.describe_state_machine(stateMachineArn=sb.state_machine_arn("succeed"))["type"] == "STANDARD"
    fail = json.loads(
        moto.describe_state_machine(stateMachineArn=sb.state_machine_arn("express_fail"))["definition"]
    )
    assert fail["States"]["Fail"] == {
        "Type": "Fail",
        "Error": "RentalCarError",
        "Cause": "vehicle not available",
    }
    assert sb.info()["express"]["sync_seconds"] == 300.0


# --------------------------------------------------------------------------- StartSyncExecution, direct API


def test_botocore_needs_no_host_prefix(sb):
    # why sync_client turns inject_host_prefix off
    model = sfn_client(sb).meta.service_model.operation_model("StartSyncExecution")
    assert model.endpoint == {"hostPrefix": "sync-"}


def test_start_sync_execution_succeeds(sb):
    machine = sb.state_machine_arn("express_succeed")
    name = _unique("sync-ok")
    given = {"wait_seconds": 0, "car": "compact"}
    began = time.time()
    doc = sync_client(sb).start_sync_execution(
        stateMachineArn=machine, name=name, input=json.dumps(given), traceHeader="Root=1-abc"
    )
    assert doc["status"] == "SUCCEEDED", doc
    assert json.loads(doc["output"]) == {**given, "result": "ok"}
    assert _express_arn_pattern("express_succeed", name).match(doc["executionArn"]), doc["executionArn"]
    assert doc["stateMachineArn"] == machine and doc["name"] == name
    assert json.loads(doc["input"]) == given and doc["inputDetails"] == {"included": True}
    assert doc["outputDetails"] == {"included": True}
    assert "error" not in doc and "cause" not in doc
    assert doc["traceHeader"] == "Root=1-abc"
    assert began - 2 < doc["startDate"].timestamp() <= doc["stopDate"].timestamp() < time.time() + 1
    billing = doc["billingDetails"]
    assert billing["billedMemoryUsedInMB"] == 64
    assert (
        billing["billedDurationInMilliseconds"] >= 100 and billing["billedDurationInMilliseconds"] % 100 == 0
    )

    (entry,) = [e for e in sb.states_calls() if e["action"] == "StartSyncExecution"]
    assert entry["resource"] == "states" and entry["status"] == 200 and entry["error"] is None
    assert entry["execution_arn"] == doc["executionArn"] and entry["state_machine_arn"] == machine
    assert entry["body"] is None  # never a start's body: the input is the caller's data
    assert entry["access_key"] == sb.invoke_credentials.access_key


def test_start_sync_execution_waits_and_names(sb):
    # no name: a uuid, as StartExecution's; the default wait of express_succeed is 1 s
    began = time.monotonic()
    r = states_post(sb, "StartSyncExecution", {"stateMachineArn": sb.state_machine_arn("express_succeed")})
    elapsed = time.monotonic() - began
    assert r.status_code == 200, r.text
    doc = r.json()
    assert set(doc) == SYNC_SHAPE | {"output", "outputDetails"}
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", doc["name"])
    assert _express_arn_pattern("express_succeed", doc["name"]).match(doc["executionArn"])
    assert doc["status"] == "SUCCEEDED" and json.loads(doc["output"]) == {"result": "ok"}
    assert isinstance(doc["startDate"], (int, float)) and isinstance(doc["stopDate"], (int, float))
    assert elapsed >= 0.9 and doc["stopDate"] - doc["startDate"] >= 0.9
    assert doc["billingDetails"]["billedDurationInMilliseconds"] >= 1000
    # names need not be unique for Express executions: the same name again is another execution
    sfn = sync_client(sb)
    first = sfn.start_sync_execution(
        stateMachineArn=sb.state_machine_arn("express_succeed"), name="again", input="{}"
    )
    second = sfn.start_sync_execution(
        stateMachineArn=sb.state_machine_arn("express_succeed"), name="again", input="{}"
    )
    assert first["status"] == second["status"] == "SUCCEEDED"
    assert first["executionArn"] != second["executionArn"] and first["name"] == second["name"] == "again"


def test_start_sync_execution_fails(sb):
    doc = sync_client(sb).start_sync_execution(
        stateMachineArn=sb.state_machine_arn("express_fail"), input=json.dumps({"vehicle": "none"})
    )
    assert doc["status"] == "FAILED", doc
    assert doc["error"] == "RentalCarError" and doc["cause"] == "vehicle not available"
    assert "output" not in doc and "outputDetails" not in doc
    assert ":express:express_fail:" in doc["executionArn"]
    assert json.loads(doc["input"]) == {"vehicle": "none"}


def test_start_sync_execution_times_out(sb):
    sb.set_express_sync_seconds(2)
    assert sb.info()["express"]["sync_seconds"] == 2.0
    began = time.monotonic()
    doc = sync_client(sb).start_sync_execution(
        stateMachineArn=sb.state_machine_arn("express_succeed"), input=json.dumps({"wait_seconds": 30})
    )
    elapsed = time.monotonic() - began
    assert doc["status"] == "TIMED_OUT", doc
    assert doc["error"] == "States.Timeout" and "output" not in doc
    assert 1.9 <= elapsed < 10
    assert 1.9 <= (doc["stopDate"] - doc["startDate"]).total_seconds() < 10
    assert doc["billingDetails"]["billedDurationInMilliseconds"] >= 2000
    # ... and moto's execution does not run on
    assert _wait_moto(sb, doc["executionArn"], {"ABORTED", "SUCCEEDED"})["status"] == "ABORTED"
    with pytest.raises(ValueError):
        sb.set_express_sync_seconds(0)


def test_start_sync_execution_refusals(sb):
    sfn = sync_client(sb)
    with pytest.raises(ClientError) as exc:
        sfn.start_sync_execution(stateMachineArn=sb.state_machine_arn("succeed"), input="{}")
    assert _code(exc) == ("StateMachineTypeNotSupported", 400, NOT_SUPPORTED)
    missing = "arn:aws:states:us-east-1:123456789012:stateMachine:no-such-machine"
    with pytest.raises(ClientError) as exc:
        sfn.start_sync_execution(stateMachineArn=missing)
    assert _code(exc) == ("StateMachineDoesNotExist", 400, f"State Machine Does Not Exist: '{missing}'")
    with pytest.raises(ClientError) as started:
        sfn.start_execution(stateMachineArn=missing)
    assert _code(started) == _code(exc)  # as StartExecution answers
    express = sb.state_machine_arn("express_succeed")
    with pytest.raises(ClientError) as exc:
        sfn.start_sync_execution(stateMachineArn=express, input="{not json")
    assert _code(exc)[:2] == ("InvalidExecutionInput", 400)
    r = states_post(sb, "StartSyncExecution", {"stateMachineArn": express, "input": json.dumps("x" * 262144)})
    assert error_of(r)[:2] == (400, "ValidationException")
    r = states_post(sb, "StartSyncExecution", {"stateMachineArn": express, "name": "bad name"})
    assert error_of(r) == (400, "InvalidName", "Invalid Name: 'bad name'")
    r = states_post(sb, "StartSyncExecution", {})
    assert error_of(r)[:2] == (400, "ValidationException")
    r = states_post(sb, "StartSyncExecution", {"stateMachineArn": express}, sb.noinvoke_credentials)
    assert error_of(r)[:2] == (400, "AccessDeniedException")
    assert "states:StartSyncExecution" in error_of(r)[2]
    errors = [e["error"] for e in sb.states_calls() if e["action"] == "StartSyncExecution"]
    assert errors[:2] == ["StateMachineTypeNotSupported", "StateMachineDoesNotExist"]


def test_faults_are_keyed_start_sync_execution(sb):
    sb.faults.inject(resource="start-sync-execution", kind="503", count=1)
    r = states_post(sb, "StartSyncExecution", {"stateMachineArn": sb.state_machine_arn("express_succeed")})
    assert error_of(r)[:2] == (503, "ServiceUnavailableException")
    entry = sb.states_calls()[-1]
    assert entry["action"] == "StartSyncExecution" and entry["fault"] == "503"
    # a StartExecution is not hit by it
    sb.faults.inject(resource="start-sync-execution", kind="503", count=1)
    sync_client(sb).start_execution(stateMachineArn=sb.state_machine_arn("express_succeed"), input="{}")
    assert sb.faults.pending() == [
        {"resource": "start-sync-execution", "kind": "503", "count": 1, "delay_seconds": 30.0}
    ]


# --------------------------------------------------------------------------- StartExecution of an Express machine


def test_start_execution_of_an_express_machine(sb):
    sfn = sfn_client(sb)
    name = _unique("async")
    given = {"wait_seconds": 0, "car": "suv"}
    started = sfn.start_execution(
        stateMachineArn=sb.state_machine_arn("express_succeed"), name=name, input=json.dumps(given)
    )
    arn = started["executionArn"]
    assert _express_arn_pattern("express_succeed", name).match(arn), arn
    assert abs(started["startDate"].timestamp() - time.time()) < 10
    for call in (sfn.describe_execution, sfn.stop_execution, sfn.get_execution_history):
        with pytest.raises(ClientError) as exc:
            call(executionArn=arn)
        assert _code(exc) == ("InvalidArn", 400, INVALID_ARN)
    # it really runs, in moto (Sandbox.describe_execution maps the Express ARN to moto's)
    doc = _wait_moto(sb, arn, {"SUCCEEDED", "FAILED"})
    assert doc["status"] == "SUCCEEDED" and json.loads(doc["output"]) == {**given, "result": "ok"}
    assert ":execution:express_succeed:" in doc["executionArn"] and doc["name"] == name
    entries = [e for e in sb.states_calls() if e["execution_arn"] == arn]
    assert [(e["action"], e["status"]) for e in entries] == [
        ("StartExecution", 200),
        ("DescribeExecution", 400),
        ("StopExecution", 400),
        ("GetExecutionHistory", 400),
    ]
    assert [e["error"] for e in entries[1:]] == ["InvalidArn"] * 3
    # a Standard machine's StartExecution is as before, and the types are cached
    standard = sfn.start_execution(stateMachineArn=sb.state_machine_arn("succeed"), input="{}")[
        "executionArn"
    ]
    assert ":execution:succeed:" in standard
    assert sfn.describe_execution(executionArn=standard)["redriveCount"] == 0
    assert sb.express.machine_type(sb.state_machine_arn("succeed")) == "STANDARD"
    assert sb.state_machine_arn("express_succeed") in sb.info()["express"]["express_state_machines"]


def test_gateway_start_execution_of_an_express_machine(sb):
    r = post(sb, "start-execution", {"stateMachineArn": sb.state_machine_arn("express_fail")})
    assert r.status_code == 200, r.text
    arn = r.json()["executionArn"]
    assert ":express:express_fail:" in arn
    # the gateway's default integration response: a 200 with the error document
    r = post(sb, "describe-execution", {"executionArn": arn})
    assert r.status_code == 200 and r.json() == {
        "__type": "com.amazonaws.swf.service.v2.model#InvalidArn",
        "message": INVALID_ARN,
    }
    r = post(sb, "stop-execution", {"executionArn": arn})
    assert r.json()["__type"].endswith("#InvalidArn")
    assert _wait_moto(sb, arn, {"FAILED", "SUCCEEDED"})["error"] == "RentalCarError"
    starts = [e for e in sb.request_log() if e["resource"] == "start-execution"]
    assert starts[-1]["execution_arn"] == arn


# --------------------------------------------------------------------------- the gateway's opt-in resource


def test_gateway_start_sync_execution_is_opt_in(sb):
    doc = {
        "stateMachineArn": sb.state_machine_arn("express_succeed"),
        "name": _unique("gw-sync"),
        "input": json.dumps({"wait_seconds": 0, "via": "gateway"}),
    }
    sb.set_extra_resources([])
    r = post(sb, "start-sync-execution", doc)
    assert r.status_code == 403 and r.json() == {"message": "Missing Authentication Token"}
    assert r.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"

    sb.set_extra_resources(["start-sync-execution"])
    assert sb.info()["extra_resources"] == ["start-sync-execution"]
    r = post(sb, "start-sync-execution", doc, timeout=30)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert set(answer) == SYNC_SHAPE | {"output", "outputDetails"}
    assert answer["status"] == "SUCCEEDED" and answer["name"] == doc["name"]
    assert json.loads(answer["output"]) == {"wait_seconds": 0, "via": "gateway", "result": "ok"}
    assert _express_arn_pattern("express_succeed", doc["name"]).match(answer["executionArn"])
    assert answer["billingDetails"]["billedMemoryUsedInMB"] == 64

    r = post(sb, "start-sync-execution", {**doc, "stateMachineArn": sb.state_machine_arn("succeed")})
    assert r.status_code == 200 and r.json() == {
        "__type": "com.amazonaws.swf.service.v2.model#StateMachineTypeNotSupported",
        "message": NOT_SUPPORTED,
    }
    r = post(
        sb, "start-sync-execution", {"stateMachineArn": sb.state_machine_arn("express_fail")}, timeout=30
    )
    assert r.json()["status"] == "FAILED" and r.json()["error"] == "RentalCarError"

    entries = [e for e in sb.request_log() if e["resource"] == "start-sync-execution"]
    assert [e["status"] for e in entries] == [200, 200, 200]
    assert entries[0]["execution_arn"] == answer["executionArn"] and entries[0]["body"] == doc
    assert entries[1]["execution_arn"] is None
    assert ":express:express_fail:" in entries[2]["execution_arn"]
    # the 403 before it was enabled is an unknown resource
    assert [
        e for e in sb.request_log() if e["resource"] is None and e["path"].endswith("/start-sync-execution")
    ]

    sb.faults.inject(resource="start-sync-execution", kind="504", count=1)
    r = post(sb, "start-sync-execution", doc)
    assert r.status_code == 504 and r.json() == {"message": "Endpoint request timed out"}
