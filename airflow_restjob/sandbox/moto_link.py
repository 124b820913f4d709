"""The gateway's link to moto: AWS JSON 1.0 calls over pooled keep-alive loopback connections.

Written by hand on asyncio's Protocol API rather than with a client library: a full HTTP client
(aiohttp's) or even asyncio streams plus a timeout scope cost as much per call as the rest of the
gateway together, and moto's answers are simple (Content-Length, chunked, or close-delimited).
The moto child process serves keep-alive (see ``moto_process``), so a call reuses an idle
connection instead of paying a TCP connect and a server thread per request.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Mapping

IDLE_SECONDS = 30.0  # drop pooled connections idle longer (moto's side times out at 120 s)
MAX_IDLE = 32  # idle connections kept; more concurrent calls open (and then close) extra ones


class StaleConnection(ConnectionError):
    """A reused connection was closed by moto before any answer: safe to send again."""


def _parse(buffer: bytearray, eof: bool) -> tuple[int, bytes, bool] | None:
    """(status, body, keep-alive) once ``buffer`` holds a whole response, else None."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(buffer[:end]).split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    start = end + 4
    keep = headers.get(b"connection", b"").lower() != b"close"
    if b"content-length" in headers:
        stop = start + int(headers[b"content-length"])
        return (status, bytes(buffer[start:stop]), keep) if len(buffer) >= stop else None
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = bytearray()
        pos = start
        while True:
            line_end = buffer.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size = int(bytes(buffer[pos:line_end]).split(b";")[0].strip(), 16)
            if size == 0:
                return (status, bytes(body), keep) if buffer.find(b"\r\n", line_end + 2) >= 0 else None
            if len(buffer) < line_end + 2 + size + 2:
                return None
            body += buffer[line_end + 2 : line_end + 2 + size]
            pos = line_end + 2 + size + 2
    return (status, bytes(buffer[start:]), False) if eof else None  # delimited by close


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes, bool]] | None = None
        self.closed = False
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._check(eof=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._check(eof=True)
        if self.waiter is not None and not self.waiter.done():
            error = (
                StaleConnection() if not self.buffer else ConnectionResetError("moto closed the connection")
            )
            self.waiter.set_exception(error)

    def _check(self, eof: bool) -> None:
        if self.waiter is None or self.waiter.done():
            return
        try:
            parsed = _parse(self.buffer, eof)
        except (ValueError, IndexError) as exc:
            self.waiter.set_exception(exc)
            return
        if parsed is not None:
            self.buffer.clear()
            self.waiter.set_result(parsed)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _expire(waiter: asyncio.Future[tuple[int, bytes, bool]], timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError(f"moto did not answer within {timeout:g} s"))


class MotoLink:
    """Calls moto's Step Functions API; one instance per event loop."""

    def __init__(self, moto_url: str, region: str, timeout: float = 60.0) -> None:
        parsed = urllib.parse.urlsplit(moto_url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 80
        self.timeout = timeout
        auth = (
            f"AWS4-HMAC-SHA256 Credential=AKIAMOTOSANDBOXADMIN/20200101/{region}/states/aws4_request, "
            "SignedHeaders=host, Signature=0"
        )
        self._head = (
            f"POST / HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Content-Type: application/x-amz-json-1.0\r\n"
            f"Authorization: {auth}\r\n"
        )
        self._idle: list[_Connection] = []

    async def call(self, action: str, payload: bytes) -> tuple[int, bytes]:
        """POST one action; returns (HTTP status, body). Raises OSError or TimeoutError on failure."""
        request = (
            f"{self._head}X-Amz-Target: AWSStepFunctions.{action}\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode("latin-1") + payload
        return await self._send(request)

    async def post(self, headers: Mapping[str, str], payload: bytes, path: str = "/") -> tuple[int, bytes]:
        """POST any request to moto (e.g. the STS query API) over the same pool of connections."""
        head = f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        request = f"{head}Content-Length: {len(payload)}\r\n\r\n".encode("latin-1") + payload
        return await self._send(request)

    async def _send(self, request: bytes) -> tuple[int, bytes]:
        idle = self._take()
        if idle is not None:
            try:
                return await self._exchange(idle, request)
            except StaleConnection:
                pass
        loop = asyncio.get_running_loop()
        _, conn = await asyncio.wait_for(
            loop.create_connection(_Connection, self.host, self.port), self.timeout
        )
        return await self._exchange(conn, request)

    def _take(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < IDLE_SECONDS:
                return conn
            conn.close()
        return None

    async def _exchange(self, conn: _Connection, request: bytes) -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[tuple[int, bytes, bool]] = loop.create_future()
        conn.waiter = waiter
        conn.buffer.clear()
        assert conn.transport is not None
        conn.transport.write(request)
        timer = loop.call_later(self.timeout, _expire, waiter, self.timeout)
        keep = False
        try:
            status, body, keep = await waiter
            return status, body
        finally:
            timer.cancel()
            conn.waiter = None
            if keep and not conn.closed and len(self._idle) < MAX_IDLE:
                conn.idle_since = time.monotonic()
                self._idle.append(conn)
            else:
                conn.close()

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
