"""``RestJobBaseOperator``: what every REST job operator shares.

A subclass says how the job starts (``_start_job`` -> ``Started``), what its ``JobSpec`` is
(monitoring / termination) and what an ended job means (``_job_finished``). This class waits -
deferred in the triggerer (``RestJobTrigger``) or polling in the worker - with the same sans-IO
flows (``rest_job.flows``), completes, and stops the job when:

- the task is marked failed/success or cleared while deferred (the trigger's ``on_kill`` /
  cancellation guard, see ``airflow_restjob.triggers.rest_job``);
- the task runs in a worker (``deferrable=False``) and is marked failed, cleared, times out
  (``execution_timeout``) or the worker shuts down (``on_kill``: pure HTTP with the connection
  resolved before the start, no call into Airflow from the signal handler);
- the deferral times out (``resume_execution`` with ``__fail__``) or the wait's own deadline
  passes (``max_wait``, or what is left of ``execution_timeout``: Airflow does not enforce
  ``execution_timeout`` while a task is deferred, so it is passed to ``defer()`` and the trigger);
- ``stop_on_error`` subclasses (``RestJobOperator``): the wait ended with an error (e.g. an
  unparsable monitoring response) while the job id is known.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_restjob.compat import AirflowFailException, AirflowTaskTimeout
from airflow_restjob.connections.routes import Route
from airflow_restjob.errors import DefinitionError, EndCode, RestJobError, WaitTimeoutError
from airflow_restjob.hooks.rest_job import RestJobHook
from airflow_restjob.rest_job.flows import CONTINUE, fetch_flow, run_sync, stop_flow, wait_flow
from airflow_restjob.rest_job.retry import STOP_RETRY, RetryPolicy
from airflow_restjob.rest_job.spec import JobSpec, PollSpec, RequestSpec, is_number
from airflow_restjob.transport.sync import SyncClient
from airflow_restjob.triggers.rest_job import RestJobTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

FAIL_FAST_CODES = {
    EndCode.BAD_DEFINITION,
    EndCode.FILE_OPERATION,
    EndCode.NOT_SUCCESS,
    EndCode.UNPARSABLE,
    EndCode.CREDENTIALS,
}
# Service answers that no retry can mend: the task fails at once (throttling and 5xx keep their retries)
PERMANENT_ERROR_TYPES = frozenset(
    {
        "StateMachineDoesNotExist",
        "InvalidArn",
        "InvalidName",
        "InvalidExecutionInput",
        "ValidationException",
        "SerializationException",
    }
)
DEFAULT_MAX_WAIT = 7 * 24 * 3600.0
# Seconds after deferral before the trigger's event (see RestJobTrigger._final). Airflow 3.3's task
# supervisor reported a deferral 5.0 s after it (LocalExecutor, loaded 2-core CI machine); an event
# at 5.3 s had the task re-queued first and then failed by the late "deferred" report.
MIN_EVENT_DELAY = 8.0
TRIGGER_FAIL = "__fail__"
SECRET_WORDS = (
    "password",
    "secret",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "passphrase",
    "authorization",
)


def defer_timeout(remaining: float) -> float:
    """Seconds for ``defer(timeout=)``: the wait's deadline plus a small slack (5-60 s)."""
    remaining = max(1.0, remaining)
    return remaining + min(60.0, max(5.0, remaining * 0.1))


def fail(error: RestJobError) -> Exception:
    """Fail fast (no task retry) on errors that a retry cannot mend."""
    if error.end_code in FAIL_FAST_CODES or error.error_type in PERMANENT_ERROR_TYPES:
        return AirflowFailException(str(error))
    return error


def redact(data: Any) -> Any:
    """The same JSON with the values of secret-looking keys replaced by ``***`` (for the task log)."""
    if isinstance(data, dict):
        return {
            k: "***" if any(w in str(k).lower() for w in SECRET_WORDS) else redact(v) for k, v in data.items()
        }
    if isinstance(data, list):
        return [redact(v) for v in data]
    return data


def poll_spec(task_id: Any, **kwargs: Any) -> PollSpec:
    """``PollSpec`` whose errors name the task."""
    try:
        return PollSpec(**kwargs)
    except DefinitionError as exc:
        raise DefinitionError(f"Task '{task_id}': {exc.cause}", exc.fix) from None


def default_deferrable() -> bool:
    """``[operators] default_deferrable``, as Airflow's own providers default ``deferrable``."""
    from airflow.configuration import conf

    return conf.getboolean("operators", "default_deferrable", fallback=False)


@dataclass(frozen=True)
class Started:
    """What ``_start_job`` returns: the job to wait for, or (``spec`` None) the finished result."""

    job_id: str | None = None
    spec: JobSpec | None = None
    hook: RestJobHook | None = None  # the wait's connections, already resolved
    result: Any = None


class RestJobFailed(Exception):
    """A job error reported by the trigger (its message already carries the end code)."""


class RestJobBaseOperator(BaseOperator):
    """Start a remote job, wait for it (deferred or in the worker), stop it when cancelled.

    Subclasses implement ``_start_job`` (start, push the id, return ``Started``),
    ``_job_finished`` (success/failure of an ended job) and ``_rebuild`` (hook and spec from
    XCom, for a stop from a fresh worker process).
    """

    id_xcom_key = "job_id"
    job_label = "REST job"
    stop_on_error = False  # stop the job when the wait ends with an error (e.g. end code 8)

    def __init__(
        self,
        *,
        conn_id: str | None,
        deferrable: bool | None = None,
        stop_on_kill: bool = True,
        http_retry: RetryPolicy | None = None,
        worker_wait: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.deferrable = default_deferrable() if deferrable is None else bool(deferrable)
        if worker_wait is not None and not (is_number(worker_wait) and 0 <= worker_wait <= 600):
            raise DefinitionError(
                f"Task '{kwargs.get('task_id')}': worker_wait must be 0-600 seconds, got {worker_wait!r}.",
                "Pass e.g. worker_wait=5 (poll in the worker that long before deferring) or 0 (defer at once).",
            )
        self.worker_wait = worker_wait
        self.stop_on_kill = stop_on_kill
        self.http_retry = http_retry or RetryPolicy()
        self.poll = PollSpec()
        self._job_id: str | None = None
        self._spec: JobSpec | None = None
        self._client: SyncClient | None = None  # the wait's client, built before the job starts
        self._killed = False

    # --- to implement --------------------------------------------------------------------------
    def _start_job(self, context: Context) -> Started:
        raise NotImplementedError

    def _job_finished(self, context: Context, event: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _rebuild(self, job_id: str, context: Context) -> tuple[RestJobHook, JobSpec] | None:
        raise NotImplementedError

    def _prepare_wait(self, hook: RestJobHook) -> None:
        """Resolve the wait's connections now (before the start): ``on_kill`` must never call Airflow."""
        self._client = hook.client(self.http_retry)

    # --- execute ------------------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        try:
            started = self._start_job(context)
            if started.spec is None or started.job_id is None or started.hook is None:
                return started.result
            self._job_id, self._spec = started.job_id, started.spec
            return self._wait(context, started.job_id, started.spec, started.hook.route)
        except RestJobError as error:
            raise fail(error.with_execution(self._job_id)) from None

    def _worker_window(self) -> float:
        if self.worker_wait is not None:
            return float(self.worker_wait)
        from airflow.configuration import conf

        try:
            value = conf.getfloat("restjob", "worker_wait_window", fallback=5.0)
        except (TypeError, ValueError):
            value = 5.0
        return min(max(value, 0.0), 600.0)

    def _wait(self, context: Context, job_id: str, spec: JobSpec, route: Route) -> Any:
        ti = context["ti"]
        deadline, reason = self._deadline(context)
        window = self._worker_window() if self.deferrable else 0.0
        if window > 0:  # a short job ends here, without a deferral (and its ~8 s event guard)
            assert self._client is not None, "_start_job resolves the wait's client (_prepare_wait)"
            flow = wait_flow(spec, job_id, deadline, reason, self.log, window=window)
            event = run_sync(flow, self._sender(self._client, spec), self._sleep)
            if event.get("status") != CONTINUE:
                return self.execute_complete(context, event)
            self.log.info("%s %s still running after %gs in the worker: deferring.", self.job_label, job_id, window)
        if self.deferrable:
            self.defer(
                trigger=RestJobTrigger(
                    conn_id=route.base,
                    auth_conn_id=route.auth,
                    proxy_conn_id=route.proxy,
                    origin=route.origin,
                    job_id=job_id,
                    spec=spec.to_dict(),
                    deadline=deadline,
                    task_identity={
                        "dag_id": ti.dag_id,
                        "task_id": ti.task_id,
                        "run_id": ti.run_id,
                        "map_index": getattr(ti, "map_index", -1),
                        "try_number": ti.try_number,
                    },
                    id_xcom_key=self.id_xcom_key,
                    stop_on_kill=self.stop_on_kill,
                    reason=reason,
                    not_before=time.time() + MIN_EVENT_DELAY,
                ),
                method_name="execute_complete",
                # backstop if no triggerer runs the trigger: the scheduler fails the deferral a little
                # after the trigger's own deadline, and resume_execution stops the job
                timeout=timedelta(seconds=defer_timeout(deadline - time.time())) if deadline else None,
            )
        assert self._client is not None, "_start_job resolves the wait's client (_prepare_wait)"
        flow = wait_flow(spec, job_id, deadline, reason, self.log)
        event = run_sync(flow, self._sender(self._client, spec), self._sleep)
        return self.execute_complete(context, event)

    def _deadline(self, context: Context) -> tuple[float | None, str]:
        """Epoch deadline of the wait: ``max_wait`` or what is left of ``execution_timeout``."""
        now = time.time()
        candidates: list[tuple[float, str]] = []
        if self.poll.max_wait:
            candidates.append((now + self.poll.max_wait, f"max_wait={self.poll.max_wait:g}s"))
        if self.execution_timeout:
            start = getattr(context["ti"], "start_date", None)
            started = start.timestamp() if start else now
            candidates.append(
                (
                    started + self.execution_timeout.total_seconds(),
                    f"execution_timeout={self.execution_timeout}",
                )
            )
        if not candidates:
            return None, ""
        return min(candidates)

    @staticmethod
    def _sender(client: SyncClient, spec: JobSpec) -> Any:
        """The worker's I/O for the flows: polls retried by the client's policy, stops by ``STOP_RETRY``."""

        def send(request: RequestSpec) -> Any:
            retry = None if request is spec.monitor else STOP_RETRY
            return client.request(**request.call_args(), retry=retry)

        return send

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._killed and time.monotonic() < end:
            time.sleep(min(0.5, max(0.0, end - time.monotonic())))
        if self._killed:
            raise AirflowFailException(f"Task killed; the stop of {self._job_id} was sent by on_kill.")

    # --- completion -------------------------------------------------------------------------------
    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        status = event.get("status")
        job_id = event.get("job_id") or self._job_id
        if status == "error":
            message = str(event.get("message"))
            code = event.get("end_code", int(EndCode.REQUEST_FAILED))
            self.log.error("%s", message)
            if self.stop_on_error and job_id:
                self._stop_job(context, str(job_id), "airflow-restjob: wait failed", message[:500])
            raise AirflowFailException(message) if code in FAIL_FAST_CODES else RestJobFailed(message)
        if status in ("timeout", "polls_exhausted"):
            message = (
                f"[end code {int(EndCode.WAIT_TIMED_OUT)}: completion wait timed out] {self.job_label} "
                f"{job_id}: {event.get('message')}; " + self._stop_note(event)
            )
            self.log.error(message)
            if "execution_timeout" in str(event.get("message")):
                raise AirflowTaskTimeout(message)
            raise WaitTimeoutError(message, execution_id=job_id)
        return self._job_finished(context, self._full_response(context, event))

    def _full_response(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """The event with the job's whole last response: one too large for the trigger's event
        (``MAX_EVENT_RESPONSE``, e.g. a 256 KiB Step Functions output) is read again here."""
        response = event.get("response")
        truncated = event.get("response_truncated") or (isinstance(response, dict) and set(response) == {"truncated"})
        if not truncated:
            return event
        job_id = str(event.get("job_id") or self._job_id)
        self.log.info(
            "The last response of %s %s was too large for the trigger event: reading it again from the worker.",
            self.job_label,
            job_id,
        )
        try:
            rebuilt = self._rebuild(job_id, context)
            if rebuilt is None:
                self.log.warning("%s %s: no request to read the response again; it stays a preview.", self.job_label, job_id)
                return event
            hook, spec = rebuilt
            data = run_sync(fetch_flow(spec), self._sender(hook.client(self.http_retry), spec))
        except RestJobError as error:
            # the job has ended: a retry would start it again, so the task fails here naming it
            raise AirflowFailException(
                f"{self.job_label} {job_id} ended {event.get('job_status')}, but its last response "
                f"could not be read again from the worker: {error}"
            ) from None
        return {**event, "response": data, "response_truncated": False}

    def _stop_note(self, event: dict[str, Any]) -> str:
        return "the job was stopped." if event.get("stopped", True) else "the stop was NOT accepted."

    # --- stopping -----------------------------------------------------------------------------------
    def on_kill(self) -> None:
        """SIGTERM in the worker: stop the job with the pre-resolved client, pure HTTP."""
        self._killed = True
        if not (self.stop_on_kill and self._job_id and self._client and self._spec):
            return
        self._send_stop(self._client, self._spec, self._job_id, "airflow-restjob: task killed", "on_kill (worker)")

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        if next_method == TRIGGER_FAIL and self.stop_on_kill:
            job_id = context["ti"].xcom_pull(task_ids=self.task_id, key=self.id_xcom_key)
            if job_id:
                reason = (next_kwargs or {}).get("error", "trigger failure")
                self.log.error("Deferral ended with %s: stopping %s", reason, job_id)
                self._stop_job(context, str(job_id), "airflow-restjob: deferral timeout", str(reason))
        return super().resume_execution(next_method, next_kwargs, context)

    def _stop_job(self, context: Context, job_id: str, error: str, cause: str) -> bool:
        """Stop ``job_id``: with this process's client when it started the job, else rebuilt from XCom."""
        if self._client is not None and self._spec is not None and job_id == self._job_id:
            return self._send_stop(self._client, self._spec, job_id, error, cause)
        try:
            rebuilt = self._rebuild(job_id, context)
        except RestJobError as exc:
            self.log.warning("Cannot stop %s: %s", job_id, exc)
            return False
        if rebuilt is None:
            return False
        hook, spec = rebuilt
        return self._send_stop(hook.client(self.http_retry), spec, job_id, error, cause)

    def _send_stop(self, client: SyncClient, spec: JobSpec, job_id: str, error: str, cause: str) -> bool:
        return run_sync(stop_flow(spec, job_id, error, cause, self.log), self._sender(client, spec))
