"""SigV4 signing: one model (requests-aws4auth ``AWS4Auth``) for the worker and the triggerer.

The sync path hands ``Signer.auth`` to ``requests`` as its auth; the async path asks
``Signer.sign_headers`` for the headers of one request and sends them with aiohttp.  Both run the
same ``AWS4Auth`` code, so they sign alike (host, content-type, x-amz-date, x-amz-content-sha256 -
the body is always hashed - and x-amz-security-token for temporary credentials).

The triggerer polls the same request (same method, URL, headers and body) over and over, so it
uses a ``SigningTemplate``: ``AWS4Auth`` builds the canonical request once with a placeholder
date, and each poll only fills in ``x-amz-date`` and computes one SHA-256 and one HMAC with
``AWS4Auth``'s own (cached, per-day) signing key.  The result is byte-for-byte what ``AWS4Auth``
would produce for that request at that second (tests/scale/test_polling_unit.py checks it).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping

from requests.structures import CaseInsensitiveDict
from requests_aws4auth import AWS4Auth

from airflow_restjob.connections.settings import ConnectionSettings

# a placeholder x-amz-date with the real shape (whitespace normalisation leaves it alone); a
# date-like string elsewhere in the request (path, header) makes the count check below fall back
_DATE_SLOT = "19700101T000000Z"
_HASH_SLOT = "h" * 64  # a body-hash placeholder of the real length; never a hex digest
_RESERVED = ("x-amz-date", "date", "authorization", "x-amz-content-sha256")
MAX_SHAPES = 256


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


class _Shape:
    """The canonical request of one (method, URL, headers), with slots for the date and body hash.

    Shared by every trigger polling the same resource: only the body (hash) differs between them.
    """

    __slots__ = ("fragments", "slots", "static", "signed_headers")

    def __init__(self, fragments: list[str], slots: list[str], static: dict[str, str], signed: str) -> None:
        self.fragments = fragments  # len(slots) + 1 pieces of text around the slots
        self.slots = slots  # "date" / "hash", in order
        self.static = static  # headers to send, without x-amz-date / x-amz-content-sha256 / authorization
        self.signed_headers = signed

    def canonical(self, date: str, body_hash: str) -> str:
        parts = [self.fragments[0]]
        for slot, fragment in zip(self.slots, self.fragments[1:], strict=True):
            parts.append(date if slot == "date" else body_hash)
            parts.append(fragment)
        return "".join(parts)


class SigningTemplate:
    """One request's SigV4 work done once; ``headers()`` signs it for the current second."""

    __slots__ = ("_signer", "_shape", "_body_hash")

    def __init__(self, signer: Signer, shape: _Shape, body_hash: str) -> None:
        self._signer = signer
        self._shape = shape
        self._body_hash = body_hash

    def headers(self, now: float | None = None) -> dict[str, str]:
        date = amz_date(now)
        auth = self._signer.auth
        if date[:8] != auth.date:  # a new day: AWS4Auth regenerates its signing key, as it would
            auth.regenerate_signing_key(date=date[:8])
        key = auth.signing_key
        shape = self._shape
        canonical = shape.canonical(date, self._body_hash)
        to_sign = (
            "AWS4-HMAC-SHA256\n"
            + date
            + "\n"
            + key.scope
            + "\n"
            + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        )
        signature = hmac.digest(key.key, to_sign.encode("utf-8"), "sha256").hex()
        headers = dict(shape.static)
        headers["x-amz-content-sha256"] = self._body_hash
        headers["x-amz-date"] = date
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={auth.access_id}/{key.scope}, "
            f"SignedHeaders={shape.signed_headers}, Signature={signature}"
        )
        return headers


class Signer:
    """Signs requests for one connection's credentials."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self._start(
            settings.access_key_id,
            settings.secret_access_key,
            settings.session_token,
            settings.region,
            settings.service,
        )

    @classmethod
    def from_keys(
        cls, access_key_id: str, secret_access_key: str, session_token: str | None, region: str, service: str
    ) -> Signer:
        """A signer for temporary credentials (a lease of ``airflow_restjob.credentials``)."""
        signer = cls.__new__(cls)
        signer._start(access_key_id, secret_access_key, session_token, region, service)
        return signer

    def _start(
        self, access_key_id: str, secret_access_key: str, session_token: str | None, region: str, service: str
    ) -> None:
        self.auth = AWS4Auth(access_key_id, secret_access_key, region, service, session_token=session_token)
        self._shapes: dict[tuple[str, str, tuple[tuple[str, str], ...]], _Shape] = {}

    def sign_headers(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
        """Return ``headers`` plus the SigV4 headers for this exact request."""
        request = _Unsigned(method.upper(), url, headers, body)
        self.auth(request)
        return dict(request.headers)

    def template(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> SigningTemplate | None:
        """Prepare repeated signing of one request; None if it cannot be templated (then sign fully)."""
        key = (method.upper(), url, tuple(headers.items()))
        shape = self._shapes.get(key)
        if shape is None:
            shape = self._shape(key[0], url, headers)
            if shape is None:
                return None
            if len(self._shapes) >= MAX_SHAPES:  # many distinct URLs (query strings): start over
                self._shapes.clear()
            self._shapes[key] = shape
        return SigningTemplate(self, shape, hashlib.sha256(body).hexdigest())

    def _shape(self, method: str, url: str, headers: Mapping[str, str]) -> _Shape | None:
        """Run AWS4Auth's canonicalisation once with placeholder date and body hash."""
        if any(name.lower() in _RESERVED for name in headers):
            return None
        auth = self.auth
        request = _Unsigned(method, url, headers, b"")
        request.headers["x-amz-date"] = _DATE_SLOT
        request.headers["x-amz-content-sha256"] = _HASH_SLOT
        if auth.session_token:
            request.headers["x-amz-security-token"] = auth.session_token
        canonical_headers, signed_headers = auth.get_canonical_headers(request, auth.include_hdrs)
        canonical = auth.get_canonical_request(request, canonical_headers, signed_headers)
        signed = signed_headers.split(";")
        if (
            canonical.count(_DATE_SLOT) != 1
            or canonical.count(_HASH_SLOT) != 2  # the header and the payload hash line
            or "x-amz-date" not in signed
            or "x-amz-content-sha256" not in signed
        ):
            return None
        pieces = re.split(f"({_DATE_SLOT}|{_HASH_SLOT})", canonical)
        fragments, slots = pieces[0::2], ["date" if p == _DATE_SLOT else "hash" for p in pieces[1::2]]
        static = {k: v for k, v in request.headers.items() if k not in ("x-amz-date", "x-amz-content-sha256")}
        return _Shape(fragments, slots, static, signed_headers)

    def __repr__(self) -> str:  # never show the key material
        return f"Signer(access_key_id={self.auth.access_id!r}, region={self.auth.region!r})"
