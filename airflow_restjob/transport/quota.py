"""Quota-aware polling: one token bucket per (API host, region) per triggerer process.

Step Functions' DescribeExecution has an account-wide budget per Region (AWS defaults: a bucket of
300 with 15 refills per second in us-east-1, us-west-2 and eu-west-1; 250 / 10 elsewhere).  Every
poll attempt of every trigger in a triggerer process - retries included - takes a token first;
when the bucket is empty the poll waits in line for its token instead of being throttled by AWS
(a poll cancelled while waiting takes none).
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
from collections import deque
from collections.abc import Callable
from urllib.parse import urlsplit

from airflow_restjob.connections.settings import ConnectionSettings
from airflow_restjob.errors import DefinitionError

DEFAULT_BURST = 300.0
DEFAULT_PER_SECOND = 15.0


# A head woken at the computed time may find 0.99999... tokens: it takes its token then (the bucket
# goes that much below 0, the next one waits that much longer) instead of sleeping for nothing.
_NEARLY_ONE = 1 - 1e-9


class TokenBucket:
    """Token bucket with a FIFO line of waiters: O(1) per acquire, no thundering herd.

    A caller that finds a token and nobody waiting takes it at once.  Otherwise it joins the line;
    only the waiter at its head sleeps (until the refill gives a token), takes the token and hands
    the head to the next one, so waiters are served in order and one timer runs, not one per
    waiter.  A token is taken only just before ``acquire()`` returns (no await in between), so
    every token taken is spent on a call.  A waiter cancelled in the line (the triggerer cancels a
    trigger's task when its task instance is marked failed/success or cleared, or when triggers are
    moved or stopped) has taken nothing and leaves no trace: the ones behind it move up into its
    place, and a head that leaves hands over at once.

    ``clock`` (default ``time.monotonic``, read when the bucket is created) is for tests.  The line
    belongs to the event loop that uses the bucket (the triggerer's); waiters of a loop that was
    closed without cancelling them are dropped when they reach the head.
    """

    __slots__ = ("burst", "per_second", "tokens", "updated", "throttle_count", "clock", "_line", "_waiting")

    def __init__(self, burst: float, per_second: float, clock: Callable[[], float] | None = None) -> None:
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
        self.clock = clock if clock is not None else time.monotonic
        self.tokens = float(burst)
        self.updated = self.clock()
        self.throttle_count = 0
        # the head (its future done, not cancelled) first; behind it the waiters and, until they
        # reach the front, the cancelled ones (their futures cancelled, skipped when handing over)
        self._line: deque[asyncio.Future[None]] = deque()
        self._waiting = 0  # waiters in the line that were not cancelled, the head included

    def available(self) -> float:
        """Tokens in the bucket now (refill included; below 0 while ``reserve()`` callers wait)."""
        now = self.clock()
        tokens = self.tokens + (now - self.updated) * self.per_second
        if tokens > self.burst:
            tokens = self.burst
        self.tokens = tokens  # the refill does not depend on how often it is worked out
        self.updated = now
        return tokens

    def reserve(self) -> float:
        """Take one token now; return how long the caller must wait before using it.

        For callers that do their own sleeping: the token is taken at once, before the
        ``acquire()`` waiters in line (who then wait for the refill to repay it).
        """
        tokens = self.available() - 1
        self.tokens = tokens
        return 0.0 if tokens >= 0 else -tokens / self.per_second

    async def acquire(self) -> None:
        """Wait for a token and take it (nothing is taken if the caller is cancelled meanwhile)."""
        if not self._waiting:
            tokens = self.available()
            if tokens >= 1:
                self.tokens = tokens - 1
                return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._line.append(turn)
        self._waiting += 1
        self._promote()
        try:
            await turn  # at the head of the line
            while True:
                tokens = self.available()
                if tokens >= _NEARLY_ONE:  # woken when the refill is due, give or take rounding
                    break
                await asyncio.sleep((1 - tokens) / self.per_second)
        except BaseException:  # cancelled (or closed) before taking a token
            if turn.get_loop().is_closed():  # left behind by its loop: _promote() drops it
                raise
            self._waiting -= 1
            if turn.done() and not turn.cancelled():  # the head leaves: the next one moves up
                self._line.popleft()
                self._promote()
            else:
                turn.cancel()  # skipped when it reaches the front
            raise
        self.tokens = tokens - 1
        self._waiting -= 1
        self._line.popleft()
        self._promote()

    def _promote(self) -> None:
        """Make the first waiter of the line its head, dropping the cancelled ones in front of it."""
        line = self._line
        while line:
            turn = line[0]
            if turn.cancelled():
                line.popleft()
            elif turn.get_loop().is_closed():  # its loop is gone: it will never take its token
                line.popleft()
                self._waiting -= 1
            else:
                if not turn.done():
                    turn.set_result(None)
                return

    def throttled(self) -> None:
        """The service throttled a call: spend what is left, so every poller waits for the refill.

        What the waiters in line are owed (the refill towards their tokens) is kept: they keep
        their places, only what would have been left over after them is spent.
        """
        self.throttle_count += 1
        owed = float(self._waiting)
        if self.available() > owed:
            self.tokens = owed


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
