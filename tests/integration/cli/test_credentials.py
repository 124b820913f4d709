"""The credential command, run as a real process against a SQLite AIRFLOW_HOME of its own."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PROXY_PASSWORD = "pr0xy-Pa55word"


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> dict[str, str]:
    from cryptography.fernet import Fernet

    path = tmp_path_factory.mktemp("credhome")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(path),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{path}/airflow.db",
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True
    )
    return env


def cli(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "airflow_restjob.cli", "credentials", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write(tmp_path: Path, data, name="cred.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


AWS = {
    "name": "aws_stepfunctions",
    "authType": "aws_sigv4",
    "accessKeyId": "AKIAEXAMPLE",
    "secretAccessKey": SECRET,
    "region": "ap-northeast-1",
    "baseUrl": "https://abc123.execute-api.ap-northeast-1.amazonaws.com/stage",
}
PROXY = {
    "name": "corp_proxy",
    "authType": "proxy",
    "proxyUrl": "http://proxy.example.com:8080",
    "user": "job",
}


def test_add_list_show_delete(home, tmp_path):
    result = cli(home, "add", write(tmp_path, [AWS, {**PROXY, "password": PROXY_PASSWORD}]))
    assert result.returncode == 0, result.stderr
    assert (
        "added aws_stepfunctions (aws_sigv4)" in result.stdout and "added corp_proxy (proxy)" in result.stdout
    )

    listed = cli(home, "list")
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("aws_stepfunctions\taws_sigv4\t") and "secretAccessKey=***" in lines[0]
    assert lines[1].startswith("corp_proxy\tproxy\t") and "password=***" in lines[1]
    assert SECRET not in listed.stdout and PROXY_PASSWORD not in listed.stdout

    shown = cli(home, "show", "aws_stepfunctions")
    assert shown.returncode == 0 and json.loads(shown.stdout) == {**AWS, "secretAccessKey": "***"}

    # stored as an Airflow connection, encrypted with the Fernet key
    db = home["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "select conn_type, login, password, is_encrypted from connection where conn_id='aws_stepfunctions'"
        ).fetchone()
    assert row[0] == "restjob" and row[3] == 1 and SECRET not in (row[2] or "") and row[2]

    # readable by a task the way any connection is, and usable by the provider
    read = subprocess.run(
        [
            sys.executable,
            "-c",
            "from airflow.models import Connection; from airflow.utils.session import create_session\n"
            "from airflow_restjob.connections.settings import ConnectionSettings\n"
            "with create_session() as s:\n"
            "    c = s.query(Connection).filter_by(conn_id='aws_stepfunctions').one()\n"
            "    st = ConnectionSettings.from_connection(c)\n"
            "    print(st.secret_access_key == " + repr(SECRET) + ", st.region, st.base_url)",
        ],
        env=home,
        capture_output=True,
        text=True,
    )
    # the last line: Airflow 3.2's alembic logs to standard output before it
    assert read.stdout.strip().splitlines()[-1].split() == ["True", "ap-northeast-1", AWS["baseUrl"]], read.stderr

    # an existing name is overwritten
    result = cli(home, "add", write(tmp_path, {**PROXY, "proxyUrl": "http://other.example.com:3128"}))
    assert result.returncode == 0 and "updated corp_proxy" in result.stdout
    assert json.loads(cli(home, "show", "corp_proxy").stdout)["proxyUrl"] == "http://other.example.com:3128"
    assert "password" not in json.loads(cli(home, "show", "corp_proxy").stdout)

    assert cli(home, "delete", "corp_proxy").returncode == 0
    missing = cli(home, "show", "corp_proxy")
    assert missing.returncode == 4 and "no credential named 'corp_proxy'" in missing.stderr
    assert cli(home, "delete", "corp_proxy").returncode == 4


@pytest.mark.parametrize(
    "content, code, words",
    [
        ("{not json", 2, ["not valid JSON"]),
        ({**AWS, "name": "-bad"}, 2, ["$.name", "not a valid credential name"]),
        ({**AWS, "name": "x" * 65}, 2, ["not a valid credential name"]),
        ({**AWS, "authType": "aws_sigv5"}, 2, ["$.authType", "Did you mean 'aws_sigv4'?", "basic, bearer"]),
        ({**AWS, "authType": "basic"}, 2, ["$.accessKeyId: unknown key for authType basic"]),
        ({**AWS, "secretAccesKey": "x"}, 2, ["$.secretAccesKey", "Did you mean 'secretAccessKey'?"]),
        ({k: v for k, v in AWS.items() if k != "accessKeyId"}, 2, ["$.accessKeyId: required"]),
        ({**AWS, "region": "tokyo"}, 2, ["region"]),
        ([PROXY, {**PROXY, "proxyUrl": "proxy:8080"}], 2, ["[1].proxyUrl", "http(s)://"]),
        ([PROXY, PROXY], 2, ["'corp_proxy' appears more than once"]),
    ],
)
def test_invalid_file_content_is_exit_2_and_nothing_is_stored(home, tmp_path, content, code, words):
    result = cli(home, "add", write(tmp_path, content))
    assert result.returncode == code, result.stderr
    for word in words:
        assert word in result.stderr
    assert "corp_proxy" not in cli(home, "list").stdout


def test_usage_file_and_name_errors(home, tmp_path):
    assert cli(home, "add", str(tmp_path / "missing.json")).returncode == 3
    assert cli(home).returncode == 1
    assert cli(home, "frobnicate").returncode == 1
    bad = cli(home, "show", "bad name")
    assert bad.returncode == 1 and "not a valid credential name" in bad.stderr
    assert cli(home, "delete").returncode == 1
