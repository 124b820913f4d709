"""API Gateway AWS_IAM behaviour of the sandbox over real loopback HTTP."""

from __future__ import annotations

import datetime as dt
import json

import requests
from requests_aws4auth import AWS4Auth

from airflow_restjob.sandbox import Credentials
from tests.integration.sandbox.sandbox_helpers import botocore_headers, post, post_aws4auth

BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
INVALID_TOKEN = {"message": "The security token included in the request is invalid."}


def _describe_doc(sandbox):
    return {"executionArn": f"arn:aws:states:us-east-1:123456789012:execution:succeed:{'nope'}"}


def test_botocore_signed_request_is_accepted(sandbox):
    r = post(
        sandbox, "start-execution", {"stateMachineArn": sandbox.state_machine_arn("succeed"), "input": "{}"}
    )
    assert r.status_code == 200
    assert r.json()["executionArn"].startswith("arn:aws:states:us-east-1:123456789012:execution:succeed:")
    assert r.headers["Content-Type"].startswith("application/json")


def test_botocore_signed_with_session_token_is_accepted(sandbox):
    r = post(
        sandbox,
        "start-execution",
        {"stateMachineArn": sandbox.state_machine_arn("succeed")},
        sandbox.temporary_credentials,
    )
    assert r.status_code == 200, r.text
    assert sandbox.temporary_credentials.access_key.startswith("ASIA")
    entry = sandbox.request_log()[-1]
    assert entry["access_key"] == sandbox.temporary_credentials.access_key
    assert entry["status"] == 200


def test_aws4auth_signed_requests_are_accepted(sandbox):
    arn = sandbox.state_machine_arn("succeed")
    r = post_aws4auth(sandbox, "start-execution", {"stateMachineArn": arn, "input": json.dumps({"n": 1})})
    assert r.status_code == 200, r.text
    r = post_aws4auth(
        sandbox,
        "describe-execution",
        {"executionArn": r.json()["executionArn"]},
        sandbox.temporary_credentials,
    )
    assert r.status_code == 200, r.text
    assert r.json()["input"] == '{"n": 1}'


def test_aws4auth_with_extra_signed_headers_is_accepted(sandbox):
    # aws4auth signs every x-amz-* header it finds; the verifier must use exactly that list
    r = post_aws4auth(
        sandbox,
        "describe-execution",
        _describe_doc(sandbox),
        headers={"X-Amz-Meta-Trace": "a   b", "X-Amz-Target-Hint": "x"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["__type"].endswith("#ExecutionDoesNotExist")


def test_wrong_secret_gets_invalid_signature(sandbox):
    wrong = Credentials(sandbox.invoke_credentials.access_key, "x" * 40)
    r = post(sandbox, "describe-execution", _describe_doc(sandbox), wrong)
    assert r.status_code == 403
    assert r.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    message = r.json()["message"]
    assert message.startswith(
        BAD_SIGNATURE
        + "\n\nThe Canonical String for this request should have been\n'POST\n/stage/describe-execution\n"
    )
    assert "\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n" in message


def test_body_changed_after_signing_gets_invalid_signature(sandbox):
    url = f"{sandbox.base_url}/describe-execution"
    headers = botocore_headers(url, b'{"executionArn": "a"}', sandbox.invoke_credentials)
    r = requests.post(url, data=b'{"executionArn": "b"}', headers=headers, timeout=10)
    assert r.status_code == 403
    assert r.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert r.json()["message"].startswith(BAD_SIGNATURE)


def test_unknown_access_key(sandbox):
    r = post(
        sandbox, "describe-execution", _describe_doc(sandbox), Credentials("AKIAUNKNOWNUNKNOWN00", "s" * 40)
    )
    assert r.status_code == 403
    assert r.text == '{"message":"The security token included in the request is invalid."}'
    assert r.headers["x-amzn-ErrorType"] == "UnrecognizedClientException"


def test_bad_and_missing_session_token(sandbox):
    temp = sandbox.temporary_credentials
    for creds in (
        Credentials(temp.access_key, temp.secret_key, temp.session_token + "x"),
        Credentials(temp.access_key, temp.secret_key),
    ):
        r = post(sandbox, "describe-execution", _describe_doc(sandbox), creds)
        assert r.status_code == 403
        assert r.json() == INVALID_TOKEN
        assert r.headers["x-amzn-ErrorType"] == "UnrecognizedClientException"


def _skewed(sandbox, minutes: float) -> requests.Response:
    creds = sandbox.invoke_credentials
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    auth = AWS4Auth(creds.access_key, creds.secret_key, sandbox.region, "execute-api")
    return requests.post(
        f"{sandbox.base_url}/describe-execution",
        json=_describe_doc(sandbox),
        headers={"X-Amz-Date": stamp},
        auth=auth,
        timeout=10,
    )


def test_clock_skew_past_five_minutes(sandbox):
    assert _skewed(sandbox, -4).status_code == 200
    late = _skewed(sandbox, -6)
    assert late.status_code == 403
    assert late.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert late.json()["message"].startswith("Signature expired: ")
    assert " is now earlier than " in late.json()["message"]
    assert late.json()["message"].endswith(" - 5 min.)")
    early = _skewed(sandbox, 6)
    assert early.status_code == 403
    assert early.json()["message"].startswith("Signature not yet current: ")
    assert early.json()["message"].endswith(" + 5 min.)")


def test_user_without_invoke_permission(sandbox):
    r = post(
        sandbox,
        "start-execution",
        {"stateMachineArn": sandbox.state_machine_arn("succeed")},
        sandbox.noinvoke_credentials,
    )
    assert r.status_code == 403
    assert r.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert r.json() == {
        "Message": "User: arn:aws:iam::123456789012:user/restjob-readonly is not authorized to perform: "
        "execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:123456789012:rstjbsbx01/stage/POST/start-execution"
    }
    # nothing was started
    assert sandbox.request_log()[-1]["execution_arn"] is None


def test_unsigned_request(sandbox):
    r = requests.post(f"{sandbox.base_url}/start-execution", json={"stateMachineArn": "x"}, timeout=10)
    assert r.status_code == 403
    assert r.text == '{"message":"Missing Authentication Token"}'
    assert r.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_unknown_path_and_method_even_when_signed(sandbox):
    r = post(sandbox, "redrive-execution", {"executionArn": "x"})
    assert r.status_code == 403
    assert r.text == '{"message":"Missing Authentication Token"}'
    assert r.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    other_stage = sandbox.base_url.rsplit("/", 1)[0] + "/prod/describe-execution"
    r = requests.post(
        other_stage,
        data=b"{}",
        headers=botocore_headers(other_stage, b"{}", sandbox.invoke_credentials),
        timeout=10,
    )
    assert r.status_code == 403 and r.json() == {"message": "Missing Authentication Token"}
    r = requests.get(f"{sandbox.base_url}/describe-execution", timeout=10)
    assert r.status_code == 403 and r.json() == {"message": "Missing Authentication Token"}


def test_credential_scoped_to_another_service_or_region(sandbox):
    url = f"{sandbox.base_url}/describe-execution"
    body = json.dumps(_describe_doc(sandbox)).encode()
    r = requests.post(
        url,
        data=body,
        headers=botocore_headers(url, body, sandbox.invoke_credentials, service="states"),
        timeout=10,
    )
    assert r.status_code == 403
    assert r.json() == {"message": "Credential should be scoped to correct service: 'execute-api'. "}
    r = requests.post(
        url,
        data=body,
        headers=botocore_headers(url, body, sandbox.invoke_credentials, region="eu-west-1"),
        timeout=10,
    )
    assert r.status_code == 403
    assert r.json() == {"message": "Credential should be scoped to a valid region, not 'eu-west-1'. "}


def test_non_sigv4_authorization_header(sandbox):
    r = requests.post(
        f"{sandbox.base_url}/describe-execution", json={}, headers={"Authorization": "Bearer abc"}, timeout=10
    )
    assert r.status_code == 403
    assert r.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"
    assert r.json()["message"].endswith("Authorization=Bearer abc")
