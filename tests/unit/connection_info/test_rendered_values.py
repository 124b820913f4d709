"""Values rendered into URLs and headers: percent-encoded where they land in a URL, checked in a
header, so that a value (a takeover value from the API's answer, a Variable) cannot change which
resource is called or add a header.  The written text of the file is sent as written."""

from __future__ import annotations

import json

import jinja2
import pytest

from airflow_restjob import connection_info as ci
from airflow_restjob.errors import DefinitionError

CONTEXT = {
    "run_id": "manual__2026-01-01T00:00:00+00:00",
    "var": {
        "value": {"api": "https://api.example.com/stage", "host": "api.example.com:8443", "prefix": "v1/jobs"}
    },
    "params": {"kind": "a/b?x=1#f", "dot": "..", "bad": "x\ny", "euro": "price €"},
}


def renderer() -> ci.Renderer:
    return ci.Renderer("info.json", jinja2.Environment(), CONTEXT)


def url(template: str, **takeover: str) -> str:
    return renderer().url("monitoring.url", template, takeover)


@pytest.mark.parametrize(
    "template, value, expected",
    [
        ("jobs/{{ takeover.jobId }}", "../../admin", "jobs/..%2F..%2Fadmin"),
        ("jobs/{{ takeover.jobId }}/cancel", "a/b?x=1#f", "jobs/a%2Fb%3Fx%3D1%23f/cancel"),
        ("jobs/{{ takeover.jobId }}", "50%2e%2e", "jobs/50%252e%252e"),
        ("jobs/{{ takeover.jobId }}", "job 1 é", "jobs/job%201%20%C3%A9"),
        ("jobs/{{ takeover.jobId }}", "x\r\nHost: evil", "jobs/x%0D%0AHost%3A%20evil"),
        (
            "https://api.example.com/v1/jobs/{{ takeover.jobId }}",
            "../admin",
            "https://api.example.com/v1/jobs/..%2Fadmin",
        ),
        ("jobs/job-{{ takeover.jobId }}.json", "../x", "jobs/job-..%2Fx.json"),
        ("{{ takeover.jobId }}/status", "../admin", "..%2Fadmin/status"),
        ("jobs/{{ takeover.jobId | upper }}", "a/b", "jobs/A%2FB"),
        # the URL's query: a value is a query value (& = + # encoded), the written ? & = stay
        ("jobs?id={{ takeover.jobId }}&full=1", "a&b=c+d#e", "jobs?id=a%26b%3Dc%2Bd%23e&full=1"),
        ("jobs/x?id={{ takeover.jobId }}", "..", "jobs/x?id=.."),  # '..' as a query value is harmless
    ],
)
def test_takeover_values_are_encoded_where_they_land(template, value, expected):
    assert url(template, jobId=value) == expected


def test_the_written_text_is_sent_as_written():
    assert (
        url("jobs/%7Bx%7D/{{ takeover.jobId }}?a=1&b=%2F#top", jobId="j/1")
        == "jobs/%7Bx%7D/j%2F1?a=1&b=%2F#top"
    )
    assert url("start-execution") == "start-execution"  # no template: unchanged


def test_variables_and_context_values_are_encoded_too():
    assert (
        url("jobs/{{ params.kind }}/{{ run_id }}")
        == "jobs/a%2Fb%3Fx%3D1%23f/manual__2026-01-01T00%3A00%3A00%2B00%3A00"
    )


def test_a_base_url_from_a_variable_a_host_and_safe_values_are_inserted_as_they_are():
    assert url("{{ var.value.api }}/jobs/{{ takeover.jobId }}", jobId="a/b") == (
        "https://api.example.com/stage/jobs/a%2Fb"
    )
    assert url("https://{{ var.value.host }}/jobs/{{ takeover.jobId }}", jobId="a/b") == (
        "https://api.example.com:8443/jobs/a%2Fb"
    )
    assert url("{{ var.value.prefix | safe }}/{{ takeover.jobId }}", jobId="a/b") == "v1/jobs/a%2Fb"
    status = "https://status.example.com/runs/7?code=abc"
    assert url("{{ takeover.statusUrl | safe }}", statusUrl=status) == status
    # after a base inserted as it is, the written ? starts the query
    assert url("{{ takeover.statusUrl | safe }}&page={{ takeover.page }}", statusUrl=status, page="1&x") == (
        status + "&page=1%26x"
    )


@pytest.mark.parametrize(
    "template, takeover, words",
    [
        (
            "jobs/{{ takeover.jobId }}",
            {"jobId": ".."},
            [
                "monitoring.url: takeover.jobId (from the start response) = '..' makes the path segment '..'",
                "request.takeoverKeys 'jobId'",
            ],
        ),
        ("jobs/{{ takeover.jobId }}/cancel", {"jobId": "."}, ["takeover.jobId", "path segment '.'"]),
        (
            "jobs/{{ takeover.jobId }}/cancel",
            {"jobId": ""},
            ["takeover.jobId", "an empty path segment", "'jobs//cancel'"],
        ),
        ("jobs/.{{ takeover.jobId }}", {"jobId": "."}, ["takeover.jobId", "path segment '..'"]),
        ("jobs/%2e{{ takeover.jobId }}", {"jobId": "."}, ["takeover.jobId", "path segment '%2e.'"]),
        ("jobs/{{ params.dot }}/x", {}, ["a value of the template (task context or Variable) = '..'"]),
        (
            "{{ takeover.next }}/x",
            {"next": "https://evil.example.com"},
            [
                "takeover.next (from the start response) = 'https://evil.example.com' begins the URL",
                "{{ takeover.next | safe }}",
            ],
        ),
        (
            "https://{{ takeover.host }}/x",
            {"host": "evil.example.com/x"},
            ["takeover.host", "host part of the URL"],
        ),
        ("https://{{ takeover.host }}/x", {"host": "user@evil.example.com"}, ["takeover.host", "host part"]),
    ],
)
def test_values_that_would_move_the_request_are_definition_errors(template, takeover, words):
    with pytest.raises(DefinitionError) as caught:
        url(template, **takeover)
    message = str(caught.value)
    assert message.startswith("[end code 2: invalid value in the job definition] info.json: monitoring.url: ")
    assert "Fix: " in message
    for word in words:
        assert word in message, message


def header(template: str, **takeover: str) -> str:
    return renderer().header("monitoring.header.X-Job", template, takeover)


def test_header_values_that_fit_pass():
    assert header("{{ takeover.jobId }}", jobId="job-1\tcafé") == "job-1\tcafé"  # tab and Latin-1 fit
    assert header("run {{ run_id }}") == "run " + CONTEXT["run_id"]


@pytest.mark.parametrize(
    "template, takeover, words",
    [
        (
            "{{ takeover.jobId }}",
            {"jobId": "j1\r\nSet-Cookie: a=b"},
            ["takeover.jobId (from the start response)", "a line break (CR/LF)"],
        ),
        ("id={{ takeover.jobId }}", {"jobId": "j1\n"}, ["takeover.jobId", "a line break"]),
        ("{{ takeover.jobId }}", {"jobId": "j\x00"}, ["takeover.jobId", "a control character (U+0000)"]),
        ("{{ takeover.jobId }}", {"jobId": "j\x85"}, ["a control character (U+0085)"]),
        ("{{ params.euro }}", {"jobId": "j\n"}, ["a value of the template", "outside Latin-1 ('€', U+20AC)"]),
        ("{{ params.bad }}", {}, ["a value of the template (task context or Variable)", "a line break"]),
    ],
)
def test_header_values_with_line_breaks_controls_or_non_latin1_are_definition_errors(
    template, takeover, words
):
    with pytest.raises(DefinitionError) as caught:
        header(template, **takeover)
    message = str(caught.value)
    assert message.startswith(
        "[end code 2: invalid value in the job definition] info.json: monitoring.header.X-Job: "
    )
    assert "one line of Latin-1 text" in message and "Fix: " in message and "urlencode" in message
    for word in words:
        assert word in message, message


def test_the_whole_request_is_rendered_with_these_rules():
    info = ci.parse(
        {
            "request": {"url": "jobs", "takeoverKeys": ["jobId"]},
            "monitoring": {
                "url": "jobs/{{ takeover.jobId }}",
                "header": {"X-Job": "{{ takeover.jobId }}"},
                "query": {"id": "{{ takeover.jobId }}"},
                "pollingEndKey": "state",
                "pollingEndVal": ["DONE"],
            },
        },
        "info.json",
        ".",
    )
    rendered = renderer().request(info.monitoring.request, {"jobId": "a/b&c"})
    assert rendered.url == "jobs/a%2Fb%26c" and rendered.headers["X-Job"] == "a/b&c"
    assert rendered.query == {"id": "a/b&c"}  # query values are encoded when sent (transport.common.full_url)
    with pytest.raises(DefinitionError, match=r"monitoring.header.X-Job: takeover.jobId"):
        renderer().request(info.monitoring.request, {"jobId": "a\r\nb"})


def test_before_the_start_what_does_not_wait_for_takeover_values_is_checked():
    info = ci.parse(
        {
            "request": {"url": "jobs", "takeoverKeys": ["jobId"]},
            "monitoring": {
                "url": "jobs/{{ takeover.jobId }}",
                "header": {"X-Run": "{{ params.bad }}", "X-Job": "{{ takeover.jobId }}"},
                "pollingEndKey": "state",
                "pollingEndVal": ["DONE"],
            },
            "termination": {"url": "jobs/{{ params.dot }}/cancel"},
        },
        "info.json",
        ".",
    )
    with pytest.raises(DefinitionError, match=r"monitoring.header.X-Run: a value of the template"):
        renderer().check_before_start(info.monitoring.request)
    with pytest.raises(DefinitionError, match=r"termination.url: a value of the template .* '\.\.'"):
        renderer().check_before_start(info.termination)


@pytest.mark.parametrize(
    "headers, words",
    [
        ({"X-Team": "ops\r\nX-Admin: 1"}, ["request.header.X-Team: the value has a line break (CR/LF)"]),
        ({"X-Team": "ops\u2028"}, ["request.header.X-Team", "outside Latin-1"]),
        ({"X-Team": "{{ run_id }}\nX-Admin: 1"}, ["request.header.X-Team", "a line break"]),
        ({"X-Team": "\x07{{ run_id }}"}, ["request.header.X-Team", "a control character (U+0007)"]),
        ({"X Team": "ops"}, ["request.header: 'X Team' is not a header name"]),
        ({"X-Team:": "ops"}, ["request.header: 'X-Team:' is not a header name"]),
        ({"X-Team\r\nX-Admin": "1"}, ["is not a header name"]),
    ],
)
def test_written_header_text_is_checked_when_the_file_is_loaded(tmp_path, headers, words):
    path = tmp_path / "info.json"
    path.write_text(json.dumps({"request": {"url": "jobs", "header": headers}}), encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        ci.load(path, [])
    message = str(caught.value)
    assert message.startswith("[end code 2: invalid value in the job definition]") and str(path) in message
    for word in words:
        assert word in message, message


def test_written_header_values_that_fit_load(tmp_path):
    path = tmp_path / "info.json"
    path.write_text(
        json.dumps({"request": {"url": "jobs", "header": {"X-Team": "café\t{{ run_id }}", "X-N": 3}}})
    )
    assert ci.load(path, []).request.headers == {"X-Team": "café\t{{ run_id }}", "X-N": "3"}
