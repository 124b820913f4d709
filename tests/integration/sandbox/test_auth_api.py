"""``AuthApi`` over real loopback HTTP: the OAuth 2.0 token endpoints and the four-scheme job API."""

from __future__ import annotations

import base64
import json
import threading
import time
from urllib.parse import quote_plus

import pytest
import requests

from airflow_restjob.sandbox.auth_api import AuthApi

FORM = {"grant_type": "client_credentials"}


@pytest.fixture(scope="module")
def api():
    with AuthApi(job_seconds=0.5) as a:
        yield a


@pytest.fixture(autouse=True)
def _reset(api):
    api.set_token_mode("ok")
    api.set_token_lifetime(3600)
    api.clear_logs()
    yield
    api.set_token_mode("ok")
    api.set_token_lifetime(3600)


def _basic_header(user: str, password: str, encode: bool = True) -> str:
    if encode:
        user, password = quote_plus(user), quote_plus(password)
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _token(api: AuthApi, url: str | None = None, **extra: str) -> str:
    r = requests.post(
        url or api.token_url, data={**FORM, **extra}, auth=(api.client_id, api.client_secret), timeout=10
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def _all_secrets(api: AuthApi, *more: str) -> list[str]:
    return [api.client_secret, api.basic_password, api.bearer_token, api.api_key, api.query_key, *more]


def _assert_no_secrets(api: AuthApi, *more: str) -> None:
    text = json.dumps([api.token_requests(), api.request_log()]) + json.dumps(
        [api.cancels(j) for j in api.jobs()]
    )
    for secret in _all_secrets(api, *more):
        assert secret not in text


# --------------------------------------------------------------------------- addresses and statements


def test_addresses_and_statements(api):
    assert api.url.startswith("http://127.0.0.1:") and api.port > 0
    assert api.token_url == api.url + "/oauth2/token"
    assert api.azure_authority == api.url and api.xsuaa_url == api.url
    by_name = {s["name"]: s for s in api.statements("x")}
    assert set(by_name) == {"x_basic", "x_bearer", "x_oauth2", "x_azure", "x_sap", "x_apikey"}
    assert by_name["x_basic"] == {
        "name": "x_basic",
        "authType": "basic",
        "user": api.basic_user,
        "password": api.basic_password,
        "baseUrl": api.url + "/basic",
    }
    assert by_name["x_bearer"]["token"] == api.bearer_token
    assert by_name["x_oauth2"] == {
        "name": "x_oauth2",
        "authType": "oauth2_client_credentials",
        "tokenUrl": api.token_url,
        "clientId": api.client_id,
        "clientSecret": api.client_secret,
        "scope": "jobs/.default",
        "clientAuth": "form",
        "baseUrl": api.url + "/oauth2",
    }
    assert by_name["x_azure"]["tenantId"] == "00000000-0000-0000-0000-000000000000"
    assert by_name["x_azure"]["authorityHost"] == api.url
    assert by_name["x_sap"]["xsuaaUrl"] == api.url
    assert by_name["x_apikey"]["headers"] == {"x-api-key": api.api_key}
    assert by_name["x_apikey"]["query"] == {"code": api.query_key}
    assert [s["name"] for s in api.statements()][0] == "sandbox_basic"
    # two instances never share a secret
    other = AuthApi()
    assert set(_all_secrets(other)).isdisjoint(_all_secrets(api))
    assert other.client_id != api.client_id


# --------------------------------------------------------------------------- token endpoint


def test_token_with_basic_client_auth(api):
    r = requests.post(
        api.token_url,
        data={**FORM, "scope": "jobs/.default"},
        auth=(api.client_id, api.client_secret),
        timeout=10,
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["token_type"] == "Bearer" and doc["expires_in"] == 3600 and doc["scope"] == "jobs/.default"
    assert isinstance(doc["access_token"], str) and len(doc["access_token"]) >= 32
    assert r.headers["Cache-Control"] == "no-store"
    (entry,) = api.token_requests()
    assert entry["client_auth"] == "basic" and entry["client_id"] == api.client_id
    assert entry["status"] == 200 and entry["error"] is None and entry["scope"] == "jobs/.default"
    _assert_no_secrets(api, doc["access_token"])


def test_token_with_form_client_auth(api):
    r = requests.post(
        api.token_url,
        data={**FORM, "client_id": api.client_id, "client_secret": api.client_secret},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert "scope" not in r.json()
    (entry,) = api.token_requests()
    assert entry["client_auth"] == "form" and entry["status"] == 200
    _assert_no_secrets(api, r.json()["access_token"])


def test_basic_client_auth_is_form_urlencoded_first(api):
    """RFC 6749 2.3.1: id and secret are form-urlencoded before HTTP Basic."""
    api.add_client("client:with space", "p@ss:w/rd+ =%")
    good = _basic_header("client:with space", "p@ss:w/rd+ =%")
    r = requests.post(api.token_url, data=FORM, headers={"Authorization": good}, timeout=10)
    assert r.status_code == 200, r.text
    assert api.token_requests()[-1]["client_id"] == "client:with space"
    # the same credentials without the urlencoding do not authenticate
    raw = _basic_header("client:with space", "p@ss:w/rd+ =%", encode=False)
    r = requests.post(api.token_url, data=FORM, headers={"Authorization": raw}, timeout=10)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert "p@ss:w/rd+ =%" not in json.dumps(api.token_requests())


@pytest.mark.parametrize(
    "path_of",
    [
        lambda a: a.token_url,
        lambda a: f"{a.azure_authority}/00000000-0000-0000-0000-000000000000/oauth2/v2.0/token",
        lambda a: f"{a.xsuaa_url}/oauth/token",
    ],
    ids=["generic", "azure", "xsuaa"],
)
def test_the_three_token_paths_issue_working_tokens(api, path_of):
    url = path_of(api)
    scope = "https://management.azure.com/.default"
    for kwargs in (
        {"auth": (api.client_id, api.client_secret), "data": {**FORM, "scope": scope}},
        {"data": {**FORM, "scope": scope, "client_id": api.client_id, "client_secret": api.client_secret}},
    ):
        r = requests.post(url, timeout=10, **kwargs)
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["token_type"].lower() == "bearer" and doc["expires_in"] == 3600 and doc["scope"] == scope
        jobs = requests.post(
            api.url + "/oauth2/jobs",
            json={"seconds": 0},
            headers={"Authorization": f"Bearer {doc['access_token']}"},
            timeout=10,
        )
        assert jobs.status_code == 201, jobs.text
    assert [e["client_auth"] for e in api.token_requests()] == ["basic", "form"]


def test_azure_flavor_needs_a_default_scope(api):
    url = f"{api.azure_authority}/my-tenant/oauth2/v2.0/token"
    r = requests.post(url, data=FORM, auth=(api.client_id, api.client_secret), timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert r.json()["error_description"].startswith("AADSTS90014")
    r = requests.post(
        url,
        data={**FORM, "scope": "https://graph.microsoft.com/User.Read"},
        auth=(api.client_id, api.client_secret),
        timeout=10,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    r = requests.post(
        url, data={**FORM, "scope": "https://x/.default"}, auth=(api.client_id, "wrong"), timeout=10
    )
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert r.json()["error_description"].startswith("AADSTS7000215") and r.json()["error_codes"] == [7000215]


def test_xsuaa_flavor_answers_lowercase_bearer_and_jti(api):
    r = requests.post(
        api.xsuaa_url + "/oauth/token", data=FORM, auth=(api.client_id, api.client_secret), timeout=10
    )
    assert r.status_code == 200
    assert r.json()["token_type"] == "bearer" and r.json()["jti"]


def _error(r: requests.Response, status: int, error: str) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    assert doc["error"] == error, doc
    assert isinstance(doc["error_description"], str) and doc["error_description"]
    return doc


def test_unsupported_grant_type(api):
    r = requests.post(
        api.token_url, data={"grant_type": "password"}, auth=(api.client_id, api.client_secret), timeout=10
    )
    _error(r, 400, "unsupported_grant_type")
    assert api.token_requests()[-1]["error"] == "unsupported_grant_type"
    assert api.token_requests()[-1]["status"] == 400


def test_invalid_request_missing_grant_type(api):
    r = requests.post(api.token_url, data={"scope": "x"}, auth=(api.client_id, api.client_secret), timeout=10)
    _error(r, 400, "invalid_request")


def test_invalid_request_wrong_content_type(api):
    r = requests.post(api.token_url, json=FORM, auth=(api.client_id, api.client_secret), timeout=10)
    _error(r, 400, "invalid_request")


def test_invalid_request_repeated_parameter(api):
    r = requests.post(
        api.token_url,
        data="grant_type=client_credentials&grant_type=client_credentials",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=(api.client_id, api.client_secret),
        timeout=10,
    )
    _error(r, 400, "invalid_request")


def test_invalid_request_two_client_auth_methods(api):
    r = requests.post(
        api.token_url,
        data={**FORM, "client_secret": api.client_secret},
        auth=(api.client_id, api.client_secret),
        timeout=10,
    )
    _error(r, 400, "invalid_request")


def test_get_is_not_a_token_request(api):
    r = requests.get(api.token_url, params=FORM, auth=(api.client_id, api.client_secret), timeout=10)
    _error(r, 405, "invalid_request")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"auth": ("nobody", "nothing")},
        {"auth": ("CLIENT", "wrong")},
        {"form": {"client_id": "CLIENT", "client_secret": "wrong"}},
        {"form": {"client_id": "CLIENT"}},
        {"form": {}},
        {"headers": {"Authorization": "Basic !!!not-base64"}},
    ],
    ids=["unknown-client", "wrong-secret-basic", "wrong-secret-form", "no-secret", "no-auth", "bad-basic"],
)
def test_invalid_client(api, kwargs):
    auth = kwargs.get("auth")
    if auth is not None:
        auth = tuple(api.client_id if v == "CLIENT" else v for v in auth)
    form = {k: api.client_id if v == "CLIENT" else v for k, v in kwargs.get("form", {}).items()}
    r = requests.post(
        api.token_url, data={**FORM, **form}, auth=auth, headers=kwargs.get("headers"), timeout=10
    )
    _error(r, 401, "invalid_client")
    assert r.headers["WWW-Authenticate"] == 'Basic realm="sandbox"'
    assert api.token_requests()[-1]["status"] == 401
    _assert_no_secrets(api)


def test_revoked_client_and_its_tokens(api):
    api.add_client("to-revoke", "revoke-me-secret-123")
    r = requests.post(api.token_url, data=FORM, auth=("to-revoke", "revoke-me-secret-123"), timeout=10)
    assert r.status_code == 200
    token = r.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.post(api.url + "/oauth2/jobs", json={}, headers=headers, timeout=10).status_code == 201
    other = _token(api)

    api.revoke_client("to-revoke")
    r = requests.post(api.token_url, data=FORM, auth=("to-revoke", "revoke-me-secret-123"), timeout=10)
    _error(r, 401, "invalid_client")
    r = requests.post(api.url + "/oauth2/jobs", json={}, headers=headers, timeout=10)
    assert r.status_code == 401 and "invalid_token" in r.headers["WWW-Authenticate"]
    # other clients' tokens still work
    r = requests.post(
        api.url + "/oauth2/jobs", json={}, headers={"Authorization": f"Bearer {other}"}, timeout=10
    )
    assert r.status_code == 201
    # re-adding the client makes its secret work again (its old tokens stay revoked)
    api.add_client("to-revoke", "revoke-me-secret-123")
    r = requests.post(api.token_url, data=FORM, auth=("to-revoke", "revoke-me-secret-123"), timeout=10)
    assert r.status_code == 200
    assert requests.get(api.url + "/oauth2/jobs/x", headers=headers, timeout=10).status_code == 401


def test_expired_token_is_rejected(api):
    api.set_token_lifetime(1)
    r = requests.post(api.token_url, data=FORM, auth=(api.client_id, api.client_secret), timeout=10)
    assert r.json()["expires_in"] == 1
    token = r.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    r = requests.post(api.url + "/oauth2/jobs", json={"seconds": 0}, headers=headers, timeout=10)
    assert r.status_code == 201, r.text
    job_id = r.json()["jobId"]
    time.sleep(1.2)
    r = requests.get(f"{api.url}/oauth2/jobs/{job_id}", headers=headers, timeout=10)
    assert r.status_code == 401
    assert (
        r.headers["WWW-Authenticate"]
        == 'Bearer error="invalid_token", error_description="The access token expired"'
    )
    assert r.json()["message"]
    last = api.request_log()[-1]
    assert last["expired"] is True and last["token"] == api.token_requests()[-1]["token"]
    assert last["scheme"] == "oauth2" and last["status"] == 401
    # a fresh token works again
    api.set_token_lifetime(3600)
    fresh = _token(api)
    r = requests.get(
        f"{api.url}/oauth2/jobs/{job_id}", headers={"Authorization": f"Bearer {fresh}"}, timeout=10
    )
    assert r.status_code == 200 and r.json()["status"] == "SUCCEEDED"
    _assert_no_secrets(api, token, fresh)


def test_token_modes(api):
    auth = (api.client_id, api.client_secret)
    api.set_token_mode("html")
    r = requests.post(api.token_url, data=FORM, auth=auth, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert r.text == "<html>login</html>"
    api.set_token_mode("not_json")
    r = requests.post(api.token_url, data=FORM, auth=auth, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    with pytest.raises(ValueError):
        r.json()
    api.set_token_mode("error500")
    r = requests.post(api.token_url, data=FORM, auth=auth, timeout=10)
    assert r.status_code == 500
    api.set_token_mode("slow")
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(api.token_url, data=FORM, auth=auth, timeout=1)
    assert [e["error"] for e in api.token_requests()] == ["html", "not_json", "error500"]
    api.set_token_mode("ok")
    assert requests.post(api.token_url, data=FORM, auth=auth, timeout=10).status_code == 200
    with pytest.raises(ValueError):
        api.set_token_mode("nope")


def _post_quietly(url: str) -> None:
    try:
        requests.post(url, data=FORM, timeout=90)
    except requests.exceptions.RequestException:
        pass


def test_slow_mode_answers_after_thirty_seconds_and_stop_does_not_wait(monkeypatch):
    import airflow_restjob.sandbox.auth_api as module

    monkeypatch.setattr(module, "SLOW_SECONDS", 1.0)
    with AuthApi() as a:
        a.set_token_mode("slow")
        started = time.monotonic()
        r = requests.post(a.token_url, data=FORM, auth=(a.client_id, a.client_secret), timeout=10)
        assert r.status_code == 200 and time.monotonic() - started >= 1.0
        monkeypatch.setattr(module, "SLOW_SECONDS", 60.0)
        threading.Thread(target=_post_quietly, args=(a.token_url,), daemon=True).start()
        time.sleep(0.3)
    assert time.monotonic() - started < 20


# --------------------------------------------------------------------------- job API schemes


def _good(api: AuthApi, scheme: str) -> dict:
    if scheme == "basic":
        return {"auth": (api.basic_user, api.basic_password)}
    if scheme == "bearer":
        return {"headers": {"Authorization": f"Bearer {api.bearer_token}"}}
    if scheme == "apikey":
        return {"headers": {"x-api-key": api.api_key}, "params": {"code": api.query_key}}
    return {"headers": {"Authorization": f"Bearer {_token(api)}"}}


def _bad(api: AuthApi, scheme: str) -> list[dict]:
    token = _token(api)
    common = [{}, {"auth": ("x", "y")}]
    if scheme == "basic":
        return common + [
            {"auth": (api.basic_user, "wrong")},
            {"auth": ("wrong", api.basic_password)},
            {"headers": {"Authorization": f"Bearer {api.bearer_token}"}},
        ]
    if scheme == "bearer":
        return common + [
            {"headers": {"Authorization": "Bearer wrong"}},
            {"headers": {"Authorization": f"Bearer {token}"}},
            {"auth": (api.basic_user, api.basic_password)},
        ]
    if scheme == "apikey":
        return common + [
            {"headers": {"x-api-key": api.api_key}},
            {"params": {"code": api.query_key}},
            {"headers": {"x-api-key": api.api_key}, "params": {"code": "wrong"}},
            {"headers": {"x-api-key": "wrong"}, "params": {"code": api.query_key}},
            {"headers": {"x-api-key": api.query_key}, "params": {"code": api.api_key}},
        ]
    return common + [
        {"headers": {"Authorization": f"Bearer {api.bearer_token}"}},
        {"headers": {"Authorization": "Bearer not-a-token"}},
        {"headers": {"Authorization": token}},
    ]


@pytest.mark.parametrize("scheme", ["basic", "bearer", "apikey", "oauth2"])
def test_each_scheme_accepts_right_and_rejects_wrong_credentials(api, scheme):
    base = f"{api.url}/{scheme}"
    good = _good(api, scheme)
    r = requests.post(base + "/jobs", json={"seconds": 0.3, "input": {"n": 1}}, timeout=10, **good)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "RUNNING"
    job_id = r.json()["jobId"]
    for bad in _bad(api, scheme):
        for method, path in (
            ("POST", "/jobs"),
            ("GET", f"/jobs/{job_id}"),
            ("POST", f"/jobs/{job_id}/cancel"),
        ):
            r = requests.request(method, base + path, json={}, timeout=10, **bad)
            assert r.status_code == 401, (scheme, bad, method, path, r.text)
            assert r.json()["message"]
            challenge = r.headers["WWW-Authenticate"]
            assert 'realm="sandbox"' in challenge
            if scheme == "basic":
                assert challenge == 'Basic realm="sandbox"'
            if scheme in ("bearer", "oauth2"):
                assert challenge.startswith("Bearer ")
    # nothing the rejected requests did reached the job
    assert api.cancels(job_id) == []
    assert api.job(job_id)["polls"] == 0
    time.sleep(0.4)
    r = requests.get(f"{base}/jobs/{job_id}", timeout=10, **good)
    assert r.status_code == 200
    assert r.json() == {
        "jobId": job_id,
        "status": "SUCCEEDED",
        "output": {"result": "ok", "input": {"n": 1}, "scheme": scheme},
    }
    log = [e for e in api.request_log() if e["scheme"] == scheme]
    assert {e["status"] for e in log} == {201, 401, 200}
    assert all("?" not in e["path"] for e in log)
    _assert_no_secrets(api)


def test_a_wrong_scheme_prefix_does_not_share_credentials(api):
    r = requests.post(
        api.url + "/basic/jobs",
        json={},
        headers={"x-api-key": api.api_key},
        params={"code": api.query_key},
        timeout=10,
    )
    assert r.status_code == 401
    r = requests.post(
        api.url + "/nothing/jobs", json={}, auth=(api.basic_user, api.basic_password), timeout=10
    )
    assert r.status_code == 404


# --------------------------------------------------------------------------- jobs


def test_job_runs_and_succeeds_with_default_seconds(api):
    good = _good(api, "bearer")
    r = requests.post(api.url + "/bearer/jobs", timeout=10, **good)  # no body: every default
    assert r.status_code == 201
    job_id = r.json()["jobId"]
    assert api.job(job_id)["seconds"] == 0.5
    r = requests.get(f"{api.url}/bearer/jobs/{job_id}", timeout=10, **good)
    assert r.json() == {"jobId": job_id, "status": "RUNNING"}
    time.sleep(0.6)
    r = requests.get(f"{api.url}/bearer/jobs/{job_id}", timeout=10, **good)
    assert r.json()["status"] == "SUCCEEDED" and r.json()["output"]["input"] is None
    assert api.job(job_id)["polls"] == 2


def test_job_fails(api):
    good = _good(api, "basic")
    r = requests.post(api.url + "/basic/jobs", json={"seconds": 0, "fail": True}, timeout=10, **good)
    job_id = r.json()["jobId"]
    r = requests.get(f"{api.url}/basic/jobs/{job_id}", timeout=10, **good)
    assert r.status_code == 200 and r.json()["status"] == "FAILED"
    assert "output" not in r.json() and r.json()["error"]["code"] == "JobFailed"


@pytest.mark.parametrize("how", ["post-cancel", "delete"])
def test_job_cancel(api, how):
    good = _good(api, "apikey")
    base = api.url + "/apikey/jobs"
    job_id = requests.post(base, json={"seconds": 30}, timeout=10, **good).json()["jobId"]
    if how == "delete":
        r = requests.delete(f"{base}/{job_id}", timeout=10, **good)
    else:
        r = requests.post(f"{base}/{job_id}/cancel", timeout=10, **good)
    assert r.status_code == 200 and r.json() == {"jobId": job_id, "status": "CANCELLED"}
    assert requests.get(f"{base}/{job_id}", timeout=10, **good).json()["status"] == "CANCELLED"
    (cancel,) = api.cancels(job_id)
    assert cancel["method"] == ("DELETE" if how == "delete" else "POST")
    assert cancel["status_before"] == "RUNNING" and cancel["scheme"] == "apikey"
    assert api.job(job_id)["status"] == "CANCELLED"


def test_cancel_of_a_finished_job_keeps_its_status(api):
    good = _good(api, "basic")
    job_id = requests.post(api.url + "/basic/jobs", json={"seconds": 0}, timeout=10, **good).json()["jobId"]
    r = requests.post(f"{api.url}/basic/jobs/{job_id}/cancel", timeout=10, **good)
    assert r.status_code == 200 and r.json()["status"] == "SUCCEEDED"
    assert api.cancels(job_id)[0]["status_before"] == "SUCCEEDED"


def test_unknown_job_and_bad_bodies(api):
    good = _good(api, "oauth2")
    base = api.url + "/oauth2/jobs"
    for method, path in (("GET", "/nope"), ("POST", "/nope/cancel"), ("DELETE", "/nope")):
        r = requests.request(method, base + path, timeout=10, **good)
        assert r.status_code == 404 and r.json()["message"], (method, path)
    assert requests.post(base, data=b"{nope", timeout=10, **good).status_code == 400
    assert requests.post(base, json=[1], timeout=10, **good).status_code == 400
    assert requests.post(base, json={"seconds": "3"}, timeout=10, **good).status_code == 400
    assert requests.post(base, json={"fail": "yes"}, timeout=10, **good).status_code == 400
    with pytest.raises(KeyError):
        api.job("nope")
    assert api.cancels("nope") == []
