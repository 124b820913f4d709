"""``airflow_restjob.timetable``, the first release's module path of the business-day timetable.

A DAG serialized by that release names its timetable ``airflow_restjob.timetable.BusinessDayTimetable``
and Airflow finds a timetable by that name among the plugins' timetables. This subclass keeps that
name (the plugin registers both), so such DAGs deserialize before the dag-processor parses them
again, and DAG files that still import from the old path keep working.
"""

from __future__ import annotations

from airflow_restjob.timetables.business_day import BusinessDayTimetable as _BusinessDayTimetable


class BusinessDayTimetable(_BusinessDayTimetable):
    __module__ = "airflow_restjob.timetable"


__all__ = ["BusinessDayTimetable"]
