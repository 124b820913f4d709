"""RedriveExecution (emulated: moto has none) and GetExecutionHistory on the direct Step Functions
API and on the gateway's opt-in resources ``redrive-execution`` / ``get-execution-history``."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import requests
from botocore.exceptions import ClientError

from airflow_restjob.sandbox import Sandbox, SandboxClient
from airflow_restjob.sandbox.redrive import WINDOW_SECONDS
from tests.integration.sandbox.sandbox_helpers import post
from tests.integration.sandbox.states_helpers import (
    describe,
    error_of,
    sfn_client,
    start,
    states_post,
    wait_status,
)

MISSING_ARN = "arn:aws:states:us-east-1:123456789012:execution:fail:not-there"
TASK_FAIL = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": {"id": "r-1"}, "Next": "Reserve"},
        "Reserve": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {"TableName": "no-such-table", "Item": {"id": {"S.$": "$.id"}}},
            "End": True,
        },
    },
}


@pytest.fixture()
def sb(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The session sandbox with quick redrives and both extra gateway resources; put back afterwards."""
    sandbox.configure_redrive(seconds=1.0, status="SUCCEEDED", window_seconds=WINDOW_SECONDS)
    sandbox.set_extra_resources(["redrive-execution", "get-execution-history"])
    yield sandbox
    sandbox.set_extra_resources([])
    sandbox.configure_redrive(
        seconds=sandbox.state_machine_wait_seconds, status="SUCCEEDED", window_seconds=WINDOW_SECONDS
    )


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _failed(sb: Sandbox, machine: str = "rental_car", input_doc: dict | None = None) -> str:
    arn = start(sb, machine, input_doc if input_doc is not None else {"vehicle": "none"})
    doc = wait_status(sb, arn)
    assert doc["status"] in ("FAILED", "TIMED_OUT"), doc
    return arn


def _types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


def test_moto_itself_has_no_redrive(sb):
    """What the emulation is for: moto's server answers RedriveExecution with a 500."""
    req = urllib.request.Request(
        sb.moto_url + "/",
        data=json.dumps({"executionArn": MISSING_ARN}).encode(),
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "AWSStepFunctions.RedriveExecution",
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAX/20240101/us-east-1/states/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=10)  # noqa: S310 - loopback
    assert exc.value.code == 500


def test_redrive_a_failed_execution_from_the_failed_state(sb):
    sfn = sfn_client(sb)
    arn = _failed(sb)
    before = sfn.describe_execution(executionArn=arn)
    assert before["status"] == "FAILED" and before["error"] == "RentalCarError"
    assert before["redriveCount"] == 0 and before["redriveStatus"] == "REDRIVABLE"
    assert "redriveStatusReason" not in before and "redriveDate" not in before

    began = time.time()
    answer = sfn.redrive_execution(executionArn=arn)  # botocore adds a clientToken of its own
    redrive_date = answer["redriveDate"].timestamp()
    assert began - 1 <= redrive_date <= time.time() + 1

    running = sfn.describe_execution(executionArn=arn)
    assert running["executionArn"] == arn and running["startDate"] == before["startDate"]
    assert running["status"] == "RUNNING" and running["redriveCount"] == 1
    assert running["redriveDate"].timestamp() == pytest.approx(redrive_date, abs=0.01)
    assert running["redriveStatus"] == "NOT_REDRIVABLE"
    assert running["redriveStatusReason"] == "Execution is RUNNING and cannot be redriven"
    for gone in ("stopDate", "error", "cause", "output"):
        assert gone not in running
    # the gateway and the sandbox's own view agree
    assert post(sb, "describe-execution", {"executionArn": arn}).json()["status"] == "RUNNING"
    assert sb.describe_execution(arn)["status"] == "RUNNING"
    listed = {
        e["executionArn"]: e
        for e in sfn.list_executions(stateMachineArn=sb.state_machine_arn("rental_car"))["executions"]
    }
    assert (
        listed[arn]["status"] == "RUNNING"
        and listed[arn]["redriveCount"] == 1
        and "stopDate" not in listed[arn]
    )

    # a second redrive while it runs
    with pytest.raises(ClientError) as exc:
        sfn.redrive_execution(executionArn=arn)
    assert _code(exc) == ("ExecutionNotRedrivable", 400)
    assert "Execution is RUNNING and cannot be redriven" in str(exc.value)

    done = wait_status(sb, arn)
    assert done["status"] == "SUCCEEDED", done
    assert done["stopDate"] >= redrive_date + 0.9
    # output: the input of the state it had failed in (NotAvailable), as if that state had passed
    output = json.loads(done["output"])
    assert output["vehicle"] == "none" and output["reservation_id"] == arn.rsplit(":", 1)[1]
    assert "error" not in done and done["redriveCount"] == 1
    assert done["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"
    with pytest.raises(ClientError) as exc:
        sfn.redrive_execution(executionArn=arn)
    assert _code(exc) == ("ExecutionNotRedrivable", 400)
    assert sb.describe_execution(arn)["status"] == "SUCCEEDED"
    assert {e["executionArn"]: e["status"] for e in sb.list_executions(sb.state_machine_arn("rental_car"))}[
        arn
    ] == ("SUCCEEDED")

    events = sfn.get_execution_history(executionArn=arn)["events"]
    assert _types(events)[-6:] == [
        "FailStateEntered",
        "ExecutionFailed",
        "ExecutionRedriven",
        "FailStateEntered",
        "FailStateExited",
        "ExecutionSucceeded",
    ]
    assert events[-4]["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert events[-3]["stateEnteredEventDetails"]["name"] == "NotAvailable"
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["previousEventId"] == e["id"] - 1 for e in events[-4:])


def test_client_token_idempotence(sb):
    arn = _failed(sb, "fail", {})
    first = states_post(sb, "RedriveExecution", {"executionArn": arn, "clientToken": "token-1"})
    assert first.status_code == 200, first.text
    again = states_post(sb, "RedriveExecution", {"executionArn": arn, "clientToken": "token-1"})
    assert again.status_code == 200 and again.json() == first.json()
    assert describe(sb, arn)["redriveCount"] == 1
    # another token while the redrive runs
    r = states_post(sb, "RedriveExecution", {"executionArn": arn, "clientToken": "token-2"})
    status, error, message = error_of(r)
    assert (status, error) == (400, "ExecutionNotRedrivable") and arn in message
    # the same token after the redrive ended: still the same answer (valid 15 minutes)
    wait_status(sb, arn)
    again = states_post(sb, "RedriveExecution", {"executionArn": arn, "clientToken": "token-1"})
    assert again.status_code == 200 and again.json() == first.json()
    r = states_post(sb, "RedriveExecution", {"executionArn": arn, "clientToken": "x" * 65})
    assert error_of(r)[:2] == (400, "ValidationException")


def test_redrive_errors(sb):
    sfn = sfn_client(sb)
    running = start(sb, "long")
    try:
        with pytest.raises(ClientError) as exc:
            sfn.redrive_execution(executionArn=running)
        assert _code(exc) == ("ExecutionNotRedrivable", 400)
    finally:
        sfn.stop_execution(executionArn=running)
    with pytest.raises(ClientError) as exc:
        sfn.redrive_execution(executionArn=MISSING_ARN)
    assert _code(exc) == ("ExecutionDoesNotExist", 400)
    with pytest.raises(ClientError) as exc:
        sfn.redrive_execution(executionArn="not-an-arn")
    assert _code(exc) == ("InvalidArn", 400)
    r = states_post(sb, "RedriveExecution", {"clientToken": "t"})
    assert error_of(r)[:2] == (400, "ValidationException")
    r = states_post(sb, "RedriveExecution", {"executionArn": MISSING_ARN}, sb.noinvoke_credentials)
    assert error_of(r)[:2] == (400, "AccessDeniedException")
    # a redrive-execution fault hits the direct action too
    sb.faults.inject(resource="redrive-execution", kind="503", count=1)
    r = states_post(sb, "RedriveExecution", {"executionArn": MISSING_ARN})
    assert r.status_code == 503
    entry = sb.request_log()[-1]
    assert (entry["action"], entry["fault"], entry["execution_arn"]) == (
        "RedriveExecution",
        "503",
        MISSING_ARN,
    )


def test_timed_out_and_aborted_through_the_gateway(sb):
    # TIMED_OUT, redriven with POST /{stage}/redrive-execution
    arn = _failed(sb, "timeout", {})
    r = post(sb, "redrive-execution", {"executionArn": arn})
    assert r.status_code == 200 and isinstance(r.json()["redriveDate"], float), r.text
    doc = post(sb, "describe-execution", {"executionArn": arn}).json()
    assert doc["status"] == "RUNNING" and doc["redriveCount"] == 1
    assert wait_status(sb, arn)["status"] == "SUCCEEDED"

    # ABORTED (stopped through the gateway), redriven, stopped again, redriven again
    arn = start(sb, "long")
    assert post(sb, "stop-execution", {"executionArn": arn, "error": "E1", "cause": "C1"}).status_code == 200
    aborted = wait_status(sb, arn)
    assert aborted["status"] == "ABORTED" and aborted["redriveStatus"] == "REDRIVABLE"
    assert post(sb, "redrive-execution", {"executionArn": arn}).status_code == 200
    assert describe(sb, arn)["status"] == "RUNNING"
    stopped = sfn_client(sb).stop_execution(executionArn=arn, error="E2", cause="C2")
    doc = describe(sb, arn)
    assert doc["status"] == "ABORTED" and (doc["error"], doc["cause"]) == ("E2", "C2")
    assert doc["stopDate"] == pytest.approx(stopped["stopDate"].timestamp(), abs=0.01)
    assert doc["redriveStatus"] == "REDRIVABLE" and doc["redriveCount"] == 1
    assert [e["resource"] for e in sb.stops_for(arn)] == ["stop-execution", "states"]
    assert post(sb, "redrive-execution", {"executionArn": arn}).status_code == 200
    doc = wait_status(sb, arn)
    assert doc["status"] == "SUCCEEDED" and doc["redriveCount"] == 2
    events = post(sb, "get-execution-history", {"executionArn": arn}).json()["events"]
    assert _types(events) == [
        "ExecutionStarted",
        "WaitStateEntered",
        "ExecutionAborted",
        "ExecutionRedriven",
        "WaitStateEntered",
        "ExecutionAborted",
        "ExecutionRedriven",
        "WaitStateEntered",
        "WaitStateExited",
        "ExecutionSucceeded",
    ]
    assert events[2]["executionAbortedEventDetails"] == {"error": "E1", "cause": "C1"}
    assert events[5]["executionAbortedEventDetails"] == {"error": "E2", "cause": "C2"}
    assert events[6]["executionRedrivenEventDetails"] == {"redriveCount": 2}

    # gateway errors keep the gateway's default mapping: HTTP 200 with __type
    r = post(sb, "redrive-execution", {"executionArn": arn})
    assert r.status_code == 200 and r.json()["__type"].endswith("#ExecutionNotRedrivable")


def test_redrive_that_fails_again_and_the_redrivable_period(sb):
    SandboxClient(sb.admin_url).configure_redrive(status="FAILED", error="RentalCarError", cause="still none")
    arn = _failed(sb, "fail", {})
    assert states_post(sb, "RedriveExecution", {"executionArn": arn}).status_code == 200
    doc = wait_status(sb, arn)
    assert (doc["status"], doc["error"], doc["cause"]) == ("FAILED", "RentalCarError", "still none")
    assert doc["redriveStatus"] == "REDRIVABLE"
    events = sfn_client(sb).get_execution_history(executionArn=arn, reverseOrder=True)["events"]
    assert events[0]["type"] == "ExecutionFailed"
    assert events[0]["executionFailedEventDetails"] == {"error": "RentalCarError", "cause": "still none"}

    sb.configure_redrive(window_seconds=0)
    doc = describe(sb, arn)
    assert doc["redriveStatus"] == "NOT_REDRIVABLE"
    assert doc["redriveStatusReason"] == "Execution redrivable period exceeded"
    r = states_post(sb, "RedriveExecution", {"executionArn": arn})
    assert error_of(r)[:2] == (400, "ExecutionNotRedrivable")
    assert sb.info()["redrive"]["window_seconds"] == 0


def test_gateway_resources_are_opt_in(sb):
    sb.set_extra_resources([])
    for resource in ("redrive-execution", "get-execution-history"):
        r = post(sb, resource, {"executionArn": MISSING_ARN})
        assert r.status_code == 403 and r.json() == {"message": "Missing Authentication Token"}
    # the direct API serves both actions anyway
    assert error_of(states_post(sb, "GetExecutionHistory", {"executionArn": MISSING_ARN}))[1] == (
        "ExecutionDoesNotExist"
    )
    SandboxClient(sb.admin_url).set_extra_resources(["get-execution-history"])
    assert sb.info()["extra_resources"] == ["get-execution-history"]
    r = post(sb, "get-execution-history", {"executionArn": MISSING_ARN})
    assert r.status_code == 200 and r.json()["__type"].endswith("#ExecutionDoesNotExist")
    assert post(sb, "redrive-execution", {"executionArn": MISSING_ARN}).status_code == 403
    with pytest.raises(ValueError):
        sb.set_extra_resources(["list-executions"])


def test_history_of_a_task_failure(sb):
    try:
        machine = sb.state_machine_arn("task_fail")
    except KeyError:
        machine = sb.create_state_machine("task_fail", TASK_FAIL)
    sfn = sfn_client(sb)
    arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    assert wait_status(sb, arn)["status"] == "FAILED"
    events = sfn.get_execution_history(executionArn=arn)["events"]
    assert _types(events) == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskFailed",
        "ExecutionFailed",
    ]
    assert events[3]["stateEnteredEventDetails"]["name"] == "Reserve"
    failed = events[6]["taskFailedEventDetails"]
    assert failed["error"] == "DynamoDB.ResourceNotFoundException" and failed["resource"] == "putItem"
    assert events[7]["executionFailedEventDetails"]["error"] == "DynamoDB.ResourceNotFoundException"

    # newest first, in pages (moto itself ignores these parameters)
    page = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=3)
    assert _types(page["events"]) == ["ExecutionFailed", "TaskFailed", "TaskStarted"]
    seen = list(page["events"])
    while "nextToken" in page:
        page = sfn.get_execution_history(
            executionArn=arn, reverseOrder=True, maxResults=3, nextToken=page["nextToken"]
        )
        seen += page["events"]
    assert [e["id"] for e in seen] == [e["id"] for e in reversed(events)]
    paginator = sfn.get_paginator("get_execution_history")
    assert [e["id"] for p in paginator.paginate(executionArn=arn, maxResults=2) for e in p["events"]] == list(
        range(1, 9)
    )
    lean = sfn.get_execution_history(executionArn=arn, includeExecutionData=False)["events"]
    assert "input" not in lean[0]["executionStartedEventDetails"]
    assert lean[3]["stateEnteredEventDetails"] == {"name": "Reserve"}

    with pytest.raises(ClientError) as exc:
        sfn.get_execution_history(executionArn=arn, maxResults=1001)
    assert _code(exc) == ("ValidationException", 400)
    with pytest.raises(ClientError) as exc:
        sfn.get_execution_history(executionArn=arn, nextToken="bm90IGEgdG9rZW4=")
    assert _code(exc) == ("InvalidToken", 400)
    with pytest.raises(ClientError) as exc:
        sfn.get_execution_history(executionArn=MISSING_ARN)
    assert _code(exc) == ("ExecutionDoesNotExist", 400)

    # the gateway resource gives the same events
    r = post(sb, "get-execution-history", {"executionArn": arn, "reverseOrder": True, "maxResults": 2})
    assert r.status_code == 200
    assert _types(r.json()["events"]) == ["ExecutionFailed", "TaskFailed"] and "nextToken" in r.json()
    # a get-execution-history fault is taken on either path
    sb.faults.inject(resource="get-execution-history", kind="500", count=2)
    assert post(sb, "get-execution-history", {"executionArn": arn}).status_code == 500
    assert states_post(sb, "GetExecutionHistory", {"executionArn": arn}).status_code == 500
    assert states_post(sb, "GetExecutionHistory", {"executionArn": arn}).status_code == 200


def test_sandbox_client_redrive_settings(sb):
    client = SandboxClient(sb.admin_url)
    state = client.configure_redrive(seconds=2.5)
    assert state["seconds"] == 2.5 and state["outcome"]["status"] == "SUCCEEDED"
    assert sb.redrives.seconds == 2.5
    with pytest.raises(RuntimeError):
        client.configure_redrive(status="RUNNING")
    assert requests.get(sb.admin_url + "/redrive", timeout=10).json()["seconds"] == 2.5
