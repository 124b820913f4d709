"""Every request is bounded in time and size, on both HTTP drivers: an answer that trickles in a
byte at a time ends with a timeout after connect + read timeout (each byte comes well inside the
read timeout, so only the total bound can end it), and an answer over the connection's
``max_response_bytes`` is refused (end code 8) - at once when Content-Length says so, after the
limit when it is chunked. Real servers on loopback."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from airflow_restjob.connections.settings import DEFAULT_MAX_RESPONSE_BYTES, ConnectionSettings
from airflow_restjob.errors import DefinitionError, RequestTimeoutError, UnparsableResponseError
from airflow_restjob.rest_job.retry import NO_RETRY
from airflow_restjob.transport.aio import AsyncClient, close_shared_sessions
from airflow_restjob.transport.sync import SyncClient


class RawServer:
    """Answers every request with ``answer(conn)`` (raw socket: full control over the timing)."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sent = 0
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            length = next(
                (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")),
                0,
            )
            while len(rest) < length:
                rest += conn.recv(65536)
            try:
                self.answer(self, conn)
            except OSError:
                pass  # the client gave up: what these tests expect

    def send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        self.sent += len(data)

    def close(self) -> None:
        self.closed.set()
        self.sock.close()


def trickle(server: RawServer, conn: socket.socket) -> None:
    body = b'{"status": "SUCCEEDED", "pad": "' + b"x" * 40 + b'"}'
    server.send(conn, b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body))
    server.sent = 0  # body bytes from here
    for byte in body:  # one byte every 0.25 s: never a 1 s gap, 15 s in all
        if server.closed.is_set():
            return
        server.send(conn, bytes([byte]))
        time.sleep(0.25)


def announced_huge(server: RawServer, conn: socket.socket) -> None:
    server.send(conn, b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 52428800\r\n\r\n")
    server.send(conn, b'{"status": "')
    time.sleep(2)


def chunked_huge(server: RawServer, conn: socket.socket) -> None:
    server.send(conn, b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
    chunk = b"x" * 65536
    for _ in range(200):  # 12.5 MiB if read whole
        server.send(conn, b"%x\r\n%s\r\n" % (len(chunk), chunk))
    server.send(conn, b"0\r\n\r\n")


def settings_for(server: RawServer, **extra) -> ConnectionSettings:
    return ConnectionSettings.unsigned(f"raw-{server.port}", f"http://127.0.0.1:{server.port}", **extra)


def sync_post(settings):
    client = SyncClient(settings)
    try:
        return client.request("POST", "/x", {"a": 1}, retry=NO_RETRY).data
    finally:
        client.close()


def async_post(settings):
    async def go():
        try:
            return (await AsyncClient(settings).request("POST", "/x", {"a": 1}, retry=NO_RETRY)).data
        finally:
            await close_shared_sessions()

    return asyncio.run(go())


BOTH = pytest.mark.parametrize("post", [sync_post, async_post], ids=["sync", "async"])


@pytest.fixture()
def server(request):
    srv = RawServer(request.param)
    yield srv
    srv.close()


@BOTH
@pytest.mark.parametrize("server", [trickle], indirect=True)
def test_a_trickling_answer_ends_with_a_timeout_after_connect_plus_read(server, post):
    settings = settings_for(server, connect_timeout=1.0, read_timeout=2.0)
    with pytest.raises(RequestTimeoutError) as caught:
        post(settings)
    assert "end code 5" in str(caught.value)
    assert server.sent < 40  # the client stopped reading long before the 74-byte body ended (~12 bytes in 3 s)


@BOTH
@pytest.mark.parametrize("server", [announced_huge], indirect=True)
def test_an_announced_huge_answer_is_refused_unread(server, post):
    with pytest.raises(UnparsableResponseError) as caught:
        post(settings_for(server))
    text = str(caught.value)
    assert "end code 8" in text and f"max_response_bytes ({DEFAULT_MAX_RESPONSE_BYTES} bytes; Content-Length 52428800)" in text
    assert "raise the connection's extra 'max_response_bytes'" in text


@BOTH
@pytest.mark.parametrize("server", [chunked_huge], indirect=True)
def test_a_chunked_answer_over_the_limit_is_cut_at_the_limit(server, post):
    with pytest.raises(UnparsableResponseError, match=r"more than 1048576 bytes read"):
        post(settings_for(server, max_response_bytes=1024 * 1024))


@pytest.mark.parametrize("value", ["many", 100, -5, 1.5e3 + 0.5, True])
def test_max_response_bytes_must_be_a_whole_number_of_at_least_1024(value):
    with pytest.raises(DefinitionError, match="extra field 'max_response_bytes' must be a whole number"):
        ConnectionSettings.from_fields(
            "c", host="https://api.example.com", login="AKIAEXAMPLE000000000", password="s",
            extra={"region": "us-east-1", "max_response_bytes": value},
        )


def test_max_response_bytes_is_read_from_the_extra():
    settings = ConnectionSettings.from_fields(
        "c", host="https://api.example.com", login="AKIAEXAMPLE000000000", password="s",
        extra={"region": "us-east-1", "max_response_bytes": "8388608"},
    )
    assert settings.max_response_bytes == 8 * 1024 * 1024
