"""The first release's module paths keep working: DAG files import from them, serialized DAGs name
the timetable by its class path, and Airflow stores trigger classpaths in its database."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "old, name, new",
    [
        ("airflow_restjob.operator", "StepFunctionsExecutionOperator", "airflow_restjob.operators.step_functions"),
        ("airflow_restjob.operator", "RestJobOperator", "airflow_restjob.operators.rest_job"),
        ("airflow_restjob.trigger", "RestJobTrigger", "airflow_restjob.triggers.rest_job"),
        ("airflow_restjob.hook", "RestJobHook", "airflow_restjob.hooks.rest_job"),
        ("airflow_restjob.calendar", "BusinessCalendar", "airflow_restjob.timetables.business_calendar"),
    ],
)
def test_old_path_gives_the_new_class(old, name, new):
    from airflow.sdk.module_loading import import_string  # the triggerer's (Airflow 3.1-3.3)

    assert import_string(f"{old}.{name}") is import_string(f"{new}.{name}")


def test_timetable_keeps_its_serialized_class_path():
    """A DAG serialized by 0.1.0 names ``airflow_restjob.timetable.BusinessDayTimetable``: the plugin
    registers a class under that name (and the new one under its own)."""
    from airflow_restjob.plugin import RestJobPlugin
    from airflow_restjob.timetables.business_day import BusinessDayTimetable

    Legacy = importlib.import_module("airflow_restjob.timetable").BusinessDayTimetable

    registered = {f"{t.__module__}.{t.__qualname__}": t for t in RestJobPlugin.timetables}  # Airflow's qualname()
    assert registered["airflow_restjob.timetable.BusinessDayTimetable"] is Legacy
    assert registered["airflow_restjob.timetables.business_day.BusinessDayTimetable"] is BusinessDayTimetable
    assert issubclass(Legacy, BusinessDayTimetable)


def test_importing_the_package_imports_none_of_its_modules():
    code = (
        "import sys, airflow_restjob; "
        "print(sorted(m for m in sys.modules if m.startswith('airflow_restjob.') "
        "and not isinstance(sys.modules[m], airflow_restjob._LegacyModule)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_operators_do_not_import_aiohttp_or_the_async_transport():
    """DAG parse cost: a DAG file that imports the operators loads no triggerer machinery."""
    code = (
        "import sys; "
        "from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator; "
        "from airflow_restjob.operators.rest_job import RestJobOperator; "
        "print('aiohttp' in sys.modules, 'airflow_restjob.transport.aio' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
