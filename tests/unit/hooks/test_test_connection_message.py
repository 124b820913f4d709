""""Test connection" speaks of the connection being edited (Airflow tests a copy under a random
id) and calls a setting that cannot work a connection problem."""

from __future__ import annotations

import json

from airflow_restjob.hooks.rest_job import RestJobHook


def test_a_connection_problem_is_named_so_without_the_random_id(monkeypatch):
    transient = "xq3k9zt1lw"  # what Airflow's test endpoint names the copy
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{transient.upper()}",
        json.dumps({"conn_type": "restjob", "host": "https://jobs.internal.example.com/stage",
                    "login": "AKIAEXAMPLE000000000", "password": "s", "extra": {}}),
    )
    RestJobHook.forget_cached_settings()
    ok, message = RestJobHook(transient).test_connection()
    assert not ok
    assert message.startswith("Connection problem: This connection: the region is missing"), message
    assert transient not in message and "job definition" not in message and "end code" not in message
    assert "Fix: Set extra 'region'" in message
