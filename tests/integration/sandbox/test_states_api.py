"""The sandbox's direct Step Functions API (``Sandbox.states_url``) over real HTTP on loopback:
botocore's ``stepfunctions`` client unmodified, requests_aws4auth, SigV4 failures as HTTP 400,
shared faults / quota / request log with the gateway."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from requests_aws4auth import AWS4Auth

from airflow_restjob.sandbox import Credentials, Sandbox, SandboxClient
from tests.integration.sandbox.sandbox_helpers import post
from tests.integration.sandbox.states_helpers import (
    AMZ_JSON,
    describe,
    error_of,
    sfn_client,
    start,
    states_post,
    wait_status,
)

MISSING_ARN = "arn:aws:states:us-east-1:123456789012:execution:succeed:not-there"


@pytest.fixture()
def sb(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The session sandbox, with STS session length put back afterwards."""
    seconds = sandbox.sts_session_seconds
    yield sandbox
    sandbox.set_sts_session_seconds(seconds)


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_info_and_addresses(sb):
    info = sb.info()
    assert info["states_url"] == sb.states_url and sb.states_url.startswith("http://127.0.0.1:")
    ports = {sb.port, sb.sts_port, sb.states_port}
    assert len(ports) == 3 and sb.states_url == f"http://127.0.0.1:{sb.states_port}"
    assert SandboxClient(sb.admin_url).states_url == sb.states_url
    assert sb.states_statement() == {
        "name": "sandbox_states",
        "authType": "aws_sigv4",
        "accessKeyId": sb.invoke_credentials.access_key,
        "secretAccessKey": sb.invoke_credentials.secret_key,
        "region": sb.region,
        "service": "states",
        "baseUrl": sb.states_url,
    }
    assert SandboxClient(sb.admin_url).states_statement() == sb.states_statement()


def test_botocore_start_describe_stop_list(sb):
    sfn = sfn_client(sb)
    long_arn = sb.state_machine_arn("long")
    started = sfn.start_execution(stateMachineArn=long_arn, input=json.dumps({"secret_input": "s3cr3t"}))
    arn = started["executionArn"]
    # no name given: a UUID name, as AWS does (moto alone would call it "None")
    name = arn.rsplit(":", 1)[1]
    assert len(name) == 36 and name.count("-") == 4
    doc = sfn.describe_execution(executionArn=arn)
    assert doc["status"] == "RUNNING" and doc["stateMachineArn"] == long_arn and doc["name"] == name
    assert doc["redriveCount"] == 0 and doc["redriveStatus"] == "NOT_REDRIVABLE"
    assert doc["redriveStatusReason"] == "Execution is RUNNING and cannot be redriven"
    assert "stopDate" not in doc
    listed = {e["executionArn"]: e for e in sfn.list_executions(stateMachineArn=long_arn)["executions"]}
    assert listed[arn]["status"] == "RUNNING" and listed[arn]["redriveCount"] == 0
    assert {
        e["executionArn"]
        for e in sfn.list_executions(stateMachineArn=long_arn, statusFilter="RUNNING")["executions"]
    } >= {arn}

    stopped = sfn.stop_execution(executionArn=arn, error="Operator.Stop", cause="stopped by the test")
    assert abs(stopped["stopDate"].timestamp() - time.time()) < 10
    doc = wait_status(sb, arn, {"ABORTED"})
    # the stop's error and cause are kept (moto drops them), as through the gateway
    assert doc["error"] == "Operator.Stop" and doc["cause"] == "stopped by the test"
    assert doc["redriveStatus"] == "REDRIVABLE" and "redriveStatusReason" not in doc
    assert sfn.describe_execution(executionArn=arn)["error"] == "Operator.Stop"
    # ... and the gateway reports the same execution the same way
    r = post(sb, "describe-execution", {"executionArn": arn})
    assert (
        r.status_code == 200
        and r.json()["status"] == "ABORTED"
        and r.json()["cause"] == "stopped by the test"
    )

    entries = sb.states_calls()
    assert [e["action"] for e in entries][:3] == ["StartExecution", "DescribeExecution", "ListExecutions"]
    first = entries[0]
    assert first["resource"] == "states" and first["status"] == 200 and first["path"] == "/"
    assert first["execution_arn"] == arn and first["state_machine_arn"] == long_arn
    assert first["access_key"] == sb.invoke_credentials.access_key and first["body"] is None
    stops = sb.stops_for(arn)
    assert [(s["resource"], s["action"], s["status"]) for s in stops] == [("states", "StopExecution", 200)]
    assert stops[0]["body"] == {"executionArn": arn, "error": "Operator.Stop", "cause": "stopped by the test"}
    assert SandboxClient(sb.admin_url).stops_for(arn) == stops
    text = json.dumps(sb.request_log())
    assert "s3cr3t" not in text and sb.invoke_credentials.secret_key not in text


def test_an_execution_really_runs(sb):
    arn = start(sb, "succeed", {"wait_seconds": 0, "car": "compact"}, name="direct-run-1")
    assert arn.endswith(":execution:succeed:direct-run-1")
    doc = wait_status(sb, arn)
    assert doc["status"] == "SUCCEEDED", doc
    assert json.loads(doc["output"]) == {"wait_seconds": 0, "car": "compact", "result": "ok"}
    assert doc["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"
    # the same name with the same input while it has ended: ExecutionAlreadyExists
    with pytest.raises(ClientError) as exc:
        start(sb, "succeed", {"wait_seconds": 0, "car": "compact"}, name="direct-run-1")
    assert _code(exc) == ("ExecutionAlreadyExists", 400)


def test_service_errors_are_http_400_with_a_type(sb):
    sfn = sfn_client(sb)
    with pytest.raises(ClientError) as exc:
        sfn.describe_execution(executionArn=MISSING_ARN)
    assert _code(exc) == ("ExecutionDoesNotExist", 400)
    with pytest.raises(ClientError) as exc:
        sfn.start_execution(stateMachineArn=sb.state_machine_arn("succeed") + "-nope")
    assert _code(exc) == ("StateMachineDoesNotExist", 400)
    with pytest.raises(ClientError) as exc:
        sfn.start_execution(stateMachineArn=sb.state_machine_arn("succeed"), name="bad name")
    assert _code(exc) == ("InvalidName", 400)
    with pytest.raises(ClientError) as exc:
        sfn.start_execution(stateMachineArn=sb.state_machine_arn("succeed"), input="{not json")
    assert _code(exc) == ("InvalidExecutionInput", 400)
    with pytest.raises(ClientError) as exc:
        sfn.describe_execution(executionArn="not-an-arn")
    assert _code(exc) == ("InvalidArn", 400)

    # on the wire: __type with the service's prefix, as Step Functions sends it
    r = states_post(sb, "DescribeExecution", {"executionArn": MISSING_ARN})
    assert r.status_code == 400 and r.headers["Content-Type"] == AMZ_JSON and r.headers["x-amzn-RequestId"]
    assert r.json() == {
        "__type": "com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist",
        "message": f"Execution Does Not Exist: '{MISSING_ARN}'",
    }
    r = states_post(sb, "DescribeExecution", {})
    assert error_of(r) == (
        400,
        "ValidationException",
        "1 validation error detected: Value null at 'executionArn' failed to satisfy constraint: "
        "Member must not be null",
    )
    r = states_post(sb, "StopExecution", b"[1, 2]")
    assert error_of(r)[:2] == (400, "SerializationException")
    assert sb.request_log()[-1]["error"] == "SerializationException"


def test_requests_aws4auth_signed_for_states(sb):
    creds = sb.invoke_credentials
    auth = AWS4Auth(creds.access_key, creds.secret_key, sb.region, "states")
    headers = {"Content-Type": AMZ_JSON, "X-Amz-Target": "AWSStepFunctions.DescribeStateMachine"}
    r = requests.post(
        sb.states_url + "/",
        data=json.dumps({"stateMachineArn": sb.state_machine_arn("fail")}),
        headers=headers,
        auth=auth,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "fail"
    # a temporary identity (session token) signs for states too
    tmp = sb.temporary_credentials
    auth = AWS4Auth(tmp.access_key, tmp.secret_key, sb.region, "states", session_token=tmp.session_token)
    headers["X-Amz-Target"] = "AWSStepFunctions.ListStateMachines"
    r = requests.post(sb.states_url + "/", data=b"{}", headers=headers, auth=auth, timeout=10)
    assert r.status_code == 200 and "fail" in {m["name"] for m in r.json()["stateMachines"]}


def test_credential_scoped_to_execute_api_is_refused(sb):
    r = states_post(sb, "DescribeExecution", {"executionArn": MISSING_ARN}, service="execute-api")
    assert r.status_code == 400
    assert r.json() == {
        "__type": "com.amazon.coral.service#InvalidSignatureException",
        "message": "Credential should be scoped to correct service: 'states'. ",
    }
    r = states_post(sb, "DescribeExecution", {"executionArn": MISSING_ARN}, region="eu-west-1")
    assert error_of(r) == (
        400,
        "InvalidSignatureException",
        "Credential should be scoped to a valid region, not 'eu-west-1'. ",
    )
    # and a states signature is no good at the gateway
    url = f"{sb.base_url}/describe-execution"
    auth = AWS4Auth(sb.invoke_credentials.access_key, sb.invoke_credentials.secret_key, sb.region, "states")
    r = requests.post(url, json={"executionArn": MISSING_ARN}, auth=auth, timeout=10)
    assert r.status_code == 403
    assert r.json() == {"message": "Credential should be scoped to correct service: 'execute-api'. "}


def test_unknown_key_bad_signature_and_botocore(sb):
    wrong_key = Credentials("AKIAUNKNOWNKEY000001", "whatever")
    r = states_post(sb, "DescribeExecution", {"executionArn": MISSING_ARN}, wrong_key)
    assert r.status_code == 400
    assert r.json() == {
        "__type": "com.amazon.coral.service#UnrecognizedClientException",
        "message": "The security token included in the request is invalid.",
    }
    assert sb.request_log()[-1]["access_key"] == "AKIAUNKNOWNKEY000001"
    wrong_secret = Credentials(sb.invoke_credentials.access_key, "not-the-secret")
    r = states_post(sb, "DescribeExecution", {"executionArn": MISSING_ARN}, wrong_secret)
    status, error, message = error_of(r)
    assert (status, error) == (400, "InvalidSignatureException")
    assert message.startswith(
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method."
    )
    # a body changed after signing
    creds = sb.invoke_credentials
    auth = AWS4Auth(creds.access_key, creds.secret_key, sb.region, "states")
    prepared = requests.Request(
        "POST",
        sb.states_url + "/",
        data=json.dumps({"executionArn": MISSING_ARN}),
        headers={"Content-Type": AMZ_JSON, "X-Amz-Target": "AWSStepFunctions.DescribeExecution"},
        auth=auth,
    ).prepare()
    prepared.body = json.dumps({"executionArn": MISSING_ARN + "x"})
    prepared.headers["Content-Length"] = str(len(prepared.body))
    with requests.Session() as session:
        r = session.send(prepared, timeout=10)
    assert error_of(r)[:2] == (400, "InvalidSignatureException")
    # botocore sees the same codes
    with pytest.raises(ClientError) as exc:
        sfn_client(sb, wrong_key).describe_execution(executionArn=MISSING_ARN)
    assert _code(exc) == ("UnrecognizedClientException", 400)
    with pytest.raises(ClientError) as exc:
        sfn_client(sb, wrong_secret).describe_execution(executionArn=MISSING_ARN)
    assert _code(exc) == ("InvalidSignatureException", 400)
    # a wrong session token with the temporary key
    tmp = sb.temporary_credentials
    r = states_post(
        sb,
        "DescribeExecution",
        {"executionArn": MISSING_ARN},
        Credentials(tmp.access_key, tmp.secret_key, "x"),
    )
    assert error_of(r)[:2] == (400, "UnrecognizedClientException")


def test_identity_without_permission(sb):
    machine = sb.state_machine_arn("succeed")
    r = states_post(sb, "StartExecution", {"stateMachineArn": machine}, sb.noinvoke_credentials)
    assert r.status_code == 400
    assert r.json() == {
        "__type": "com.amazon.coral.service#AccessDeniedException",
        "Message": "User: arn:aws:iam::123456789012:user/restjob-readonly is not authorized to perform: "
        f"states:StartExecution on resource: {machine} because no identity-based policy allows the "
        "states:StartExecution action",
    }
    entry = sb.request_log()[-1]
    assert entry["error"] == "AccessDeniedException" and entry["execution_arn"] is None
    with pytest.raises(ClientError) as exc:
        sfn_client(sb, sb.noinvoke_credentials).describe_execution(executionArn=MISSING_ARN)
    assert _code(exc) == ("AccessDeniedException", 400)
    assert f"states:DescribeExecution on resource: {MISSING_ARN}" in str(exc.value)
    # nothing was started
    assert not [e for e in sb.request_log() if e["status"] == 200]


def test_expired_sts_credentials(sb):
    sb.set_sts_session_seconds(2)
    inv = sb.invoke_credentials
    sts = boto3.client(
        "sts",
        endpoint_url=sb.sts_url,
        region_name=sb.region,
        aws_access_key_id=inv.access_key,
        aws_secret_access_key=inv.secret_key,
        config=Config(retries={"max_attempts": 1}),
    )
    answer = sts.assume_role(RoleArn=sb.role_arn, RoleSessionName="direct")
    c = answer["Credentials"]
    creds = Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    sfn = sfn_client(sb, creds)
    assert sfn.list_state_machines()["stateMachines"]
    time.sleep(max(0.0, c["Expiration"].timestamp() - time.time()) + 0.3)
    r = states_post(sb, "ListStateMachines", {}, creds)
    assert r.status_code == 400
    assert r.json() == {
        "__type": "com.amazon.coral.service#ExpiredTokenException",
        "message": "The security token included in the request is expired",
    }
    with pytest.raises(ClientError) as exc:
        sfn.list_state_machines()
    assert _code(exc) == ("ExpiredTokenException", 400)
    text = json.dumps(sb.request_log(), default=str)
    assert creds.secret_key not in text and creds.session_token not in text


def test_missing_and_malformed_authorization(sb):
    headers = {"Content-Type": AMZ_JSON, "X-Amz-Target": "AWSStepFunctions.DescribeExecution"}
    body = json.dumps({"executionArn": MISSING_ARN})
    r = requests.post(sb.states_url + "/", data=body, headers=headers, timeout=10)
    assert r.status_code == 400
    assert r.json() == {
        "__type": "com.amazon.coral.service#MissingAuthenticationTokenException",
        "message": "Request is missing Authentication Token",
    }
    r = requests.post(
        sb.states_url + "/", data=body, headers={**headers, "Authorization": "Bearer abc"}, timeout=10
    )
    status, error, message = error_of(r)
    assert (status, error) == (400, "IncompleteSignatureException")
    assert "Authorization header requires 'Credential' parameter." in message
    incomplete = "AWS4-HMAC-SHA256 Credential=AKIARESTJOBINVOKE001/20240101/us-east-1/states/aws4_request"
    r = requests.post(
        sb.states_url + "/", data=body, headers={**headers, "Authorization": incomplete}, timeout=10
    )
    status, error, message = error_of(r)
    assert (status, error) == (400, "IncompleteSignatureException")
    assert "Authorization header requires 'Signature' parameter." in message


def test_unknown_and_unserved_operations(sb):
    r = requests.post(sb.states_url + "/", data=b"{}", headers={"Content-Type": AMZ_JSON}, timeout=10)
    assert r.status_code == 400 and r.json() == {
        "__type": "com.amazon.coral.service#UnknownOperationException"
    }
    r = states_post(sb, "NoSuchAction", {})
    assert r.status_code == 400 and r.json() == {
        "__type": "com.amazon.coral.service#UnknownOperationException"
    }
    r = requests.get(sb.states_url + "/", timeout=10)
    assert r.status_code == 400 and r.json()["__type"].endswith("#UnknownOperationException")
    # a real Step Functions action the sandbox does not serve: refused after authentication
    r = states_post(sb, "CreateStateMachine", {"name": "x", "definition": "{}", "roleArn": "r"})
    status, error, message = error_of(r)
    assert (status, error) == (400, "UnknownOperationException")
    assert "does not serve AWSStepFunctions.CreateStateMachine" in message
    r = states_post(sb, "CreateStateMachine", {}, Credentials("AKIAUNKNOWNKEY000001", "x"))
    assert error_of(r)[1] == "UnrecognizedClientException"
    assert sb.request_log()[-1]["action"] == "CreateStateMachine"


def _running(sb: Sandbox) -> str:
    return start(sb, "long")


def test_faults_are_shared_with_the_gateway(sb):
    arn = _running(sb)
    try:
        sb.faults.inject(resource="describe-execution", kind="503", count=2)
        r = states_post(sb, "DescribeExecution", {"executionArn": arn})
        assert r.status_code == 503
        assert r.json() == {
            "__type": "com.amazon.coral.availability#ServiceUnavailableException",
            "message": "Service Unavailable",
        }
        # the second one is taken by the gateway
        r = post(sb, "describe-execution", {"executionArn": arn})
        assert r.status_code == 503 and r.json() == {"message": "Service Unavailable"}
        assert describe(sb, arn)["status"] == "RUNNING"
        faults = [(e["resource"], e["fault"]) for e in sb.request_log() if e.get("fault")]
        assert faults == [("states", "503"), ("describe-execution", "503")]

        for kind, status, error in (
            ("429", 400, "ThrottlingException"),
            ("throttling_200", 400, "ThrottlingException"),
            ("500", 500, "InternalFailure"),
            ("502", 502, "InternalFailure"),
            ("504", 504, "InternalFailure"),
        ):
            sb.faults.inject(resource="describe-execution", kind=kind, count=1)
            r = states_post(sb, "DescribeExecution", {"executionArn": arn})
            assert error_of(r)[:2] == (status, error), kind
        with pytest.raises(ClientError) as exc:
            sb.faults.inject(resource="describe-execution", kind="429", count=1)
            sfn_client(sb).describe_execution(executionArn=arn)
        assert _code(exc) == ("ThrottlingException", 400)

        # another action is not affected; "*" hits every action, the direct-only ones too
        sb.faults.inject(resource="start-execution", kind="500", count=1)
        assert describe(sb, arn)["status"] == "RUNNING"
        sb.faults.inject(resource="*", kind="500", count=1)
        r = states_post(sb, "ListExecutions", {"stateMachineArn": sb.state_machine_arn("long")})
        assert r.status_code == 500
        sb.faults.clear()

        sb.faults.inject(resource="describe-execution", kind="malformed_json", count=1)
        r = states_post(sb, "DescribeExecution", {"executionArn": arn})
        assert r.status_code == 200 and r.headers["Content-Type"] == AMZ_JSON
        with pytest.raises(ValueError):
            json.loads(r.text)

        sb.faults.inject(resource="describe-execution", kind="delay", count=1, delay_seconds=0.5)
        began = time.monotonic()
        assert describe(sb, arn)["status"] == "RUNNING"
        assert time.monotonic() - began >= 0.45

        sb.faults.inject(resource="describe-execution", kind="reset", count=1)
        with pytest.raises(requests.exceptions.ConnectionError):
            states_post(sb, "DescribeExecution", {"executionArn": arn})
        assert sb.request_log()[-1]["fault"] == "reset" and sb.request_log()[-1]["status"] is None

        # faults apply only after authentication
        sb.faults.inject(resource="describe-execution", kind="500", count=1)
        r = states_post(
            sb, "DescribeExecution", {"executionArn": arn}, Credentials("AKIAUNKNOWNKEY000001", "x")
        )
        assert error_of(r)[1] == "UnrecognizedClientException"
        assert sb.faults.pending() == [
            {"resource": "describe-execution", "kind": "500", "count": 1, "delay_seconds": 30.0}
        ]
    finally:
        sb.faults.clear()
        sfn_client(sb).stop_execution(executionArn=arn)


def test_describe_quota_is_one_bucket_for_both_paths(sb):
    arn = _running(sb)
    try:
        sb.quota.enable(burst=3, refill_per_second=0.01)
        assert describe(sb, arn)["status"] == "RUNNING"
        assert post(sb, "describe-execution", {"executionArn": arn}).json()["status"] == "RUNNING"
        assert describe(sb, arn)["status"] == "RUNNING"
        r = states_post(sb, "DescribeExecution", {"executionArn": arn})
        assert r.status_code == 400
        assert r.json() == {
            "__type": "com.amazonaws.swf.service.v2.model#ThrottlingException",
            "message": "Rate exceeded",
        }
        assert sb.request_log()[-1]["throttled"] is True
        # the gateway is throttled too, in its own way (HTTP 200 + __type by default)
        r = post(sb, "describe-execution", {"executionArn": arn})
        assert r.status_code == 200 and r.json()["__type"].endswith("#ThrottlingException")
        # other actions are not counted
        assert states_post(sb, "ListStateMachines", {}).status_code == 200
    finally:
        sb.quota.disable()
        sfn_client(sb).stop_execution(executionArn=arn)


def test_port_is_closed_after_stop():
    with Sandbox(state_machine_wait_seconds=1, states_port=0) as box:
        port = box.states_port
        assert sfn_client(box).list_state_machines()["stateMachines"]
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
