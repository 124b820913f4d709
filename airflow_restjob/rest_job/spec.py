"""The REST job model: start, monitor until an end value, judge success, terminate.

A job is three requests (the scheduler's connection information file: ``request``,
``monitoring``, ``termination``) plus judging rules.  Step Functions is one built-in definition
(``airflow_restjob.rest_job.step_functions``); any REST API can be described the same way.

Paths into JSON responses are JMESPath expressions (``status``, ``job.state``,
``items[0].id``); times are seconds.  Everything here is plain data that round-trips through
trigger kwargs (no secrets: credentials stay in the Airflow connection named by ``conn_id``).
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from airflow_restjob.errors import DefinitionError, UnparsableResponseError

MAX_LOGGED_BODY = 2000


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """One HTTP request: path relative to the connection's base URL (or an absolute URL)."""

    path: str
    method: str = "POST"
    body: Any = None
    query: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    timeout: float | None = None

    def call_args(self) -> dict[str, Any]:
        """Keyword arguments of ``SyncClient.request`` / ``AsyncClient.request`` / ``prepare``."""
        return {
            "method": self.method,
            "path": self.path,
            "body": self.body,
            "query": self.query,
            "headers": self.headers,
            "timeout": self.timeout,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RequestSpec | None:
        return cls(**data) if data else None


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool, not a numeric string)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True, slots=True)
class PollSpec:
    """When to poll: a first delay, then ``interval`` growing by ``backoff`` up to ``max_interval``.

    ``max_polls`` (the scheduler's ``pollingCount``) and ``max_wait`` (seconds) bound the wait.
    A +-10 % jitter keeps thousands of jobs from polling in lock-step.
    """

    first_delay: float = 5.0
    interval: float = 10.0
    max_interval: float = 60.0
    backoff: float = 1.0
    max_polls: int | None = None
    max_wait: float | None = None
    jitter: float = 0.1

    def __post_init__(self) -> None:
        # the operator's parameter names are given in parentheses so a DAG author finds them
        problems = [
            f"{label} must be a finite number of seconds, got {value!r}"
            for label, value in (
                ("first_delay (first_poll_delay)", self.first_delay),
                ("interval (poll_interval)", self.interval),
                ("max_interval (max_poll_interval)", self.max_interval),
                ("backoff (poll_backoff)", self.backoff),
                ("max_wait", 1.0 if self.max_wait is None else self.max_wait),
                ("jitter", self.jitter),
            )
            if not is_number(value)
        ]
        if self.max_polls is not None and (isinstance(self.max_polls, bool) or not isinstance(self.max_polls, int)):
            problems.append(f"max_polls must be a whole number, got {self.max_polls!r}")
        if problems:
            raise DefinitionError("Invalid polling settings: " + "; ".join(problems) + ".", "Fix the poll parameters.")
        if not self.first_delay >= 0:
            problems.append(f"first_delay (first_poll_delay) must be >= 0 s, got {self.first_delay}")
        if not self.interval >= 1:
            problems.append(f"interval (poll_interval) must be >= 1 s, got {self.interval}")
        if not self.max_interval >= self.interval:
            problems.append(
                f"max_interval (max_poll_interval) must be >= interval (poll_interval): "
                f"{self.max_interval} < {self.interval}"
            )
        if not self.backoff >= 1:
            problems.append(f"backoff (poll_backoff) must be >= 1, got {self.backoff}")
        if self.max_polls is not None and self.max_polls < 1:
            problems.append(f"max_polls must be >= 1, got {self.max_polls}")
        if self.max_wait is not None and not self.max_wait > 0:
            problems.append(f"max_wait must be > 0 s, got {self.max_wait}")
        if not 0 <= self.jitter < 1:
            problems.append(f"jitter must be in [0, 1), got {self.jitter}")
        budget_problem = _budget_problem()
        if budget_problem:
            problems.append(budget_problem)
        if problems:
            raise DefinitionError(
                "Invalid polling settings: " + "; ".join(problems) + ".", "Fix the poll parameters."
            )

    def delay(self, polls_done: int) -> float:
        """Seconds to wait before poll number ``polls_done + 1``.

        Poll 1 comes after ``first_delay``; poll 2 after a random fraction (``jitter`` .. 1) of
        ``interval``, which spreads jobs that were deferred (or re-created by a triggerer
        restart) at the same moment over the whole interval; then ``interval`` grows by
        ``backoff`` per poll up to ``max_interval``, each step +-``jitter``.  No gap between two
        polls exceeds ``max_interval * (1 + jitter)``.
        """
        if polls_done == 0:
            base = self.first_delay
        else:
            base = self.interval
            if self.backoff > 1:  # (bounded exponent: a float power would overflow after ~1000 polls)
                base = min(self.max_interval, base * self.backoff ** min(polls_done - 1, 256))
            if polls_done == 1 and self.jitter:
                return base * random.uniform(self.jitter, 1.0)
        if self.jitter and base:
            base *= 1 + random.uniform(-self.jitter, self.jitter)
        return base

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What to send and how to judge, after the job has started (``job_id`` known)."""

    label: str
    monitor: RequestSpec
    end_key: str
    end_values: tuple[str, ...]
    result_key: str
    success_values: tuple[str, ...]
    terminate: RequestSpec | None = None
    poll: PollSpec = field(default_factory=PollSpec)
    error_keys: tuple[str, ...] = ()
    # body keys that carry who stopped the job and why (Step Functions: error, cause)
    stop_reason_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("end_key", "result_key"):
            compile_path(getattr(self, name), name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "monitor": self.monitor.to_dict(),
            "end_key": self.end_key,
            "end_values": list(self.end_values),
            "result_key": self.result_key,
            "success_values": list(self.success_values),
            "terminate": self.terminate.to_dict() if self.terminate else None,
            "poll": self.poll.to_dict(),
            "error_keys": list(self.error_keys),
            "stop_reason_keys": list(self.stop_reason_keys),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobSpec:
        monitor = RequestSpec.from_dict(data["monitor"])
        assert monitor is not None
        return cls(
            label=data["label"],
            monitor=monitor,
            end_key=data["end_key"],
            end_values=tuple(data["end_values"]),
            result_key=data["result_key"],
            success_values=tuple(data["success_values"]),
            terminate=RequestSpec.from_dict(data.get("terminate")),
            poll=PollSpec(**data.get("poll", {})),
            error_keys=tuple(data.get("error_keys", ())),
            stop_reason_keys=tuple(data.get("stop_reason_keys", ())),
        )

    def judge(self, response: Any) -> Verdict:
        """Read a monitoring response: has the job ended, and did it succeed?"""
        status = search(self.end_key, response)
        if status is None:
            raise UnparsableResponseError(
                f"The monitoring response has no value at '{self.end_key}': {preview(response)}",
                "Check the end key (JMESPath) against the API's monitoring response.",
            )
        ended = str(status) in self.end_values
        result = search(self.result_key, response) if ended else None
        success = ended and str(result) in self.success_values
        details = {k: search(k, response) for k in self.error_keys} if ended and not success else {}
        return Verdict(status=str(status), ended=ended, success=success, details=details)


def stop_request(spec: JobSpec, error: str, cause: str) -> RequestSpec | None:
    """The termination request, with who/why added where the API takes them."""
    if spec.terminate is None:
        return None
    body = spec.terminate.body
    if spec.stop_reason_keys and isinstance(body, dict):
        error_key, cause_key = spec.stop_reason_keys
        body = {**body, error_key: error[:256], cause_key: cause[:32768]}
    return RequestSpec(
        path=spec.terminate.path,
        method=spec.terminate.method,
        body=body,
        query=spec.terminate.query,
        headers=spec.terminate.headers,
        timeout=spec.terminate.timeout,
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str
    ended: bool
    success: bool
    details: dict[str, Any]


_compiled: dict[str, Any] = {}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Key:
    """JMESPath of a plain identifier (``status``): a dict lookup, same result as jmespath's."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    def search(self, data: Any) -> Any:
        return data.get(self.key) if isinstance(data, dict) else None


def _budget_problem() -> str | None:
    """The quota budget settings, checked where DAGs are parsed (PollSpec is built there)."""
    from airflow_restjob.transport.quota import validate_settings

    try:
        validate_settings()
    except DefinitionError as exc:
        return exc.cause.rstrip(".")
    return None


def compile_path(expression: str, name: str = "path") -> Any:
    parsed = _compiled.get(expression)
    if parsed is None:
        if _IDENTIFIER.match(expression):
            parsed = _compiled[expression] = _Key(expression)
            return parsed
        try:
            parsed = jmespath.compile(expression)
        except JMESPathError as exc:
            raise DefinitionError(
                f"'{name}' is not a valid JMESPath expression: {expression!r} ({exc}).",
                "Write a path such as status or job.state (see jmespath.org).",
            ) from None
        _compiled[expression] = parsed
    return parsed


def search(expression: str, data: Any) -> Any:
    return compile_path(expression).search(data)


def preview(data: Any, limit: int = MAX_LOGGED_BODY) -> str:
    text = data if isinstance(data, str) else json.dumps(data, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


class Wait:
    """The waiting logic shared by the trigger (async) and the worker (sync) loops.

    ``delay()`` says how long to sleep before the next poll, ``limit_reached()`` whether the
    deadline or ``max_polls`` ends the wait, ``observe()`` judges a monitoring response and says
    whether the status changed (the task log shows changes, not every poll).
    """

    __slots__ = ("spec", "deadline", "reason", "polls", "last_status")

    def __init__(self, spec: JobSpec, deadline: float | None, reason: str = "max_wait") -> None:
        self.spec = spec
        self.deadline = deadline
        self.reason = reason
        self.polls = 0
        self.last_status: str | None = None

    def delay(self, now: float) -> float:
        delay = self.spec.poll.delay(self.polls)
        if self.deadline is not None:
            delay = min(delay, max(0.0, self.deadline - now))
        return delay

    def limit_reached(self, now: float) -> tuple[str, str] | None:
        """``(event status, why)`` when the wait must end without an end status."""
        if self.deadline is not None and now >= self.deadline:
            return "timeout", f"the wait exceeded its deadline ({self.reason})"
        max_polls = self.spec.poll.max_polls
        if max_polls is not None and self.polls >= max_polls:
            return "polls_exhausted", f"{self.polls} polls (max_polls/pollingCount) without an end status"
        return None

    def observe(self, response: Any) -> tuple[Verdict, bool]:
        self.polls += 1
        verdict = self.spec.judge(response)
        changed = verdict.status != self.last_status
        self.last_status = verdict.status
        return verdict, changed

    def failed_poll(self) -> None:
        """A poll failed with a retryable error after the client's own retries: count it, go on."""
        self.polls += 1
