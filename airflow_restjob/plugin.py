"""Airflow plugin of airflow-restjob, registered through the ``airflow.plugins`` entry point.

Every Airflow component that (de)serializes DAGs (dag-processor, scheduler, api-server and
triggerer) loads it, so keep this module light: only import what the attributes below need.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_restjob.timetable import BusinessDayTimetable


class RestJobPlugin(AirflowPlugin):
    """Registers the business-day timetable (and, later, operator extra links)."""

    name = "restjob"
    timetables: list[type[Any]] = [BusinessDayTimetable]
    # Operator extra links (e.g. a link to the Step Functions execution) are appended here:
    # instances of BaseOperatorLink subclasses, see Airflow's plugin documentation.
    operator_extra_links: list[Any] = []
    global_operator_extra_links: list[Any] = []
