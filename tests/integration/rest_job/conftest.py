"""Fixtures for the generic REST job tests: DAG bundles for dag.test(), the job API."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
EXAMPLES = HERE.parents[2] / "dags"
TEST_DAGS = HERE / "dags"
LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"


@pytest.fixture()
def bundles(monkeypatch, airflow_db) -> None:
    """dag.test() only runs DAGs of a configured bundle: add the example and test DAG folders."""
    monkeypatch.setenv(
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST",
        json.dumps(
            [
                {"name": "dags-folder", "classpath": LOCAL_BUNDLE, "kwargs": {}},
                {"name": "restjob-tests", "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(TEST_DAGS)}},
                {"name": "restjob-examples", "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(EXAMPLES)}},
            ]
        ),
    )


@pytest.fixture(scope="session")
def jobapi() -> Iterator:
    from tests.harness.jobapi import JobApi

    with JobApi() as api:
        os.environ["RESTJOB_JOBAPI_URL"] = api.url
        yield api


@pytest.fixture()
def jobapi_conn(jobapi, monkeypatch) -> str:
    """AIRFLOW_CONN_JOBAPI: the job API's base URL (no credentials: the requests are unsigned)."""
    monkeypatch.setenv("AIRFLOW_CONN_JOBAPI", json.dumps({"conn_type": "http", "host": jobapi.url}))
    return "jobapi"
