"""retry_mode='redrive' through a real Airflow: the second try of a task whose execution FAILED
redrives that execution (same ARN, RedriveExecution with a clientToken, no second StartExecution)
and succeeds; over an API Gateway without a redrive-execution resource the try starts a new
execution and its log says why."""

from __future__ import annotations

import pytest

from tests.e2e.waiting import patient, wait_until

DAGS = ("e2e_redrive_direct", "e2e_redrive_gateway", "e2e_unknown_machine")


@pytest.fixture
def af(airflow_states, sandbox):
    before = sandbox.redrives.state()
    sandbox.configure_redrive(seconds=2, status="SUCCEEDED")
    yield airflow_states
    sandbox.configure_redrive(seconds=before["seconds"], status="SUCCEEDED")
    sandbox.set_extra_resources([])


def calls(sandbox, action: str, resource: str) -> list[dict]:
    return [
        r
        for r in sandbox.request_log()
        if r.get("action") == action or r["resource"] == resource or r["path"].endswith("/" + resource)
    ]


def run_to_end(api, dag_id: str) -> tuple[str, dict]:
    patient(api.wait_for_dag, dag_id, timeout=180)
    patient(api.unpause, dag_id)
    run_id = patient(api.trigger, dag_id)
    return run_id, patient(api.wait_run, dag_id, run_id, timeout=240)


def tries_log(api, dag_id: str, run_id: str) -> str:
    return "\n".join(f"--- try {n}\n" + patient(api.task_log, dag_id, run_id, "run", n) for n in (1, 2))


def test_the_next_try_redrives_the_failed_execution(af, sandbox):
    api = af.client
    # the direct API: try 1 fails, try 2 redrives the same execution, which succeeds
    run_id, run = run_to_end(api, "e2e_redrive_direct")
    assert run["state"] == "success", tries_log(api, "e2e_redrive_direct", run_id)
    arn = patient(api.xcom, "e2e_redrive_direct", run_id, "run", "execution_arn")
    described = sandbox.describe_execution(arn)
    assert described["status"] == "SUCCEEDED" and described["redriveCount"] == 1, described
    starts = [r for r in calls(sandbox, "StartExecution", "start-execution") if r["status"] == 200]
    redrives = [r for r in calls(sandbox, "RedriveExecution", "redrive-execution") if r["execution_arn"] == arn]
    assert [r["execution_arn"] for r in starts] == [arn] and len(redrives) == 1, (starts, redrives)
    log = patient(api.task_log, "e2e_redrive_direct", run_id, "run", 2)
    assert f"retry_mode='redrive': redrove {arn} (it ended FAILED)" in log, log
    # try 1 named the state that failed (the direct API has GetExecutionHistory)
    first = patient(api.task_log, "e2e_redrive_direct", run_id, "run", 1)
    assert "The execution failed in state 'Fail' (Fail): error='RentalCarError'" in first, first

    # API Gateway without the resource: try 2 says why and starts a new execution (which fails too)
    sandbox.clear_log()
    run_id, run = run_to_end(api, "e2e_redrive_gateway")
    assert run["state"] == "failed"
    log = patient(api.task_log, "e2e_redrive_gateway", run_id, "run", 2)
    assert "cannot be redriven: " in log and "Missing Authentication Token" in log, log
    assert "The state that failed is not known: GetExecutionHistory failed (an API Gateway needs a" in log
    assert "starting a new execution" in log
    starts = [r for r in calls(sandbox, "StartExecution", "start-execution") if r["status"] == 200]
    assert len({r["execution_arn"] for r in starts}) == 2, starts

    # ... and with the resource, the gateway redrives too
    sandbox.set_extra_resources(["redrive-execution"])
    run_id, run = run_to_end(api, "e2e_redrive_gateway")
    assert run["state"] == "success", tries_log(api, "e2e_redrive_gateway", run_id)
    arn = patient(api.xcom, "e2e_redrive_gateway", run_id, "run", "execution_arn")
    assert sandbox.describe_execution(arn)["redriveCount"] == 1


def describes(sandbox, arn: str) -> list[dict]:
    return [r for r in calls(sandbox, "DescribeExecution", "describe-execution") if r.get("execution_arn") == arn]


def test_marking_a_redriven_execution_failed_stops_it(af, sandbox):
    """The stop paths know a redriven execution: same ARN, a newer try deferred on it."""
    api = af.client
    sandbox.configure_redrive(seconds=120, status="SUCCEEDED")
    patient(api.wait_for_dag, "e2e_redrive_direct", timeout=180)
    patient(api.unpause, "e2e_redrive_direct")
    run_id = patient(api.trigger, "e2e_redrive_direct")
    wait_until(
        lambda: (patient(api.task_instance, "e2e_redrive_direct", run_id, "run").get("try_number") == 2
                 and patient(api.task_states, "e2e_redrive_direct", run_id).get("run") == "deferred"),
        240,
        "try 2 deferred on the redriven execution",
        interval=1,
    )
    arn = patient(api.xcom, "e2e_redrive_direct", run_id, "run", "execution_arn")
    assert sandbox.describe_execution(arn)["status"] == "RUNNING"  # the redrive
    # the triggerer runs try 2's trigger (a poll after the deferral): a task marked failed before its
    # trigger ever started has no trigger to stop anything (Airflow drops it; see the README's limits)
    polls = len(describes(sandbox, arn))
    wait_until(lambda: len(describes(sandbox, arn)) > polls, 60, f"a poll of {arn} by try 2's trigger", interval=0.5)
    patient(api.set_task_state, "e2e_redrive_direct", run_id, "run", "failed")
    stops = wait_until(lambda: sandbox.stops_for(arn), 90, f"StopExecution for {arn}")
    assert stops[0]["resource"] == "states", stops
    assert wait_until(lambda: sandbox.describe_execution(arn)["status"] == "ABORTED", 30, f"{arn} ABORTED")


def test_a_permanent_error_fails_the_task_without_airflow_retries(airflow_sandbox):
    api = airflow_sandbox.client
    run_id, run = run_to_end(api, "e2e_unknown_machine")
    assert run["state"] == "failed"
    ti = patient(api.task_instance, "e2e_unknown_machine", run_id, "run")
    assert ti["state"] == "failed" and ti["try_number"] == 1, ti  # retries=2, none used
    log = patient(api.task_log, "e2e_unknown_machine", run_id, "run", 1)
    assert "StateMachineDoesNotExist" in log and "end code 4" in log, log
