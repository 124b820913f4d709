"""Fixtures for the sandbox tests: one real sandbox (loopback HTTP, real moto) per session."""

from __future__ import annotations

import pytest

pytest.importorskip("moto")

from airflow_restjob.sandbox import Sandbox  # noqa: E402


@pytest.fixture(scope="session")
def sandbox():
    with Sandbox(port=0, moto_port=0, stage="stage", region="us-east-1", state_machine_wait_seconds=1) as sb:
        yield sb


@pytest.fixture(autouse=True)
def _clean_sandbox(request):
    """Every test starts with no faults, no quota and an empty log (only if it uses the sandbox)."""
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
