"""Rental-car scenario: cloud jobs that follow the on-premises business calendar (営業日).

Calendar ``dags/calendars/rental_car_jp.json``: Saturdays, Sundays, Japanese national holidays
(substitute holidays included) and the year-end closure 12/29-01/03 are closed.

* ``rental_car_reservation_sync``: every business day at 06:00 Asia/Tokyo.
* ``rental_car_monthly_settlement``: on the 25th, moved to the previous business day when the
  25th is closed.

The tasks are placeholders; the REST execution job operator is wired in later.
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from airflow_restjob.timetable import BusinessDayTimetable

CALENDAR_FILE = Path(__file__).parent / "calendars" / "rental_car_jp.json"
START = pendulum.datetime(2025, 1, 1, tz="Asia/Tokyo")

with DAG(
    dag_id="rental_car_reservation_sync",
    schedule=BusinessDayTimetable.every_business_day(CALENDAR_FILE, at="06:00", timezone="Asia/Tokyo"),
    start_date=START,
    catchup=False,
    tags=["rental-car", "business-day"],
    doc_md=__doc__,
):
    EmptyOperator(task_id="sync_reservations")

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
    EmptyOperator(task_id="settle_month")
