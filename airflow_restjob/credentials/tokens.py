"""OAuth 2.0 client credentials (RFC 6749 4.4): the token request and how its answer is judged.

Sans-IO: ``token_request`` says what to send, ``token_lease`` judges what came back; the worker
(requests) and the triggerer (aiohttp) only move the bytes (``airflow_restjob.transport.auth``).
Azure AD (Microsoft identity platform v2) and SAP BTP (XSUAA) are this grant with a preset token
URL (``presets``).
"""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import quote, urlencode

from airflow_restjob.credentials.cache import Lease
from airflow_restjob.credentials.types import OAuth2ClientCredentials
from airflow_restjob.errors import (
    AuthError,
    RequestFailedError,
    RequestTimeoutError,
    TransientError,
    UnparsableResponseError,
    body_preview,
)

DEFAULT_LIFETIME = 300.0  # a token answer without expires_in: ask again after this
AZURE_AUTHORITY = "https://login.microsoftonline.com"
FORM = "application/x-www-form-urlencoded"


def azure_token_url(tenant_id: str, authority_host: str | None = None) -> str:
    """The Microsoft identity platform v2 token endpoint of a tenant (sovereign clouds: another host)."""
    return f"{(authority_host or AZURE_AUTHORITY).rstrip('/')}/{quote(tenant_id, safe='')}/oauth2/v2.0/token"


def xsuaa_token_url(xsuaa_url: str) -> str:
    """SAP BTP: the ``url`` of a service key + ``/oauth/token``."""
    return xsuaa_url.rstrip("/") + "/oauth/token"


def token_request(cred: OAuth2ClientCredentials) -> tuple[str, dict[str, str], bytes]:
    """(url, headers, body) of the token request."""
    form = {"grant_type": "client_credentials"}
    for name in ("scope", "resource", "audience"):
        value = getattr(cred, name)
        if value:
            form[name] = value
    headers = {"Content-Type": FORM, "Accept": "application/json"}
    if cred.client_auth == "basic":  # RFC 6749 2.3.1: each part form-urlencoded first
        pair = f"{quote(cred.client_id, safe='')}:{quote(cred.client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    else:
        form["client_id"] = cred.client_id
        form["client_secret"] = cred.client_secret
    return cred.token_url, headers, urlencode(form).encode("ascii")


def _redact(cred: OAuth2ClientCredentials, text: str) -> str:
    for secret in cred.secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def token_lease(
    cred: OAuth2ClientCredentials, name: str, status: int, body: bytes, now: float | None = None
) -> Lease:
    """The access token of a token endpoint's answer, or the error it means (end codes 10, 8, 4)."""
    at = f"Credential '{name}': token request to {cred.token_url}"
    try:
        payload = json.loads(body) if body.strip() else None
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        if status >= 500:
            raise TransientError(
                f"{at}: HTTP {status} {_redact(cred, body_preview(body))!r}".rstrip(),
                "The token endpoint is unavailable; the call is retried. Check the identity provider's health.",
                status=status,
            )
        raise UnparsableResponseError(
            f"{at}: HTTP {status} but the answer is not a JSON object: {_redact(cred, body_preview(body, 120))!r}",
            "Check the token URL: it must be the OAuth2 token endpoint (an HTML page usually means a "
            "login page, a proxy or a wrong path).",
            status=status,
        )
    if status >= 400 or "error" in payload:
        error = str(payload.get("error") or f"HTTP {status}")
        description = _redact(cred, str(payload.get("error_description") or "")).strip()
        fixes = {
            "invalid_client": "The client id or secret is wrong, expired or revoked: update the "
            f"credential (airflow-restjob credentials add FILE with '{name}').",
            "invalid_scope": "The scope is not valid for this client (Azure AD: the resource id + /.default).",
            "unauthorized_client": "The client may not use the client-credentials grant: check its app registration.",
            "invalid_grant": "The identity provider refused the grant: check the client's configuration.",
            "unsupported_grant_type": "The token endpoint does not offer client credentials: check the token URL.",
            "invalid_request": "The token request was refused as malformed: check the token URL, scope, "
            "resource/audience and client_auth (form or basic).",
        }
        if status >= 500:
            raise TransientError(
                f"{at}: HTTP {status} {error}: {description}".rstrip(": "),
                "The token endpoint is unavailable; the call is retried.",
                status=status,
            )
        cls = AuthError if status in (400, 401, 403) or error in fixes else RequestFailedError
        raise cls(
            f"{at}: refused ({error}{': ' + description if description else ''}).",
            fixes.get(error, "Check the credential's client id, secret, scope and token URL."),
            status=status,
            error_type=error,
        )
    token = payload.get("access_token")
    if not isinstance(token, str) or not token:
        raise UnparsableResponseError(
            f"{at}: HTTP {status} without an access_token (keys: {sorted(payload)}).",
            "Check the token URL: it must be the OAuth2 token endpoint.",
            status=status,
        )
    token_type = str(payload.get("token_type") or "bearer")
    if token_type.lower() != "bearer":
        raise AuthError(
            f"{at}: the token type is {token_type!r}, not Bearer.",
            "Only bearer tokens are supported (RFC 6750).",
            status=status,
        )
    try:
        lifetime = float(payload.get("expires_in", DEFAULT_LIFETIME))
    except (TypeError, ValueError):
        lifetime = DEFAULT_LIFETIME
    now = time.time() if now is None else now
    return Lease(token, (token,), now + max(1.0, lifetime), obtained_at=now)


def timeout(cred: OAuth2ClientCredentials, name: str, seconds: float) -> RequestTimeoutError:
    return RequestTimeoutError(
        f"Credential '{name}': the token endpoint {cred.token_url} did not answer within {seconds:g} s.",
        "Check that the token endpoint is reachable (proxy, firewall); raise the connection's "
        "read_timeout if it is slow.",
    )


def unreachable(cred: OAuth2ClientCredentials, name: str, detail: str) -> TransientError:
    return TransientError(
        f"Credential '{name}': the token endpoint {cred.token_url} could not be reached: {_redact(cred, detail)}",
        "Check the token URL, DNS and proxy settings.",
    )
