"""STS pieces of the sandbox: request checks, XML answers, web identity tokens (pure, no I/O).

The gateway's STS listener verifies the caller (SigV4, service ``sts``) or the web identity token,
checks what AWS checks before moto sees the call (role, ExternalId, DurationSeconds, session name),
forwards AssumeRole / AssumeRoleWithWebIdentity to moto, shortens the session (``<Expiration>``)
and registers the issued credentials with the gateway's verifier until they expire.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import math
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
VERSION = "2011-06-15"
MAX_SESSION_SECONDS = 3600  # the role's MaxSessionDuration
MIN_DURATION_SECONDS = 900
WEB_IDENTITY_AUDIENCE = "sts.amazonaws.com"
WEB_IDENTITY_ISSUER = "https://oidc.restjob-sandbox.invalid"
WEB_IDENTITY_SUBJECT = "system:serviceaccount:airflow:restjob"
MSG_EXPIRED_TOKEN = "The security token included in the request is expired"
_SESSION_NAME = re.compile(r"^[\w+=,.@-]*$")
_EXPIRATION = re.compile(rb"<Expiration>[^<]*</Expiration>")

# SigV4 failures (the gateway's AuthError types) as STS reports them: (code, HTTP status, message or None)
AUTH_ERRORS: dict[str, tuple[str, int, str | None]] = {
    "MissingAuthenticationTokenException": (
        "MissingAuthenticationToken",
        403,
        "Request is missing Authentication Token",
    ),
    "IncompleteSignatureException": ("IncompleteSignature", 400, None),
    "InvalidSignatureException": ("SignatureDoesNotMatch", 403, None),
    "UnrecognizedClientException": ("InvalidClientTokenId", 403, None),
    "ExpiredTokenException": ("ExpiredToken", 403, MSG_EXPIRED_TOKEN),
}


class StsError(Exception):
    """An STS error answer (``<ErrorResponse>``)."""

    def __init__(self, code: str, message: str, status: int = 400, sender: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.sender = sender

    def xml(self, request_id: str) -> bytes:
        return (
            f'<ErrorResponse xmlns="{NAMESPACE}">\n'
            f"  <Error>\n    <Type>{'Sender' if self.sender else 'Receiver'}</Type>\n"
            f"    <Code>{escape(self.code)}</Code>\n    <Message>{escape(self.message)}</Message>\n"
            f"  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n"
        ).encode()


def validation(message: str) -> StsError:
    return StsError("ValidationError", message)


def check_session_name(name: str | None) -> None:
    if name is None:
        raise validation(
            "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: "
            "Member must not be null"
        )
    if not 2 <= len(name) <= 64:
        raise validation(
            f"1 validation error detected: Value '{name}' at 'roleSessionName' failed to satisfy constraint: "
            f"Member must have length {'greater than or equal to 2' if len(name) < 2 else 'less than or equal to 64'}"
        )
    if not _SESSION_NAME.match(name):
        raise validation(
            f"1 validation error detected: Value '{name}' at 'roleSessionName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )


def check_duration(value: str | None) -> int:
    """DurationSeconds as AWS checks it (900 up to the role's maximum); moto's default 3600 when absent."""
    if value is None:
        return MAX_SESSION_SECONDS
    try:
        seconds = int(value)
    except ValueError:
        raise validation(f"Value '{value}' for parameter DurationSeconds is invalid.") from None
    if seconds < MIN_DURATION_SECONDS:
        raise validation(
            f"1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to satisfy "
            f"constraint: Member must have value greater than or equal to {MIN_DURATION_SECONDS}"
        )
    if seconds > MAX_SESSION_SECONDS:
        raise validation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    return seconds


def expiration_after(seconds: float, now: float | None = None) -> float:
    """now + seconds, rounded up to a whole second (STS expirations carry no fraction)."""
    return float(math.ceil((now if now is not None else time.time()) + seconds))


def iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rewrite_expiration(xml: bytes, epoch: float) -> bytes:
    return _EXPIRATION.sub(f"<Expiration>{iso(epoch)}</Expiration>".encode(), xml, count=1)


@dataclass(frozen=True)
class IssuedCredentials:
    access_key: str
    secret_key: str
    session_token: str
    arn: str
    assumed_role_id: str | None


def parse_credentials(xml: bytes) -> IssuedCredentials:
    """The credentials and assumed-role ARN of moto's AssumeRole[WithWebIdentity] answer."""
    root = ET.fromstring(xml)  # noqa: S314 - moto's own answer on loopback
    found: dict[str, str] = {}
    for element in root.iter():
        tag = element.tag.rpartition("}")[2]
        if tag in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Arn", "AssumedRoleId"):
            found.setdefault(tag, (element.text or "").strip())
    missing = [t for t in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Arn") if not found.get(t)]
    if missing:
        raise ValueError(f"moto's STS answer lacks {missing}")
    return IssuedCredentials(
        found["AccessKeyId"],
        found["SecretAccessKey"],
        found["SessionToken"],
        found["Arn"],
        found.get("AssumedRoleId"),
    )


def caller_identity_xml(arn: str, user_id: str, account: str, request_id: str) -> bytes:
    return (
        f'<GetCallerIdentityResponse xmlns="{NAMESPACE}">\n  <GetCallerIdentityResult>\n'
        f"    <Arn>{escape(arn)}</Arn>\n    <UserId>{escape(user_id)}</UserId>\n"
        f"    <Account>{escape(account)}</Account>\n  </GetCallerIdentityResult>\n"
        f"  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n"
        "</GetCallerIdentityResponse>\n"
    ).encode()


# --------------------------------------------------------------------------- web identity tokens (JWT, HS256)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_web_identity_token(
    key: bytes,
    lifetime: float = 3600.0,
    subject: str = WEB_IDENTITY_SUBJECT,
    audience: str = WEB_IDENTITY_AUDIENCE,
    now: float | None = None,
) -> str:
    """A signed JWT like a Kubernetes projected service account token (issuer: the sandbox's OIDC)."""
    issued = int(now if now is not None else time.time())
    header = {"alg": "HS256", "typ": "JWT", "kid": "restjob-sandbox"}
    claims = {
        "iss": WEB_IDENTITY_ISSUER,
        "sub": subject,
        "aud": [audience],
        "iat": issued,
        "nbf": issued,
        "exp": issued + max(1, math.ceil(lifetime)),
    }
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def check_web_identity_token(key: bytes, token: str | None, now: float | None = None) -> dict[str, Any]:
    """The claims of a token from :func:`make_web_identity_token`; StsError as STS would answer."""
    if not token:
        raise validation(
            "1 validation error detected: Value null at 'webIdentityToken' failed to satisfy constraint: "
            "Member must not be null"
        )
    parts = token.strip().split(".")
    try:
        if len(parts) != 3:
            raise ValueError("not three parts")
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
        mac = _unb64(parts[2])
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise ValueError("not JSON objects")
    except (ValueError, UnicodeDecodeError):
        raise StsError("InvalidIdentityToken", "The web identity token is not a valid JWT.") from None
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if header.get("alg") != "HS256" or not hmac.compare_digest(mac, expected):
        raise StsError(
            "InvalidIdentityToken",
            "The web identity token's signature could not be verified with the identity provider's keys.",
        )
    if claims.get("iss") != WEB_IDENTITY_ISSUER:
        raise StsError(
            "InvalidIdentityToken", "No OpenIDConnect provider found in your account for this issuer."
        )
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if WEB_IDENTITY_AUDIENCE not in audiences:
        raise StsError("InvalidIdentityToken", "Incorrect token audience")
    current = int(now if now is not None else time.time())
    expires = claims.get("exp")
    if not isinstance(expires, (int, float)) or current >= expires:
        raise StsError(
            "ExpiredTokenException",
            f"Token expired: current date/time {current} must be before the expiration date/time {expires}",
        )
    return claims
