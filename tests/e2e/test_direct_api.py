"""The direct Step Functions API through a real Airflow: a deferred execution succeeds, and
marking a deferred (triggerer) or running (worker) task failed stops the execution over the same
API (StopExecution with X-Amz-Target, SigV4 service ``states``)."""

from __future__ import annotations

import time

import pytest
import requests

from tests.e2e.waiting import patient, wait_until

DAGS = ("e2e_direct_succeed", "e2e_direct_long", "e2e_direct_long_worker")


@pytest.fixture
def af(airflow_states):
    return airflow_states


def state_of(api, dag_id: str, run_id: str) -> str | None:
    try:
        return api.task_states(dag_id, run_id).get("run")
    except requests.RequestException:
        return None


def test_direct_api_success_and_stops_on_mark_failed(af, sandbox):
    api = af.client
    for dag_id in DAGS:
        patient(api.wait_for_dag, dag_id, timeout=180)
        patient(api.unpause, dag_id)
    runs = {dag_id: api.trigger(dag_id) for dag_id in DAGS}

    run = patient(api.wait_run, "e2e_direct_succeed", runs["e2e_direct_succeed"], timeout=240)
    assert run["state"] == "success", api.task_states("e2e_direct_succeed", runs["e2e_direct_succeed"])
    arn = patient(api.xcom, "e2e_direct_succeed", runs["e2e_direct_succeed"], "run", "execution_arn")
    assert sandbox.describe_execution(arn)["status"] == "SUCCEEDED"
    assert any(r["resource"] == "states" and r.get("execution_arn") == arn for r in sandbox.request_log())

    mark_failed_and_see_the_stop(api, sandbox, "e2e_direct_long", runs["e2e_direct_long"], "deferred")
    mark_failed_and_see_the_stop(api, sandbox, "e2e_direct_long_worker", runs["e2e_direct_long_worker"], "running")


def mark_failed_and_see_the_stop(api, sandbox, dag_id: str, run_id: str, state: str) -> None:
    wait_until(lambda: state_of(api, dag_id, run_id) == state, 180, f"{dag_id} {state}", interval=1)
    arn = wait_until(lambda: patient(api.xcom, dag_id, run_id, "run", "execution_arn"), 60, f"{dag_id} ARN")
    time.sleep(3)  # a poll or two
    patient(api.set_task_state, dag_id, run_id, "run", "failed")
    stops = wait_until(lambda: sandbox.stops_for(arn), 90, f"StopExecution for {arn}")
    assert stops[0]["resource"] == "states", stops
    assert wait_until(lambda: sandbox.describe_execution(arn)["status"] == "ABORTED", 30, f"{arn} ABORTED")
