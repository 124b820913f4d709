"""What both HTTP drivers share: the reply, the request's bytes and URL, how a reply is judged and
how a transport failure becomes an error with its end code."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from airflow_restjob.connections.settings import ConnectionSettings
from airflow_restjob.credentials.types import KeyValue
from airflow_restjob.errors import (
    RequestTimeoutError,
    RestJobError,
    TransientError,
    UnparsableResponseError,
    interpret_response,
)

JSON_HEADERS = {"content-type": "application/x-amz-json-1.0", "accept": "application/json"}


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    data: Any


def encode_body(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def full_url(settings: ConnectionSettings, path: str, query: Mapping[str, Any] | None) -> str:
    """The request's URL: the path resolved, its query, and a key/value credential's parameters."""
    url = settings.url(path)
    credential = settings.credential
    if isinstance(credential, KeyValue) and credential.query_items:
        query = {**(query or {}), **dict(credential.query_items)}
    if query:
        url += ("&" if "?" in url else "?") + urlencode(query, doseq=True, quote_via=quote)
    return url


def where(settings: ConnectionSettings, method: str, path: str) -> str:
    return f"{method} {path} (connection '{settings.conn_id}')"


def judge(settings: ConnectionSettings, status: int, headers: dict[str, str], body: bytes, at: str) -> Reply:
    """The reply, or the error it means (secrets of the connection redacted from the message)."""
    try:
        data = interpret_response(status, headers, body, where=at)
    except RestJobError as error:
        error.cause = settings.redact(error.cause)
        error.args = (str(error),)
        raise
    return Reply(status, headers, data)


def timeout_error(at: str, seconds: float, detail: str = "") -> RequestTimeoutError:
    return RequestTimeoutError(
        f"{at}: no answer within {seconds:g} s{f' ({detail})' if detail else ''}.",
        "Retried automatically; raise the connection's read_timeout if the API is slow.",
    )


def connection_error(settings: ConnectionSettings, at: str, detail: str, component: str) -> TransientError:
    return TransientError(
        f"{at}: connection failed: {settings.redact(detail)}",
        f"Check the base URL, DNS, proxy settings and that the API is reachable from the {component}.",
    )


CHUNK = 64 * 1024


class BodyLimit:
    """The bounds of one answer, for both drivers: at most ``max_response_bytes`` read (refused at
    once when Content-Length says more), and the whole exchange done by ``deadline`` (monotonic
    seconds: connect + read timeout after the request left), so an answer that trickles in a byte
    at a time cannot hold a request slot longer than one request timeout."""

    __slots__ = ("at", "deadline", "limit", "seconds", "size", "chunks")

    def __init__(self, settings: ConnectionSettings, at: str, seconds: float, started: float) -> None:
        self.at, self.seconds = at, seconds
        self.deadline = started + seconds
        self.limit = settings.max_response_bytes
        self.size = 0
        self.chunks: list[bytes] = []

    def check_length(self, content_length: Any) -> None:
        try:
            length = int(content_length) if content_length is not None else None
        except (TypeError, ValueError):
            length = None
        if length is not None and length > self.limit:
            raise self._too_large(f"Content-Length {length}")

    def add(self, chunk: bytes, now: float) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise self._too_large(f"more than {self.limit} bytes read")
        self.chunks.append(chunk)
        if now > self.deadline:
            raise timeout_error(self.at, self.seconds, f"the whole answer did not arrive within {self.seconds:g} s")

    def body(self) -> bytes:
        return b"".join(self.chunks)

    def _too_large(self, seen: str) -> UnparsableResponseError:
        return UnparsableResponseError(
            f"{self.at}: the answer is larger than the connection's max_response_bytes "
            f"({self.limit} bytes; {seen}): not read.",
            "Check the URL (a job API answers small JSON documents); if the answer is meant to be this "
            "large, raise the connection's extra 'max_response_bytes'.",
        )
