"""The article's rental-car job as it was configured in the job scheduler: four files, no code.

``restjob_files/`` holds the connection information file and its three body files, in the job
scheduler's format (``request`` / ``monitoring`` / ``termination``, ``takeoverKeys``,
``pollingEndKey`` ...). ``RestJobOperator`` loads and validates them when this DAG is parsed.

The URLs in the file (``start-execution``, ``describe-execution``, ``stop-execution``) are paths
relative to the host of the ``authName`` connection ``restjob_default``: point that connection at
your API Gateway stage (``https://{api-id}.execute-api.{region}.amazonaws.com/stage``) and put the
state machine's ARN into ``main_body.json``. As shipped, it runs against the embedded sandbox
(``airflow-restjob sandbox``), whose ``rental_car`` state machine it starts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, task

from airflow_restjob.operators.rest_job import RestJobOperator

with DAG(
    dag_id="rental_car_restjob_files",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["rental-car", "restjob"],
    doc_md=__doc__,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=30)},
):
    reserve = RestJobOperator(
        task_id="reserve_on_aws",
        connection_info="restjob_files/connection_info_stepfunctions.json",
        deferrable=True,  # wait in the triggerer (the default follows [operators] default_deferrable)
        max_wait=3600,
    )

    @task
    def notify_branch(execution_output: str | None, execution_arn: str | None) -> str:
        import json

        reservation = json.loads(execution_output or "{}")
        message = (
            f"{execution_arn}: reservation {reservation.get('reservation_id')} {reservation.get('status')}"
        )
        print(message)
        return message

    # jobnetValKeys become XCom keys: monitoring's execution_output, request's executionArn
    notify_branch(reserve.output["execution_output"], reserve.output["executionArn"])
