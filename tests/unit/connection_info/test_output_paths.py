"""resBody / resHeader stay inside the connection information file's folder: '../x', an absolute
path or a symbolic link out of it is a definition error when the file is loaded (DAG parse), or,
for a rendered path, before the start request is sent; absolute paths only with
RestJobOperator(allow_absolute_output_paths=True)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from unittest import mock

import jinja2
import pytest

from airflow_restjob import connection_info as ci
from airflow_restjob.errors import DefinitionError
from airflow_restjob.operators.rest_job import RestJobOperator


def definition(section: str = "request", **outputs: str) -> dict:
    data: dict = {
        "request": {"url": "https://jobs.example.com/jobs", "takeoverKeys": ["jobId"]},
        "monitoring": {
            "url": "https://jobs.example.com/jobs/{{ takeover.jobId }}",
            "pollingEndKey": "state",
            "pollingEndVal": ["DONE"],
        },
        "termination": {"url": "https://jobs.example.com/jobs/{{ takeover.jobId }}/cancel", "method": "POST"},
    }
    data[section].update(outputs)
    return data


@pytest.fixture()
def folder(tmp_path) -> Path:
    """tmp_path/jobs holds the file; tmp_path/outside is another folder; jobs/escape links to it."""
    (tmp_path / "jobs" / "out").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "jobs" / "escape").symlink_to(tmp_path / "outside", target_is_directory=True)
    (tmp_path / "jobs" / "out" / "link.json").symlink_to(tmp_path / "outside" / "x.json")
    return tmp_path / "jobs"


def write(folder: Path, data: dict) -> Path:
    path = folder / "info.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "section, key, value, words",
    [
        ("request", "resBody", "../x.json", ["request.resBody: '../x.json' resolves to", "(with '..')"]),
        ("request", "resHeader", "out/../../x.json", ["request.resHeader: 'out/../../x.json'", "with '..'"]),
        ("request", "resBody", "/tmp/x.json", ["request.resBody: '/tmp/x.json' is an absolute path"]),
        ("request", "resBody", "~/x.json", ["request.resBody: '~/x.json' is an absolute path"]),
        (
            "monitoring",
            "resBody",
            "escape/x.json",
            ["monitoring.resBody: 'escape/x.json'", "through a symbolic link"],
        ),
        (
            "request",
            "resBody",
            "out/link.json",
            ["request.resBody: 'out/link.json'", "through a symbolic link"],
        ),
        ("termination", "resBody", "../x.json", ["termination.resBody", "with '..'"]),
        ("monitoring", "resHeader", "/var/x.json", ["monitoring.resHeader", "absolute path"]),
        # templates: as far as their written start goes
        ("request", "resBody", "../{{ ds }}.json", ["request.resBody: '../{{ ds }}.json' resolves to"]),
        (
            "request",
            "resBody",
            "/tmp/{{ ds }}.json",
            ["request.resBody: '/tmp/{{ ds }}.json' is an absolute path"],
        ),
        ("request", "resBody", "out/../../x_{{ ds }}.json", ["with '..'"]),
    ],
)
def test_output_paths_out_of_the_folder_are_definition_errors_when_loaded(folder, section, key, value, words):
    path = write(folder, definition(section, **{key: value}))
    with pytest.raises(DefinitionError) as caught:
        ci.load(path, [])
    message = str(caught.value)
    assert message.startswith(f"[end code 2: invalid value in the job definition] {path}: {section}.{key}: ")
    assert "RestJobOperator(allow_absolute_output_paths=True)" in message
    assert str(folder.resolve()) in message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize(
    "value",
    [
        "start.json",
        "out/start.json",
        "out/../start.json",
        "./out/{{ ds }}.json",
        "{{ ds }}/x.json",
        "x_{{ ds }}",
    ],
)
def test_output_paths_inside_the_folder_load(folder, value):
    assert ci.load(write(folder, definition(resBody=value)), []).request.res_body == value


def test_absolute_paths_load_only_when_allowed(folder, tmp_path):
    target = str(tmp_path / "outside" / "start.json")
    path = write(folder, definition(resBody=target, resHeader="~/headers.json"))
    with pytest.raises(DefinitionError, match="is an absolute path"):
        ci.load(path, [])
    assert ci.load(path, [], allow_absolute_output_paths=True).request.res_body == target
    # relative paths stay inside the folder even then
    with pytest.raises(DefinitionError, match="with '..'"):
        ci.load(write(folder, definition(resBody="../x.json")), [], allow_absolute_output_paths=True)


def test_the_operator_refuses_at_dag_parse_and_takes_the_opt_in(folder, tmp_path):
    path = write(folder, definition(resBody=str(tmp_path / "outside" / "start.json")))
    with pytest.raises(DefinitionError) as caught:
        RestJobOperator(task_id="run", connection_info=str(path))
    assert f"Task 'run': {path}: request.resBody: " in str(caught.value)
    op = RestJobOperator(task_id="run", connection_info=str(path), allow_absolute_output_paths=True)
    assert op.allow_absolute_output_paths is True


def test_an_inline_definition_keeps_its_outputs_in_the_dag_folder():
    with pytest.raises(
        DefinitionError, match=r"<inline connection_info>: request.resBody: '\.\./x.json' resolves"
    ):
        RestJobOperator(task_id="run", connection_info=definition(resBody="../x.json"))


def renderer(**context) -> ci.Renderer:
    return ci.Renderer("info.json", jinja2.Environment(), context)


def test_rendered_output_paths_are_checked_again(folder, tmp_path):
    base = str(folder)
    assert (
        renderer(ds="2026-01-01").path("request.resBody", "out/{{ ds }}.json", base)
        == folder.resolve() / "out" / "2026-01-01.json"
    )
    for ds, words in [("../../x", "with '..'"), ("/etc/x", "is an absolute path"), ("../escape/x", "")]:
        with pytest.raises(DefinitionError, match="request.resBody: '") as caught:
            renderer(ds=ds).path("request.resBody", "{{ ds }}.json", base)
        assert words in str(caught.value)
    with pytest.raises(DefinitionError, match="through a symbolic link"):
        renderer(d="escape").path("request.resBody", "{{ d }}/x.json", base)
    allowed = renderer(d=str(tmp_path / "outside")).path("request.resBody", "{{ d }}/x.json", base, True)
    assert allowed == tmp_path / "outside" / "x.json"


def test_a_rendered_path_out_of_the_folder_fails_before_the_start(folder):
    path = write(folder, definition(resBody="{{ params.out }}/start.json"))
    op = RestJobOperator(task_id="run", connection_info=str(path), deferrable=False)
    ti = mock.MagicMock(dag_id="d", task_id="run", run_id="r1", try_number=1, map_index=-1)
    with mock.patch.object(RestJobOperator, "_hook") as hook:
        with pytest.raises(DefinitionError, match=r"request.resBody: '\.\./\.\./etc/start.json' resolves"):
            op._start_job({"ti": ti, "run_id": "r1", "params": {"out": "../../etc"}})
    hook.assert_not_called()  # no client was built, nothing was sent
    ti.xcom_push.assert_not_called()
    assert not os.path.exists(folder.parent.parent / "etc" / "start.json")
