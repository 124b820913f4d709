"""REST job operators: one task = one remote job, started, waited for, and stopped on cancel.

- ``base.RestJobBaseOperator``: what every REST job shares (wait deferred or in the worker,
  completion, the stop paths);
- ``step_functions.StepFunctionsExecutionOperator``: an AWS Step Functions execution;
- ``step_functions.StepFunctionsExpressExecutionOperator``: an Express workflow (StartSyncExecution);
- ``rest_job.RestJobOperator``: any REST API described by a connection information file.

The names are also importable from here (and from ``airflow_restjob.operator``, the first
release's path); each module is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "RestJobBaseOperator": "airflow_restjob.operators.base",
    "RestJobFailed": "airflow_restjob.operators.base",
    "StepFunctionsExecutionOperator": "airflow_restjob.operators.step_functions",
    "StepFunctionsExpressExecutionOperator": "airflow_restjob.operators.step_functions",
    "StepFunctionsWaitOperator": "airflow_restjob.operators.step_functions",
    "RestJobOperator": "airflow_restjob.operators.rest_job",
}
__all__ = list(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
