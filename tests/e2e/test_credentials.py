"""Every credential type through a REAL Airflow (scheduler, triggerer, dag-processor, api-server;
LocalExecutor, SQLite), driven by the REST API v2 (DAGs: tests/e2e/dags/restjob_credentials.py).

The credentials are the statements of the sandbox's AuthApi (basic, bearer, OAuth2 client
credentials, Azure AD, SAP BTP, key/value) and STS (assume role, web identity), registered into the
running Airflow's metadata database with ``python -m airflow_restjob.cli credentials add``.

The module fixture triggers every DAG run up front (one deferred job first, see WARM_UP_DAG_ID, then
all the others at once: the machine has 2 cores, a serial run would take far longer); each test then
waits for its own runs and asserts from the AuthApi's and the sandbox's logs (the sandbox's through
LogRecorder: ``_clean_sandbox`` clears them before every test), the task logs (REST API), XCom and the
trigger rows seen while the tasks were deferred (TriggerWatcher: deferred really means the triggerer):

- a job succeeds with each credential type, deferred and in the worker; Step Functions with an
  assumed role and with a web identity;
- a 20-second OAuth2 token is refreshed during a 90-second deferred wait;
- a 20-second assumed-role session is refreshed during a 70-second deferred execution;
- a revoked OAuth2 client fails the task with end code 10 naming the credential, nothing started;
- marking a deferred task failed cancels the job with the same credential (200, not 401);
- no secret of any type is in anything the runs wrote (files under the Airflow home, every cell of
  the metadata database decrypted, the trigger rows captured while the triggers existed).
"""

from __future__ import annotations

import contextlib
import json
import math
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import DEFAULT_DAGS_FOLDER
from tests.e2e.leaks import (
    LogRecorder,
    Needles,
    TriggerWatcher,
    b64,
    decrypted_column,
    scan_files,
    scan_sqlite,
    variants,
)
from tests.e2e.waiting import wait_until
from tests.harness.local_airflow import LocalAirflow, RestApiClient, RestApiError

# kind -> (credential name, the AuthApi path (scheme) behind it); names as in the DAG file
KINDS = {
    "basic": ("sandbox_basic", "basic"),
    "bearer": ("sandbox_bearer", "bearer"),
    "oauth2": ("sandbox_oauth2", "oauth2"),
    "azure": ("sandbox_azure", "oauth2"),
    "sap": ("sandbox_sap", "oauth2"),
    "apikey": ("sandbox_apikey", "apikey"),
}
LIFETIME_CREDENTIAL = "sandbox_oauth2_lifetime"
REVOKED_CREDENTIAL = "sandbox_oauth2_revoked"
EXPIRY_CREDENTIAL = "sandbox_aws_role_expiry"
EXPIRY_SESSION = "restjob-expiry"
TOKEN_LIFETIME = 20
STS_SESSION_SECONDS = 20
LONG_JOB_SECONDS = 90
EXPIRY_EXECUTION_SECONDS = 70

# On Airflow 3.3 the first connection a triggerer reads from the metadata database (through its
# in-process execution API) blocks it for 30-50 s on a loaded 2-core machine ("TriggerRunner subprocess
# event loop appears deadlocked"; not seen on 3.1): this long deferred job goes first, alone, and the
# others once the triggerer polls it, so that the measured waits (token lifetime, STS session) do not
# include that cold start.
WARM_UP_DAG_ID = "e2e_cred_cancel_oauth2"
DAG_IDS = [
    WARM_UP_DAG_ID,
    "e2e_cred_oauth2_lifetime",
    "e2e_cred_sfn_role_expiry",
    "e2e_cred_cancel_basic",
    "e2e_cred_oauth2_revoked",
    "e2e_cred_sfn_aws_role",
    "e2e_cred_sfn_web_identity",
    *(f"e2e_cred_{kind}_deferred" for kind in KINDS),
    *(f"e2e_cred_{kind}_worker" for kind in KINDS),
]
RUN_TIMEOUT = 420


def retry_5xx(call: Any, *args: Any, attempts: int = 6, **kwargs: Any) -> Any:
    """``call(*args, **kwargs)``, again after an Airflow REST API 5xx or a timeout: with SQLite and ~20
    concurrent task processes on 2 cores the api-server sometimes answers 500 "Database error"
    (database is locked) or not within the client's 30 s."""
    for attempt in range(attempts):
        try:
            return call(*args, **kwargs)
        except RestApiError as e:
            if e.status_code is None or e.status_code < 500 or attempt == attempts - 1:
                raise
        except requests.RequestException:
            if attempt == attempts - 1:
                raise
        time.sleep(1 + attempt)
    raise AssertionError("unreachable")


def trigger(api: RestApiClient, dag_id: str) -> str:
    """Unpause and trigger ``dag_id`` (its run id chosen here, so that a retried POST is harmless)."""
    retry_5xx(api.unpause, dag_id)
    run_id = f"manual__{time.strftime('%Y%m%dT%H%M%S')}_{secrets.token_hex(4)}"
    try:
        return retry_5xx(api.trigger, dag_id, run_id)
    except RestApiError as e:
        if e.status_code == 409:  # an earlier attempt created it after all
            return run_id
        raise


def by_name(statements: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(s for s in statements if s["name"] == name)


@dataclass
class Scenario:
    af: LocalAirflow
    sandbox: Any
    auth_api: Any
    lifetime_api: Any
    statements: list[dict[str, Any]]
    revoked_client: tuple[str, str]
    token_file: Path
    recorder: LogRecorder
    watcher: TriggerWatcher
    run_ids: dict[str, str] = field(default_factory=dict)
    finished: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def api(self) -> RestApiClient:
        return self.af.client

    @property
    def db(self) -> Path:
        return self.af.home / "airflow.db"

    @property
    def fernet_key(self) -> str:
        return self.af.env["AIRFLOW__CORE__FERNET_KEY"]

    def run_id(self, dag_id: str) -> str:
        return self.run_ids[dag_id]

    def wait(self, dag_id: str, timeout: float = RUN_TIMEOUT) -> dict[str, Any]:
        if dag_id not in self.finished:
            self.finished[dag_id] = retry_5xx(
                self.api.wait_run, dag_id, self.run_ids[dag_id], timeout=timeout
            )
        return self.finished[dag_id]

    def xcom(self, dag_id: str, key: str = "return_value") -> Any:
        return retry_5xx(self.api.xcom, dag_id, self.run_ids[dag_id], "run", key)

    def xcom_or_none(self, dag_id: str, key: str) -> Any:
        try:
            return self.xcom(dag_id, key)
        except RestApiError:
            return None

    def log(self, dag_id: str, try_number: int = 1) -> str:
        return retry_5xx(self.api.task_log, dag_id, self.run_ids[dag_id], "run", try_number)

    def triggerer_polled(self, dag_id: str) -> bool:
        """True once the (deferred) job of ``dag_id`` has been polled, which only the triggerer does."""
        job_id = self.xcom_or_none(dag_id, "job_id")
        return bool(job_id) and self.auth_api.job(job_id)["polls"] > 0

    def ti(self, dag_id: str) -> dict[str, Any]:
        return retry_5xx(self.api.task_instance, dag_id, self.run_ids[dag_id], "run")


def cli(af: LocalAirflow, *args: str) -> subprocess.CompletedProcess[str]:
    """``airflow-restjob credentials ...`` with the running Airflow's environment (home, DB, Fernet key)."""
    return subprocess.run(
        [af.python, "-m", "airflow_restjob.cli", "credentials", *args],
        env=af.env,
        cwd=str(af.home),
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def auth_api() -> Iterator[Any]:
    from airflow_restjob.sandbox import AuthApi

    with AuthApi() as api:
        yield api


@pytest.fixture(scope="module")
def lifetime_api() -> Iterator[Any]:
    """An AuthApi of its own for the token-lifetime test: its 20-second tokens touch no other test."""
    from airflow_restjob.sandbox import AuthApi

    with AuthApi() as api:
        api.set_token_lifetime(TOKEN_LIFETIME)
        try:
            yield api
        finally:
            api.set_token_lifetime(3600)


@pytest.fixture(scope="module")
def scenario(airflow_pool, sandbox, jobapi, auth_api, lifetime_api, tmp_path_factory) -> Iterator[Scenario]:
    # the same configuration as the `airflow_sandbox` fixture: the same (shared) Airflow
    af = airflow_pool.get(
        dags_folder=DEFAULT_DAGS_FOLDER,
        env={
            "AIRFLOW_CONN_RESTJOB_DEFAULT": sandbox.connection_json(),
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "RESTJOB_JOBAPI_URL": jobapi.url,
        },
    )
    airflow_pool.repair(af)
    work = tmp_path_factory.mktemp("credentials")
    token_file = Path(sandbox.write_web_identity_token(work / "web-identity-token"))

    revoked = ("restjob-revoked-" + secrets.token_hex(4), secrets.token_urlsafe(24))
    auth_api.add_client(*revoked)
    auth_api.revoke_client(revoked[0])
    ours = auth_api.statements()
    aws = sandbox.statements(web_identity_token_file=str(token_file))
    statements = [
        *ours,
        {**by_name(lifetime_api.statements(), "sandbox_oauth2"), "name": LIFETIME_CREDENTIAL},
        {
            **by_name(ours, "sandbox_oauth2"),
            "name": REVOKED_CREDENTIAL,
            "clientId": revoked[0],
            "clientSecret": revoked[1],
        },
        *aws,
        {**by_name(aws, "sandbox_aws_role"), "name": EXPIRY_CREDENTIAL, "roleSessionName": EXPIRY_SESSION},
    ]
    statements_file = work / "statements.json"
    statements_file.write_text(json.dumps(statements))
    try:
        added = cli(af, "add", str(statements_file))
    finally:
        statements_file.unlink()  # secrets: not left on disk
    assert added.returncode == 0, added.stderr
    for s in statements:
        assert f"{s['name']} ({s['authType']})" in added.stdout, added.stdout

    old_session_seconds = sandbox.sts_session_seconds
    sandbox.set_sts_session_seconds(STS_SESSION_SECONDS)
    recorder = LogRecorder(sandbox._log).install()  # noqa: SLF001 - see LogRecorder
    watcher = TriggerWatcher(af.home / "airflow.db", af.env["AIRFLOW__CORE__FERNET_KEY"]).start()
    sc = Scenario(af, sandbox, auth_api, lifetime_api, statements, revoked, token_file, recorder, watcher)
    try:
        api = af.client
        for dag_id in DAG_IDS:
            retry_5xx(api.wait_for_dag, dag_id, timeout=180, fail_on_import_error="restjob_credentials")
        sc.run_ids[WARM_UP_DAG_ID] = trigger(api, WARM_UP_DAG_ID)
        with contextlib.suppress(AssertionError):  # (if it does not come, the timed tests will tell)
            wait_until(lambda: sc.triggerer_polled(WARM_UP_DAG_ID), 150, "the triggerer's first poll")
        for dag_id in DAG_IDS[1:]:
            sc.run_ids[dag_id] = trigger(api, dag_id)
        yield sc
    finally:
        watcher.stop()
        recorder.remove()
        sandbox.set_sts_session_seconds(old_session_seconds)
        # leave nothing running in the shared Airflow (a failed test may not have cancelled its job)
        for dag_id, run_id in sc.run_ids.items():
            try:
                if af.client.dag_run(dag_id, run_id)["state"] not in ("success", "failed"):
                    af.client.set_task_state(dag_id, run_id, "run", "failed")
            except Exception:  # noqa: BLE001 - best effort clean-up
                pass
        for s in statements:
            try:
                af.client.delete_connection(s["name"], missing_ok=True)
            except Exception:  # noqa: BLE001
                pass


@pytest.fixture(autouse=True)
def _report_components(request, scenario: Scenario) -> None:
    request.node._local_airflow = scenario.af  # component logs in the failure report


# ------------------------------------------------------------------------------------------ 1. each type


@pytest.mark.parametrize("mode", ["deferred", "worker"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_rest_job_succeeds_with_each_credential_type(scenario: Scenario, kind: str, mode: str):
    dag_id = f"e2e_cred_{kind}_{mode}"
    credential, scheme = KINDS[kind]
    run = scenario.wait(dag_id)
    assert run["state"] == "success", scenario.api.task_states(dag_id, scenario.run_id(dag_id))
    job_id = scenario.xcom(dag_id, "job_id")
    job = scenario.auth_api.job(job_id)
    assert job["status"] == "SUCCEEDED" and job["scheme"] == scheme
    assert job["input"] == {"run": scenario.run_id(dag_id), "credential": credential}
    assert job["polls"] >= 1 and job["cancels"] == 0
    assert scenario.xcom(dag_id)["output"]["scheme"] == scheme  # the last monitoring response
    calls = [r for r in scenario.auth_api.request_log() if r["job_id"] == job_id]
    assert [r["method"] for r in calls][0] == "POST" and "GET" in {r["method"] for r in calls}
    assert all(r["status"] in (200, 201) and r["scheme"] == scheme for r in calls), calls
    # where it waited: a deferred task's trigger row named the job; a worker never deferred
    deferred = bool(scenario.watcher.kwargs_with(job_id))
    ti = scenario.ti(dag_id)
    assert ti["try_number"] == 1
    if mode == "deferred":
        assert deferred, f"no trigger for {job_id} seen in {scenario.watcher.reads} reads"
    else:
        assert not deferred, f"{job_id} was deferred: {scenario.watcher.kwargs_with(job_id)}"


@pytest.mark.parametrize(
    "dag_id, credential, action",
    [
        ("e2e_cred_sfn_aws_role", "sandbox_aws_role", "AssumeRole"),
        ("e2e_cred_sfn_web_identity", "sandbox_aws_web_identity", "AssumeRoleWithWebIdentity"),
    ],
)
def test_step_functions_with_temporary_credentials(scenario: Scenario, dag_id, credential, action):
    run = scenario.wait(dag_id)
    assert run["state"] == "success", scenario.api.task_states(dag_id, scenario.run_id(dag_id))
    assert scenario.xcom(dag_id) == {"run": scenario.run_id(dag_id), "wait_seconds": 12, "result": "ok"}
    arn = scenario.xcom(dag_id, "execution_arn")
    assert scenario.sandbox.describe_execution(arn)["status"] == "SUCCEEDED"
    issued = {
        e["issued_access_key"]
        for e in scenario.recorder.sts(action)
        if e["status"] == 200 and (action != "AssumeRole" or e["role_session_name"] == "restjob")
    }
    calls = scenario.recorder.for_execution(arn)
    resources = {e["resource"] for e in calls}
    assert {"start-execution", "describe-execution"} <= resources, resources
    # every call for the execution was signed with keys that STS issued for this credential
    assert all(e["status"] == 200 and e["access_key"] in issued for e in calls), (calls, issued)
    assert scenario.watcher.kwargs_with(arn), "the execution was not waited for in the triggerer"


# ------------------------------------------------------------------------------------------ 2. token lifetime


def test_oauth2_token_is_refreshed_during_a_long_deferred_wait(scenario: Scenario):
    dag_id = "e2e_cred_oauth2_lifetime"
    run = scenario.wait(dag_id)
    assert run["state"] == "success", scenario.api.task_states(dag_id, scenario.run_id(dag_id))
    api = scenario.lifetime_api
    assert api.token_lifetime == TOKEN_LIFETIME
    job_id = scenario.xcom(dag_id, "job_id")
    job = api.job(job_id)
    assert job["status"] == "SUCCEEDED" and job["seconds"] == LONG_JOB_SECONDS
    assert scenario.watcher.kwargs_with(job_id), "the job was not waited for in the triggerer"
    tokens = api.token_requests()
    assert tokens and all(t["status"] == 200 and t["error"] is None for t in tokens), tokens
    begin, end = job["created"], job["created"] + LONG_JOB_SECONDS
    during = [t for t in tokens if begin <= t["time"] <= end]
    assert len(during) >= 4, [round(t["time"] - begin, 1) for t in tokens]
    for t in during:
        info = api.token_info(t["token"])
        assert info["expires_at"] - info["issued"] <= TOKEN_LIFETIME + 0.5
    calls = api.request_log()
    assert all(r["status"] in (200, 201) and not r["expired"] for r in calls), [
        r for r in calls if r["status"] not in (200, 201)
    ]
    polls = [r for r in calls if r["job_id"] == job_id and r["method"] == "GET"]
    assert polls[-1]["time"] >= end  # polled until the job ended
    # the polls went on with the refreshed tokens (valid when used, see above): a token lasts 20 s,
    # so polls spanning S seconds used at least ceil(S / 20) of them
    span = polls[-1]["time"] - polls[0]["time"]
    used = {r["token"] for r in polls}
    assert span > 2 * TOKEN_LIFETIME and len(used) >= math.ceil(span / TOKEN_LIFETIME), (span, used)
    assert scenario.ti(dag_id)["try_number"] == 1


# ------------------------------------------------------------------------------------------ 3. STS session


def test_assumed_role_session_is_refreshed_during_a_deferred_wait(scenario: Scenario):
    dag_id = "e2e_cred_sfn_role_expiry"
    run = scenario.wait(dag_id)
    assert run["state"] == "success", scenario.api.task_states(dag_id, scenario.run_id(dag_id))
    arn = scenario.xcom(dag_id, "execution_arn")
    execution = scenario.sandbox.describe_execution(arn)
    assert execution["status"] == "SUCCEEDED"
    assert execution["stopDate"] - execution["startDate"] >= EXPIRY_EXECUTION_SECONDS - 1
    assert scenario.watcher.kwargs_with(arn), "the execution was not waited for in the triggerer"
    # sandbox.sts_calls() is cleared before every test (_clean_sandbox): the recorder kept them all
    assumed = [e for e in scenario.recorder.sts("AssumeRole") if e["role_session_name"] == EXPIRY_SESSION]
    assert len(assumed) >= 2 and all(e["status"] == 200 for e in assumed), assumed
    for e in assumed:
        # the sandbox shortened them (its Expiration is rounded up to a whole second)
        assert e["expiration"] - e["time"] <= STS_SESSION_SECONDS + 2
    during = [e for e in assumed if execution["startDate"] < e["time"] < execution["stopDate"]]
    assert during, "no AssumeRole during the wait"
    expiry = {e["issued_access_key"]: e["expiration"] for e in assumed}
    calls = scenario.recorder.for_execution(arn)
    polls = [e for e in calls if e["resource"] == "describe-execution"]
    # a poll signed just before the refresh margin (4 s of a 20 s session) may reach the gateway
    # after its session expired on a loaded machine: it is refused (403) and sent once more with
    # a new session - allowed, as long as that is rare and the next poll is answered
    refused = [e for e in calls if e["status"] != 200]
    assert all(e["status"] == 403 and e["resource"] == "describe-execution" for e in refused), refused
    assert len(refused) <= max(1, len(polls) // 4), refused
    for e in refused:
        later = [p for p in polls if p["time"] > e["time"]]
        assert later and later[0]["status"] == 200 and later[0]["access_key"] != e["access_key"], (e, later[:1])
    answered = [e for e in polls if e["status"] == 200]
    # each answered poll was signed with a session of this credential that had not expired yet
    assert all(e["access_key"] in expiry and e["time"] < expiry[e["access_key"]] for e in answered)
    assert len({e["access_key"] for e in answered}) >= 2
    assert answered[-1]["time"] > min(expiry.values())  # the wait outlived the first session


# ------------------------------------------------------------------------------------------ 4. revoked client


def test_revoked_client_fails_with_end_code_10_naming_the_credential(scenario: Scenario):
    dag_id = "e2e_cred_oauth2_revoked"
    run = scenario.wait(dag_id)
    assert run["state"] == "failed"
    ti = scenario.ti(dag_id)
    assert ti["state"] == "failed" and ti["try_number"] == 1
    log = scenario.log(dag_id)
    assert "end code 10" in log and REVOKED_CREDENTIAL in log, log[-3000:]
    client_id, client_secret = scenario.revoked_client
    assert client_secret not in log
    rejected = [t for t in scenario.auth_api.token_requests() if t["client_id"] == client_id]
    assert rejected and all(t["status"] == 401 and t["error"] == "invalid_client" for t in rejected)
    # nothing was started: no job of this run, no job id in XCom
    run_id = scenario.run_id(dag_id)
    started = [
        j for j in scenario.auth_api.jobs() if (scenario.auth_api.job(j)["input"] or {}).get("run") == run_id
    ]
    assert started == []
    assert scenario.xcom_or_none(dag_id, "job_id") is None


# ------------------------------------------------------------------------------------------ 5. cancellation


@pytest.mark.parametrize("kind", ["oauth2", "basic"])
def test_marking_a_deferred_task_failed_cancels_with_the_same_credential(scenario: Scenario, kind: str):
    dag_id = f"e2e_cred_cancel_{kind}"
    _credential, scheme = KINDS[kind]
    api, auth_api = scenario.api, scenario.auth_api
    run_id = scenario.run_id(dag_id)
    retry_5xx(api.wait_task_state, dag_id, run_id, "run", "deferred", timeout=240)
    job_id = wait_until(lambda: scenario.xcom_or_none(dag_id, "job_id"), 60, "the job id in XCom")
    wait_until(lambda: auth_api.job(job_id)["polls"] > 0, 90, f"the first poll of {job_id}")
    wait_until(lambda: scenario.watcher.kwargs_with(job_id), 30, f"the trigger row of {job_id}")
    assert auth_api.job(job_id)["status"] == "RUNNING"
    marked = time.time()
    retry_5xx(api.set_task_state, dag_id, run_id, "run", "failed")
    cancels = wait_until(lambda: auth_api.cancels(job_id), 60, f"the cancel request of {job_id}")
    assert cancels[0]["scheme"] == scheme and cancels[0]["status_before"] == "RUNNING"
    assert cancels[0]["time"] >= marked
    assert auth_api.job(job_id)["status"] == "CANCELLED"
    calls = [r for r in auth_api.request_log() if r["job_id"] == job_id]
    cancel_calls = [r for r in calls if r["path"].endswith("/cancel")]
    assert cancel_calls and all(r["status"] == 200 for r in cancel_calls), cancel_calls
    assert all(r["status"] in (200, 201) for r in calls), [r for r in calls if r["status"] not in (200, 201)]
    if kind == "oauth2":
        assert all(r["token"] is not None and not r["expired"] for r in cancel_calls)
    assert retry_5xx(api.wait_run, dag_id, run_id, timeout=60)["state"] == "failed"


# ------------------------------------------------------------------------------------------ 6. no leaks


def collect_secrets(scenario: Scenario) -> dict[str, str]:
    """label -> secret: every secret of every type the runs had (and what STS / the token endpoints issued)."""
    out: dict[str, str] = {}
    for name, api in (("auth", scenario.auth_api), ("lifetime", scenario.lifetime_api)):
        out.update(variants(f"{name} basic password", api.basic_password))
        out[f"{name} basic header (base64 user:password)"] = b64(f"{api.basic_user}:{api.basic_password}")
        out.update(variants(f"{name} bearer token", api.bearer_token))
        out.update(variants(f"{name} OAuth2 client secret", api.client_secret))
        out[f"{name} OAuth2 client basic header"] = b64(f"{api.client_id}:{api.client_secret}")
        out.update(variants(f"{name} api key", api.api_key))
        out.update(variants(f"{name} query key", api.query_key))
        for token, record in list(api._tokens.items()):  # noqa: SLF001 - the issued access tokens
            out.update(variants(f"{name} access token #{record.index}", token))
    client_id, client_secret = scenario.revoked_client
    out.update(variants("revoked client secret", client_secret))
    out["revoked client basic header"] = b64(f"{client_id}:{client_secret}")
    sandbox = scenario.sandbox
    static = {
        sandbox.invoke_credentials.access_key,
        sandbox.noinvoke_credentials.access_key,
        sandbox.temporary_credentials.access_key,  # other tests' (test_connection_type): not ours
    }
    out.update(variants("sandbox source secret key (invoke)", sandbox.invoke_credentials.secret_key))
    out.update(variants("sandbox source secret key (noinvoke)", sandbox.noinvoke_credentials.secret_key))
    for access_key, identity in list(sandbox.identities.items()):
        if access_key in static:
            continue
        out.update(variants(f"STS secret key of {access_key}", identity.credentials.secret_key))
        if identity.credentials.session_token:
            out.update(variants(f"STS session token of {access_key}", identity.credentials.session_token))
    out["web identity token"] = scenario.token_file.read_text().strip()
    return out


def test_no_secret_in_anything_the_runs_wrote(scenario: Scenario):
    for dag_id in DAG_IDS:
        assert scenario.wait(dag_id)["state"] in ("success", "failed")
    time.sleep(3)  # the triggerer and the scheduler write their last lines
    scenario.watcher.read_once()
    secrets_ = collect_secrets(scenario)
    issued_sts = [k for k in secrets_ if k.startswith("STS session token of") and "(" not in k]
    issued_tokens = [k for k in secrets_ if "access token #" in k and "(" not in k]
    assert len(issued_sts) >= 4 and len(issued_tokens) >= 8, (issued_sts, issued_tokens)
    needles = Needles(secrets_)
    home = scenario.af.home

    file_hits, contents = scan_files(home, needles)
    db_hits, rows = scan_sqlite(scenario.db, scenario.fernet_key, needles, skip=[("connection", "password")])
    trigger_hits = scenario.watcher.scan(needles)

    # the scans saw what the runs wrote: every job id / execution ARN in some task log file, the
    # XCom and task rows in the database, the trigger rows (decrypted) of the deferred waits
    logs = b"\n".join(data for path, data in contents.items() if (home / "logs") in path.parents)
    for dag_id in DAG_IDS:
        if dag_id == "e2e_cred_oauth2_revoked":
            continue
        key = "execution_arn" if "_sfn_" in dag_id else "job_id"
        job_id = scenario.xcom(dag_id, key)
        assert job_id.encode() in logs, f"{job_id} ({dag_id}) in no log file under {home}"
    assert rows.get("xcom", 0) >= len(DAG_IDS) and rows.get("task_instance", 0) >= len(DAG_IDS)
    assert rows.get("rendered_task_instance_fields", 0) >= 3  # the Step Functions tasks' template fields
    captured = [r["id"] for r in scenario.watcher.rows.values() if r["clear"]]
    assert len(captured) >= 12, captured  # the 12 deferred waits

    # credentials are connections: secrets only in the (encrypted) password column, never the extra
    names = [s["name"] for s in scenario.statements]
    extras = decrypted_column(scenario.db, scenario.fernet_key, "connection", "conn_id", "extra")
    passwords = decrypted_column(scenario.db, scenario.fernet_key, "connection", "conn_id", "password")
    extra_hits = []
    for name in names:
        assert name in extras and extras[name] is not None, f"{name}: extra not encrypted or missing"
        extra_hits += [f"{label} in connection {name} extra" for label in needles.find(extras[name])]
    apikey = json.loads(passwords["sandbox_apikey"])  # by design: the key/value secrets are the password
    assert apikey == {
        "headers": {"x-api-key": scenario.auth_api.api_key},
        "query": {"code": scenario.auth_api.query_key},
    }
    assert (
        "x-api-key" not in extras["sandbox_apikey"]
        and scenario.auth_api.api_key not in extras["sandbox_apikey"]
    )

    hits = [str(h) for h in file_hits + db_hits + trigger_hits] + extra_hits
    assert hits == [], (
        f"{len(hits)} secret occurrences ({len(needles)} secrets, {len(contents)} files):\n"
        + "\n".join(sorted(set(hits))[:100])
    )
