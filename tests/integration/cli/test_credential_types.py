"""``airflow-restjob credentials`` with every auth type, as a real process against its own SQLite
AIRFLOW_HOME: add (a list), list and show with every secret as ***, read back by the provider the
way a task reads it, delete; field errors name the type."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.integration.cli.test_credentials import cli, home, write  # noqa: F401 - the fixture

STATEMENTS = [
    {"name": "c_basic", "authType": "basic", "user": "jobuser", "password": "Basic-Secret-1", "baseUrl": "https://jobs.example.com/b"},
    {"name": "c_bearer", "authType": "bearer", "token": "Bearer-Secret-2", "baseUrl": "https://jobs.example.com/t"},
    {
        "name": "c_oauth2",
        "authType": "oauth2_client_credentials",
        "tokenUrl": "https://idp.example.com/oauth2/token",
        "clientId": "client-3",
        "clientSecret": "OAuth-Secret-3",
        "scope": "jobs.run",
        "audience": "https://jobs.example.com",
        "clientAuth": "basic",
        "baseUrl": "https://jobs.example.com/o",
    },
    {
        "name": "c_azure",
        "authType": "azure_ad",
        "tenantId": "11111111-2222-3333-4444-555555555555",
        "clientId": "client-4",
        "clientSecret": "Azure-Secret-4",
        "scope": "https://management.azure.com/.default",
        "baseUrl": "https://management.azure.com",
    },
    {
        "name": "c_sap",
        "authType": "sap_btp",
        "xsuaaUrl": "https://sub.authentication.eu10.hana.ondemand.com",
        "clientId": "sb-client!b5",
        "clientSecret": "Sap-Secret-5",
        "baseUrl": "https://api.example.hana.ondemand.com",
    },
    {
        "name": "c_key",
        "authType": "key_value",
        "headers": {"x-api-key": "Key-Secret-6"},
        "query": {"code": "Query-Secret-7"},
        "baseUrl": "https://jobs.example.com/k",
    },
    {
        "name": "c_role",
        "authType": "aws_sigv4",
        "accessKeyId": "AKIASOURCE0000000001",
        "secretAccessKey": "Aws-Secret-8",
        "roleArn": "arn:aws:iam::123456789012:role/jobs",
        "externalId": "ext-9",
        "durationSeconds": 900,
        "stsEndpoint": "https://sts.ap-northeast-1.amazonaws.com",
        "baseUrl": "https://abc123.execute-api.ap-northeast-1.amazonaws.com/stage",
    },
    {
        "name": "c_irsa",
        "authType": "aws_sigv4",
        "roleArn": "arn:aws:iam::123456789012:role/jobs",
        "webIdentityTokenFile": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
        "baseUrl": "https://abc123.execute-api.ap-northeast-1.amazonaws.com/stage",
    },
    {
        "name": "c_chain",
        "authType": "aws_sigv4",
        "credentialSource": "default_chain",
        "region": "eu-west-1",
        "baseUrl": "https://jobs.example.com/aws",
    },
    {"name": "c_proxy", "authType": "proxy", "proxyUrl": "http://proxy.example.com:8080", "user": "p", "password": "Proxy-Secret-10"},
]
SECRETS = [
    "Basic-Secret-1",
    "Bearer-Secret-2",
    "OAuth-Secret-3",
    "Azure-Secret-4",
    "Sap-Secret-5",
    "Key-Secret-6",
    "Query-Secret-7",
    "Aws-Secret-8",
    "Proxy-Secret-10",
]
READ_BACK = """
import json
from airflow.models import Connection
from airflow.utils.session import create_session
from airflow_restjob.connections.routes import Route
with create_session() as s:
    conns = {c.conn_id: c for c in s.query(Connection).filter(Connection.conn_id.like('c_%'))}
    out = {}
    for name in sorted(conns):
        if name == 'c_proxy':
            continue
        st = Route(base=name, auth=name, proxy='c_proxy').settings(conns)
        cred = st.credential
        out[name] = {
            'type': st.auth_type,
            'cred': type(cred).__name__ if cred is not None else None,
            'token_url': getattr(cred, 'token_url', None),
            'client_auth': getattr(cred, 'client_auth', None),
            'source': getattr(cred, 'source', None),
            'proxy': st.proxy_url,
            'base': st.base_url,
        }
    print(json.dumps(out))
"""


def test_every_type_is_added_listed_shown_read_and_deleted(home, tmp_path):  # noqa: F811
    added = cli(home, "add", write(tmp_path, STATEMENTS, "all.json"))
    assert added.returncode == 0, added.stderr
    for statement in STATEMENTS:
        assert f"{statement['name']} ({statement['authType']})" in added.stdout

    listed = cli(home, "list")
    shown = {s["name"]: json.loads(cli(home, "show", s["name"]).stdout) for s in STATEMENTS}
    for secret in SECRETS:
        assert secret not in listed.stdout + added.stdout + json.dumps(shown)
    assert len([line for line in listed.stdout.splitlines() if line.startswith("c_")]) == len(STATEMENTS)
    for statement in STATEMENTS:
        expected = dict(statement)
        for key in ("password", "token", "clientSecret", "secretAccessKey"):
            if key in expected:
                expected[key] = "***"
        for part in ("headers", "query"):
            if part in expected:
                expected[part] = dict.fromkeys(expected[part], "***")
        if statement["authType"] == "sap_btp":
            expected["clientAuth"] = "basic"  # XSUAA's usual client authentication, shown as stored
        assert shown[statement["name"]] == expected, statement["name"]

    read = subprocess.run([sys.executable, "-c", READ_BACK], env=home, capture_output=True, text=True)
    assert read.returncode == 0, read.stderr
    got = json.loads(read.stdout.strip().splitlines()[-1])
    assert got["c_basic"]["cred"] == "Basic" and got["c_bearer"]["cred"] == "Bearer"
    assert got["c_oauth2"]["client_auth"] == "basic" and got["c_oauth2"]["token_url"].endswith("/oauth2/token")
    assert got["c_azure"]["token_url"] == (
        "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token"
    )
    assert got["c_sap"]["token_url"] == "https://sub.authentication.eu10.hana.ondemand.com/oauth/token"
    assert got["c_sap"]["client_auth"] == "basic" and got["c_azure"]["client_auth"] == "form"
    assert got["c_key"]["cred"] == "KeyValue"
    assert got["c_role"]["source"] == "static" and got["c_irsa"]["source"] == "default_chain"
    assert got["c_chain"]["cred"] == "AwsRole"
    assert {v["proxy"] for v in got.values()} == {"http://proxy.example.com:8080"}

    # overwrite one type with another under the same name
    again = cli(home, "add", write(tmp_path, {"name": "c_basic", "authType": "bearer", "token": "Other-Token"}))
    assert again.returncode == 0 and "updated c_basic (bearer)" in again.stdout
    assert json.loads(cli(home, "show", "c_basic").stdout) == {"name": "c_basic", "authType": "bearer", "token": "***"}
    for statement in STATEMENTS:
        assert cli(home, "delete", statement["name"]).returncode == 0
    assert not [line for line in cli(home, "list").stdout.splitlines() if line.startswith("c_")]


def test_a_bad_statement_is_exit_2_and_stores_nothing(home, tmp_path):  # noqa: F811
    # the whole table of field errors: tests/unit/cli/test_statement_validation.py
    first = {**STATEMENTS[0], "name": "c_first"}
    result = cli(home, "add", write(tmp_path, [first, {"name": "x", "authType": "bearer"}]))
    assert result.returncode == 2 and "[1].token: required for authType bearer" in result.stderr
    assert "c_first" not in cli(home, "list").stdout
