"""DAGs for the high-availability e2e tests (tests/e2e/test_ha.py).

``ha_mapped``: four mapped Step Functions REST jobs on the sandbox's ``succeed`` state machine,
each waiting ``dag_run.conf["wait_seconds"]`` seconds (default 30) - long enough to kill, freeze
or restart a component while every trigger is running. Mapped on purpose: the trigger's guard
reads the task state and the XCom of one map index.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator

SM = "arn:aws:states:us-east-1:123456789012:stateMachine:"
MAPPED = 4

with DAG(
    "ha_mapped",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    render_template_as_native_obj=True,  # wait_seconds must reach Step Functions as a number
    max_active_tasks=MAPPED,
    tags=["e2e", "ha"],
):
    StepFunctionsExecutionOperator.partial(
        task_id="run", state_machine_arn=SM + "succeed", first_poll_delay=1, poll_interval=2
    ).expand(
        input=[
            {"wait_seconds": "{{ dag_run.conf.get('wait_seconds', 30) | int }}", "job": i}
            for i in range(MAPPED)
        ]
    )

with DAG("ha_simple", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["e2e", "ha"]):
    # one deferred REST job of a few seconds: the "components healthy -> run success" measurement
    # (first poll after 6 s: a trigger that fires within ~5 s of deferring can hit an Airflow 3.3.2
    # LocalExecutor race, see e2e_smoke.py)
    StepFunctionsExecutionOperator(
        task_id="run",
        state_machine_arn=SM + "succeed",
        input={"wait_seconds": 4},
        first_poll_delay=6,
        poll_interval=2,
    )
