"""Careless poll arguments get a definition error naming the parameter, when the DAG is parsed."""

from __future__ import annotations

import math

import pytest

from airflow_restjob.errors import DefinitionError
from airflow_restjob.rest_job.spec import PollSpec

SM = "arn:aws:states:us-east-1:123456789012:stateMachine:succeed"


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"interval": "10"}, ["interval (poll_interval)", "finite number", "'10'"]),
        ({"first_delay": None}, ["first_delay (first_poll_delay)", "None"]),
        ({"max_wait": math.inf}, ["max_wait", "inf"]),
        ({"max_wait": math.nan}, ["max_wait", "nan"]),
        ({"backoff": True}, ["backoff (poll_backoff)", "True"]),
        ({"max_polls": 1.5}, ["max_polls", "whole number", "1.5"]),
        ({"max_polls": "3"}, ["max_polls", "whole number"]),
        ({"interval": 0.5}, ["interval (poll_interval) must be >= 1 s"]),
    ],
)
def test_bad_poll_settings_name_the_parameter(kwargs, words):
    with pytest.raises(DefinitionError) as info:
        PollSpec(**kwargs)
    message = str(info.value)
    assert "[end code 2" in message
    for word in words:
        assert word in message


def test_good_settings_pass():
    spec = PollSpec(first_delay=0, interval=1, max_interval=5, backoff=1.5, max_polls=3, max_wait=60)
    assert spec.max_polls == 3 and spec.max_wait == 60


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"poll_interval": "10"}, "poll_interval"),
        ({"max_polls": 1.5}, "max_polls"),
        ({"max_wait": math.inf}, "max_wait"),
        ({"first_poll_delay": "soon"}, "first_poll_delay"),
    ],
)
def test_the_operator_rejects_them_at_parse_time_naming_task_and_parameter(kwargs, word):
    from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator

    with pytest.raises(DefinitionError) as info:
        StepFunctionsExecutionOperator(task_id="run", state_machine_arn=SM, **kwargs)
    assert "Task 'run'" in str(info.value) and word in str(info.value)


def test_max_wait_none_is_the_default_bound_not_forever():
    from airflow_restjob.operators.base import DEFAULT_MAX_WAIT
    from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator

    op = StepFunctionsExecutionOperator(task_id="run", state_machine_arn=SM, max_wait=None)
    assert op.poll.max_wait == DEFAULT_MAX_WAIT
