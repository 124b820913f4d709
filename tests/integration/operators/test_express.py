"""StepFunctionsExpressExecutionOperator through dag.test() against the sandbox (which emulates
StartSyncExecution over moto): the output, status and dates from the one synchronous answer, over
an API Gateway start-sync-execution resource and over the direct API; an Express machine started
with the standard operator, and a Standard one with the Express operator, fail naming the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_restjob.cli.credentials import to_connection_fields, validate
from tests.harness.dagrun import load_dagbag, run_dag_test

DAGS = Path(__file__).parent / "dags"


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    return load_dagbag(DAGS)


@pytest.fixture()
def sync_resource(sandbox, restjob_conn, monkeypatch):
    """The gateway serves start-sync-execution; restjob_states is the direct API."""
    fields = to_connection_fields(validate(sandbox.states_statement("restjob_states"), "$"))
    fields.pop("conn_id")
    fields["extra"] = json.loads(fields["extra"])
    monkeypatch.setenv("AIRFLOW_CONN_RESTJOB_STATES", json.dumps(fields))
    sandbox.set_extra_resources(["start-sync-execution"])
    yield
    sandbox.set_extra_resources([])


def syncs(sandbox) -> list[dict]:
    return [
        r
        for r in sandbox.request_log()
        if r["resource"] == "start-sync-execution" or r.get("action") == "StartSyncExecution"
    ]


@pytest.mark.parametrize("dag_id", ["sfn_express_succeed", "sfn_express_direct"])
def test_an_express_workflow_returns_its_output_from_one_call(sandbox, sync_resource, dagbag, capfd, dag_id):
    result = run_dag_test(dagbag.get_dag(dag_id), capfd)
    assert result.state == "success", result.log[-3000:]
    assert result.xcom("return_value") == {"car": "e", "result": "ok"}
    arn = result.xcom("execution_arn")
    assert ":express:express_succeed:" in arn and result.xcom("execution_status") == "SUCCEEDED"
    assert result.xcom("start_date") and result.xcom("stop_date")
    assert len(syncs(sandbox)) == 1  # sent once, no polls
    assert not [r for r in sandbox.request_log() if r["resource"] == "describe-execution" or r.get("action") == "DescribeExecution"]


def test_a_failed_express_workflow_fails_with_error_and_cause(sandbox, sync_resource, dagbag, capfd):
    result = run_dag_test(dagbag.get_dag("sfn_express_fail"), capfd)
    assert result.state == "failed" and "end code 7" in result.log
    assert "ended FAILED: error='RentalCarError', cause='vehicle not available'" in result.log


def test_the_express_operator_on_a_standard_machine_names_the_fix(sandbox, sync_resource, dagbag, capfd):
    result = run_dag_test(dagbag.get_dag("sfn_express_on_standard"), capfd)
    assert result.state == "failed" and "end code 2" in result.log
    assert "is a Standard state machine; StartSyncExecution runs Express workflows only" in result.log
    assert "Fix: Use StepFunctionsExecutionOperator for Standard workflows." in result.log


def test_the_standard_operator_on_an_express_machine_names_the_fix_and_keeps_the_arn(
    sandbox, restjob_conn, dagbag, capfd
):
    result = run_dag_test(dagbag.get_dag("sfn_standard_on_express"), capfd)
    assert result.state == "failed" and "end code 2" in result.log
    assert "is an Express state machine" in result.log
    assert "Fix: Use StepFunctionsExpressExecutionOperator (StartSyncExecution)" in result.log
    arn = result.xcom("execution_arn")
    assert ":express:" in arn and f"Step Functions execution ARN: {arn}" in result.log


def test_a_gateway_without_the_resource_says_where_the_fix_is(sandbox, restjob_conn, dagbag, capfd):
    result = run_dag_test(dagbag.get_dag("sfn_express_succeed"), capfd)
    assert result.state == "failed" and "end code 2" in result.log
    assert "has no start-sync-execution resource" in result.log and "Fix: Add POST /start-sync-execution" in result.log
