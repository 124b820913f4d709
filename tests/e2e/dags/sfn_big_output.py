"""A Step Functions output at the service's limit (256 KiB) for tests/e2e/test_big_output.py: the
'succeed' state machine returns its input plus result=ok."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator

SM = "arn:aws:states:us-east-1:123456789012:stateMachine:succeed"
# {"car": "xxx...", "result": "ok"} is 262,143 bytes: the largest output Step Functions allows (< 256 KiB)
CAR_LENGTH = 262_143 - len('{"car": "", "result": "ok"}')

with DAG("e2e_big_output", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["e2e"]) as dag:
    StepFunctionsExecutionOperator(
        task_id="run",
        state_machine_arn=SM,
        input={"car": "{{ 'x' * " + str(CAR_LENGTH) + " }}"},
        deferrable=True,
        first_poll_delay=1,
        poll_interval=1,
    )
