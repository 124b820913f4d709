"""The Step Functions operator over the direct Step Functions API (no API Gateway): the sandbox's
``states_url`` verifies SigV4 for the service ``states`` and speaks AWS JSON 1.0 (X-Amz-Target)."""

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
def states_conn(sandbox, monkeypatch):
    statement = sandbox.states_statement("restjob_states")  # a loopback host: the service says "states"
    fields = to_connection_fields(validate(statement, "$"))
    fields.pop("conn_id")
    fields["extra"] = json.loads(fields["extra"])
    monkeypatch.setenv("AIRFLOW_CONN_RESTJOB_STATES", json.dumps(fields))
    from airflow_restjob.hooks.rest_job import RestJobHook

    RestJobHook.forget_cached_settings()
    return "restjob_states"


def direct_calls(sandbox, action: str) -> list[dict]:
    return [r for r in sandbox.request_log() if r["resource"] == "states" and r.get("action") == action]


@pytest.mark.parametrize("dag_id, car", [("sfn_direct_succeed", "d"), ("sfn_direct_worker", "w")])
def test_direct_api_runs_the_execution_to_success(sandbox, states_conn, dagbag, capfd, dag_id, car):
    result = run_dag_test(dagbag.get_dag(dag_id), capfd)
    assert result.state == "success", result.log
    assert result.xcom("return_value") == {"car": car, "result": "ok"}
    arn = result.xcom("execution_arn")
    assert sandbox.describe_execution(arn)["status"] == "SUCCEEDED"
    assert len(direct_calls(sandbox, "StartExecution")) == 1 and direct_calls(sandbox, "DescribeExecution")
    assert not [r for r in sandbox.request_log() if r["resource"] in ("start-execution", "describe-execution")]


def test_direct_api_failure_and_wait_limit_stop(sandbox, states_conn, dagbag, capfd):
    failed = run_dag_test(dagbag.get_dag("sfn_direct_fail"), capfd)
    assert failed.state == "failed" and "end code 7" in failed.log and "RentalCarError" in failed.log
    assert "ended FAILED: in state 'Fail': error='RentalCarError'" in failed.log  # the direct API has the history
    assert len(direct_calls(sandbox, "GetExecutionHistory")) == 1
    limited = run_dag_test(dagbag.get_dag("sfn_direct_max_wait"), capfd)
    assert limited.state == "failed" and "end code 6" in limited.log
    arn = limited.xcom("execution_arn")
    assert direct_calls(sandbox, "StopExecution") and sandbox.describe_execution(arn)["status"] == "ABORTED"


def test_an_arn_of_another_region_fails_before_the_start(sandbox, states_conn, dagbag, capfd):
    result = run_dag_test(dagbag.get_dag("sfn_direct_other_region"), capfd)
    assert result.state == "failed" and "is in Region eu-west-1" in result.log
    assert not direct_calls(sandbox, "StartExecution")
