"""A generic (non-Step-Functions) REST job for the end-to-end stop tests.

The job API is tests/restjob/jobapi.py run as a process (``python -m tests.harness.jobapi --port N``
prints its URL); give that URL to every Airflow component as RESTJOB_JOBAPI_URL.  The requests are
unsigned (no authName) with absolute URLs, so no connection is needed.

- ``e2e_generic_long``: a 10-minute job, deferred; mark the task failed -> the trigger sends
  ``POST /jobs/{id}/cancel`` (check ``GET /_admin/jobs``: state CANCELLED, ``cancels``).
- ``e2e_generic_long_worker``: the same polled in the worker (on_kill path).
- ``e2e_generic_succeed``: a 3-second job that ends DONE.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.sdk import DAG

from airflow_restjob.operators.rest_job import RestJobOperator

API = os.environ.get("RESTJOB_JOBAPI_URL", "http://127.0.0.1:8123").rstrip("/")


def definition(duration: float) -> dict[str, Any]:
    return {
        "request": {
            "url": f"{API}/jobs",
            "method": "POST",
            "body": {"duration": duration, "outcome": "DONE", "run": "{{ run_id }}"},
            "takeoverKeys": ["jobId"],
            "jobnetValKeys": ["jobId"],
        },
        "monitoring": {
            "url": API + "/jobs/{{ takeover.jobId }}",
            "method": "GET",
            "firstMonitorInterval": 1,
            "pollingInterval": 2,
            "pollingEndKey": "state",
            "pollingEndVal": ["DONE", "ERROR", "CANCELLED"],
            "checkResultVal": ["DONE"],
        },
        "termination": {
            "url": API + "/jobs/{{ takeover.jobId }}/cancel",
            "method": "POST",
            "body": {"reason": "airflow task {{ ti.task_id }} of {{ run_id }} cancelled"},
        },
    }


SCENARIOS: dict[str, dict[str, Any]] = {
    "e2e_generic_succeed": {"connection_info": definition(3)},
    "e2e_generic_long": {"connection_info": definition(600)},
    "e2e_generic_long_worker": {"connection_info": definition(600), "deferrable": False},
}

for dag_id, params in SCENARIOS.items():
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["e2e"]) as dag:
        RestJobOperator(task_id="run", **params)
    globals()[dag_id] = dag
