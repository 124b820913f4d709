"""A deferrable task polls its job in the worker for a short window first (``worker_wait``): a job
that ends inside it completes without a deferral (no trigger, no ~8 s event guard); a longer one
defers after the window and completes through the triggerer. Latency: bench/, not here."""

from __future__ import annotations

import requests

from tests.e2e.waiting import patient, wait_until


def states_seen(api, dag_id: str, run_id: str, until: str = "success", timeout: float = 120) -> list[str]:
    seen: list[str] = []

    def done() -> bool:
        try:
            state = api.task_states(dag_id, run_id).get("run")
        except requests.RequestException:  # a busy api-server: ask again
            return False
        if state and (not seen or seen[-1] != state):
            seen.append(state)
        return state in (until, "failed", "upstream_failed")

    wait_until(done, timeout, f"{dag_id} {run_id} to end", interval=1.0)
    return seen


def test_a_short_job_completes_in_the_worker_window_without_deferring(airflow_sandbox, sandbox):
    api = airflow_sandbox.client
    for dag_id in ("e2e_short_job", "e2e_short_window_then_defer"):
        patient(api.wait_for_dag, dag_id, timeout=120)
        patient(api.unpause, dag_id)
    short = api.trigger("e2e_short_job")
    long = api.trigger("e2e_short_window_then_defer")
    short_states = states_seen(api, "e2e_short_job", short)
    long_states = states_seen(api, "e2e_short_window_then_defer", long)
    assert short_states[-1] == "success" and "deferred" not in short_states, short_states
    assert long_states[-1] == "success" and "deferred" in long_states, long_states
    arn = patient(api.xcom, "e2e_short_job", short, "run", "execution_arn")
    assert sandbox.describe_execution(arn)["status"] == "SUCCEEDED"
    assert patient(api.xcom, "e2e_short_job", short, "run", "return_value")["result"] == "ok"
