"""Start and drive a REAL local Airflow 3 (api-server, scheduler, dag-processor, triggerers).

Used by the demo command and by the end-to-end tests::

    from tests.harness.local_airflow import LocalAirflow

    with LocalAirflow(home=tmp / "airflow", dags_folder=Path("dags")) as af:
        api = af.client                       # RestApiClient, logged in as admin/admin
        api.wait_for_dag("my_dag")
        api.unpause("my_dag")
        run_id = api.trigger("my_dag")
        run = api.wait_run("my_dag", run_id, timeout=120)

Every component runs as ``[python, "-m", "airflow", ...]`` with the given interpreter (so the
right virtualenv is used), in its own session (process group), bound to 127.0.0.1 only, with
stdout/stderr in ``<home>/logs/<component>.log``. Configuration is passed through environment
variables only (``AIRFLOW__SECTION__KEY``); the parent's ``AIRFLOW_*`` variables are NOT inherited,
pass what you need in ``env``. Every process carries a marker in its environment, so ``stop()``
finds and kills all of them (including task processes that moved to their own process group),
and the next start on the same home kills leftovers of a crashed previous run.

Works with Airflow 3.1 and later (checked on 3.1.8 and 3.3.2).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import requests

__all__ = [
    "LocalAirflow",
    "LocalAirflowError",
    "RestApiClient",
    "RestApiError",
    "free_port",
]

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str], None]

_SESSION_ENV = "LOCAL_AIRFLOW_SESSION"
_COMPONENT_ENV = "LOCAL_AIRFLOW_COMPONENT"
_HOSTNAME_ENV = "LOCAL_AIRFLOW_HOSTNAME"
_HOSTNAME_MODULE = "_local_airflow_hostname"

# job_type in the ``job`` table for each kind of component (api-server has no job).
_JOB_TYPES = {"scheduler": "SchedulerJob", "dag-processor": "DagProcessorJob", "triggerer": "TriggererJob"}
# Keys repeated on every structured task log line; task_log() leaves them out.
_LOG_CONTEXT_KEYS = (
    "logger",
    "map_index",
    "ti_id",
    "task_id",
    "try_number",
    "run_id",
    "dag_id",
    "filename",
    "lineno",
    "loc",
    "ti",
)
# Stop order: scheduler first (it stops handing out work), api-server last (tasks talk to it).
_STOP_ORDER = ["scheduler", "triggerer", "dag-processor", "api-server"]


class LocalAirflowError(RuntimeError):
    """The local Airflow could not be started, or a component misbehaved."""


class RestApiError(RuntimeError):
    """An Airflow REST API call failed."""

    def __init__(self, message: str, status_code: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _tail(path: Path, lines: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 200 * lines))
            text = f.read().decode(errors="replace")
    except OSError as e:
        return f"<cannot read {path}: {e}>"
    return "\n".join(text.splitlines()[-lines:])


def _alive(p: Any) -> bool:
    """psutil process exists and is not a zombie."""
    import psutil

    try:
        return bool(p.is_running() and p.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _wait_gone(procs: Iterable[Any], timeout: float) -> list[Any]:
    """Wait until the processes are gone (or zombies); return those still alive."""
    deadline = time.monotonic() + timeout
    left = [p for p in procs if _alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = [p for p in left if _alive(p)]
    return left


def _default_progress(message: str) -> None:
    log.info("%s", message)


# ====================================================================================== REST client


class RestApiClient:
    """A small Airflow REST API v2 client (SimpleAuthManager / any auth manager with /auth/token).

    :param base_url: e.g. ``http://127.0.0.1:8080`` (no ``/api/v2``).
    :param progress: called with a human-readable line whenever something waited on changes.
    """

    def __init__(
        self,
        base_url: str,
        username: str = "admin",
        password: str = "admin",
        *,
        request_timeout: float = 30.0,
        poll_interval: float = 0.5,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.request_timeout = request_timeout
        self.poll_interval = poll_interval
        self.progress = progress or _default_progress
        self.session = requests.Session()
        self._token: str | None = None

    # ------------------------------------------------------------------ plumbing
    @property
    def api(self) -> str:
        return f"{self.base_url}/api/v2"

    def token(self, refresh: bool = False) -> str:
        """JWT from ``POST /auth/token`` (cached)."""
        if self._token is None or refresh:
            resp = self.session.post(
                f"{self.base_url}/auth/token",
                json={"username": self.username, "password": self.password},
                timeout=self.request_timeout,
            )
            if resp.status_code not in (200, 201):
                raise RestApiError(
                    f"POST /auth/token -> {resp.status_code}: {resp.text[:500]}", resp.status_code, resp.text
                )
            self._token = resp.json()["access_token"]
        assert self._token is not None
        return self._token

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        expected: Iterable[int] = (200, 201, 204),
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Authenticated call; ``path`` is relative to ``/api/v2`` unless it starts with ``/``."""
        url = (
            path
            if path.startswith("http")
            else (self.base_url + path if path.startswith("/") else f"{self.api}/{path}")
        )
        for attempt in (0, 1):
            hdrs = {
                "Authorization": f"Bearer {self.token(refresh=attempt > 0)}",
                "Accept": "application/json",
            }
            if headers:
                hdrs.update(headers)
            resp = self.session.request(
                method, url, json=json_body, params=params, headers=hdrs, timeout=self.request_timeout
            )
            if resp.status_code == 401 and attempt == 0:
                continue
            break
        if resp.status_code not in tuple(expected):
            try:
                body: Any = resp.json()
            except ValueError:
                body = resp.text
            raise RestApiError(
                f"{method} {url} -> {resp.status_code}: {str(body)[:1000]}", resp.status_code, body
            )
        return resp

    def get_json(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None).json()

    @staticmethod
    def _q(value: str) -> str:
        return quote(value, safe="")

    def _ti_path(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
        path = f"dags/{self._q(dag_id)}/dagRuns/{self._q(run_id)}/taskInstances/{self._q(task_id)}"
        return path if map_index is None or map_index < 0 else f"{path}/{map_index}"

    def _wait(
        self,
        what: str,
        probe: Callable[[], tuple[bool, str, Any]],
        timeout: float,
        on_timeout: Callable[[], str] | None = None,
    ) -> Any:
        """Poll ``probe`` -> (done, status_text, value) until done; report status changes."""
        deadline = time.monotonic() + timeout
        start = time.monotonic()
        last_status: str | None = None
        while True:
            done, status, value = probe()
            if status != last_status:
                self.progress(f"{what}: {status} ({time.monotonic() - start:.1f}s)")
                last_status = status
            if done:
                return value
            if time.monotonic() > deadline:
                extra = ""
                if on_timeout is not None:
                    with contextlib.suppress(Exception):
                        extra = "\n" + on_timeout()
                raise TimeoutError(
                    f"Timed out after {timeout:.0f}s waiting for {what} (last: {status}){extra}"
                )
            time.sleep(self.poll_interval)

    # ------------------------------------------------------------------ monitor / jobs
    def health(self) -> dict[str, Any]:
        """``GET /api/v2/monitor/health`` (no auth needed)."""
        resp = self.session.get(f"{self.api}/monitor/health", timeout=self.request_timeout)
        resp.raise_for_status()
        return resp.json()

    def version(self) -> dict[str, Any]:
        return self.get_json("version")

    def jobs(
        self,
        job_type: str | None = None,
        *,
        alive: bool | None = None,
        running_only: bool = True,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Jobs (``SchedulerJob``, ``TriggererJob``, ``DagProcessorJob``), newest first."""
        params: dict[str, Any] = {"order_by": "-id", "limit": limit}
        if job_type:
            params["job_type"] = job_type
        if running_only:
            params["job_state"] = "running"
        if alive is not None:
            params["is_alive"] = str(alive).lower()
        return self.get_json("jobs", **params)["jobs"]

    # ------------------------------------------------------------------ dags
    def dag(self, dag_id: str) -> dict[str, Any]:
        """``GET /api/v2/dags/{dag_id}`` (has ``timetable_summary``, ``is_paused``, ...)."""
        return self.get_json(f"dags/{self._q(dag_id)}")

    def dag_details(self, dag_id: str) -> dict[str, Any]:
        return self.get_json(f"dags/{self._q(dag_id)}/details")

    def import_errors(self) -> list[dict[str, Any]]:
        """``GET /api/v2/importErrors`` -> list of ``{filename, stack_trace, ...}``."""
        return self.get_json("importErrors", limit=100)["import_errors"]

    def _format_import_errors(self, errors: list[dict[str, Any]]) -> str:
        return "\n".join(f"--- {e.get('filename')}:\n{e.get('stack_trace')}" for e in errors)

    def wait_for_dag(
        self,
        dag_id: str,
        timeout: float = 120.0,
        *,
        fail_on_import_error: bool | str = True,
        import_error_grace: float = 15.0,
    ) -> dict[str, Any]:
        """Wait until the dag-processor has parsed ``dag_id``; return the DAG.

        While the DAG is missing and there are import errors, raise :class:`LocalAirflowError` with
        their text once they have been there for ``import_error_grace`` seconds (other files may be
        parsed first), or at once when an import error's file name contains
        ``fail_on_import_error`` (a string). ``fail_on_import_error=False``: only wait.
        """
        first_seen: list[float] = []

        def relevant(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
            if fail_on_import_error is False:
                return []
            return errors

        def probe() -> tuple[bool, str, Any]:
            try:
                return True, "parsed", self.dag(dag_id)
            except RestApiError as e:
                if e.status_code != 404:
                    raise
            errors = relevant(self.import_errors())
            if not errors:
                first_seen.clear()
                return False, "not parsed yet", None
            if not first_seen:
                first_seen.append(time.monotonic())
            named = isinstance(fail_on_import_error, str) and any(
                fail_on_import_error in str(e.get("filename")) for e in errors
            )
            if named or time.monotonic() - first_seen[0] >= import_error_grace:
                raise LocalAirflowError(
                    f"DAG {dag_id!r} not found and there are import errors:\n{self._format_import_errors(errors)}"
                )
            return False, f"not parsed yet; {len(errors)} import error(s) in other files", None

        return self._wait(
            f"DAG {dag_id} parsed",
            probe,
            timeout,
            on_timeout=lambda: "import errors:\n" + self._format_import_errors(self.import_errors()),
        )

    def set_paused(self, dag_id: str, paused: bool) -> dict[str, Any]:
        return self.request("PATCH", f"dags/{self._q(dag_id)}", json_body={"is_paused": paused}).json()

    def unpause(self, dag_id: str) -> dict[str, Any]:
        return self.set_paused(dag_id, False)

    def pause(self, dag_id: str) -> dict[str, Any]:
        return self.set_paused(dag_id, True)

    # ------------------------------------------------------------------ dag runs
    def trigger(
        self,
        dag_id: str,
        run_id: str | None = None,
        conf: dict[str, Any] | None = None,
        *,
        logical_date: str | None = None,
        note: str | None = None,
    ) -> str:
        """Trigger a run (``logical_date`` null by default); return its run id."""
        body: dict[str, Any] = {"logical_date": logical_date, "conf": conf or {}}
        if run_id is None:
            run_id = f"manual__{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}_{uuid.uuid4().hex[:8]}"
        body["dag_run_id"] = run_id
        if note is not None:
            body["note"] = note
        resp = self.request("POST", f"dags/{self._q(dag_id)}/dagRuns", json_body=body)
        run = resp.json()
        self.progress(f"triggered {dag_id} run {run['dag_run_id']}")
        return run["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.get_json(f"dags/{self._q(dag_id)}/dagRuns/{self._q(run_id)}")

    def dag_runs(self, dag_id: str, limit: int = 100, order_by: str = "-id") -> list[dict[str, Any]]:
        return self.get_json(f"dags/{self._q(dag_id)}/dagRuns", limit=limit, order_by=order_by)["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.get_json(f"dags/{self._q(dag_id)}/dagRuns/{self._q(run_id)}/taskInstances", limit=1000)[
            "task_instances"
        ]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """``{task_id or task_id[map_index]: state}`` of a run."""
        out: dict[str, str | None] = {}
        for ti in self.task_instances(dag_id, run_id):
            key = ti["task_id"] if ti.get("map_index", -1) < 0 else f"{ti['task_id']}[{ti['map_index']}]"
            out[key] = ti.get("state")
        return out

    def wait_run(
        self,
        dag_id: str,
        run_id: str,
        states: Iterable[str] = ("success", "failed"),
        timeout: float = 300.0,
    ) -> dict[str, Any]:
        """Wait until the run is in one of ``states``; return the run. Reports task states."""
        wanted = set(states)

        def probe() -> tuple[bool, str, Any]:
            run = self.dag_run(dag_id, run_id)
            status = run["state"]
            if run["state"] not in wanted:
                with contextlib.suppress(RestApiError):
                    tis = self.task_states(dag_id, run_id)
                    status += " [" + ", ".join(f"{k}={v}" for k, v in sorted(tis.items())) + "]"
            return run["state"] in wanted, status, run

        return self._wait(
            f"run {dag_id}/{run_id} in {sorted(wanted)}",
            probe,
            timeout,
            on_timeout=lambda: f"task states: {self.task_states(dag_id, run_id)}",
        )

    # ------------------------------------------------------------------ task instances
    def task_instance(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        return self.get_json(self._ti_path(dag_id, run_id, task_id, map_index))

    def wait_task_state(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        states: Iterable[str] | str,
        timeout: float = 120.0,
        *,
        map_index: int = -1,
    ) -> dict[str, Any]:
        """Wait until the task instance is in one of ``states`` (use ``None`` for "no state")."""
        wanted = {states} if isinstance(states, str) or states is None else set(states)

        def probe() -> tuple[bool, str, Any]:
            try:
                ti = self.task_instance(dag_id, run_id, task_id, map_index)
            except RestApiError as e:
                if e.status_code == 404:
                    return False, "no task instance yet", None
                raise
            return ti.get("state") in wanted, f"state={ti.get('state')} try={ti.get('try_number')}", ti

        label = task_id if map_index < 0 else f"{task_id}[{map_index}]"
        return self._wait(f"task {dag_id}/{run_id}/{label} in {sorted(map(str, wanted))}", probe, timeout)

    def set_task_state(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        new_state: str,
        *,
        map_index: int = -1,
        note: str | None = None,
    ) -> Any:
        """Mark a task instance ``failed`` / ``success`` / ... (``PATCH``), like the UI does."""
        body: dict[str, Any] = {"new_state": new_state}
        if note is not None:
            body["note"] = note
        resp = self.request("PATCH", self._ti_path(dag_id, run_id, task_id, map_index), json_body=body)
        self.progress(f"set {dag_id}/{run_id}/{task_id} -> {new_state}")
        return resp.json()

    def clear_task(
        self,
        dag_id: str,
        run_id: str,
        task_ids: Iterable[str | tuple[str, int]] | str,
        *,
        include_downstream: bool = False,
        reset_dag_runs: bool = True,
    ) -> dict[str, Any]:
        """Clear task instances (a new try), ``dry_run=false only_failed=false``."""
        ids = (
            [task_ids]
            if isinstance(task_ids, str)
            else [list(t) if isinstance(t, tuple) else t for t in task_ids]
        )
        body = {
            "dry_run": False,
            "only_failed": False,
            "dag_run_id": run_id,
            "task_ids": ids,
            "include_downstream": include_downstream,
            "reset_dag_runs": reset_dag_runs,
        }
        resp = self.request("POST", f"dags/{self._q(dag_id)}/clearTaskInstances", json_body=body)
        self.progress(f"cleared {dag_id}/{run_id} {ids}")
        return resp.json()

    def xcom(
        self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", *, map_index: int = -1
    ) -> Any:
        """The XCom value as stored (JSON-native values come back as-is)."""
        path = f"{self._ti_path(dag_id, run_id, task_id)}/xcomEntries/{self._q(key)}"
        return self.get_json(path, map_index=map_index)["value"]

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, *, map_index: int = -1
    ) -> str:
        """The task's log as text (one line per structured log event)."""
        path = f"{self._ti_path(dag_id, run_id, task_id)}/logs/{try_number}"
        data = self.get_json(path, full_content="true", map_index=map_index)
        lines: list[str] = []
        for item in data.get("content") or []:
            if isinstance(item, str):
                lines.append(item)
                continue
            item = dict(item)
            if "sources" in item:  # log source header
                lines.append("::group::" + ", ".join(map(str, item.get("sources") or [])))
                continue
            ts = item.pop("timestamp", None) or ""
            level = item.pop("level", "")
            event = item.pop("event", "")
            for key in _LOG_CONTEXT_KEYS:
                item.pop(key, None)
            extras = " ".join(f"{k}={v}" for k, v in item.items())
            lines.append(
                " ".join(p for p in (str(ts), f"[{level}]" if level else "", str(event), extras) if p)
            )
        return "\n".join(lines)

    # ------------------------------------------------------------------ connections
    def get_connection(self, conn_id: str) -> dict[str, Any]:
        return self.get_json(f"connections/{self._q(conn_id)}")

    def create_connection(
        self,
        conn_id: str,
        conn_type: str,
        *,
        host: str | None = None,
        login: str | None = None,
        password: str | None = None,
        schema: str | None = None,
        port: int | None = None,
        extra: dict[str, Any] | str | None = None,
        description: str | None = None,
        replace: bool = False,
    ) -> dict[str, Any]:
        """Create (or with ``replace=True`` delete and re-create) a connection."""
        body: dict[str, Any] = {"connection_id": conn_id, "conn_type": conn_type}
        for k, v in (
            ("host", host),
            ("login", login),
            ("password", password),
            ("schema", schema),
            ("port", port),
            ("description", description),
        ):
            if v is not None:
                body[k] = v
        if extra is not None:
            body["extra"] = extra if isinstance(extra, str) else json.dumps(extra)
        if replace:
            self.delete_connection(conn_id, missing_ok=True)
        return self.request("POST", "connections", json_body=body).json()

    def delete_connection(self, conn_id: str, *, missing_ok: bool = False) -> None:
        expected = (204, 404) if missing_ok else (204,)
        self.request("DELETE", f"connections/{self._q(conn_id)}", expected=expected)

    # ------------------------------------------------------------------ variables
    def set_variable(self, key: str, value: Any) -> None:
        val = value if isinstance(value, str) else json.dumps(value)
        resp = self.request(
            "PATCH", f"variables/{self._q(key)}", json_body={"key": key, "value": val}, expected=(200, 404)
        )
        if resp.status_code == 404:
            self.request("POST", "variables", json_body={"key": key, "value": val})


# ===================================================================================== processes


class _Component:
    def __init__(self, name: str, kind: str, args: list[str], extra_env: dict[str, str]) -> None:
        self.name = name
        self.kind = kind
        self.args = args
        self.extra_env = extra_env
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at: datetime | None = None  # wall clock, to match job start_date
        self.log_file: Path | None = None
        self.paused = False
        self.pgid: int | None = None
        self.spawn_time = 0.0
        self.seen: dict[int, Any] = {}  # pid -> psutil.Process seen as part of this component


class LocalAirflow:
    """A real Airflow 3 on this machine: api-server, scheduler, dag-processor, N triggerers.

    :param home: ``AIRFLOW_HOME``; created if needed; re-using it is fine (``db migrate`` is
        idempotent, keys are kept in ``<home>/local_airflow_secrets.json``).
    :param dags_folder: ``[core] dags_folder``.
    :param env: extra environment for every component (``AIRFLOW_CONN_*``, ``AIRFLOW__X__Y``
        overrides...). Applied last, so it overrides the defaults set here.
    :param database_url: ``sql_alchemy_conn``; None -> SQLite ``<home>/airflow.db``.
    :param triggerers: number of triggerer processes (``triggerer-1`` ... ``triggerer-N``).
    :param executor: ``[core] executor``.
    :param python: interpreter of the virtualenv that has Airflow (and this provider).
    :param api_port: api-server port; a free one when None.
    :param triggerer_health_check_threshold: seconds after which a silent triggerer is dead and
        its triggers are reassigned (Airflow default 30).
    :param heartbeat_sec: job heartbeat of scheduler and triggerers.
    :param dag_dir_list_interval: how often the dag-processor looks for new files.
    :param min_file_process_interval: how often a file is re-parsed.
    :param parallelism: ``[core] parallelism`` (the LocalExecutor starts this many worker
        processes up front; Airflow's default 32 is a lot for a small machine).
    :param startup_timeout: seconds to wait for all components to be healthy.
    :param stop_timeout: seconds between SIGTERM and SIGKILL on stop.
    :param triggerer_hostnames: give triggerer ``i`` the hostname ``triggerer-i`` (the ``hostname``
        of its job row), so a trigger's ``triggerer_id`` can be mapped to a process.
    :param die_with_parent: components get SIGTERM when the thread that started them exits.
    :param handle_sigterm: as a context manager in the main thread, turn SIGTERM of this process
        into ``SystemExit`` so the components are stopped.
    :param progress: called with human-readable progress lines (default: logging).
    """

    def __init__(
        self,
        home: Path | str,
        dags_folder: Path | str,
        env: Mapping[str, str] | None = None,
        database_url: str | None = None,
        triggerers: int = 1,
        executor: str = "LocalExecutor",
        python: str = sys.executable,
        *,
        api_port: int | None = None,
        username: str = "admin",
        password: str = "admin",
        triggerer_health_check_threshold: float = 30,
        heartbeat_sec: float = 2,
        dag_dir_list_interval: int = 5,
        min_file_process_interval: int = 10,
        parallelism: int = 8,
        startup_timeout: float = 240.0,
        stop_timeout: float = 20.0,
        triggerer_hostnames: bool = True,
        die_with_parent: bool = True,
        handle_sigterm: bool = True,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.home = Path(home).absolute()
        self.dags_folder = Path(dags_folder).absolute()
        self.extra_env = dict(env or {})
        self.database_url = database_url
        self.triggerers = triggerers
        self.executor = executor
        self.python = python
        self.api_port = api_port
        self.username = username
        self.password = password
        self.triggerer_health_check_threshold = triggerer_health_check_threshold
        self.heartbeat_sec = heartbeat_sec
        self.dag_dir_list_interval = dag_dir_list_interval
        self.min_file_process_interval = min_file_process_interval
        self.parallelism = parallelism
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.triggerer_hostnames = triggerer_hostnames
        self.die_with_parent = die_with_parent
        self.handle_sigterm = handle_sigterm
        self.progress = progress or _default_progress
        self.session_id = uuid.uuid4().hex
        self._components: dict[str, _Component] = {}
        self._client: RestApiClient | None = None
        self._base_env: dict[str, str] | None = None
        self._lock = threading.RLock()
        self._old_sigterm: Any = None
        self.started = False
        self.timings: dict[str, float] = {}

    # ------------------------------------------------------------------ public properties
    @property
    def api_url(self) -> str:
        if self.api_port is None:
            raise LocalAirflowError("LocalAirflow is not started")
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def ui_url(self) -> str:
        return self.api_url + "/"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def processes(self) -> dict[str, subprocess.Popen[bytes]]:
        """Component name -> Popen of the currently started process."""
        return {n: c.proc for n, c in self._components.items() if c.proc is not None}

    @property
    def component_names(self) -> list[str]:
        return list(self._components)

    @property
    def triggerer_names(self) -> list[str]:
        return [n for n, c in self._components.items() if c.kind == "triggerer"]

    @property
    def client(self) -> RestApiClient:
        """A REST API client logged in as the admin user."""
        if self._client is None:
            self._client = RestApiClient(self.api_url, self.username, self.password, progress=self.progress)
        return self._client

    @property
    def env(self) -> dict[str, str]:
        """The environment components run with (without per-component additions)."""
        if self._base_env is None:
            self._base_env = self._build_env()
        return dict(self._base_env)

    def log_file(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    # ------------------------------------------------------------------ context manager
    def __enter__(self) -> LocalAirflow:
        if (
            self.handle_sigterm
            and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)
        ):

            def _on_sigterm(signum: int, frame: Any) -> None:
                raise SystemExit(128 + signum)

            self._old_sigterm = signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            self.start()
        except BaseException:
            self._restore_sigterm()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.stop()
        finally:
            self._restore_sigterm()

    def _restore_sigterm(self) -> None:
        if self._old_sigterm is not None:
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGTERM, self._old_sigterm)
            self._old_sigterm = None

    # ------------------------------------------------------------------ configuration
    def _secrets(self) -> dict[str, str]:
        path = self.home / "local_airflow_secrets.json"
        data: dict[str, str] = {}
        if path.exists():
            with contextlib.suppress(ValueError, OSError):
                data = json.loads(path.read_text())
        changed = False
        for key, factory in (
            ("fernet_key", lambda: base64.urlsafe_b64encode(os.urandom(32)).decode()),
            ("jwt_secret", lambda: secrets.token_urlsafe(32)),
            ("api_secret_key", lambda: secrets.token_urlsafe(32)),
        ):
            if not data.get(key):
                data[key] = factory()
                changed = True
        if changed:
            path.write_text(json.dumps(data, indent=2))
            path.chmod(0o600)
        return data

    def _build_env(self) -> dict[str, str]:
        assert self.api_port is not None
        keys = self._secrets()
        bin_dir = os.path.dirname(self.python)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AIRFLOW")
            and k not in (_SESSION_ENV, _COMPONENT_ENV, _HOSTNAME_ENV, "PYTHONPATH")
        }
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "/usr/bin:/bin")
        if os.path.exists(os.path.join(bin_dir, "activate")):
            env["VIRTUAL_ENV"] = os.path.dirname(bin_dir)
        pythonpath = [str(self.home / "local_airflow_py")]
        if os.environ.get("PYTHONPATH"):
            pythonpath.append(os.environ["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(pythonpath)
        env["PYTHONUNBUFFERED"] = "1"
        db_url = self.database_url or f"sqlite:///{self.home / 'airflow.db'}"
        port = str(self.api_port)
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW_CONFIG": str(self.home / "airflow.cfg"),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.home / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
                "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{self.username}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self._passwords_file),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": port,
                "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
                "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.logs_dir),
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": str(self.dag_dir_list_interval),
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": str(self.min_file_process_interval),
                "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": str(self.dag_dir_list_interval),
                "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "300",
                "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": str(self.heartbeat_sec),
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": str(self.heartbeat_sec),
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": str(self.heartbeat_sec),
                "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": str(
                    self.triggerer_health_check_threshold
                ),
                "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "5",
                "AIRFLOW__METRICS__STATSD_ON": "False",
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "airflow.utils.net.getfqdn",
            }
        )
        env.update(self.extra_env)
        env[_SESSION_ENV] = self.session_id
        return env

    @property
    def _passwords_file(self) -> Path:
        return self.home / "simple_auth_manager_passwords.json.generated"

    def _write_support_files(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        (self.home / "plugins").mkdir(exist_ok=True)
        pwfile = self._passwords_file
        wanted = {self.username: self.password}
        current: Any = None
        if pwfile.exists():
            with contextlib.suppress(ValueError, OSError):
                current = json.loads(pwfile.read_text())
        if current != wanted:
            pwfile.write_text(json.dumps(wanted))
        pydir = self.home / "local_airflow_py"
        pydir.mkdir(exist_ok=True)
        (pydir / f"{_HOSTNAME_MODULE}.py").write_text(
            "# Written by tests.harness.local_airflow: per-process hostname for Airflow jobs.\n"
            "import os\n\nfrom airflow.utils.net import getfqdn\n\n\n"
            "def hostname():\n"
            f"    return os.environ.get({_HOSTNAME_ENV!r}) or getfqdn()\n"
        )

    def _define_components(self) -> None:
        py = [self.python, "-m", "airflow"]
        comps = [
            _Component(
                "api-server",
                "api-server",
                [*py, "api-server", "--host", "127.0.0.1", "--port", str(self.api_port), "--workers", "1"],
                {},
            ),
            _Component("scheduler", "scheduler", [*py, "scheduler", "--skip-serve-logs"], {}),
            _Component("dag-processor", "dag-processor", [*py, "dag-processor"], {}),
        ]
        for i in range(1, self.triggerers + 1):
            extra: dict[str, str] = {}
            name = f"triggerer-{i}"
            if self.triggerer_hostnames:
                extra = {
                    "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{_HOSTNAME_MODULE}.hostname",
                    _HOSTNAME_ENV: name,
                }
            comps.append(_Component(name, "triggerer", [*py, "triggerer", "--skip-serve-logs"], extra))
        self._components = {c.name: c for c in comps}

    # ------------------------------------------------------------------ start
    def start(self) -> LocalAirflow:
        """Migrate the DB, start all components, wait until healthy. Stops everything on failure."""
        if self.started:
            return self
        t0 = time.monotonic()
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            self._kill_leftovers()
            if self.api_port is None:
                self.api_port = free_port()
            elif not _port_is_free(self.api_port):
                raise LocalAirflowError(f"Port 127.0.0.1:{self.api_port} is already in use")
            self._base_env = None
            self._client = None
            self._write_support_files()
            self._define_components()
            self.migrate()
            self.timings["migrate"] = time.monotonic() - t0
            t1 = time.monotonic()
            self.started = True
            atexit.register(self.stop)
            for name in self._components:
                self._spawn(name)
            self.wait_healthy(timeout=self.startup_timeout)
            self.timings["components_to_healthy"] = time.monotonic() - t1
            self.timings["start_to_healthy"] = time.monotonic() - t0
            self.progress(
                f"Airflow is up at {self.ui_url} (login {self.username}/{self.password}); "
                f"start->healthy {self.timings['start_to_healthy']:.1f}s "
                f"(db migrate {self.timings['migrate']:.1f}s)"
            )
        except BaseException:
            self.stop()
            raise
        return self

    def migrate(self) -> None:
        """``airflow db migrate`` (idempotent)."""
        self.progress("airflow db migrate ...")
        log_path = self.logs_dir / "db-migrate.log"
        with open(log_path, "ab") as out:
            res = subprocess.run(
                [self.python, "-m", "airflow", "db", "migrate"],
                env={**self.env, _COMPONENT_ENV: "db-migrate"},
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=str(self.home),
                timeout=600,
            )
        if res.returncode != 0:
            raise LocalAirflowError(
                f"airflow db migrate failed (exit {res.returncode}); {log_path} (tail):\n{_tail(log_path, 40)}"
            )

    def _preexec(self) -> None:  # runs in the child between fork and exec
        if self.die_with_parent and sys.platform.startswith("linux"):
            try:
                import ctypes

                ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
            except Exception:  # pragma: no cover - best effort
                pass

    def _spawn(self, name: str) -> None:
        comp = self._components[name]
        comp.log_file = self.log_file(name)
        env = {**self.env, **comp.extra_env, _COMPONENT_ENV: name}
        with open(comp.log_file, "ab") as out:
            out.write(f"\n===== {datetime.now().isoformat()} starting: {' '.join(comp.args)}\n".encode())
            out.flush()
            comp.proc = subprocess.Popen(
                comp.args,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=str(self.home),
                start_new_session=True,
                preexec_fn=self._preexec,
            )
        comp.started_at = datetime.now(timezone.utc)
        comp.pgid = comp.proc.pid  # start_new_session: the main process leads its own group
        comp.spawn_time = time.time()
        comp.seen = {}
        comp.paused = False
        self._write_pid_file()
        self.progress(f"started {name} (pid {comp.proc.pid})")

    # ------------------------------------------------------------------ health
    def _check_processes(self, names: Iterable[str] | None = None) -> None:
        for name in names if names is not None else self._components:
            comp = self._components[name]
            if comp.proc is not None and comp.proc.poll() is not None:
                raise LocalAirflowError(
                    f"{name} exited with code {comp.proc.returncode} during startup\n"
                    + self.logs_tail(names=[name])
                )

    def health(self) -> dict[str, Any]:
        return self.client.health()

    def _component_ready(self, name: str, jobs_by_type: dict[str, list[dict[str, Any]]]) -> bool:
        comp = self._components[name]
        if comp.kind == "api-server":
            return True  # it answered
        started = comp.started_at
        assert started is not None
        for job in jobs_by_type.get(_JOB_TYPES[comp.kind], []):
            jstart = _parse_time(job.get("start_date"))
            if jstart is None or jstart < started.replace(microsecond=0):
                continue
            if comp.kind == "triggerer" and self.triggerer_hostnames and job.get("hostname") != name:
                continue
            return True
        return False

    def wait_healthy(
        self, timeout: float | None = None, names: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """Wait until ``/monitor/health`` is all healthy and each (running) component has an alive job
        started after it was (re)started. Raises with the tail of the component logs on timeout."""
        timeout = self.startup_timeout if timeout is None else timeout
        check = [
            n for n in (names if names is not None else self._components) if not self._components[n].paused
        ]
        check = [n for n in check if self._components[n].proc is not None]
        deadline = time.monotonic() + timeout
        start = time.monotonic()
        last = None
        health: dict[str, Any] = {}
        while True:
            self._check_processes(check)
            status: str
            try:
                health = self.client.health()
                unhealthy = [
                    k
                    for k, v in health.items()
                    if isinstance(v, dict) and v.get("status") not in ("healthy", None)
                ]
                if not any(self._components[n].kind == "triggerer" for n in self._components):
                    unhealthy = [k for k in unhealthy if k != "triggerer"]
                jobs_by_type: dict[str, list[dict[str, Any]]] = {}
                for jt in {
                    _JOB_TYPES[self._components[n].kind]
                    for n in check
                    if self._components[n].kind in _JOB_TYPES
                }:
                    jobs_by_type[jt] = self.client.jobs(jt, alive=True)
                waiting = [n for n in check if not self._component_ready(n, jobs_by_type)]
                if not unhealthy and not waiting:
                    self.progress(f"all healthy ({time.monotonic() - start:.1f}s)")
                    return health
                status = f"unhealthy: {unhealthy}; waiting for: {waiting}"
            except (requests.ConnectionError, requests.Timeout):
                status = "api-server not answering yet"
            except (RestApiError, requests.HTTPError) as e:
                status = f"api-server error: {e}"
            if status != last:
                self.progress(f"waiting for Airflow: {status} ({time.monotonic() - start:.1f}s)")
                last = status
            if time.monotonic() > deadline:
                raise LocalAirflowError(
                    f"Airflow not healthy after {timeout:.0f}s: {status}\nhealth: {health}\n"
                    + self.logs_tail()
                )
            time.sleep(0.5)

    def logs_tail(self, lines: int = 40, names: Iterable[str] | None = None) -> str:
        """The last lines of each component's log (for error messages and test reports)."""
        out = []
        for name in names if names is not None else [*self._components, "db-migrate"]:
            path = self.log_file(name)
            if path.exists():
                out.append(f"----- {path} (last {lines} lines) -----\n{_tail(path, lines)}")
        return "\n".join(out)

    # ------------------------------------------------------------------ process control
    def _comp(self, name: str) -> _Component:
        try:
            return self._components[name]
        except KeyError:
            raise KeyError(f"unknown component {name!r}; have {list(self._components)}") from None

    def is_running(self, name: str) -> bool:
        proc = self._comp(name).proc
        return proc is not None and proc.poll() is None

    def is_paused(self, name: str) -> bool:
        """True while the component is frozen by :meth:`pause`."""
        return self._comp(name).paused

    def _scan_processes(self) -> list[tuple[Any, int | None, dict[str, str]]]:
        """(process, pgid, environment marker subset) of every process we may see."""
        import psutil

        out = []
        me = os.getpid()
        for p in psutil.process_iter():
            if p.pid == me:
                continue
            try:
                pgid: int | None = os.getpgid(p.pid)
            except OSError:
                pgid = None
            try:
                penv = p.environ()
                marks = {k: penv[k] for k in (_SESSION_ENV, _COMPONENT_ENV, "AIRFLOW_HOME") if k in penv}
            except (psutil.Error, OSError):
                marks = {}
            out.append((p, pgid, marks))
        return out

    def _marked_processes(
        self, component: str | None = None, *, any_session_in_home: bool = False
    ) -> list[Any]:
        """Processes carrying our environment marker (processes that rewrite their title with
        setproctitle lose it; see :meth:`_component_processes`)."""
        found = []
        for p, _pgid, marks in self._scan_processes():
            if any_session_in_home:
                if _SESSION_ENV not in marks or marks.get("AIRFLOW_HOME") != str(self.home):
                    continue
            elif marks.get(_SESSION_ENV) != self.session_id:
                continue
            if component is not None and marks.get(_COMPONENT_ENV) != component:
                continue
            found.append(p)
        return found

    def component_processes(self, name: str) -> list[Any]:
        """Every live process of a component: its main process and descendants, the members of its
        process group, processes with its environment marker, and those seen in earlier scans
        (task processes move to their own process group; orphans lose their parent)."""
        import psutil

        comp = self._comp(name)
        found: dict[int, Any] = {}

        def add(p: Any) -> None:
            if p.pid not in found and p.pid != os.getpid() and _alive(p):
                found[p.pid] = p

        for p in list(comp.seen.values()):
            add(p)
        if comp.proc is not None and comp.proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                add(psutil.Process(comp.proc.pid))
        if comp.pgid is not None:
            for p, pgid, marks in self._scan_processes():
                if pgid == comp.pgid:
                    with contextlib.suppress(psutil.Error):
                        # a new group leader that reuses the id after all of ours died is not ours
                        if p.pid == comp.pgid and p.create_time() > comp.spawn_time + 1:
                            continue
                        add(p)
                elif marks.get(_SESSION_ENV) == self.session_id and marks.get(_COMPONENT_ENV) == name:
                    add(p)
        for p in list(found.values()):
            with contextlib.suppress(psutil.Error):
                for child in p.children(recursive=True):
                    add(child)
        comp.seen = dict(found)
        return list(found.values())

    def _signal_tree(self, name: str, sig: int) -> int:
        """Send ``sig`` to every process of component ``name``; return how many got it."""
        import psutil

        n = 0
        for p in self.component_processes(name):
            with contextlib.suppress(psutil.Error, OSError):
                p.send_signal(sig)
                n += 1
        return n

    def kill(self, name: str, sig: int = signal.SIGKILL, *, tree: bool = True) -> None:
        """Send ``sig`` to a component: its whole process tree (default) or only its main process.

        ``kill("triggerer-1")`` simulates a crashed machine (SIGKILL to every process of it)."""
        comp = self._comp(name)
        self.progress(f"kill {name} with {signal.Signals(sig).name} ({'tree' if tree else 'main process'})")
        procs: list[Any] = []
        if tree:
            procs = self.component_processes(name)
            self._signal_tree(name, sig)
        elif comp.proc is not None and comp.proc.poll() is None:
            comp.proc.send_signal(sig)
        if sig == signal.SIGKILL:
            if comp.proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    comp.proc.wait(timeout=10)
            _wait_gone(procs, timeout=10)

    def pause(self, name: str) -> None:
        """Freeze a component (SIGSTOP to its whole process tree)."""
        self._comp(name).paused = True
        self.kill(name, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        """Unfreeze a component (SIGCONT)."""
        self.kill(name, signal.SIGCONT)
        self._comp(name).paused = False

    def stop_component(self, name: str, timeout: float | None = None) -> int | None:
        """Stop a component gracefully (SIGTERM, SIGKILL after ``timeout``); return its exit code."""
        with self._lock:
            return self._stop_components([name], self.stop_timeout if timeout is None else timeout).get(name)

    def start_component(self, name: str, *, wait: bool = True, timeout: float = 120.0) -> None:
        """(Re)start a component; stops it first if it runs. Waits until its job is alive."""
        with self._lock:
            if self.is_running(name) or self.component_processes(name):
                self._stop_components([name], self.stop_timeout)
            self._spawn(name)
        if wait:
            self.wait_healthy(timeout=timeout, names=[name])

    def restart_component(self, name: str, *, wait: bool = True, timeout: float = 120.0) -> None:
        self.start_component(name, wait=wait, timeout=timeout)

    def _stop_components(self, names: list[str], timeout: float) -> dict[str, int | None]:
        import psutil

        codes: dict[str, int | None] = {}
        # Frozen processes cannot handle SIGTERM: thaw first.
        for name in names:
            if self._components[name].paused:
                self._signal_tree(name, signal.SIGCONT)
                self._components[name].paused = False
        for name in names:
            self.component_processes(name)  # remember the tree before the parents go away
            proc = self._components[name].proc
            if proc is not None and proc.poll() is None:
                self.progress(f"stopping {name} (pid {proc.pid})")
                with contextlib.suppress(OSError):
                    proc.send_signal(signal.SIGTERM)
        # The scheduler waits for running tasks on the first SIGTERM: after a grace period, SIGTERM
        # every process of the components still running (like `systemctl stop`), tasks included.
        t0 = time.monotonic()
        deadline = t0 + timeout
        resent = False
        while True:
            running = [n for n in names if self.is_running(n)]
            if not running or time.monotonic() >= deadline:
                break
            if not resent and time.monotonic() - t0 >= min(5.0, timeout / 2):
                resent = True
                for n in running:
                    self.progress(
                        f"{n} still running after {time.monotonic() - t0:.0f}s: SIGTERM to all its processes"
                    )
                    self._signal_tree(n, signal.SIGTERM)
            time.sleep(0.1)
        for name in names:
            proc = self._components[name].proc
            if proc is None:
                continue
            if proc.poll() is None:
                self.progress(f"{name} did not stop within {timeout:.0f}s: SIGKILL")
            codes[name] = proc.poll()
        # Whatever is left of the trees (children, task processes in their own groups): TERM, then KILL.
        for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
            left = [p for name in names for p in self.component_processes(name)]
            if not left:
                break
            for p in left:
                with contextlib.suppress(psutil.Error, OSError):
                    p.send_signal(sig)
            _wait_gone(left, timeout=wait)
        for name in names:
            proc = self._components[name].proc
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
                codes[name] = proc.returncode
        return codes

    def stop(self) -> None:
        """Stop every component and every process they started. Safe to call repeatedly."""
        with self._lock:
            if self._components:
                order = sorted(
                    self._components,
                    key=lambda n: _STOP_ORDER.index(self._components[n].kind),
                )
                # scheduler and triggerers first (they may still talk to the api-server), then the rest
                first = [n for n in order if self._components[n].kind in ("scheduler", "triggerer")]
                self._stop_components(first, self.stop_timeout)
                self._stop_components([n for n in order if n not in first], self.stop_timeout)
            # Anything else that carries our marker (e.g. the db migrate process on Ctrl+C).
            leftovers = self._marked_processes()
            for p in leftovers:
                with contextlib.suppress(Exception):
                    p.kill()
            if not leftovers and self._components:
                with contextlib.suppress(OSError):
                    self._pid_file.unlink()
            with contextlib.suppress(Exception):
                atexit.unregister(self.stop)
            if self.started:
                self.progress("Airflow stopped")
            self.started = False
            if self._client is not None:
                self._client.session.close()

    @property
    def _pid_file(self) -> Path:
        return self.home / "local_airflow_pids.json"

    def _write_pid_file(self) -> None:
        data = {
            n: {"pid": c.proc.pid, "pgid": c.pgid, "spawn_time": c.spawn_time}
            for n, c in self._components.items()
            if c.proc is not None
        }
        with contextlib.suppress(OSError):
            self._pid_file.write_text(json.dumps(data, indent=2))

    def _kill_leftovers(self) -> None:
        """Kill processes of an earlier LocalAirflow on the same home that was not stopped."""
        import psutil

        leftovers = {p.pid: p for p in self._marked_processes(any_session_in_home=True)}
        try:
            recorded = json.loads(self._pid_file.read_text())
        except (OSError, ValueError):
            recorded = {}
        groups = {
            int(v["pgid"]): float(v.get("spawn_time", 0)) for v in recorded.values() if isinstance(v, dict)
        }
        if groups:
            for p, pgid, _marks in self._scan_processes():
                if pgid not in groups:
                    continue
                with contextlib.suppress(psutil.Error):
                    if p.create_time() >= groups[pgid] - 2 and "airflow" in " ".join(p.cmdline()):
                        leftovers[p.pid] = p
        if not leftovers:
            return
        leftovers_list = list(leftovers.values())
        self.progress(f"killing {len(leftovers)} leftover process(es) of an earlier run on {self.home}")
        for p in leftovers_list:
            with contextlib.suppress(psutil.Error):
                p.send_signal(signal.SIGCONT)
                p.terminate()
        alive = _wait_gone(leftovers_list, timeout=10)
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.kill()
        _wait_gone(alive, timeout=5)

    # ------------------------------------------------------------------ HA helpers
    def triggerer_jobs(self) -> dict[str, dict[str, Any]]:
        """Component name -> its newest alive TriggererJob (needs ``triggerer_hostnames``)."""
        out: dict[str, dict[str, Any]] = {}
        for job in self.client.jobs("TriggererJob", alive=True):
            host = job.get("hostname")
            if host in self._components and host not in out:
                out[host] = job
        return out

    def triggerer_of_job(self, job_id: int) -> str | None:
        """Component name of the triggerer with job id ``job_id`` (e.g. a trigger's triggerer_id)."""
        for job in self.client.jobs("TriggererJob", running_only=False):
            if job.get("id") == job_id:
                host = job.get("hostname")
                return host if host in self._components else None
        return None
