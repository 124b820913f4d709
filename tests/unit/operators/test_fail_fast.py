"""Which errors fail a task without Airflow retries: those a retry cannot mend."""

from __future__ import annotations

import pytest

from airflow_restjob.compat import AirflowFailException
from airflow_restjob.errors import (
    AuthError,
    DefinitionError,
    RequestTimeoutError,
    ServiceError,
    ThrottledError,
    TransientError,
    UnparsableResponseError,
)
from airflow_restjob.operators.base import fail


@pytest.mark.parametrize(
    "error_type",
    ["StateMachineDoesNotExist", "InvalidArn", "InvalidName", "InvalidExecutionInput", "ValidationException"],
)
def test_permanent_service_errors_fail_without_retries(error_type):
    error = ServiceError("start-execution: the service answered " + error_type, "fix", error_type=error_type)
    failed = fail(error)
    assert isinstance(failed, AirflowFailException)
    assert error_type in str(failed) and "end code 4" in str(failed)


@pytest.mark.parametrize(
    "error",
    [
        DefinitionError("bad value", "fix"),
        UnparsableResponseError("not JSON", "fix"),
        AuthError("User is not authorized to perform: execute-api:Invoke", "fix", status=403),
    ],
)
def test_definition_parse_and_credential_errors_fail_without_retries(error):
    assert isinstance(fail(error), AirflowFailException)


@pytest.mark.parametrize(
    "error",
    [
        ThrottledError("throttled", "fix", status=429, error_type="ThrottlingException"),
        TransientError("HTTP 503", "fix", status=503),
        RequestTimeoutError("no answer", "fix"),
        ServiceError("the service answered ExecutionLimitExceeded", "fix", error_type="ExecutionLimitExceeded"),
    ],
)
def test_transient_errors_keep_their_airflow_retries(error):
    assert fail(error) is error
