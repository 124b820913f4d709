"""The embedded sandbox: moto Step Functions + the SigV4-verifying gateway, as a context manager."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import tempfile
import threading
from collections.abc import Iterable
from typing import Any

from . import backend, sts
from .express import SYNC_SECONDS, ExpressExecutions
from .faults import EXTRA_RESOURCES, Faults, Quota, RequestLog
from .gateway import Gateway
from .redrive import WINDOW_SECONDS, Redrives
from .sigv4 import Credentials, Identity, SigV4Verifier

API_ID = "rstjbsbx01"

INVOKE_CREDENTIALS = Credentials("AKIARESTJOBINVOKE001", "sandboxInvokeSecretKey0000000000000000000")
NOINVOKE_CREDENTIALS = Credentials("AKIARESTJOBNOINVOKE1", "sandboxNoInvokeSecretKey0000000000000000")
TEMPORARY_ACCESS_KEY = "ASIARESTJOBTEMPCREDS"


def _epoch(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _epoch(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_epoch(v) for v in value]
    return value


class Sandbox:
    """A local API Gateway (AWS_IAM auth) in front of moto's Step Functions that really runs executions,
    plus STS (:attr:`sts_url`) and the direct Step Functions API (:attr:`states_url`).

    The gateway serves ``start-execution``, ``describe-execution`` and ``stop-execution``, and the
    opt-in ``redrive-execution``, ``get-execution-history`` and ``start-sync-execution``
    (``extra_resources`` / :meth:`set_extra_resources`). Express workflows (the ``express_succeed`` /
    ``express_fail`` examples) and StartSyncExecution are emulated over moto (``express.py``): a
    synchronous execution answers TIMED_OUT after ``express_sync_seconds`` (AWS: 300,
    :meth:`set_express_sync_seconds`).

    Use as a context manager (or call :meth:`start` / :meth:`stop`). Everything binds to 127.0.0.1.
    """

    def __init__(
        self,
        port: int = 0,
        moto_port: int = 0,
        stage: str = "stage",
        region: str = "us-east-1",
        state_machine_wait_seconds: float = 3,
        error_mapping: str = "default",
        sts_port: int = 0,
        sts_session_seconds: float | None = 900.0,
        states_port: int = 0,
        redrive_seconds: float | None = None,
        extra_resources: Iterable[str] = (),
        express_sync_seconds: float = SYNC_SECONDS,
    ) -> None:
        if error_mapping not in ("default", "4xx"):
            raise ValueError("error_mapping must be 'default' or '4xx'")
        self.port = port
        self.sts_port = sts_port
        self.states_port = states_port
        # RedriveExecution emulation (moto has none): a redriven execution runs this long (default:
        # state_machine_wait_seconds), then ends as configure_redrive() says (SUCCEEDED by default).
        self.redrives = Redrives(
            state_machine_wait_seconds if redrive_seconds is None else redrive_seconds, WINDOW_SECONDS
        )
        # Express workflows and StartSyncExecution (moto has neither): see express.py.
        self.express = ExpressExecutions(express_sync_seconds)
        # Gateway resources served on top of start/describe/stop-execution (faults.EXTRA_RESOURCES).
        self.extra_resources: set[str] = set()
        self.set_extra_resources(extra_resources)
        self.sts_session_seconds: float | None = None
        self.set_sts_session_seconds(sts_session_seconds)
        self.moto_port = moto_port
        self.stage = stage
        self.region = region
        self.state_machine_wait_seconds = state_machine_wait_seconds
        self.error_mapping = error_mapping
        self.account_id = backend.ACCOUNT_ID
        self.role_arn = f"arn:aws:iam::{self.account_id}:role/{backend.INVOKE_ROLE_NAME}"
        # When set, AssumeRole without this ExternalId is AccessDenied (as a role trust policy's
        # sts:ExternalId condition would have it).
        self.require_external_id: str | None = None
        self.web_identity_key = secrets.token_bytes(32)  # signs the web identity tokens (HS256)
        self.invoke_credentials = INVOKE_CREDENTIALS
        self.noinvoke_credentials = NOINVOKE_CREDENTIALS
        self.temporary_credentials = Credentials(
            TEMPORARY_ACCESS_KEY,
            secrets.token_urlsafe(30)[:40],
            "IQoJb3JpZ2luX2VjE" + secrets.token_urlsafe(96),
        )
        self.identities = {
            c.access_key: Identity(c, arn, can_invoke)
            for c, arn, can_invoke in (
                (self.invoke_credentials, f"arn:aws:iam::{self.account_id}:user/restjob-invoker", True),
                (self.noinvoke_credentials, f"arn:aws:iam::{self.account_id}:user/restjob-readonly", False),
                (
                    self.temporary_credentials,
                    f"arn:aws:sts::{self.account_id}:assumed-role/restjob-invoke-role/sandbox-session",
                    True,
                ),
            )
        }
        self.faults = Faults()
        self.quota = Quota()
        self._log = RequestLog()
        self.state_machines: dict[str, str] = {}
        self._gateway: Gateway | None = None
        self._moto: backend.MotoProcess | None = None
        self._lock = threading.Lock()
        self._sfn: Any = None
        self.moto_url = ""
        self.queue_url = ""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Sandbox:
        with self._lock:
            if self._gateway is not None:
                return self
            try:
                self._moto = backend.MotoProcess(self.moto_port)
                self.moto_port = self._moto.start()
                self.moto_url = backend.moto_url(self.moto_port)
                backend.enable_execution(self.moto_url)
                self._sfn = backend.client("stepfunctions", self.moto_url, self.region)
                self.queue_url = backend.ensure_resources(self.moto_url, self.region)
                backend.ensure_invoke_role(self.moto_url, self.region)
                for name, definition in backend.example_definitions(
                    self.state_machine_wait_seconds, self.queue_url
                ).items():
                    self.state_machines[name] = backend.create_state_machine(
                        self._sfn, name, definition, backend.example_type(name)
                    )
                gateway = Gateway(
                    self,
                    stage=self.stage,
                    region=self.region,
                    account_id=self.account_id,
                    api_id=API_ID,
                    moto_url=self.moto_url,
                    verifier=self._verifier("execute-api"),
                    sts_verifier=self._verifier("sts"),
                    sts_port=self.sts_port,
                    states_verifier=self._verifier("states"),
                    states_port=self.states_port,
                    redrives=self.redrives,
                    express_executions=self.express,
                    extra_resources=self.extra_resources,
                    faults=self.faults,
                    quota=self.quota,
                    request_log=self._log,
                    error_mapping=self.error_mapping,
                    port=self.port,
                )
                self.port = gateway.start()
                self.sts_port = gateway.sts_port
                self.states_port = gateway.states_port
                self._gateway = gateway
            except BaseException:
                self._release_moto()
                raise
        return self

    def _verifier(self, service: str) -> SigV4Verifier:
        verifier = SigV4Verifier({}, self.region, service)
        verifier.identities = self.identities  # shared: credentials STS issues are known to both
        return verifier

    def stop(self) -> None:
        with self._lock:
            gateway, self._gateway = self._gateway, None
            if gateway is not None:
                gateway.stop()
            self._release_moto()

    def _release_moto(self) -> None:
        moto, self._moto = self._moto, None
        if moto is not None:
            moto.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses and connections

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.stage}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/_sandbox"

    @property
    def sts_url(self) -> str:
        """STS endpoint (``endpoint_url`` of a botocore ``sts`` client): AssumeRole (SigV4, service
        ``sts``), AssumeRoleWithWebIdentity (unsigned), GetCallerIdentity, served by moto's STS."""
        return f"http://127.0.0.1:{self.sts_port}"

    @property
    def states_url(self) -> str:
        """The Step Functions API itself (``endpoint_url`` of a botocore ``stepfunctions`` client, like
        ``https://states.{region}.amazonaws.com``): ``POST /``, ``X-Amz-Target: AWSStepFunctions.<Action>``,
        SigV4 service ``states``, the same identities as the gateway."""
        return f"http://127.0.0.1:{self.states_port}"

    def set_extra_resources(self, names: Iterable[str]) -> None:
        """Serve exactly these extra gateway resources (``redrive-execution``, ``get-execution-history``,
        ``start-sync-execution``) besides start/describe/stop-execution; applies to the running gateway
        at once."""
        wanted = set(names)
        unknown = wanted - set(EXTRA_RESOURCES)
        if unknown:
            raise ValueError(f"unknown extra resources {sorted(unknown)}; expected some of {EXTRA_RESOURCES}")
        self.extra_resources.clear()  # in place: the gateway holds this very set
        self.extra_resources.update(wanted)

    # ------------------------------------------------------------------ Express emulation

    def set_express_sync_seconds(self, seconds: float) -> None:
        """StartSyncExecution answers TIMED_OUT (error ``States.Timeout``) when the Express execution
        is still running after this long (default 300, AWS's limit); applies at once."""
        self.express.set_sync_seconds(seconds)

    @property
    def express_sync_seconds(self) -> float:
        return self.express.sync_seconds

    # ------------------------------------------------------------------ redrive emulation

    def configure_redrive(
        self,
        seconds: float | None = None,
        status: str | None = None,
        output: str | None = None,
        error: str | None = None,
        cause: str | None = None,
        window_seconds: float | None = None,
    ) -> dict[str, Any]:
        """How redrives started from now on go: RUNNING for ``seconds``, then ``status`` SUCCEEDED
        (``output`` JSON text; default the input of the state the execution had failed in), FAILED or
        TIMED_OUT (``error`` / ``cause``; default the original ones). ``window_seconds``: how long after
        its end an execution stays redrivable (14 days). Returns the settings."""
        return self.redrives.configure(seconds, status, output, error, cause, window_seconds)

    # ------------------------------------------------------------------ STS and temporary credentials

    def set_sts_session_seconds(self, seconds: float | None) -> None:
        """Sessions STS issues from now on last at most this long (None: DurationSeconds, default 3600)."""
        if seconds is not None and not seconds > 0:
            raise ValueError("sts_session_seconds must be > 0 (or None)")
        self.sts_session_seconds = None if seconds is None else float(seconds)

    def register_temporary(self, credentials: Credentials, arn: str, expires_at: float) -> Identity:
        """Make temporary credentials an identity that may invoke the API until ``expires_at`` (epoch)."""
        identity = Identity(credentials, arn, True, expires_at)
        self.identities[credentials.access_key] = identity
        return identity

    def web_identity_token(self, lifetime: float = 3600.0, subject: str = sts.WEB_IDENTITY_SUBJECT) -> str:
        """A JWT (like a Kubernetes service account token) that AssumeRoleWithWebIdentity accepts."""
        return sts.make_web_identity_token(self.web_identity_key, lifetime, subject)

    def write_web_identity_token(self, path: str | os.PathLike[str], lifetime: float = 3600.0) -> str:
        """Write (or rotate) a web identity token file atomically, as the platform would; returns the path."""
        target = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(target))
        fd, tmp = tempfile.mkstemp(prefix=".token-", dir=directory)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(self.web_identity_token(lifetime))
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return target

    def states_statement(self, name: str = "sandbox_states") -> dict[str, Any]:
        """An ``aws_sigv4`` credential statement for the direct Step Functions API (``states_url``)."""
        source = self.invoke_credentials
        return {
            "name": name,
            "authType": "aws_sigv4",
            "accessKeyId": source.access_key,
            "secretAccessKey": source.secret_key,
            "region": self.region,
            "service": "states",
            "baseUrl": self.states_url,
        }

    def statements(
        self, web_identity_token_file: str | None = None, base_name: str = "sandbox"
    ) -> list[dict[str, Any]]:
        """``aws_sigv4`` credential statements for ``airflow-restjob credentials add``: static keys,
        AssumeRole from them, and (given a token file, see :meth:`write_web_identity_token`) web identity."""
        source = self.invoke_credentials
        out: list[dict[str, Any]] = [
            {
                "name": f"{base_name}_aws",
                "authType": "aws_sigv4",
                "accessKeyId": source.access_key,
                "secretAccessKey": source.secret_key,
                "region": self.region,
                "baseUrl": self.base_url,
            },
            {
                "name": f"{base_name}_aws_role",
                "authType": "aws_sigv4",
                "accessKeyId": source.access_key,
                "secretAccessKey": source.secret_key,
                "roleArn": self.role_arn,
                "roleSessionName": "restjob",
                "stsEndpoint": self.sts_url,
                "region": self.region,
                "baseUrl": self.base_url,
            },
        ]
        if web_identity_token_file is not None:
            out.append(
                {
                    "name": f"{base_name}_aws_web_identity",
                    "authType": "aws_sigv4",
                    "roleArn": self.role_arn,
                    "webIdentityTokenFile": web_identity_token_file,
                    "stsEndpoint": self.sts_url,
                    "region": self.region,
                    "baseUrl": self.base_url,
                }
            )
        return out

    def sts_calls(self) -> list[dict[str, Any]]:
        """The request-log entries of STS calls (action, role, session name, expiration; no secrets)."""
        return [e for e in self._log.entries() if e["resource"] == "sts"]

    def states_calls(self) -> list[dict[str, Any]]:
        """The request-log entries of the direct Step Functions API (``resource`` ``"states"``)."""
        return [e for e in self._log.entries() if e["resource"] == "states"]

    def connection_json(
        self, conn_id: str = "restjob_default", credentials: Credentials | None = None
    ) -> str:
        """JSON for ``AIRFLOW_CONN_<CONN_ID>`` (conn_id only names the variable; it is not in the JSON)."""
        return connection_json(self.base_url, self.region, credentials or self.invoke_credentials)

    def export_line(self, conn_id: str = "restjob_default", credentials: Credentials | None = None) -> str:
        return f"export AIRFLOW_CONN_{conn_id.upper()}='{self.connection_json(conn_id, credentials)}'"

    def info(self) -> dict[str, Any]:
        def creds(c: Credentials) -> dict[str, Any]:
            return {"access_key": c.access_key, "secret_key": c.secret_key, "session_token": c.session_token}

        return {
            "base_url": self.base_url,
            "admin_url": self.admin_url,
            "region": self.region,
            "stage": self.stage,
            "moto_url": self.moto_url,
            "sts_url": self.sts_url,
            "states_url": self.states_url,
            "extra_resources": sorted(self.extra_resources),
            "redrive": self.redrives.state(),
            "express": self.express.state(),
            "role_arn": self.role_arn,
            "sts_session_seconds": self.sts_session_seconds,
            "api_id": API_ID,
            "account_id": self.account_id,
            "error_mapping": self.error_mapping,
            "credentials": {
                "invoke": creds(self.invoke_credentials),
                "noinvoke": creds(self.noinvoke_credentials),
                "temporary": creds(self.temporary_credentials),
            },
            "identities": {i.access_key: i.arn for i in list(self.identities.values())},
            "connection_json": self.connection_json(),
            "state_machines": dict(self.state_machines),
            "dynamodb_table": backend.RESERVATIONS_TABLE,
            "sqs_queue_url": self.queue_url,
        }

    # ------------------------------------------------------------------ state machines and executions

    def state_machine_arn(self, name: str) -> str:
        return self.state_machines[name]

    def create_state_machine(
        self, name: str, definition: dict[str, Any], machine_type: str = "STANDARD"
    ) -> str:
        """Create a state machine in moto (``machine_type`` STANDARD or EXPRESS); returns its ARN."""
        self._require_started()
        arn = backend.create_state_machine(self._sfn, name, definition, machine_type)
        self.state_machines[name] = arn
        return arn

    def describe_execution(self, arn: str) -> dict[str, Any]:
        """DescribeExecution straight against moto (no gateway, no log, no faults), dates as epoch
        floats, with the redrive emulation laid over it (status, redriveCount, redriveStatus, ...).
        An Express ARN the sandbox gave is described by moto's execution of it (its ``:execution:``
        ARN; AWS describes no Express execution)."""
        self._require_started()
        result = self._sfn.describe_execution(executionArn=self.express.moto_arn(arn) or arn)
        result.pop("ResponseMetadata", None)
        return self.redrives.overlay(_epoch(result))

    def list_executions(self, state_machine_arn: str) -> list[dict[str, Any]]:
        self._require_started()
        pages = self._sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn)
        return [self.redrives.overlay_item(_epoch(e)) for page in pages for e in page["executions"]]

    def aws_client(self, service: str) -> Any:
        """A boto3 client for moto itself (e.g. ``dynamodb`` / ``sqs`` to check what rental_car wrote)."""
        self._require_started()
        return backend.client(service, self.moto_url, self.region)

    def _require_started(self) -> None:
        if self._sfn is None:
            raise RuntimeError("the sandbox is not started")

    # ------------------------------------------------------------------ request log

    def request_log(self) -> list[dict[str, Any]]:
        return self._log.entries()

    def stops_for(self, arn: str) -> list[dict[str, Any]]:
        """Request-log entries of StopExecution calls for ``arn``: gateway and direct API alike."""
        return [e for e in self._log.entries() if _is_stop(e) and e["execution_arn"] == arn]

    def clear_log(self) -> None:
        self._log.clear()


def _is_stop(entry: dict[str, Any]) -> bool:
    return entry["resource"] == "stop-execution" or (
        entry["resource"] == "states" and entry.get("action") == "StopExecution"
    )


def connection_json(base_url: str, region: str, credentials: Credentials) -> str:
    extra: dict[str, Any] = {"region": region}
    if credentials.session_token:
        extra["session_token"] = credentials.session_token
    return json.dumps(
        {
            "conn_type": "restjob",
            "host": base_url,
            "login": credentials.access_key,
            "password": credentials.secret_key,
            "extra": extra,
        }
    )
