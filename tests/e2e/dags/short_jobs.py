"""Short Step Functions jobs for tests/e2e/test_short_jobs.py (the worker window before a deferral).

The e2e Airflow runs with ``[restjob] worker_wait_window = 0`` (tests/e2e/conftest.py), so these
DAGs set ``worker_wait`` themselves: a 2 s job ends inside a 5 s window and never defers; a 20 s
job defers after the window and completes through the triggerer.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator

SM = "arn:aws:states:us-east-1:123456789012:stateMachine:succeed"

SCENARIOS = {
    "e2e_short_job": {"input": {"wait_seconds": 2}, "worker_wait": 5},
    "e2e_short_window_then_defer": {"input": {"wait_seconds": 20}, "worker_wait": 5},
}

for dag_id, params in SCENARIOS.items():
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["e2e"]) as dag:
        StepFunctionsExecutionOperator(task_id="run", state_machine_arn=SM, deferrable=True, **params)
    globals()[dag_id] = dag
