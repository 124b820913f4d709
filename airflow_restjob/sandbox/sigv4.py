"""Server-side AWS Signature Version 4 verification, written from the published SigV4 spec.

This module deliberately does not use botocore's or requests-aws4auth's signers: it rebuilds the
canonical request over exactly the headers the client listed in ``SignedHeaders`` and compares
signatures in constant time. Everything here is pure (no I/O) so it can be checked against AWS's
SigV4 test-suite vectors.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_SKEW = dt.timedelta(minutes=5)
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_SPACES = re.compile(r"\s+")

MSG_MISSING_TOKEN = "Missing Authentication Token"
MSG_INVALID_TOKEN = "The security token included in the request is invalid."
MSG_EXPIRED_TOKEN = "The security token included in the request is expired"
MSG_BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


class Credentials(NamedTuple):
    access_key: str
    secret_key: str
    session_token: str | None = None


@dataclass(frozen=True)
class Identity:
    """A principal the sandbox knows: its credentials, its ARN and whether it may invoke the API."""

    credentials: Credentials
    arn: str
    can_invoke: bool = True
    expires_at: float | None = None  # epoch seconds; temporary credentials stop working then

    @property
    def access_key(self) -> str:
        return self.credentials.access_key


class AuthError(Exception):
    """An authentication failure, rendered by the gateway as API Gateway's 403 response."""

    def __init__(self, error_type: str, message: str, *, status: int = 403, message_key: str = "message"):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status
        self.message_key = message_key

    def body(self) -> dict[str, str]:
        return {self.message_key: self.message}


# --------------------------------------------------------------------------- canonical form


def uri_encode(value: str, safe: str = "-_.~") -> str:
    """RFC 3986 percent-encoding as SigV4 requires (unreserved characters stay, UTF-8 otherwise)."""
    return quote(value, safe=safe)


def canonical_uri(path: str) -> str:
    """Canonical URI for non-S3 services: normalised path, each segment URI-encoded.

    ``path`` is the path as the client had it before signing (for a request received off the
    wire that is the raw, still percent-encoded path, which is then encoded once more, the
    "double encoding" AWS specifies for every service but S3).
    """
    if not path:
        return "/"
    normalised = posixpath.normpath(path)
    normalised = re.sub("/+", "/", normalised)
    if path.endswith("/") and not normalised.endswith("/"):
        normalised += "/"
    if not normalised.startswith("/"):
        normalised = "/" + normalised
    return uri_encode(normalised, safe="/-_.~")


def canonical_query(raw_query: str) -> str:
    """Canonical query string: decode each name/value, re-encode per RFC 3986, sort by name then value."""
    if not raw_query:
        return ""
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((uri_encode(unquote(name)), uri_encode(unquote(value))))
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def canonical_header_value(values: Iterable[str]) -> str:
    return ",".join(_SPACES.sub(" ", v.strip()) for v in values)


def canonical_headers(headers: Iterable[tuple[str, str]], signed_headers: list[str]) -> str:
    """Canonical headers over exactly ``signed_headers`` (lower-case names), values trimmed and joined."""
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name.strip().lower(), []).append(value)
    lines = [f"{name}:{canonical_header_value(grouped.get(name, []))}\n" for name in signed_headers]
    return "".join(lines)


def canonical_request(
    method: str,
    path: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    signed_headers: list[str],
    payload_hash: str,
) -> str:
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(raw_query),
            canonical_headers(headers, signed_headers),
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def string_to_sign(amz_date: str, scope: str, canonical_req: str) -> str:
    digest = hashlib.sha256(canonical_req.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


@functools.lru_cache(maxsize=256)
def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    k_date = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    k_region = _hmac(k_date, region)
    k_service = _hmac(k_region, service)
    return _hmac(k_service, "aws4_request")


def signature(secret_key: str, date: str, region: str, service: str, sts: str) -> str:
    return hmac.new(
        signing_key(secret_key, date, region, service), sts.encode("utf-8"), hashlib.sha256
    ).hexdigest()


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class ParsedAuthorization:
    access_key: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: list[str]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


def parse_authorization(header: str) -> ParsedAuthorization:
    """Parse ``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``."""
    header = header.strip()
    algorithm, _, rest = header.partition(" ")
    if algorithm != ALGORITHM:
        # Not SigV4 at all: API Gateway lists every part it could not find.
        raise AuthError(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential' parameter. "
            "Authorization header requires 'Signature' parameter. "
            "Authorization header requires 'SignedHeaders' parameter. "
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
            f"Authorization={header}",
        )
    params: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            params[key.strip()] = value.strip()
    missing = [p for p in ("Credential", "SignedHeaders", "Signature") if not params.get(p)]
    if missing:
        text = " ".join(f"Authorization header requires '{p}' parameter." for p in missing)
        raise AuthError("IncompleteSignatureException", f"{text} Authorization={header}")
    cred = params["Credential"].split("/")
    if len(cred) != 5:
        raise AuthError(
            "IncompleteSignatureException",
            f"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{params['Credential']}'",
        )
    signed = params["SignedHeaders"].split(";")
    return ParsedAuthorization(
        access_key=cred[0],
        date=cred[1],
        region=cred[2],
        service=cred[3],
        terminator=cred[4],
        signed_headers=signed,
        signature=params["Signature"],
    )


def _format(t: dt.datetime) -> str:
    return t.strftime(_AMZ_DATE_FORMAT)


def _parse_request_date(amz_date: str | None, http_date: str | None) -> tuple[str, dt.datetime]:
    if amz_date:
        try:
            if (
                len(amz_date) != 16
                or amz_date[8] != "T"
                or amz_date[15] != "Z"
                or not (amz_date[:8] + amz_date[9:15]).isdigit()
            ):
                raise ValueError(amz_date)
            parsed = dt.datetime(
                int(amz_date[0:4]),
                int(amz_date[4:6]),
                int(amz_date[6:8]),
                int(amz_date[9:11]),
                int(amz_date[11:13]),
                int(amz_date[13:15]),
                tzinfo=dt.timezone.utc,
            )
        except ValueError:
            raise AuthError(
                "IncompleteSignatureException",
                f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. See http://en.wikipedia.org/wiki/ISO_8601",
            ) from None
        return amz_date, parsed
    if http_date:
        from email.utils import parsedate_to_datetime

        try:
            parsed = parsedate_to_datetime(http_date).astimezone(dt.timezone.utc)
        except (TypeError, ValueError):
            raise AuthError("IncompleteSignatureException", f"Invalid date: '{http_date}'") from None
        return _format(parsed), parsed
    raise AuthError(
        "IncompleteSignatureException",
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
    )


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class VerifiedRequest:
    identity: Identity
    authorization: ParsedAuthorization
    canonical_request: str
    string_to_sign: str


class SigV4Verifier:
    """Verifies SigV4 ``Authorization`` headers against a table of known identities."""

    def __init__(self, identities: Mapping[str, Identity], region: str, service: str = "execute-api"):
        self.identities = dict(identities)
        self.region = region
        self.service = service

    def add(self, identity: Identity) -> None:
        self.identities[identity.access_key] = identity

    def verify(
        self,
        method: str,
        path: str,
        raw_query: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        now: dt.datetime | None = None,
    ) -> VerifiedRequest:
        headers = list(headers)
        lookup: dict[str, list[str]] = {}
        for name, value in headers:
            lookup.setdefault(name.lower(), []).append(value)

        def first(name: str) -> str | None:
            values = lookup.get(name)
            return values[0] if values else None

        auth_header = first("authorization")
        if not auth_header:
            raise AuthError("MissingAuthenticationTokenException", MSG_MISSING_TOKEN)
        auth = parse_authorization(auth_header)

        if "host" not in auth.signed_headers and ":authority" not in auth.signed_headers:
            raise AuthError(
                "IncompleteSignatureException",
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            )
        for name in auth.signed_headers:
            if name != name.lower() or name not in lookup:
                raise AuthError(
                    "IncompleteSignatureException",
                    f"Authorization header requires signed header '{name}' to be present and lower-case.",
                )

        amz_date, request_time = _parse_request_date(first("x-amz-date"), first("date"))
        if auth.date != amz_date[:8]:
            raise AuthError(
                "InvalidSignatureException",
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{auth.date}' != '{amz_date[:8]}', from '{amz_date}'.",
            )
        if auth.region != self.region:
            raise AuthError(
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region, not '{auth.region}'. ",
            )
        if auth.service != self.service:
            raise AuthError(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{self.service}'. ",
            )
        if auth.terminator != "aws4_request":
            raise AuthError(
                "InvalidSignatureException",
                f"Credential should be scoped with a valid terminator: 'aws4_request', not '{auth.terminator}'. ",
            )

        now = now or dt.datetime.now(dt.timezone.utc)
        if request_time < now - MAX_SKEW:
            raise AuthError(
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is now earlier than {_format(now - MAX_SKEW)} "
                f"({_format(now)} - 5 min.)",
            )
        if request_time > now + MAX_SKEW:
            raise AuthError(
                "InvalidSignatureException",
                f"Signature not yet current: {amz_date} is still later than {_format(now + MAX_SKEW)} "
                f"({_format(now)} + 5 min.)",
            )

        identity = self.identities.get(auth.access_key)
        if identity is None:
            raise AuthError("UnrecognizedClientException", MSG_INVALID_TOKEN)
        token = first("x-amz-security-token")
        expected_token = identity.credentials.session_token
        if expected_token is not None or token is not None:
            if token is None or expected_token is None or not hmac.compare_digest(token, expected_token):
                raise AuthError("UnrecognizedClientException", MSG_INVALID_TOKEN)
        if identity.expires_at is not None and now.timestamp() >= identity.expires_at:
            raise AuthError("ExpiredTokenException", MSG_EXPIRED_TOKEN)

        body_hash = hashlib.sha256(body).hexdigest()
        payload_hash = first("x-amz-content-sha256") or body_hash
        creq = canonical_request(method, path, raw_query, headers, auth.signed_headers, payload_hash)
        sts = string_to_sign(amz_date, auth.scope, creq)
        expected = signature(identity.credentials.secret_key, auth.date, auth.region, auth.service, sts)
        # The body is part of the signature on API Gateway: a declared payload hash that does not
        # match the body received is as bad as a wrong signature.
        if not hmac.compare_digest(expected, auth.signature) or payload_hash != body_hash:
            honest = canonical_request(method, path, raw_query, headers, auth.signed_headers, body_hash)
            honest_sts = string_to_sign(amz_date, auth.scope, honest)
            raise AuthError(
                "InvalidSignatureException",
                f"{MSG_BAD_SIGNATURE}\n\nThe Canonical String for this request should have been\n'{honest}'\n\n"
                f"The String-to-Sign should have been\n'{honest_sts}'\n",
            )
        return VerifiedRequest(
            identity=identity, authorization=auth, canonical_request=creq, string_to_sign=sts
        )
