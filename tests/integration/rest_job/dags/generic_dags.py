"""Generic REST job DAGs (not Step Functions) against tests/restjob/jobapi.py, run with dag.test().

No authName: the requests are unsigned; ``conn_id="jobapi"`` (AIRFLOW_CONN_JOBAPI, set by the
tests) gives the base URL for the relative URLs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG

from airflow_restjob.operators.rest_job import RestJobOperator


def definition(submit: Any, *, polling_count: int | None = None, takeover: Any = None) -> dict[str, Any]:
    monitoring: dict[str, Any] = {
        "url": "jobs/{{ takeover.jobId }}",
        "method": "GET",
        "header": {"X-Run": "{{ run_id }}"},
        "firstMonitorInterval": 0.2,
        "pollingInterval": 1,
        "pollingEndKey": "state",
        "pollingEndVal": ["DONE", "ERROR", "CANCELLED"],
        "checkResultKey": "state",
        "checkResultVal": ["DONE"],
        "jobnetValKeys": {"job_result": "result.value"},
    }
    if polling_count:
        monitoring["pollingCount"] = polling_count
    return {
        "request": {
            "url": "jobs",
            "method": "POST",
            "body": submit,
            "query": {"team": "ops"},
            "takeoverKeys": takeover or ["jobId"],
            "jobnetValKeys": ["jobId", "ticket"],
        },
        "monitoring": monitoring,
        "termination": {
            "url": "jobs/{{ takeover.jobId }}/cancel",
            "method": "POST",
            "body": {"reason": "cancelled by Airflow task {{ ti.task_id }}"},
        },
    }


SCENARIOS: dict[str, dict[str, Any]] = {
    "gen_success": {"connection_info": definition("jobapi_files/submit_body.json")},
    "gen_success_worker": {
        "connection_info": definition("jobapi_files/submit_body.json"),
        "deferrable": False,
    },
    "gen_failure": {"connection_info": definition({"duration": 1, "outcome": "ERROR", "error": "disk full"})},
    "gen_polls_exhausted": {"connection_info": definition({"duration": 120}, polling_count=2)},
    "gen_polls_exhausted_worker": {
        "connection_info": definition({"duration": 120}, polling_count=2),
        "deferrable": False,
    },
    "gen_no_job_id": {"connection_info": definition({"duration": 120, "noId": True})},
    "gen_missing_takeover": {
        "connection_info": definition({"duration": 120, "noTicket": True}, takeover=["jobId", "ticket"])
    },
    "gen_missing_end_key": {"connection_info": definition({"duration": 120, "noEndKey": True})},
    "gen_bad_body_file": {"connection_info": definition("jobapi_files/bad_body.json")},
    "gen_no_monitoring": {
        "connection_info": {"request": {"url": "jobs", "body": {"duration": 1}, "takeoverKeys": ["jobId"]}}
    },
}

for dag_id, params in SCENARIOS.items():
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["test"]) as dag:
        RestJobOperator(task_id="run", conn_id="jobapi", **params)
    globals()[dag_id] = dag
