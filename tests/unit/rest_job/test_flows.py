"""The sans-IO flows (``airflow_restjob.rest_job.flows``) driven with scripted replies: no network.

A ``Script`` answers every request the flow yields - monitoring polls from a list of outcomes
(``Reply`` or a ``RestJobError`` to raise), the termination request from its own outcome - and
records the requests and sleeps. Sleeps advance a fake clock that ``wait_flow`` reads
(``clock=``), so deadlines pass without real waiting.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from airflow_restjob.errors import (
    AuthError,
    RequestTimeoutError,
    RestJobError,
    ServiceError,
    ThrottledError,
    TransientError,
)
from airflow_restjob.rest_job import step_functions as sfn
from airflow_restjob.rest_job.flows import (
    ATTEMPT,
    WAKE_TICK,
    Sleep,
    ended_flow,
    retry_flow,
    run_async,
    run_sync,
    stop_flow,
    wait_flow,
)
from airflow_restjob.rest_job.retry import RetryPolicy
from airflow_restjob.rest_job.spec import JobSpec, PollSpec, RequestSpec
from airflow_restjob.transport.common import Reply

log = logging.getLogger("test_flows")
JOB_ID = "job-42"
START = 1_000_000.0  # the fake clock's epoch at the start of a wait


def job_spec(poll: PollSpec | None = None, terminate: bool = True) -> JobSpec:
    return JobSpec(
        label="test job",
        monitor=RequestSpec(path=f"jobs/{JOB_ID}", method="GET"),
        end_key="state",
        end_values=("DONE", "FAILED"),
        result_key="state",
        success_values=("DONE",),
        terminate=RequestSpec(path=f"jobs/{JOB_ID}/cancel", method="POST", body={"force": True})
        if terminate
        else None,
        poll=poll or PollSpec(first_delay=1, interval=2, jitter=0),
        error_keys=("error",),
    )


def reply(state: str | None, **data: Any) -> Reply:
    body = dict(data) if state is None else {"state": state, **data}
    return Reply(status=200, headers={"content-type": "application/json"}, data=body)


class Script:
    """Scripted I/O of one flow run: ``polls`` answer the monitoring request in turn (the last one
    is repeated), ``stop`` answers the termination request."""

    def __init__(self, spec: JobSpec, polls: list[Any], stop: Any = None) -> None:
        self.spec = spec
        self.polls = list(polls)
        self.stop = stop if stop is not None else Reply(200, {}, {})
        self.now = START
        self.requests: list[RequestSpec] = []
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    def send(self, request: RequestSpec) -> Any:
        self.requests.append(request)
        if request is self.spec.monitor:
            outcome = self.polls.pop(0) if len(self.polls) > 1 else self.polls[0]
        else:
            outcome = self.stop
        if isinstance(outcome, RestJobError):
            raise outcome
        return outcome

    async def asend(self, request: RequestSpec) -> Any:
        await asyncio.sleep(0)
        return self.send(request)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(0)
        self.sleep(seconds)

    @property
    def polls_sent(self) -> int:
        return sum(1 for r in self.requests if r is self.spec.monitor)

    @property
    def stops(self) -> list[RequestSpec]:
        return [r for r in self.requests if r is not self.spec.monitor]


def wait(script: Script, deadline: float | None = None, reason: str = "max_wait=10s") -> dict[str, Any]:
    flow = wait_flow(script.spec, JOB_ID, deadline, reason, log, clock=script.clock)
    return run_sync(flow, script.send, script.sleep)


# --- wait_flow: the job ends ------------------------------------------------------------------
def test_success_event_carries_status_response_and_http_status():
    spec = job_spec()
    script = Script(spec, [reply("RUNNING"), reply("RUNNING"), reply("DONE", result={"rows": 3})])
    event = wait(script)
    assert event == {
        "status": "success",
        "job_id": JOB_ID,
        "job_status": "DONE",
        "response": {"state": "DONE", "result": {"rows": 3}},
        "details": {},
        "http_status": 200,
    }
    assert script.polls_sent == 3 and script.stops == []
    # polls 1 s, then 2 s apart (jitter 0), rounded to the wake tick
    assert script.sleeps == pytest.approx([1.0, 2.0, 2.0], abs=WAKE_TICK)


def test_failed_event_carries_the_error_details():
    spec = job_spec()
    script = Script(spec, [reply("RUNNING"), reply("FAILED", error="disk full")])
    event = wait(script)
    assert event["status"] == "failed"
    assert event["job_status"] == "FAILED"
    assert event["details"] == {"error": "disk full"}
    assert event["response"] == {"state": "FAILED", "error": "disk full"}
    assert script.polls_sent == 2 and script.stops == []


def test_step_functions_statuses():
    spec = sfn.job_spec(
        "arn:aws:states:us-east-1:123456789012:execution:sm:run", PollSpec(first_delay=1, jitter=0)
    )
    aborted = {"status": "ABORTED", "error": "States.Aborted", "cause": "by hand"}
    script = Script(spec, [Reply(200, {}, {"status": "RUNNING"}), Reply(200, {}, aborted)])
    event = run_sync(wait_flow(spec, "x", None, "", log, clock=script.clock), script.send, script.sleep)
    assert event["status"] == "failed" and event["job_status"] == "ABORTED"
    assert event["details"] == {"error": "States.Aborted", "cause": "by hand"}


# --- wait_flow: errors ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "error",
    [
        TransientError("GET jobs: HTTP 503"),
        ThrottledError("GET jobs: throttled"),
        RequestTimeoutError("GET jobs: no answer within 60 s."),
    ],
    ids=["transient", "throttled", "timeout"],
)
def test_a_retryable_error_keeps_polling(error):
    spec = job_spec()
    script = Script(spec, [reply("RUNNING"), error, error, reply("DONE")])
    event = wait(script)
    assert event["status"] == "success"
    assert script.polls_sent == 4 and script.stops == []


@pytest.mark.parametrize(
    "outcome, end_code, error_type",
    [
        (
            AuthError("GET jobs: 403", "check keys", status=403, error_type="InvalidSignature"),
            10,
            "InvalidSignature",
        ),
        (ServiceError("GET jobs: gone", error_type="ExecutionDoesNotExist"), 4, "ExecutionDoesNotExist"),
        (reply(None, unexpected="shape"), 8, None),  # no value at the end key: unparsable
    ],
    ids=["auth", "service", "unparsable"],
)
def test_a_non_retryable_error_ends_the_wait_with_its_end_code(outcome, end_code, error_type):
    spec = job_spec()
    script = Script(spec, [reply("RUNNING"), outcome, reply("DONE")])
    event = wait(script)
    assert event["status"] == "error"
    assert event["end_code"] == end_code
    assert event["error_type"] == error_type
    assert event["job_id"] == JOB_ID
    assert f"[end code {end_code}:" in event["message"] and JOB_ID in event["message"]
    assert script.polls_sent == 2  # no poll after the error ...
    assert script.stops == []  # ... and the flow does not stop the job (the operator decides)


# --- wait_flow: limits ------------------------------------------------------------------------
@pytest.mark.parametrize("accepted", [True, False])
def test_the_deadline_ends_the_wait_and_stops_the_job_once(accepted):
    spec = sfn.job_spec(
        "arn:aws:states:us-east-1:123456789012:execution:sm:run",
        PollSpec(first_delay=1, interval=2, jitter=0),
    )
    stop = Reply(200, {}, {"stopDate": 1}) if accepted else ServiceError("stop: refused")
    script = Script(spec, [Reply(200, {}, {"status": "RUNNING"})], stop=stop)
    deadline = START + 7.5
    event = run_sync(
        wait_flow(spec, JOB_ID, deadline, "max_wait=7.5s", log, clock=script.clock), script.send, script.sleep
    )
    assert event == {
        "status": "timeout",
        "job_id": JOB_ID,
        "message": "the wait exceeded its deadline (max_wait=7.5s)",
        "stopped": accepted,
    }
    assert len(script.stops) == 1
    (stop_request,) = script.stops
    assert stop_request.path == sfn.STOP_PATH
    assert stop_request.body["executionArn"] == spec.terminate.body["executionArn"]
    assert stop_request.body["error"] == "airflow-restjob: wait limit"
    assert "max_wait=7.5s" in stop_request.body["cause"]
    # polls at 1, 3, 5, 7; the last sleep ends exactly at the deadline, then the stop (no more polls)
    assert script.polls_sent == 4
    assert script.requests[-1] is stop_request
    assert script.now == pytest.approx(deadline, abs=WAKE_TICK)


def test_a_deadline_already_passed_stops_without_polling():
    spec = job_spec()
    script = Script(spec, [reply("RUNNING")])
    event = wait(script, deadline=START - 1)
    assert event["status"] == "timeout" and event["stopped"] is True
    assert script.polls_sent == 0 and len(script.stops) == 1


def test_a_deadline_without_a_termination_request_reports_not_stopped():
    spec = job_spec(terminate=False)
    script = Script(spec, [reply("RUNNING")])
    event = wait(script, deadline=START + 4)
    assert event["status"] == "timeout" and event["stopped"] is False
    assert script.stops == []


@pytest.mark.parametrize("accepted", [True, False])
def test_max_polls_ends_the_wait_with_polls_exhausted(accepted):
    spec = job_spec(PollSpec(first_delay=1, interval=2, jitter=0, max_polls=3))
    stop = Reply(200, {}, {}) if accepted else AuthError("cancel: 403")
    script = Script(spec, [reply("RUNNING")], stop=stop)
    event = wait(script)
    assert event["status"] == "polls_exhausted"
    assert event["stopped"] is accepted
    assert "3 polls" in event["message"]
    assert script.polls_sent == 3 and len(script.stops) == 1


def test_failed_polls_count_towards_max_polls():
    spec = job_spec(PollSpec(first_delay=1, interval=2, jitter=0, max_polls=3))
    script = Script(spec, [reply("RUNNING"), TransientError("503"), TransientError("503"), reply("DONE")])
    event = wait(script)
    assert event["status"] == "polls_exhausted"
    assert script.polls_sent == 3


# --- the two drivers ----------------------------------------------------------------------------
SCENARIOS = {
    "success": (dict(), [reply("RUNNING"), TransientError("503"), reply("DONE", out=1)], None),
    "failed": (dict(), [reply("RUNNING"), reply("FAILED", error="x")], None),
    "error": (dict(), [reply("RUNNING"), AuthError("403")], None),
    "timeout-stopped": (dict(deadline=START + 6), [reply("RUNNING")], None),
    "timeout-refused": (dict(deadline=START + 6), [reply("RUNNING")], ServiceError("refused")),
    "polls_exhausted": (dict(max_polls=2), [reply("RUNNING")], None),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_run_sync_and_run_async_give_identical_results(name):
    limits, polls, stop = SCENARIOS[name]
    poll = PollSpec(
        first_delay=1, interval=2, backoff=1.5, max_interval=5, jitter=0, max_polls=limits.get("max_polls")
    )
    spec = job_spec(poll)
    deadline = limits.get("deadline")

    sync = Script(spec, polls, stop)
    sync_event = run_sync(
        wait_flow(spec, JOB_ID, deadline, "r", log, clock=sync.clock), sync.send, sync.sleep
    )

    aio = Script(spec, polls, stop)
    aio_event = await run_async(
        wait_flow(spec, JOB_ID, deadline, "r", log, clock=aio.clock), aio.asend, aio.asleep
    )

    assert aio_event == sync_event
    assert aio_event["status"] == name.split("-")[0]
    assert aio.requests == sync.requests
    assert aio.sleeps == sync.sleeps


def test_the_drivers_hand_a_raised_error_to_the_flow_and_other_exceptions_through():
    spec = job_spec()

    def broken(request: RequestSpec) -> Any:
        raise ValueError("a bug, not a RestJobError")

    with pytest.raises(ValueError):
        run_sync(ended_flow(spec), broken)

    async def abroken(request: RequestSpec) -> Any:
        raise ValueError("a bug, not a RestJobError")

    with pytest.raises(ValueError):
        asyncio.run(run_async(ended_flow(spec), abroken, asyncio.sleep))


# --- stop_flow / ended_flow -----------------------------------------------------------------------
def test_stop_flow_reports_whether_the_stop_was_accepted():
    spec = job_spec()
    accepted = Script(spec, [reply("RUNNING")])
    assert run_sync(stop_flow(spec, JOB_ID, "e", "c", log), accepted.send) is True
    assert [r.path for r in accepted.requests] == [f"jobs/{JOB_ID}/cancel"]
    refused = Script(spec, [reply("RUNNING")], stop=ServiceError("not running"))
    assert run_sync(stop_flow(spec, JOB_ID, "e", "c", log), refused.send) is False
    nothing = Script(job_spec(terminate=False), [reply("RUNNING")])
    assert run_sync(stop_flow(nothing.spec, JOB_ID, "e", "c", log), nothing.send) is False
    assert nothing.requests == []


@pytest.mark.parametrize(
    "outcome, ended",
    [
        (reply("DONE"), True),
        (reply("FAILED"), True),
        (reply("RUNNING"), False),
        (reply(None, other=1), False),  # unparsable: unknown
        (TransientError("503"), False),  # unknown
    ],
)
def test_ended_flow(outcome, ended):
    spec = job_spec()
    script = Script(spec, [outcome])
    assert run_sync(ended_flow(spec), script.send) is ended
    assert script.polls_sent == 1


# --- retry_flow ---------------------------------------------------------------------------------
class Attempts:
    def __init__(self, outcomes: list[Any]) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[RequestSpec] = []
        self.sleeps: list[float] = []

    def send(self, request: RequestSpec) -> Any:
        self.sent.append(request)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, RestJobError):
            raise outcome
        return outcome

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


POLICY = RetryPolicy(max_attempts=4, max_elapsed=60, base_delay=0.5, max_delay=3)


def test_retry_flow_retries_retryable_errors_until_a_reply():
    ok = Reply(200, {}, {"ok": True})
    attempts = Attempts([TransientError("503"), RequestTimeoutError("slow"), ok])
    assert run_sync(retry_flow(POLICY, log), attempts.send, attempts.sleep) is ok
    assert attempts.sent == [ATTEMPT] * 3
    # full jitter: attempt n waits uniform(0, min(max_delay, base * 2**n))
    assert len(attempts.sleeps) == 2
    assert 0 <= attempts.sleeps[0] <= 1.0 and 0 <= attempts.sleeps[1] <= 2.0


def test_retry_flow_honours_retry_after():
    ok = Reply(200, {}, {})
    attempts = Attempts([ThrottledError("429", retry_after=2.5), ok])
    assert run_sync(retry_flow(POLICY, log), attempts.send, attempts.sleep) is ok
    assert attempts.sleeps[0] >= 2.5


@pytest.mark.parametrize(
    "error", [AuthError("403"), ServiceError("gone"), RestJobError("bug")], ids=["auth", "service", "base"]
)
def test_retry_flow_gives_up_at_once_on_a_non_retryable_error(error):
    attempts = Attempts([error, Reply(200, {}, {})])
    with pytest.raises(type(error)) as info:
        run_sync(retry_flow(POLICY, log), attempts.send, attempts.sleep)
    assert info.value is error
    assert len(attempts.sent) == 1 and attempts.sleeps == []


def test_retry_flow_gives_up_after_max_attempts_with_the_last_error():
    errors = [TransientError(f"503 #{i}") for i in range(POLICY.max_attempts)]
    attempts = Attempts([*errors, Reply(200, {}, {})])
    with pytest.raises(TransientError) as info:
        run_sync(retry_flow(POLICY, log), attempts.send, attempts.sleep)
    assert info.value is errors[-1]
    assert len(attempts.sent) == POLICY.max_attempts
    assert len(attempts.sleeps) == POLICY.max_attempts - 1


async def test_retry_flow_under_the_async_driver():
    attempts = Attempts([ThrottledError("429"), AuthError("403")])

    async def send(request: RequestSpec) -> Any:
        return attempts.send(request)

    async def sleep(seconds: float) -> None:
        attempts.sleep(seconds)

    with pytest.raises(AuthError):
        await run_async(retry_flow(POLICY, log), send, sleep)
    assert len(attempts.sent) == 2 and len(attempts.sleeps) == 1


def test_wait_flow_yields_a_sleep_then_the_monitoring_request():
    spec = job_spec()
    flow = wait_flow(spec, JOB_ID, None, "", log, clock=lambda: START)
    assert next(flow) == Sleep(pytest.approx(1.0, abs=WAKE_TICK))
    assert flow.send(None) is spec.monitor
    flow.close()


# --- wait_flow in a worker window (before a deferral) -------------------------------------------
def window(script: Script, seconds: float, deadline: float | None = None) -> dict[str, Any]:
    flow = wait_flow(script.spec, JOB_ID, deadline, "max_wait=10s", log, clock=script.clock, window=seconds)
    return run_sync(flow, script.send, script.sleep)


def test_a_job_that_ends_inside_the_window_completes_without_deferring():
    script = Script(job_spec(), [reply("RUNNING"), reply("RUNNING"), reply("DONE", out=1)])
    event = window(script, 5)
    assert event["status"] == "success" and event["response"]["out"] == 1
    assert script.now - START == pytest.approx(3.5, abs=0.2)  # polls at 1, 2, 3.5 s


def test_a_job_still_running_at_the_end_of_the_window_continues():
    script = Script(job_spec(), [reply("RUNNING")])
    event = window(script, 5)
    assert event == {"status": "continue", "job_id": JOB_ID, "polls": 4}
    assert script.polls_sent == 4 and script.stops == [] and script.now - START <= 5.1


def test_the_deadline_inside_the_window_still_stops_the_job():
    script = Script(job_spec(), [reply("RUNNING")])
    event = window(script, 5, deadline=START + 1.5)
    assert event["status"] == "timeout" and len(script.stops) == 1
