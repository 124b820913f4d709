"""An Express workflow through a real Airflow: one StartSyncExecution, no polls, the output in XCom."""

from __future__ import annotations

from tests.e2e.waiting import patient


def test_an_express_workflow_runs_as_one_task(airflow_sandbox, sandbox):
    sandbox.set_extra_resources(["start-sync-execution"])
    try:
        api = airflow_sandbox.client
        patient(api.wait_for_dag, "e2e_express", timeout=180)
        patient(api.unpause, "e2e_express")
        run_id = patient(api.trigger, "e2e_express")
        run = patient(api.wait_run, "e2e_express", run_id, timeout=240)
    finally:
        sandbox.set_extra_resources([])
    assert run["state"] == "success", api.task_states("e2e_express", run_id)
    assert patient(api.xcom, "e2e_express", run_id, "run") == {"car": run_id, "wait_seconds": 2, "result": "ok"}
    arn = patient(api.xcom, "e2e_express", run_id, "run", "execution_arn")
    assert ":express:express_succeed:" in arn
    calls = [r for r in sandbox.request_log() if r.get("execution_arn") == arn]
    assert [r["resource"] for r in calls] == ["start-sync-execution"], calls
