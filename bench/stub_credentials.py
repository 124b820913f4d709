"""The credential-checking DescribeExecution stub of ``bench_credentials.py`` (its own process).

One loopback port, the same job request for every poller (``POST /stage/describe-execution``
with ``{"executionArn": ...}``, answered as ``bench/stub_server.py`` answers it), authenticated
three ways:

* SigV4 (service ``execute-api``), verified with the sandbox's server-side verifier
  (``airflow_restjob.sandbox.sigv4.SigV4Verifier``): the static bench key (counted as ``static``)
  or temporary credentials this stub's STS issued, with their session token, until they expire
  (``role``); an expired one is API Gateway's 403 ``ExpiredTokenException``;
* ``Authorization: Bearer <token>`` (``oauth2``): a token this stub's token endpoint issued and
  that has not expired, else 401 ``invalid_token``;
* anything else: 403 ``MissingAuthenticationToken`` (counted as ``bad``).

Credential endpoints:

* ``POST /oauth2/token``: RFC 6749 4.4 client credentials (form or HTTP Basic client
  authentication); ``expires_in`` = ``--token-lifetime`` (rounded up to a second);
* ``POST /sts``: STS ``AssumeRole`` (Query protocol, SigV4 service ``sts`` with the static key,
  ``RoleArn`` must be ``ROLE_ARN``); the session lasts ``--sts-seconds`` whatever
  ``DurationSeconds`` asks (as the sandbox's STS shortens it), its keys are accepted at the job
  path until then.

Both SigV4 pollers pay the same verification here, so the server's share of a round trip is the
same for them (the benchmark measures the client's CPU only; the stub only has to keep up).

``GET /_stats``: request counts (per poller: accepted polls; ``rejected_<poller>``; ``token``,
``sts`` and their ``*_rejected``; ``bad``).  ``GET /_events``: the epoch times of the token and
STS requests that issued credentials, and of the polls rejected for an expired / unknown one.

    python bench/stub_credentials.py [--port 0] [--token-lifetime 20] [--sts-seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import hmac
import json
import math
import os
import secrets
import string
import sys
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from stub_server import HttpProtocol, describe  # noqa: E402

from airflow_restjob.sandbox.sigv4 import (  # noqa: E402
    AuthError,
    Credentials,
    Identity,
    SigV4Verifier,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
ACCESS_KEY = "AKIABENCHBENCHBENCH1"  # the static key (same as bench_triggers.py)
SECRET_KEY = "benchSecretKey0000000000000000000000000000"
CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-client-secret-0000000000000000"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/bench-role"
JOB_PATH = "/stage/describe-execution"

COUNTS: dict[str, int] = {
    "static": 0,
    "oauth2": 0,
    "role": 0,
    "rejected_static": 0,
    "rejected_oauth2": 0,
    "rejected_role": 0,
    "token": 0,
    "token_rejected": 0,
    "sts": 0,
    "sts_rejected": 0,
    "bad": 0,
}
EVENTS: dict[str, list[float]] = {"token": [], "sts": [], "rejected_oauth2": [], "rejected_role": []}
TOKENS: dict[str, float] = {}  # access token -> expiry (epoch)
_STATIC = Identity(Credentials(ACCESS_KEY, SECRET_KEY), f"arn:aws:iam::{ACCOUNT}:user/bench", True)
API_VERIFIER = SigV4Verifier({ACCESS_KEY: _STATIC}, REGION, "execute-api")
STS_VERIFIER = SigV4Verifier({ACCESS_KEY: _STATIC}, REGION, "sts")
SETTINGS = {"token_lifetime": 20.0, "sts_seconds": 20.0}
_KEY_CHARS = string.ascii_uppercase + string.digits


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _form(body: bytes) -> dict[str, str]:
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        return {}


def issue_token(headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
    form = _form(body)
    client_id, secret = form.get("client_id"), form.get("client_secret")
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            user, password = "", ""
        client_id, secret = unquote_plus(user), unquote_plus(password)
    if form.get("grant_type") != "client_credentials":
        return 400, {"error": "unsupported_grant_type", "error_description": "use client_credentials"}
    if client_id != CLIENT_ID or not hmac.compare_digest((secret or "").encode(), CLIENT_SECRET.encode()):
        return 401, {"error": "invalid_client", "error_description": "Client authentication failed."}
    now = time.time()
    lifetime = SETTINGS["token_lifetime"]
    token = secrets.token_urlsafe(32)
    TOKENS[token] = now + lifetime
    for old in [t for t, exp in TOKENS.items() if exp < now - 600]:
        del TOKENS[old]
    EVENTS["token"].append(now)
    return 200, {"access_token": token, "token_type": "Bearer", "expires_in": max(1, math.ceil(lifetime))}


def assume_role(path: str, query: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    request_id = str(uuid.uuid4())

    def error(status: int, code: str, message: str) -> tuple[int, bytes]:
        return status, (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>"
        ).encode()

    try:
        STS_VERIFIER.verify("POST", path, query, headers.items(), body)
    except AuthError as exc:
        return error(403, exc.error_type.replace("Exception", ""), exc.message.split("\n")[0])
    form = _form(body)
    if form.get("Action") != "AssumeRole":
        return error(400, "InvalidAction", f"Could not find operation {form.get('Action')}")
    if form.get("RoleArn") != ROLE_ARN:
        return error(403, "AccessDenied", "not authorized to perform: sts:AssumeRole")
    session = form.get("RoleSessionName") or "session"
    now = time.time()
    expires = float(math.ceil(now + SETTINGS["sts_seconds"]))
    creds = Credentials(
        "ASIA" + "".join(secrets.choice(_KEY_CHARS) for _ in range(16)),
        secrets.token_urlsafe(30)[:40],
        "IQoJb3JpZ2luX2VjE" + secrets.token_urlsafe(96),
    )
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/bench-role/{session}"
    API_VERIFIER.add(Identity(creds, arn, True, expires))
    for key in [k for k, i in API_VERIFIER.identities.items() if i.expires_at and i.expires_at < now - 600]:
        del API_VERIFIER.identities[key]
    EVENTS["sts"].append(now)
    return 200, (
        '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>'
        f"<Credentials><AccessKeyId>{creds.access_key}</AccessKeyId>"
        f"<SecretAccessKey>{creds.secret_key}</SecretAccessKey>"
        f"<SessionToken>{creds.session_token}</SessionToken>"
        f"<Expiration>{_iso(expires)}</Expiration></Credentials>"
        f"<AssumedRoleUser><AssumedRoleId>AROABENCHBENCHBENCH1:{session}</AssumedRoleId>"
        f"<Arn>{arn}</Arn></AssumedRoleUser></AssumeRoleResult>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></AssumeRoleResponse>"
    ).encode()


def authenticate(path: str, query: str, headers: dict[str, str], body: bytes) -> tuple[str, tuple | None]:
    """(poller, None) for an accepted request, (poller, (status, payload, extra headers)) otherwise."""
    header = headers.get("authorization", "")
    if header.startswith("Bearer "):
        expiry = TOKENS.get(header[7:].strip())
        if expiry is None or time.time() >= expiry:
            what = "expired" if expiry is not None else "invalid"
            challenge = f'Bearer error="invalid_token", error_description="The access token is {what}"'
            return "oauth2", (
                401,
                {"message": f"The access token is {what}."},
                {"WWW-Authenticate": challenge},
            )
        return "oauth2", None
    if header.startswith("AWS4-HMAC-SHA256 "):
        poller = "static" if f"Credential={ACCESS_KEY}/" in header else "role"
        try:
            API_VERIFIER.verify("POST", path, query, headers.items(), body)
        except AuthError as exc:
            return poller, (exc.status, exc.body(), {"x-amzn-ErrorType": exc.error_type})
        return poller, None
    return "bad", (
        403,
        {"message": "Missing Authentication Token"},
        {"x-amzn-ErrorType": "MissingAuthenticationTokenException"},
    )


class CredentialProtocol(HttpProtocol):
    def _respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        path, _, query = path.partition("?")
        extra: dict[str, str] = {}
        ctype = "application/json"
        if method == "POST" and path == JOB_PATH:
            poller, denied = authenticate(path, query, headers, body)
            if denied is None:
                COUNTS[poller] += 1
                status, payload = describe(body)
                status = 200  # API Gateway's default integration response: the error in a 200
            else:
                COUNTS["bad" if poller == "bad" else f"rejected_{poller}"] += 1
                if f"rejected_{poller}" in EVENTS:
                    EVENTS[f"rejected_{poller}"].append(time.time())
                status, payload, extra = denied
        elif method == "POST" and path == "/oauth2/token":
            status, payload = issue_token(headers, body)
            COUNTS["token" if status == 200 else "token_rejected"] += 1
            extra = {"Cache-Control": "no-store"}
        elif method == "POST" and (path == "/sts" or path.startswith("/sts/")):
            status, raw = assume_role(path, query, headers, body)
            COUNTS["sts" if status == 200 else "sts_rejected"] += 1
            self._write(status, raw, "text/xml", {"x-amzn-RequestId": str(uuid.uuid4())}, headers)
            return
        elif method == "GET" and path == "/_stats":
            status, payload = 200, dict(COUNTS)
        elif method == "GET" and path == "/_events":
            status, payload = 200, EVENTS
        else:
            COUNTS["bad"] += 1
            status, payload = 404, {"message": f"no route {method} {path}"}
        self._write(status, json.dumps(payload, separators=(",", ":")).encode(), ctype, extra, headers)

    def _write(
        self, status: int, data: bytes, ctype: str, extra: dict[str, str], request_headers: dict[str, str]
    ) -> None:
        reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
        lines = "".join(f"{k}: {v}\r\n" for k, v in extra.items())
        assert self.transport is not None
        self.transport.write(
            (
                f"HTTP/1.1 {status} {reason.get(status, 'Error')}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(data)}\r\n{lines}\r\n"
            ).encode()
            + data
        )
        if request_headers.get("connection", "").lower() == "close":
            self._close()


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(CredentialProtocol, "127.0.0.1", port, backlog=4096, reuse_address=True)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token-lifetime", type=float, default=20.0, help="OAuth2 token lifetime (s)")
    parser.add_argument("--sts-seconds", type=float, default=20.0, help="STS session lifetime (s)")
    args = parser.parse_args()
    SETTINGS.update(token_lifetime=args.token_lifetime, sts_seconds=args.sts_seconds)
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
