"""[restjob] execution_name_prefix: derived execution names unique per deployment."""

from __future__ import annotations

import pytest

from airflow_restjob.errors import DefinitionError
from airflow_restjob.operators.step_functions import name_prefix
from airflow_restjob.rest_job import step_functions as sfn


def test_without_a_prefix_names_are_those_of_earlier_releases():
    assert sfn.derive_name("d", "t", "manual__1", -1, 1) == "d.t.manual__1.try1"
    assert sfn.derive_name("d", "t", "manual__1", -1, 1, "") == "d.t.manual__1.try1"


def test_two_deployments_get_different_valid_names():
    a = sfn.derive_name("d", "t", "manual__1", -1, 1, "prod-tokyo")
    b = sfn.derive_name("d", "t", "manual__1", -1, 1, "prod-osaka")
    assert a == "prod-tokyo.d.t.manual__1.try1" and a != b
    long = sfn.derive_name("dag" * 20, "task" * 20, "run" * 20, 3, 7, "p" * 20)
    assert long.startswith("p" * 20) and len(long) <= sfn.MAX_NAME and sfn.validate_name(long) == long


def test_redrive_looks_for_the_prefixed_names():
    assert sfn.earlier_try_names("d", "t", "r", -1, 3, "x") == ["x.d.t.r.try2", "x.d.t.r.try1"]


@pytest.mark.parametrize("bad, words", [("prod/tokyo", "characters not allowed: '/'"), ("p" * 21, "at most 20")])
def test_a_bad_prefix_names_the_option_and_the_fix(monkeypatch, bad, words):
    monkeypatch.setenv("AIRFLOW__RESTJOB__EXECUTION_NAME_PREFIX", bad)
    with pytest.raises(DefinitionError) as caught:
        name_prefix()
    assert "[restjob] execution_name_prefix" in str(caught.value) and words in str(caught.value)
    assert "Fix: Set it to a short deployment id" in str(caught.value)


def test_the_prefix_is_read_from_the_airflow_configuration(monkeypatch):
    monkeypatch.setenv("AIRFLOW__RESTJOB__EXECUTION_NAME_PREFIX", " staging ")
    assert name_prefix() == "staging"
    monkeypatch.delenv("AIRFLOW__RESTJOB__EXECUTION_NAME_PREFIX")
    assert name_prefix() == ""
