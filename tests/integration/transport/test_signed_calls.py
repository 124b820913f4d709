"""The hook against the sandbox gateway: real HTTP on loopback, signatures verified server-side."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from airflow_restjob.connections.settings import ConnectionSettings
from airflow_restjob.errors import (
    AuthError,
    EndCode,
    RequestFailedError,
    RequestTimeoutError,
    ServiceError,
    ThrottledError,
    TransientError,
    UnparsableResponseError,
)
from airflow_restjob.hooks.rest_job import RestJobHook
from airflow_restjob.rest_job.retry import RetryPolicy
from airflow_restjob.sandbox.sigv4 import Credentials
from airflow_restjob.transport.aio import AsyncClient, close_shared_sessions
from airflow_restjob.transport.sync import SyncClient

FAST = RetryPolicy(max_attempts=4, base_delay=0.05, max_delay=0.2, max_elapsed=10)
UNKNOWN_ARN = "arn:aws:states:us-east-1:123456789012:execution:succeed:does-not-exist"


def settings_for(sandbox, credentials=None, **extra) -> ConnectionSettings:
    fields = json.loads(sandbox.connection_json(credentials=credentials))
    return ConnectionSettings.from_fields(
        "sb",
        host=fields["host"],
        login=fields["login"],
        password=fields["password"],
        extra={**fields["extra"], **extra},
    )


def sync_call(settings, path="describe-execution", body=None, retry=FAST):
    return SyncClient(settings, retry).post(path, body if body is not None else {"executionArn": UNKNOWN_ARN})


def async_call(settings, path="describe-execution", body=None, retry=FAST):
    async def go():
        try:
            return await AsyncClient(settings, retry).post(
                path, body if body is not None else {"executionArn": UNKNOWN_ARN}
            )
        finally:
            await close_shared_sessions()

    return asyncio.run(go())


BOTH = pytest.mark.parametrize("call", [sync_call, async_call], ids=["sync", "async"])


@BOTH
def test_signed_start_and_describe_accepted_by_verifier(sandbox, call):
    s = settings_for(sandbox)
    started = call(
        s, "start-execution", {"stateMachineArn": sandbox.state_machine_arn("succeed"), "input": "{}"}
    )
    arn = started["executionArn"]
    described = call(s, "describe-execution", {"executionArn": arn})
    assert described["executionArn"] == arn and described["status"] in ("RUNNING", "SUCCEEDED")
    entries = [
        r
        for r in sandbox.request_log()
        if r["resource"] == "describe-execution" and r["execution_arn"] == arn
    ]
    assert entries and entries[-1]["status"] == 200 and entries[-1]["access_key"] == s.access_key_id


@BOTH
def test_session_token_credentials_are_signed_and_verified(sandbox, call):
    s = settings_for(sandbox, sandbox.temporary_credentials)
    assert s.session_token
    with pytest.raises(ServiceError) as info:
        call(s)
    assert info.value.error_type == "ExecutionDoesNotExist"  # passed the gateway, answered by Step Functions


@BOTH
@pytest.mark.parametrize(
    "creds, fix_word",
    [
        (Credentials("AKIAUNKNOWN000000000", "whatever-secret-000000000000"), "access key ID"),
        ("wrong-secret", "secret access key"),
        ("noinvoke", "execute-api:Invoke"),
        ("bad-token", "session token"),
    ],
)
def test_auth_failures_name_cause_and_fix_and_are_not_retried(sandbox, call, creds, fix_word):
    if creds == "wrong-secret":
        creds = Credentials(sandbox.invoke_credentials.access_key, "not-the-right-secret-0000000000000")
    elif creds == "noinvoke":
        creds = sandbox.noinvoke_credentials
    elif creds == "bad-token":
        t = sandbox.temporary_credentials
        creds = Credentials(t.access_key, t.secret_key, "forged-token-value")
    sandbox.clear_log()
    with pytest.raises(AuthError) as info:
        call(settings_for(sandbox, creds))
    err = info.value
    assert err.end_code == EndCode.CREDENTIALS and err.status == 403 and fix_word in err.fix
    assert (
        len([r for r in sandbox.request_log() if r["resource"] == "describe-execution"]) == 1
    )  # never retried
    assert creds.secret_key not in str(err)
    if creds.session_token:
        assert creds.session_token not in str(err)


@BOTH
def test_unknown_resource_is_missing_authentication_token(sandbox, call):
    with pytest.raises(RequestFailedError) as info:
        call(settings_for(sandbox), "no-such-resource")
    assert "Missing Authentication Token" in str(info.value) and "resource path" in info.value.fix


@BOTH
@pytest.mark.parametrize("kind", ["429", "500", "502", "503", "504", "throttling_200", "reset"])
def test_throttling_and_transient_faults_are_retried(sandbox, call, kind):
    sandbox.faults.inject(resource="describe-execution", kind=kind, count=2)
    sandbox.clear_log()
    with pytest.raises(ServiceError) as info:  # finally reaches Step Functions
        call(settings_for(sandbox))
    assert info.value.error_type == "ExecutionDoesNotExist"
    assert len([r for r in sandbox.request_log() if r["resource"] == "describe-execution"]) == 3


@BOTH
@pytest.mark.parametrize(
    "kind, error", [("503", TransientError), ("429", ThrottledError), ("throttling_200", ThrottledError)]
)
def test_retries_are_bounded(sandbox, call, kind, error):
    sandbox.faults.inject(resource="describe-execution", kind=kind, count=50)
    with pytest.raises(error) as info:
        call(settings_for(sandbox))
    assert info.value.retryable and "Fix:" in str(info.value)


@BOTH
def test_read_timeout_is_end_code_5(sandbox, call):
    sandbox.faults.inject(resource="describe-execution", kind="delay", count=1, delay_seconds=3)
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError) as info:
        call(settings_for(sandbox, read_timeout=0.5), retry=RetryPolicy(max_attempts=1))
    assert info.value.end_code == EndCode.REQUEST_TIMED_OUT and time.monotonic() - started < 3


@BOTH
def test_malformed_json_is_unparsable_end_code_8(sandbox, call):
    sandbox.faults.inject(resource="describe-execution", kind="malformed_json", count=1)
    with pytest.raises(UnparsableResponseError) as info:
        call(settings_for(sandbox))
    assert info.value.end_code == EndCode.UNPARSABLE


@BOTH
def test_200_error_body_is_raised(sandbox, call):
    with pytest.raises(ServiceError) as info:
        call(
            settings_for(sandbox),
            "start-execution",
            {"stateMachineArn": sandbox.state_machine_arn("succeed").replace("succeed", "nope")},
        )
    assert info.value.error_type == "StateMachineDoesNotExist" and "state_machine_arn" in info.value.fix


def test_no_secret_in_logs_or_errors(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    s = settings_for(sandbox, sandbox.temporary_credentials)
    sandbox.faults.inject(resource="describe-execution", kind="503", count=1)
    with pytest.raises(ServiceError) as info:
        sync_call(s)
    for secret in s.secrets:
        assert secret not in caplog.text and secret not in str(info.value)
    assert "Signature=" not in caplog.text


def test_hook_resolves_env_connection_once_and_tests_it(sandbox, restjob_conn, monkeypatch):
    hook = RestJobHook(restjob_conn)
    ok, message = hook.test_connection()
    assert ok, message
    first = hook.client()
    monkeypatch.setenv("AIRFLOW_CONN_RESTJOB_DEFAULT", "{broken")  # no further lookups happen
    assert hook.client() is first and hook.settings() is first.settings


def test_test_connection_reports_api_gateway_message(sandbox, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_NOINVOKE", sandbox.connection_json(credentials=sandbox.noinvoke_credentials)
    )
    ok, message = RestJobHook("noinvoke").test_connection()
    assert not ok and "not authorized to perform: execute-api:Invoke" in message


def test_async_requests_in_flight_are_bounded_per_event_loop(sandbox, monkeypatch):
    """Thousands of triggers polling at once queue for a slot before a request is even built."""
    import airflow_restjob.transport.aio as client_module

    sandbox.clear_log()
    sandbox.faults.inject(resource="describe-execution", kind="delay", count=12, delay_seconds=0.3)
    s = settings_for(sandbox)

    async def go():
        try:
            client_module.shared_session()  # its connector keeps the default limit (100) ...
            monkeypatch.setattr(client_module, "CONNECTION_LIMIT", 3)  # ... the request slots get 3
            client = AsyncClient(s, FAST)
            return await asyncio.gather(
                *(client.post("describe-execution", {"executionArn": UNKNOWN_ARN}) for _ in range(12)),
                return_exceptions=True,
            )
        finally:
            await close_shared_sessions()

    results = asyncio.run(go())
    assert all(isinstance(r, ServiceError) for r in results), results  # 12 answers (unknown ARN)
    spans = [(e["time"], e["time"] + e["duration"]) for e in sandbox.request_log()]
    assert len(spans) == 12
    most = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
    assert 1 <= most <= 3


@BOTH
def test_wrong_region_names_the_region_setting(sandbox, call):
    """A connection that signs for another Region than the API's: the fix names the region field."""
    with pytest.raises(AuthError) as info:
        call(settings_for(sandbox, region="eu-west-1"))  # the sandbox's API is in us-east-1
    message = str(info.value)
    assert "[end code 10" in message and "scoped to a valid region, not 'eu-west-1'" in message
    assert "extra 'region'" in message and "Region in the API's URL" in message
