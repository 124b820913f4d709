"""A URL with a user/password in it is refused (URLs are stored and shown in plain text) and the
refusal never echoes the password."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_restjob.cli.credentials import CommandError, validate
from airflow_restjob.connections.routes import proxy_fields
from airflow_restjob.connections.settings import ConnectionSettings, url_problem
from airflow_restjob.errors import DefinitionError

SECRET = "pr0xy-Passw0rd"


def test_url_problem():
    assert url_problem("http://proxy.corp:3128") is None
    problem = url_problem(f"http://jobuser:{SECRET}@proxy.corp:3128")
    assert problem and SECRET not in problem and "***@proxy.corp:3128" in problem
    assert "not a URL" in str(url_problem("http://[::1"))
    assert "not a URL" in str(url_problem("http://proxy.corp:99999"))
    assert "scheme and host" in str(url_problem("proxy.corp:3128"))


def test_restjob_connection_refuses_a_proxy_url_with_a_password():
    with pytest.raises(DefinitionError) as info:
        ConnectionSettings.from_fields(
            "aws",
            host="https://abc.execute-api.us-east-1.amazonaws.com/stage",
            login="AKIAEXAMPLE000000000",
            password="secret-0000000000000000000000000000000000",
            extra={"proxy_url": f"http://jobuser:{SECRET}@proxy.corp:3128"},
        )
    message = str(info.value)
    assert SECRET not in message and "proxy_url" in message and "proxy_user / proxy_password" in message


def test_proxy_connection_refuses_a_url_with_a_password():
    conn = SimpleNamespace(
        conn_id="px",
        host=f"http://jobuser:{SECRET}@proxy.corp",
        port=3128,
        login=None,
        password=None,
        extra_dejson={},
        schema=None,
    )
    with pytest.raises(DefinitionError) as info:
        proxy_fields(conn)
    assert SECRET not in str(info.value) and "Connection 'px' (proxyAuthName)" in str(info.value)


def test_credentials_add_refuses_a_proxy_url_with_a_password():
    item = {"name": "corp_proxy", "authType": "proxy", "proxyUrl": f"http://jobuser:{SECRET}@proxy.corp:3128"}
    with pytest.raises(CommandError) as info:
        validate(item, "credentials[0]")
    assert info.value.code == 2 and SECRET not in str(info.value) and "proxyUrl" in str(info.value)
    assert validate({**item, "proxyUrl": "http://proxy.corp:3128", "user": "u", "password": SECRET}, "c")
