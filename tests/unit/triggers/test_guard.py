"""The trigger's cancellation guard (``RestJobTrigger.should_stop``) and what uses it.

The Execution API is faked: ``RuntimeTaskInstance.get_task_states`` and ``XCom.get_one`` (and
``XCom.aget_one`` where the installed Airflow has it - 3.3 does, 3.1 does not) are replaced by
functions that answer from a table and record how they were called. Requests to the job API go to
a recording fake ``send`` (``RestJobTrigger._sender`` is replaced), so nothing leaves the process.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
from airflow.sdk.execution_time.xcom import XCom

from airflow_restjob.errors import RestJobError
from airflow_restjob.hooks.rest_job import RestJobHook
from airflow_restjob.rest_job import step_functions as sfn
from airflow_restjob.rest_job.spec import PollSpec, RequestSpec
from airflow_restjob.transport.common import Reply
from airflow_restjob.triggers.rest_job import RestJobTrigger

ARN = "arn:aws:states:us-east-1:123456789012:execution:sm:dag.task.run.try2"
OTHER_ARN = "arn:aws:states:us-east-1:123456789012:execution:sm:dag.task.run.try3"
RUN_ID = "manual__2026-01-01T00:00:00+00:00"
HAS_AGET_ONE = hasattr(XCom, "aget_one")


def identity(map_index: int = -1, try_number: int = 2) -> dict[str, Any]:
    return {
        "dag_id": "dag",
        "task_id": "task",
        "run_id": RUN_ID,
        "map_index": map_index,
        "try_number": try_number,
    }


def make_trigger(
    task_identity: dict[str, Any] | None = None, poll: PollSpec | None = None, **kwargs: Any
) -> RestJobTrigger:
    spec = sfn.job_spec(ARN, poll or PollSpec(first_delay=1, interval=1, jitter=0))
    return RestJobTrigger(
        conn_id="restjob_default",
        auth_conn_id="restjob_default",
        job_id=ARN,
        spec=spec.to_dict(),
        task_identity=task_identity,
        id_xcom_key="execution_arn",
        **kwargs,
    )


class FakeExecutionApi:
    """``states``: ``{run_id: {key: state}}`` as the Execution API returns it; ``xcoms``:
    ``{(key, task_id, map_index): value}``; ``down``: every call raises (API unreachable)."""

    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}
        self.xcoms: dict[tuple[str, str, int | None], Any] = {}
        self.down: Exception | None = None
        self.state_calls: list[dict[str, Any]] = []
        self.xcom_calls: list[tuple[str, dict[str, Any]]] = []

    def get_task_states(
        self,
        dag_id: str,
        map_index: int | None = None,
        task_ids: list[str] | None = None,
        task_group_id: str | None = None,
        logical_dates: Any = None,
        run_ids: list[str] | None = None,
    ) -> dict[str, Any]:
        self.state_calls.append(
            {"dag_id": dag_id, "map_index": map_index, "task_ids": task_ids, "run_ids": run_ids}
        )
        if self.down:
            raise self.down
        return self.states

    def get_one(self, via: str, **kwargs: Any) -> Any:
        self.xcom_calls.append((via, kwargs))
        if self.down:
            raise self.down
        return self.xcoms.get((kwargs["key"], kwargs["task_id"], kwargs.get("map_index")))


@pytest.fixture()
def api(monkeypatch) -> FakeExecutionApi:
    fake = FakeExecutionApi()
    monkeypatch.setattr(RuntimeTaskInstance, "get_task_states", staticmethod(fake.get_task_states))

    def get_one(
        *, key: str, dag_id: str, task_id: str, run_id: str, map_index: int | None = None, **kw: Any
    ) -> Any:
        return fake.get_one(
            "get_one", key=key, dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=map_index
        )

    monkeypatch.setattr(XCom, "get_one", staticmethod(get_one))
    if HAS_AGET_ONE:  # Airflow >= 3.3: the guard uses the async variant

        async def aget_one(
            *, key: str, dag_id: str, task_id: str, run_id: str, map_index: int | None = None, **kw: Any
        ) -> Any:
            return fake.get_one(
                "aget_one", key=key, dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=map_index
            )

        monkeypatch.setattr(XCom, "aget_one", staticmethod(aget_one))
    return fake


class JobApi:
    """The job API as the trigger sees it through ``_sender``: records every request."""

    def __init__(self, status: str = "RUNNING", stop: Any = None) -> None:
        self.status = status
        self.stop = stop
        self.requests: list[RequestSpec] = []

    def sender(self, hook: Any, spec: Any) -> Any:
        async def send(request: RequestSpec) -> Any:
            self.requests.append(request)
            if request is spec.monitor:
                return Reply(200, {}, {"status": self.status, "executionArn": ARN})
            if isinstance(self.stop, RestJobError):
                raise self.stop
            return Reply(200, {}, {"stopDate": 1.0})

        return send

    @property
    def stops(self) -> list[RequestSpec]:
        return [r for r in self.requests if r.path == sfn.STOP_PATH]


@pytest.fixture()
def job_api(monkeypatch) -> JobApi:
    fake = JobApi()
    monkeypatch.setattr(RestJobTrigger, "_sender", lambda self, hook, spec: fake.sender(hook, spec))

    async def no_connections(self: RestJobHook) -> Any:  # nothing may read a connection either
        raise AssertionError("the trigger asked for a client")

    monkeypatch.setattr(RestJobHook, "aclient", no_connections)
    return fake


# --- should_stop --------------------------------------------------------------------------------
async def test_no_task_identity_means_stop(api):
    stop, why = await make_trigger(None).should_stop()
    assert stop is True and "no task identity" in why
    assert api.state_calls == [] and api.xcom_calls == []


@pytest.mark.parametrize(
    "state, shown",
    [("failed", "failed"), ("success", "success"), ("up_for_retry", "up_for_retry"), (None, "cleared")],
)
async def test_a_task_no_longer_deferred_means_stop_naming_the_state(api, state, shown):
    api.states = {RUN_ID: {"task": state}}
    api.xcoms[("execution_arn", "task", -1)] = ARN  # even our own id: the state decides
    stop, why = await make_trigger(identity()).should_stop()
    assert stop is True
    assert f"now {shown}" in why and "try 2" in why
    assert api.state_calls == [{"dag_id": "dag", "map_index": -1, "task_ids": ["task"], "run_ids": [RUN_ID]}]
    assert api.xcom_calls == []  # the XCom is only read for a deferred task


async def test_a_task_missing_from_the_answer_counts_as_cleared(api):
    api.states = {}
    stop, why = await make_trigger(identity()).should_stop()
    assert stop is True and "cleared" in why


@pytest.mark.parametrize("deferred", ["deferred", "DEFERRED_ENUM"])
async def test_still_deferred_on_our_job_means_do_not_stop(api, deferred):
    from airflow.utils.state import TaskInstanceState

    state = TaskInstanceState.DEFERRED if deferred == "DEFERRED_ENUM" else deferred
    api.states = {RUN_ID: {"task": state}}
    api.xcoms[("execution_arn", "task", -1)] = ARN
    stop, why = await make_trigger(identity()).should_stop()
    assert stop is False and "still deferred on this job" in why
    ((via, kwargs),) = api.xcom_calls
    assert via == ("aget_one" if HAS_AGET_ONE else "get_one")
    assert kwargs == {
        "key": "execution_arn",
        "dag_id": "dag",
        "task_id": "task",
        "run_id": RUN_ID,
        "map_index": -1,
    }


async def test_still_deferred_but_a_newer_try_owns_another_job_means_stop_naming_it(api):
    api.states = {RUN_ID: {"task": "deferred"}}
    api.xcoms[("execution_arn", "task", -1)] = OTHER_ARN
    stop, why = await make_trigger(identity(try_number=2)).should_stop()
    assert stop is True
    assert "newer try" in why and OTHER_ARN in why


async def test_the_guard_reads_the_xcom_key_it_was_given(api):
    api.states = {RUN_ID: {"task": "deferred"}}
    api.xcoms[("job_id", "task", -1)] = ARN  # RestJobOperator records its id under "job_id"
    trigger = make_trigger(identity())
    trigger.id_xcom_key = "job_id"
    assert (await trigger.should_stop())[0] is False
    trigger.id_xcom_key = "execution_arn"  # nothing recorded there
    assert (await trigger.should_stop())[0] is True


async def test_a_mapped_task_is_looked_up_as_task_id_mapindex(api):
    # the Execution API keys mapped instances "<task_id>_<map_index>"; the unmapped key is a decoy
    api.states = {RUN_ID: {"task_3": "deferred", "task": "failed"}}
    api.xcoms[("execution_arn", "task", 3)] = ARN
    api.xcoms[("execution_arn", "task", -1)] = OTHER_ARN
    stop, why = await make_trigger(identity(map_index=3)).should_stop()
    assert stop is False, why
    assert api.state_calls[0]["map_index"] == 3
    assert api.xcom_calls[0][1]["map_index"] == 3


async def test_a_mapped_task_that_was_marked_failed_is_stopped(api):
    api.states = {RUN_ID: {"task_3": "failed", "task": "deferred", "task_4": "deferred"}}
    api.xcoms[("execution_arn", "task", 3)] = ARN
    stop, why = await make_trigger(identity(map_index=3)).should_stop()
    assert stop is True and "failed" in why


# --- _guarded_stop: the guard's fallback ------------------------------------------------------------
async def guarded_stop(trigger: RestJobTrigger, default_stop: bool) -> None:
    from airflow_restjob.rest_job.spec import JobSpec

    await trigger._guarded_stop(trigger.hook(), JobSpec.from_dict(trigger.spec), "user action", default_stop)


async def test_guarded_stop_stops_when_the_execution_api_is_unreachable_and_the_default_is_stop(api, job_api):
    api.down = ConnectionError("execution API unreachable")
    await guarded_stop(make_trigger(identity()), default_stop=True)
    assert api.state_calls  # the guard was asked ...
    (stop,) = job_api.stops  # ... failed, and the default (stop) was used
    assert stop.body["executionArn"] == ARN
    assert stop.body["error"] == "airflow-restjob: task cancelled"
    assert "task state unknown (ConnectionError: execution API unreachable)" in stop.body["cause"]


async def test_guarded_stop_does_not_stop_when_the_execution_api_is_unreachable_and_the_default_is_keep(
    api, job_api
):
    api.down = ConnectionError("execution API unreachable")
    await guarded_stop(make_trigger(identity()), default_stop=False)
    assert api.state_calls
    assert job_api.requests == []


async def test_guarded_stop_follows_the_guard_when_it_answers(api, job_api):
    api.states = {RUN_ID: {"task": "deferred"}}
    api.xcoms[("execution_arn", "task", -1)] = ARN
    await guarded_stop(
        make_trigger(identity()), default_stop=True
    )  # the guard says no: the default is unused
    assert job_api.requests == []
    api.states = {RUN_ID: {"task": "failed"}}
    await guarded_stop(make_trigger(identity()), default_stop=False)  # the guard says stop
    (stop,) = job_api.stops
    assert "user action: the task is now failed" in stop.body["cause"]


async def test_guarded_stop_skips_a_job_that_has_already_ended(api, job_api):
    job_api.status = "SUCCEEDED"
    await guarded_stop(make_trigger(None), default_stop=True)
    assert [r.path for r in job_api.requests] == [sfn.DESCRIBE_PATH]


# --- on_kill ------------------------------------------------------------------------------------------
async def test_on_kill_stops_the_job(api, job_api):
    api.states = {RUN_ID: {"task": "success"}}
    await make_trigger(identity()).on_kill()
    assert len(job_api.stops) == 1


async def test_on_kill_does_nothing_after_the_final_event(api, job_api):
    trigger = make_trigger(identity(), poll=PollSpec(first_delay=0, interval=1, jitter=0))
    job_api.status = "SUCCEEDED"
    events = trigger.run()
    event = await asyncio.wait_for(events.__anext__(), 5)
    await events.aclose()
    assert event.payload["status"] == "success" and event.payload["job_id"] == ARN
    assert trigger._finished is True
    job_api.requests.clear()
    job_api.status = "RUNNING"
    api.states = {RUN_ID: {"task": "success"}}  # the guard would say stop
    await trigger.on_kill()
    assert job_api.requests == [] and api.state_calls == []


async def test_on_kill_does_nothing_when_finished_flag_is_set(api, job_api):
    trigger = make_trigger(None)  # no identity: the guard would always say stop
    trigger._finished = True
    await trigger.on_kill()
    assert job_api.requests == []


async def test_on_kill_does_nothing_with_stop_on_kill_false(api, job_api):
    trigger = make_trigger(None, stop_on_kill=False)
    await trigger.on_kill()
    assert job_api.requests == [] and api.state_calls == []


async def test_on_kill_does_not_stop_a_job_the_task_still_waits_on(api, job_api):
    api.states = {RUN_ID: {"task": "deferred"}}
    api.xcoms[("execution_arn", "task", -1)] = ARN
    await make_trigger(identity()).on_kill()
    assert job_api.requests == []
