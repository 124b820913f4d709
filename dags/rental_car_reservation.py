"""The article's rental-car flow as one Airflow DAG.

1. ``export_vehicle_master`` - the on-premises step (vehicle management system), here a Bash task.
2. ``reserve_on_aws`` - the REST execution job: starts the reservation state machine on AWS Step
   Functions through the SigV4-signed API Gateway, waits in the triggerer (no worker slot), and
   stops the execution if the task is cancelled. Returns the execution's output.
3. ``notify_branch`` - a follow-up step that uses the execution output from XCom.

Copy it, point the connection ``restjob_default`` at your API Gateway stage, and set the Airflow
Variable ``rental_car_state_machine_arn`` (defaults to the embedded sandbox's state machine).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, task

from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator

SANDBOX_STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:rental_car"

with DAG(
    dag_id="rental_car_reservation",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["rental-car", "restjob"],
    doc_md=__doc__,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=30)},
):
    export = BashOperator(
        task_id="export_vehicle_master",
        bash_command="echo 'exported vehicle master for {{ dag_run.run_after | ds }}: compact=12 suv=4 van=2'",
    )

    reserve = StepFunctionsExecutionOperator(
        task_id="reserve_on_aws",
        conn_id="restjob_default",
        deferrable=True,  # wait in the triggerer (the default follows [operators] default_deferrable)
        state_machine_arn="{{ var.value.get('rental_car_state_machine_arn', '" + SANDBOX_STATE_MACHINE + "') }}",
        input={"customer": "C-1001", "vehicle": "suv", "days": 3, "requested_on": "{{ dag_run.run_after | ds }}"},
        first_poll_delay=1,
        poll_interval=2,
        max_wait=3600,
        execution_timeout=timedelta(hours=2),
    )

    @task
    def notify_branch(reservation: dict) -> str:
        message = (
            f"reservation {reservation['reservation_id']} for {reservation['customer']}: "
            f"{reservation['vehicle']} {reservation['status']}"
        )
        print(message)
        return message

    export >> reserve
    notify_branch(reserve.output)
