"""Fixtures for end-to-end tests against a REAL local Airflow (see tests.harness.local_airflow).

Use the ``airflow`` fixture (a started :class:`~tests.harness.local_airflow.LocalAirflow`; its
REST client is ``airflow.client``). One Airflow runs at a time and is shared by every test that asks
for the same configuration; a test or module that needs another one says so with a marker::

    pytestmark = pytest.mark.airflow_config(dags_folder=Path(__file__).parent / "my_dags")

    @pytest.mark.airflow_config(database="postgres", triggerers=2, triggerer_health_check_threshold=10)
    def test_ha(airflow): ...

``airflow_config`` keywords: ``dags_folder``, ``database`` ("sqlite", "postgres" - a throw-away
LocalPostgres - or an SQLAlchemy URL), ``env`` (dict), plus any LocalAirflow keyword
(``triggerers``, ``triggerer_health_check_threshold``, ``heartbeat_sec``, ...). Switching
configuration stops the running Airflow first.

Environment: ``E2E_AIRFLOW_PYTHON`` (interpreter of the Airflow venv; default: the one running
pytest), ``E2E_DAGS_FOLDER`` (default DAG folder; default ``tests/e2e/dags``), ``E2E_KEEP_HOME=1``
(keep the Airflow home folders after the session).

Every test in this directory is marked ``e2e``. When a test fails, the tail of each component's log
is added to its report.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.local_airflow import LocalAirflow
from tests.harness.local_postgres import LocalPostgres

E2E_DIR = Path(__file__).parent
REPO_ROOT = E2E_DIR.parent.parent
DEFAULT_DAGS_FOLDER = Path(os.environ.get("E2E_DAGS_FOLDER", E2E_DIR / "dags")).absolute()
REPO_DAGS_FOLDER = REPO_ROOT / "dags"

log = logging.getLogger("e2e")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: end-to-end tests that start real Airflow processes")
    config.addinivalue_line(
        "markers",
        "airflow_config(**kwargs): configuration of the Airflow the `airflow` fixture provides "
        "(dags_folder, database, env, triggerers, ... - see tests/e2e/conftest.py)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


class AirflowPool:
    """Holds at most one running LocalAirflow (and its LocalPostgres), keyed by configuration."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.python = os.environ.get("E2E_AIRFLOW_PYTHON", sys.executable)
        self.current: LocalAirflow | None = None
        self.current_key: str | None = None
        self.postgres: LocalPostgres | None = None
        self.started: list[LocalAirflow] = []

    @staticmethod
    def _key(config: dict[str, Any]) -> str:
        return json.dumps(config, sort_keys=True, default=str)

    def get(self, **config: Any) -> LocalAirflow:
        config.setdefault("dags_folder", DEFAULT_DAGS_FOLDER)
        config.setdefault("database", "sqlite")
        config["dags_folder"] = Path(config["dags_folder"]).absolute()
        key = self._key(config)
        if self.current is not None and self.current_key == key and self.current.started:
            self.repair(self.current)
            return self.current
        self.close()
        cfg = dict(config)
        database = cfg.pop("database")
        database_url: str | None
        if database == "sqlite":
            database_url = None
        elif database == "postgres":
            self.postgres = LocalPostgres().start()
            database_url = self.postgres.url
        else:
            database_url = database
        home = self.tmp_path_factory.mktemp("airflow-home")
        af = LocalAirflow(
            home=home,
            dags_folder=cfg.pop("dags_folder"),
            # deferrable tasks defer at once here (the stop-path tests need the trigger); the worker
            # window before a deferral is tested with worker_wait= (tests/e2e/test_short_jobs.py)
            env={
                "AIRFLOW__RESTJOB__WORKER_WAIT_WINDOW": "0",
                "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True",  # the DAGs here defer unless they say not
                **(cfg.pop("env", None) or {}),
            },
            database_url=database_url,
            python=cfg.pop("python", self.python),
            **cfg,
        )
        self.started.append(af)
        try:
            af.start()
        except BaseException:
            self.close()
            raise
        log.info("Airflow started (%s): %s", key, af.timings)
        self.current, self.current_key = af, key
        return af

    @staticmethod
    def repair(af: LocalAirflow) -> None:
        """Undo what an earlier test may have left behind (frozen or killed components)."""
        for name in af.component_names:
            if af.is_paused(name):
                af.resume(name)
        dead = [name for name in af.component_names if not af.is_running(name)]
        for name in dead:
            af.start_component(name, wait=False)
        if dead:
            af.wait_healthy()

    def close(self) -> None:
        try:
            if self.current is not None:
                self.current.stop()
        finally:
            self.current = self.current_key = None
            if self.postgres is not None:
                self.postgres.stop()
                self.postgres = None


_POOLS: list[AirflowPool] = []


@pytest.fixture(scope="session")
def airflow_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowPool]:
    """Session-wide owner of the (single) running local Airflow."""
    pool = AirflowPool(tmp_path_factory)
    _POOLS.append(pool)
    try:
        yield pool
    finally:
        _POOLS.remove(pool)
        pool.close()


def _is_e2e(item: pytest.Item | None) -> bool:
    return item is not None and E2E_DIR in Path(str(item.fspath)).parents


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop the local Airflow after the last e2e test: a scheduler, triggerer, dag-processor and
    api-server left running (and their DAGs polling the shared sandbox) would load the machine and
    the sandbox for every later test (the quota test timed out behind them in CI)."""
    if _is_e2e(item) and not _is_e2e(nextitem):
        for pool in _POOLS:
            pool.close()


def _airflow_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    config: dict[str, Any] = {}
    # closest marker wins: iter_markers yields test, class, module order -> apply reversed
    for marker in reversed(list(request.node.iter_markers("airflow_config"))):
        config.update(marker.kwargs)
    return config


@pytest.fixture
def airflow(request: pytest.FixtureRequest, airflow_pool: AirflowPool) -> LocalAirflow:
    """A running, healthy local Airflow (shared by all tests with the same ``airflow_config``)."""
    af = airflow_pool.get(**_airflow_config(request))
    request.node._local_airflow = af  # for the failure report
    return af


@pytest.fixture
def api(airflow: LocalAirflow):
    """The REST API client of the running Airflow."""
    return airflow.client


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report = outcome.get_result()
    af: LocalAirflow | None = getattr(item, "_local_airflow", None)
    if report.failed and af is not None:
        try:
            report.sections.append(("local Airflow component logs (tail)", af.logs_tail(lines=60)))
        except Exception as e:  # pragma: no cover
            report.sections.append(("local Airflow component logs", f"<unavailable: {e}>"))


@pytest.fixture(scope="session")
def jobapi() -> Iterator[Any]:
    """The small generic async job API (tests/restjob/jobapi.py) on loopback, for generic REST jobs."""
    from tests.harness.jobapi import JobApi

    with JobApi() as api:
        yield api


@pytest.fixture
def airflow_sandbox(
    airflow_pool: AirflowPool, sandbox: Any, jobapi: Any, request: pytest.FixtureRequest
) -> LocalAirflow:
    """A running Airflow whose components reach the embedded sandbox as ``restjob_default`` and the
    generic job API as RESTJOB_JOBAPI_URL (DAGs: tests/e2e/dags). Shared by every test that asks for it."""
    af = airflow_pool.get(
        dags_folder=DEFAULT_DAGS_FOLDER,
        env={
            "AIRFLOW_CONN_RESTJOB_DEFAULT": sandbox.connection_json(),
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "RESTJOB_JOBAPI_URL": jobapi.url,
        },
    )
    request.node._local_airflow = af
    airflow_pool.repair(af)
    return af


@pytest.fixture
def airflow_states(airflow_sandbox: LocalAirflow, sandbox: Any, tmp_path: Path) -> LocalAirflow:
    """``airflow_sandbox`` with ``restjob_states`` (the sandbox's direct Step Functions API) registered
    by ``airflow-restjob credentials add``, as a user registers it."""
    path = tmp_path / "states.json"
    path.write_text(json.dumps(sandbox.states_statement("restjob_states")))
    done = subprocess.run(
        [airflow_sandbox.python, "-m", "airflow_restjob.cli", "credentials", "add", str(path)],
        env=airflow_sandbox.env,
        cwd=str(airflow_sandbox.home),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return airflow_sandbox
