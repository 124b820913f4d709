"""Bad polling / budget settings are rejected when the DAG file is parsed, naming the parameter."""

from __future__ import annotations

import textwrap

import pytest

from airflow_restjob.errors import DefinitionError
from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator
from airflow_restjob.transport.quota import reset_budgets

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:succeed"


@pytest.fixture(autouse=True)
def _fresh_buckets():
    reset_budgets()
    yield
    reset_budgets()


def make(**kwargs):
    return StepFunctionsExecutionOperator(task_id="t", state_machine_arn=ARN, **kwargs)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"poll_interval": 0.5}, "poll_interval"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"poll_interval": -10}, "poll_interval"),
        ({"poll_backoff": 0.9}, "poll_backoff"),
        ({"first_poll_delay": -1}, "first_poll_delay"),
    ],
)
def test_operator_rejects_bad_poll_parameters(kwargs, name):
    with pytest.raises(DefinitionError, match=name) as info:
        make(**kwargs)
    assert "Task 't'" in str(info.value)


def test_operator_rejects_a_cap_below_the_interval():
    with pytest.raises(DefinitionError, match="max_poll_interval"):
        make(poll_interval=30, max_poll_interval=10)


@pytest.mark.parametrize(
    "setting, value",
    [("POLL_BUDGET_BURST", "0"), ("POLL_BUDGET_PER_SECOND", "0"), ("POLL_BUDGET_PER_SECOND", "-2")],
)
def test_operator_rejects_a_bad_budget_setting(monkeypatch, setting, value):
    monkeypatch.setenv(f"AIRFLOW__RESTJOB__{setting}", value)
    with pytest.raises(DefinitionError, match=setting.lower()):
        make()


def test_good_settings_pass(monkeypatch):
    monkeypatch.setenv("AIRFLOW__RESTJOB__POLL_BUDGET_BURST", "80")
    monkeypatch.setenv("AIRFLOW__RESTJOB__POLL_BUDGET_PER_SECOND", "4")
    op = make(poll_interval=1, max_poll_interval=1, poll_backoff=1)
    assert op.poll.interval == 1


def _dagbag(folder):
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    return DagBag(dag_folder=str(folder))  # examples are off (AIRFLOW__CORE__LOAD_EXAMPLES in conftest)


@pytest.mark.parametrize(
    "env, params, name",
    [
        ({}, "poll_interval=0.2", "poll_interval"),
        ({"AIRFLOW__RESTJOB__POLL_BUDGET_PER_SECOND": "0"}, "poll_interval=10", "poll_budget_per_second"),
        ({"AIRFLOW__RESTJOB__POLL_BUDGET_BURST": "-1"}, "poll_interval=10", "poll_budget_burst"),
    ],
)
def test_dag_file_import_error_names_the_parameter(tmp_path, monkeypatch, env, params, name):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "bad_poll_dag.py").write_text(
        textwrap.dedent(
            f"""
            from airflow.sdk import DAG
            from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator

            with DAG("bad_poll", schedule=None):
                StepFunctionsExecutionOperator(task_id="run", state_machine_arn="{ARN}", {params})
            """
        )
    )
    bag = _dagbag(tmp_path)
    assert "bad_poll" not in bag.dags
    errors = "\n".join(bag.import_errors.values())
    assert name in errors, errors
