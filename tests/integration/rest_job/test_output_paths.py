"""resBody / resHeader written inside the connection information file's folder, through
RestJobOperator against the job API on loopback (worker wait)."""

from __future__ import annotations

import json
from unittest import mock

from airflow_restjob.operators.rest_job import RestJobOperator


def test_responses_are_written_inside_the_folder_and_absolute_paths_where_allowed(
    jobapi, jobapi_conn, tmp_path
):
    folder, elsewhere = tmp_path / "jobs", tmp_path / "elsewhere"
    (folder / "out").mkdir(parents=True)
    elsewhere.mkdir()
    info = {
        "request": {
            "url": "jobs",
            "body": {"duration": 0},
            "takeoverKeys": ["jobId"],
            "resBody": "out/start_{{ run_id }}.json",
            "resHeader": str(elsewhere / "start_headers.json"),
        },
        "monitoring": {
            "url": "jobs/{{ takeover.jobId }}",
            "method": "GET",
            "firstMonitorInterval": 0,
            "pollingInterval": 1,
            "pollingEndKey": "state",
            "pollingEndVal": ["DONE", "ERROR"],
            "checkResultVal": ["DONE"],
            "resBody": "out/last.json",
        },
    }
    path = folder / "info.json"
    path.write_text(json.dumps(info), encoding="utf-8")
    op = RestJobOperator(
        task_id="run",
        conn_id=jobapi_conn,
        connection_info=str(path),
        deferrable=False,
        allow_absolute_output_paths=True,
    )
    ti = mock.MagicMock(dag_id="d", task_id="run", run_id="r1", try_number=1, map_index=-1)
    result = op.execute({"ti": ti, "run_id": "r1"})
    assert result["state"] == "DONE"
    start = json.loads((folder / "out" / "start_r1.json").read_text())
    assert start["state"] == "RUNNING" and start["jobId"] == result["jobId"]
    assert "Content-Type" in json.loads((elsewhere / "start_headers.json").read_text())
    assert json.loads((folder / "out" / "last.json").read_text())["state"] == "DONE"
