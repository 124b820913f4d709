"""An Express workflow for tests/e2e/test_express.py: StartSyncExecution through the API Gateway's
start-sync-execution resource (the test turns it on), in the worker."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_restjob.operators.step_functions import StepFunctionsExpressExecutionOperator

with DAG("e2e_express", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["e2e"]) as dag:
    StepFunctionsExpressExecutionOperator(
        task_id="run",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:express_succeed",
        input={"car": "{{ run_id }}", "wait_seconds": 2},
    )
