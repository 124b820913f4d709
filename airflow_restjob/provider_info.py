"""Provider registration (entry point ``apache_airflow_provider``).

Kept import-light: Airflow reads this dict in every component without importing the hook.
"""

from __future__ import annotations

from typing import Any

from airflow_restjob import __version__

PACKAGE_NAME = "airflow-provider-restjob"


def get_provider_info() -> dict[str, Any]:
    from airflow_restjob.connections.form import CONN_FIELDS, CONN_TYPE, HOOK_NAME, UI_FIELD_BEHAVIOUR

    return {
        "package-name": PACKAGE_NAME,
        "name": "REST Job",
        "description": "REST execution jobs: AWS Step Functions through a SigV4-signed API Gateway, "
        "or any REST job from a connection information file; business-day timetables.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "REST Job",
                "external-doc-url": "https://docs.aws.amazon.com/step-functions/latest/apireference/",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "REST Job", "python-modules": ["airflow_restjob.hooks.rest_job", "airflow_restjob.hooks.step_functions"]}],
        "operators": [{"integration-name": "REST Job", "python-modules": [
                    "airflow_restjob.operators.base",
                    "airflow_restjob.operators.step_functions",
                    "airflow_restjob.operators.rest_job",
                ],}],
        "triggers": [{"integration-name": "REST Job", "python-modules": ["airflow_restjob.triggers.rest_job"]}],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "airflow_restjob.hooks.rest_job.RestJobHook",
                "hook-name": HOOK_NAME,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            }
        ],
        "extra-links": ["airflow_restjob.links.step_functions.StepFunctionsExecutionLink"],
    }
