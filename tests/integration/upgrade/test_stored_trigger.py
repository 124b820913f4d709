"""Trigger rows written by airflow_restjob 0.1.0 still load and resume with the current code.

Airflow keeps a deferred task's trigger as a row of the ``trigger`` table: ``classpath`` and
``encrypted_kwargs`` (``BaseTrigger.serialize()`` through ``airflow.sdk.serde``, fernet-encrypted
when a fernet key is set).  After an upgrade the triggerer reads the old row and does
``import_string(classpath)(**kwargs)``, then runs the trigger.  A refactor that moves or renames
the trigger class, or changes which kwargs it accepts, strands every task deferred at upgrade time.

``stored_triggers_0_1_0.json`` holds such rows, captured from commit 2626b0e (airflow_restjob
0.1.0) by deferring the operators the way ``RestJobBaseOperator._wait`` does and storing
``trigger.serialize()`` (``kwargs``) and the ``Trigger`` model's column text for it
(``encrypted_kwargs``; no fernet key, so it is the plain JSON Airflow also accepts):

* ``stepfunctions_execution``: ``StepFunctionsExecutionOperator``, conn_id ``restjob_default``;
* ``restjob_route_unsigned_base``: ``RestJobOperator`` whose monitoring request is unsigned
  (no authName) with the base URL from connection ``jobapi`` (conn_id ``restjob-route:{...}``);
* ``restjob_route_signed_proxy``: ``RestJobOperator`` with ``authName=restjob_default`` and
  ``proxyAuthName=restjob_proxy`` (conn_id ``restjob-route:{...}``).

Substituted at test time (the rows are otherwise used exactly as stored): the placeholders
``@@EXECUTION_ARN@@`` / ``@@JOB_ID@@`` in any string (``job_id``, the monitoring/termination
paths and bodies) by the id of a job this test starts; ``deadline`` by now + 600 s;
``not_before`` by now (the trigger holds its final event until then).  ``task_identity`` stays as
stored: it is only read by the cancellation guard, so the success path needs no metadata DB.

Each test does what the triggerer does (decode the column, import the classpath, build the
trigger), drives ``run()`` to its first event against a real job, checks the event, and then
stores/loads the re-serialized trigger once more and runs that one too (round trip).
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import conn_fields

ROWS_FILE = Path(__file__).with_name("stored_triggers_0_1_0.json")
ROWS: dict[str, dict[str, Any]] = {
    row["name"]: row for row in json.loads(ROWS_FILE.read_text(encoding="utf-8"))
}
CLASSPATH = "airflow_restjob.trigger.RestJobTrigger"  # what every 0.1.0 row holds
PLACEHOLDERS = ("@@EXECUTION_ARN@@", "@@JOB_ID@@")
MAX_WAIT = 600.0
EVENT_TIMEOUT = 20.0  # seconds for one trigger's first event (polls are 1 s apart)
# kept as they are by a re-serialization; ``conn_id`` is not among them: a newer release may
# write the route differently (e.g. split into several kwargs) - where the polls went is checked
# instead (signed with which key, through the proxy or not, unsigned)
IDENTITY_KEYS = (
    "job_id",
    "deadline",
    "task_identity",
    "id_xcom_key",
    "stop_on_kill",
    "reason",
    "not_before",
)
PROXY_USER, PROXY_PASSWORD = "restjob-proxy-user", "restjob-proxy-password"


# --- what the triggerer does ----------------------------------------------------------------------
def import_string(dotted_path: str) -> Any:
    """The triggerer's ``import_string`` (its module moved between Airflow 3.1 and 3.3)."""
    try:
        from airflow.sdk.module_loading import import_string as _import_string
    except ImportError:
        try:
            from airflow.utils.module_loading import import_string as _import_string  # type: ignore[no-redef]
        except ImportError:
            from airflow._shared.module_loading import import_string as _import_string  # type: ignore[no-redef]
    return _import_string(dotted_path)


def decode_column(encrypted_kwargs: str) -> dict[str, Any]:
    """The kwargs the triggerer passes to the trigger class, from the ``encrypted_kwargs`` column."""
    from airflow.models.trigger import Trigger

    kwargs = Trigger._decrypt_kwargs(encrypted_kwargs)
    try:
        from airflow.serialization.decoders import smart_decode_trigger_kwargs
    except ImportError:  # older Airflow: the decrypted kwargs are used as they are
        return dict(kwargs)
    return {k: smart_decode_trigger_kwargs(v) for k, v in kwargs.items()}


def column_for(row: dict[str, Any]) -> str:
    """The row's ``encrypted_kwargs`` as this Airflow's scheduler writes it: the captured text
    (written by Airflow 3.3) where this Airflow reads that format, else the captured
    ``serialize()`` output stored through this Airflow's own ``Trigger`` model (3.1 writes and
    reads its own serialization format)."""
    try:
        decode_column(row["encrypted_kwargs"])
        return str(row["encrypted_kwargs"])
    except (KeyError, TypeError, ValueError):
        from airflow.models.trigger import Trigger

        return Trigger(classpath=row["classpath"], kwargs=row["kwargs"]).encrypted_kwargs


def through_table(classpath: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Store a trigger's serialize() output as the scheduler does and read it back as the triggerer."""
    from airflow.models.trigger import Trigger

    return decode_column(Trigger(classpath=classpath, kwargs=kwargs).encrypted_kwargs)


def substitute(value: Any, job_id: str) -> Any:
    if isinstance(value, str):
        for placeholder in PLACEHOLDERS:
            value = value.replace(placeholder, job_id)
        return value
    if isinstance(value, dict):
        return {k: substitute(v, job_id) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(substitute(v, job_id) for v in value)
    return value


def stored_kwargs(row: dict[str, Any], job_id: str) -> dict[str, Any]:
    kwargs = substitute(decode_column(column_for(row)), job_id)
    now = time.time()
    kwargs["deadline"] = now + MAX_WAIT
    kwargs["not_before"] = now
    return kwargs


def plain(value: Any) -> Any:
    """JSON-equal form (tuples and lists compare equal)."""
    return json.loads(json.dumps(value))


async def close_sessions() -> None:
    """Close the package's shared aiohttp sessions of this event loop (wherever the module now lives)."""
    seen = set()
    for name, module in list(sys.modules.items()):
        close = getattr(module, "close_shared_sessions", None) if name.startswith("airflow_restjob") else None
        if callable(close) and close not in seen:
            seen.add(close)
            await close()


async def first_event(trigger: Any) -> Any:
    events = trigger.run()
    try:
        return await asyncio.wait_for(events.__anext__(), EVENT_TIMEOUT)
    finally:
        await events.aclose()


def resume(row: dict[str, Any], job_id: str) -> dict[str, Any]:
    """Load the stored row as the triggerer does, run it, then round-trip it through the table once more."""
    cls = import_string(row["classpath"])
    kwargs = stored_kwargs(row, job_id)
    trigger = cls(**kwargs)

    async def go() -> dict[str, Any]:
        try:
            started = time.monotonic()
            event = await first_event(trigger)
            elapsed = time.monotonic() - started
            classpath2, kwargs2 = trigger.serialize()
            again = import_string(classpath2)(**through_table(classpath2, kwargs2))
            event2 = await first_event(again)
            return {
                "kwargs": kwargs,
                "event": event.payload,
                "elapsed": elapsed,
                "reserialized": (classpath2, kwargs2),
                "event2": event2.payload,
                "reserialized2": again.serialize(),
            }
        finally:
            await close_sessions()

    return asyncio.run(go())


def check_common(result: dict[str, Any], job_id: str) -> None:
    event = result["event"]
    assert event["status"] == "success", event
    assert event["job_id"] == job_id
    assert result["elapsed"] < EVENT_TIMEOUT
    # round trip: the restored trigger re-serializes to kwargs a second instance accepts, and it works
    classpath2, kwargs2 = result["reserialized"]
    assert import_string(classpath2) is not None
    stored = result["kwargs"]
    for key in IDENTITY_KEYS:
        assert plain(kwargs2.get(key)) == plain(stored[key]), key
    assert result["reserialized2"][0] == classpath2
    assert plain(result["reserialized2"][1]) == plain(kwargs2)
    event2 = result["event2"]
    assert event2["status"] == "success", event2
    assert event2["job_id"] == job_id
    assert plain(event2["response"]) == plain(event["response"])


# --- the rows themselves --------------------------------------------------------------------------
def test_the_stored_rows_are_the_expected_ones():
    assert sorted(ROWS) == [
        "restjob_route_signed_proxy",
        "restjob_route_unsigned_base",
        "stepfunctions_execution",
    ]
    for row in ROWS.values():
        assert row["classpath"] == CLASSPATH
        # the column text decodes to exactly the serialize() output that was stored
        assert plain(decode_column(column_for(row))) == plain(row["kwargs"])
    assert ROWS["restjob_route_unsigned_base"]["kwargs"]["conn_id"].startswith("restjob-route:")
    assert ROWS["restjob_route_signed_proxy"]["kwargs"]["conn_id"].startswith("restjob-route:")


def test_the_0_1_0_classpath_still_resolves_to_a_trigger():
    from airflow.triggers.base import BaseTrigger

    cls = import_string(CLASSPATH)
    assert isinstance(cls, type) and issubclass(cls, BaseTrigger)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_every_stored_row_builds(name):
    row = ROWS[name]
    trigger = import_string(row["classpath"])(**stored_kwargs(row, "job-0123456789ab"))
    classpath, kwargs = trigger.serialize()
    import_string(classpath)(**through_table(classpath, kwargs))


# --- jobs to resume -------------------------------------------------------------------------------
def start_succeeding_execution(sandbox) -> tuple[str, dict[str, Any]]:
    """A 'succeed' execution started straight in moto (not through the code under test)."""
    execution_input = {"wait_seconds": 1, "started_by": "test_stored_trigger"}
    started = sandbox.aws_client("stepfunctions").start_execution(
        stateMachineArn=sandbox.state_machine_arn("succeed"),
        name=f"upgrade-{uuid.uuid4().hex[:12]}",
        input=json.dumps(execution_input),
    )
    return started["executionArn"], {**execution_input, "result": "ok"}


def describes_of(sandbox, arn: str) -> list[dict[str, Any]]:
    return [
        e
        for e in sandbox.request_log()
        if e["resource"] == "describe-execution" and e["execution_arn"] == arn
    ]


def check_execution_event(result: dict[str, Any], expected_output: dict[str, Any]) -> None:
    event = result["event"]
    assert event["job_status"] == "SUCCEEDED"
    assert json.loads(event["response"]["output"]) == expected_output


def test_stored_step_functions_trigger_resumes(sandbox, restjob_conn):
    arn, expected_output = start_succeeding_execution(sandbox)
    result = resume(ROWS["stepfunctions_execution"], arn)
    check_common(result, arn)
    check_execution_event(result, expected_output)
    polls = describes_of(sandbox, arn)
    assert len(polls) >= 2  # the restored trigger and its round-tripped copy
    access_key = conn_fields(sandbox)["login"]
    # signed with restjob_default's key, accepted by the gateway
    assert all(p["status"] == 200 and p["access_key"] == access_key for p in polls)
    assert not sandbox.stops_for(arn)


@pytest.fixture(scope="module")
def job_api() -> Iterator[Any]:
    from tests.harness.jobapi import JobApi

    with JobApi() as api:
        yield api


@pytest.fixture()
def jobapi_conn(job_api, monkeypatch) -> str:
    """The stored route's base connection ``jobapi``: the job API's URL, no credentials."""
    monkeypatch.setenv("AIRFLOW_CONN_JOBAPI", json.dumps({"conn_type": "http", "host": job_api.url}))
    return "jobapi"


def submit_job(job_api) -> str:
    request = urllib.request.Request(
        f"{job_api.url}/jobs",
        data=json.dumps({"duration": 1, "outcome": "DONE", "value": 7}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["jobId"]


def test_stored_unsigned_route_trigger_resumes(job_api, jobapi_conn):
    job_id = submit_job(job_api)
    result = resume(ROWS["restjob_route_unsigned_base"], job_id)
    check_common(result, job_id)
    event = result["event"]
    assert event["job_status"] == "DONE"
    assert event["response"]["state"] == "DONE" and event["response"]["result"]["value"] == 7
    polls = [r for r in job_api.requests if r["path"] == f"/jobs/{job_id}" and r["method"] == "GET"]
    assert len(polls) >= 2  # both the restored trigger and its round-tripped copy polled
    for poll in polls:  # the stored monitoring request, sent as it is
        assert poll["query"] == {"team": "ops"}
        assert poll["headers"].get("X-Run") == "manual__2026-01-01T00:00:00+00:00"
        assert "Authorization" not in poll["headers"]
    assert job_api.job_for(job_id)["cancels"] == []


# --- a forwarding proxy for proxyAuthName ---------------------------------------------------------
HOP_HEADERS = {
    "proxy-authorization",
    "proxy-connection",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
}


class _ProxyHandler(BaseHTTPRequestHandler):
    """Plain-HTTP forward proxy (absolute-form request targets) with Basic proxy authentication."""

    server: _ProxyServer

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        expected = "Basic " + base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
        authorized = self.headers.get("Proxy-Authorization") == expected
        target = urlsplit(self.path)
        self.server.hits.append(
            {"method": self.command, "url": self.path, "authorized": authorized, "body": body.decode()}
        )
        if not authorized or not target.hostname:
            self.send_response(407)
            self.send_header("Proxy-Authenticate", 'Basic realm="restjob-test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        upstream = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=30)
        try:
            path = (target.path or "/") + (f"?{target.query}" if target.query else "")
            upstream.request(self.command, path, body=body or None, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        finally:
            upstream.close()
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in HOP_HEADERS | {"content-length", "date", "server"}:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _forward

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    hits: list[dict[str, Any]]


@pytest.fixture(scope="module")
def proxy() -> Iterator[_ProxyServer]:
    server = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, name="restjob-test-proxy", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture()
def proxy_conn(proxy, monkeypatch) -> str:
    """The stored route's ``proxyAuthName`` connection: host = proxy URL, login/password = proxy auth."""
    host, port = proxy.server_address[:2]
    monkeypatch.setenv(
        "AIRFLOW_CONN_RESTJOB_PROXY",
        json.dumps(
            {
                "conn_type": "http",
                "host": f"http://{host}:{port}",
                "login": PROXY_USER,
                "password": PROXY_PASSWORD,
            }
        ),
    )
    return "restjob_proxy"


def test_stored_signed_proxy_route_trigger_resumes(sandbox, restjob_conn, proxy, proxy_conn):
    arn, expected_output = start_succeeding_execution(sandbox)
    proxy.hits.clear()
    result = resume(ROWS["restjob_route_signed_proxy"], arn)
    check_common(result, arn)
    check_execution_event(result, expected_output)
    through_proxy = [h for h in proxy.hits if h["url"].endswith("/describe-execution") and arn in h["body"]]
    assert len(through_proxy) >= 2 and all(h["authorized"] for h in through_proxy)
    polls = describes_of(sandbox, arn)
    assert len(polls) == len(through_proxy)  # every poll went through the proxy ...
    access_key = conn_fields(sandbox)["login"]
    # ... still signed with authName's key
    assert all(p["status"] == 200 and p["access_key"] == access_key for p in polls)
    assert not sandbox.stops_for(arn)
