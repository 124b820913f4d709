"""REST jobs and Step Functions executions with every credential type (tests/e2e/test_credentials.py).

No URL, key or secret is in this file: every request names a credential (``authName`` / ``conn_id``)
that the test registers with ``airflow-restjob credentials add`` (statements of the sandbox's AuthApi
and STS), and the relative URLs resolve against that credential's ``baseUrl``.  Without those
credentials the DAGs still parse (nothing is looked up before a task runs).

- ``e2e_cred_<kind>_deferred`` / ``e2e_cred_<kind>_worker``: a 12-second job waited for in the
  triggerer / a 4-second job polled in the worker, for kind in basic, bearer, oauth2, azure, sap, apikey.
- ``e2e_cred_oauth2_lifetime``: a 90-second job whose OAuth2 token lives 20 s (``sandbox_oauth2_lifetime``).
- ``e2e_cred_oauth2_revoked``: a job whose OAuth2 client is revoked (end code 10, nothing started).
- ``e2e_cred_cancel_oauth2`` / ``e2e_cred_cancel_basic``: a 10-minute job to cancel while deferred.
- ``e2e_cred_sfn_aws_role`` / ``e2e_cred_sfn_web_identity``: a 12-second Step Functions execution
  with AssumeRole / AssumeRoleWithWebIdentity; ``e2e_cred_sfn_role_expiry``: a 70-second execution whose assumed-role
  session (20 s) expires during the wait.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG

from airflow_restjob.operators.rest_job import RestJobOperator
from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator

# kind -> credential name (the sandbox's statement names)
CREDENTIALS = {
    "basic": "sandbox_basic",
    "bearer": "sandbox_bearer",
    "oauth2": "sandbox_oauth2",
    "azure": "sandbox_azure",
    "sap": "sandbox_sap",
    "apikey": "sandbox_apikey",
}
SM = "arn:aws:states:us-east-1:123456789012:stateMachine:"
# longer than the worker window (polls in the worker before a deferral, [restjob] worker_wait_window,
# default 5 s): these jobs defer whatever the window
DEFERRED_SECONDS = 12


def job(auth: str, seconds: float, poll: float = 2) -> dict[str, Any]:
    """A connection information file for the AuthApi job API behind credential ``auth``."""
    return {
        "request": {
            "url": "jobs",
            "method": "POST",
            "authName": auth,
            "body": {"seconds": seconds, "fail": False, "input": {"run": "{{ run_id }}", "credential": auth}},
            "takeoverKeys": ["jobId"],
            "jobnetValKeys": ["jobId"],
        },
        "monitoring": {
            "url": "jobs/{{ takeover.jobId }}",
            "method": "GET",
            "authName": auth,
            "firstMonitorInterval": 1,
            "pollingInterval": poll,
            "pollingEndKey": "status",
            "pollingEndVal": ["SUCCEEDED", "FAILED", "CANCELLED"],
            "checkResultVal": ["SUCCEEDED"],
        },
        "termination": {
            "url": "jobs/{{ takeover.jobId }}/cancel",
            "method": "POST",
            "authName": auth,
            "body": {"reason": "airflow task {{ ti.task_id }} of {{ run_id }} cancelled"},
        },
    }


REST_JOBS: dict[str, dict[str, Any]] = {}
for kind, credential in CREDENTIALS.items():
    REST_JOBS[f"e2e_cred_{kind}_deferred"] = {"connection_info": job(credential, DEFERRED_SECONDS)}
    REST_JOBS[f"e2e_cred_{kind}_worker"] = {"connection_info": job(credential, 4), "deferrable": False}
REST_JOBS["e2e_cred_oauth2_lifetime"] = {"connection_info": job("sandbox_oauth2_lifetime", 90)}
REST_JOBS["e2e_cred_oauth2_revoked"] = {"connection_info": job("sandbox_oauth2_revoked", 4)}
REST_JOBS["e2e_cred_cancel_oauth2"] = {"connection_info": job("sandbox_oauth2", 600)}
REST_JOBS["e2e_cred_cancel_basic"] = {"connection_info": job("sandbox_basic", 600)}

EXECUTIONS: dict[str, dict[str, Any]] = {
    "e2e_cred_sfn_aws_role": {
        "conn_id": "sandbox_aws_role",
        "input": {"run": "{{ run_id }}", "wait_seconds": DEFERRED_SECONDS},
    },
    "e2e_cred_sfn_web_identity": {
        "conn_id": "sandbox_aws_web_identity",
        "input": {"run": "{{ run_id }}", "wait_seconds": DEFERRED_SECONDS},
    },
    "e2e_cred_sfn_role_expiry": {
        "conn_id": "sandbox_aws_role_expiry",
        "input": {"run": "{{ run_id }}", "wait_seconds": 70},
        "poll_interval": 3,
    },
}

# deferrable=True unless a scenario says False: not [operators] default_deferrable's (Airflow: False)
for dag_id, params in REST_JOBS.items():
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["e2e"]) as dag:
        RestJobOperator(task_id="run", **{"deferrable": True, **params})
    globals()[dag_id] = dag

for dag_id, params in EXECUTIONS.items():
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["e2e"]) as dag:
        StepFunctionsExecutionOperator(
            task_id="run",
            state_machine_arn=SM + "succeed",
            first_poll_delay=1,
            **{"deferrable": True, "poll_interval": 2, **params},
        )
    globals()[dag_id] = dag
