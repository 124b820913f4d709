"""Scale building blocks without a server: signing template, adaptive intervals, token bucket, budget."""

from __future__ import annotations

import asyncio
import math
import random
import statistics

import jmespath
import pytest

from airflow_restjob.connections.settings import ConnectionSettings
from airflow_restjob.errors import DefinitionError
from airflow_restjob.rest_job.spec import PollSpec, compile_path, search
from airflow_restjob.transport import quota
from airflow_restjob.transport.quota import TokenBucket, budget_for, reset_budgets
from airflow_restjob.transport.signing import Signer, _Unsigned, amz_date


@pytest.fixture(autouse=True)
def _fresh_buckets():
    reset_budgets()
    yield
    reset_budgets()


def settings(host="https://abc123.execute-api.us-east-1.amazonaws.com/stage", conn_id="c", **extra):
    return ConnectionSettings.from_fields(
        conn_id, host=host, login="AKIAEXAMPLE", password="s3cr3t", extra=extra
    )


# --- signing template: byte-for-byte what AWS4Auth signs -------------------------------------------


@pytest.mark.parametrize(
    "url, headers, body, token",
    [
        ("https://abc123.execute-api.us-east-1.amazonaws.com/stage/describe-execution", {}, b'{"a":1}', None),
        ("https://abc123.execute-api.us-east-1.amazonaws.com/stage/describe-execution", {}, b"", "tok/en+=="),
        (
            "https://abc123.execute-api.us-east-1.amazonaws.com/stage/jobs/a%20b?x=1&a=z%2Fy",
            {"X-Custom": "  two   spaces ", "x-amz-meta-thing": "v"},
            "ärger".encode(),
            None,
        ),
        ("http://127.0.0.1:8080/stage/describe-execution", {"Accept": "text/plain"}, b"{}", None),
    ],
)
def test_template_signs_exactly_like_aws4auth(url, headers, body, token):
    extra = {"session_token": token} if token else {}
    signer = Signer(settings(**extra))
    base = {"content-type": "application/x-amz-json-1.0", "accept": "application/json", **headers}
    template = signer.template("POST", url, base, body)
    assert template is not None
    for now in (1_700_000_000.0, 1_700_000_000.9, 1_700_086_400.5):  # two days: key regenerated
        fast = template.headers(now)
        request = _Unsigned("POST", url, {**base, "x-amz-date": amz_date(now)}, body)
        signer.auth(request)
        assert fast == dict(request.headers)


def test_template_refuses_requests_it_cannot_template():
    signer = Signer(settings())
    assert signer.template("POST", "https://h.example/x", {"X-Amz-Date": "20240101T000000Z"}, b"") is None
    assert signer.template("POST", "https://h.example/x", {"Authorization": "x"}, b"") is None


# --- adaptive intervals ------------------------------------------------------------------------------


def test_first_interval_short_then_growing_to_the_cap_with_jitter():
    random.seed(1)
    spec = PollSpec(first_delay=2, interval=10, max_interval=60, backoff=2, jitter=0.1)
    for _ in range(200):
        assert 1.8 <= spec.delay(0) <= 2.2  # a short first interval
        assert 1.0 <= spec.delay(1) <= 10.0  # the 2nd poll lands anywhere in the interval
        assert 18 <= spec.delay(2) <= 22
        assert 36 <= spec.delay(3) <= 44
        assert 54 <= spec.delay(4) <= 66  # capped ...
        assert 54 <= spec.delay(10_000) <= 66  # ... forever, without overflowing
    # jitter really spreads: thousands of jobs deferred together do not poll in lock-step
    seconds = [spec.delay(1) for _ in range(2000)]
    assert statistics.pstdev(seconds) > 2.0
    steady = [spec.delay(5) for _ in range(2000)]
    assert min(steady) < 56 and max(steady) > 64


def test_no_jitter_is_deterministic():
    spec = PollSpec(first_delay=1, interval=5, max_interval=5, jitter=0)
    assert [spec.delay(i) for i in range(4)] == [1, 5, 5, 5]


@pytest.mark.parametrize("expression", ["status", "_x1", "true"])
def test_plain_key_fast_path_matches_jmespath(expression):
    for data in ({"status": "RUNNING", "_x1": 3, "true": 1}, {}, [], "text", None, {"status": None}):
        assert search(expression, data) == jmespath.search(expression, data)
    assert type(compile_path(expression)).__name__ == "_Key"


def test_nested_paths_still_use_jmespath():
    assert search("job.state", {"job": {"state": "DONE"}}) == "DONE"
    assert search("items[0].id", {"items": [{"id": 7}]}) == 7


# --- token bucket -----------------------------------------------------------------------------------


def test_bucket_burst_then_rate(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(quota.time, "monotonic", lambda: clock[0])
    bucket = TokenBucket(burst=3, per_second=2)
    assert [bucket.reserve() for _ in range(3)] == [0, 0, 0]
    waits = [bucket.reserve() for _ in range(4)]  # reservations queue up in order
    assert waits == pytest.approx([0.5, 1.0, 1.5, 2.0])
    clock[0] += 10  # a long quiet time refills only up to the burst
    assert [bucket.reserve() for _ in range(3)] == [0, 0, 0]
    assert bucket.reserve() > 0


def test_bucket_throttled_drains_for_everyone(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(quota.time, "monotonic", lambda: clock[0])
    bucket = TokenBucket(burst=100, per_second=10)
    bucket.reserve()
    bucket.throttled()
    assert bucket.throttle_count == 1
    assert bucket.reserve() == pytest.approx(0.1)  # the next caller waits for the refill
    bucket.throttled()  # waiters already queued keep their places (no extra penalty)
    assert bucket.reserve() == pytest.approx(0.2)


def test_acquire_waits_for_the_reserved_slot():
    async def go():
        bucket = TokenBucket(burst=1, per_second=50)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for _ in range(6):
            await bucket.acquire()
        return loop.time() - start

    assert asyncio.run(go()) >= 5 / 50 * 0.9


def test_one_bucket_per_host_and_region_shared_by_all_triggers():
    a = budget_for(settings(conn_id="a"))
    assert budget_for(settings(conn_id="b")) is a  # other connection, same API host + region
    assert (
        budget_for(settings(conn_id="c", host="https://ABC123.execute-api.us-east-1.amazonaws.com/stage2"))
        is a
    )
    assert budget_for(settings(host="https://other.execute-api.us-east-1.amazonaws.com/stage")) is not a
    assert budget_for(settings(region="us-west-2")) is not a


def test_budget_defaults_are_aws_defaults():
    bucket = budget_for(settings())
    assert (bucket.burst, bucket.per_second) == (300, 15)


def test_budget_from_settings(monkeypatch):
    monkeypatch.setenv("AIRFLOW__RESTJOB__POLL_BUDGET_BURST", "80")
    monkeypatch.setenv("AIRFLOW__RESTJOB__POLL_BUDGET_PER_SECOND", "4")
    bucket = budget_for(settings())
    assert (bucket.burst, bucket.per_second) == (80, 4)


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting, value",
    [
        ("POLL_BUDGET_PER_SECOND", "0"),
        ("POLL_BUDGET_PER_SECOND", "-1"),
        ("POLL_BUDGET_BURST", "0"),
        ("POLL_BUDGET_BURST", "-5"),
        ("POLL_BUDGET_PER_SECOND", "nan"),
    ],
)
def test_bad_budget_rejected_naming_the_setting(monkeypatch, setting, value):
    monkeypatch.setenv(f"AIRFLOW__RESTJOB__{setting}", value)
    with pytest.raises(DefinitionError, match=setting.lower()):
        quota.validate_settings()
    with pytest.raises(DefinitionError, match=setting.lower()):
        PollSpec()  # what the operator builds while the DAG file is parsed
    with pytest.raises(DefinitionError, match=setting.lower()):
        budget_for(settings())


def test_unparsable_budget_rejected(monkeypatch):
    monkeypatch.setenv("AIRFLOW__RESTJOB__POLL_BUDGET_BURST", "lots")
    with pytest.raises(DefinitionError, match="poll_budget_burst"):
        quota.validate_settings()


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"interval": 0.5}, "poll_interval"),
        ({"interval": 0}, "poll_interval"),
        ({"interval": math.nan}, "poll_interval"),
        ({"interval": 10, "max_interval": 5}, "max_poll_interval"),
        ({"backoff": 0.5}, "poll_backoff"),
        ({"first_delay": -1}, "first_poll_delay"),
    ],
)
def test_bad_poll_spec_names_the_parameter(kwargs, name):
    with pytest.raises(DefinitionError, match=name):
        PollSpec(**kwargs)


# --- memory per deferred job -------------------------------------------------------------------------


def test_trigger_kwargs_are_compacted_without_changing_them():
    from airflow_restjob.rest_job import step_functions as stepfunctions
    from airflow_restjob.triggers.rest_job import RestJobTrigger

    arn = "arn:aws:states:us-east-1:123456789012:execution:a-state-machine-name:an-execution-name-1"
    spec = stepfunctions.job_spec(arn, PollSpec()).to_dict()
    one = RestJobTrigger(conn_id="c", job_id=arn, spec=spec)
    other = RestJobTrigger(
        conn_id="c",
        job_id=arn.replace("-1", "-2"),
        spec=stepfunctions.job_spec(arn.replace("-1", "-2"), PollSpec()).to_dict(),
    )
    assert one.serialize()[1]["spec"] == spec  # what is stored is unchanged
    assert one.job.poll is other.job.poll  # equal settings are shared between triggers
    assert one.job.end_values is other.job.end_values and one.job.error_keys is other.job.error_keys
    assert one.job.monitor is not other.job.monitor  # job-specific parts are not
    assert one.job.monitor.body["executionArn"] is one.job_id  # the ARN is stored once
    assert one.job.terminate.body["executionArn"] is one.job_id
    changed = RestJobTrigger(
        conn_id="c", job_id=arn, spec={**spec, "poll": {**spec["poll"], "interval": 20.0}}
    )
    assert changed.job.poll.interval == 20.0 and one.job.poll.interval == 10.0
