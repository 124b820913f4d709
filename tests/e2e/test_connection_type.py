"""The provider as a real Airflow shows it: provider list, connection form metadata, masked
secrets in the REST API, and "Test connection" making a real signed call."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def api(airflow_sandbox):
    return airflow_sandbox.client


def test_provider_is_listed(api):
    providers = api.get_json("providers", limit=1000)["providers"]
    ours = [p for p in providers if p["package_name"] == "airflow-provider-restjob"]
    assert ours and ours[0]["description"]


def test_connection_form_declares_labelled_and_masked_fields(api):
    meta = api.request("GET", "/ui/connections/hook_meta").json()
    ours = next(m for m in meta if m["connection_type"] == "restjob")
    assert ours["hook_name"] == "REST Job (API Gateway, AWS SigV4)"
    standard = ours["standard_fields"]
    assert standard["host"]["title"] == "API base URL"
    assert standard["login"]["title"] == "AWS access key ID"
    assert standard["password"]["title"] == "AWS secret access key"
    extra = ours["extra_fields"]
    for name in (
        "region",
        "session_token",
        "service",
        "proxy_url",
        "proxy_user",
        "proxy_password",
        "tls_verify",
    ):
        assert name in extra, (name, sorted(extra))
    assert extra["session_token"]["schema"].get("format") == "password"
    assert extra["proxy_password"]["schema"].get("format") == "password"
    assert extra["region"]["schema"].get("format") != "password"


def test_secrets_are_masked_by_the_rest_api(api, sandbox):
    temp = sandbox.temporary_credentials
    extra = {
        "region": "us-east-1",
        "session_token": temp.session_token,
        "proxy_url": "http://127.0.0.1:1",
        "proxy_user": "ops",
        "proxy_password": "proxy-pass-1234",
    }
    api.create_connection(
        "restjob_masking",
        "restjob",
        host=sandbox.base_url,
        login=temp.access_key,
        password=temp.secret_key,
        extra=extra,
        replace=True,
    )
    got = api.get_connection("restjob_masking")
    text = json.dumps(got)
    assert temp.secret_key not in text and temp.session_token not in text and "proxy-pass-1234" not in text
    got_extra = json.loads(got["extra"])
    assert got_extra["session_token"] == "***" and got_extra["proxy_password"] == "***"
    assert got_extra["region"] == "us-east-1"
    assert got["password"] == "***"  # stored (the secret key), redacted by the REST API


def test_test_connection_makes_a_signed_call(api, sandbox):
    def probe(credentials):
        fields = json.loads(sandbox.connection_json(credentials=credentials))
        body = {
            "connection_id": "restjob_probe",
            "conn_type": "restjob",
            "host": fields["host"],
            "login": fields["login"],
            "password": fields["password"],
            "extra": json.dumps(fields["extra"]),
        }
        return api.request("POST", "connections/test", json_body=body).json()

    good = probe(sandbox.invoke_credentials)
    assert good["status"] is True, good
    bad = probe(sandbox.noinvoke_credentials)
    assert bad["status"] is False and "execute-api:Invoke" in bad["message"], bad
    # a setting that cannot work: a connection problem of the connection being edited (Airflow tests a
    # copy under a random id, which the message must not name)
    body = {"connection_id": "restjob_probe", "conn_type": "restjob", "host": "https://jobs.internal.example.com/stage",
            "login": "AKIAEXAMPLE000000000", "password": "s", "extra": "{}"}
    unusable = api.request("POST", "connections/test", json_body=body).json()
    assert unusable["status"] is False, unusable
    assert unusable["message"].startswith("Connection problem: This connection: the region is missing"), unusable
    assert "job definition" not in unusable["message"]
