"""``python -m airflow_restjob.sandbox`` prints a working credential statement per credential type."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import boto3
import requests
from requests_aws4auth import AWS4Auth

from airflow_restjob.sandbox import Credentials, SandboxClient
from tests.integration.sandbox.sandbox_helpers import botocore_headers

PREFIX = "credential statement "
NAMES = {
    "sandbox_aws",
    "sandbox_aws_role",
    "sandbox_aws_web_identity",
    "sandbox_basic",
    "sandbox_bearer",
    "sandbox_oauth2",
    "sandbox_azure",
    "sandbox_sap",
    "sandbox_apikey",
}


def _reader(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _describe_with(s: dict, creds: Credentials) -> requests.Response:
    auth = AWS4Auth(
        creds.access_key, creds.secret_key, s["region"], "execute-api", session_token=creds.session_token
    )
    doc = {"executionArn": "arn:aws:states:us-east-1:123456789012:execution:succeed:nope"}
    return requests.post(f"{s['baseUrl']}/describe-execution", json=doc, auth=auth, timeout=10)


def _job(base_url: str, **kwargs) -> requests.Response:
    return requests.post(base_url + "/jobs", json={"seconds": 0}, timeout=10, **kwargs)


def _oauth_token(url: str, s: dict, scope: str | None = None) -> str:
    data = {
        "grant_type": "client_credentials",
        "client_id": s["clientId"],
        "client_secret": s["clientSecret"],
    }
    if scope:
        data["scope"] = scope
    r = requests.post(url, data=data, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_cli_prints_a_working_statement_per_credential_type():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_restjob.sandbox",
            "--wait-seconds",
            "1",
            "--sts-session-seconds",
            "900",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    statements: dict[str, dict] = {}
    statements_file = admin = None
    try:
        deadline = time.monotonic() + 60
        while True:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"sandbox exited early: {seen} {proc.stderr.read()}"
            seen.append(line)
            if line.startswith("restjob sandbox admin URL: "):
                admin = line.split(": ", 1)[1].strip()
            if line.startswith(PREFIX):
                name, _, text = line[len(PREFIX) :].partition(": ")
                statements[name] = json.loads(text)
                assert statements[name]["name"] == name
            if line.startswith("credential statements file: "):
                statements_file = line.split(": ", 1)[1].strip()
            if line.startswith("Ctrl-C or SIGTERM"):
                break
        # the existing lines are all still there
        assert any(line.startswith("restjob sandbox base URL: http://127.0.0.1:") for line in seen)
        assert any(line.startswith("export AIRFLOW_CONN_RESTJOB_DEFAULT='") for line in seen)
        assert any(line.startswith("STS endpoint: http://127.0.0.1:") for line in seen)
        assert set(statements) == NAMES
        with open(statements_file, encoding="utf-8") as handle:
            assert {s["name"]: s for s in json.load(handle)} == statements

        client = SandboxClient(admin)
        assert statements["sandbox_aws_role"]["stsEndpoint"] == client.sts_url
        assert statements["sandbox_aws_role"]["roleArn"] == client.role_arn

        # static keys
        s = statements["sandbox_aws"]
        assert s["authType"] == "aws_sigv4" and s["baseUrl"] == client.base_url
        url = f"{s['baseUrl']}/start-execution"
        body = json.dumps({"stateMachineArn": client.state_machine_arn("succeed")}).encode()
        headers = botocore_headers(
            url, body, Credentials(s["accessKeyId"], s["secretAccessKey"]), s["region"]
        )
        r = requests.post(url, data=body, headers=headers, timeout=10)
        assert r.status_code == 200 and "executionArn" in r.json()

        # assume role from the source keys
        s = statements["sandbox_aws_role"]
        sts = boto3.client(
            "sts",
            endpoint_url=s["stsEndpoint"],
            region_name=s["region"],
            aws_access_key_id=s["accessKeyId"],
            aws_secret_access_key=s["secretAccessKey"],
        )
        c = sts.assume_role(RoleArn=s["roleArn"], RoleSessionName=s["roleSessionName"])["Credentials"]
        assert (
            _describe_with(
                s, Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
            ).status_code
            == 200
        )

        # web identity from the token file
        s = statements["sandbox_aws_web_identity"]
        with open(s["webIdentityTokenFile"], encoding="utf-8") as handle:
            token = handle.read()
        c = boto3.client(
            "sts", endpoint_url=s["stsEndpoint"], region_name=s["region"]
        ).assume_role_with_web_identity(RoleArn=s["roleArn"], RoleSessionName="cli", WebIdentityToken=token)[
            "Credentials"
        ]
        assert (
            _describe_with(
                s, Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
            ).status_code
            == 200
        )

        # the AuthApi schemes
        s = statements["sandbox_basic"]
        assert _job(s["baseUrl"], auth=(s["user"], s["password"])).status_code == 201
        assert _job(s["baseUrl"], auth=(s["user"], "wrong")).status_code == 401
        s = statements["sandbox_bearer"]
        assert _job(s["baseUrl"], headers={"Authorization": f"Bearer {s['token']}"}).status_code == 201
        s = statements["sandbox_apikey"]
        assert _job(s["baseUrl"], headers=s["headers"], params=s["query"]).status_code == 201
        assert _job(s["baseUrl"], headers=s["headers"]).status_code == 401
        s = statements["sandbox_oauth2"]
        token = _oauth_token(s["tokenUrl"], s, s["scope"])
        assert _job(s["baseUrl"], headers={"Authorization": f"Bearer {token}"}).status_code == 201
        s = statements["sandbox_azure"]
        token = _oauth_token(f"{s['authorityHost']}/{s['tenantId']}/oauth2/v2.0/token", s, s["scope"])
        assert _job(s["baseUrl"], headers={"Authorization": f"Bearer {token}"}).status_code == 201
        s = statements["sandbox_sap"]
        token = _oauth_token(f"{s['xsuaaUrl']}/oauth/token", s)
        assert _job(s["baseUrl"], headers={"Authorization": f"Bearer {token}"}).status_code == 201

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        # the token file and the statements file went with the sandbox
        assert not os.path.exists(statements_file)
        assert not os.path.exists(statements["sandbox_aws_web_identity"]["webIdentityTokenFile"])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
