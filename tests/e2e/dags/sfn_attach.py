"""StepFunctionsExecutionSensor for tests/e2e/test_attach.py: the test starts the execution and
puts its ARN into the Variable attach_arn (the API Gateway connection restjob_default)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_restjob.sensors.step_functions import StepFunctionsExecutionSensor

with DAG("e2e_attach", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["e2e"]) as dag:
    StepFunctionsExecutionSensor(
        task_id="run", execution_arn="{{ var.value.attach_arn }}", deferrable=True, poke_interval=1
    )
