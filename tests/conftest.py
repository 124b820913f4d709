"""Shared test set-up: a private AIRFLOW_HOME (SQLite) and one embedded sandbox per session.

The sandbox is session-wide because moto keeps its backends per process: every test directory
uses this one fixture.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest

_HOME = tempfile.mkdtemp(prefix="restjob-tests-home-")
os.environ.setdefault("AIRFLOW_HOME", _HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
# the DAGs of the dag.test() tests wait in the trigger unless they say deferrable=False (the
# operators' default follows this option: tests/unit/operators/test_default_deferrable.py)
os.environ.setdefault("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
os.environ.setdefault(
    "AIRFLOW__CORE__DAGS_FOLDER", os.path.join(os.path.dirname(__file__), "integration", "operators", "dags")
)
os.environ.setdefault(
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{os.environ['AIRFLOW_HOME']}/airflow.db"
)


@pytest.fixture(scope="session")
def sandbox() -> Iterator:
    from airflow_restjob.sandbox import Sandbox

    with Sandbox(port=0, moto_port=0, stage="stage", region="us-east-1", state_machine_wait_seconds=1) as sb:
        yield sb


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """A migrated SQLite metadata DB for dag.test() runs (once per session)."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, env=os.environ
    )
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


@pytest.fixture()
def restjob_conn(sandbox, monkeypatch) -> str:
    """AIRFLOW_CONN_RESTJOB_DEFAULT pointing at the sandbox with invoke permission."""
    monkeypatch.setenv("AIRFLOW_CONN_RESTJOB_DEFAULT", sandbox.connection_json())
    from airflow_restjob.hooks.rest_job import RestJobHook

    RestJobHook.forget_cached_settings()
    return "restjob_default"


def conn_fields(sandbox, credentials=None) -> dict:
    return json.loads(sandbox.connection_json(credentials=credentials))


@pytest.fixture(autouse=True)
def _clean_sandbox(request) -> Iterator[None]:
    """Every test that uses the sandbox starts with no faults, no quota and an empty log."""
    if "sandbox" not in request.fixturenames:
        yield
        return
    sb = request.getfixturevalue("sandbox")
    sb.faults.clear()
    sb.quota.disable()
    sb.clear_log()
    yield
    sb.faults.clear()
    sb.quota.disable()
