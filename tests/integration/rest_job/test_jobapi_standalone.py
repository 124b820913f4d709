"""The job API as its own process (what tests/e2e runs) and the e2e DAG file that uses it."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.harness.dagrun import load_dagbag

ROOT = Path(__file__).parents[3]


def test_standalone_job_api_prints_its_url_and_serves(airflow_db, monkeypatch, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.harness.jobapi", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        request = urllib.request.Request(url + "/jobs", data=b'{"duration": 0}', method="POST")
        job = json.load(urllib.request.urlopen(request, timeout=10))
        state = json.load(urllib.request.urlopen(f"{url}/jobs/{job['jobId']}", timeout=10))
        assert state["state"] == "DONE"

        # the e2e DAG file reads the URL from RESTJOB_JOBAPI_URL
        monkeypatch.setenv("RESTJOB_JOBAPI_URL", url)
        (tmp_path / "restjob_generic.py").write_text((ROOT / "tests/e2e/dags/restjob_generic.py").read_text())
        bag = load_dagbag(tmp_path)
        op = bag.get_dag("e2e_generic_long").get_task("run")
        assert op.info.request.url == url + "/jobs" and op.info.termination.url.startswith(url)
    finally:
        proc.terminate()
        proc.wait(10)
