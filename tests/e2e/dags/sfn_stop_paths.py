"""Step Functions DAGs for the end-to-end stop-path tests (tests/e2e/test_stop_paths.py).

State machine ARNs are the embedded sandbox's (account 123456789012, us-east-1); the connection
``restjob_default`` is given to every Airflow component as AIRFLOW_CONN_RESTJOB_DEFAULT.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator

SM = "arn:aws:states:us-east-1:123456789012:stateMachine:"
FAST = {"first_poll_delay": 1, "poll_interval": 2}

SCENARIOS = {
    "e2e_sfn_succeed": {"state_machine_arn": SM + "succeed", "input": {"run": "{{ run_id }}"}},
    "e2e_sfn_long": {"state_machine_arn": SM + "long"},
    "e2e_sfn_long_worker": {"state_machine_arn": SM + "long", "deferrable": False},
    "e2e_sfn_exec_timeout": {"state_machine_arn": SM + "long", "execution_timeout": timedelta(seconds=12)},
    "e2e_sfn_max_wait": {"state_machine_arn": SM + "long", "max_wait": 10},
}

for dag_id, params in SCENARIOS.items():
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["e2e"]) as dag:
        StepFunctionsExecutionOperator(task_id="run", **{**FAST, **params})
    globals()[dag_id] = dag
