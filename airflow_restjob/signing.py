"""SigV4 signing: one model (requests-aws4auth ``AWS4Auth``) for the worker and the triggerer.

The sync path hands ``Signer.auth`` to ``requests`` as its auth; the async path asks
``Signer.sign_headers`` for the headers of one request and sends them with aiohttp.  Both run the
same ``AWS4Auth`` code, so they sign alike (host, x-amz-date, x-amz-content-sha256 - the body is
always hashed - and x-amz-security-token for temporary credentials).
"""

from __future__ import annotations

from collections.abc import Mapping

from requests.structures import CaseInsensitiveDict
from requests_aws4auth import AWS4Auth

from airflow_restjob.settings import ConnectionSettings


class _Unsigned:
    """The attributes ``AWS4Auth.__call__`` reads from a ``requests.PreparedRequest``."""

    __slots__ = ("method", "url", "headers", "body")

    def __init__(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> None:
        self.method = method
        self.url = url
        self.headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(headers)
        self.body = body


class Signer:
    """Signs requests for one connection's credentials."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self.auth = AWS4Auth(
            settings.access_key_id,
            settings.secret_access_key,
            settings.region,
            settings.service,
            session_token=settings.session_token,
        )

    def sign_headers(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
        """Return ``headers`` plus the SigV4 headers for this exact request."""
        request = _Unsigned(method.upper(), url, headers, body)
        self.auth(request)
        return dict(request.headers)

    def __repr__(self) -> str:  # never show the key material
        return f"Signer(access_key_id={self.auth.access_id!r}, region={self.auth.region!r})"
