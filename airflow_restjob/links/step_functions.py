"""Extra link from the task to its Step Functions execution in the AWS console."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperatorLink

from airflow_restjob.rest_job.step_functions import console_url

EXECUTION_ARN_KEY = "execution_arn"


class StepFunctionsExecutionLink(BaseOperatorLink):
    """'Step Functions execution' button: the console page of the execution this try started.

    The operator stores the URL under ``xcom_key`` as soon as the execution starts (so the link
    works while the task is deferred); Airflow re-stores it when the try ends.
    """

    name = "Step Functions execution"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        arn = XCom.get_value(ti_key=ti_key, key=EXECUTION_ARN_KEY)
        return console_url(arn) if arn else ""
