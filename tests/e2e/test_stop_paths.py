"""Every cancellation path through a REAL Airflow (api-server, scheduler, dag-processor, triggerer;
SQLite; LocalExecutor) driven by the REST API v2, against the embedded sandbox.

Each test asserts from the sandbox's request log that StopExecution was (or was not) sent for the
execution's ARN and what Step Functions reports afterwards (ABORTED, or still RUNNING).
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.waiting import wait_until
from tests.harness.local_airflow import LocalAirflow, RestApiClient


@pytest.fixture
def af(airflow_sandbox) -> LocalAirflow:
    return airflow_sandbox


def start(api: RestApiClient, dag_id: str, state: str = "deferred", sandbox=None) -> tuple[str, str]:
    """Trigger ``dag_id``, wait until its task is in ``state`` with an execution ARN in XCom and,
    given the sandbox, until that execution is being polled (the triggerer runs the trigger: a
    cancellation before the triggerer has loaded the trigger cannot reach any code of ours)."""
    api.wait_for_dag(dag_id, timeout=120)
    api.unpause(dag_id)
    run_id = api.trigger(dag_id)
    api.wait_task_state(dag_id, run_id, "run", state, timeout=120)
    arn = wait_until(lambda: _xcom(api, dag_id, run_id, "execution_arn"), 60, "the execution ARN in XCom")
    if sandbox is not None:
        wait_until(lambda: polled(sandbox, arn), 60, f"the first DescribeExecution of {arn}")
    return run_id, arn


def polled(sandbox, arn: str, since: float = 0.0) -> bool:
    return any(
        r["resource"] == "describe-execution" and r["execution_arn"] == arn and r["time"] > since
        for r in sandbox.request_log()
    )


def _xcom(api: RestApiClient, dag_id: str, run_id: str, key: str):
    try:
        return api.xcom(dag_id, run_id, "run", key)
    except Exception:
        return None


def assert_stopped(sandbox, arn: str, timeout: float = 45.0, cause_contains: str = "") -> dict:
    stops = wait_until(lambda: sandbox.stops_for(arn), timeout, f"StopExecution for {arn}")
    assert stops[0]["status"] == 200
    assert stops[0]["body"]["error"].startswith("airflow-restjob")
    assert cause_contains in stops[0]["body"]["cause"], stops[0]["body"]
    wait_until(lambda: sandbox.describe_execution(arn)["status"] == "ABORTED", 20, f"{arn} ABORTED")
    return stops[0]


def assert_not_stopped(sandbox, arn: str, observe: float = 8.0) -> None:
    time.sleep(observe)
    assert sandbox.stops_for(arn) == []
    assert sandbox.describe_execution(arn)["status"] == "RUNNING"


def cleanup(sandbox, arn: str) -> None:
    from airflow_restjob.hooks.rest_job import RestJobHook

    if sandbox.describe_execution(arn)["status"] == "RUNNING":
        RestJobHook().post("stop-execution", {"executionArn": arn})


@pytest.fixture
def restjob_env(sandbox, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_RESTJOB_DEFAULT", sandbox.connection_json())


def test_success_through_scheduler_and_triggerer(af, sandbox):
    api = af.client
    api.wait_for_dag("e2e_sfn_succeed")
    api.unpause("e2e_sfn_succeed")
    run_id = api.trigger("e2e_sfn_succeed")
    run = api.wait_run("e2e_sfn_succeed", run_id, timeout=120)
    assert run["state"] == "success", api.task_states("e2e_sfn_succeed", run_id)
    assert api.xcom("e2e_sfn_succeed", run_id, "run") == {"run": run_id, "result": "ok"}
    arn = api.xcom("e2e_sfn_succeed", run_id, "run", "execution_arn")
    assert sandbox.describe_execution(arn)["status"] == "SUCCEEDED" and sandbox.stops_for(arn) == []
    log = api.task_log("e2e_sfn_succeed", run_id, "run", 1)
    assert arn in log and "SUCCEEDED" in log


@pytest.mark.parametrize("new_state", ["failed", "success"])
def test_mark_deferred_task_stops_execution(af, sandbox, new_state):
    api = af.client
    run_id, arn = start(api, "e2e_sfn_long", sandbox=sandbox)
    assert sandbox.describe_execution(arn)["status"] == "RUNNING"
    api.set_task_state("e2e_sfn_long", run_id, "run", new_state)
    assert_stopped(sandbox, arn)


def test_clear_deferred_task_stops_old_execution_but_not_the_new_one(af, sandbox, restjob_env):
    api = af.client
    run_id, old_arn = start(api, "e2e_sfn_long", sandbox=sandbox)
    api.clear_task("e2e_sfn_long", run_id, ["run"])
    assert_stopped(sandbox, old_arn)
    new_arn = wait_until(
        lambda: (a := _xcom(api, "e2e_sfn_long", run_id, "execution_arn")) not in (None, old_arn) and a,
        120,
        "the new try's execution",
    )
    api.wait_task_state("e2e_sfn_long", run_id, "run", "deferred", timeout=120)
    wait_until(lambda: polled(sandbox, new_arn), 60, "the new execution being polled")
    assert_not_stopped(sandbox, new_arn)
    api.set_task_state("e2e_sfn_long", run_id, "run", "failed")
    assert_stopped(sandbox, new_arn)


def test_triggerer_restart_does_not_stop_and_polling_resumes(af, sandbox, restjob_env):
    api = af.client
    run_id, arn = start(api, "e2e_sfn_long", sandbox=sandbox)
    triggerer = af.triggerer_names[0]
    af.stop_component(triggerer)
    af.start_component(triggerer)
    restarted = time.time()
    wait_until(lambda: polled(sandbox, arn, since=restarted), 90, "polling of the same ARN after the restart")
    assert sandbox.stops_for(arn) == []
    assert api.task_instance("e2e_sfn_long", run_id, "run")["state"] == "deferred"
    api.set_task_state("e2e_sfn_long", run_id, "run", "failed")
    assert_stopped(sandbox, arn)


@pytest.mark.parametrize("action", ["failed", "clear"])
def test_worker_mode_cancel_stops_via_on_kill(af, sandbox, action, restjob_env):
    api = af.client
    run_id, arn = start(api, "e2e_sfn_long_worker", state="running", sandbox=sandbox)
    if action == "clear":
        api.clear_task("e2e_sfn_long_worker", run_id, ["run"])
    else:
        api.set_task_state("e2e_sfn_long_worker", run_id, "run", "failed")
    assert_stopped(sandbox, arn, cause_contains="on_kill")
    if action == "clear":  # the cleared task runs again with a new execution: clean it up
        new_arn = wait_until(
            lambda: (
                (a := _xcom(api, "e2e_sfn_long_worker", run_id, "execution_arn")) not in (None, arn) and a
            ),
            120,
            "the new try's execution",
        )
        api.set_task_state("e2e_sfn_long_worker", run_id, "run", "failed")
        assert_stopped(sandbox, new_arn)


def test_worker_sigterm_stops_via_on_kill(af, sandbox, restjob_env):
    """A worker shutdown: SIGTERM reaches the task process, whose handler calls on_kill."""
    import signal

    import psutil

    api = af.client
    run_id, arn = start(api, "e2e_sfn_long_worker", state="running", sandbox=sandbox)
    ti_id = api.task_instance("e2e_sfn_long_worker", run_id, "run")["id"]

    def task_processes():
        found = []
        for proc in psutil.process_iter(["pid", "cmdline"]):
            cmdline = " ".join(proc.info["cmdline"] or [])
            if ti_id in cmdline and "airflow worker" in cmdline:
                found.append(proc)
        return found

    procs = wait_until(task_processes, 30, f"the process of task instance {ti_id}")
    # the innermost one runs the task (3.3: the task process; 3.1: the executor's supervisor)
    target = max(procs, key=lambda p: len(p.parents()))
    target.send_signal(signal.SIGTERM)
    assert_stopped(sandbox, arn, cause_contains="on_kill")


def test_execution_timeout_is_enforced_while_deferred(af, sandbox):
    api = af.client
    run_id, arn = start(api, "e2e_sfn_exec_timeout", sandbox=sandbox)
    assert_stopped(sandbox, arn, timeout=60, cause_contains="execution_timeout")
    ti = api.wait_task_state("e2e_sfn_exec_timeout", run_id, "run", ["failed", "up_for_retry"], timeout=60)
    assert ti["state"] in ("failed", "up_for_retry")


def test_trigger_deadline_stops_execution(af, sandbox):
    api = af.client
    run_id, arn = start(api, "e2e_sfn_max_wait", sandbox=sandbox)
    assert_stopped(sandbox, arn, timeout=60, cause_contains="max_wait")
    api.wait_task_state("e2e_sfn_max_wait", run_id, "run", ["failed", "up_for_retry"], timeout=60)


def test_deferral_timeout_without_triggerer_stops_via_resume(af, sandbox, restjob_env):
    """No triggerer runs the trigger: the scheduler times the deferral out (__fail__) and
    resume_execution in a worker stops the execution."""
    api = af.client
    triggerer = af.triggerer_names[0]
    af.stop_component(triggerer)
    try:
        run_id, arn = start(api, "e2e_sfn_max_wait")
        assert_stopped(sandbox, arn, timeout=90, cause_contains="")
        stop = sandbox.stops_for(arn)[0]
        assert stop["body"]["error"] == "airflow-restjob: deferral timeout", stop
    finally:
        af.start_component(triggerer)
