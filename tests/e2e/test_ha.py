"""High availability and restarts: a REAL Airflow on PostgreSQL (a throw-away LocalPostgres) with
two triggerers and a low triggerer health threshold, against the embedded sandbox.

DAGs: tests/e2e/dags/ha_jobs.py (``ha_mapped``: four mapped Step Functions jobs of
``conf.wait_seconds``; ``ha_simple``: one short job). One Airflow serves every test here.

* SIGKILL the triggerer that holds the running triggers: the other one adopts them, every task
  succeeds, one execution per try, no StopExecution.
* SIGSTOP a triggerer past the threshold (its triggers move), then SIGCONT it: the old triggerer
  cancels the moved triggers (Airflow 3.3 calls on_kill; 3.1 cancels run()); our guard must not
  stop executions the new triggerer watches - all SUCCEED, no StopExecution.
* Restart the scheduler and the api-server while the tasks are deferred: nothing is lost.

Measured values are printed (run pytest with ``-s`` to see them) and recorded as properties.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from airflow_restjob.rest_job import step_functions as sfn
from tests.e2e.waiting import wait_until
from tests.harness.local_airflow import LocalAirflow, RestApiClient, RestApiError

DAGS_FOLDER = (Path(__file__).parent / "dags").absolute()
DAG_ID = "ha_mapped"
MAPPED = 4
THRESHOLD = 10  # [triggerer] triggerer_health_check_threshold, seconds
SUCCEED = "arn:aws:states:us-east-1:123456789012:stateMachine:succeed"


@pytest.fixture
def af(airflow_pool, sandbox, request) -> LocalAirflow:
    """PostgreSQL, two triggerers, threshold 10 s; components reach the sandbox as restjob_default."""
    started = len(airflow_pool.started)
    af = airflow_pool.get(
        dags_folder=DAGS_FOLDER,
        database="postgres",
        triggerers=2,
        triggerer_health_check_threshold=THRESHOLD,
        env={"AIRFLOW_CONN_RESTJOB_DEFAULT": sandbox.connection_json()},
    )
    if len(airflow_pool.started) > started:  # started just now: "all healthy" is now
        af._ha_fresh = True  # type: ignore[attr-defined]
    request.node._local_airflow = af  # component log tails in the failure report
    for name in af.triggerer_names:  # an earlier test may have left one dead
        if not af.is_running(name):
            af.start_component(name)
    return af


# ------------------------------------------------------------------------------------- helpers


def trigger(api: RestApiClient, tag: str, wait_seconds: int) -> str:
    api.wait_for_dag(DAG_ID, timeout=180)
    api.unpause(DAG_ID)
    run_id = f"ha_{tag}_{uuid.uuid4().hex[:8]}"  # no characters the execution name would replace
    api.trigger(DAG_ID, run_id=run_id, conf={"wait_seconds": wait_seconds})
    return run_id


def mapped_tis(api: RestApiClient, run_id: str) -> dict[int, dict]:
    return {ti["map_index"]: ti for ti in api.task_instances(DAG_ID, run_id) if ti["task_id"] == "run"}


def xcom_arn(api: RestApiClient, run_id: str, map_index: int) -> str | None:
    try:
        return api.xcom(DAG_ID, run_id, "run", "execution_arn", map_index=map_index)
    except RestApiError:
        return None


def polled_since(sandbox, arn: str, since: float) -> bool:
    return any(
        r["resource"] == "describe-execution" and r["execution_arn"] == arn and r["time"] > since
        for r in sandbox.request_log()
    )


def wait_all_polled(api: RestApiClient, sandbox, run_id: str) -> dict[int, str]:
    """Every mapped task deferred, its ARN in XCom, its trigger polling: {map_index: arn}."""

    def deferred():
        tis = mapped_tis(api, run_id)
        return len(tis) == MAPPED and all(ti["state"] == "deferred" for ti in tis.values()) and tis

    wait_until(deferred, 240, f"{MAPPED} deferred tasks of {run_id}", interval=1)
    arns = {i: wait_until(lambda i=i: xcom_arn(api, run_id, i), 60, f"ARN of [{i}]") for i in range(MAPPED)}
    for arn in arns.values():
        wait_until(lambda arn=arn: polled_since(sandbox, arn, 0), 90, f"first DescribeExecution of {arn}")
    return arns


def holders(api: RestApiClient, run_id: str) -> dict[int, int | None]:
    """{map_index: triggerer job id} of the tasks still deferred."""
    return {
        i: (ti.get("trigger") or {}).get("triggerer_id")
        for i, ti in mapped_tis(api, run_id).items()
        if ti["state"] == "deferred"
    }


def job_ids(af: LocalAirflow) -> dict[str, int]:
    return {name: job["id"] for name, job in af.triggerer_jobs().items()}


def busiest_triggerer(af: LocalAirflow, api: RestApiClient, run_id: str) -> tuple[str, str, dict[int, int]]:
    """(triggerer holding most of the run's triggers, the other one, {map_index: job id})."""
    held = wait_until(
        lambda: (h := holders(api, run_id)) and all(h.values()) and len(h) == MAPPED and h,
        60,
        "every trigger assigned to a triggerer",
    )
    by_job = Counter(held.values())
    job, _ = by_job.most_common(1)[0]
    name = af.triggerer_of_job(job)
    assert name is not None, (job, job_ids(af))
    other = next(n for n in af.triggerer_names if n != name)
    print(f"triggers of {run_id}: {dict(held)} (jobs {job_ids(af)}); {name} holds {by_job[job]}")
    return name, other, held


def wait_moved_to(api: RestApiClient, run_id: str, job_id: int, timeout: float, since: float) -> float:
    """Wait until every still-deferred trigger of the run is held by ``job_id``; return the seconds
    since ``since`` (epoch)."""
    wait_until(
        lambda: all(j == job_id for j in holders(api, run_id).values()),
        timeout,
        f"the triggers of {run_id} held by triggerer job {job_id}",
    )
    return time.time() - since


def assert_one_execution_per_try(api: RestApiClient, sandbox, run_id: str) -> None:
    """The run's tasks succeeded on their first try, each with exactly one execution (listed by
    Step Functions and started once), all SUCCEEDED and never stopped."""
    tis = mapped_tis(api, run_id)
    assert {i: (ti["state"], ti["try_number"]) for i, ti in tis.items()} == {
        i: ("success", 1) for i in range(MAPPED)
    }
    expected = {sfn.derive_name(DAG_ID, "run", run_id, i, 1) for i in range(MAPPED)}
    executions = [e for e in sandbox.list_executions(SUCCEED) if run_id in e["name"]]
    assert Counter(e["name"] for e in executions) == Counter(expected), executions
    starts = Counter(
        (r.get("body") or {}).get("name")
        for r in sandbox.request_log()
        if r["resource"] == "start-execution" and run_id in str((r.get("body") or {}).get("name"))
    )
    assert starts == Counter(expected), starts
    for e in executions:
        assert e["status"] == "SUCCEEDED", e
        assert sandbox.stops_for(e["executionArn"]) == [], e
    for i in range(MAPPED):
        assert api.xcom(DAG_ID, run_id, "run", map_index=i)["job"] == i


def guard_decisions(af: LocalAirflow, arns: set[str], since: float) -> dict[str, str]:
    """{arn: the trigger's "Not stopping ..." / "Stopping ..." log line} for these executions, from
    every log under home/logs (trigger logs go to ``<task log>.trigger.<job id>.log``) written
    after ``since`` (epoch seconds)."""
    found: dict[str, str] = {}
    for path in af.logs_dir.rglob("*"):
        if not path.is_file() or path.stat().st_mtime < since:
            continue
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            if "Not stopping " not in line and "Stopping " not in line:
                continue
            for arn in arns:
                if arn in line:
                    found[arn] = f"{path.name}: {line.strip()[:300]}"
    return found


# --------------------------------------------------------------------------------------- tests
def test_simple_run_from_healthy_to_success(af, sandbox, record_property):
    """The reference timing: all components healthy -> a one-task REST job DAG run succeeds."""
    api = af.client
    t0 = time.monotonic()
    api.wait_for_dag("ha_simple", timeout=180)
    t_parsed = time.monotonic()
    api.unpause("ha_simple")
    run_id = api.trigger("ha_simple")
    run = api.wait_run("ha_simple", run_id, timeout=180)
    t_done = time.monotonic()
    assert run["state"] == "success", api.task_states("ha_simple", run_id)
    arn = api.xcom("ha_simple", run_id, "run", "execution_arn")
    assert sandbox.describe_execution(arn)["status"] == "SUCCEEDED"
    fresh = getattr(af, "_ha_fresh", False)
    af._ha_fresh = False  # type: ignore[attr-defined]
    msg = (
        f"{'fresh' if fresh else 'reused'} Airflow (postgres, 2 triggerers): start->healthy "
        f"{af.timings.get('start_to_healthy', float('nan')):.1f}s; healthy->DAG parsed {t_parsed - t0:.1f}s; "
        f"trigger->success {t_done - t_parsed:.1f}s (execution 4 s, first poll after 6 s); "
        f"healthy->run success {t_done - t0:.1f}s"
    )
    print(msg)
    record_property("healthy_to_success_s", round(t_done - t0, 1))
    record_property("trigger_to_success_s", round(t_done - t_parsed, 1))


def test_sigkill_triggerer_holding_triggers_others_adopt(af, sandbox, record_property):
    api = af.client
    run_id = trigger(api, "kill", wait_seconds=40)
    arns = wait_all_polled(api, sandbox, run_id)
    victim, survivor, _ = busiest_triggerer(af, api, run_id)
    survivor_job = job_ids(af)[survivor]
    try:
        t_kill = time.time()
        af.kill(victim, signal.SIGKILL)
        adopted = wait_moved_to(api, run_id, survivor_job, timeout=150, since=t_kill)
        print(
            f"SIGKILL {victim}: its triggers adopted by {survivor} after {adopted:.1f}s (threshold {THRESHOLD}s)"
        )
        record_property("sigkill_adoption_s", round(adopted, 1))
        for arn in arns.values():  # the survivor polls every execution
            wait_until(
                lambda arn=arn: polled_since(sandbox, arn, t_kill), 120, f"poll of {arn} after the kill"
            )
        run = api.wait_run(DAG_ID, run_id, timeout=240)
        assert run["state"] == "success", api.task_states(DAG_ID, run_id)
        assert_one_execution_per_try(api, sandbox, run_id)
    finally:
        af.start_component(victim)


def test_frozen_triggerer_resumed_does_not_stop_moved_executions(af, sandbox, record_property):
    api = af.client
    run_id = trigger(api, "freeze", wait_seconds=75)
    arns = wait_all_polled(api, sandbox, run_id)
    frozen, other, held = busiest_triggerer(af, api, run_id)
    other_job, frozen_job = job_ids(af)[other], job_ids(af)[frozen]
    moved_arns = {arns[i] for i, job in held.items() if job == frozen_job}
    t_freeze = time.time()
    af.pause(frozen)
    try:
        moved = wait_moved_to(api, run_id, other_job, timeout=150, since=t_freeze)
        print(f"SIGSTOP {frozen}: its triggers reassigned to {other} after {moved:.1f}s")
        record_property("sigstop_reassign_s", round(moved, 1))
        for arn in arns.values():
            wait_until(lambda arn=arn: polled_since(sandbox, arn, t_freeze), 120, f"{other} polling {arn}")
        statuses = {i: sandbox.describe_execution(a)["status"] for i, a in arns.items()}
        assert set(statuses.values()) == {"RUNNING"}, f"executions ended before the resume: {statuses}"
    finally:
        t_resume = time.time()
        af.resume(frozen)
    # The resumed triggerer finds the moved triggers gone and cancels them (3.3: on_kill; 3.1:
    # CancelledError in run()): the guard decides for each one - it must skip the stop.
    lines = wait_until(
        lambda: (found := guard_decisions(af, moved_arns, t_freeze)).keys() == moved_arns and found,
        90,
        f"the guard's decision in the resumed {frozen} for {sorted(moved_arns)}",
        interval=1,
    )
    print(f"resumed {frozen}; guard decisions found {time.time() - t_resume:.1f}s later:")
    for _arn, line in sorted(lines.items()):
        print(f"  {line}")
    assert all("Not stopping" in line for line in lines.values()), lines
    time.sleep(2)
    assert all(sandbox.stops_for(a) == [] for a in arns.values()), {
        a: sandbox.stops_for(a) for a in arns.values()
    }
    run = api.wait_run(DAG_ID, run_id, timeout=240)
    assert run["state"] == "success", api.task_states(DAG_ID, run_id)
    assert_one_execution_per_try(api, sandbox, run_id)
    # both triggerers alive again
    wait_until(lambda: set(af.triggerer_jobs()) == set(af.triggerer_names), 60, "both triggerers alive")


def test_restart_scheduler_and_api_server_mid_run(af, sandbox):
    api = af.client
    run_id = trigger(api, "restart", wait_seconds=75)  # outlives both restarts on a loaded machine
    wait_all_polled(api, sandbox, run_id)
    old = {n: af.processes[n].pid for n in ("scheduler", "api-server")}
    af.restart_component("scheduler")
    af.restart_component("api-server")
    assert all(af.processes[n].pid != pid for n, pid in old.items())
    run = api.wait_run(DAG_ID, run_id, timeout=240)
    assert run["state"] == "success", api.task_states(DAG_ID, run_id)
    assert_one_execution_per_try(api, sandbox, run_id)
