import json

import pytest

from airflow_restjob import errors as e
from airflow_restjob.errors import EndCode, interpret_response
from airflow_restjob.retry import RetryPolicy


def judge(status, body, headers=None):
    return interpret_response(
        status, headers or {}, body.encode() if isinstance(body, str) else body, where="test"
    )


def test_success_returns_parsed_json():
    assert judge(200, '{"executionArn": "x"}') == {"executionArn": "x"}
    assert judge(200, "") == {}


def test_200_with_type_is_an_error_not_a_success():
    with pytest.raises(e.ServiceError) as info:
        judge(
            200,
            '{"__type": "com.amazonaws.swf.service.v2.model#StateMachineDoesNotExist", "message": "nope"}',
        )
    assert info.value.error_type == "StateMachineDoesNotExist"
    assert info.value.end_code == EndCode.REQUEST_FAILED
    assert "nope" in str(info.value) and "Fix:" in str(info.value)
    assert not info.value.retryable


def test_200_throttling_body_is_retryable_throttle():
    with pytest.raises(e.ThrottledError) as info:
        judge(200, '{"__type": "com.amazonaws.swf#ThrottlingException", "message": "Rate exceeded"}')
    assert info.value.retryable


def test_429_honours_retry_after():
    with pytest.raises(e.ThrottledError) as info:
        judge(429, '{"message":"Too Many Requests"}', {"Retry-After": "3"})
    assert info.value.retry_after == 3.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_transient(status):
    with pytest.raises(e.TransientError) as info:
        judge(status, '{"message": "Internal server error"}')
    assert info.value.retryable and info.value.status == status


@pytest.mark.parametrize(
    "message, fix_word",
    [
        ("The security token included in the request is invalid.", "access key ID"),
        (
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'POST\n/x\nSECRETSTUFF'",
            "secret access key",
        ),
        (
            "Signature expired: 20260101T000000Z is now earlier than 20260101T000500Z (20260101T001000Z - 5 min.)",
            "clock",
        ),
        (
            "User: arn:aws:iam::1:user/x is not authorized to perform: execute-api:Invoke on resource: arn:x",
            "execute-api:Invoke",
        ),
    ],
)
def test_403_auth_errors_name_cause_and_fix_and_are_not_retried(message, fix_word):
    with pytest.raises(e.AuthError) as info:
        judge(403, json.dumps({"message": message}), {"x-amzn-ErrorType": "X"})
    err = info.value
    assert err.end_code == EndCode.CREDENTIALS and not err.retryable
    assert fix_word in err.fix
    assert "Canonical String" not in str(err) and "SECRETSTUFF" not in str(err)


def test_missing_auth_token_points_at_the_path():
    with pytest.raises(e.RequestFailedError) as info:
        judge(403, '{"message":"Missing Authentication Token"}')
    assert "resource path" in info.value.fix and not info.value.retryable


def test_unparsable_body_has_its_own_error_with_preview():
    with pytest.raises(e.UnparsableResponseError) as info:
        judge(200, "<html>login page</html>")
    assert info.value.end_code == EndCode.UNPARSABLE and "<html>login page" in str(info.value)


def test_other_4xx_is_request_failed():
    with pytest.raises(e.RequestFailedError) as info:
        judge(404, '{"message": "Not Found"}')
    assert info.value.status == 404 and not info.value.retryable


def test_error_keeps_execution_id_in_message():
    err = e.TransientError("boom", "retry").with_execution("arn:aws:states:x")
    assert err.execution_id == "arn:aws:states:x" and "arn:aws:states:x" in str(err)


def test_retry_policy_gives_up_on_non_retryable_and_after_max_attempts():
    state = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02).start()
    auth = e.AuthError("no")
    with pytest.raises(e.AuthError):
        state.next_delay(auth)
    state = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02).start()
    t = e.TransientError("x")
    assert 0 <= state.next_delay(t) <= 0.02
    assert 0 <= state.next_delay(t) <= 0.02 or True
    with pytest.raises(e.TransientError):
        state.next_delay(t)


def test_retry_after_is_honoured_up_to_max_delay():
    state = RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=2.0).start()
    assert state.next_delay(e.ThrottledError("x", retry_after=1.5)) >= 1.5
