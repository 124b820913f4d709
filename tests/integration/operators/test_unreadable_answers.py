"""Answers cut short on the way (the sandbox's ``malformed_json`` fault: the request is served, the
answer is half of it) and names already taken: a start that happened is found and attached to, an
execution of another input is never taken for this task's, and an unreadable poll is polled again."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from airflow_restjob.errors import DefinitionError, GarbledResponseError, UnparsableResponseError
from airflow_restjob.hooks.step_functions import StepFunctionsHook
from airflow_restjob.rest_job import step_functions as sfn
from airflow_restjob.rest_job.spec import PollSpec
from airflow_restjob.transport.aio import close_shared_sessions
from airflow_restjob.triggers.rest_job import RestJobTrigger

pytestmark = pytest.mark.integration
SM = "arn:aws:states:us-east-1:123456789012:stateMachine:succeed"


def fresh_name() -> str:
    return f"unreadable-{uuid.uuid4().hex[:10]}"


def starts(sandbox) -> list[dict]:
    return [r for r in sandbox.request_log() if r["resource"] == "start-execution"]


def test_a_start_whose_answer_is_cut_short_is_found_and_attached_to(sandbox, restjob_conn):
    name = fresh_name()
    sandbox.faults.inject(resource="start-execution", kind="malformed_json", count=1)
    arn = StepFunctionsHook(restjob_conn).start_execution(SM, name, '{"car": "cut"}')
    assert arn == sfn.execution_arn_for(SM, name)
    assert sandbox.describe_execution(arn)["status"] in ("RUNNING", "SUCCEEDED")
    assert len(starts(sandbox)) == 1  # found by name, not started twice
    assert [r["resource"] for r in sandbox.request_log()][-1] == "describe-execution"


def test_an_unreadable_answer_of_a_start_that_did_not_happen_keeps_the_arn(sandbox, restjob_conn):
    hook = StepFunctionsHook(restjob_conn)
    name = fresh_name()
    sandbox.faults.inject(resource="start-execution", kind="malformed_json", count=1)
    # another input than the one the (cut) start used: the execution found is not this task's
    hook.start_execution(SM, name, '{"car": "first"}')
    sandbox.faults.inject(resource="start-execution", kind="malformed_json", count=1)
    with pytest.raises(UnparsableResponseError) as caught:
        hook.start_execution(SM, name, '{"car": "second"}')
    assert sfn.execution_arn_for(SM, name) in str(caught.value)


def test_a_taken_name_with_another_input_is_a_clear_error_and_the_same_input_reattaches(sandbox, restjob_conn):
    hook = StepFunctionsHook(restjob_conn)
    name = fresh_name()
    arn = hook.start_execution(SM, name, '{"car": "a", "n": 1}')
    assert hook.start_execution(SM, name, '{"n": 1, "car": "a"}') == arn  # JSON-equal: re-attach
    with pytest.raises(DefinitionError) as caught:
        hook.start_execution(SM, name, '{"car": "b"}')
    text = str(caught.value)
    assert "end code 2" in text and f"An execution named {name!r}" in text and "already exists with another input" in text
    assert "Fix: Leave name unset" in text


def run_trigger(arn: str) -> dict:
    trigger = RestJobTrigger(
        conn_id="restjob_default",
        job_id=arn,
        spec=sfn.job_spec(arn, PollSpec(first_delay=0, interval=1, max_interval=1, jitter=0)).to_dict(),
        deadline=time.time() + 120,
    )

    async def go():
        try:
            async for event in trigger.run():
                return event.payload
        finally:
            await close_shared_sessions()

    return asyncio.run(go())


def test_unreadable_polls_are_polled_again_a_few_times(sandbox, restjob_conn):
    arn = StepFunctionsHook(restjob_conn).start_execution(SM, fresh_name(), '{"wait_seconds": 3}')
    sandbox.faults.inject(resource="describe-execution", kind="malformed_json", count=2)
    event = run_trigger(arn)
    assert event["status"] == "success", event

    arn = StepFunctionsHook(restjob_conn).start_execution(SM, fresh_name(), '{"wait_seconds": 30}')
    sandbox.faults.inject(resource="describe-execution", kind="malformed_json", count=10)
    event = run_trigger(arn)
    assert event["status"] == "error" and event["end_code"] == 8 and arn in event["message"], event
    assert "not JSON" in event["message"]
    assert issubclass(GarbledResponseError, UnparsableResponseError)
    sandbox.aws_client("stepfunctions").stop_execution(executionArn=arn)
