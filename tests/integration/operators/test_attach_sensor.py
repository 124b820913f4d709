"""StepFunctionsExecutionSensor through dag.test() against the sandbox: it waits for an execution
that something else started (here: the test, with boto3), with the operator's judging, output and
XComs, and never stops it by default."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from airflow_restjob.errors import DefinitionError
from airflow_restjob.sensors.step_functions import StepFunctionsExecutionSensor
from tests.harness.dagrun import load_dagbag, run_dag_test

DAGS = Path(__file__).parent / "dags"
SM = "arn:aws:states:us-east-1:123456789012:stateMachine:"


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    return load_dagbag(DAGS)


@pytest.fixture()
def started(sandbox, restjob_conn, monkeypatch):
    """Start an execution of a sandbox state machine outside Airflow; its ARN is Variable attach_arn."""

    def start(machine: str, input: str = "{}") -> str:
        arn = sandbox.aws_client("stepfunctions").start_execution(
            stateMachineArn=SM + machine, name=f"outside-{uuid.uuid4().hex[:8]}", input=input
        )["executionArn"]
        monkeypatch.setenv("AIRFLOW_VAR_ATTACH_ARN", arn)
        return arn

    return start


def requests_for(sandbox, resource: str) -> list[dict]:
    return [r for r in sandbox.request_log() if r["resource"] == resource]


@pytest.mark.parametrize("dag_id", ["sfn_attach", "sfn_attach_worker"])
def test_the_sensor_returns_the_output_of_an_execution_it_did_not_start(sandbox, started, dagbag, capfd, dag_id):
    arn = started("succeed", '{"car": "outside"}')
    result = run_dag_test(dagbag.get_dag(dag_id), capfd)
    assert result.state == "success", result.log
    assert result.xcom("return_value") == {"car": "outside", "result": "ok"}
    assert result.xcom("execution_arn") == arn and result.xcom("execution_status") == "SUCCEEDED"
    assert not requests_for(sandbox, "start-execution") and requests_for(sandbox, "describe-execution")
    assert f"Attaching to Step Functions execution {arn} (stop_on_kill=False)" in result.log


def test_a_failed_execution_fails_the_sensor_with_error_cause_and_state(sandbox, started, dagbag, capfd):
    sandbox.set_extra_resources(["get-execution-history"])
    try:
        started("fail")
        result = run_dag_test(dagbag.get_dag("sfn_attach"), capfd)
    finally:
        sandbox.set_extra_resources([])
    assert result.state == "failed" and "end code 7" in result.log
    assert "in state 'Fail': error='RentalCarError', cause='vehicle not available'" in result.log


def test_the_wait_limit_leaves_the_execution_running(sandbox, started, dagbag, capfd):
    arn = started("long")
    result = run_dag_test(dagbag.get_dag("sfn_attach_max_wait"), capfd)
    assert result.state == "failed" and "end code 6" in result.log
    assert "the execution was left running (stop_on_kill=False)" in result.log
    assert not sandbox.stops_for(arn)
    assert sandbox.describe_execution(arn)["status"] == "RUNNING"
    sandbox.aws_client("stepfunctions").stop_execution(executionArn=arn)


def test_an_unknown_execution_fails_before_the_wait_naming_the_arn(sandbox, restjob_conn, monkeypatch, dagbag, capfd):
    arn = "arn:aws:states:us-east-1:123456789012:execution:succeed:never-started"
    monkeypatch.setenv("AIRFLOW_VAR_ATTACH_ARN", arn)
    result = run_dag_test(dagbag.get_dag("sfn_attach"), capfd)
    assert result.state == "failed" and "end code 2" in result.log
    assert f"execution {arn} does not exist" in result.log


@pytest.mark.parametrize(
    "arn, words",
    [
        ("not-an-arn", "execution_arn is not an execution ARN: 'not-an-arn'"),
        (SM + "succeed", "execution_arn is not an execution ARN"),  # a state machine's ARN
        ("arn:aws:states:us-east-1:123456789012:express:sm:e1:x", "is an Express execution"),
    ],
)
def test_a_wrong_arn_names_the_parameter_and_the_fix(arn, words):
    sensor = StepFunctionsExecutionSensor(task_id="s", execution_arn=arn)
    with pytest.raises(DefinitionError, match="Fix: ") as caught:
        sensor._start_job({"ti": None})  # type: ignore[typeddict-item]
    assert words in str(caught.value)


def test_sensor_defaults_and_aliases():
    sensor = StepFunctionsExecutionSensor(task_id="s", execution_arn="x", timeout=30, poke_interval=2)
    assert sensor.stop_on_kill is False and sensor.poll.max_wait == 30 and sensor.poll.interval == 2
    assert StepFunctionsExecutionSensor(task_id="t", execution_arn="x", stop_on_kill=True).stop_on_kill is True
