"""A generic (non-Step-Functions) REST job through a real Airflow: the same operator base, trigger
and stop paths as Step Functions, against the small job API of tests/restjob/jobapi.py."""

from __future__ import annotations

import time

import pytest

from tests.e2e.waiting import wait_until


@pytest.fixture
def api(airflow_sandbox):
    return airflow_sandbox.client


def start(api, jobapi, dag_id: str, state: str) -> tuple[str, str]:
    api.wait_for_dag(dag_id, timeout=120)
    api.unpause(dag_id)
    run_id = api.trigger(dag_id)
    api.wait_task_state(dag_id, run_id, "run", state, timeout=120)
    job_id = wait_until(lambda: _job_id(jobapi, run_id), 60, "the job to be submitted")
    wait_until(lambda: jobapi.job_for(job_id)["polls"] > 0, 60, f"the first poll of {job_id}")
    return run_id, job_id


def _job_id(jobapi, run_id: str) -> str | None:
    for job_id, job in list(jobapi.jobs.items()):
        if job["spec"].get("run") == run_id:
            return job_id
    return None


def test_generic_job_succeeds(api, jobapi):
    api.wait_for_dag("e2e_generic_succeed", timeout=120)
    api.unpause("e2e_generic_succeed")
    run_id = api.trigger("e2e_generic_succeed")
    run = api.wait_run("e2e_generic_succeed", run_id, timeout=180)
    assert run["state"] == "success", api.task_states("e2e_generic_succeed", run_id)
    job_id = _job_id(jobapi, run_id)
    assert jobapi.job_for(job_id)["cancels"] == []
    assert api.xcom("e2e_generic_succeed", run_id, "run", "job_id") == job_id


@pytest.mark.parametrize(
    "dag_id, state", [("e2e_generic_long", "deferred"), ("e2e_generic_long_worker", "running")]
)
def test_mark_failed_cancels_the_generic_job(api, jobapi, dag_id, state):
    run_id, job_id = start(api, jobapi, dag_id, state)
    marked = time.time()
    api.set_task_state(dag_id, run_id, "run", "failed")
    job = wait_until(
        lambda: jobapi.job_for(job_id)["cancels"] and jobapi.job_for(job_id), 60, "the cancel request"
    )
    assert job["cancel_times"][0] >= marked
    assert f"of {run_id} cancelled" in job["cancels"][0]
    assert jobapi.state(job) == "CANCELLED"
