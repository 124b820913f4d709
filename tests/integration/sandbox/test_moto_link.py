"""The gateway's keep-alive link to moto: reuse, stale connections, timeouts, response framing."""

from __future__ import annotations

import asyncio
import json

import pytest
import requests

from airflow_restjob.sandbox.moto_link import MotoLink, _parse


def test_parse_content_length_waits_for_the_whole_body():
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n"
    assert _parse(bytearray(head + b'{"a": '), eof=False) is None
    assert _parse(bytearray(head + b'{"a": "b"}!'), eof=False) == (200, b'{"a": "b"}!', True)


def test_parse_chunked_and_close_delimited():
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\": 1\r\n1\r\n}\r\n0\r\n"
    assert _parse(bytearray(chunked), eof=False) is None  # the last CRLF has not arrived
    assert _parse(bytearray(chunked + b"\r\n"), eof=False) == (200, b'{"a": 1}', True)
    closing = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n{}"
    assert _parse(bytearray(closing), eof=False) is None
    assert _parse(bytearray(closing), eof=True) == (400, b"{}", False)


def test_moto_keeps_the_connection_and_the_link_reuses_it(sandbox):
    # moto's own server answers without "Connection: close" now (werkzeug's default closes)
    response = requests.post(
        sandbox.moto_url + "/",
        data=b"{}",
        headers={
            "X-Amz-Target": "AWSStepFunctions.ListStateMachines",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAX/20200101/us-east-1/states/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers.get("Connection", "").lower() != "close"

    async def calls() -> tuple[list[int], int]:
        link = MotoLink(sandbox.moto_url, sandbox.region)
        opened = 0
        loop = asyncio.get_running_loop()
        create = loop.create_connection

        async def counting(*args, **kwargs):
            nonlocal opened
            opened += 1
            return await create(*args, **kwargs)

        loop.create_connection = counting  # type: ignore[method-assign]
        try:
            statuses = [(await link.call("ListStateMachines", b"{}"))[0] for _ in range(20)]
        finally:
            link.close()
        return statuses, opened

    statuses, opened = asyncio.run(calls())
    assert statuses == [200] * 20
    assert opened == 1


async def _serve(handler) -> tuple[asyncio.base_events.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


def test_a_connection_closed_while_idle_is_replaced_transparently():
    answered = []

    async def close_after_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        body = json.dumps({"n": len(answered)}).encode()
        answered.append(1)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()  # promised keep-alive, closed anyway (as an idle timeout would)

    async def main() -> list[bytes]:
        server, url = await _serve(close_after_one)
        link = MotoLink(url, "us-east-1")
        try:
            first = await link.call("DescribeExecution", b"{}")
            await asyncio.sleep(0.1)  # the close reaches the pooled connection
            second = await link.call("DescribeExecution", b"{}")
        finally:
            link.close()
            server.close()
        return [first[1], second[1]]

    assert asyncio.run(main()) == [b'{"n": 0}', b'{"n": 1}']


def test_no_answer_times_out_with_a_clear_error():
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)
        writer.close()

    async def main() -> None:
        server, url = await _serve(silent)
        link = MotoLink(url, "us-east-1", timeout=0.3)
        try:
            await link.call("DescribeExecution", b"{}")
        finally:
            link.close()
            server.close()

    with pytest.raises(TimeoutError, match="moto did not answer within 0.3 s"):
        asyncio.run(main())
