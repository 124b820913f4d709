"""Operator extra links."""

from airflow_restjob.links.step_functions import EXECUTION_ARN_KEY, StepFunctionsExecutionLink

__all__ = ["EXECUTION_ARN_KEY", "StepFunctionsExecutionLink"]
