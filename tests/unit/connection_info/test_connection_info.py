"""Connection information files: loaded as they are, rejected at parse time with file, key and expectation."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from airflow_restjob import connection_info as ci
from airflow_restjob.connections.routes import Route
from airflow_restjob.errors import DefinitionError, FileOperationError
from tests.harness.dagrun import load_dagbag

EXAMPLE = Path(__file__).parents[3] / "dags" / "restjob_files"
GOOD = {
    "request": {"url": "jobs", "authName": "api", "body": {"a": 1}, "takeoverKeys": ["jobId"]},
    "monitoring": {
        "url": "jobs/{{ takeover.jobId }}",
        "authName": "api",
        "pollingEndKey": "state",
        "pollingEndVal": ["DONE", "ERROR"],
        "checkResultVal": ["DONE"],
    },
    "termination": {"url": "jobs/{{ takeover['jobId'] }}/cancel", "authName": "api", "method": "post"},
}


def write(tmp_path: Path, data, name="info.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def with_(section: str, **changes):
    data = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        if value is None:
            data[section].pop(key, None)
        else:
            data[section][key] = value
    return data


def test_the_article_file_loads_as_it_is():
    info = ci.load("connection_info_stepfunctions.json", [str(EXAMPLE)])
    assert info.request.takeover_keys == {"executionArn": "executionArn"}
    assert info.request.body.kind == "file" and info.request.body.path.endswith("main_body.json")
    m = info.monitoring
    assert (m.end_key, m.result_key, m.success_values) == ("status", "status", ("SUCCEEDED",))
    assert m.polling_interval == 2.0 and m.first_monitor_interval == 1.0 and m.polling_count == 900
    assert info.termination.url == "stop-execution" and info.termination.method == "POST"


def test_defaults(tmp_path):
    info = ci.load(write(tmp_path, GOOD), [])
    assert info.request.method == "POST"  # a body: POST
    m = info.monitoring
    assert m.request.method == "GET" and m.polling_interval == 10.0 and m.first_monitor_interval == 10.0
    assert m.polling_count is None and m.result_key == "state"
    assert info.termination.method == "POST"


@pytest.mark.parametrize(
    "data, words",
    [
        ('{"request": {"url": "x",}}', ["not valid JSON", "line 1"]),
        (with_("request", urll="x"), ["request.urll: unknown key", "Did you mean 'url'?"]),
        (with_("monitoring", pollingIntervall=5), ["monitoring.pollingIntervall", "'pollingInterval'"]),
        (with_("termination", pollingCount=3), ["termination.pollingCount", "not allowed in termination"]),
        (
            with_("monitoring", pollingInterval="10"),
            ["monitoring.pollingInterval", "number of seconds", 'a string "10"'],
        ),
        (with_("monitoring", pollingInterval=0.5), ["monitoring.pollingInterval", "from 1"]),
        (with_("monitoring", pollingCount=2.5), ["monitoring.pollingCount", "whole number"]),
        (with_("monitoring", pollingEndVal="DONE"), ["monitoring.pollingEndVal", "array"]),
        (with_("monitoring", pollingEndKey=None), ["monitoring.pollingEndKey", "missing"]),
        (with_("monitoring", pollingEndKey="state[?"), ["pollingEndKey", "JMESPath"]),
        (with_("request", url=None), ["request.url", "non-empty string", "got nothing"]),
        (with_("request", method="PATCH"), ["request.method", "GET, PUT, POST, DELETE"]),
        (with_("request", header={"X": True}), ["request.header"]),
        (with_("request", timeout=-1), ["request.timeout"]),
        (with_("request", takeoverKeys=[1]), ["request.takeoverKeys[0]"]),
        (with_("request", url="ftp://host/x"), ["request.url", "http(s)"]),
        ({"monitoring": GOOD["monitoring"]}, ["request", "missing"]),
        (
            with_("monitoring", body={"id": "{{ takeover.executionArn }}"}),
            ["monitoring.body", "takeover.executionArn", "takeoverKeys does not declare", "jobId"],
        ),
        (with_("termination", url="jobs/{{ takeover.id }}"), ["termination.url", "takeover.id"]),
        (with_("request", body={"x": "{{ takeover.jobId }}"}), ["request.body", "only after the start"]),
        (with_("monitoring", url="jobs/{{ takeover.jobId "), ["monitoring.url", "Jinja syntax"]),
        (with_("termination", authName="other"), ["termination.authName", "same value as monitoring"]),
        (with_("monitoring", checkResultKey="result", checkResultVal=None), ["monitoring.checkResultVal"]),
    ],
)
def test_bad_files_name_file_key_and_expectation(tmp_path, data, words):
    path = write(tmp_path, data)
    with pytest.raises(DefinitionError) as info:
        ci.load(path, [])
    message = str(info.value)
    assert message.startswith("[end code 2: invalid value in the job definition]")
    assert str(path) in message
    for word in words:
        assert word in message, message


def test_body_files(tmp_path):
    (tmp_path / "static_bad.json").write_text('{"a": 1,}')
    with pytest.raises(DefinitionError, match=r"request.body: body file .*static_bad.json is not valid JSON"):
        ci.load(write(tmp_path, with_("request", body="static_bad.json")), [])
    with pytest.raises(
        FileOperationError, match=r"end code 3.*request.body: body file 'nope.json' was not found"
    ):
        ci.load(write(tmp_path, with_("request", body="nope.json")), [])
    (tmp_path / "templated.json").write_text('{"a": {{ 1 + 1 }}, "b": "{{ run_id }}"}')
    info = ci.load(write(tmp_path, with_("request", body="templated.json")), [])
    import jinja2

    rendered = ci.Renderer("f", jinja2.Environment(), {"run_id": "r1"}).request(info.request)
    assert rendered.body == {"a": 2, "b": "r1"} and rendered.headers["content-type"] == "application/json"


def test_missing_file_is_end_code_3(tmp_path):
    with pytest.raises(FileOperationError, match="end code 3.*'nope.json' was not found"):
        ci.load("nope.json", [str(tmp_path)])


def test_routes():
    assert Route.of("a") == Route(base="a", auth="a") and Route.of("a").label == "a"
    route = Route(base="base", auth=None, proxy="px")
    assert route.label == "unsigned, base=base, proxy=px" and route.names == ("base", "px")
    # the first release encoded a route in the trigger's conn_id
    legacy = 'restjob-route:{"auth":null,"base":"base","origin":null,"proxy":"px"}'
    assert Route.from_legacy_conn_id(legacy) == route
    assert Route.from_legacy_conn_id("a") == Route.of("a")


def test_unsigned_and_proxy_settings_compose():
    class Conn:
        def __init__(self, conn_id, host=None, login=None, password=None, extra=None, port=None):
            self.conn_id, self.host, self.login, self.password = conn_id, host, login, password
            self.extra_dejson, self.schema, self.port = extra or {}, None, port

    conns = {
        "api": Conn("api", host="http://127.0.0.1:9/v1", extra={"read_timeout": "5"}),
        "px": Conn("px", host="proxy.corp", port=3128, login="u", password="proxy-pass"),
        "aws": Conn(
            "aws", host="https://x.execute-api.eu-west-1.amazonaws.com/stage", login="AK", password="SK"
        ),
    }
    unsigned = Route(base="api", proxy="px").settings(conns)
    assert not unsigned.signed and unsigned.base_url == "http://127.0.0.1:9/v1" and unsigned.read_timeout == 5
    assert unsigned.proxy_url == "http://proxy.corp:3128" and unsigned.proxy_password == "proxy-pass"
    signed = Route(base="aws", auth="aws", proxy="px").settings(conns)
    assert signed.signed and signed.region == "eu-west-1" and signed.proxy_user == "u"
    bare = Route().settings({})
    with pytest.raises(DefinitionError, match="relative URL"):
        bare.url("jobs")


def test_dag_import_error_shows_file_key_and_expectation(tmp_path):
    (tmp_path / "info.json").write_text(json.dumps(with_("monitoring", pollingEndVall=["DONE"])))
    (tmp_path / "bad_info_dag.py").write_text(
        textwrap.dedent(
            """
            from airflow.sdk import DAG
            from airflow_restjob.operators.rest_job import RestJobOperator

            with DAG("bad_info", schedule=None):
                RestJobOperator(task_id="run", connection_info="info.json")
            """
        )
    )
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    bag = DagBag(dag_folder=str(tmp_path))
    errors = "\n".join(bag.import_errors.values())
    assert "bad_info" not in bag.dags
    assert "[end code 2" in errors and "Task 'run'" in errors and str(tmp_path / "info.json") in errors
    assert "monitoring.pollingEndVall: unknown key" in errors and "Did you mean 'pollingEndVal'?" in errors


def test_relative_url_without_any_connection_is_rejected_at_parse_time():
    from airflow_restjob.operators.rest_job import RestJobOperator

    with pytest.raises(DefinitionError, match="request.url: 'jobs' is relative"):
        RestJobOperator(task_id="t", connection_info={"request": {"url": "jobs"}})


def test_example_dag_imports():
    bag = load_dagbag(EXAMPLE.parent)
    assert "rental_car_restjob_files" in bag.dags
