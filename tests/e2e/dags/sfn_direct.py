"""Step Functions over the direct API (no API Gateway) for tests/e2e/test_direct_api.py.

``restjob_states`` is registered by the test with ``airflow-restjob credentials add`` (the
sandbox's ``states_statement()``: host = its Step Functions endpoint, service ``states``).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator

SM = "arn:aws:states:us-east-1:123456789012:stateMachine:"
COMMON = {"conn_id": "restjob_states", "deferrable": True, "first_poll_delay": 1, "poll_interval": 2}

SCENARIOS = {
    "e2e_direct_succeed": {"state_machine_arn": SM + "succeed", "input": {"run": "{{ run_id }}"}},
    "e2e_direct_long": {"state_machine_arn": SM + "long"},
    "e2e_direct_long_worker": {"state_machine_arn": SM + "long", "deferrable": False},
}

for dag_id, params in SCENARIOS.items():
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["e2e"]) as dag:
        StepFunctionsExecutionOperator(task_id="run", **{**COMMON, **params})
    globals()[dag_id] = dag
