"""Values rendered into the monitoring/termination requests, through RestJobOperator against a job
API on loopback that answers whatever job id it is asked for (what a remote answer could say)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from aiohttp import web

from airflow_restjob.compat import AirflowFailException
from airflow_restjob.operators.rest_job import RestJobOperator
from tests.harness.jobapi import JobApi


class AnsweringApi(JobApi):
    """The generic job API, answering the job id the start body names; records the raw paths."""

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append({"method": request.method, "raw_path": request.raw_path, "path": request.path})
        return await handler(request)

    async def _submit(self, request: web.Request) -> web.Response:
        spec = json.loads(await request.read())
        job_id = spec["id"]
        self.jobs[job_id] = {"jobId": job_id, "spec": {"duration": 0}, "created": time.time(),
                             "cancelled": None, "polls": 0, "cancels": []}  # fmt: skip
        return web.json_response({"jobId": job_id, "state": "RUNNING"}, status=201)


@pytest.fixture(scope="module")
def api() -> Iterator[AnsweringApi]:
    with AnsweringApi() as server:
        yield server


@pytest.fixture()
def conn(api, monkeypatch) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_ANSWERING", json.dumps({"conn_type": "http", "host": api.url}))
    api.requests.clear()
    return "answering"


def operator(job_id: str, monitoring_header: str | None = None) -> RestJobOperator:
    monitoring: dict[str, Any] = {
        "url": "jobs/{{ takeover.jobId }}",
        "method": "GET",
        "firstMonitorInterval": 0,
        "pollingInterval": 1,
        "pollingEndKey": "state",
        "pollingEndVal": ["DONE", "CANCELLED"],
        "checkResultVal": ["DONE"],
    }
    if monitoring_header:
        monitoring["header"] = {"X-Job": monitoring_header}
    return RestJobOperator(
        task_id="run",
        conn_id="answering",
        deferrable=False,
        connection_info={
            "request": {"url": "jobs", "body": {"id": job_id}, "takeoverKeys": ["jobId"]},
            "monitoring": monitoring,
            "termination": {"url": "jobs/{{ takeover.jobId }}/cancel", "method": "POST"},
        },
    )


def run(op: RestJobOperator, **context: Any) -> tuple[Any, Any]:
    ti = mock.MagicMock(dag_id="d", task_id="run", run_id="r1", try_number=1, map_index=-1)
    try:
        return op.execute({"ti": ti, "run_id": "r1", **context}), ti
    except AirflowFailException as failed:
        return failed, ti


def pushed(ti: Any) -> dict[str, Any]:
    return {c.kwargs["key"]: c.kwargs["value"] for c in ti.xcom_push.call_args_list}


@pytest.mark.parametrize(
    "job_id, raw",
    [("../../_admin/jobs", "/jobs/..%2F..%2F_admin%2Fjobs"), ("a/b?x=1#f", "/jobs/a%2Fb%3Fx%3D1%23f")],
)
def test_a_job_id_from_the_answer_stays_one_path_segment(api, conn, job_id, raw):
    result, ti = run(operator(job_id))
    assert not isinstance(result, Exception), result
    assert result["jobId"] == job_id and result["state"] == "DONE"
    raws = [r["raw_path"] for r in api.requests]
    assert raws[0] == "/jobs" and raws[1:] == [raw] * (len(raws) - 1)
    assert "/_admin/jobs" not in [r["path"] for r in api.requests]
    assert pushed(ti)["job_id"] == job_id


def test_a_dot_dot_job_id_is_a_definition_error_naming_the_key_and_the_job(api, conn):
    result, ti = run(operator(".."))
    message = str(result)
    assert isinstance(result, AirflowFailException)
    assert "[end code 2: invalid value in the job definition]" in message
    assert (
        "monitoring.url: takeover.jobId (from the start response) = '..' makes the path segment '..'"
        in message
    )
    assert message.endswith("(execution: ..)")  # the job id travels with the error
    assert pushed(ti)["job_id"] == ".." and pushed(ti)["takeover"] == {"jobId": ".."}
    # started once, never monitored; the termination cannot be rendered either (it is logged)
    assert [(r["method"], r["raw_path"]) for r in api.requests] == [("POST", "/jobs")]


def test_a_header_value_with_a_line_break_from_the_answer_names_the_header_and_the_job(api, conn):
    result, ti = run(operator("j1\r\nX-Admin: 1", monitoring_header="{{ takeover.jobId }}"))
    message = str(result)
    assert isinstance(result, AirflowFailException)
    assert "[end code 2: invalid value in the job definition]" in message
    assert (
        "monitoring.header.X-Job: takeover.jobId (from the start response) renders a header value with a line break"
        in message
    )
    assert "(execution: j1\r\nX-Admin: 1)" in message and pushed(ti)["job_id"] == "j1\r\nX-Admin: 1"
    # the termination request (no header) was sent for the started job, its id encoded
    assert [(r["method"], r["raw_path"]) for r in api.requests] == [
        ("POST", "/jobs"),
        ("POST", "/jobs/j1%0D%0AX-Admin%3A%201/cancel"),
    ]


def test_a_bad_header_value_of_the_task_context_fails_before_the_start(api, conn):
    result, ti = run(
        operator("j2", monitoring_header="{{ params.team }}"), params={"team": "ops\nX-Admin: 1"}
    )
    message = str(result)
    assert isinstance(result, AirflowFailException)
    assert (
        "monitoring.header.X-Job: a value of the template (task context or Variable) renders a header value"
        in message
    )
    assert api.requests == [] and "job_id" not in pushed(ti)  # nothing was started
