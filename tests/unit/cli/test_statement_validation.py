"""Credential statements: every field error names the key, the type and the fix (exit code 2)."""

from __future__ import annotations

import pytest

from airflow_restjob.cli.credentials import BAD_CONTENT, CommandError, validate


@pytest.mark.parametrize(
    "statement, words",
    [
        ({"name": "x", "authType": "basic", "user": "u"}, ["$.password: required for authType basic", "user, password"]),
        ({"name": "x", "authType": "bearer"}, ["$.token: required for authType bearer"]),
        ({"name": "x", "authType": "azure_ad", "clientId": "c", "clientSecret": "s", "scope": "x/.default"}, ["$.tenantId: required for authType azure_ad"]),
        ({"name": "x", "authType": "sap_btp", "clientId": "c", "clientSecret": "s"}, ["$.xsuaaUrl: required for authType sap_btp"]),
        ({"name": "x", "authType": "oauth2_client_credentials", "tokenUrl": "https://i.example.com/t", "clientId": "c"}, ["$.clientSecret: required"]),
        ({"name": "x", "authType": "oauth2_client_credentials", "tokenUrl": "https://i.example.com/t", "clientId": "c", "clientSecret": "s", "clientAuth": "post"}, ["client_auth", "form or basic"]),
        ({"name": "x", "authType": "key_value"}, ["needs 'headers' and/or 'query'"]),
        ({"name": "x", "authType": "key_value", "headers": {"x-api-key": 5}}, ["$.headers: expected an object of names to non-empty strings"]),
        ({"name": "x", "authType": "aws_sigv4", "region": "us-east-1"}, ["$.accessKeyId: required for authType aws_sigv4", "roleArn"]),
        ({"name": "x", "authType": "aws_sigv4", "roleArn": "arn:aws:iam::1:role/r", "region": "us-east-1", "durationSeconds": "900"}, ["$.durationSeconds: expected an integer"]),
        ({"name": "x", "authType": "aws_sigv4", "webIdentityTokenFile": "/t", "region": "us-east-1"}, ["needs 'role_arn'"]),
        ({"name": "x", "authType": "oauth2", "clientId": "c"}, ["$.authType", "Did you mean 'oauth2_client_credentials'?"]),
        ({"name": "x", "authType": "bearer", "token": "t", "tokenUrl": "https://i.example.com"}, ["$.tokenUrl: unknown key for authType bearer"]),
    ],
)
def test_bad_statements_name_the_key_and_the_type(statement, words):
    with pytest.raises(CommandError) as caught:
        validate(statement, "$")
    assert caught.value.code == BAD_CONTENT
    for word in words:
        assert word in str(caught.value)
