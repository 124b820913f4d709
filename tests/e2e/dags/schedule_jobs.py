"""DAGs for the scheduled-run e2e tests (tests/e2e/test_schedules.py). Both are paused at creation.

* ``schedule_every_minute``: cron ``* * * * *``; the scheduler creates its runs.
* ``schedule_business_day``: ``BusinessDayTimetable`` (the plugin's timetable) on the rental-car
  calendar (dags/calendars/rental_car_jp.json: weekends, Japanese holidays, 12/29-01/03) plus one
  extra closed day, the next weekday after today in Tokyo - so on any date the next run skips a
  day that a plain daily cron would pick.

Both run a short Step Functions REST job (deferred: the triggerer handles a DAG with our
timetable too). The executions last a few seconds: a trigger that fires within ~5 s of deferring
can hit an Airflow 3.3.2 LocalExecutor race (see e2e_smoke.py).
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pendulum
from airflow.sdk import DAG

from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator
from airflow_restjob.timetables.business_calendar import BusinessCalendar
from airflow_restjob.timetables.business_day import BusinessDayTimetable

SM = "arn:aws:states:us-east-1:123456789012:stateMachine:succeed"
CALENDAR_FILE = Path(__file__).resolve().parents[3] / "dags" / "calendars" / "rental_car_jp.json"
TZ = "Asia/Tokyo"
AT = "06:00"
JOB = {"first_poll_delay": 6, "poll_interval": 2}
INPUT = {
    "wait_seconds": 4,
    "run_id": "{{ run_id }}",
    "run_after": "{{ dag_run.run_after.isoformat() }}",
    "run_after_ds": "{{ dag_run.run_after | ds }}",
}


def next_weekday_in_tokyo(today: datetime.date | None = None) -> datetime.date:
    d = (today or pendulum.now(TZ).date()) + datetime.timedelta(days=1)
    while d.weekday() >= 5:
        d += datetime.timedelta(days=1)
    return d


def business_calendar(today: datetime.date | None = None) -> BusinessCalendar:
    data = json.loads(CALENDAR_FILE.read_text())
    data["closed"] = [*data.get("closed", []), next_weekday_in_tokyo(today).isoformat()]
    return BusinessCalendar.from_dict(data)


with DAG(
    "schedule_every_minute",
    schedule="* * * * *",
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["e2e", "schedule"],
):
    StepFunctionsExecutionOperator(task_id="run", state_machine_arn=SM, input=INPUT, **JOB)

with DAG(
    "schedule_business_day",
    schedule=BusinessDayTimetable.every_business_day(business_calendar(), at=AT, timezone=TZ),
    start_date=pendulum.datetime(2026, 1, 1, tz=TZ),
    catchup=False,
    max_active_runs=1,
    tags=["e2e", "schedule", "business-day"],
):
    StepFunctionsExecutionOperator(task_id="run", state_machine_arn=SM, input=INPUT, **JOB)
