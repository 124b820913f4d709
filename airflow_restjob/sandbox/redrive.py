"""RedriveExecution and GetExecutionHistory paging, emulated beside moto (pure state, no I/O).

moto 5.2 has no RedriveExecution (its server answers 500: ``NotImplementedError``) and its
GetExecutionHistory ignores ``maxResults`` / ``reverseOrder`` / ``nextToken`` /
``includeExecutionData`` (every event, oldest first, no ``nextToken``). The sandbox therefore keeps
a redrive record per execution and lays it over what moto reports:

- A FAILED / TIMED_OUT / ABORTED execution (redrivable for ``window_seconds``, 14 days, after it
  ended) is redriven under the same ARN: from then on DescribeExecution / ListExecutions report it
  RUNNING for ``seconds``, after which it ends with the configured outcome (SUCCEEDED by default,
  with the input of the state it had failed in as output). moto's own execution stays as it ended;
  nothing is run again in moto.
- ``redriveCount`` (0 when never redriven), ``redriveDate``, ``redriveStatus`` and
  ``redriveStatusReason`` are added to DescribeExecution.
- StopExecution of a redriven execution that is RUNNING aborts the redrive (ABORTED, with the
  stop's error and cause), which makes it redrivable again.
- GetExecutionHistory of a redriven execution continues moto's events with ``ExecutionRedriven``,
  the failed state entered again and the redrive's end (``...StateExited`` + ``ExecutionSucceeded``,
  ``ExecutionFailed``, ``ExecutionTimedOut`` or ``ExecutionAborted``).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

RUNNING = "RUNNING"
REDRIVABLE = ("FAILED", "TIMED_OUT", "ABORTED")
OUTCOMES = ("SUCCEEDED", "FAILED", "TIMED_OUT")
WINDOW_SECONDS = 14 * 24 * 3600.0
TOKEN_SECONDS = 15 * 60.0  # a clientToken answers idempotently this long after its first use
TOKENS_KEPT = 10  # ... and only the last 10 tokens of an execution
HISTORY_PAGE_DEFAULT = 100
HISTORY_PAGE_MAX = 1000
REASON_RUNNING = "Execution is RUNNING and cannot be redriven"
REASON_SUCCEEDED = "Execution is SUCCEEDED and cannot be redriven"
REASON_PERIOD = "Execution redrivable period exceeded"
VALIDATION = "com.amazon.coral.validate#ValidationException"

# moto's DescribeExecution of a running execution, the answer of nearly every poll: the redrive
# fields are appended to the bytes instead of parsing and re-serialising the document. Inside a JSON
# string every quote is escaped, so this can only match the top-level "status" member.
_STATUS_RUNNING = re.compile(rb'"status"\s*:\s*"RUNNING"')
_RUNNING_TAIL = (
    f', "redriveCount": 0, "redriveStatus": "NOT_REDRIVABLE", "redriveStatusReason": "{REASON_RUNNING}"}}'
).encode()
_DATA_KEYS = ("input", "inputDetails", "output", "outputDetails")


class RedriveError(Exception):
    """A Step Functions error answer (``__type`` without prefix unless it has one, and message)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True)
class Outcome:
    """How a redrive ends: ``status`` SUCCEEDED (``output``: JSON text, None = the failed state's
    input), FAILED or TIMED_OUT (``error`` / ``cause``, None = the execution's original ones)."""

    status: str = "SUCCEEDED"
    output: str | None = None
    error: str | None = None
    cause: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "output": self.output, "error": self.error, "cause": self.cause}


@dataclass
class Run:
    """One redrive of an execution."""

    number: int  # the redriveCount it made
    date: float
    ends_at: float
    outcome: Outcome
    stopped_at: float | None = None
    stop_error: str | None = None
    stop_cause: str | None = None

    def status(self, now: float) -> str:
        if self.stopped_at is not None:
            return "ABORTED"
        return RUNNING if now < self.ends_at else self.outcome.status

    def stop_date(self) -> float:
        return self.stopped_at if self.stopped_at is not None else self.ends_at


@dataclass
class Record:
    arn: str
    input: str | None  # the execution's input
    error: str | None  # the error and cause it had ended with before its first redrive
    cause: str | None
    state_name: str | None  # the state it failed in, from moto's history (None if unknown)
    state_type: str | None  # "Task", "Pass", "Fail", ...
    state_input: str | None
    runs: list[Run] = field(default_factory=list)
    tokens: deque[tuple[str, float, float]] = field(default_factory=lambda: deque(maxlen=TOKENS_KEPT))

    def output(self, run: Run) -> str:
        if run.outcome.output is not None:
            return run.outcome.output
        if self.state_input is not None:
            return self.state_input
        return self.input if self.input is not None else "{}"


@dataclass(frozen=True)
class FailedState:
    name: str
    type: str
    input: str | None


def failed_state(events: list[dict[str, Any]]) -> FailedState | None:
    """The last state entered in a history (moto's events, oldest first): where it failed."""
    for event in reversed(events):
        event_type = str(event.get("type", ""))
        if event_type.endswith("StateEntered"):
            details = event.get("stateEnteredEventDetails") or {}
            return FailedState(
                str(details.get("name")), event_type[: -len("StateEntered")], details.get("input")
            )
    return None


def fast_describe(raw: bytes) -> bytes | None:
    """moto's DescribeExecution answer of a never-redriven RUNNING execution with the redrive fields
    added, without parsing it; None for any other answer (parse and :meth:`Redrives.overlay` it)."""
    if raw.endswith(b"}") and _STATUS_RUNNING.search(raw):
        return raw[:-1] + _RUNNING_TAIL
    return None


def _ended_at(doc: dict[str, Any]) -> float | None:
    for key in ("stopDate", "startDate"):  # moto gives TIMED_OUT executions no stopDate
        value = doc.get(key)
        if isinstance(value, (int, float)):
            return float(value)
    return None


class Redrives:
    """Redrive records of one sandbox, shared by the gateway and the direct listener (thread-safe)."""

    def __init__(self, seconds: float = 3.0, window_seconds: float = WINDOW_SECONDS) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, Record] = {}
        self.seconds = float(seconds)
        self.window_seconds = float(window_seconds)
        self.outcome = Outcome()

    # ------------------------------------------------------------------ configuration

    def configure(
        self,
        seconds: float | None = None,
        status: str | None = None,
        output: str | None = None,
        error: str | None = None,
        cause: str | None = None,
        window_seconds: float | None = None,
    ) -> dict[str, Any]:
        """Settings for redrives started from now on (``status`` resets output / error / cause)."""
        with self._lock:
            if seconds is not None:
                if not float(seconds) >= 0:
                    raise ValueError("redrive seconds must be >= 0")
                self.seconds = float(seconds)
            if window_seconds is not None:
                self.window_seconds = float(window_seconds)
            if status is not None or output is not None or error is not None or cause is not None:
                status = status or self.outcome.status
                if status not in OUTCOMES:
                    raise ValueError(f"redrive outcome must be one of {OUTCOMES}")
                if output is not None:
                    json.loads(output)  # must be JSON text, as a state's output is
                self.outcome = Outcome(status, output, error, cause)
            return self._state()

    def state(self) -> dict[str, Any]:
        with self._lock:
            return self._state()

    def _state(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "window_seconds": self.window_seconds,
            "outcome": self.outcome.as_dict(),
            "redriven": len(self._records),
        }

    def known(self, arn: str | None) -> bool:
        return arn is not None and arn in self._records

    # ------------------------------------------------------------------ RedriveExecution

    def begin(
        self,
        arn: str,
        doc: dict[str, Any],
        token: str | None,
        state: FailedState | None,
        now: float | None = None,
    ) -> float:
        """Redrive ``arn`` (``doc``: moto's DescribeExecution of it); returns the redriveDate.
        Raises :class:`RedriveError` (ExecutionNotRedrivable) as Step Functions would."""
        now = time.time() if now is None else now
        with self._lock:
            record = self._records.get(arn)
            if token is not None and record is not None:
                for used, first_used, date in record.tokens:
                    if used == token and now - first_used < TOKEN_SECONDS:
                        return date  # idempotent: the same answer, no second redrive
            ended: float | None
            if record is not None:
                run = record.runs[-1]
                status, ended = run.status(now), run.stop_date()
            else:
                status, ended = str(doc.get("status")), _ended_at(doc)
            reason = self._not_redrivable(status, ended, now)
            if reason is not None:
                raise RedriveError("ExecutionNotRedrivable", f"{reason}: '{arn}'")
            if record is None:
                record = Record(
                    arn,
                    doc.get("input"),
                    doc.get("error"),
                    doc.get("cause"),
                    state.name if state else None,
                    state.type if state else None,
                    state.input if state else None,
                )
                self._records[arn] = record
            record.runs.append(Run(len(record.runs) + 1, now, now + self.seconds, self.outcome))
            if token is not None:
                record.tokens.append((token, now, now))
            return now

    def _not_redrivable(self, status: str, ended: float | None, now: float) -> str | None:
        if status == RUNNING:
            return REASON_RUNNING
        if status not in REDRIVABLE:
            return f"Execution is {status} and cannot be redriven"
        if ended is not None and now - ended > self.window_seconds:
            return REASON_PERIOD
        return None

    # ------------------------------------------------------------------ StopExecution

    def stop(self, arn: str, error: str | None, cause: str | None, now: float | None = None) -> float | None:
        """StopExecution of a redriven execution (its stopDate); None if ``arn`` was never redriven."""
        now = time.time() if now is None else now
        with self._lock:
            record = self._records.get(arn)
            if record is None:
                return None
            run = record.runs[-1]
            if run.status(now) == RUNNING:
                run.stopped_at, run.stop_error, run.stop_cause = now, error, cause
            return run.stop_date()

    # ------------------------------------------------------------------ DescribeExecution / ListExecutions

    def overlay(self, doc: dict[str, Any], now: float | None = None) -> dict[str, Any]:
        """A DescribeExecution document (dates as epoch seconds) as the sandbox reports it: the
        redrive's status and dates, ``redriveCount``, ``redriveStatus`` / ``redriveStatusReason``."""
        now = time.time() if now is None else now
        with self._lock:
            record = self._records.get(str(doc.get("executionArn")))
            ended: float | None
            if record is None:
                doc["redriveCount"] = 0
                status, ended = str(doc.get("status")), _ended_at(doc)
            else:
                run = record.runs[-1]
                status = run.status(now)
                for key in ("stopDate", "error", "cause", "output", "outputDetails"):
                    doc.pop(key, None)
                doc["status"] = status
                doc["redriveCount"] = run.number
                doc["redriveDate"] = run.date
                ended = run.stop_date()
                if status != RUNNING:
                    doc["stopDate"] = ended
                    doc.update(self._end_details(record, run))
            reason = self._not_redrivable(status, ended, now)
        doc.pop("redriveStatusReason", None)
        doc["redriveStatus"] = "REDRIVABLE" if reason is None else "NOT_REDRIVABLE"
        if reason is not None:
            doc["redriveStatusReason"] = reason
        return doc

    @staticmethod
    def _end_details(record: Record, run: Run) -> dict[str, Any]:
        status = run.status(float("inf"))
        if status == "SUCCEEDED":
            return {"output": record.output(run), "outputDetails": {"included": True}}
        if status == "ABORTED":
            error, cause = run.stop_error, run.stop_cause
        else:
            error = run.outcome.error if run.outcome.error is not None else record.error
            cause = run.outcome.cause if run.outcome.cause is not None else record.cause
        return {k: v for k, v in (("error", error), ("cause", cause)) if v is not None}

    def overlay_item(self, item: dict[str, Any], now: float | None = None) -> dict[str, Any]:
        """A ListExecutions item (status, stopDate, redriveCount, redriveDate)."""
        now = time.time() if now is None else now
        with self._lock:
            record = self._records.get(str(item.get("executionArn")))
            if record is None:
                item["redriveCount"] = 0
                return item
            run = record.runs[-1]
            status = run.status(now)
            item["status"] = status
            item["redriveCount"] = run.number
            item["redriveDate"] = run.date
            item.pop("stopDate", None)
            if status != RUNNING:
                item["stopDate"] = run.stop_date()
            return item

    # ------------------------------------------------------------------ GetExecutionHistory

    def history(
        self, arn: str, events: list[dict[str, Any]], now: float | None = None
    ) -> list[dict[str, Any]]:
        """moto's events of ``arn`` followed by those of its redrives (if any)."""
        now = time.time() if now is None else now
        with self._lock:
            record = self._records.get(arn)
            if record is None:
                return events
            record = copy.deepcopy(record)
        out = list(events)
        last = max((int(e.get("id", 0)) for e in out), default=0)

        def add(event_type: str, timestamp: float, key: str, details: dict[str, Any]) -> None:
            nonlocal last
            out.append(
                {
                    "timestamp": timestamp,
                    "type": event_type,
                    "id": last + 1,
                    "previousEventId": last,
                    key: {k: v for k, v in details.items() if v is not None},
                }
            )
            last += 1

        name, state_type = record.state_name, record.state_type
        truncated = {"truncated": False}
        for run in record.runs:
            add("ExecutionRedriven", run.date, "executionRedrivenEventDetails", {"redriveCount": run.number})
            if state_type:
                add(
                    f"{state_type}StateEntered",
                    run.date,
                    "stateEnteredEventDetails",
                    {"name": name, "input": record.state_input, "inputDetails": truncated},
                )
            status = run.status(now)
            if status == RUNNING:
                break
            end = run.stop_date()
            details = self._end_details(record, run)
            if status == "SUCCEEDED":
                output = details["output"]
                if state_type:
                    add(
                        f"{state_type}StateExited",
                        end,
                        "stateExitedEventDetails",
                        {"name": name, "output": output, "outputDetails": truncated},
                    )
                add(
                    "ExecutionSucceeded",
                    end,
                    "executionSucceededEventDetails",
                    {"output": output, "outputDetails": truncated},
                )
            elif status == "FAILED":
                add("ExecutionFailed", end, "executionFailedEventDetails", details)
            elif status == "TIMED_OUT":
                add("ExecutionTimedOut", end, "executionTimedOutEventDetails", details)
            else:
                add("ExecutionAborted", end, "executionAbortedEventDetails", details)
        return out


# --------------------------------------------------------------------------- history pages


def _encode_token(arn: str, reverse: bool, offset: int) -> str:
    text = json.dumps({"arn": arn, "reverse": reverse, "offset": offset}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode()


def _decode_token(token: Any, arn: str, reverse: bool) -> int:
    invalid = RedriveError("InvalidToken", f"Invalid Token: '{token}'")
    if not isinstance(token, str) or not 1 <= len(token) <= 3096:
        raise invalid
    try:
        doc = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(doc, dict) or doc.get("arn") != arn or doc.get("reverse") != reverse:
        raise invalid
    offset = doc.get("offset")
    if not isinstance(offset, int) or offset < 0:
        raise invalid
    return offset


def check_history_request(doc: dict[str, Any]) -> None:
    """GetExecutionHistory's parameters as Step Functions validates them (before moto is asked)."""
    max_results = doc.get("maxResults", 0)
    if isinstance(max_results, bool) or not isinstance(max_results, int):
        raise RedriveError(
            "com.amazon.coral.service#SerializationException", "Expected an integer for 'maxResults'."
        )
    if not 0 <= max_results <= HISTORY_PAGE_MAX:
        bound = (
            f"less than or equal to {HISTORY_PAGE_MAX}" if max_results > 0 else "greater than or equal to 0"
        )
        raise RedriveError(
            VALIDATION,
            f"1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value {bound}",
        )
    for name in ("reverseOrder", "includeExecutionData"):
        if name in doc and doc[name] is not None and not isinstance(doc[name], bool):
            raise RedriveError(
                "com.amazon.coral.service#SerializationException", f"Expected a boolean for '{name}'."
            )


def history_page(events: list[dict[str, Any]], arn: str, doc: dict[str, Any]) -> dict[str, Any]:
    """One page of GetExecutionHistory: ``maxResults`` (0 = 100, at most 1000), ``reverseOrder``,
    ``nextToken`` (opaque; InvalidToken when it is not one this call gave) and
    ``includeExecutionData`` (False drops the input and output of the events)."""
    check_history_request(doc)
    size = int(doc.get("maxResults") or 0) or HISTORY_PAGE_DEFAULT
    reverse = bool(doc.get("reverseOrder") or False)
    include_data = doc.get("includeExecutionData")
    ordered = list(reversed(events)) if reverse else list(events)
    token = doc.get("nextToken")
    offset = 0 if token is None else _decode_token(token, arn, reverse)
    page = ordered[offset : offset + size]
    if include_data is False:
        page = [_without_data(e) for e in page]
    answer: dict[str, Any] = {"events": page}
    if offset + size < len(ordered):
        answer["nextToken"] = _encode_token(arn, reverse, offset + size)
    return answer


def _without_data(event: dict[str, Any]) -> dict[str, Any]:
    out = dict(event)
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            out[key] = {k: v for k, v in value.items() if k not in _DATA_KEYS}
    return out
