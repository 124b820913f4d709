"""retry_mode='redrive': which execution a later try looks for and what it does with it."""

from __future__ import annotations

import pytest

from airflow_restjob.errors import DefinitionError, RequestFailedError, ServiceError
from airflow_restjob.operators.rest_job import RestJobOperator
from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator, _cannot_redrive
from airflow_restjob.rest_job import step_functions as sfn

INFO = {"request": {"url": "https://jobs.example.com/jobs", "method": "POST"}}
SM = "arn:aws:states:us-east-1:123456789012:stateMachine:sm"


def test_the_mode_is_checked_when_the_dag_is_parsed():
    assert StepFunctionsExecutionOperator(task_id="a", state_machine_arn=SM).retry_mode == "new"
    assert StepFunctionsExecutionOperator(task_id="b", state_machine_arn=SM, retry_mode="redrive").retry_mode == "redrive"
    with pytest.raises(DefinitionError, match="Task 'c': retry_mode must be 'new' or 'redrive', got 'again'"):
        StepFunctionsExecutionOperator(task_id="c", state_machine_arn=SM, retry_mode="again")


def test_redrive_for_a_job_that_is_not_step_functions_names_the_parameter_and_the_fix():
    with pytest.raises(DefinitionError) as caught:
        RestJobOperator(task_id="r", connection_info=INFO, retry_mode="redrive")
    assert "Task 'r': retry_mode='redrive' is for Step Functions executions" in str(caught.value)
    assert "Fix: Remove retry_mode" in str(caught.value)
    assert RestJobOperator(task_id="n", connection_info=INFO, retry_mode="new").retry_start is False


def test_earlier_tries_newest_first_and_bounded():
    names = sfn.earlier_try_names("d", "t", "r", -1, 4)
    assert names == [sfn.derive_name("d", "t", "r", -1, n) for n in (3, 2, 1)]
    assert sfn.earlier_try_names("d", "t", "r", -1, 1) == []
    assert len(sfn.earlier_try_names("d", "t", "r", 2, 50)) == sfn.REDRIVE_LOOKBACK


def test_the_client_token_is_per_execution_and_try_and_fits_the_api():
    token = sfn.redrive_token("arn:x", 2)
    assert token == sfn.redrive_token("arn:x", 2) and len(token) == 64
    assert token != sfn.redrive_token("arn:x", 3) and token != sfn.redrive_token("arn:y", 2)


@pytest.mark.parametrize(
    "described, action, words",
    [
        ({"status": "FAILED", "redriveStatus": "REDRIVABLE"}, sfn.REDRIVE, "it ended FAILED"),
        ({"status": "TIMED_OUT"}, sfn.REDRIVE, "it ended TIMED_OUT"),
        ({"status": "ABORTED", "redriveStatus": "REDRIVABLE"}, sfn.REDRIVE, "it ended ABORTED"),
        ({"status": "RUNNING"}, sfn.ATTACH, "still RUNNING"),
        ({"status": "PENDING_REDRIVE"}, sfn.ATTACH, "still PENDING_REDRIVE"),
        ({"status": "SUCCEEDED"}, sfn.NEW, "only FAILED, TIMED_OUT or ABORTED executions are redriven"),
        (
            {
                "status": "FAILED",
                "redriveStatus": "NOT_REDRIVABLE",
                "redriveStatusReason": "Execution redrivable period exceeded",
            },
            sfn.NEW,
            "cannot be redriven (Execution redrivable period exceeded)",
        ),
    ],
)
def test_what_a_later_try_does_with_the_earlier_execution(described, action, words):
    got, why = sfn.redrive_decision(described)
    assert got == action and words in why


def test_refusals_that_start_a_new_execution_and_errors_that_do_not():
    assert _cannot_redrive(ServiceError("not redrivable", error_type="ExecutionNotRedrivable", status=400))
    assert _cannot_redrive(
        RequestFailedError("stage: API Gateway answered 403 'Missing Authentication Token'.", status=403)
    )
    assert not _cannot_redrive(ServiceError("slow down", error_type="ThrottlingException", status=400))
    assert not _cannot_redrive(RequestFailedError("HTTP 500", status=500))
