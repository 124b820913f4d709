"""DAGs for bench/bench_short_jobs.py (sandbox 'succeed' state machine: it waits input.wait_seconds)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator

SM = "arn:aws:states:us-east-1:123456789012:stateMachine:succeed"

SCENARIOS = {
    # a 2 s job with the default worker window ([restjob] worker_wait_window = 5 s): never defers
    "bench_short_2s": {"input": {"wait_seconds": 2}},
    # the same job deferred at once (worker_wait=0): what every short job cost before the window
    "bench_short_2s_deferred": {"input": {"wait_seconds": 2}, "worker_wait": 0},
    # a 60 s job: the window, then the triggerer with the default 10 s poll interval
    "bench_long_60s": {"input": {"wait_seconds": 60}, "poll_interval": 10},
}

for dag_id, params in SCENARIOS.items():
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, max_active_runs=20) as dag:
        StepFunctionsExecutionOperator(task_id="run", state_machine_arn=SM, deferrable=True, **params)
    globals()[dag_id] = dag
