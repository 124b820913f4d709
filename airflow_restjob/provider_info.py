"""Provider registration (entry point ``apache_airflow_provider``).

Kept import-light: Airflow reads this dict in every component without importing the hook.
"""

from __future__ import annotations

from typing import Any

from airflow_restjob import __version__

PACKAGE_NAME = "airflow-provider-restjob"
# pyproject.toml's [project.urls] Documentation, the same string: Airflow (3.1+) overwrites this key
# with that Project-URL when it discovers the provider (the UI's providers page links to it); the
# top-level schema allows extra keys (tests/integration/packaging/test_packaging.py checks both).
DOCUMENTATION_URL = "https://github.com/airflow-restjob/airflow-restjob/blob/main/README.md"

# ``[restjob]`` in airflow.cfg (or AIRFLOW__RESTJOB__<OPTION>): listed by ``airflow config list``,
# read by ``airflow config get-value restjob <option>``; ``transport/quota.py`` uses them.
CONFIG = {
    "restjob": {
        "description": "airflow-restjob: the poll budget of each triggerer process (the token bucket every "
        "DescribeExecution poll, retries included, takes a token from; see the README's Scale section). "
        "Give each triggerer a share of the account's Step Functions quota.",
        "options": {
            "poll_budget_burst": {
                "description": "Tokens available at once: polls that may go out together (AWS's bucket "
                "size for DescribeExecution: 300 in us-east-1, us-west-2 and eu-west-1, 250 elsewhere). "
                "At least 1.",
                "version_added": "0.1.0",
                "type": "float",
                "example": "80",
                "default": "300",
            },
            "poll_budget_per_second": {
                "description": "Refill rate in tokens per second: the steady poll rate of one triggerer "
                "(AWS's refill rate: 15 in the three big Regions, 10 elsewhere). Above 0.",
                "version_added": "0.1.0",
                "type": "float",
                "example": "4",
                "default": "15",
            },
            "execution_name_prefix": {
                "description": "Put in front of every derived Step Functions execution name (a task "
                "without name=): a short id of this deployment. Two Airflow deployments that run the "
                "same DAGs against one AWS account need different prefixes, else a run of one re-attaches "
                "to the other's execution of the same dag_id, task_id, run_id and try. Letters, digits, "
                "'-', '_', '.', at most 20 characters. Changing it while tasks run makes their re-runs "
                "start new executions.",
                "version_added": "0.2.0",
                "type": "string",
                "example": "prod-tokyo",
                "default": "",
            },
            "worker_wait_window": {
                "description": "Seconds a deferrable task polls its job in the worker before it defers "
                "(polls at 1, 2, 3.5, 5 s, then growing): a job that ends inside the window completes "
                "without a deferral, seconds sooner. 0 defers at once. An operator's worker_wait wins.",
                "version_added": "0.2.0",
                "type": "float",
                "example": "0",
                "default": "5",
            },
        },
    }
}


def get_provider_info() -> dict[str, Any]:
    from airflow_restjob.connections.form import (
        CONN_FIELDS,
        CONN_TYPE,
        HOOK_NAME,
        PROXY_HOOK_NAME,
        PROXY_UI_FIELD_BEHAVIOUR,
        UI_FIELD_BEHAVIOUR,
    )
    from airflow_restjob.credentials.types import PROXY_CONN_TYPE

    return {
        "package-name": PACKAGE_NAME,
        "name": "REST Job",
        "description": "REST execution jobs: AWS Step Functions through a SigV4-signed API Gateway, "
        "or any REST job from a connection information file; business-day timetables.",
        "versions": [__version__],
        "documentation-url": DOCUMENTATION_URL,
        "integrations": [
            {
                "integration-name": "REST Job",
                "external-doc-url": "https://docs.aws.amazon.com/step-functions/latest/apireference/",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "REST Job", "python-modules": ["airflow_restjob.hooks.rest_job", "airflow_restjob.hooks.step_functions", "airflow_restjob.hooks.proxy"]}],
        "operators": [{"integration-name": "REST Job", "python-modules": [
                    "airflow_restjob.operators.base",
                    "airflow_restjob.operators.step_functions",
                    "airflow_restjob.operators.rest_job",
                ],}],
        "sensors": [{"integration-name": "REST Job", "python-modules": ["airflow_restjob.sensors.step_functions"]}],
        "triggers": [{"integration-name": "REST Job", "python-modules": ["airflow_restjob.triggers.rest_job"]}],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "airflow_restjob.hooks.rest_job.RestJobHook",
                "hook-name": HOOK_NAME,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            },
            {
                "connection-type": PROXY_CONN_TYPE,
                "hook-class-name": "airflow_restjob.hooks.proxy.RestJobProxyHook",
                "hook-name": PROXY_HOOK_NAME,
                "ui-field-behaviour": PROXY_UI_FIELD_BEHAVIOUR,
                "conn-fields": {},
            },
        ],
        "extra-links": ["airflow_restjob.links.step_functions.StepFunctionsExecutionLink"],
        "config": CONFIG,
    }
