"""A termination request's ``timeout`` is honoured on both paths, over real HTTP on loopback.

A threaded HTTP server on 127.0.0.1 answers the termination request only after ``SERVER_DELAY``
seconds, and watches the socket meanwhile: when the client gives up and closes the connection it
logs the attempt as ended by the client, with the time it took. The job's ``terminate``
``RequestSpec`` has ``timeout=STOP_TIMEOUT``; the connection's own read timeout is far longer than
the server's delay, so only the request's timeout can end an attempt before the server answers.

- worker path: ``run_sync(stop_flow(...), RestJobBaseOperator._sender(SyncClient(...), spec))``
  (``requests``);
- triggerer path: ``RestJobTrigger._sender`` with a hook whose ``aclient()`` is an
  ``AsyncClient`` (``aiohttp``), driven by ``run_async``.

Both retry the stop by ``STOP_RETRY`` (timeouts are retryable): every attempt must be cut off by
the client after about ``STOP_TIMEOUT``, and the stop reported as not accepted. The retry jitter
is set to its lower bound (0 s) so the total is about attempts x ``STOP_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import select
import socket
import threading
import time
import types
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from airflow_restjob.connections.settings import ConnectionSettings
from airflow_restjob.operators.base import RestJobBaseOperator
from airflow_restjob.rest_job import retry as retry_module
from airflow_restjob.rest_job import step_functions as sfn
from airflow_restjob.rest_job.flows import run_async, run_sync, stop_flow
from airflow_restjob.rest_job.retry import STOP_RETRY
from airflow_restjob.rest_job.spec import JobSpec, PollSpec
from airflow_restjob.transport.aio import AsyncClient, close_shared_sessions
from airflow_restjob.transport.sync import SyncClient
from airflow_restjob.triggers.rest_job import RestJobTrigger

pytestmark = pytest.mark.timeout(120)

SERVER_DELAY = 3.0  # seconds before the server answers a termination request
STOP_TIMEOUT = 0.5  # the termination request's timeout
READ_TIMEOUT = 20.0  # the connection's read timeout: far above SERVER_DELAY
ARN = "arn:aws:states:us-east-1:123456789012:execution:sm:stop-timeout"
log = logging.getLogger("test_stop_timeout")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StopServer

    def do_POST(self) -> None:
        arrived = time.monotonic()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        entry: dict[str, Any] = {"path": self.path, "body": json.loads(body or b"{}"), "arrived": arrived}
        with self.server.lock:
            self.server.requests.append(entry)
        entry["by_client"] = self._client_left_within(self.server.delay)
        entry["duration"] = time.monotonic() - arrived
        if entry["by_client"]:
            self.close_connection = True
            return
        data = json.dumps({"stopDate": time.time()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _client_left_within(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True as soon as the client closes the connection (EOF / reset)."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], min(0.01, left))
            if not readable:
                continue
            try:
                if self.connection.recv(1, socket.MSG_PEEK) == b"":
                    return True
            except OSError:  # connection reset
                return True
            time.sleep(0.01)  # unexpected data (a pipelined request): keep waiting
        return False

    def log_message(self, format: str, *args: Any) -> None:
        pass


class StopServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.delay = SERVER_DELAY

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/stage"

    def settled(self, count: int, timeout: float = SERVER_DELAY + 2) -> list[dict[str, Any]]:
        """The log once ``count`` requests have been handled to their end."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                done = [r for r in self.requests if "duration" in r]
            if len(done) >= count and len(done) == len(self.requests):
                return done
            time.sleep(0.02)
        with self.lock:
            return list(self.requests)


@pytest.fixture()
def server() -> Iterator[StopServer]:
    httpd = StopServer()
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="stop-timeout-server", daemon=True
    )
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


@pytest.fixture(autouse=True)
def no_retry_jitter(monkeypatch) -> None:
    """Retry delays at their lower bound (0 s): the attempts follow each other at once."""
    monkeypatch.setattr(retry_module, "random", types.SimpleNamespace(uniform=lambda low, high: low))


def settings(server: StopServer) -> ConnectionSettings:
    return ConnectionSettings.unsigned("stop_timeout_test", server.base_url, read_timeout=READ_TIMEOUT)


def job_spec() -> JobSpec:
    spec = sfn.job_spec(ARN, PollSpec(first_delay=1, interval=1, jitter=0))
    assert spec.terminate is not None
    return replace(spec, terminate=replace(spec.terminate, timeout=STOP_TIMEOUT))


def check_attempts(server: StopServer, elapsed: float) -> None:
    attempts = server.settled(STOP_RETRY.max_attempts)
    assert len(attempts) == STOP_RETRY.max_attempts  # STOP_RETRY retried every timeout, then gave up
    for attempt in attempts:
        assert attempt["path"] == "/stage/" + sfn.STOP_PATH
        assert attempt["body"]["executionArn"] == ARN
        assert attempt["body"]["error"] == "airflow-restjob: test"
        # each attempt was cut off by the client after about STOP_TIMEOUT, long before the server answered
        assert attempt["by_client"] is True, attempt
        assert STOP_TIMEOUT * 0.8 <= attempt["duration"] < SERVER_DELAY / 2, attempt
    # together: about attempts x STOP_TIMEOUT, far from attempts x SERVER_DELAY
    assert STOP_TIMEOUT * len(attempts) * 0.8 <= elapsed < SERVER_DELAY * len(attempts) / 3


def stop_worker(server: StopServer, spec: JobSpec) -> bool:
    client = SyncClient(settings(server))
    try:
        send = RestJobBaseOperator._sender(client, spec)
        return run_sync(stop_flow(spec, ARN, "airflow-restjob: test", "stop timeout test", log), send)
    finally:
        client.close()


class AsyncHook:
    """The part of ``RestJobHook`` the trigger's sender uses."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self._settings = settings
        self.client: Any = None

    def cached_client(self) -> Any:
        return self.client

    async def aclient(self) -> Any:
        if self.client is None:
            self.client = AsyncClient(self._settings)
        return self.client


async def stop_triggerer(server: StopServer, spec: JobSpec) -> bool:
    trigger = RestJobTrigger(conn_id=None, auth_conn_id=None, job_id=ARN, spec=spec.to_dict())
    try:
        send = trigger._sender(AsyncHook(settings(server)), spec)  # type: ignore[arg-type]
        flow = stop_flow(spec, ARN, "airflow-restjob: test", "stop timeout test", log)
        return await run_async(flow, send, asyncio.sleep)
    finally:
        await close_shared_sessions()


def test_worker_path_honours_the_stop_timeout(server):
    started = time.monotonic()
    accepted = stop_worker(server, job_spec())
    elapsed = time.monotonic() - started
    assert accepted is False
    check_attempts(server, elapsed)


async def test_triggerer_path_honours_the_stop_timeout(server):
    started = time.monotonic()
    accepted = await stop_triggerer(server, job_spec())
    elapsed = time.monotonic() - started
    assert accepted is False
    check_attempts(server, elapsed)


def test_worker_path_stop_accepted_by_a_prompt_server(server):
    server.delay = 0.0
    assert stop_worker(server, job_spec()) is True
    (attempt,) = server.settled(1)
    assert attempt["by_client"] is False


async def test_triggerer_path_stop_accepted_by_a_prompt_server(server):
    server.delay = 0.0
    assert await stop_triggerer(server, job_spec()) is True
    (attempt,) = server.settled(1)
    assert attempt["by_client"] is False
