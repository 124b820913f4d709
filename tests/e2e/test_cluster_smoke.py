"""Smoke tests of the local-Airflow machinery: a real api-server, scheduler, dag-processor and
triggerer(s), driven through the REST API v2 (DAGs in tests/e2e/dags/e2e_smoke.py)."""

from __future__ import annotations

import signal
import time

import pytest

from tests.harness.local_airflow import LocalAirflow, RestApiClient


def _run_smoke_dag(api: RestApiClient) -> tuple[str, float]:
    api.wait_for_dag("e2e_smoke", timeout=120)
    api.unpause("e2e_smoke")
    t0 = time.monotonic()
    run_id = api.trigger("e2e_smoke", conf={"from": "test"})
    run = api.wait_run("e2e_smoke", run_id, timeout=180)
    elapsed = time.monotonic() - t0
    assert run["state"] == "success", api.task_states("e2e_smoke", run_id)
    return run_id, elapsed


def test_run_to_success_with_xcom_and_log(airflow: LocalAirflow, record_property) -> None:
    api = airflow.client
    health = api.health()
    assert all(
        health[k]["status"] == "healthy" for k in ("metadatabase", "scheduler", "triggerer", "dag_processor")
    )

    run_id, elapsed = _run_smoke_dag(api)
    record_property("start_to_healthy_s", round(airflow.timings["start_to_healthy"], 1))
    record_property("trigger_to_success_s", round(elapsed, 1))
    print(f"start->healthy {airflow.timings['start_to_healthy']:.1f}s, trigger->success {elapsed:.1f}s")

    assert api.xcom("e2e_smoke", run_id, "compute") == {"answer": 42, "items": [1, 2, 3]}
    assert api.task_states("e2e_smoke", run_id) == {"echo": "success", "compute": "success"}
    text = api.task_log("e2e_smoke", run_id, "echo", 1)
    assert f"hello from e2e_smoke {run_id}" in text, text

    # timetable summary is readable (None-schedule DAG)
    dag = api.dag("e2e_smoke")
    assert dag["dag_id"] == "e2e_smoke" and dag["is_paused"] is False
    assert run_id in [r["dag_run_id"] for r in api.dag_runs("e2e_smoke")]


def test_mark_failed_kills_running_task_and_clear_retries(airflow: LocalAirflow) -> None:
    api = airflow.client
    api.wait_for_dag("e2e_long")
    api.unpause("e2e_long")
    run_id = api.trigger("e2e_long")
    ti = api.wait_task_state("e2e_long", run_id, "sleep", "running", timeout=120)
    assert ti["try_number"] == 1

    api.set_task_state("e2e_long", run_id, "sleep", "failed")
    assert api.task_instance("e2e_long", run_id, "sleep")["state"] == "failed"
    run = api.wait_run("e2e_long", run_id, timeout=60)
    assert run["state"] == "failed"
    # the worker learns it on its next heartbeat and kills the task process (sleep 600)
    _wait_no_process(airflow, "sleep 600", timeout=40)
    assert "started" in api.task_log("e2e_long", run_id, "sleep", 1)

    # clear -> a new try runs
    api.clear_task("e2e_long", run_id, ["sleep"])
    ti = api.wait_task_state("e2e_long", run_id, "sleep", "running", timeout=120)
    assert ti["try_number"] == 2
    api.set_task_state("e2e_long", run_id, "sleep", "success")
    assert api.wait_run("e2e_long", run_id, timeout=60)["state"] == "success"
    _wait_no_process(airflow, "sleep 600", timeout=40)


def test_clear_successful_task_reruns_it(airflow: LocalAirflow) -> None:
    api = airflow.client
    run_id, _ = _run_smoke_dag(api)
    api.clear_task("e2e_smoke", run_id, "compute")
    run = api.wait_run("e2e_smoke", run_id, timeout=120)
    assert run["state"] == "success"
    ti = api.task_instance("e2e_smoke", run_id, "compute")
    assert ti["state"] == "success" and ti["try_number"] == 2
    assert api.task_instance("e2e_smoke", run_id, "echo")["try_number"] == 1


def test_restart_scheduler_and_api_server(airflow: LocalAirflow) -> None:
    api = airflow.client
    old = {n: airflow.processes[n].pid for n in ("scheduler", "api-server")}
    assert airflow.stop_component("scheduler") is not None
    assert not airflow.is_running("scheduler")
    airflow.start_component("scheduler")  # waits until its new job is alive
    airflow.start_component("api-server")  # a restart: stops the running one first
    assert {n: airflow.processes[n].pid for n in old} != old
    assert api.health()["scheduler"]["status"] == "healthy"  # same token still valid (same JWT secret)
    _run_smoke_dag(api)


def test_connections_roundtrip(airflow: LocalAirflow) -> None:
    api = airflow.client
    api.create_connection("e2e_http", "http", host="127.0.0.1", port=1234, extra={"a": 1}, replace=True)
    conn = api.get_connection("e2e_http")
    assert conn["host"] == "127.0.0.1" and conn["port"] == 1234
    api.delete_connection("e2e_http")
    api.delete_connection("e2e_http", missing_ok=True)
    api.set_variable("e2e_var", {"a": 1})
    api.set_variable("e2e_var", "two")
    assert api.get_json("variables/e2e_var")["value"] == "two"
    assert api.version()["version"].startswith("3.")
    assert api.dag_details("e2e_smoke")["dag_id"] == "e2e_smoke"


def _wait_no_process(airflow: LocalAirflow, needle: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        left = []
        for p in [p for name in airflow.component_names for p in airflow.component_processes(name)]:
            try:
                if needle in " ".join(p.cmdline()):
                    left.append(p.pid)
            except Exception:
                continue
        if not left:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"process {needle!r} still running after {timeout}s: {left}")
        time.sleep(0.5)


def _alive(p) -> bool:
    try:
        return p.is_running() and p.status() != "zombie"
    except Exception:  # gone meanwhile
        return False


def _alive_triggerers(airflow: LocalAirflow) -> set[str]:
    return set(airflow.triggerer_jobs())


def _wait(what: str, cond, timeout: float) -> float:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.5)
    return time.monotonic() - t0


@pytest.mark.airflow_config(database="postgres", triggerers=2, triggerer_health_check_threshold=8)
def test_postgres_two_triggerers_pause_resume_kill(airflow: LocalAirflow) -> None:
    api = airflow.client
    assert airflow.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    print(f"postgres: start->healthy {airflow.timings['start_to_healthy']:.1f}s")
    assert _alive_triggerers(airflow) == {"triggerer-1", "triggerer-2"}
    _run_smoke_dag(api)

    # freeze one triggerer: its job stops heartbeating and is reported dead after the threshold
    airflow.pause("triggerer-1")
    took = _wait("triggerer-1 dead", lambda: _alive_triggerers(airflow) == {"triggerer-2"}, 40)
    print(f"paused triggerer-1 reported dead after {took:.1f}s")
    assert api.health()["triggerer"]["status"] == "healthy"  # the other one is alive

    # a deferrable task runs through the remaining triggerer
    api.wait_for_dag("e2e_deferred")
    api.unpause("e2e_deferred")
    run_id = api.trigger("e2e_deferred")
    ti = api.wait_task_state("e2e_deferred", run_id, "wait", "deferred", timeout=60)
    assert api.wait_run("e2e_deferred", run_id, timeout=90)["state"] == "success"
    assert ti["state"] == "deferred"

    airflow.resume("triggerer-1")
    _wait("triggerer-1 alive again", lambda: _alive_triggerers(airflow) == {"triggerer-1", "triggerer-2"}, 30)

    # freeze both: health shows the triggerer unhealthy; resume: healthy again
    airflow.pause("triggerer-1")
    airflow.pause("triggerer-2")
    _wait("triggerer unhealthy", lambda: api.health()["triggerer"]["status"] == "unhealthy", 40)
    airflow.resume("triggerer-1")
    airflow.resume("triggerer-2")
    _wait("triggerer healthy", lambda: api.health()["triggerer"]["status"] == "healthy", 30)

    # SIGKILL one triggerer (whole process tree), then start it again
    airflow.kill("triggerer-2", signal.SIGKILL)
    assert not airflow.is_running("triggerer-2")
    assert not airflow.component_processes("triggerer-2")
    _wait("triggerer-2 dead", lambda: _alive_triggerers(airflow) == {"triggerer-1"}, 40)
    airflow.start_component("triggerer-2")
    assert _alive_triggerers(airflow) == {"triggerer-1", "triggerer-2"}


@pytest.mark.airflow_config(database="postgres", triggerers=2, triggerer_health_check_threshold=8)
def test_stop_leaves_no_process_behind(airflow: LocalAirflow, airflow_pool) -> None:
    """Stop while a task runs: every process of every component (and the task) is gone."""
    api = airflow.client
    api.unpause("e2e_long")
    run_id = api.trigger("e2e_long")
    api.wait_task_state("e2e_long", run_id, "sleep", "running", timeout=120)
    _wait(
        "the task's sleep process",
        lambda: any(
            "sleep 600" in " ".join(p.cmdline())
            for name in airflow.component_names
            for p in airflow.component_processes(name)
        ),
        30,
    )
    procs = [p for name in airflow.component_names for p in airflow.component_processes(name)]
    assert len(procs) >= 6
    t0 = time.monotonic()
    airflow_pool.close()  # stops Airflow, then PostgreSQL
    print(f"stop took {time.monotonic() - t0:.1f}s for {len(procs)} processes")
    alive = [p.pid for p in procs if _alive(p)]
    assert not alive, alive
