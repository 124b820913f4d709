"""Fault injection, the DescribeExecution quota, the request log and the admin endpoint."""

from __future__ import annotations

import json
import time

import pytest
import requests

from airflow_restjob.sandbox import SandboxClient
from tests.integration.sandbox.sandbox_helpers import botocore_headers, post, start

STATUS_FAULTS = {
    "429": ({"message": "Too Many Requests"}, "TooManyRequestsException"),
    "500": ({"message": "Internal server error"}, "InternalServerErrorException"),
    "502": ({"message": "Bad Gateway"}, "BadGatewayException"),
    "503": ({"message": "Service Unavailable"}, "ServiceUnavailableException"),
    "504": ({"message": "Endpoint request timed out"}, "IntegrationTimeoutException"),
}


@pytest.fixture(scope="module")
def running(sandbox):
    """One long-running execution to describe."""
    arn = start(sandbox, "long")
    yield arn
    post(sandbox, "stop-execution", {"executionArn": arn})


def _describe(sandbox, arn, **kwargs):
    return post(sandbox, "describe-execution", {"executionArn": arn}, **kwargs)


@pytest.mark.parametrize("kind", sorted(STATUS_FAULTS))
def test_status_faults_for_the_next_n_requests(sandbox, running, kind):
    sandbox.faults.inject(resource="describe-execution", kind=kind, count=2)
    # another resource is not affected
    assert post(sandbox, "stop-execution", {"executionArn": running + "-other"}).status_code == 200
    body, error_type = STATUS_FAULTS[kind]
    for _ in range(2):
        r = _describe(sandbox, running)
        assert r.status_code == int(kind)
        assert r.json() == body
        assert r.headers["x-amzn-ErrorType"] == error_type
    r = _describe(sandbox, running)
    assert r.status_code == 200 and r.json()["status"] == "RUNNING"
    faults = [e["fault"] for e in sandbox.request_log() if e["resource"] == "describe-execution"]
    assert faults == [kind, kind, None]


def test_wildcard_resource(sandbox, running):
    sandbox.faults.inject(resource="*", kind="503", count=2)
    assert post(sandbox, "stop-execution", {"executionArn": running + "-x"}).status_code == 503
    assert _describe(sandbox, running).status_code == 503
    assert _describe(sandbox, running).status_code == 200


def test_faults_apply_only_after_authentication(sandbox, running):
    sandbox.faults.inject(resource="describe-execution", kind="500", count=1)
    r = requests.post(f"{sandbox.base_url}/describe-execution", json={"executionArn": running}, timeout=10)
    assert r.status_code == 403
    assert _describe(sandbox, running).status_code == 500


def test_reset_closes_the_connection(sandbox, running):
    sandbox.faults.inject(resource="describe-execution", kind="reset", count=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        _describe(sandbox, running)
    assert _describe(sandbox, running).status_code == 200
    entry = [e for e in sandbox.request_log() if e["fault"] == "reset"]
    assert len(entry) == 1 and entry[0]["status"] is None


def test_delay_longer_than_the_client_timeout(sandbox, running):
    sandbox.faults.inject(resource="describe-execution", kind="delay", count=2, delay_seconds=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        _describe(sandbox, running, timeout=0.3)
    began = time.monotonic()
    r = _describe(sandbox, running, timeout=5)
    assert time.monotonic() - began >= 0.95
    assert r.status_code == 200 and r.json()["status"] == "RUNNING"


def test_malformed_json(sandbox, running):
    sandbox.faults.inject(resource="describe-execution", kind="malformed_json", count=1)
    r = _describe(sandbox, running)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        json.loads(r.text)
    assert r.text and running[:20] in r.text
    assert _describe(sandbox, running).json()["status"] == "RUNNING"


def test_throttling_200(sandbox, running):
    sandbox.faults.inject(resource="describe-execution", kind="throttling_200", count=1)
    r = _describe(sandbox, running)
    assert r.status_code == 200
    assert (
        r.text
        == '{"__type":"com.amazonaws.swf.service.v2.model#ThrottlingException","message":"Rate exceeded"}'
    )


def test_bad_fault_arguments(sandbox):
    with pytest.raises(ValueError):
        sandbox.faults.inject(resource="describe-execution", kind="418")
    with pytest.raises(ValueError):
        sandbox.faults.inject(resource="list-executions", kind="500")


def test_describe_quota_token_bucket(sandbox, running):
    sandbox.quota.enable(burst=5, refill_per_second=1)
    session = requests.Session()
    began = time.monotonic()
    results = [_describe(sandbox, running, session=session).json() for _ in range(8)]
    elapsed = time.monotonic() - began
    ok = [r for r in results if r.get("status") == "RUNNING"]
    throttled = [r for r in results if r.get("__type", "").endswith("#ThrottlingException")]
    assert 5 <= len(ok) <= 5 + elapsed * 1, (elapsed, results)  # the burst, plus what refilled meanwhile
    assert len(ok) + len(throttled) == 8 and len(throttled) >= 2
    assert results[-1] == {
        "__type": "com.amazonaws.swf.service.v2.model#ThrottlingException",
        "message": "Rate exceeded",
    }
    # start/stop are not rate limited by the DescribeExecution bucket
    assert post(sandbox, "stop-execution", {"executionArn": running + "-x"}).status_code == 200
    time.sleep(1.1)
    assert _describe(sandbox, running).json()["status"] == "RUNNING"  # refilled one token
    log = [e for e in sandbox.request_log() if e["resource"] == "describe-execution"]
    assert [e["throttled"] for e in log].count(True) == len(throttled)
    sandbox.quota.disable()
    assert all(_describe(sandbox, running, session=session).json()["status"] == "RUNNING" for _ in range(10))


def test_request_log_entries(sandbox, running):
    sandbox.clear_log()
    _describe(sandbox, running)
    post(sandbox, "stop-execution", {"executionArn": running + "-not-there"})
    requests.post(f"{sandbox.base_url}/start-execution", json={}, timeout=10)
    log = sandbox.request_log()
    assert [e["resource"] for e in log] == ["describe-execution", "stop-execution", "start-execution"]
    first = log[0]
    assert set(first) >= {
        "time",
        "resource",
        "status",
        "execution_arn",
        "access_key",
        "body",
        "throttled",
        "fault",
    }
    assert first["status"] == 200 and first["execution_arn"] == running
    assert first["access_key"] == sandbox.invoke_credentials.access_key
    assert (
        first["body"] == {"executionArn": running} and first["throttled"] is False and first["fault"] is None
    )
    assert abs(first["time"] - time.time()) < 10
    assert sandbox.stops_for(running + "-not-there")[0]["status"] == 200
    assert log[2]["status"] == 403 and log[2]["access_key"] is None
    sandbox.clear_log()
    assert sandbox.request_log() == []


def test_sandbox_client_over_the_admin_endpoint(sandbox):
    client = SandboxClient(sandbox.admin_url)
    assert client.base_url == sandbox.base_url
    assert client.region == "us-east-1"
    assert client.invoke_credentials == sandbox.invoke_credentials
    assert client.temporary_credentials == sandbox.temporary_credentials
    assert client.noinvoke_credentials == sandbox.noinvoke_credentials
    assert json.loads(client.connection_json()) == json.loads(sandbox.connection_json())
    assert client.state_machine_arn("long") == sandbox.state_machine_arn("long")

    arn = start(sandbox, "long")
    client.faults.inject(resource="stop-execution", kind="502", count=1)
    assert client.faults.pending() == [
        {"resource": "stop-execution", "kind": "502", "count": 1, "delay_seconds": 30.0}
    ]
    assert post(sandbox, "stop-execution", {"executionArn": arn}).status_code == 502
    assert post(sandbox, "stop-execution", {"executionArn": arn}).status_code == 200
    assert [e["status"] for e in client.stops_for(arn)] == [502, 200]
    assert client.describe_execution(arn)["status"] == "ABORTED"
    assert arn in [e["executionArn"] for e in client.list_executions(sandbox.state_machine_arn("long"))]

    client.quota.enable(burst=1, refill_per_second=0.001)
    assert client.quota.state()["enabled"] is True
    post(sandbox, "describe-execution", {"executionArn": arn})
    assert (
        post(sandbox, "describe-execution", {"executionArn": arn})
        .json()["__type"]
        .endswith("ThrottlingException")
    )
    client.quota.disable()
    assert post(sandbox, "describe-execution", {"executionArn": arn}).json()["status"] == "ABORTED"

    extra = client.create_state_machine(
        "client_made", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    )
    assert client.state_machine_arn("client_made") == extra
    client.clear_log()
    assert client.request_log() == []
    client.faults.inject(kind="503", count=3)
    client.faults.clear()
    assert client.faults.pending() == []


def test_connection_json(sandbox):
    conn = json.loads(sandbox.connection_json())
    assert conn == {
        "conn_type": "restjob",
        "host": sandbox.base_url,
        "login": sandbox.invoke_credentials.access_key,
        "password": sandbox.invoke_credentials.secret_key,
        "extra": {"region": "us-east-1"},
    }
    temp = json.loads(sandbox.connection_json(credentials=sandbox.temporary_credentials))
    assert temp["extra"]["session_token"] == sandbox.temporary_credentials.session_token
    assert temp["login"].startswith("ASIA")
    # the connection really works: sign with it
    url = f"{conn['host']}/describe-execution"
    body = b'{"executionArn": "x"}'
    from airflow_restjob.sandbox import Credentials

    headers = botocore_headers(
        url, body, Credentials(temp["login"], temp["password"], temp["extra"]["session_token"])
    )
    assert requests.post(url, data=body, headers=headers, timeout=10).json()["__type"].endswith("#InvalidArn")
