"""The hook's Test connection for every credential type, and wrong-kind connections refused when
the DAG is parsed (a proxy as authName, a credential as proxyAuthName)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_restjob.cli.credentials import to_connection_fields, validate
from airflow_restjob.credentials import cache
from airflow_restjob.errors import DefinitionError


@pytest.fixture(scope="module")
def auth_api() -> Iterator[Any]:
    from airflow_restjob.sandbox.auth_api import AuthApi

    with AuthApi(job_seconds=1.0) as api:
        yield api


def env_connection(monkeypatch, statement: dict[str, Any]) -> str:
    fields = to_connection_fields(validate(statement, "$"))
    fields.pop("conn_id")
    fields["extra"] = json.loads(fields["extra"]) if fields.get("extra") else None
    monkeypatch.setenv(f"AIRFLOW_CONN_{statement['name'].upper()}", json.dumps(fields))
    return statement["name"]


@pytest.mark.parametrize("kind", ["_basic", "_bearer", "_oauth2", "_azure", "_sap", "_apikey"])
def test_test_connection_accepts_each_type_and_refuses_a_wrong_secret(auth_api, monkeypatch, kind):
    from airflow_restjob.hooks.rest_job import RestJobHook

    cache.forget_all()
    statement = next(s for s in auth_api.statements() if s["name"].endswith(kind))
    ok, message = RestJobHook(env_connection(monkeypatch, statement)).test_connection()
    assert ok, message
    assert "credentials accepted" in message
    if kind in ("_oauth2", "_azure", "_sap"):
        assert "a token from the token endpoint" in message
    wrong = dict(statement)
    for key in ("password", "token", "clientSecret"):
        if key in wrong:
            wrong[key] = "not-the-" + key
    if "headers" in wrong:
        wrong["headers"] = {"x-api-key": "not-the-key"}
    cache.forget_all()
    ok, message = RestJobHook(env_connection(monkeypatch, wrong)).test_connection()
    assert not ok and "end code 10" in message and "not-the-" not in message


def info(auth: str | None = None, proxy: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"url": "https://jobs.example.com/jobs", "method": "POST"}
    if auth:
        request["authName"] = auth
    if proxy:
        request["proxyAuthName"] = proxy
    return {"request": request}


def test_wrong_kind_of_connection_is_a_parse_error(auth_api, monkeypatch):
    from airflow_restjob.operators.rest_job import RestJobOperator

    proxy = env_connection(
        monkeypatch, {"name": "corp_proxy", "authType": "proxy", "proxyUrl": "http://proxy.example.com:8080"}
    )
    basic = env_connection(monkeypatch, next(s for s in auth_api.statements() if s["name"].endswith("_basic")))
    with pytest.raises(DefinitionError) as caught:
        RestJobOperator(task_id="t", connection_info=info(auth=proxy))
    assert "'corp_proxy' is a proxy" in str(caught.value) and "proxyAuthName" in caught.value.fix
    with pytest.raises(DefinitionError) as caught:
        RestJobOperator(task_id="t", connection_info=info(auth=basic, proxy=basic))
    assert "not a proxy" in str(caught.value)
    # the right kinds, and connections that do not exist yet, parse
    RestJobOperator(task_id="t", connection_info=info(auth=basic, proxy=proxy))
    RestJobOperator(task_id="t", connection_info=info(auth="created_later"))
