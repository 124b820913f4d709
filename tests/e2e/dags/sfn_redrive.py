"""retry_mode='redrive' for tests/e2e/test_redrive.py: the 'fail' state machine fails the first
try; the next try redrives the same execution (the sandbox's redrive then succeeds) or, when it
cannot, starts a new one and says why. ``restjob_states`` is the direct API (registered by the test)."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator

SM = "arn:aws:states:us-east-1:123456789012:stateMachine:"
COMMON = {
    "state_machine_arn": SM + "fail",
    "retry_mode": "redrive",
    "retries": 1,
    "retry_delay": timedelta(seconds=1),
    "deferrable": True,
    "first_poll_delay": 1,
    "poll_interval": 1,
}

SCENARIOS = {
    "e2e_redrive_direct": {"conn_id": "restjob_states"},  # the direct API: RedriveExecution is always there
    "e2e_redrive_gateway": {},  # API Gateway: only with a redrive-execution resource
}

for dag_id, params in SCENARIOS.items():
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["e2e"]) as dag:
        StepFunctionsExecutionOperator(task_id="run", **{**COMMON, **params})
    globals()[dag_id] = dag


# a permanent error (StateMachineDoesNotExist) fails at once: no Airflow retry, though retries=2
with DAG("e2e_unknown_machine", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["e2e"]) as dag:
    StepFunctionsExecutionOperator(
        task_id="run",
        state_machine_arn=SM + "does_not_exist",
        retries=2,
        retry_delay=timedelta(seconds=1),
        deferrable=True,
    )
