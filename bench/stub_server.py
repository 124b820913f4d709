"""A minimal, fast DescribeExecution stub for ``bench_triggers.py`` (runs in its own process).

It speaks both protocols the benchmark's pollers use, on one loopback port:

* API Gateway paths (our trigger, signed; the signature is not checked - the stub is not what is
  measured): ``POST /stage/describe-execution`` with ``{"executionArn": ...}``;
* the same unsigned, for the floor loop: ``POST /floor/describe-execution``;
* the AWS JSON 1.0 protocol (the Amazon provider's trigger through aiobotocore):
  ``POST /`` with ``X-Amz-Target: AWSStepFunctions.DescribeExecution``.

Executions are stateless: the execution name ends with ``-<end epoch ms>``, and the stub answers
RUNNING before that time and SUCCEEDED from then on, so any number of executions costs nothing to
set up.  ``GET /_stats`` returns the request counts per kind (``ours``, ``amazon``, ``floor``,
``bad``).

    python bench/stub_server.py [--port 0]     # prints "PORT <n>" once listening
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from typing import Any

STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:bench"
COUNTS = {"ours": 0, "direct": 0, "amazon": 0, "floor": 0, "bad": 0}
MAX_HEADER = 65536


def execution_arn(index: int, end_epoch: float) -> str:
    """The ARN of a bench execution that ends at ``end_epoch`` (shared with the driver)."""
    return f"arn:aws:states:us-east-1:123456789012:execution:bench:job{index}-{int(end_epoch * 1000)}"


def end_of(arn: str) -> float | None:
    try:
        return int(arn.rsplit("-", 1)[1]) / 1000.0
    except (IndexError, ValueError):
        return None


def describe(body: bytes) -> tuple[int, dict[str, Any]]:
    try:
        arn = json.loads(body)["executionArn"]
    except (ValueError, KeyError, TypeError):
        return 400, {
            "__type": "com.amazonaws.swf.service.v2.model#ValidationException",
            "message": "bad body",
        }
    end = end_of(arn)
    if end is None:
        return 400, {
            "__type": "com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist",
            "message": f"Execution Does Not Exist: '{arn}'",
        }
    started = end - 60.0
    reply: dict[str, Any] = {
        "executionArn": arn,
        "stateMachineArn": STATE_MACHINE,
        "name": arn.rsplit(":", 1)[1],
        "startDate": started,
        "input": "{}",
    }
    if time.time() < end:
        reply["status"] = "RUNNING"
    else:
        reply.update(status="SUCCEEDED", stopDate=end, output='{"result":"ok"}')
    return 200, reply


class HttpProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and Content-Length bodies: all that aiohttp/aiobotocore send here."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEADER:
                    self._close()
                return
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            parts = head[0].split(" ")
            method, path = parts[0], parts[1] if len(parts) > 1 else "/"
            self._respond(method, path, headers, body)

    def _respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        target = headers.get("x-amz-target", "")
        extra = ""
        if target == "AWSStepFunctions.DescribeExecution":
            # the Amazon provider's trigger (botocore's user agent) or ours over the direct API
            COUNTS["amazon" if "botocore" in headers.get("user-agent", "").lower() else "direct"] += 1
            status, payload = describe(body)
            ctype = "application/x-amz-json-1.0"
            extra = f"x-amzn-RequestId: {uuid.uuid4()}\r\n"
        elif method == "POST" and path == "/stage/describe-execution":
            COUNTS["ours"] += 1
            status, payload = describe(body)
            if status != 200:
                status = 200  # API Gateway's default integration response: the error in a 200
            ctype = "application/json"
        elif method == "POST" and path == "/floor/describe-execution":
            COUNTS["floor"] += 1
            status, payload = describe(body)
            ctype = "application/json"
        elif method == "GET" and path == "/_stats":
            status, payload, ctype = 200, dict(COUNTS), "application/json"
        else:
            COUNTS["bad"] += 1
            status, payload, ctype = 404, {"message": f"no route {method} {path}"}, "application/json"
        data = json.dumps(payload, separators=(",", ":")).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
        assert self.transport is not None
        self.transport.write(
            (
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(data)}\r\n"
                f"{extra}\r\n"
            ).encode()
            + data
        )
        if headers.get("connection", "").lower() == "close":
            self._close()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(HttpProtocol, "127.0.0.1", port, backlog=4096, reuse_address=True)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        import uvloop  # the stub is not measured: make it as fast as possible

        uvloop.install()
    except ImportError:
        pass
    try:
        asyncio.run(serve(args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
