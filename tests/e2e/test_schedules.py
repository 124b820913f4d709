"""Scheduled runs through a REAL Airflow (the scheduler creates them; no manual trigger), against the
embedded sandbox. DAGs: tests/e2e/dags/schedule_jobs.py (paused at creation; each test unpauses
its DAG and pauses it again).

* a cron DAG (every minute) gets a ``scheduled`` run on a minute tick whose REST job succeeds;
* a ``BusinessDayTimetable`` DAG: parsed by the dag-processor, its summary and description in the
  REST API, the run the scheduler creates and the next one it plans fall on the dates that
  ``BusinessCalendar`` gives (weekends, Japanese holidays, the rental-car closures and one extra
  closed day), and its REST job runs - the plugin works in every component.
"""

from __future__ import annotations

import datetime
import importlib.util
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.waiting import wait_until
from tests.harness.local_airflow import LocalAirflow, RestApiClient

DAGS_FOLDER = Path(__file__).parent / "dags"
TZ = ZoneInfo("Asia/Tokyo")
UTC = datetime.timezone.utc
AT = datetime.time(6, 0)
TIMETABLE = "airflow_restjob.timetables.business_day.BusinessDayTimetable"


@pytest.fixture
def af(airflow_sandbox) -> LocalAirflow:
    return airflow_sandbox


def when(value: str | None) -> datetime.datetime | None:
    return None if value is None else datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def scheduled_run(api: RestApiClient, dag_id: str, timeout: float) -> dict:
    def first():
        runs = [r for r in api.dag_runs(dag_id, order_by="id") if r["run_type"] == "scheduled"]
        return runs[0] if runs else None

    return wait_until(first, timeout, f"a scheduled run of {dag_id}")


def assert_job_succeeded(api: RestApiClient, sandbox, dag_id: str, run: dict) -> dict:
    run_id = run["dag_run_id"]
    done = api.wait_run(dag_id, run_id, timeout=240)
    assert done["state"] == "success", api.task_states(dag_id, run_id)
    output = api.xcom(dag_id, run_id, "run")
    assert output["run_id"] == run_id and output["result"] == "ok", output
    arn = api.xcom(dag_id, run_id, "run", "execution_arn")
    assert sandbox.describe_execution(arn)["status"] == "SUCCEEDED" and sandbox.stops_for(arn) == []
    return output


def test_cron_schedule_runs_through_the_scheduler(af, sandbox):
    api = af.client
    dag_id = "schedule_every_minute"
    dag = api.wait_for_dag(dag_id, timeout=180)
    assert dag["timetable_summary"] == "* * * * *"
    api.unpause(dag_id)
    try:
        run = scheduled_run(api, dag_id, timeout=150)
        run_after = when(run["run_after"])
        assert run_after is not None and (run_after.second, run_after.microsecond) == (0, 0), run
        assert when(run["logical_date"]) == run_after  # CronTriggerTimetable: logical date = the tick
        output = assert_job_succeeded(api, sandbox, dag_id, run)
        assert when(output["run_after"]) == run_after
    finally:
        api.pause(dag_id)


def _schedule_module():
    spec = importlib.util.spec_from_file_location("_schedule_jobs", DAGS_FOLDER / "schedule_jobs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_instant(d: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(d, AT, tzinfo=TZ).astimezone(UTC)


def test_business_day_timetable_run_on_the_right_date(af, sandbox):
    api = af.client
    dag_id = "schedule_business_day"
    api.wait_for_dag(dag_id, timeout=180)
    # expected dates from the calendar alone (day by day, not through the timetable)
    cal = _schedule_module().business_calendar()
    now = datetime.datetime.now(UTC)
    d = now.astimezone(TZ).date()
    while not (cal.is_business_day(d) and run_instant(d) <= now):
        d -= datetime.timedelta(days=1)
    latest = d  # catchup=False: the latest business day whose 06:00 Tokyo has passed
    previous = latest - datetime.timedelta(days=1)
    while not cal.is_business_day(previous):
        previous -= datetime.timedelta(days=1)
    following = latest + datetime.timedelta(days=1)
    while not cal.is_business_day(following):
        following += datetime.timedelta(days=1)
    skipped = [
        latest + datetime.timedelta(days=n) for n in range(1, (following - latest).days)
    ]  # closed days between the two runs
    print(
        f"business-day runs: previous {previous}, latest {latest}, next {following} (closed between: {skipped})"
    )

    dag = api.dag(dag_id)
    details = api.dag_details(dag_id)
    assert dag["timetable_summary"] == "Every business day at 06:00 (rental-car)"
    description = details["timetable_description"]
    assert description.startswith("Every business day at 06:00 Asia/Tokyo"), description
    assert "rental-car" in description and "JP national holidays" in description, description
    # parsed and still paused: the scheduler plans the latest missed business day
    assert when(dag["next_dagrun_run_after"]) == run_instant(latest), dag
    assert when(dag["next_dagrun_data_interval_start"]) == run_instant(previous), dag
    assert when(dag["next_dagrun_data_interval_end"]) == run_instant(latest), dag

    api.unpause(dag_id)
    try:
        run = scheduled_run(api, dag_id, timeout=120)
        assert when(run["run_after"]) == run_instant(latest), run
        assert when(run["data_interval_start"]) == run_instant(previous), run
        assert when(run["data_interval_end"]) == run_instant(latest), run
        assert when(run["logical_date"]) == run_instant(previous), run  # = data interval start
        output = assert_job_succeeded(api, sandbox, dag_id, run)  # deferred: the triggerer too
        assert when(output["run_after"]) == run_instant(latest)
        print(
            f"run_after {run['run_after']}: '{{{{ dag_run.run_after | ds }}}}' renders {output['run_after_ds']}"
        )
        # the next run the scheduler plans: the next business day, closed days skipped
        dag = wait_until(
            lambda: (x := api.dag(dag_id)) and when(x["next_dagrun_run_after"]) != run_instant(latest) and x,
            60,
            "the next planned run",
        )
        assert when(dag["next_dagrun_run_after"]) == run_instant(following), dag
        assert when(dag["next_dagrun_data_interval_start"]) == run_instant(latest), dag
        assert when(dag["next_dagrun_data_interval_end"]) == run_instant(following), dag
    finally:
        api.pause(dag_id)

    # the plugin is loaded by the api-server, and no component failed to resolve the timetable
    plugins = api.get_json("plugins", limit=100)["plugins"]
    ours = [p for p in plugins if p["name"] == "restjob"]
    assert ours and any("BusinessDayTimetable" in str(t) for t in ours[0].get("timetables", [])), ours
    for name in af.component_names:
        text = af.log_file(name).read_text(errors="replace")
        for bad in ("TimetableNotRegistered", "is not registered", "Failed to import plugin"):
            assert bad not in text, f"{name}: {bad}"
