"""``deferrable`` defaults to ``[operators] default_deferrable``, as in Airflow's own providers."""

from __future__ import annotations

import pytest

from airflow_restjob.operators.rest_job import RestJobOperator
from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator

INFO = {"request": {"url": "https://jobs.example.com/jobs", "method": "POST"}}
SM = "arn:aws:states:us-east-1:123456789012:stateMachine:sm"


@pytest.mark.parametrize("value, expected", [("True", True), ("False", False)])
def test_default_follows_the_option(monkeypatch, value, expected):
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", value)
    assert RestJobOperator(task_id="a", connection_info=INFO).deferrable is expected
    assert StepFunctionsExecutionOperator(task_id="b", state_machine_arn=SM).deferrable is expected
    # an explicit value wins over the option
    assert RestJobOperator(task_id="c", connection_info=INFO, deferrable=not expected).deferrable is (not expected)
    assert StepFunctionsExecutionOperator(task_id="d", state_machine_arn=SM, deferrable=not expected).deferrable is (
        not expected
    )


def test_airflows_own_default_is_to_poll_in_the_worker(monkeypatch):
    monkeypatch.delenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", raising=False)
    assert RestJobOperator(task_id="a", connection_info=INFO).deferrable is False
