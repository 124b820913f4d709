"""Rental-car scenario: cloud jobs that follow the on-premises business calendar (営業日).

Calendar ``dags/calendars/rental_car_jp.json``: Saturdays, Sundays, Japanese national holidays
(substitute holidays included) and the year-end closure 12/29-01/03 are closed.

* ``rental_car_reservation_sync``: every business day at 06:00 Asia/Tokyo.
* ``rental_car_monthly_settlement``: on the 25th, moved to the previous business day when the
  25th is closed.

Both run a Step Functions REST job (the embedded sandbox's state machines by default; set the
Airflow Variables ``rental_car_sync_state_machine_arn`` / ``rental_car_settlement_state_machine_arn``).
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.sdk import DAG

from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator
from airflow_restjob.timetables.business_day import BusinessDayTimetable

CALENDAR_FILE = Path(__file__).parent / "calendars" / "rental_car_jp.json"
START = pendulum.datetime(2025, 1, 1, tz="Asia/Tokyo")
SANDBOX = "arn:aws:states:us-east-1:123456789012:stateMachine:"

with DAG(
    dag_id="rental_car_reservation_sync",
    schedule=BusinessDayTimetable.every_business_day(CALENDAR_FILE, at="06:00", timezone="Asia/Tokyo"),
    start_date=START,
    catchup=False,
    tags=["rental-car", "business-day"],
    doc_md=__doc__,
):
    StepFunctionsExecutionOperator(
        task_id="sync_reservations",
        deferrable=True,  # wait in the triggerer (the default follows [operators] default_deferrable)
        state_machine_arn="{{ var.value.get('rental_car_sync_state_machine_arn', '" + SANDBOX + "succeed') }}",
        input={"business_day": "{{ dag_run.run_after.astimezone(macros.dateutil.tz.gettz('Asia/Tokyo')).strftime('%Y-%m-%d') }}", "job": "reservation-sync"},
    )

with DAG(
    dag_id="rental_car_monthly_settlement",
    schedule=BusinessDayTimetable.day_of_month(
        CALENDAR_FILE, 25, shift="previous", at="06:00", timezone="Asia/Tokyo"
    ),
    start_date=START,
    catchup=False,
    tags=["rental-car", "business-day"],
    doc_md=__doc__,
):
    StepFunctionsExecutionOperator(
        task_id="settle_month",
        deferrable=True,
        state_machine_arn="{{ var.value.get('rental_car_settlement_state_machine_arn', '" + SANDBOX + "succeed') }}",
        input={"settlement_day": "{{ dag_run.run_after.astimezone(macros.dateutil.tz.gettz('Asia/Tokyo')).strftime('%Y-%m-%d') }}", "job": "monthly-settlement"},
    )
