"""The ``[restjob]`` options are declared the Airflow way (provider info ``config``): Airflow lists
them and answers ``airflow config get-value`` with their defaults or the configured values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def airflow(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **env},
    )


def test_provider_info_config_follows_airflows_schema():
    jsonschema = pytest.importorskip("jsonschema")  # an Airflow dependency
    import airflow

    from airflow_restjob.provider_info import get_provider_info

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    options = info["config"]["restjob"]["options"]
    assert set(options) == {"poll_budget_burst", "poll_budget_per_second", "worker_wait_window", "execution_name_prefix"}
    for name, option in options.items():
        assert option["description"] and option["example"]
        assert option["type"] == ("string" if name == "execution_name_prefix" else "float")


def test_airflow_config_get_value_knows_the_options():
    done = airflow("config", "get-value", "restjob", "poll_budget_burst")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "300"
    done = airflow(
        "config", "get-value", "restjob", "poll_budget_per_second", AIRFLOW__RESTJOB__POLL_BUDGET_PER_SECOND="4"
    )
    assert done.stdout.strip().splitlines()[-1] == "4"


def test_airflow_config_list_describes_the_section():
    done = airflow("config", "list", "--section", "restjob", "--include-descriptions", "--include-examples")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[restjob]" in done.stdout and "Tokens available at once" in done.stdout
    assert "Example: poll_budget_burst = 80" in done.stdout
    assert "Example: poll_budget_per_second = 4" in done.stdout


def test_worker_wait_window_is_read_from_the_config(monkeypatch):
    from airflow_restjob.operators.rest_job import RestJobOperator

    info = {"request": {"url": "https://jobs.example.com/jobs", "method": "POST"}}
    assert RestJobOperator(task_id="a", connection_info=info)._worker_window() == 5.0
    monkeypatch.setenv("AIRFLOW__RESTJOB__WORKER_WAIT_WINDOW", "0")
    assert RestJobOperator(task_id="b", connection_info=info)._worker_window() == 0.0
    assert RestJobOperator(task_id="c", connection_info=info, worker_wait=2)._worker_window() == 2.0
    with pytest.raises(Exception, match="worker_wait must be 0-600 seconds"):
        RestJobOperator(task_id="d", connection_info=info, worker_wait="5")
