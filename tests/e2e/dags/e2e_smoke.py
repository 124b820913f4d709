"""Test-only DAGs for the e2e smoke tests (tests/e2e/test_cluster_smoke.py)."""

from __future__ import annotations

import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor
from airflow.sdk import DAG, task

with DAG(
    dag_id="e2e_smoke", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False, tags=["e2e"]
):
    echo = BashOperator(task_id="echo", bash_command="echo 'hello from e2e_smoke {{ run_id }}'")

    @task
    def compute() -> dict:
        return {"answer": 42, "items": [1, 2, 3]}

    echo >> compute()

with DAG(
    dag_id="e2e_long", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False, tags=["e2e"]
):
    BashOperator(task_id="sleep", bash_command="echo started; sleep 600")

with DAG(
    dag_id="e2e_deferred",
    schedule=None,
    start_date=datetime.datetime(2024, 1, 1),
    catchup=False,
    tags=["e2e"],
):
    # Defers to the triggerer for 15 s, then succeeds. Not shorter: when a trigger fires within
    # ~5 s of deferring, Airflow 3.3.2's LocalExecutor can deliver the deferral's late "success"
    # executor event after the task was re-queued, and the scheduler then marks the task failed.
    TimeDeltaSensor(
        task_id="wait",
        delta=datetime.timedelta(seconds=15),
        deferrable=True,
    )
