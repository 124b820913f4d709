"""Airflow plugin of airflow-restjob, registered through the ``airflow.plugins`` entry point.

Every Airflow component that (de)serializes DAGs (dag-processor, scheduler, api-server and
triggerer) loads it, so keep this module light: only import what the attributes below need.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_restjob.timetables import legacy
from airflow_restjob.timetables.business_day import BusinessDayTimetable


class RestJobPlugin(AirflowPlugin):
    """Registers the business-day timetable, under its module path and the first release's."""

    name = "restjob"
    timetables: list[type[Any]] = [BusinessDayTimetable, legacy.BusinessDayTimetable]
    # Operator extra links (e.g. a link to the Step Functions execution) are appended here:
    # instances of BaseOperatorLink subclasses, see Airflow's plugin documentation.
    operator_extra_links: list[Any] = []
    global_operator_extra_links: list[Any] = []
