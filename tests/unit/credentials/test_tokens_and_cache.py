"""OAuth2 token requests/answers (sans-IO) and the per-process lease cache (refresh, singleflight)."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from urllib.parse import parse_qs

import pytest

from airflow_restjob.credentials import cache, tokens
from airflow_restjob.credentials.types import OAuth2ClientCredentials
from airflow_restjob.errors import AuthError, EndCode, TransientError, UnparsableResponseError

CRED = OAuth2ClientCredentials(
    token_url="https://idp.example.com/tok", client_id="my client", client_secret="s3cr&t", scope="a/.default"
)


def test_token_request_form_and_basic_client_authentication():
    url, headers, body = tokens.token_request(CRED)
    form = parse_qs(body.decode())
    assert url == CRED.token_url and headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form == {
        "grant_type": ["client_credentials"],
        "scope": ["a/.default"],
        "client_id": ["my client"],
        "client_secret": ["s3cr&t"],
    }
    assert "Authorization" not in headers
    basic = OAuth2ClientCredentials(**{**CRED.__dict__, "client_auth": "basic"})
    _, headers, body = tokens.token_request(basic)
    assert "client_secret" not in body.decode()
    # RFC 6749 2.3.1: each part form-urlencoded before the Basic encoding
    assert base64.b64decode(headers["Authorization"].split()[1]) == b"my%20client:s3cr%26t"


def test_presets():
    assert tokens.azure_token_url("contoso.onmicrosoft.com") == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    )
    assert tokens.azure_token_url("t", "https://login.microsoftonline.us/") == (
        "https://login.microsoftonline.us/t/oauth2/v2.0/token"
    )
    assert tokens.xsuaa_token_url("https://sub.authentication.eu10.hana.ondemand.com/") == (
        "https://sub.authentication.eu10.hana.ondemand.com/oauth/token"
    )


def test_token_answer_success_sets_expiry_and_refresh_margin():
    lease = tokens.token_lease(
        CRED, "c", 200, json.dumps({"access_token": "tok", "token_type": "bearer", "expires_in": 20}).encode(), now=1000
    )
    assert lease.value == "tok" and lease.expires_at == 1020
    assert lease.refresh_at == 1016  # a fifth of the lifetime before expiry
    long = tokens.token_lease(CRED, "c", 200, b'{"access_token":"t","expires_in":3600}', now=0)
    assert long.refresh_at == 3300  # at most 5 minutes early


@pytest.mark.parametrize(
    "status, body, cls, words",
    [
        (401, b'{"error":"invalid_client","error_description":"AADSTS7000215: bad secret s3cr&t"}', AuthError,
         ["invalid_client", "AADSTS7000215", "credentials add"]),
        (400, b'{"error":"invalid_scope"}', AuthError, ["invalid_scope", "/.default"]),
        (200, b"<html><body>Sign in</body></html>", UnparsableResponseError, ["not a JSON object", "<html>"]),
        (200, b"ok", UnparsableResponseError, ["'ok'"]),
        (200, b'{"token_type":"bearer"}', UnparsableResponseError, ["without an access_token"]),
        (200, b'{"access_token":"t","token_type":"mac"}', AuthError, ["not Bearer"]),
        (503, b"<html>down</html>", TransientError, ["HTTP 503"]),
    ],
)
def test_token_answer_errors(status, body, cls, words):
    with pytest.raises(cls) as caught:
        tokens.token_lease(CRED, "jobs_oauth", status, body)
    text = str(caught.value)
    assert "Credential 'jobs_oauth'" in text and "s3cr&t" not in text and "Fix:" in text
    for word in words:
        assert word in text
    if cls is AuthError:
        assert caught.value.end_code == EndCode.CREDENTIALS
    if cls is UnparsableResponseError:
        assert caught.value.end_code == EndCode.UNPARSABLE


def test_timeout_is_end_code_5():
    assert tokens.timeout(CRED, "c", 10).end_code == EndCode.REQUEST_TIMED_OUT


def lease(value: str, lifetime: float) -> cache.Lease:
    now = time.time()
    return cache.Lease(value, (value,), now + lifetime, obtained_at=now)


def test_threads_share_one_fetch():
    shared = cache.SharedLease("test:threads")
    calls = []

    def fetch():
        calls.append(1)
        time.sleep(0.2)
        return lease("secret-token-A", 60)

    results = []
    threads = [threading.Thread(target=lambda: results.append(shared.get_sync(fetch))) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and {r.value for r in results} == {"secret-token-A"}
    assert "secret-token-A" in cache.live_secrets()


async def test_coroutines_share_one_fetch_and_a_rejected_lease_is_fetched_once_more():
    shared = cache.SharedLease("test:async")
    calls = []

    async def fetch():
        calls.append(1)
        await asyncio.sleep(0.05)
        return lease(f"tok-{len(calls)}", 60)

    first = await asyncio.gather(*(shared.get_async(fetch) for _ in range(1000)))
    assert len(calls) == 1 and {x.value for x in first} == {"tok-1"}
    # 100 requests rejected with the same token: one invalidation, one new fetch
    assert all([shared.invalidate(first[0]) for _ in range(100)])
    second = await asyncio.gather(*(shared.get_async(fetch) for _ in range(100)))
    assert len(calls) == 2 and {x.value for x in second} == {"tok-2"}
    assert not shared.invalidate(None)


def test_expiring_lease_is_refreshed_before_it_expires():
    shared = cache.SharedLease("test:expiry")
    shared.lease = cache.Lease("old", ("old",), time.time() + 1, obtained_at=time.time() - 19)  # 20 s lifetime, 1 s left
    assert shared.current() is None  # inside the refresh margin (4 s)
    assert shared.get_sync(lambda: lease("new", 20)).value == "new"


def test_rotating_lease_secrets_are_redacted_but_not_piled_into_airflows_masker():
    from airflow.sdk.log import mask_secret  # noqa: F401 - the masker the static secrets go to

    from airflow_restjob.connections.settings import ConnectionSettings

    shared = cache.SharedLease("test:masker")
    for i in range(50):
        shared.lease = None
        shared.get_sync(lambda i=i: lease(f"rotating-token-{i:03d}", 60))
    assert "rotating-token-049" in cache.live_secrets()
    assert "rotating-token-000" not in cache.live_secrets()  # only the current lease is kept
    settings = ConnectionSettings.unsigned("c", "https://jobs.example.com")
    assert settings.redact("Bearer rotating-token-049 failed") == "Bearer *** failed"
