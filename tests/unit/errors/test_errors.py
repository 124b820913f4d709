import json
import random

import pytest

from airflow_restjob import errors as e
from airflow_restjob.errors import EndCode, interpret_response
from airflow_restjob.rest_job.retry import RetryPolicy


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


@pytest.fixture
def uniform_bounds(monkeypatch):
    """Replace ``random.uniform`` (the full jitter draw in ``RetryState.next_delay``) with one that
    records its bounds and returns the upper one: the worst case, deterministic."""
    bounds: list[tuple[float, float]] = []

    def uniform(a: float, b: float) -> float:
        bounds.append((a, b))
        return b

    monkeypatch.setattr(random, "uniform", uniform)
    return bounds


def test_retry_policy_gives_up_on_non_retryable_and_after_max_attempts(uniform_bounds):
    state = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.03).start()
    auth = e.AuthError("no")
    with pytest.raises(e.AuthError):
        state.next_delay(auth)
    assert uniform_bounds == []  # never retried, no delay drawn
    state = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.03).start()
    t = e.TransientError("x")
    # full jitter: uniform(0, min(max_delay, base_delay * 2**attempt))
    assert state.next_delay(t) == 0.02  # attempt 1: 0.01 * 2
    assert state.next_delay(t) == 0.03  # attempt 2: 0.01 * 4 = 0.04, capped at max_delay
    assert uniform_bounds == [(0, 0.02), (0, 0.03)]
    with pytest.raises(e.TransientError):  # attempt 3 of max_attempts=3: give up
        state.next_delay(t)
    assert len(uniform_bounds) == 2


def test_full_jitter_draws_stay_within_bounds(monkeypatch):
    monkeypatch.setattr(random, "uniform", random.Random(20260101).uniform)  # real draws, seeded
    policy = RetryPolicy(max_attempts=10, base_delay=0.01, max_delay=0.05, max_elapsed=1e6)
    t = e.TransientError("x")
    delays = []
    for _ in range(200):
        state = policy.start()
        delays.append([state.next_delay(t) for _ in range(4)])
    for attempt, upper in enumerate((0.02, 0.04, 0.05, 0.05)):
        column = [d[attempt] for d in delays]
        assert all(0 <= d <= upper for d in column), (attempt, max(column))
        assert max(column) > upper / 2  # jittered over the range, not a constant


def test_retry_after_is_honoured_up_to_max_delay(uniform_bounds):
    policy = RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=2.0)
    # the jitter (at most 0.02 on attempt 1) is below Retry-After: Retry-After wins, exactly
    assert policy.start().next_delay(e.ThrottledError("x", retry_after=1.5)) == 1.5
    # Retry-After above max_delay is capped at max_delay
    assert policy.start().next_delay(e.ThrottledError("x", retry_after=30)) == 2.0
    # a jitter above Retry-After is kept (max of the two)
    slow = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=20.0)
    assert slow.start().next_delay(e.ThrottledError("x", retry_after=0.5)) == 2.0
    assert uniform_bounds == [(0, 0.02), (0, 0.02), (0, 2.0)]


def test_retry_gives_up_when_the_delay_would_pass_max_elapsed(uniform_bounds):
    policy = RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=20.0, max_elapsed=10.0)
    with pytest.raises(e.ThrottledError):
        policy.start().next_delay(e.ThrottledError("x", retry_after=15))
