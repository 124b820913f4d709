"""SigV4 signing: one model (requests-aws4auth ``AWS4Auth``) for the worker and the triggerer.

The sync path hands ``Signer.auth`` to ``requests`` as its auth; the async path asks
``Signer.sign_headers`` for the headers of one request and sends them with aiohttp.  Both run the
same ``AWS4Auth`` code, so they sign alike (host, content-type, x-amz-date, x-amz-content-sha256 -
the body is always hashed - and x-amz-security-token for temporary credentials).

The triggerer polls the same request (same method, URL, headers and body) over and over, so it
uses a ``SigningTemplate``: ``AWS4Auth`` builds the canonical request once with a placeholder
date, and each poll only fills in ``x-amz-date`` and computes one SHA-256 and one HMAC with
``AWS4Auth``'s own (cached, per-day) signing key.  The result is byte-for-byte what ``AWS4Auth``
would produce for that request at that second (tests/scale/test_signing_template.py checks it).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from requests.structures import CaseInsensitiveDict
from requests_aws4auth import AWS4Auth

from airflow_restjob.settings import ConnectionSettings

# a placeholder x-amz-date with the real shape (so whitespace normalisation leaves it alone) that
# cannot occur elsewhere in a canonical request
_DATE_SLOT = "19700101T000000Z"
_DATE_SLOT_MARK = "x-amz-date:" + _DATE_SLOT + "\n"


class _Unsigned:
    """The attributes ``AWS4Auth.__call__`` reads from a ``requests.PreparedRequest``."""

    __slots__ = ("method", "url", "headers", "body")

    def __init__(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> None:
        self.method = method
        self.url = url
        self.headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(headers)
        self.body = body


_amz_date_cache: list[object] = [-1, ""]


def amz_date(now: float | None = None) -> str:
    """``YYYYMMDDTHHMMSSZ`` for ``now`` (UTC); the string is cached for the current second."""
    second = int(time.time() if now is None else now)
    if _amz_date_cache[0] != second:
        _amz_date_cache[1] = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
        _amz_date_cache[0] = second
    return _amz_date_cache[1]  # type: ignore[return-value]


class SigningTemplate:
    """One request's SigV4 work done once; ``headers()`` signs it for the current second."""

    __slots__ = ("_signer", "_static", "_head", "_tail", "_signed_headers")

    def __init__(self, signer: Signer, static: dict[str, str], head: str, tail: str, signed: str) -> None:
        self._signer = signer
        self._static = static  # the headers to send, without x-amz-date / authorization
        self._head = head  # canonical request up to the x-amz-date value
        self._tail = tail  # ... and after it
        self._signed_headers = signed

    def headers(self, now: float | None = None) -> dict[str, str]:
        date = amz_date(now)
        auth = self._signer.auth
        if date[:8] != auth.date:  # a new day: AWS4Auth regenerates its signing key, as it would
            auth.regenerate_signing_key(date=date[:8])
        key = auth.signing_key
        canonical = self._head + date + self._tail
        to_sign = (
            "AWS4-HMAC-SHA256\n"
            + date
            + "\n"
            + key.scope
            + "\n"
            + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        )
        signature = hmac.digest(key.key, to_sign.encode("utf-8"), "sha256").hex()
        headers = dict(self._static)
        headers["x-amz-date"] = date
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={auth.access_id}/{key.scope}, "
            f"SignedHeaders={self._signed_headers}, Signature={signature}"
        )
        return headers


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

    def template(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> SigningTemplate | None:
        """Prepare repeated signing of one request; None if it cannot be templated (then sign fully)."""
        if any(name.lower() in ("x-amz-date", "date", "authorization") for name in headers):
            return None
        request = _Unsigned(method.upper(), url, headers, body)
        request.headers["x-amz-date"] = _DATE_SLOT
        auth = self.auth
        request.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
        if auth.session_token:
            request.headers["x-amz-security-token"] = auth.session_token
        canonical_headers, signed_headers = auth.get_canonical_headers(request, auth.include_hdrs)
        canonical = auth.get_canonical_request(request, canonical_headers, signed_headers)
        if canonical.count(_DATE_SLOT_MARK) != 1 or "x-amz-date" not in signed_headers.split(";"):
            return None
        head, tail = canonical.split(_DATE_SLOT_MARK)
        static = dict(request.headers)
        del static["x-amz-date"]
        return SigningTemplate(self, static, head + "x-amz-date:", "\n" + tail, signed_headers)

    def __repr__(self) -> str:  # never show the key material
        return f"Signer(access_key_id={self.auth.access_id!r}, region={self.auth.region!r})"
