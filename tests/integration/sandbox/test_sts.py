"""STS in the sandbox through real botocore clients, and the temporary credentials at the gateway."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from requests_aws4auth import AWS4Auth

from airflow_restjob.sandbox import Credentials, Sandbox
from airflow_restjob.sandbox import sts as sts_module

EXPIRED = {"message": "The security token included in the request is expired"}


@pytest.fixture()
def sb(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The session sandbox, with the STS settings put back afterwards."""
    seconds = sandbox.sts_session_seconds
    yield sandbox
    sandbox.set_sts_session_seconds(seconds)
    sandbox.require_external_id = None


def _sts(sb: Sandbox, creds: Credentials | None = None, unsigned: bool = False):
    creds = creds or sb.invoke_credentials
    config = Config(retries={"max_attempts": 1}, signature_version=UNSIGNED if unsigned else None)
    return boto3.client(
        "sts",
        endpoint_url=sb.sts_url,
        region_name=sb.region,
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        aws_session_token=creds.session_token,
        config=config,
    )


def _creds(answer: dict) -> Credentials:
    c = answer["Credentials"]
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def _describe(sb: Sandbox, creds: Credentials) -> requests.Response:
    auth = AWS4Auth(
        creds.access_key, creds.secret_key, sb.region, "execute-api", session_token=creds.session_token
    )
    doc = {"executionArn": f"arn:aws:states:{sb.region}:{sb.account_id}:execution:succeed:not-there"}
    return requests.post(f"{sb.base_url}/describe-execution", json=doc, auth=auth, timeout=10)


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def _no_secrets_logged(sb: Sandbox, *secrets: str) -> None:
    text = json.dumps(sb.request_log(), default=str)
    for secret in secrets:
        assert secret not in text


def test_info_and_addresses(sb):
    info = sb.info()
    assert info["sts_url"] == sb.sts_url and sb.sts_url.startswith("http://127.0.0.1:")
    assert sb.sts_url != f"http://127.0.0.1:{sb.port}"
    assert info["role_arn"] == sb.role_arn == "arn:aws:iam::123456789012:role/restjob-invoke-role"
    # the role exists in moto's IAM
    role = sb.aws_client("iam").get_role(RoleName="restjob-invoke-role")["Role"]
    assert role["Arn"] == sb.role_arn


def test_assume_role_credentials_invoke_the_api(sb):
    before = time.time()
    answer = _sts(sb).assume_role(RoleArn=sb.role_arn, RoleSessionName="restjob")
    creds = _creds(answer)
    assert creds.access_key.startswith("ASIA") and creds.session_token
    expiration = answer["Credentials"]["Expiration"].timestamp()
    assert before + 900 <= expiration <= time.time() + 901  # the default sts_session_seconds
    assert answer["AssumedRoleUser"]["Arn"] == (
        "arn:aws:sts::123456789012:assumed-role/restjob-invoke-role/restjob"
    )
    r = _describe(sb, creds)
    assert r.status_code == 200, r.text
    assert r.json()["__type"].endswith("#ExecutionDoesNotExist")
    assert sb.request_log()[-1]["access_key"] == creds.access_key
    # a wrong session token with the issued key is refused
    r = _describe(sb, Credentials(creds.access_key, creds.secret_key, creds.session_token[:-4] + "AAAA"))
    assert r.status_code == 403 and r.json() == {
        "message": "The security token included in the request is invalid."
    }
    (call,) = sb.sts_calls()
    assert call["sts_action"] == "AssumeRole" and call["status"] == 200
    assert call["role_session_name"] == "restjob" and call["role_arn"] == sb.role_arn
    assert call["access_key"] == sb.invoke_credentials.access_key
    assert call["expiration"] == expiration and call["issued_access_key"] == creds.access_key
    _no_secrets_logged(sb, creds.secret_key, creds.session_token, sb.invoke_credentials.secret_key)
    # GetCallerIdentity names the assumed role
    assert _sts(sb, creds).get_caller_identity()["Arn"] == answer["AssumedRoleUser"]["Arn"]
    assert _sts(sb).get_caller_identity()["Arn"] == "arn:aws:iam::123456789012:user/restjob-invoker"


def test_temporary_credentials_expire_at_the_gateway(sb):
    sb.set_sts_session_seconds(2)
    answer = _sts(sb).assume_role(RoleArn=sb.role_arn, RoleSessionName="short")
    creds = _creds(answer)
    expiration = answer["Credentials"]["Expiration"].timestamp()
    assert time.time() + 1 < expiration <= time.time() + 3
    assert _describe(sb, creds).status_code == 200
    time.sleep(max(0.0, expiration - time.time()) + 0.3)
    r = _describe(sb, creds)
    assert r.status_code == 403
    assert r.json() == EXPIRED
    assert r.headers["x-amzn-ErrorType"] == "ExpiredTokenException"
    # ... and at STS itself (role chaining with expired source credentials)
    with pytest.raises(ClientError) as exc:
        _sts(sb, creds).assume_role(RoleArn=sb.role_arn, RoleSessionName="chained")
    assert _code(exc) == "ExpiredToken"
    # new credentials work again
    assert (
        _describe(sb, _creds(_sts(sb).assume_role(RoleArn=sb.role_arn, RoleSessionName="x2"))).status_code
        == 200
    )


def test_role_chaining_with_temporary_source_credentials(sb):
    first = _creds(_sts(sb).assume_role(RoleArn=sb.role_arn, RoleSessionName="first"))
    second = _creds(_sts(sb, first).assume_role(RoleArn=sb.role_arn, RoleSessionName="second"))
    assert second.access_key != first.access_key
    assert _describe(sb, second).status_code == 200
    # the sandbox's static temporary credentials are a valid source too
    third = _sts(sb, sb.temporary_credentials).assume_role(RoleArn=sb.role_arn, RoleSessionName="third")
    assert _describe(sb, _creds(third)).status_code == 200
    assert [c["access_key"] for c in sb.sts_calls()] == [
        sb.invoke_credentials.access_key,
        first.access_key,
        sb.temporary_credentials.access_key,
    ]


def test_duration_seconds(sb):
    sb.set_sts_session_seconds(None)
    answer = _sts(sb).assume_role(RoleArn=sb.role_arn, RoleSessionName="dur", DurationSeconds=1800)
    remaining = answer["Credentials"]["Expiration"].timestamp() - time.time()
    assert 1790 < remaining <= 1801
    answer = _sts(sb).assume_role(RoleArn=sb.role_arn, RoleSessionName="dur")
    assert 3590 < answer["Credentials"]["Expiration"].timestamp() - time.time() <= 3601
    sb.set_sts_session_seconds(60)  # shortens, never lengthens
    answer = _sts(sb).assume_role(RoleArn=sb.role_arn, RoleSessionName="dur", DurationSeconds=900)
    assert 50 < answer["Credentials"]["Expiration"].timestamp() - time.time() <= 61
    with pytest.raises(ClientError) as exc:
        _sts(sb).assume_role(RoleArn=sb.role_arn, RoleSessionName="dur", DurationSeconds=7200)
    assert _code(exc) == "ValidationError" and "MaxSessionDuration" in str(exc.value)
    assert sb.sts_calls()[-1]["status"] == 400 and sb.sts_calls()[-1]["error"] == "ValidationError"


def test_bad_session_names_and_roles(sb):
    with pytest.raises(ClientError) as exc:
        _sts(sb).assume_role(RoleArn=sb.role_arn, RoleSessionName="has space")
    assert _code(exc) == "ValidationError"
    with pytest.raises(ClientError) as exc:
        _sts(sb).assume_role(RoleArn="arn:aws:iam::123456789012:role/someone-else", RoleSessionName="s1")
    assert _code(exc) == "AccessDenied"
    assert "is not authorized to perform: sts:AssumeRole on resource" in str(exc.value)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_signature_and_identity_failures(sb):
    with pytest.raises(ClientError) as exc:
        _sts(sb, Credentials(sb.invoke_credentials.access_key, "wrong-secret")).assume_role(
            RoleArn=sb.role_arn, RoleSessionName="s1"
        )
    assert _code(exc) == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as exc:
        _sts(sb, Credentials("AKIAUNKNOWN000000000", "whatever")).assume_role(
            RoleArn=sb.role_arn, RoleSessionName="s1"
        )
    assert _code(exc) == "InvalidClientTokenId"
    with pytest.raises(ClientError) as exc:
        _sts(sb, unsigned=True).assume_role(RoleArn=sb.role_arn, RoleSessionName="s1")
    assert _code(exc) == "MissingAuthenticationToken"
    with pytest.raises(ClientError) as exc:
        _sts(sb, sb.noinvoke_credentials).assume_role(RoleArn=sb.role_arn, RoleSessionName="s1")
    assert _code(exc) == "AccessDenied" and "restjob-readonly" in str(exc.value)
    assert [c["error"] for c in sb.sts_calls()] == [
        "SignatureDoesNotMatch",
        "InvalidClientTokenId",
        "MissingAuthenticationToken",
        "AccessDenied",
    ]
    # a request signed for another service is refused as well
    r = requests.post(
        sb.sts_url,
        data={
            "Action": "AssumeRole",
            "Version": "2011-06-15",
            "RoleArn": sb.role_arn,
            "RoleSessionName": "s1",
        },
        auth=AWS4Auth(
            sb.invoke_credentials.access_key, sb.invoke_credentials.secret_key, sb.region, "execute-api"
        ),
        timeout=10,
    )
    assert r.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in r.text
    assert r.headers["Content-Type"].startswith("text/xml")


def test_external_id(sb):
    sb.require_external_id = "ext-7f3a"
    with pytest.raises(ClientError) as exc:
        _sts(sb).assume_role(RoleArn=sb.role_arn, RoleSessionName="ext")
    assert _code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        _sts(sb).assume_role(RoleArn=sb.role_arn, RoleSessionName="ext", ExternalId="ext-wrong")
    assert _code(exc) == "AccessDenied"
    answer = _sts(sb).assume_role(RoleArn=sb.role_arn, RoleSessionName="ext", ExternalId="ext-7f3a")
    assert _describe(sb, _creds(answer)).status_code == 200
    _no_secrets_logged(sb, "ext-7f3a")


def test_web_identity(sb, tmp_path):
    path = sb.write_web_identity_token(tmp_path / "token")
    token = open(path).read()
    assert token.count(".") == 2
    answer = _sts(sb, unsigned=True).assume_role_with_web_identity(
        RoleArn=sb.role_arn, RoleSessionName="irsa", WebIdentityToken=token
    )
    creds = _creds(answer)
    assert answer["AssumedRoleUser"]["Arn"].endswith(":assumed-role/restjob-invoke-role/irsa")
    assert _describe(sb, creds).status_code == 200
    (call,) = sb.sts_calls()
    assert call["sts_action"] == "AssumeRoleWithWebIdentity" and call["access_key"] is None
    assert call["web_identity_subject"] == "system:serviceaccount:airflow:restjob"
    _no_secrets_logged(sb, token, creds.secret_key, creds.session_token)
    # rotation: the file is rewritten with a new token
    sb.write_web_identity_token(path, lifetime=7200)
    assert open(path).read() != token
    assert not list(tmp_path.glob(".token-*"))


def test_web_identity_rejections(sb, tmp_path):
    client = _sts(sb, unsigned=True)
    for bad, code in (
        ("not-a-jwt", "InvalidIdentityToken"),
        (Sandbox().web_identity_token(), "InvalidIdentityToken"),  # another sandbox's key
        (
            sts_module.make_web_identity_token(sb.web_identity_key, now=time.time() - 7200),
            "ExpiredTokenException",
        ),
        (sts_module.make_web_identity_token(sb.web_identity_key, audience="other"), "InvalidIdentityToken"),
    ):
        with pytest.raises(ClientError) as exc:
            client.assume_role_with_web_identity(
                RoleArn=sb.role_arn, RoleSessionName="w1", WebIdentityToken=bad
            )
        assert _code(exc) == code, bad
    with pytest.raises(ClientError) as exc:
        client.assume_role_with_web_identity(
            RoleArn="arn:aws:iam::123456789012:role/other",
            RoleSessionName="w1",
            WebIdentityToken=sb.web_identity_token(),
        )
    assert _code(exc) == "AccessDenied"
    # a token whose lifetime ran out
    path = sb.write_web_identity_token(tmp_path / "token", lifetime=1)
    time.sleep(1.2)
    with pytest.raises(ClientError) as exc:
        client.assume_role_with_web_identity(
            RoleArn=sb.role_arn, RoleSessionName="w1", WebIdentityToken=open(path).read()
        )
    assert _code(exc) == "ExpiredTokenException"


def test_botocore_web_identity_provider_chain(sb, tmp_path, monkeypatch):
    """botocore's own AssumeRoleWithWebIdentity provider (IRSA env vars) against the sandbox's STS."""
    path = sb.write_web_identity_token(tmp_path / "token")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_ROLE_ARN", sb.role_arn)
    monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "chain")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", path)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sb.sts_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", sb.region)
    creds = boto3.Session().get_credentials()
    assert creds.method == "assume-role-with-web-identity"
    frozen = creds.get_frozen_credentials()
    assert _describe(sb, Credentials(frozen.access_key, frozen.secret_key, frozen.token)).status_code == 200
    assert sb.sts_calls()[-1]["role_session_name"] == "chain"


def test_unknown_action_and_version(sb):
    auth = AWS4Auth(sb.invoke_credentials.access_key, sb.invoke_credentials.secret_key, sb.region, "sts")
    r = requests.post(
        sb.sts_url, data={"Action": "GetSessionToken", "Version": "2011-06-15"}, auth=auth, timeout=10
    )
    assert r.status_code == 400 and "<Code>InvalidAction</Code>" in r.text
    r = requests.post(sb.sts_url, data={"Action": "AssumeRole"}, auth=auth, timeout=10)
    assert r.status_code == 400 and "<Code>InvalidAction</Code>" in r.text
    r = requests.post(sb.sts_url, data={}, auth=auth, timeout=10)
    assert r.status_code == 400 and "<Code>MissingAction</Code>" in r.text


def test_expired_identity_is_checked_by_the_verifier_clock(sb):
    """register_temporary with a past expiry: the gateway refuses, however good the signature."""
    creds = Credentials("ASIARESTJOBPASTEXP01", "secret-of-a-past-session-0000000000000000", "token-past")
    sb.register_temporary(
        creds, "arn:aws:sts::123456789012:assumed-role/restjob-invoke-role/past", time.time() - 1
    )
    r = _describe(sb, creds)
    assert r.status_code == 403 and r.json() == EXPIRED
    sb.register_temporary(
        creds, "arn:aws:sts::123456789012:assumed-role/restjob-invoke-role/past", time.time() + 60
    )
    assert _describe(sb, creds).status_code == 200
