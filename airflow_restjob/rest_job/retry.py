"""When to send a failed request again: one policy for the worker and the triggerer.

Exponential backoff with full jitter, bounded by attempts and by elapsed time, honouring
``Retry-After``.  Only errors marked ``retryable`` (throttling, transient 5xx / network trouble,
timeouts) are retried; auth and definition errors never are.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from airflow_restjob.errors import RestJobError


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    max_elapsed: float = 120.0
    base_delay: float = 0.5
    max_delay: float = 20.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"RetryPolicy.max_attempts must be >= 1, got {self.max_attempts}")
        if self.base_delay <= 0 or self.max_delay < self.base_delay:
            raise ValueError("RetryPolicy needs 0 < base_delay <= max_delay")

    def start(self) -> RetryState:
        return RetryState(self)


NO_RETRY = RetryPolicy(max_attempts=1)
# Termination requests, on every path (worker on_kill, wait limit, triggerer cancellation): a
# throttled or failed stop is sent again, within seconds - Airflow escalates a killed task's
# SIGTERM to SIGKILL soon after.
STOP_RETRY = RetryPolicy(max_attempts=5, max_elapsed=8.0, base_delay=0.25, max_delay=2.0)


@dataclass
class RetryState:
    policy: RetryPolicy
    attempt: int = 0
    started: float = field(default_factory=time.monotonic)

    def next_delay(self, error: RestJobError) -> float:
        """Seconds to wait before the next attempt; re-raises ``error`` when giving up."""
        self.attempt += 1
        if not error.retryable or self.attempt >= self.policy.max_attempts:
            raise error
        delay = random.uniform(0, min(self.policy.max_delay, self.policy.base_delay * 2**self.attempt))
        if error.retry_after is not None:
            delay = max(delay, min(error.retry_after, self.policy.max_delay))
        if time.monotonic() - self.started + delay > self.policy.max_elapsed:
            raise error
        return delay
