"""A job API behind every non-AWS credential type, with an OAuth 2.0 token endpoint (aiohttp, loopback).

    POST /oauth2/token                     RFC 6749 4.4 client credentials (generic)
    POST /{tenant}/oauth2/v2.0/token       the same, Azure AD (Microsoft Entra ID v2) shape
    POST /oauth/token                      the same, SAP BTP XSUAA shape

    under each of /basic, /bearer, /apikey, /oauth2 (each demands its own scheme):
    POST   P/jobs                {"seconds": float, "fail": bool, "input": any} -> 201 {"jobId", "status"}
    GET    P/jobs/{id}           -> {"jobId", "status": RUNNING|SUCCEEDED|FAILED|CANCELLED, "output"?, "error"?}
    POST   P/jobs/{id}/cancel    -> {"jobId", "status"}
    DELETE P/jobs/{id}           -> {"jobId", "status"}

In-process only: ``with AuthApi() as api: api.statements()``. Every secret is random per instance;
the logs (:meth:`AuthApi.token_requests`, :meth:`AuthApi.request_log`) never hold one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import math
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from aiohttp import web

TOKEN_MODES = ("ok", "html", "not_json", "slow", "error500")
SLOW_SECONDS = 30.0
AZURE_TENANT = "00000000-0000-0000-0000-000000000000"
AZURE_SCOPE = "https://management.azure.com/.default"
OAUTH2_SCOPE = "jobs/.default"
SCHEMES = ("basic", "bearer", "apikey", "oauth2")
REALM = 'realm="sandbox"'
_AZURE_PATH = re.compile(r"^/([^/]+)/oauth2/v2\.0/token$")
_JOB_PATH = re.compile(r"^/(basic|bearer|apikey|oauth2)(/.*)?$")
_FORM = "application/x-www-form-urlencoded"
MAX_BODY = 1024 * 1024


@dataclass
class _Token:
    index: int
    client_id: str
    issued: float
    expires_at: float
    scope: str | None
    revoked: bool = False


@dataclass
class _Job:
    job_id: str
    scheme: str
    seconds: float
    fail: bool
    input: Any
    created: float
    cancelled: float | None = None
    polls: int = 0
    cancels: list[dict[str, Any]] = field(default_factory=list)

    def status(self, now: float | None = None) -> str:
        if self.cancelled is not None:
            return "CANCELLED"
        if (now or time.time()) - self.created < self.seconds:
            return "RUNNING"
        return "FAILED" if self.fail else "SUCCEEDED"


class _OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type="application/json",
        headers=headers or {},
    )


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _basic(header: str) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic`` header, undecoded; None if it is not one."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return user, password


def _bearer(header: str) -> str | None:
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


class AuthApi:
    """The OAuth 2.0 token endpoint(s) and the four-scheme job API, in a daemon thread on 127.0.0.1."""

    def __init__(self, port: int = 0, token_lifetime: float = 3600.0, job_seconds: float = 3.0) -> None:
        self.host = "127.0.0.1"
        self.port = port
        self.job_seconds = float(job_seconds)
        self.client_id = "restjob-client-" + secrets.token_hex(4)
        self.client_secret = secrets.token_urlsafe(24)
        self.basic_user = "restjob-user-" + secrets.token_hex(3)
        self.basic_password = secrets.token_urlsafe(18)
        self.bearer_token = secrets.token_urlsafe(32)
        self.api_key = secrets.token_urlsafe(24)
        self.query_key = secrets.token_urlsafe(24)
        self._lock = threading.Lock()
        self._token_lifetime = float(token_lifetime)
        self._token_mode = "ok"
        self._clients: dict[str, str] = {self.client_id: self.client_secret}
        self._revoked: set[str] = set()
        self._tokens: dict[str, _Token] = {}
        self._jobs: dict[str, _Job] = {}
        self._token_log: list[dict[str, Any]] = []
        self._request_log: list[dict[str, Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.ServerRunner | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # ------------------------------------------------------------------ configuration

    def add_client(self, client_id: str, secret: str) -> None:
        """Register (or re-register, un-revoking it) an OAuth 2.0 client."""
        with self._lock:
            self._clients[client_id] = secret
            self._revoked.discard(client_id)

    def revoke_client(self, client_id: str) -> None:
        """The client's secret stops working and every token issued to it is revoked."""
        with self._lock:
            self._revoked.add(client_id)
            for token in self._tokens.values():
                if token.client_id == client_id:
                    token.revoked = True

    def set_token_lifetime(self, seconds: float) -> None:
        """Lifetime of tokens issued from now on (``expires_in`` is its ceiling in whole seconds)."""
        if not seconds > 0:
            raise ValueError("the token lifetime must be > 0")
        with self._lock:
            self._token_lifetime = float(seconds)

    @property
    def token_lifetime(self) -> float:
        return self._token_lifetime

    def set_token_mode(self, mode: str) -> None:
        """How the token endpoint answers: ``ok``, ``html``, ``not_json``, ``slow`` (30 s, then ok), ``error500``."""
        if mode not in TOKEN_MODES:
            raise ValueError(f"unknown token mode {mode!r}; expected one of {TOKEN_MODES}")
        with self._lock:
            self._token_mode = mode

    @property
    def token_mode(self) -> str:
        return self._token_mode

    # ------------------------------------------------------------------ addresses

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def token_url(self) -> str:
        return self.url + "/oauth2/token"

    @property
    def azure_authority(self) -> str:
        """``{azure_authority}/{tenant}/oauth2/v2.0/token`` is the Azure AD token endpoint."""
        return self.url

    @property
    def xsuaa_url(self) -> str:
        """``{xsuaa_url}/oauth/token`` is the XSUAA token endpoint."""
        return self.url

    def azure_token_url(self, tenant: str = AZURE_TENANT) -> str:
        return f"{self.azure_authority}/{tenant}/oauth2/v2.0/token"

    @property
    def xsuaa_token_url(self) -> str:
        return self.xsuaa_url + "/oauth/token"

    def statements(self, base_name: str = "sandbox") -> list[dict[str, Any]]:
        """Credential statements for ``airflow-restjob credentials add`` (one per scheme)."""
        return [
            {
                "name": f"{base_name}_basic",
                "authType": "basic",
                "user": self.basic_user,
                "password": self.basic_password,
                "baseUrl": self.url + "/basic",
            },
            {
                "name": f"{base_name}_bearer",
                "authType": "bearer",
                "token": self.bearer_token,
                "baseUrl": self.url + "/bearer",
            },
            {
                "name": f"{base_name}_oauth2",
                "authType": "oauth2_client_credentials",
                "tokenUrl": self.token_url,
                "clientId": self.client_id,
                "clientSecret": self.client_secret,
                "scope": OAUTH2_SCOPE,
                "clientAuth": "form",
                "baseUrl": self.url + "/oauth2",
            },
            {
                "name": f"{base_name}_azure",
                "authType": "azure_ad",
                "tenantId": AZURE_TENANT,
                "authorityHost": self.azure_authority,
                "clientId": self.client_id,
                "clientSecret": self.client_secret,
                "scope": AZURE_SCOPE,
                "baseUrl": self.url + "/oauth2",
            },
            {
                "name": f"{base_name}_sap",
                "authType": "sap_btp",
                "xsuaaUrl": self.xsuaa_url,
                "clientId": self.client_id,
                "clientSecret": self.client_secret,
                "baseUrl": self.url + "/oauth2",
            },
            {
                "name": f"{base_name}_apikey",
                "authType": "key_value",
                "headers": {"x-api-key": self.api_key},
                "query": {"code": self.query_key},
                "baseUrl": self.url + "/apikey",
            },
        ]

    # ------------------------------------------------------------------ logs and state

    def token_requests(self) -> list[dict[str, Any]]:
        """Every token endpoint request: time, path, flavor, client_id, client_auth, grant_type, scope,
        status, error, token (index of the issued token or None). No secrets."""
        with self._lock:
            return [dict(e) for e in self._token_log]

    def request_log(self) -> list[dict[str, Any]]:
        """Every job API request: time, method, path (no query), scheme, status, token (index of the
        OAuth 2.0 token presented, or None), expired, job_id. No secrets."""
        with self._lock:
            return [dict(e) for e in self._request_log]

    def clear_logs(self) -> None:
        with self._lock:
            self._token_log.clear()
            self._request_log.clear()

    def cancels(self, job_id: str) -> list[dict[str, Any]]:
        """The cancel requests (POST .../cancel or DELETE) a job received: time, method, scheme, status_before."""
        with self._lock:
            job = self._jobs.get(job_id)
            return [dict(c) for c in job.cancels] if job is not None else []

    def job(self, job_id: str) -> dict[str, Any]:
        """A job as the server sees it (KeyError if unknown)."""
        with self._lock:
            job = self._jobs[job_id]
            return {
                "jobId": job.job_id,
                "status": job.status(),
                "scheme": job.scheme,
                "seconds": job.seconds,
                "fail": job.fail,
                "input": job.input,
                "created": job.created,
                "cancelled": job.cancelled,
                "polls": job.polls,
                "cancels": len(job.cancels),
            }

    def jobs(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    def token_info(self, index: int) -> dict[str, Any]:
        """An issued token's record by its index (never the token itself)."""
        with self._lock:
            for token in self._tokens.values():
                if token.index == index:
                    return {
                        "index": token.index,
                        "client_id": token.client_id,
                        "issued": token.issued,
                        "expires_at": token.expires_at,
                        "scope": token.scope,
                        "revoked": token.revoked,
                    }
        raise KeyError(index)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> AuthApi:
        if self._thread is not None:
            return self
        self._ready.clear()
        self._startup_error = None
        self._thread = threading.Thread(target=self._run, name="restjob-sandbox-authapi", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._startup_error is not None:
            self._thread = None
            raise RuntimeError("the sandbox auth API failed to start") from self._startup_error
        if not self._ready.is_set():
            raise RuntimeError("the sandbox auth API did not start in time")
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._setup())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            if self._runner is not None:
                loop.run_until_complete(self._runner.cleanup())
            pending = asyncio.all_tasks(loop)  # e.g. a "slow" token answer still sleeping
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    async def _setup(self) -> None:
        server = web.Server(self._dispatch, access_log=None)
        self._runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
        self._loop = None
        self._thread = None

    def __enter__(self) -> AuthApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ dispatch

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        if path == "/oauth2/token":
            return await self._token(request, "oauth2")
        if path == "/oauth/token":
            return await self._token(request, "xsuaa")
        if _AZURE_PATH.match(path):
            return await self._token(request, "azure")
        return await self._job_api(request)

    # ------------------------------------------------------------------ token endpoint

    async def _token(self, request: web.BaseRequest, flavor: str) -> web.Response:
        entry: dict[str, Any] = {
            "time": time.time(),
            "path": request.path,
            "flavor": flavor,
            "client_id": None,
            "client_auth": None,
            "grant_type": None,
            "scope": None,
            "status": None,
            "error": None,
            "token": None,
        }
        try:
            response = await self._token_response(request, flavor, entry)
        except _OAuthError as err:
            entry["error"] = err.error
            headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
            if err.error == "invalid_client":
                headers["WWW-Authenticate"] = f"Basic {REALM}"
            if flavor == "azure":
                body: dict[str, Any] = {
                    "error": err.error,
                    "error_description": err.description,
                    "error_codes": [int(err.description[6:].split(":")[0])]
                    if err.description.startswith("AADSTS")
                    else [],
                    "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
                    "trace_id": str(uuid.uuid4()),
                    "correlation_id": str(uuid.uuid4()),
                }
            else:
                body = {"error": err.error, "error_description": err.description}
            response = _json(err.status, body, headers)
        entry["status"] = response.status
        with self._lock:
            self._token_log.append(entry)
        return response

    async def _token_response(
        self, request: web.BaseRequest, flavor: str, entry: dict[str, Any]
    ) -> web.Response:
        mode = self._token_mode
        if mode == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        elif mode != "ok":
            entry["error"] = mode
            if mode == "html":
                return web.Response(status=200, text="<html>login</html>", content_type="text/html")
            if mode == "not_json":
                return web.Response(status=200, text="this is {not json", content_type="text/plain")
            return _json(500, {"error": "server_error", "error_description": "the token service failed"})

        azure = flavor == "azure"
        if request.method != "POST":
            raise _OAuthError(
                405 if not azure else 400,
                "invalid_request",
                ("AADSTS900561: " if azure else "") + "The token endpoint accepts POST requests only.",
            )
        content_type = request.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != _FORM:
            raise _OAuthError(
                400,
                "invalid_request",
                ("AADSTS900144: " if azure else "")
                + f"The request body must be {_FORM} (got Content-Type {content_type or 'none'!r}).",
            )
        raw = await request.read()
        if len(raw) > MAX_BODY:
            raise _OAuthError(400, "invalid_request", "The request body is too large.")
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
        except (UnicodeDecodeError, ValueError):
            raise _OAuthError(400, "invalid_request", "The request body is not form-urlencoded.") from None
        form: dict[str, str] = {}
        for name, value in pairs:
            if name in form:
                raise _OAuthError(
                    400, "invalid_request", f"The parameter {name!r} is included more than once."
                )
            form[name] = value
        grant_type = form.get("grant_type")
        entry["grant_type"] = grant_type
        entry["scope"] = form.get("scope")
        if not grant_type:
            raise _OAuthError(
                400,
                "invalid_request",
                ("AADSTS900144: " if azure else "")
                + "The request body must contain the parameter 'grant_type'.",
            )

        # client authentication (RFC 6749 2.3.1): HTTP Basic over form-urlencoded id and secret, or the body
        header = request.headers.get("Authorization")
        if header is not None:
            entry["client_auth"] = "basic"
            if "client_secret" in form:
                raise _OAuthError(
                    400,
                    "invalid_request",
                    "The client used more than one authentication method (HTTP Basic and client_secret).",
                )
            basic = _basic(header)
            if basic is None:
                raise _OAuthError(
                    401, "invalid_client", "The Authorization header is not valid HTTP Basic authentication."
                )
            client_id, secret = unquote_plus(basic[0]), unquote_plus(basic[1])
            if "client_id" in form and form["client_id"] != client_id:
                raise _OAuthError(
                    401, "invalid_client", "client_id in the body differs from the HTTP Basic user."
                )
        elif "client_secret" in form or "client_id" in form:
            entry["client_auth"] = "form"
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        else:
            raise _OAuthError(
                401,
                "invalid_client",
                (
                    "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required. "
                    if azure
                    else ""
                )
                + "No client authentication was included.",
            )
        entry["client_id"] = client_id or None
        with self._lock:
            expected = self._clients.get(client_id)
            revoked = client_id in self._revoked
        if expected is None:
            raise _OAuthError(
                401,
                "invalid_client",
                f"AADSTS700016: Application with identifier '{client_id}' was not found in the directory."
                if azure
                else "Client authentication failed: unknown client.",
            )
        if revoked or not _same(secret, expected):
            raise _OAuthError(
                401,
                "invalid_client",
                f"AADSTS7000215: Invalid client secret provided for app '{client_id}'."
                if azure
                else "Client authentication failed.",
            )
        if grant_type != "client_credentials":
            raise _OAuthError(
                400,
                "unsupported_grant_type",
                ("AADSTS70003: " if azure else "")
                + f"The grant type {grant_type!r} is not supported; use client_credentials.",
            )
        scope = form.get("scope")
        if azure:
            if not scope:
                raise _OAuthError(
                    400,
                    "invalid_request",
                    "AADSTS90014: The required field 'scope' is missing from the credential.",
                )
            if not all(s.endswith("/.default") for s in scope.split()):
                raise _OAuthError(
                    400,
                    "invalid_scope",
                    f"AADSTS1002012: The provided value for scope {scope} is not valid. Client credential "
                    "flows must have a scope value with /.default suffixed to the resource identifier "
                    "(application ID URI).",
                )

        now = time.time()
        access_token = secrets.token_urlsafe(32)
        with self._lock:
            lifetime = self._token_lifetime
            record = _Token(len(self._tokens) + 1, client_id, now, now + lifetime, scope)
            self._tokens[access_token] = record
        entry["token"] = record.index
        expires_in = max(1, math.ceil(lifetime))
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "bearer" if flavor == "xsuaa" else "Bearer",
            "expires_in": expires_in,
        }
        if scope is not None:
            body["scope"] = scope
        if flavor == "azure":
            body["ext_expires_in"] = expires_in
        if flavor == "xsuaa":
            body["jti"] = uuid.uuid4().hex
        return _json(200, body, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    # ------------------------------------------------------------------ job API

    async def _job_api(self, request: web.BaseRequest) -> web.Response:
        entry: dict[str, Any] = {
            "time": time.time(),
            "method": request.method,
            "path": request.path,
            "scheme": None,
            "status": None,
            "token": None,
            "expired": False,
            "job_id": None,
        }
        match = _JOB_PATH.match(request.path)
        if match is None:
            response = _json(404, {"message": f"no such resource {request.path}"})
        else:
            scheme, rest = match.group(1), match.group(2) or ""
            entry["scheme"] = scheme
            denied = self._authenticate(scheme, request, entry)
            response = denied if denied is not None else await self._jobs_route(scheme, rest, request, entry)
        entry["status"] = response.status
        with self._lock:
            self._request_log.append(entry)
        return response

    def _authenticate(
        self, scheme: str, request: web.BaseRequest, entry: dict[str, Any]
    ) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if scheme == "basic":
            basic = _basic(header)
            if basic is None:
                return self._denied("Basic authentication required.", f"Basic {REALM}")
            if not (_same(basic[0], self.basic_user) & _same(basic[1], self.basic_password)):
                return self._denied("Invalid user name or password.", f"Basic {REALM}")
            return None
        if scheme == "apikey":
            key, code = request.headers.get("x-api-key"), request.query.get("code")
            if key is None or code is None:
                return self._denied(
                    "Both the x-api-key header and the code query parameter are required.",
                    f"ApiKey {REALM}",
                )
            if not (_same(key, self.api_key) & _same(code, self.query_key)):
                return self._denied("Invalid API key.", f"ApiKey {REALM}")
            return None
        token = _bearer(header)
        if token is None:
            return self._denied("Bearer token required.", f"Bearer {REALM}")
        if scheme == "bearer":
            if not _same(token, self.bearer_token):
                return self._denied(
                    "Invalid bearer token.",
                    f'Bearer {REALM}, error="invalid_token", error_description="The access token is invalid"',
                )
            return None
        with self._lock:
            record = self._tokens.get(token)
        if record is None:
            return self._denied(
                "Invalid access token.",
                f'Bearer {REALM}, error="invalid_token", error_description="The access token is invalid"',
            )
        entry["token"] = record.index
        if record.revoked:
            return self._denied(
                "The access token has been revoked.",
                f'Bearer {REALM}, error="invalid_token", error_description="The access token has been revoked"',
            )
        if time.time() >= record.expires_at:
            entry["expired"] = True
            return self._denied(
                "The access token expired.",
                'Bearer error="invalid_token", error_description="The access token expired"',
            )
        return None

    @staticmethod
    def _denied(message: str, challenge: str) -> web.Response:
        return _json(401, {"message": message}, {"WWW-Authenticate": challenge})

    async def _jobs_route(
        self, scheme: str, rest: str, request: web.BaseRequest, entry: dict[str, Any]
    ) -> web.Response:
        parts = [p for p in rest.split("/") if p]
        method = request.method
        if parts == ["jobs"]:
            if method != "POST":
                return _json(405, {"message": "use POST to submit a job"}, {"Allow": "POST"})
            return await self._submit(scheme, request, entry)
        if len(parts) in (2, 3) and parts[0] == "jobs":
            job_id = parts[1]
            entry["job_id"] = job_id
            with self._lock:
                job = self._jobs.get(job_id)
            if job is None:
                return _json(404, {"message": f"no such job {job_id}"})
            if len(parts) == 2 and method == "GET":
                return self._status(job)
            if (len(parts) == 2 and method == "DELETE") or (
                len(parts) == 3 and parts[2] == "cancel" and method == "POST"
            ):
                return self._cancel(job, scheme, method)
            return _json(405, {"message": f"{method} is not allowed here"})
        return _json(404, {"message": f"no such resource {request.path}"})

    async def _submit(self, scheme: str, request: web.BaseRequest, entry: dict[str, Any]) -> web.Response:
        raw = await request.read()
        try:
            spec = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return _json(400, {"message": "the body is not JSON"})
        if not isinstance(spec, dict):
            return _json(400, {"message": "the body must be a JSON object"})
        seconds = spec.get("seconds", self.job_seconds)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < 1e6:
            return _json(400, {"message": "seconds must be a number >= 0"})
        fail = spec.get("fail", False)
        if not isinstance(fail, bool):
            return _json(400, {"message": "fail must be true or false"})
        job = _Job(
            job_id="job-" + uuid.uuid4().hex[:16],
            scheme=scheme,
            seconds=float(seconds),
            fail=fail,
            input=spec.get("input"),
            created=time.time(),
        )
        with self._lock:
            self._jobs[job.job_id] = job
        entry["job_id"] = job.job_id
        return _json(201, {"jobId": job.job_id, "status": "RUNNING"})

    def _status(self, job: _Job) -> web.Response:
        with self._lock:
            job.polls += 1
            status = job.status()
        body: dict[str, Any] = {"jobId": job.job_id, "status": status}
        if status == "SUCCEEDED":
            body["output"] = {"result": "ok", "input": job.input, "scheme": job.scheme}
        elif status == "FAILED":
            body["error"] = {"code": "JobFailed", "message": "the job failed as requested"}
        return _json(200, body)

    def _cancel(self, job: _Job, scheme: str, method: str) -> web.Response:
        now = time.time()
        with self._lock:
            before = job.status(now)
            job.cancels.append({"time": now, "method": method, "scheme": scheme, "status_before": before})
            if before == "RUNNING":
                job.cancelled = now
            status = job.status(now)
        return _json(200, {"jobId": job.job_id, "status": status})
