"""A stop that is not accepted says how to stop the job by hand, with its id."""

from __future__ import annotations

from airflow_restjob.errors import TransientError
from airflow_restjob.rest_job import step_functions as sfn
from airflow_restjob.rest_job.flows import run_sync, stop_flow
from airflow_restjob.rest_job.spec import JobSpec, PollSpec, RequestSpec

ARN = "arn:aws:states:us-east-1:123456789012:execution:sm:n"


class Log:
    """Collects what the flow logs (Airflow's structlog set-up bypasses caplog)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def error(self, msg: str, *args: object) -> None:
        self.lines.append(msg % args)

    warning = info = error

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def refuse(_request):
    raise TransientError("HTTP 503", "Retried automatically.", status=503)


def test_a_refused_stop_of_an_execution_names_the_cli_command():
    log = Log()
    assert run_sync(stop_flow(sfn.job_spec(ARN, PollSpec()), ARN, "e", "c", log), refuse) is False
    assert f"Stop of {ARN} was not accepted" in log.text
    assert f"stop it by hand (aws stepfunctions stop-execution --execution-arn {ARN})" in log.text


def test_a_refused_stop_of_a_rest_job_names_its_termination_request():
    spec = JobSpec(
        label="REST job",
        monitor=RequestSpec(path="jobs/42", method="GET"),
        end_key="state",
        end_values=("done",),
        result_key="state",
        success_values=("done",),
        terminate=RequestSpec(path="jobs/42/cancel", method="POST"),
        poll=PollSpec(),
    )
    log = Log()
    assert run_sync(stop_flow(spec, "42", "e", "c", log), refuse) is False
    assert "send the termination request yourself: POST jobs/42/cancel" in log.text
