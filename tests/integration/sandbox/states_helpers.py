"""Helpers for the tests of the sandbox's direct Step Functions API (``Sandbox.states_url``)."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotoCredentials

from airflow_restjob.sandbox import Credentials, Sandbox

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
AMZ_JSON = "application/x-amz-json-1.0"


def sfn_client(sb: Sandbox, creds: Credentials | None = None, inject_host_prefix: bool = True) -> Any:
    """An unmodified botocore ``stepfunctions`` client for the sandbox's states_url (no retries)."""
    creds = creds or sb.invoke_credentials
    return boto3.client(
        "stepfunctions",
        endpoint_url=sb.states_url,
        region_name=sb.region,
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        aws_session_token=creds.session_token,
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            read_timeout=30,
            inject_host_prefix=inject_host_prefix,
        ),
    )


def states_post(
    sb: Sandbox,
    action: str,
    doc: Any,
    creds: Credentials | None = None,
    *,
    service: str = "states",
    region: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> requests.Response:
    """POST / with ``X-Amz-Target: AWSStepFunctions.<action>``, signed by botocore's SigV4 signer."""
    creds = creds or sb.invoke_credentials
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    url = sb.states_url + "/"
    all_headers = {"Content-Type": AMZ_JSON, "X-Amz-Target": f"AWSStepFunctions.{action}", **(headers or {})}
    req = AWSRequest(method="POST", url=url, data=body, headers=all_headers)
    SigV4Auth(
        BotoCredentials(creds.access_key, creds.secret_key, creds.session_token), service, region or sb.region
    ).add_auth(req)
    return requests.post(url, data=body, headers=dict(req.headers.items()), timeout=timeout)


def error_of(r: requests.Response) -> tuple[int, str, str | None]:
    """(HTTP status, short error type, message) of a direct-API error answer."""
    doc = r.json()
    return r.status_code, doc["__type"].rpartition("#")[2], doc.get("message", doc.get("Message"))


def start(sb: Sandbox, machine: str, input_doc: dict | None = None, name: str | None = None) -> str:
    kwargs: dict[str, Any] = {"stateMachineArn": sb.state_machine_arn(machine)}
    if input_doc is not None:
        kwargs["input"] = json.dumps(input_doc)
    if name is not None:
        kwargs["name"] = name
    return sfn_client(sb).start_execution(**kwargs)["executionArn"]


def describe(sb: Sandbox, arn: str) -> dict[str, Any]:
    r = states_post(sb, "DescribeExecution", {"executionArn": arn})
    assert r.status_code == 200, r.text
    return r.json()


def wait_status(sb: Sandbox, arn: str, wanted: set[str] | None = None, timeout: float = 20) -> dict[str, Any]:
    """Poll DescribeExecution on the direct API until the status is one of ``wanted`` (default: ended)."""
    wanted = wanted or TERMINAL
    deadline = time.monotonic() + timeout
    while True:
        doc = describe(sb, arn)
        if doc.get("status") in wanted:
            return doc
        assert time.monotonic() < deadline, f"{arn} still {doc.get('status')} after {timeout}s"
        time.sleep(0.2)
