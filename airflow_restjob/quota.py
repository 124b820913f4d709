"""Quota-aware polling: one token bucket per (API host, region) per triggerer process.

Step Functions' DescribeExecution has an account-wide budget (AWS defaults: 300 burst and 15
refills per second in the busiest Regions, 250 / 10 elsewhere).  Every poll of every trigger in a
triggerer process takes a token first; when the bucket is empty a poll waits for its reserved slot
instead of being throttled by AWS.

Settings (``airflow.cfg`` section ``[restjob]`` or ``AIRFLOW__RESTJOB__...`` env vars):
``poll_budget_burst`` (default 300) and ``poll_budget_per_second`` (default 15).  With several
triggerers on one account, give each ``account budget / number of triggerers``.
"""

from __future__ import annotations

import asyncio
import time

from airflow_restjob.errors import DefinitionError
from airflow_restjob.settings import ConnectionSettings

DEFAULT_BURST = 300.0
DEFAULT_PER_SECOND = 15.0


class TokenBucket:
    """Reservation-based token bucket: O(1) per acquire, no thundering herd of waiters."""

    def __init__(self, burst: float, per_second: float) -> None:
        if burst < 1:
            raise DefinitionError(
                f"poll budget burst must be >= 1, got {burst}.", "Set poll_budget_burst >= 1."
            )
        if per_second <= 0:
            raise DefinitionError(
                f"poll budget rate must be > 0 per second, got {per_second}.",
                "Set poll_budget_per_second > 0.",
            )
        self.burst = float(burst)
        self.per_second = float(per_second)
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def reserve(self) -> float:
        """Take one token; return how long the caller must wait before using it."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.per_second

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)


_buckets: dict[tuple[str, str], TokenBucket] = {}


def _configured() -> tuple[float, float]:
    try:
        from airflow.configuration import conf

        burst = conf.getfloat("restjob", "poll_budget_burst", fallback=DEFAULT_BURST)
        rate = conf.getfloat("restjob", "poll_budget_per_second", fallback=DEFAULT_PER_SECOND)
    except Exception:
        return DEFAULT_BURST, DEFAULT_PER_SECOND
    return burst, rate


def budget_for(settings: ConnectionSettings) -> TokenBucket:
    from urllib.parse import urlsplit

    key = (urlsplit(settings.base_url).netloc, settings.region)
    bucket = _buckets.get(key)
    if bucket is None:
        bucket = _buckets[key] = TokenBucket(*_configured())
    return bucket
