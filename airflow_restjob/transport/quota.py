"""Quota-aware polling: one token bucket per (API host, region) per triggerer process.

Step Functions' DescribeExecution has an account-wide budget per Region (AWS defaults: a bucket of
300 with 15 refills per second in us-east-1, us-west-2 and eu-west-1; 250 / 10 elsewhere).  Every
poll attempt of every trigger in a triggerer process - retries included - takes a token first;
when the bucket is empty the poll waits for its reserved slot instead of being throttled by AWS.
When the service throttles anyway (someone else spends the same budget), the bucket is emptied,
so all triggers of the process slow down together, and the throttled call is retried with backoff.

Settings (``airflow.cfg`` section ``[restjob]`` or ``AIRFLOW__RESTJOB__...`` env vars), read
when a bucket is first needed:

``poll_budget_burst`` (default 300)
    tokens available at once (AWS's bucket size).
``poll_budget_per_second`` (default 15)
    refill rate (AWS's refill rate).

Sizing the budget
-----------------
The account's budget is shared by every caller of DescribeExecution in that account and Region:
all triggerers, workers polling with ``deferrable=False``, the console, other tools.  Give each
triggerer process a share so that the shares add up to at most the account budget, with headroom
for the other callers::

    per_second = account_refill * share_for_airflow / number_of_triggerers
    burst      = account_bucket * share_for_airflow / number_of_triggerers

Example: us-east-1 (300 / 15), Airflow may use 80 %, 3 triggerers -> ``poll_budget_per_second
= 4``, ``poll_budget_burst = 80``.  Outside the three big Regions start from 250 / 10.  If AWS
raised the account's quota, start from the raised numbers.

What the budget means for polling: N deferred jobs polled every ``interval`` seconds need
``N / interval`` calls per second.  Above the budget, polls queue for their slot and each job is
effectively polled every ``N / per_second`` seconds (10,000 jobs at 15/s: every ~11 minutes), so
detection latency grows but nothing is throttled or fails.  Use a longer or growing interval
(``poll_backoff`` > 1 up to ``max_poll_interval``) for long executions so the budget goes to the
jobs most likely to have ended.  Busy triggerers of one account should not be given more than
their share: a bucket larger than the account's only moves the waiting from here to AWS's
ThrottlingException retries.

Bad values (a burst below 1, a rate of zero or less) are rejected with an error naming the
setting; ``validate_settings()`` runs the same check when DAGs are parsed.
"""

from __future__ import annotations

import asyncio
import os
import time
from urllib.parse import urlsplit

from airflow_restjob.connections.settings import ConnectionSettings
from airflow_restjob.errors import DefinitionError

DEFAULT_BURST = 300.0
DEFAULT_PER_SECOND = 15.0


class TokenBucket:
    """Reservation-based token bucket: O(1) per acquire, no thundering herd of waiters.

    A caller that finds the bucket empty still takes its token (the count goes negative) and
    sleeps until the refill reaches it, so waiters are served in order without a queue.
    """

    __slots__ = ("burst", "per_second", "tokens", "updated", "throttle_count")

    def __init__(self, burst: float, per_second: float) -> None:
        if not burst >= 1:  # also rejects NaN
            raise DefinitionError(
                f"poll_budget_burst must be >= 1, got {burst}.",
                "Set [restjob] poll_budget_burst (AIRFLOW__RESTJOB__POLL_BUDGET_BURST) to at least 1, "
                f"e.g. the account's DescribeExecution bucket ({DEFAULT_BURST:g}) / number of triggerers.",
            )
        if not per_second > 0:
            raise DefinitionError(
                f"poll_budget_per_second must be > 0, got {per_second}.",
                "Set [restjob] poll_budget_per_second (AIRFLOW__RESTJOB__POLL_BUDGET_PER_SECOND) above 0, "
                f"e.g. the account's DescribeExecution refill ({DEFAULT_PER_SECOND:g}/s) / number of triggerers.",
            )
        self.burst = float(burst)
        self.per_second = float(per_second)
        self.tokens = float(burst)
        self.updated = time.monotonic()
        self.throttle_count = 0

    def reserve(self) -> float:
        """Take one token; return how long the caller must wait before using it."""
        now = time.monotonic()
        tokens = self.tokens + (now - self.updated) * self.per_second
        if tokens > self.burst:
            tokens = self.burst
        self.updated = now
        tokens -= 1
        self.tokens = tokens
        return 0.0 if tokens >= 0 else -tokens / self.per_second

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)

    def throttled(self) -> None:
        """The service throttled a call: spend what is left, so every poller waits for the refill."""
        self.throttle_count += 1
        self.reserve()
        self.tokens += 1  # reserve() took one for the bookkeeping: give it back
        if self.tokens > 0:
            self.tokens = 0.0


_buckets: dict[tuple[str, str], TokenBucket] = {}
_by_settings: dict[tuple[str, str], TokenBucket] = {}  # (base_url, region) -> bucket, skips urlsplit


def _configured() -> tuple[float, float]:
    try:
        from airflow.configuration import conf
    except ImportError:  # used outside Airflow
        return DEFAULT_BURST, DEFAULT_PER_SECOND
    values = []
    for name, default in (
        ("poll_budget_burst", DEFAULT_BURST),
        ("poll_budget_per_second", DEFAULT_PER_SECOND),
    ):
        try:
            values.append(conf.getfloat("restjob", name, fallback=default))
        except Exception as exc:  # AirflowConfigException, ValueError
            raise DefinitionError(
                f"{name} must be a number ({exc}).",
                f"Set [restjob] {name} (AIRFLOW__RESTJOB__{name.upper()}) to a number, e.g. {default:g}.",
            ) from None
    return values[0], values[1]


_ENV_VARS = ("AIRFLOW__RESTJOB__POLL_BUDGET_BURST", "AIRFLOW__RESTJOB__POLL_BUDGET_PER_SECOND")
VALIDATION_TTL = 30.0
_validated: dict[tuple[str | None, ...], tuple[float, tuple[float, float] | DefinitionError]] = {}


def validate_settings() -> tuple[float, float]:
    """Check the configured budget (raises ``DefinitionError`` naming the setting); returns it.

    Every ``PollSpec`` runs this (so DAG parsing rejects a bad budget), thousands of times when a
    triggerer re-creates its triggers: the answer is kept for ``VALIDATION_TTL`` seconds, or until
    the budget's environment variables change.
    """
    key = tuple(os.environ.get(name) for name in _ENV_VARS)
    now = time.monotonic()
    cached = _validated.get(key)
    if cached is None or cached[0] < now:
        try:
            burst, rate = _configured()
            TokenBucket(burst, rate)
            result: tuple[float, float] | DefinitionError = (burst, rate)
        except DefinitionError as exc:
            result = exc
        if len(_validated) > 16:
            _validated.clear()
        cached = _validated[key] = (now + VALIDATION_TTL, result)
    if isinstance(cached[1], DefinitionError):
        error = cached[1]
        raise DefinitionError(error.cause, error.fix)
    return cached[1]


def budget_for(settings: ConnectionSettings) -> TokenBucket:
    """The process's bucket for this connection's API host and region (created on first use)."""
    fast_key = (settings.base_url, settings.region)
    bucket = _by_settings.get(fast_key)
    if bucket is None:
        key = (urlsplit(settings.base_url).netloc.lower(), settings.region)
        bucket = _buckets.get(key)
        if bucket is None:
            bucket = _buckets[key] = TokenBucket(*_configured())
        _by_settings[fast_key] = bucket
    return bucket


def reset_budgets() -> None:
    """Forget every bucket (tests; or after changing the settings in a running process)."""
    _buckets.clear()
    _by_settings.clear()
    _validated.clear()
