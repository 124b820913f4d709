"""DAGs for bench/bench_stop_latency.py (sandbox state machines)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator

SM = "arn:aws:states:us-east-1:123456789012:stateMachine:"

with DAG("bench_long", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, max_active_runs=20):
    StepFunctionsExecutionOperator(
        task_id="run", state_machine_arn=SM + "long", first_poll_delay=1, poll_interval=5, deferrable=True
    )

with DAG("bench_succeed", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, max_active_runs=20):
    StepFunctionsExecutionOperator(
        task_id="run",
        state_machine_arn=SM + "succeed",
        input={"wait_seconds": 4},
        first_poll_delay=1,
        poll_interval=5,
        deferrable=True,
    )
