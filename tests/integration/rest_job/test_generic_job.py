"""A non-Step-Functions REST job end to end: RestJobOperator + RestJobTrigger against the job API.

dag.test() runs the trigger inline; the stop on mark-failed through a real triggerer is in tests/e2e
(tests/e2e/dags/restjob_generic.py).
"""

from __future__ import annotations

import json

import pytest

from tests.harness.dagrun import load_dagbag, run_dag_test
from tests.integration.rest_job.conftest import TEST_DAGS


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    return load_dagbag(TEST_DAGS)


@pytest.fixture()
def run(dagbag, bundles, jobapi_conn, capfd):
    return lambda dag_id: run_dag_test(dagbag.get_dag(dag_id), capfd)


def submitted(jobapi, run_id):
    return [r for r in jobapi.requests if r["path"] == "/jobs" and run_id in r["body"]]


@pytest.mark.parametrize("dag_id", ["gen_success", "gen_success_worker"])
def test_success_polls_until_done_and_pushes_outputs(jobapi, run, dag_id):
    result = run(dag_id)
    assert result.state == "success", result.log
    job_id = result.xcom("job_id")
    job = jobapi.job_for(job_id)
    assert job["state"] == "DONE" and job["polls"] >= 1
    # never cancelled while running (Airflow 3.1's dag.test() cancels the finished trigger, whose
    # CancelledError path then sends a harmless cancel for the ended job)
    ended = job["created"] + job["spec"]["duration"]
    assert all(t >= ended for t in job.get("cancel_times", []))
    assert job["spec"] == {"duration": 2, "outcome": "DONE", "value": 7, "run": result.run_id}
    assert result.xcom("jobId") == job_id and result.xcom("ticket") == "T-" + job_id
    assert result.xcom("takeover") == {"jobId": job_id}
    assert result.xcom("job_result") == 7 and result.xcom("job_status") == "DONE"
    assert result.xcom("return_value")["state"] == "DONE"
    polls = [r for r in jobapi.requests if r["path"] == f"/jobs/{job_id}"]
    assert polls and all(r["method"] == "GET" and r["headers"]["X-Run"] == result.run_id for r in polls)
    start = [r for r in jobapi.requests if r["path"] == "/jobs" and result.run_id in r["body"]][0]
    assert start["query"] == {"team": "ops"} and "Authorization" not in start["headers"]
    assert "HttpStatusCode=201" in result.log and "HttpStatusCode=200" in result.log
    assert "s3cr3t-result-token" not in result.log  # secret-looking keys are redacted in the log


def test_error_state_fails_with_end_code_7(jobapi, run):
    result = run("gen_failure")
    assert result.state == "failed"
    assert "[end code 7: result is not the success value]" in result.log
    assert "state='ERROR'" in result.log and "disk full" in result.log
    assert jobapi.job_for(result.xcom("job_id"))["state"] == "ERROR"


@pytest.mark.parametrize("dag_id", ["gen_polls_exhausted", "gen_polls_exhausted_worker"])
def test_polling_count_used_up_is_end_code_6_and_cancels(jobapi, run, dag_id):
    result = run(dag_id)
    assert result.state == "failed"
    assert "[end code 6: completion wait timed out]" in result.log and "pollingCount" in result.log
    job = jobapi.job_for(result.xcom("job_id"))
    assert job["state"] == "CANCELLED" and job["polls"] == 2
    assert json.loads(job["cancels"][0]) == {"reason": "cancelled by Airflow task run"}
    assert "termination request was sent" in result.log


def test_start_response_without_the_job_id_is_end_code_8(jobapi, run):
    result = run("gen_no_job_id")
    assert result.state == "failed"
    assert "[end code 8: response could not be parsed]" in result.log
    assert "takeoverKeys[0]" in result.log and "'jobId'" in result.log
    assert result.xcom("job_id") is None


def test_missing_takeover_key_is_end_code_8_and_the_known_job_is_cancelled(jobapi, run):
    result = run("gen_missing_takeover")
    assert result.state == "failed"
    assert "[end code 8: response could not be parsed]" in result.log and "'ticket'" in result.log
    job = jobapi.job_for(result.xcom("job_id"))
    assert job["state"] == "CANCELLED" and job["polls"] == 0


def test_monitoring_response_without_end_key_is_end_code_8_and_cancels(jobapi, run):
    result = run("gen_missing_end_key")
    assert result.state == "failed"
    assert "[end code 8: response could not be parsed]" in result.log and "'state'" in result.log
    assert jobapi.job_for(result.xcom("job_id"))["state"] == "CANCELLED"


def test_body_file_rendering_to_invalid_json_is_end_code_2_before_start(jobapi, run):
    before = len([r for r in jobapi.requests if r["path"] == "/jobs"])
    result = run("gen_bad_body_file")
    assert result.state == "failed"
    assert "[end code 2: invalid value in the job definition]" in result.log
    assert "bad_body.json" in result.log and "renders to invalid JSON" in result.log
    assert len([r for r in jobapi.requests if r["path"] == "/jobs"]) == before


def test_without_monitoring_the_start_response_ends_the_job(jobapi, run):
    result = run("gen_no_monitoring")
    assert result.state == "success", result.log
    assert result.xcom("return_value")["state"] == "RUNNING"
    assert result.xcom("job_id").startswith("job-")
