"""Every credential type through both drivers (worker: requests, triggerer: aiohttp) against real
loopback servers that verify what a real service verifies: the sandbox's AuthApi (OAuth2 token
endpoint, a job API behind basic / bearer / key-value / OAuth2) and its STS + SigV4 gateway.

The statements go the way an operator's do: ``credentials add`` validation -> connection fields ->
``airflow.models.Connection`` -> ``Route.settings`` -> a client.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_restjob.cli.credentials import to_connection_fields, validate
from airflow_restjob.connections.routes import Route
from airflow_restjob.credentials import aws, cache
from airflow_restjob.errors import AuthError, EndCode, RestJobError
from airflow_restjob.rest_job.retry import NO_RETRY
from airflow_restjob.transport.aio import AsyncClient, close_shared_sessions
from airflow_restjob.transport.sync import SyncClient


@pytest.fixture(scope="module")
def auth_api() -> Iterator[Any]:
    from airflow_restjob.sandbox.auth_api import AuthApi

    with AuthApi(job_seconds=1.0) as api:
        yield api


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.forget_all()
    aws.forget()
    yield
    cache.forget_all()
    aws.forget()


def connection(statement: dict[str, Any]) -> Any:
    from airflow.models import Connection

    fields = to_connection_fields(validate(statement, "$"))
    return Connection(**fields)


def settings_of(statement: dict[str, Any], proxy: dict[str, Any] | None = None) -> Any:
    conns = {statement["name"]: connection(statement)}
    route = Route.of(statement["name"])
    return route.settings(conns)


def by_name(api: Any, suffix: str) -> dict[str, Any]:
    return next(s for s in api.statements() if s["name"].endswith(suffix))


KINDS = ["_basic", "_bearer", "_oauth2", "_azure", "_sap", "_apikey"]


@pytest.mark.parametrize("kind", KINDS)
def test_worker_runs_a_job_with_each_credential(auth_api, kind):
    statement = by_name(auth_api, kind)
    client = SyncClient(settings_of(statement), NO_RETRY)
    started = client.post("jobs", {"seconds": 0.5, "input": {"kind": kind}})
    job_id = started["jobId"]
    time.sleep(0.8)
    reply = client.request("GET", f"jobs/{job_id}")
    assert reply.data["status"] == "SUCCEEDED" and reply.data["output"]
    assert client.post(f"jobs/{job_id}/cancel")["status"] in ("CANCELLED", "SUCCEEDED")
    scheme = statement["baseUrl"].rsplit("/", 1)[1]
    assert auth_api.job(job_id)["scheme"] == scheme


@pytest.mark.parametrize("kind", KINDS)
async def test_triggerer_runs_a_job_with_each_credential(auth_api, kind):
    statement = by_name(auth_api, kind)
    client = AsyncClient(settings_of(statement), NO_RETRY)
    try:
        started = await client.post("jobs", {"seconds": 0.3})
        call = client.prepare("GET", f"jobs/{started['jobId']}")
        await asyncio.sleep(0.5)
        assert (await client.send(call)).data["status"] == "SUCCEEDED"
        assert (await client.post(f"jobs/{started['jobId']}/cancel"))["jobId"] == started["jobId"]
    finally:
        await close_shared_sessions()


@pytest.mark.parametrize("kind", ["_basic", "_bearer", "_apikey"])
def test_a_wrong_secret_is_end_code_10_and_never_echoed(auth_api, kind):
    statement = dict(by_name(auth_api, kind))
    for key in ("password", "token"):
        if key in statement:
            statement[key] = "wrong-" + statement[key]
    if "headers" in statement:
        statement["headers"] = {"x-api-key": "wrong-key-value"}
    with pytest.raises(AuthError) as caught:
        SyncClient(settings_of(statement), NO_RETRY).post("jobs", {})
    assert caught.value.end_code == EndCode.CREDENTIALS and caught.value.status == 401
    assert "wrong-" not in str(caught.value)


async def test_one_token_request_per_lifetime_for_1000_concurrent_jobs(auth_api):
    auth_api.set_token_lifetime(3)
    auth_api.clear_logs()
    try:
        statement = by_name(auth_api, "_oauth2")
        settings = settings_of(statement)
        clients = [AsyncClient(settings, NO_RETRY) for _ in range(10)]  # e.g. triggers built apart
        started = time.time()
        rounds = 0
        while time.time() - started < 7:  # a bit more than two token lifetimes
            await asyncio.gather(*(clients[i % 10].request("GET", "jobs/none") for i in range(1000)), return_exceptions=True)
            rounds += 1
            await asyncio.sleep(0.5)
        elapsed = time.time() - started
        requests = [r for r in auth_api.token_requests() if r["status"] == 200]
        # one token per (lifetime minus the refresh margin), not one per job or per client
        assert 2 <= len(requests) <= int(elapsed / (3 * 0.8)) + 2, (len(requests), elapsed)
        rejected = [r for r in auth_api.request_log() if r["status"] == 401]
        assert rejected == []
        assert rounds >= 2 and len(auth_api.request_log()) >= 2000
    finally:
        auth_api.set_token_lifetime(3600)
        await close_shared_sessions()


def test_worker_refreshes_an_expired_token_and_retries_once_after_a_401(auth_api):
    auth_api.set_token_lifetime(1)
    try:
        client = SyncClient(settings_of(by_name(auth_api, "_sap")), NO_RETRY)
        job = client.post("jobs", {"seconds": 30})
        first = len(auth_api.token_requests())
        time.sleep(1.5)
        assert client.request("GET", f"jobs/{job['jobId']}").data["status"] == "RUNNING"
        assert len(auth_api.token_requests()) == first + 1
        # the server revokes the current token: one 401, one new token, the call succeeds
        lease = cache.shared(settings_of(by_name(auth_api, "_sap")).credential.key).lease
        assert lease is not None
        auth_api.set_token_lifetime(3600)
        for token in auth_api._tokens.values():  # noqa: SLF001 - the server side of a revocation
            token.revoked = True
        before = len(auth_api.token_requests())
        assert client.request("GET", f"jobs/{job['jobId']}").status == 200
        assert len(auth_api.token_requests()) >= before + 1
        assert [r["status"] for r in auth_api.request_log()[-2:]] == [401, 200]
    finally:
        auth_api.set_token_lifetime(3600)


def test_sap_uses_basic_client_authentication_and_azure_the_v2_endpoint(auth_api):
    auth_api.clear_logs()
    SyncClient(settings_of(by_name(auth_api, "_sap")), NO_RETRY).post("jobs", {"seconds": 0.1})
    SyncClient(settings_of(by_name(auth_api, "_azure")), NO_RETRY).post("jobs", {"seconds": 0.1})
    log = auth_api.token_requests()
    sap = next(r for r in log if r["path"].endswith("/oauth/token"))
    azure = next(r for r in log if r["path"].endswith("/oauth2/v2.0/token"))
    assert sap["client_auth"] == "basic" and azure["client_auth"] == "form"
    assert azure["scope"] == "https://management.azure.com/.default"


def test_revoked_client_is_end_code_10_naming_the_credential(auth_api):
    from airflow_restjob.sandbox.auth_api import AuthApi

    with AuthApi() as api:
        statement = by_name(api, "_oauth2")
        api.revoke_client(api.client_id)
        with pytest.raises(AuthError) as caught:
            SyncClient(settings_of(statement), NO_RETRY).post("jobs", {})
        text = str(caught.value)
        assert caught.value.end_code == EndCode.CREDENTIALS and "invalid_client" in text
        assert statement["name"] in text and api.client_secret not in text


@pytest.mark.parametrize("mode, code, words", [("html", 8, ["<html>"]), ("not_json", 8, ["not a JSON object"])])
def test_token_endpoint_that_answers_garbage_is_end_code_8(mode, code, words):
    from airflow_restjob.sandbox.auth_api import AuthApi

    with AuthApi() as api:
        api.set_token_mode(mode)
        with pytest.raises(RestJobError) as caught:
            SyncClient(settings_of(by_name(api, "_oauth2")), NO_RETRY).post("jobs", {})
        assert caught.value.end_code == code
        for word in words:
            assert word in str(caught.value)


async def test_token_endpoint_that_times_out_is_end_code_5():
    from airflow_restjob.sandbox.auth_api import AuthApi

    with AuthApi() as api:
        api.set_token_mode("slow")
        statement = {**by_name(api, "_oauth2")}
        conn = connection(statement)
        conn.extra = json.dumps({**json.loads(conn.extra), "read_timeout": 1})
        settings = Route.of(statement["name"]).settings({statement["name"]: conn})
        with pytest.raises(RestJobError) as caught:
            SyncClient(settings, NO_RETRY).post("jobs", {})
        assert caught.value.end_code == EndCode.REQUEST_TIMED_OUT and "token endpoint" in str(caught.value)
        cache.forget_all()
        with pytest.raises(RestJobError) as caught:
            await AsyncClient(settings, NO_RETRY).post("jobs", {})
        assert caught.value.end_code == EndCode.REQUEST_TIMED_OUT and "token endpoint" in str(caught.value)
        await close_shared_sessions()


# --- temporary AWS credentials -------------------------------------------------------------------
def aws_statement(sandbox: Any, **fields: Any) -> dict[str, Any]:
    return {
        "name": "sandbox_aws_role",
        "authType": "aws_sigv4",
        "region": sandbox.region,
        "baseUrl": sandbox.base_url,
        "stsEndpoint": sandbox.sts_url,
        "roleArn": sandbox.role_arn,
        **fields,
    }


def describe_unknown(client: Any) -> str:
    arn = "arn:aws:states:us-east-1:123456789012:execution:nope:1"
    with pytest.raises(RestJobError) as caught:
        client.post("describe-execution", {"executionArn": arn})
    return str(caught.value.error_type)


def test_assume_role_signs_with_temporary_credentials_and_refreshes_them(sandbox):
    source = sandbox.invoke_credentials
    statement = aws_statement(
        sandbox, accessKeyId=source.access_key, secretAccessKey=source.secret_key, roleSessionName="it-test"
    )
    before = sandbox.sts_session_seconds  # the sandbox is shared by the session: put it back
    sandbox.set_sts_session_seconds(3)
    try:
        client = SyncClient(settings_of(statement), NO_RETRY)
        assert describe_unknown(client) == "ExecutionDoesNotExist"  # signed, accepted, answered by moto
        calls = [c for c in sandbox.sts_calls() if c.get("sts_action") == "AssumeRole"]
        assert len(calls) == 1
        time.sleep(3.5)  # the session expired: a new one is fetched before the call
        assert describe_unknown(client) == "ExecutionDoesNotExist"
        assert len([c for c in sandbox.sts_calls() if c.get("sts_action") == "AssumeRole"]) == 2
    finally:
        sandbox.set_sts_session_seconds(before)


async def test_web_identity_in_the_triggerer_runs_sts_off_the_event_loop(sandbox, tmp_path):
    token_file = sandbox.write_web_identity_token(tmp_path / "token")
    statement = aws_statement(sandbox, webIdentityTokenFile=token_file)
    client = AsyncClient(settings_of(statement), NO_RETRY)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    task = asyncio.ensure_future(ticker())
    try:
        arn = "arn:aws:states:us-east-1:123456789012:execution:nope:1"
        with pytest.raises(RestJobError) as caught:
            await asyncio.gather(*(client.post("describe-execution", {"executionArn": arn}) for _ in range(50)))
        assert caught.value.error_type == "ExecutionDoesNotExist"
        assert len([c for c in sandbox.sts_calls() if c.get("sts_action") == "AssumeRoleWithWebIdentity"]) == 1
        assert ticks > 3  # the loop kept running while botocore called STS in a thread
    finally:
        task.cancel()
        await close_shared_sessions()


def test_assume_role_refused_names_the_credential_and_role(sandbox):
    statement = aws_statement(sandbox, accessKeyId="AKIAUNKNOWNSOURCE000", secretAccessKey="nope-secret-value")
    with pytest.raises(AuthError) as caught:
        SyncClient(settings_of(statement), NO_RETRY).post("describe-execution", {"executionArn": "x"})
    text = str(caught.value)
    assert "sandbox_aws_role" in text and sandbox.role_arn in text and "nope-secret-value" not in text


def test_default_chain_takes_environment_keys_and_irsa_variables(sandbox, tmp_path, monkeypatch):
    """credentialSource default_chain: botocore's chain, first from the environment's keys, then
    from the EKS IRSA variables (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE) against the sandbox STS."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    statement = {
        "name": "sandbox_chain",
        "authType": "aws_sigv4",
        "credentialSource": "default_chain",
        "region": sandbox.region,
        "baseUrl": sandbox.base_url,
    }
    source = sandbox.invoke_credentials
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", source.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", source.secret_key)
    assert describe_unknown(SyncClient(settings_of(statement), NO_RETRY)) == "ExecutionDoesNotExist"

    cache.forget_all()
    aws.forget()
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_ROLE_ARN", sandbox.role_arn)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", sandbox.write_web_identity_token(tmp_path / "token"))
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sandbox.sts_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", sandbox.region)
    before = len([c for c in sandbox.sts_calls() if c.get("sts_action") == "AssumeRoleWithWebIdentity"])
    assert describe_unknown(SyncClient(settings_of(statement), NO_RETRY)) == "ExecutionDoesNotExist"
    after = len([c for c in sandbox.sts_calls() if c.get("sts_action") == "AssumeRoleWithWebIdentity"])
    assert after == before + 1


def test_no_credentials_anywhere_is_end_code_10_naming_the_chain(tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ROLE_ARN",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    statement = {
        "name": "nowhere",
        "authType": "aws_sigv4",
        "credentialSource": "default_chain",
        "region": "us-east-1",
        "baseUrl": "https://abc.execute-api.us-east-1.amazonaws.com/s",
    }
    with pytest.raises(AuthError) as caught:
        SyncClient(settings_of(statement), NO_RETRY).post("describe-execution", {"executionArn": "x"})
    assert caught.value.end_code == EndCode.CREDENTIALS
    assert "Credential 'nowhere': no AWS credentials found in the default AWS credential chain" in str(caught.value)
