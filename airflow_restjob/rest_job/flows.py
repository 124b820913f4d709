"""The sans-IO core: every decision about a running job, written once.

A *flow* is a generator that decides and never does I/O. It yields a command - ``Sleep(seconds)``
or a request (a ``RequestSpec``, or ``ATTEMPT``: "send the request you are retrying once more") -
and is sent back what happened: ``None`` after a sleep, the ``Reply`` or the ``RestJobError`` of a
request. Its return value is the result. Two drivers run flows: ``run_sync`` in the worker
(``requests``, ``time.sleep``) and ``run_async`` in the triggerer (``aiohttp``, ``asyncio.sleep``);
they only do the I/O (the pattern of httpx's ``auth_flow`` with ``sync_auth_flow`` /
``async_auth_flow``).

- ``retry_flow``: when to send a failed request again (``RetryPolicy``), used by both HTTP clients.
- ``stop_flow``: the termination request with who/why, and what its outcome means.
- ``wait_flow``: the poll loop - when the next poll is due, when the deadline or ``max_polls``
  ends the wait (and the job is stopped), how a reply is judged, which event ends the wait.
- ``ended_flow``: one monitoring call - has the job already ended?
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from airflow_restjob.errors import GarbledResponseError, RestJobError
from airflow_restjob.rest_job.retry import RetryPolicy, RetryState
from airflow_restjob.rest_job.spec import JobSpec, RequestSpec, Wait, stop_request

T = TypeVar("T")
WAKE_TICK = 0.1  # seconds; polls are at most this much later than due
MAX_GARBLED_POLLS = 3  # unreadable (cut short) monitoring answers in a row before the wait fails
WINDOW_STEPS = (1.0, 1.0, 1.5, 1.5, 2.0, 2.0, 3.0, 3.0, 5.0, 5.0, 10.0)  # then 10 s: a worker window's polls
CONTINUE = "continue"  # wait_flow's status when a worker window ended before the job did


def window_steps() -> Generator[float, None, None]:
    yield from WINDOW_STEPS
    while True:
        yield WINDOW_STEPS[-1]


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


ATTEMPT = RequestSpec(path="<the request being retried>")
Command = Sleep | RequestSpec
Outcome = Any  # None (after a sleep), a Reply, or the RestJobError a request raised
Flow = Generator[Command, Outcome, T]


class _Stepper:
    """Advance a flow by one command; ``done`` and ``result`` once it has returned."""

    __slots__ = ("flow", "done", "result")

    def __init__(self, flow: Flow[Any]) -> None:
        self.flow, self.done, self.result = flow, False, None

    def step(self, outcome: Outcome) -> Command | None:
        try:
            return self.flow.send(outcome)
        except StopIteration as end:
            self.done, self.result = True, end.value
            return None


def run_sync(flow: Flow[T], send: Callable[[RequestSpec], Any], sleep: Callable[[float], Any] = time.sleep) -> T:
    """Drive a flow in the worker: blocking sleeps and requests."""
    stepper, outcome = _Stepper(flow), None
    while (command := stepper.step(outcome)) is not None:
        outcome = None  # a reply is not held while sleeping
        outcome = sleep(command.seconds) if isinstance(command, Sleep) else _outcome(send, command)
    return stepper.result  # type: ignore[return-value]


async def run_async(
    flow: Flow[T], send: Callable[[RequestSpec], Awaitable[Any]], sleep: Callable[[float], Awaitable[Any]]
) -> T:
    """Drive a flow on an event loop (the triggerer): awaited sleeps and requests."""
    stepper, outcome = _Stepper(flow), None
    while (command := stepper.step(outcome)) is not None:
        outcome = None  # a reply is not held while sleeping (memory per deferred job)
        if isinstance(command, Sleep):
            await sleep(command.seconds)
            continue
        try:  # (inline, not a helper coroutine: one frame less per request in flight)
            outcome = await send(command)
        except RestJobError as error:
            outcome = error
    return stepper.result  # type: ignore[return-value]


def _outcome(send: Callable[[RequestSpec], Any], request: RequestSpec) -> Any:
    try:
        return send(request)
    except RestJobError as error:
        return error


# --- retries -----------------------------------------------------------------------------------
def retry_flow(
    policy: RetryPolicy, log: logging.Logger, started: float | None = None, failed: RestJobError | None = None
) -> Flow[Any]:
    """Send (``ATTEMPT``) until a reply, or until the policy gives up (the last error is raised).

    Only ``retryable`` errors (throttling, transient 5xx / network trouble, timeouts) are sent
    again. ``failed``: the first attempt was made already and failed so (the drivers make the first
    attempt themselves: a request that succeeds builds no flow).
    """
    state: RetryState | None = None
    while True:
        outcome = failed if failed is not None else (yield ATTEMPT)
        failed = None
        if not isinstance(outcome, RestJobError):
            return outcome
        if state is None:
            state = RetryState(policy, started=time.monotonic() if started is None else started)
        delay = state.next_delay(outcome)  # raises the error when giving up
        log.warning("%s; retrying in %.1f s (attempt %d)", outcome, delay, state.attempt + 1)
        yield Sleep(delay)


# --- stop --------------------------------------------------------------------------------------
def stop_flow(spec: JobSpec, job_id: str, error: str, cause: str, log: Any) -> Flow[bool]:
    """Send the termination request (with who/why where the API takes them). Returns whether it was
    accepted; a refusal is logged with the job id, never raised."""
    request = stop_request(spec, error, cause)
    if request is None:
        return False
    outcome = yield request
    if isinstance(outcome, RestJobError):
        log.error(
            "Stop of %s was not accepted: %s. It may still run: stop it by hand (%s).",
            job_id,
            outcome.with_execution(job_id),
            manual_stop(spec, job_id, request),
        )
        return False
    log.info("Stop sent for %s (%s)", job_id, cause)
    return True


def fetch_flow(spec: JobSpec) -> Flow[Any]:
    """One monitoring call for its data (the worker reads a response too large for an event)."""
    outcome = yield spec.monitor
    if isinstance(outcome, RestJobError):
        raise outcome
    return outcome.data


def manual_stop(spec: JobSpec, job_id: str, request: RequestSpec) -> str:
    """How an operator stops the job by hand when the provider could not."""
    if spec.label == "Step Functions execution":
        return f"aws stepfunctions stop-execution --execution-arn {job_id}"
    return f"send the termination request yourself: {request.method} {request.path}"


def ended_flow(spec: JobSpec) -> Flow[bool]:
    """One monitoring call: has the job already ended? Any error means "unknown" (False)."""
    outcome = yield spec.monitor
    try:
        return not isinstance(outcome, RestJobError) and spec.judge(outcome.data).ended
    except RestJobError:
        return False


# --- waiting -----------------------------------------------------------------------------------
def wait_flow(
    spec: JobSpec,
    job_id: str,
    deadline: float | None,
    reason: str,
    log: Any,
    clock: Callable[[], float] = time.time,
    window: float | None = None,
) -> Flow[dict[str, Any]]:
    """Poll ``spec.monitor`` until the job ends, the wait's limit is reached or an error ends it.

    With a ``window`` (seconds; the worker's short wait before a deferral) polls follow
    ``WINDOW_STEPS`` and the flow returns ``{"status": CONTINUE}`` when the next poll would fall
    after the window: the caller then defers, and the trigger's wait takes over.

    Returns the event payload: ``status`` success / failed (the job ended: ``job_status``,
    ``response``, ``details``, ``http_status``), timeout / polls_exhausted (``message``,
    ``stopped``: the job was stopped here), or error (``message``, ``end_code``, ``error_type``).

    Polls are due at fixed steps from the previous due time, not from when the previous poll
    finished: when thousands of triggers poll at once and the loop lags, the lag is not added to
    every interval (detection latency stays <= interval + jitter). A wait more than one step behind
    (a long retry or quota wait) starts afresh instead of catching up. Wake-ups are rounded up to a
    ``WAKE_TICK`` so waits due together share one pass of the event loop.
    """
    wait = Wait(spec, deadline, reason)
    garbled = 0
    log.info("Waiting for %s %s", spec.label, job_id)
    due = clock()
    window_end = due + window if window else None
    steps = window_steps()
    while True:
        if window_end is not None:
            step = next(steps)
            if due + step > window_end + 1e-6:
                return {"status": CONTINUE, "job_id": job_id, "polls": wait.polls}
        else:
            step = wait.delay(due)
        due += step
        now = clock()
        if due < now - step:
            due = now
        wake = math.ceil(due / WAKE_TICK) * WAKE_TICK
        yield Sleep(wake - now if wake > now else 0.0)
        limit = wait.limit_reached(clock())
        if limit:
            status, why = limit
            stopped = yield from stop_flow(spec, job_id, "airflow-restjob: wait limit", why, log)
            return {"status": status, "job_id": job_id, "message": why, "stopped": stopped}
        outcome = yield spec.monitor
        try:
            if isinstance(outcome, RestJobError):
                raise outcome
            verdict, changed = wait.observe(outcome.data)
            garbled = 0
        except RestJobError as error:
            if error.retryable:  # the client's retries are used up: keep waiting, bounded by the deadline
                log.warning("Poll of %s failed, will poll again: %s", job_id, error)
                wait.failed_poll()
                continue
            if isinstance(error, GarbledResponseError) and garbled < MAX_GARBLED_POLLS:
                garbled += 1  # an answer cut short on the way: the next poll reads it again
                log.warning("Poll of %s: unreadable answer (%d of %d in a row), will poll again: %s",
                            job_id, garbled, MAX_GARBLED_POLLS, error)
                wait.failed_poll()
                continue
            error = error.with_execution(job_id)
            return {
                "status": "error",
                "job_id": job_id,
                "message": str(error),
                "end_code": int(error.end_code),
                "error_type": error.error_type,
            }
        if changed:
            log.info("%s %s is %s", spec.label, job_id, verdict.status)
        if verdict.ended:
            return {
                "status": "success" if verdict.success else "failed",
                "job_id": job_id,
                "job_status": verdict.status,
                "response": outcome.data,
                "details": verdict.details,
                "http_status": outcome.status,
            }
        del outcome, verdict  # hold no response while sleeping (memory per deferred job)
