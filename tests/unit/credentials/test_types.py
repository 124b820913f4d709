"""Each credential type: from its connection fields to what a request carries (no I/O)."""

from __future__ import annotations

import base64
import json

import pytest

from airflow_restjob.connections.settings import ConnectionSettings
from airflow_restjob.credentials.types import AwsRole, Basic, Bearer, KeyValue, OAuth2ClientCredentials
from airflow_restjob.errors import DefinitionError
from airflow_restjob.transport import common
from airflow_restjob.transport.auth import RequestAuth

HOST = "https://jobs.example.com/api"


def settings(auth_type: str | None, login=None, password=None, **extra) -> ConnectionSettings:
    if auth_type:
        extra["auth_type"] = auth_type
    return ConnectionSettings.from_fields("cred", host=HOST, login=login, password=password, extra=extra)


def test_basic_sends_an_rfc7617_header_and_redacts_both_forms():
    s = settings("basic", "jobuser", "p@ss:word")
    assert isinstance(s.credential, Basic) and s.signed and not s.sigv4
    headers = RequestAuth(s).headers(None)
    assert headers == {"Authorization": "Basic " + base64.b64encode(b"jobuser:p@ss:word").decode()}
    text = f"failed with p@ss:word and {headers['Authorization']}"
    assert "p@ss:word" not in s.redact(text) and headers["Authorization"].split()[1] not in s.redact(text)
    assert "p@ss:word" not in repr(s) and "p@ss:word" not in repr(s.credential)


def test_bearer_and_key_value():
    bearer = settings("bearer", password="static-token-123")
    assert isinstance(bearer.credential, Bearer)
    assert RequestAuth(bearer).headers(None) == {"Authorization": "Bearer static-token-123"}
    kv = settings(
        "key_value", password=json.dumps({"headers": {"x-api-key": "k-secret"}, "query": {"code": "q/secret"}})
    )
    assert isinstance(kv.credential, KeyValue)
    assert RequestAuth(kv).headers(None) == {"x-api-key": "k-secret"}
    url = common.full_url(kv, "jobs/1", {"a": "b"})
    assert url == f"{HOST}/jobs/1?a=b&code=q%2Fsecret"
    assert "q%2Fsecret" not in kv.redact(url) and "k-secret" not in kv.redact("k-secret")


@pytest.mark.parametrize(
    "password, words",
    [
        ("not json", ["not a JSON object"]),
        (json.dumps({"headers": {}}), ["'headers' and/or 'query'"]),
        (json.dumps({"headers": {"x-api-key": ""}}), ["non-empty strings"]),
        (json.dumps({"cookies": {"a": "b"}}), ["'headers' and/or 'query'"]),
    ],
)
def test_key_value_password_errors_name_the_cause_and_never_the_value(password, words):
    with pytest.raises(DefinitionError) as caught:
        settings("key_value", password=password)
    for word in words:
        assert word in str(caught.value)
    assert "Fix:" in str(caught.value)


def test_oauth2_fields_and_errors():
    s = settings(
        "oauth2_client_credentials",
        "client-1",
        "client-secret-1",
        token_url="https://idp.example.com/token",
        scope="jobs/.default",
        client_auth="basic",
    )
    cred = s.credential
    assert isinstance(cred, OAuth2ClientCredentials) and cred.client_auth == "basic"
    assert cred.key == settings(
        "oauth2_client_credentials",
        "client-1",
        "client-secret-1",
        token_url="https://idp.example.com/token",
        scope="jobs/.default",
    ).credential.key  # the client authentication method does not make another token
    assert "client-secret-1" not in cred.key
    with pytest.raises(DefinitionError, match="oauth2_url"):
        settings("oauth2_client_credentials", "c", "s")
    with pytest.raises(DefinitionError, match="form or basic"):
        settings("oauth2_client_credentials", "c", "s", token_url="https://idp.example.com/t", client_auth="post")
    with pytest.raises(DefinitionError, match="client secret"):
        settings("oauth2_client_credentials", "c", None, token_url="https://idp.example.com/t")


def test_unknown_auth_type_gets_a_did_you_mean():
    with pytest.raises(DefinitionError) as caught:
        settings("oauth2_client_credential", "c", "s")
    assert "Did you mean 'oauth2_client_credentials'?" in str(caught.value)


def test_extra_fields_are_checked_per_auth_type():
    with pytest.raises(DefinitionError, match=r"unknown extra field\(s\) \['token_url'\] for auth_type basic"):
        settings("basic", "u", "p", token_url="https://x.example.com")


def test_aws_static_key_is_unchanged_and_roles_are_temporary():
    static = settings(None, "AKIAEXAMPLE", "secret", region="us-east-1")
    assert static.credential is None and static.sigv4 and static.access_key_id == "AKIAEXAMPLE"
    role = settings(
        None,
        "AKIASOURCE",
        "source-secret",
        region="us-east-1",
        role_arn="arn:aws:iam::123456789012:role/r",
        external_id="ext-1",
        duration_seconds="900",
    )
    cred = role.credential
    assert isinstance(cred, AwsRole) and cred.source == "static" and cred.duration_seconds == 900
    assert role.access_key_id == "" and role.secret_access_key == ""  # never signs with the source key
    assert cred.sts_region == "us-east-1" and "source-secret" in role.secrets
    web = settings(
        None, region="us-east-1", role_arn="arn:aws:iam::1:role/r", web_identity_token_file="/var/run/token"
    )
    assert isinstance(web.credential, AwsRole) and web.credential.label.startswith("web identity")
    chain = settings(None, region="us-east-1", credential_source="default_chain")
    assert isinstance(chain.credential, AwsRole) and chain.credential.source == "default_chain"


@pytest.mark.parametrize(
    "login, password, extra, words",
    [
        (None, None, {}, ["access key ID (login) is missing"]),
        (None, None, {"web_identity_token_file": "/t"}, ["needs 'role_arn'"]),
        ("AKIA", "s", {"role_arn": "arn:aws:iam::1:role/r", "web_identity_token_file": "/t"}, ["no access key"]),
        (None, None, {"role_arn": "arn:aws:iam::1:role/r", "duration_seconds": "60"}, ["900-43200"]),
        (None, None, {"credential_source": "ec2"}, ["default_chain or static"]),
        (None, None, {"role_arn": "arn:aws:iam::1:role/r", "sts_endpoint": "sts.local"}, ["sts_endpoint"]),
    ],
)
def test_aws_role_errors(login, password, extra, words):
    with pytest.raises(DefinitionError) as caught:
        settings(None, login, password, region="us-east-1", **extra)
    for word in words:
        assert word in str(caught.value)


def test_the_stored_token_url_is_not_a_key_airflow_hides():
    from airflow_restjob.cli.credentials import OAUTH2_EXTRA

    try:
        from airflow.sdk._shared.secrets_masker import should_hide_value_for_key
    except ImportError:  # Airflow 3.1
        from airflow.sdk.execution_time.secrets_masker import should_hide_value_for_key
    assert not should_hide_value_for_key(OAUTH2_EXTRA["tokenUrl"])
    new = settings("oauth2_client_credentials", "c", "s", oauth2_url="https://idp.example.com/t")
    assert new.credential.token_url == "https://idp.example.com/t"
