"""The operator against the sandbox through dag.test(): real HTTP, real moto executions.

dag.test() runs the trigger inline (no triggerer), so these prove the operator/trigger logic; the
cancellation paths through a real triggerer are in tests/e2e.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness.dagrun import load_dagbag, run_dag_test

DAGS = Path(__file__).parent / "dags"


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    return load_dagbag(DAGS)


@pytest.fixture()
def run(dagbag, capfd):
    return lambda dag_id: run_dag_test(dagbag.get_dag(dag_id), capfd)


def arns_started(sandbox, dag_id=None):
    return [
        r["execution_arn"]
        for r in sandbox.request_log()
        if r["resource"] == "start-execution" and r["status"] == 200 and r["execution_arn"]
    ]


def test_success_returns_output_and_pushes_xcom(sandbox, restjob_conn, run):
    result = run("sfn_succeed")
    assert result.state == "success", result.log
    arn = result.xcom("execution_arn")
    assert arn and arn.startswith("arn:aws:states:us-east-1:123456789012:execution:succeed:")
    assert result.xcom("return_value") == {"car": result.run_id, "result": "ok"}
    assert result.xcom("execution_status") == "SUCCEEDED"
    assert result.xcom("start_date") and result.xcom("stop_date")
    assert sandbox.describe_execution(arn)["status"] == "SUCCEEDED"
    assert arns_started(sandbox) == [arn]


def test_a_256_kib_output_too_large_for_the_event_is_read_again_by_the_worker(sandbox, restjob_conn, run):
    result = run("sfn_big_output")
    assert result.state == "success", result.log[-3000:]
    output = result.xcom("return_value")
    assert output == {"car": "x" * 262_116, "result": "ok"} and len(json.dumps(output)) == 262_143
    assert "too large for the trigger event: reading it again from the worker" in result.log


def test_worker_mode_polls_in_worker(sandbox, restjob_conn, run):
    result = run("sfn_succeed_worker")
    assert result.state == "success"
    assert result.xcom("return_value") == {"car": "x", "result": "ok"}


def test_failed_execution_fails_task_with_error_and_cause(sandbox, restjob_conn, run):
    result = run("sfn_fail")
    assert result.state == "failed"
    assert (
        "end code 7" in result.log
        and "RentalCarError" in result.log
        and "vehicle not available" in result.log
    )


def test_timed_out_execution_says_it_has_no_cause(sandbox, restjob_conn, run):
    result = run("sfn_timeout")
    assert result.state == "failed"
    assert "TIMED_OUT" in result.log


def history_calls(sandbox) -> list[dict]:
    return [r for r in sandbox.request_log() if r["path"].endswith("/get-execution-history")]


@pytest.fixture()
def history_resource(sandbox):
    """The gateway serves the optional get-execution-history resource."""
    sandbox.set_extra_resources(["get-execution-history"])
    yield
    sandbox.set_extra_resources([])


def test_the_failed_state_is_named_when_the_gateway_serves_the_history(sandbox, restjob_conn, history_resource, run):
    result = run("sfn_fail")
    assert result.state == "failed"
    assert "The execution failed in state 'Fail' (Fail): error='RentalCarError'" in result.log, result.log
    assert "ended FAILED: in state 'Fail': error='RentalCarError', cause='vehicle not available'" in result.log
    assert len(history_calls(sandbox)) == 1 and history_calls(sandbox)[0]["status"] == 200


def test_a_gateway_without_the_history_resource_still_fails_with_the_cause(sandbox, restjob_conn, run):
    result = run("sfn_fail")
    assert result.state == "failed" and "end code 7" in result.log
    assert "ended FAILED: error='RentalCarError', cause='vehicle not available'" in result.log
    assert "The state that failed is not known: GetExecutionHistory failed (an API Gateway needs a" in result.log
    assert [c["status"] for c in history_calls(sandbox)] == [403]


def test_a_timed_out_execution_names_the_state_it_was_in(sandbox, restjob_conn, history_resource, run):
    result = run("sfn_timeout")
    assert result.state == "failed"
    assert "The execution failed in state 'TooLong' (Wait)" in result.log, result.log


def test_input_file_is_rendered_with_jinja(sandbox, restjob_conn, run):
    result = run("sfn_input_file")
    assert result.state == "success"
    assert result.xcom("return_value") == {"reservationId": result.run_id, "cars": [1, 2], "result": "ok"}


@pytest.mark.parametrize(
    "dag_id, words",
    [
        ("sfn_bad_input_json", ["'input' is not valid JSON"]),
        ("sfn_missing_file", ["no_such_file.json", "not found"]),
        ("sfn_bad_file_json", ["'input' is not valid JSON"]),
        ("sfn_bad_arn", ["state_machine_arn"]),
        ("sfn_unknown_sm", ["StateMachineDoesNotExist", "state_machine_arn"]),
        ("sfn_bad_name", ["not a valid execution name"]),
    ],
)
def test_bad_input_fails_before_start_naming_the_parameter(sandbox, restjob_conn, run, dag_id, words):
    result = run(dag_id)
    assert result.state == "failed"
    for word in words:
        assert word in result.log
    assert arns_started(sandbox) == []


@pytest.mark.parametrize("dag_id", ["sfn_max_wait", "sfn_max_wait_worker"])
def test_max_wait_stops_the_execution(sandbox, restjob_conn, run, dag_id):
    result = run(dag_id)
    assert result.state == "failed" and "end code 6" in result.log
    arn = result.xcom("execution_arn")
    assert sandbox.describe_execution(arn)["status"] == "ABORTED"
    stops = sandbox.stops_for(arn)
    assert (
        stops
        and stops[0]["body"]["error"] == "airflow-restjob: wait limit"
        and "max_wait" in stops[0]["body"]["cause"]
    )


def test_max_polls_stops_the_execution(sandbox, restjob_conn, run):
    result = run("sfn_max_polls")
    assert result.state == "failed" and "max_polls" in result.log
    assert sandbox.describe_execution(result.xcom("execution_arn"))["status"] == "ABORTED"


def test_transient_faults_during_the_wait_do_not_fail_the_task(sandbox, restjob_conn, run):
    sandbox.faults.inject(resource="describe-execution", kind="503", count=2)
    sandbox.faults.inject(resource="start-execution", kind="429", count=1)
    result = run("sfn_succeed")
    assert result.state == "success"
    assert len(arns_started(sandbox)) == 1


def test_same_try_twice_reattaches_to_one_execution(sandbox, restjob_conn):
    """A worker that died after StartExecution runs the try again: one execution, re-attached."""
    from airflow_restjob.hooks.step_functions import StepFunctionsHook
    from airflow_restjob.rest_job.step_functions import derive_name

    sm = sandbox.state_machine_arn("long")
    name = derive_name("d", "run", "manual__idem", -1, 1)
    hook = StepFunctionsHook(restjob_conn)
    arns = [hook.start_execution(sm, name, '{"a": 1}') for _ in range(2)]
    assert arns[0] == arns[1] == sm.replace(":stateMachine:", ":execution:") + ":" + name
    executions = [e for e in sandbox.list_executions(sm) if e["name"] == name]
    assert len(executions) == 1 and executions[0]["status"] == "RUNNING"
    hook.stop_execution(arns[0])


def test_derived_names_are_valid_and_unique_per_try():
    from airflow_restjob.rest_job.step_functions import derive_name, validate_name

    long_id = "x" * 200
    names = {derive_name(long_id, "t", "scheduled__2026-01-01T00:00:00+00:00", -1, t) for t in (1, 2, 3)}
    assert len(names) == 3
    for n in names:
        assert len(n) <= 80 and validate_name(n) == n
    assert derive_name("d", "t", "manual__2026-01-01T00:00:00+00:00", 3, 1) != derive_name(
        "d", "t", "manual__2026-01-01T00:00:00+00:00", 4, 1
    )
