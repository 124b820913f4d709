"""Signed requests never follow a redirect (the signature and session token would go to another
host, whose answer would be taken as the API's) and never go over plain http to a host that is not
loopback; both HTTP drivers. Real servers on loopback."""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from airflow_restjob.connections.settings import ConnectionSettings
from airflow_restjob.errors import DefinitionError, RequestFailedError
from airflow_restjob.transport.aio import AsyncClient, close_shared_sessions
from airflow_restjob.transport.sync import SyncClient


class Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]]
    answer: tuple[int, dict[str, str], bytes]

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length") or 0))
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        status, headers, body = type(self).answer
        self.send_response(status)
        for name, value in {**headers, "content-length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST  # a client that follows a 302 sends GET

    def log_message(self, *args: object) -> None:
        pass


def serve(status: int, headers: dict[str, str], body: bytes) -> tuple[ThreadingHTTPServer, type[Recorder]]:
    handler = type("Handler", (Recorder,), {"seen": [], "answer": (status, headers, body)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler


@pytest.fixture()
def servers():
    other, other_seen = serve(200, {"content-type": "application/json"}, b'{"status": "SUCCEEDED"}')
    api, api_seen = serve(302, {"location": f"http://127.0.0.1:{other.server_port}/elsewhere"}, b"")
    yield api, api_seen, other, other_seen
    api.shutdown()
    other.shutdown()


def signed(base_url: str) -> ConnectionSettings:
    return ConnectionSettings.from_fields(
        "api",
        host=base_url,
        login="AKIAEXAMPLE000000000",
        password="secret-0000000000000000000000000000000000",
        extra={"region": "us-east-1", "session_token": "session-token-0000"},
    )


def sync_post(settings, path):
    return SyncClient(settings).post(path, {"executionArn": "x"})


def async_post(settings, path):
    async def go():
        try:
            return await AsyncClient(settings).post(path, {"executionArn": "x"})
        finally:
            await close_shared_sessions()

    return asyncio.run(go())


BOTH = pytest.mark.parametrize("post", [sync_post, async_post], ids=["sync", "async"])


@BOTH
def test_a_signed_request_does_not_follow_a_redirect(servers, post):
    api, api_seen, other, other_seen = servers
    with pytest.raises(RequestFailedError) as info:
        post(signed(f"http://127.0.0.1:{api.server_port}/stage"), "describe-execution")
    message = str(info.value)
    assert "HTTP 302 redirect to" in message and f"127.0.0.1:{other.server_port}/elsewhere" in message
    assert "end code 4" in message and "base URL" in message
    assert len(api_seen.seen) == 1 and "authorization" in api_seen.seen[0]  # the API got it once, signed
    assert other_seen.seen == []  # the other host never saw the credentials


@BOTH
def test_an_unsigned_request_still_follows_a_redirect(servers, post):
    api, _, _, other_seen = servers
    unsigned = ConnectionSettings.unsigned("open", f"http://127.0.0.1:{api.server_port}")
    assert post(unsigned, "describe-execution") == {"status": "SUCCEEDED"}
    assert len(other_seen.seen) == 1 and "authorization" not in other_seen.seen[0]


def test_signed_plain_http_to_a_remote_host_is_rejected_before_sending():
    settings = signed("http://127.0.0.1:9/stage")
    with pytest.raises(DefinitionError, match="plain http to api.example.com.*in clear"):
        settings.url("http://api.example.com/jobs")
    assert settings.url("https://api.example.com/jobs") == "https://api.example.com/jobs"
    assert settings.url("http://localhost:8080/jobs") == "http://localhost:8080/jobs"  # loopback sandbox
    unsigned = ConnectionSettings.unsigned("open")
    assert unsigned.url("http://api.example.com/jobs") == "http://api.example.com/jobs"
    with pytest.raises(DefinitionError, match="not an http"):
        settings.url("ftp://api.example.com/jobs")
