"""Airflow integration: plugin registration, DAG serialization round trip, DagBag parsing."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="restjob-calendar-af-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import json  # noqa: E402
from importlib.metadata import entry_points  # noqa: E402
from pathlib import Path  # noqa: E402

import pendulum  # noqa: E402
import pytest  # noqa: E402
from airflow.timetables.base import TimeRestriction  # noqa: E402

from airflow_restjob.plugin import RestJobPlugin  # noqa: E402
from airflow_restjob.timetables.business_calendar import BusinessCalendar  # noqa: E402
from airflow_restjob.timetables.business_day import BusinessDayTimetable  # noqa: E402

DAGS = Path(__file__).resolve().parents[3] / "dags"
QUALNAME = "airflow_restjob.timetables.business_day.BusinessDayTimetable"


def registered_timetables() -> dict:
    from airflow import plugins_manager

    if hasattr(plugins_manager, "get_timetables_plugins"):  # Airflow >= 3.2
        return plugins_manager.get_timetables_plugins()
    plugins_manager.initialize_timetables_plugins()  # Airflow 3.1
    return plugins_manager.timetable_classes or {}


def dag_serializer():
    from airflow.serialization import serialized_objects as so

    return getattr(so, "DagSerialization", None) or so.SerializedDAG


def make_dagbag(folder):
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow >= 3.2
    except ImportError:
        from airflow.models.dagbag import DagBag  # Airflow 3.1

    return DagBag(dag_folder=str(folder))


def test_entry_point_and_plugin():
    eps = [ep for ep in entry_points(group="airflow.plugins") if ep.name == "restjob"]
    assert eps and eps[0].load() is RestJobPlugin
    assert RestJobPlugin.name == "restjob"
    assert BusinessDayTimetable in RestJobPlugin.timetables
    assert isinstance(RestJobPlugin.operator_extra_links, list)


def test_plugin_manager_resolves_the_timetable():
    assert registered_timetables().get(QUALNAME) is BusinessDayTimetable


@pytest.mark.parametrize(
    "timetable",
    [
        BusinessDayTimetable.every_business_day(
            BusinessCalendar(country="JP", annual_closed=["12-29/01-03"]), at="06:00", timezone="Asia/Tokyo"
        ),
        BusinessDayTimetable.nth_business_day(
            BusinessCalendar(country="US") | BusinessCalendar(closed=["2025-07-03"], name="co"),
            -2,
            month_start_day=21,
            at="17:30",
            timezone="America/New_York",
            day_change="04:00",
        ),
    ],
    ids=["daily-jp", "nth-combined-us"],
)
def test_dag_serialization_round_trip(timetable):
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG

    with DAG(
        "bday_serialize", schedule=timetable, start_date=pendulum.datetime(2025, 1, 1), catchup=True
    ) as dag:
        EmptyOperator(task_id="t")
    ser = dag_serializer()
    data = json.loads(json.dumps(ser.to_dict(dag)))
    assert data["dag"]["timetable"]["__type"] == QUALNAME
    assert data["dag"]["timetable"]["__var"]["calendar"] == timetable.calendar.to_dict()
    back = ser.from_dict(data)
    assert isinstance(back.timetable, BusinessDayTimetable)
    assert back.timetable == timetable
    assert back.timetable.summary == timetable.summary
    assert back.timetable.description == timetable.description
    r = TimeRestriction(earliest=pendulum.datetime(2025, 1, 1), latest=None, catchup=True)
    a = b = None
    for _ in range(30):
        a = timetable.next_dagrun_info(last_automated_data_interval=a and a.data_interval, restriction=r)
        b = back.timetable.next_dagrun_info(last_automated_data_interval=b and b.data_interval, restriction=r)
        assert a == b


def test_example_dags_parse():
    bag = make_dagbag(DAGS / "rental_car_calendar.py")
    assert bag.import_errors == {}
    sync = bag.dags["rental_car_reservation_sync"]
    settle = bag.dags["rental_car_monthly_settlement"]
    assert sync.timetable.summary == "Every business day at 06:00 (rental-car)"
    assert settle.timetable.summary == "25th monthly at 06:00 (rental-car), if closed: previous business day"
    r = TimeRestriction(earliest=pendulum.datetime(2025, 5, 1, tz="Asia/Tokyo"), latest=None, catchup=True)
    got, last = [], None
    for _ in range(4):
        info = settle.timetable.next_dagrun_info(last_automated_data_interval=last, restriction=r)
        got.append(info.run_after.in_timezone("Asia/Tokyo").strftime("%Y-%m-%d %H:%M"))
        last = info.data_interval
    # 2025-05-25 is a Sunday, 2025-06-25 a Wednesday, 2025-07-25 a Friday, 2025-08-25 a Monday
    assert got == ["2025-05-23 06:00", "2025-06-25 06:00", "2025-07-25 06:00", "2025-08-25 06:00"]
    for dag in (sync, settle):
        data = json.loads(json.dumps(dag_serializer().to_dict(dag)))
        assert dag_serializer().from_dict(data).timetable == dag.timetable


def test_bad_rule_fails_dag_import(tmp_path):
    (tmp_path / "bad_bday_dag.py").write_text(
        "import pendulum\n"
        "from airflow.sdk import DAG\n"
        "from airflow_restjob.timetables.business_day import BusinessDayTimetable\n"
        "with DAG('bad_bday', start_date=pendulum.datetime(2025, 1, 1),\n"
        "         schedule=BusinessDayTimetable.nth_business_day({'country': 'JP'}, 25)):\n"
        "    pass\n"
    )
    bag = make_dagbag(tmp_path)
    assert "bad_bday" not in bag.dags
    (message,) = bag.import_errors.values()
    assert "rule 'nth_business_day'" in message and "n=25" in message
