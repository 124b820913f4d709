"""Helpers shared by the sandbox tests: signed requests and polling."""

from __future__ import annotations

import json
import time
from typing import Any

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from requests_aws4auth import AWS4Auth

from airflow_restjob.sandbox import Credentials, Sandbox

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def botocore_headers(
    url: str, body: bytes, creds: Credentials, region: str = "us-east-1", service: str = "execute-api"
) -> dict[str, str]:
    req = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(
        BotoCredentials(creds.access_key, creds.secret_key, creds.session_token), service, region
    ).add_auth(req)
    return dict(req.headers.items())


def post(
    sb: Sandbox,
    resource: str,
    doc: Any,
    creds: Credentials | None = None,
    *,
    timeout: float = 10,
    session: requests.Session | None = None,
) -> requests.Response:
    """POST a botocore-signed JSON body to ``{base_url}/{resource}``."""
    url = f"{sb.base_url}/{resource}"
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    headers = botocore_headers(url, body, creds or sb.invoke_credentials, sb.region)
    return (session or requests).post(url, data=body, headers=headers, timeout=timeout)


def post_aws4auth(
    sb: Sandbox, resource: str, doc: Any, creds: Credentials | None = None, headers: dict | None = None
) -> requests.Response:
    creds = creds or sb.invoke_credentials
    auth = AWS4Auth(
        creds.access_key, creds.secret_key, sb.region, "execute-api", session_token=creds.session_token
    )
    return requests.post(f"{sb.base_url}/{resource}", json=doc, auth=auth, headers=headers or {}, timeout=10)


def start(sb: Sandbox, machine: str, input_doc: dict | None = None, name: str | None = None) -> str:
    doc: dict[str, Any] = {"stateMachineArn": sb.state_machine_arn(machine)}
    if input_doc is not None:
        doc["input"] = json.dumps(input_doc)
    if name is not None:
        doc["name"] = name
    r = post(sb, "start-execution", doc)
    assert r.status_code == 200, r.text
    assert "executionArn" in r.json(), r.text
    return r.json()["executionArn"]


def wait_terminal(sb: Sandbox, arn: str, timeout: float = 15) -> dict[str, Any]:
    """Poll DescribeExecution through the gateway until the execution is closed."""
    deadline = time.monotonic() + timeout
    while True:
        r = post(sb, "describe-execution", {"executionArn": arn})
        assert r.status_code == 200, r.text
        doc = r.json()
        if doc.get("status") in TERMINAL:
            return doc
        assert time.monotonic() < deadline, f"{arn} still {doc.get('status')} after {timeout}s"
        time.sleep(0.2)
