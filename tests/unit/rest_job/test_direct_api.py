"""The direct Step Functions API: chosen by the signing service, AWS JSON 1.0 actions at the root."""

from __future__ import annotations

import pytest

from airflow_restjob.connections.settings import ConnectionSettings
from airflow_restjob.errors import DefinitionError
from airflow_restjob.rest_job import step_functions as sfn
from airflow_restjob.rest_job.spec import PollSpec

ARN = "arn:aws:states:eu-west-1:123456789012:execution:sm:run-1"


def settings(host: str, **extra) -> ConnectionSettings:
    return ConnectionSettings.from_fields("sfn", host=host, login="AKIAEXAMPLE", password="secret", extra=extra)


@pytest.mark.parametrize(
    "host, region, service",
    [
        ("https://states.ap-northeast-1.amazonaws.com", "ap-northeast-1", "states"),
        ("https://states-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1", "states"),
        ("https://vpce-01ab-cd.states.eu-west-1.vpce.amazonaws.com", "eu-west-1", "states"),
        ("https://abc123.execute-api.us-west-2.amazonaws.com/prod", "us-west-2", "execute-api"),
    ],
)
def test_mode_and_region_from_the_host(host, region, service):
    s = settings(host)
    assert (s.region, s.service) == (region, service)


def test_a_direct_connection_without_a_region_names_the_field():
    with pytest.raises(DefinitionError) as caught:
        settings("https://sfn.internal.example.com", service="states")
    assert "region is missing" in str(caught.value) and "states.{region}.amazonaws.com" in caught.value.fix


def test_direct_job_spec_targets_actions_at_the_root():
    spec = sfn.job_spec(ARN, PollSpec(), direct=True)
    assert spec.monitor.path == "" and spec.monitor.headers == {"X-Amz-Target": "AWSStepFunctions.DescribeExecution"}
    assert spec.terminate is not None and spec.terminate.headers == {"X-Amz-Target": "AWSStepFunctions.StopExecution"}
    gateway = sfn.job_spec(ARN, PollSpec())
    assert gateway.monitor.path == "describe-execution" and gateway.monitor.headers is None
    assert sfn.call(sfn.START_PATH, True) == ("", {"X-Amz-Target": "AWSStepFunctions.StartExecution"})


def test_an_arn_of_another_region_fails_before_the_start(monkeypatch):
    from airflow_restjob.hooks.step_functions import StepFunctionsHook

    hook = StepFunctionsHook("sfn")
    hook._settings = settings("https://states.ap-northeast-1.amazonaws.com")
    with pytest.raises(DefinitionError) as caught:
        hook.check_region("arn:aws:states:eu-west-1:123456789012:stateMachine:sm")
    assert "eu-west-1" in str(caught.value) and "https://states.eu-west-1.amazonaws.com" in caught.value.fix
    hook.check_region("arn:aws:states:ap-northeast-1:123456789012:stateMachine:sm")
    gateway = StepFunctionsHook("gw")
    gateway._settings = settings("https://abc.execute-api.ap-northeast-1.amazonaws.com/s")
    gateway.check_region("arn:aws:states:eu-west-1:123456789012:stateMachine:sm")  # API Gateway may cross Regions
