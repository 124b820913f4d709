"""Express workflows and StartSyncExecution, emulated beside moto (pure state, no I/O).

moto 5.2 keeps a state machine's ``type`` (``STANDARD`` / ``EXPRESS``) but runs every execution the
Standard way (an ``:execution:`` ARN that DescribeExecution, StopExecution and GetExecutionHistory
answer for), and it has no StartSyncExecution. The sandbox therefore lays AWS's Express behaviour
over what moto runs:

- The type of a state machine is asked of moto (DescribeStateMachine) the first time the sandbox
  starts an execution of it and then cached per ARN: StartExecution of a Standard machine costs
  nothing more after that, and DescribeExecution polling never asks (an Express ARN is told by its
  resource type alone).
- StartExecution of an EXPRESS machine (AWS runs it asynchronously) starts it in moto and answers
  the Express form of the ARN, ``arn:aws:states:{region}:{account}:express:{state machine}:{name}:{uuid}``;
  the map Express ARN -> moto's ``:execution:`` ARN is kept here (:meth:`ExpressExecutions.moto_arn`,
  used by ``Sandbox.describe_execution``).
- DescribeExecution / StopExecution / GetExecutionHistory of an Express ARN answer HTTP 400
  ``InvalidArn`` "Invalid Arn: 'Resource type not valid in this context: express'", as AWS does:
  Express executions are neither described nor stopped.
- StartSyncExecution (served by the direct Step Functions listener, whose loopback address stands
  for AWS's ``sync-states.{region}`` host, and by the opt-in gateway resource
  ``start-sync-execution``): on an EXPRESS machine it starts moto's execution, polls moto's
  DescribeExecution (about every 0.1 s, without blocking the gateway's event loop) until it ends and
  answers AWS's StartSyncExecution document (:meth:`ExpressExecutions.sync_answer`); an execution
  still running after ``sync_seconds`` (300, AWS's five minutes) is stopped in moto and answered
  TIMED_OUT with error ``States.Timeout``. On a STANDARD machine it answers HTTP 400
  ``StateMachineTypeNotSupported``.
- Execution names: AWS does not require an Express execution's name to be unique, moto does (and
  answers a repeated name with the same input while running as the same execution). moto runs an
  Express execution under the requested name the first time the name is used for the machine (so
  ``$$.Execution.Name`` is the name), and under the Express ARN's uuid from then on.

Not emulated: Express logging (CloudWatch Logs: there is no execution history at all), billing
(``billingDetails`` is the wall time of moto's execution rounded up to 100 ms and always 64 MB),
the at-least-once / at-most-once semantics of asynchronous / synchronous Express executions, X-Ray
(``traceHeader`` is only echoed), and ListExecutions' refusal of an EXPRESS machine (the sandbox
lists moto's executions of it under their ``:execution:`` ARNs).
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

EXPRESS = "EXPRESS"
STANDARD = "STANDARD"
SYNC_SECONDS = 300.0  # AWS: a synchronous Express execution runs at most five minutes
POLL_SECONDS = 0.1
KEPT = 100_000  # Express ARNs (and execution names) remembered, oldest forgotten first
BILLED_MEMORY_MB = 64
TIMEOUT_ERROR = "States.Timeout"
NOT_SUPPORTED = "StateMachineTypeNotSupported"
NOT_SUPPORTED_MESSAGE = "This operation is not supported by this type of state machine"
INVALID_ARN_MESSAGE = "Invalid Arn: 'Resource type not valid in this context: express'"
# The actions that refuse an Express execution's ARN (InvalidArn).
REFUSING_ACTIONS = frozenset(("DescribeExecution", "StopExecution", "GetExecutionHistory"))


def is_express_arn(arn: str) -> bool:
    """Whether ``arn`` names an Express execution (resource type ``express``); cheap for the hot path
    (a substring test, the split only on a hit: a Standard machine may be named ``express``)."""
    if ":express:" not in arn:
        return False
    parts = arn.split(":", 6)
    return len(parts) == 7 and parts[5] == "express"


def express_arn(state_machine_arn: str, name: str, run_id: str) -> str:
    """The Express execution ARN of ``name`` on a state machine (its ARN, or a version's / alias's)."""
    parts = state_machine_arn.split(":")
    if len(parts) < 7:
        raise ValueError(f"not a state machine ARN: {state_machine_arn!r}")
    return ":".join([*parts[:5], "express", parts[6], name, run_id])


def billed_milliseconds(seconds: float) -> int:
    """AWS bills Express workflows in 100 ms steps (rounded up, at least one)."""
    return max(100, math.ceil(round(max(seconds, 0.0) * 1000, 3) / 100) * 100)


@dataclass(frozen=True)
class Started:
    """An Express execution about to be started in moto."""

    arn: str  # the Express ARN the client gets
    name: str  # the execution's name (the client's, or a uuid)
    moto_name: str  # the name moto runs it under


class ExpressExecutions:
    """State machine types and Express executions of one sandbox (thread-safe)."""

    def __init__(self, sync_seconds: float = SYNC_SECONDS) -> None:
        self._lock = threading.Lock()
        self._types: dict[str, str] = {}
        self._moto_arns: OrderedDict[str, str] = OrderedDict()
        self._names: OrderedDict[tuple[str, str], None] = OrderedDict()
        self.sync_seconds = SYNC_SECONDS
        self.set_sync_seconds(sync_seconds)

    def set_sync_seconds(self, seconds: float) -> None:
        """How long StartSyncExecution waits before it answers TIMED_OUT (AWS: 300)."""
        if not float(seconds) > 0:
            raise ValueError("express_sync_seconds must be > 0")
        self.sync_seconds = float(seconds)

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "sync_seconds": self.sync_seconds,
                "executions": len(self._moto_arns),
                "express_state_machines": sorted(a for a, t in self._types.items() if t == EXPRESS),
            }

    # ------------------------------------------------------------------ state machine types

    def machine_type(self, state_machine_arn: str) -> str | None:
        """The cached type of a state machine (None: not asked of moto yet)."""
        return self._types.get(state_machine_arn)

    def remember_type(self, state_machine_arn: str, doc: dict[str, Any]) -> str:
        """Cache the type moto's DescribeStateMachine ``doc`` reports (STANDARD when it has none)."""
        kind = EXPRESS if doc.get("type") == EXPRESS else STANDARD
        with self._lock:
            self._types[state_machine_arn] = kind
        return kind

    # ------------------------------------------------------------------ executions

    def begin(self, state_machine_arn: str, name: str | None) -> Started:
        """A new Express execution of ``state_machine_arn`` (``name`` None: a uuid, as AWS gives)."""
        run_id = str(uuid.uuid4())
        name = str(uuid.uuid4()) if name is None else name
        key = (state_machine_arn, name)
        with self._lock:
            moto_name = run_id if key in self._names else name
            self._names[key] = None
            _trim(self._names)
        return Started(express_arn(state_machine_arn, name, run_id), name, moto_name)

    def bind(self, arn: str, moto_arn: str) -> None:
        """Remember which moto execution runs the Express execution ``arn``."""
        with self._lock:
            self._moto_arns[arn] = moto_arn
            _trim(self._moto_arns)

    def moto_arn(self, arn: str) -> str | None:
        """moto's ``:execution:`` ARN of an Express ARN the sandbox gave (None: unknown)."""
        with self._lock:
            return self._moto_arns.get(arn)

    # ------------------------------------------------------------------ StartSyncExecution

    def sync_answer(
        self,
        started: Started,
        state_machine_arn: str,
        doc: dict[str, Any],
        trace_header: str | None = None,
        timed_out_at: float | None = None,
    ) -> dict[str, Any]:
        """StartSyncExecution's answer from moto's DescribeExecution ``doc`` of the ended execution
        (``timed_out_at``: it was still running when the sandbox gave up, at that time)."""
        start_date = _number(doc.get("startDate"), time.time())
        if timed_out_at is not None:
            status, stop_date = "TIMED_OUT", timed_out_at
        else:
            status = str(doc.get("status"))
            stop_date = _number(doc.get("stopDate"), time.time())  # moto: no stopDate when TIMED_OUT
        answer: dict[str, Any] = {
            "executionArn": started.arn,
            "stateMachineArn": state_machine_arn,
            "name": started.name,
            "startDate": start_date,
            "stopDate": stop_date,
            "status": status,
            "input": doc.get("input") if isinstance(doc.get("input"), str) else "{}",
            "inputDetails": {"included": True},
        }
        if status == "SUCCEEDED":
            answer["output"] = doc.get("output") if isinstance(doc.get("output"), str) else "{}"
            answer["outputDetails"] = {"included": True}
        elif timed_out_at is not None:
            answer["error"] = TIMEOUT_ERROR
            answer["cause"] = (
                f"The execution did not end within {self.sync_seconds:g} seconds, "
                "the limit of a synchronous Express execution"
            )
        else:
            for key in ("error", "cause"):
                if isinstance(doc.get(key), str):
                    answer[key] = doc[key]
            if status == "TIMED_OUT" and "error" not in answer:
                answer["error"] = TIMEOUT_ERROR
        if trace_header is not None:
            answer["traceHeader"] = trace_header
        answer["billingDetails"] = {
            "billedMemoryUsedInMB": BILLED_MEMORY_MB,
            "billedDurationInMilliseconds": billed_milliseconds(stop_date - start_date),
        }
        return answer


def _number(value: Any, default: float) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return default


def _trim(kept: OrderedDict[Any, Any]) -> None:
    while len(kept) > KEPT:
        kept.popitem(last=False)
