"""Express workflows: where StartSyncExecution goes and how its answer is judged."""

from __future__ import annotations

import pytest

from airflow_restjob.errors import DefinitionError
from airflow_restjob.operators.step_functions import StepFunctionsExpressExecutionOperator
from airflow_restjob.rest_job import step_functions as sfn
from airflow_restjob.rest_job.spec import PollSpec

ARN = "arn:aws:states:us-east-1:123456789012:express:sm:n:0f0e"


@pytest.mark.parametrize(
    "base, expected",
    [
        ("https://states.eu-west-1.amazonaws.com", "https://sync-states.eu-west-1.amazonaws.com"),
        ("https://states.cn-north-1.amazonaws.com.cn", "https://sync-states.cn-north-1.amazonaws.com.cn"),
        ("https://abc.execute-api.us-east-1.amazonaws.com/prod", "https://abc.execute-api.us-east-1.amazonaws.com/prod"),
        ("http://127.0.0.1:4000", "http://127.0.0.1:4000"),
        ("https://vpce-1.states.us-east-1.vpce.amazonaws.com", "https://vpce-1.states.us-east-1.vpce.amazonaws.com"),
    ],
)
def test_the_sync_endpoint(base, expected):
    assert sfn.sync_base_url(base) == expected


def test_express_arns():
    assert sfn.is_express_arn(ARN)
    assert not sfn.is_express_arn("arn:aws:states:us-east-1:123456789012:execution:sm:n")


@pytest.mark.parametrize(
    "answer, status, job_status, details",
    [
        ({"executionArn": ARN, "status": "SUCCEEDED", "output": "{}"}, "success", "SUCCEEDED", {}),
        (
            {"executionArn": ARN, "status": "FAILED", "error": "E", "cause": "C"},
            "failed",
            "FAILED",
            {"error": "E", "cause": "C"},
        ),
        ({"executionArn": ARN, "status": "TIMED_OUT", "error": "States.Timeout"}, "failed", "TIMED_OUT", None),
    ],
)
def test_the_answer_is_judged_like_a_describe_execution(answer, status, job_status, details):
    event = sfn.sync_event(answer, sfn.job_spec(ARN, PollSpec()))
    assert (event["status"], event["job_status"], event["job_id"]) == (status, job_status, ARN)
    assert event["response"] is answer
    if details is not None:
        assert event["details"] == details
    else:
        assert event["details"]["error"] == "States.Timeout"


def test_express_executions_cannot_be_redriven():
    with pytest.raises(DefinitionError, match="an Express execution cannot be redriven. Fix: Remove retry_mode"):
        StepFunctionsExpressExecutionOperator(
            task_id="x", state_machine_arn="arn:aws:states:us-east-1:1:stateMachine:s", retry_mode="redrive"
        )
