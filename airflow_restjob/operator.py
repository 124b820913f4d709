"""REST job operators: one task = one remote job, started, waited for, and stopped on cancel.

``RestJobBaseOperator`` holds the machinery every REST job shares: wait deferred in the triggerer
(``RestJobTrigger``) or polling in the worker (``Wait``), ``execute_complete``, and the stop paths.
Subclasses say how the job starts and what its ``JobSpec`` (monitoring/termination) is:

- ``StepFunctionsExecutionOperator``: the built-in Step Functions definition (StartExecution /
  DescribeExecution / StopExecution through a SigV4-signed API Gateway), returns the ``output``.
- ``RestJobOperator``: any REST API described by a connection information file
  (``airflow_restjob.connection_info``), returns the last monitoring response.

The job is stopped (its termination request) when:
- the task is marked failed/success or cleared while deferred (the trigger's ``on_kill`` /
  cancellation guard, see ``airflow_restjob.trigger``);
- the task runs in a worker (``deferrable=False``) and is marked failed, cleared, times out
  (``execution_timeout``) or the worker shuts down (``on_kill``: pure HTTP with credentials
  resolved before the start, no call into Airflow from the signal handler);
- the deferral times out (``resume_execution`` with ``__fail__``) or the trigger's own deadline
  passes (``max_wait``, or what is left of ``execution_timeout``: Airflow does not enforce
  ``execution_timeout`` while a task is deferred, so it is passed to ``defer()`` and the trigger);
- ``RestJobOperator`` only: the wait ended with an error (e.g. an unparsable monitoring response)
  while the job id is known.
"""

from __future__ import annotations

import inspect
import json
import os
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator

from airflow_restjob import connection_info as ci
from airflow_restjob import stepfunctions as sfn
from airflow_restjob.client import Reply, SyncClient
from airflow_restjob.compat import AirflowFailException, AirflowTaskTimeout
from airflow_restjob.errors import (
    DefinitionError,
    EndCode,
    FileOperationError,
    NotSuccessError,
    RestJobError,
    ServiceError,
    UnparsableResponseError,
    WaitTimeoutError,
)
from airflow_restjob.hook import RestJobHook
from airflow_restjob.job import JobSpec, PollSpec, RequestSpec, Wait, preview, search, stop_request
from airflow_restjob.links import EXECUTION_ARN_KEY, StepFunctionsExecutionLink
from airflow_restjob.retry import NO_RETRY, RetryPolicy
from airflow_restjob.trigger import RestJobTrigger

FAIL_FAST_CODES = {
    EndCode.BAD_DEFINITION,
    EndCode.FILE_OPERATION,
    EndCode.NOT_SUCCESS,
    EndCode.UNPARSABLE,
    EndCode.CREDENTIALS,
}
DEFAULT_MAX_WAIT = 7 * 24 * 3600.0
# Seconds after deferral before the trigger's event (see RestJobTrigger._final). Airflow 3.3's task
# supervisor reported a deferral 5.0 s after it (LocalExecutor, loaded 2-core CI machine); an event
# at 5.3 s had the task re-queued first and then failed by the late "deferred" report.
MIN_EVENT_DELAY = 8.0
TRIGGER_FAIL = "__fail__"
JOB_ID_KEY = "job_id"
TAKEOVER_KEY = "takeover"
MAX_LOGGED_RESPONSE = 4000
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


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc).isoformat()
    return str(value)


def fail(error: RestJobError) -> Exception:
    """Fail fast (no task retry) on errors that a retry cannot mend."""
    if error.end_code in FAIL_FAST_CODES:
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


def _poll_spec(task_id: Any, **kwargs: Any) -> PollSpec:
    try:
        return PollSpec(**kwargs)
    except DefinitionError as exc:
        raise DefinitionError(f"Task '{task_id}': {exc.cause}", exc.fix) from None


class RestJobBaseOperator(BaseOperator):
    """Start a remote job, wait for it (deferred or in the worker), stop it when cancelled.

    Subclasses implement ``_start_job`` (start, push the id, return what to wait on),
    ``_job_finished`` (success/failure of an ended job) and ``_rebuild`` (client and spec from XCom,
    for a stop from a fresh worker process).
    """

    id_xcom_key = JOB_ID_KEY
    job_label = "REST job"
    stop_on_error = False  # stop the job when the wait ends with an error (e.g. end code 8)

    def __init__(
        self,
        *,
        conn_id: str | None,
        deferrable: bool = True,
        stop_on_kill: bool = True,
        http_retry: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.deferrable = deferrable
        self.stop_on_kill = stop_on_kill
        self.http_retry = http_retry or RetryPolicy()
        self.poll = PollSpec()
        self._job_id: str | None = None
        self._spec: JobSpec | None = None
        self._stop_client: SyncClient | None = None
        self._killed = False

    # --- to implement --------------------------------------------------------------------------
    def _start_job(self, context: Any) -> tuple[str, JobSpec, str] | Done:
        """Start; return ``(job_id, spec, trigger_conn_id)`` to wait, or ``Done(result)``."""
        raise NotImplementedError

    def _job_finished(self, context: Any, event: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _rebuild(self, job_id: str, context: Any) -> tuple[SyncClient, JobSpec] | None:
        raise NotImplementedError

    # --- execute ------------------------------------------------------------------------------
    def execute(self, context: Any) -> Any:
        try:
            started = self._start_job(context)
            if isinstance(started, Done):
                return started.result
            job_id, spec, trigger_conn_id = started
            return self._wait(context, job_id, spec, trigger_conn_id)
        except RestJobError as error:
            raise fail(error.with_execution(self._job_id)) from None

    def _wait(self, context: Any, job_id: str, spec: JobSpec, trigger_conn_id: str) -> Any:
        ti = context["ti"]
        deadline, reason = self._deadline(context)
        if self.deferrable:
            self.defer(
                trigger=RestJobTrigger(
                    conn_id=trigger_conn_id,
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
        client = SyncClient(self._stop_client.settings, self.http_retry) if self._stop_client else None
        if client is None:
            raise DefinitionError(f"Task '{self.task_id}': no client to poll {job_id}.", "")
        return self._wait_in_worker(client, spec, job_id, deadline, reason, context)

    def _deadline(self, context: Any) -> tuple[float | None, str]:
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

    # --- waiting in the worker ----------------------------------------------------------------------
    def _wait_in_worker(
        self,
        client: SyncClient,
        spec: JobSpec,
        job_id: str,
        deadline: float | None,
        reason: str,
        context: Any,
    ) -> Any:
        wait = Wait(spec, deadline, reason)
        monitor = spec.monitor
        while True:
            self._sleep(wait.delay(time.time()))
            limit = wait.limit_reached(time.time())
            if limit:
                status, why = limit
                stopped = self._stop(client, spec, job_id, "airflow-restjob: wait limit", why)
                return self.execute_complete(
                    context, {"status": status, "job_id": job_id, "message": why, "stopped": stopped}
                )
            try:
                reply = client.request(**monitor.call_args())
                verdict, changed = wait.observe(reply.data)
            except RestJobError as error:
                if not error.retryable:
                    if self.stop_on_error:
                        self._stop(client, spec, job_id, "airflow-restjob: wait failed", str(error)[:500])
                    raise
                self.log.warning("Poll of %s failed, will poll again: %s", job_id, error)
                wait.failed_poll()
                continue
            if changed:
                self.log.info("%s %s is %s", spec.label, job_id, verdict.status)
            if verdict.ended:
                event = {
                    "status": "success" if verdict.success else "failed",
                    "job_id": job_id,
                    "job_status": verdict.status,
                    "response": reply.data,
                    "details": verdict.details,
                    "http_status": reply.status,
                }
                return self.execute_complete(context, event)

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._killed and time.monotonic() < end:
            time.sleep(min(0.5, max(0.0, end - time.monotonic())))
        if self._killed:
            raise AirflowFailException(f"Task killed; the stop of {self._job_id} was sent by on_kill.")

    # --- completion -------------------------------------------------------------------------------
    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        status = event.get("status")
        job_id = event.get("job_id") or self._job_id
        if status == "error":
            message = str(event.get("message"))
            code = event.get("end_code", int(EndCode.REQUEST_FAILED))
            self.log.error("%s", message)
            if self.stop_on_error and job_id:
                self._stop_from_xcom(context, str(job_id), "airflow-restjob: wait failed", message[:500])
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
        return self._job_finished(context, event)

    def _stop_note(self, event: dict[str, Any]) -> str:
        return "the job was stopped." if event.get("stopped", True) else "the stop was NOT accepted."

    # --- stopping -----------------------------------------------------------------------------------
    def on_kill(self) -> None:
        """SIGTERM in the worker: stop the job with pre-resolved credentials, pure HTTP."""
        self._killed = True
        if not (self.stop_on_kill and self._job_id and self._stop_client and self._spec):
            return
        self._stop(
            self._stop_client, self._spec, self._job_id, "airflow-restjob: task killed", "on_kill (worker)"
        )

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Any) -> Any:
        if next_method == TRIGGER_FAIL and self.stop_on_kill:
            job_id = context["ti"].xcom_pull(task_ids=self.task_id, key=self.id_xcom_key)
            if job_id:
                reason = (next_kwargs or {}).get("error", "trigger failure")
                self.log.error("Deferral ended with %s: stopping %s", reason, job_id)
                self._stop_from_xcom(context, str(job_id), "airflow-restjob: deferral timeout", str(reason))
        return super().resume_execution(next_method, next_kwargs, context)

    def _stop_from_xcom(self, context: Any, job_id: str, error: str, cause: str) -> bool:
        try:
            rebuilt = self._rebuild(job_id, context)
        except RestJobError as exc:
            self.log.warning("Cannot stop %s: %s", job_id, exc)
            return False
        if rebuilt is None:
            return False
        client, spec = rebuilt
        return self._stop(client, spec, job_id, error, cause)

    def _stop(self, client: SyncClient, spec: JobSpec, job_id: str, error: str, cause: str) -> bool:
        request = stop_request(spec, error, cause)
        if request is None:
            return False
        try:
            client.request(
                request.method,
                request.path,
                request.body,
                query=request.query,
                headers=request.headers,
                timeout=request.timeout,
            )
        except RestJobError as exc:
            self.log.warning("Stop of %s was not accepted: %s", job_id, exc)
            return False
        self.log.info("Stop sent for %s (%s)", job_id, cause)
        return True


class Done:
    """``_start_job``'s answer when there is nothing to wait for."""

    def __init__(self, result: Any) -> None:
        self.result = result


class StepFunctionsExecutionOperator(RestJobBaseOperator):
    """Start an AWS Step Functions execution through a SigV4-signed API Gateway and wait for it.

    :param state_machine_arn: ARN of the state machine (templated).
    :param input: execution input: a dict, a JSON string, or a ``.json`` file rendered with Jinja
        (templated).
    :param name: execution name (templated). Default: derived from dag_id, task_id, run_id,
        map_index and try number, so a re-run of the same try re-attaches instead of starting twice.
    :param conn_id: a ``restjob`` connection (API base URL with stage, keys, region).
    :param deferrable: wait in the triggerer (default) or poll in the worker.
    :param first_poll_delay: seconds before the first status check.
    :param poll_interval: seconds between checks (>= 1).
    :param max_poll_interval: cap for the interval when ``poll_backoff`` > 1.
    :param poll_backoff: factor by which the interval grows for long executions.
    :param max_polls: give up (stop the execution, end code 6) after this many checks.
    :param max_wait: give up after this many seconds (default 7 days); the wait is never unbounded.
    :param stop_on_kill: stop the execution when the task is cancelled (default True).
    :param http_retry: retries of throttled/transient HTTP calls.
    """

    template_fields: Sequence[str] = ("state_machine_arn", "input", "name")
    template_ext: Sequence[str] = (".json",)
    template_fields_renderers = {"input": "json"}
    operator_extra_links = (StepFunctionsExecutionLink(),)
    ui_color = "#f5d6e6"
    id_xcom_key = EXECUTION_ARN_KEY
    job_label = "Step Functions execution"

    def __init__(
        self,
        *,
        state_machine_arn: str,
        input: dict[str, Any] | list[Any] | str | None = None,
        name: str | None = None,
        conn_id: str = RestJobHook.default_conn_name,
        deferrable: bool = True,
        first_poll_delay: float = 2.0,
        poll_interval: float = 10.0,
        max_poll_interval: float | None = None,
        poll_backoff: float = 1.0,
        max_polls: int | None = None,
        max_wait: float | None = DEFAULT_MAX_WAIT,
        stop_on_kill: bool = True,
        http_retry: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            conn_id=conn_id, deferrable=deferrable, stop_on_kill=stop_on_kill, http_retry=http_retry, **kwargs
        )
        self.conn_id: str = conn_id
        self.state_machine_arn = state_machine_arn
        self.input = input
        self.name = name
        self.poll = _poll_spec(
            kwargs.get("task_id"),
            first_delay=first_poll_delay,
            interval=poll_interval,
            max_interval=max(60.0, poll_interval) if max_poll_interval is None else max_poll_interval,
            backoff=poll_backoff,
            max_polls=max_polls,
            max_wait=max_wait,
        )

    @property
    def _execution_arn(self) -> str | None:
        return self._job_id

    # --- templating -----------------------------------------------------------------------------
    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        import jinja2

        try:
            super().render_template_fields(context, jinja_env)
        except jinja2.TemplateNotFound as exc:
            raise AirflowFailException(
                str(
                    FileOperationError(
                        f"Task '{self.task_id}': input file {exc.name!r} was not found.",
                        "Put the file next to the DAG file or in template_searchpath, or pass the input inline.",
                    )
                )
            ) from None
        except jinja2.TemplateError as exc:
            raise AirflowFailException(
                str(
                    DefinitionError(
                        f"Task '{self.task_id}': a templated field (state_machine_arn, input, name) does not render: {exc}",
                        "Fix the Jinja template.",
                    )
                )
            ) from None

    def _input_json(self) -> str:
        value = self.input
        if value is None:
            return "{}"
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        text = str(value)
        if text.strip().endswith(".json") and "\n" not in text and not text.strip().startswith(("{", "[")):
            raise FileOperationError(
                f"Task '{self.task_id}': input file {text!r} was not found or not rendered.",
                "Put the file next to the DAG file or in template_searchpath.",
            )
        try:
            json.loads(text)
        except ValueError as exc:
            raise DefinitionError(
                f"Task '{self.task_id}': parameter 'input' is not valid JSON ({exc}): {preview(text, 200)}",
                "Pass a dict, a JSON string, or a .json file that renders to JSON.",
            ) from None
        return text

    # --- start ----------------------------------------------------------------------------------
    def _start_job(self, context: Any) -> tuple[str, JobSpec, str]:
        ti = context["ti"]
        state_machine_arn = sfn.validate_state_machine_arn(self.state_machine_arn)
        input_json = self._input_json()
        name = (
            sfn.validate_name(self.name)
            if self.name
            else sfn.derive_name(
                ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1), ti.try_number
            )
        )
        hook = RestJobHook(self.conn_id, self.http_retry)
        client = hook.client()  # resolves the connection now: on_kill must never call Airflow
        self._stop_client = SyncClient(client.settings, NO_RETRY)

        arn = self._start(client, state_machine_arn, name, input_json, ti)
        self._spec = sfn.job_spec(arn, self.poll)
        return arn, self._spec, self.conn_id

    def _start(self, client: SyncClient, state_machine_arn: str, name: str, input_json: str, ti: Any) -> str:
        expected_arn = sfn.execution_arn_for(state_machine_arn, name)
        self.log.info("Starting Step Functions execution %s of %s", name, state_machine_arn)
        try:
            response = client.post(sfn.START_PATH, sfn.start_body(state_machine_arn, name, input_json))
        except ServiceError as error:
            if error.error_type != "ExecutionAlreadyExists":
                raise
            self.log.warning(
                "An execution named %s already exists (this try started it before): re-attaching to %s",
                name,
                expected_arn,
            )
            response = {"executionArn": expected_arn}
        except RestJobError as error:
            # the request may have reached Step Functions: keep the id so the job can be found
            self.log.error("Start failed; if it was started, its ARN is %s", expected_arn)
            error.with_execution(expected_arn)
            raise
        arn = response.get("executionArn") if isinstance(response, dict) else None
        if not arn:
            self.log.error("StartExecution answered without executionArn; the ARN would be %s", expected_arn)
            arn = expected_arn
        self._job_id = arn
        self.log.info("Step Functions execution ARN: %s", arn)
        self.log.info("AWS console: %s", sfn.console_url(arn))
        ti.xcom_push(key=EXECUTION_ARN_KEY, value=arn)
        ti.xcom_push(key=StepFunctionsExecutionLink().xcom_key, value=sfn.console_url(arn))
        return arn

    def _rebuild(self, job_id: str, context: Any) -> tuple[SyncClient, JobSpec]:
        client = SyncClient(RestJobHook(self.conn_id).settings(), NO_RETRY)
        return client, sfn.job_spec(job_id, self.poll)

    def _stop_note(self, event: dict[str, Any]) -> str:
        return "the execution was stopped." if event.get("stopped", True) else "the stop was NOT accepted."

    # --- completion -------------------------------------------------------------------------------
    def _job_finished(self, context: Any, event: dict[str, Any]) -> Any:
        status = event.get("status")
        arn = event.get("job_id") or self._job_id
        ti = context["ti"]
        response = event.get("response") or {}
        ti.xcom_push(key="execution_status", value=event.get("job_status"))
        ti.xcom_push(key="start_date", value=_iso(response.get("startDate")))
        ti.xcom_push(key="stop_date", value=_iso(response.get("stopDate")))
        if status == "success":
            self.log.info("Step Functions execution %s SUCCEEDED", arn)
            output = response.get("output")
            if output is None:
                return None
            try:
                return json.loads(output) if isinstance(output, str) else output
            except ValueError:
                return output
        details = event.get("details") or {}
        error, cause = details.get("error"), details.get("cause")
        if error or cause:
            why = f"error={error!r}, cause={cause!r}"
        elif event.get("job_status") == "TIMED_OUT":
            why = "Step Functions gave no error or cause (the state machine's TimeoutSeconds elapsed)"
        else:
            why = "Step Functions gave no error or cause"
        self.log.error("Last DescribeExecution response: %s", preview(redact(response)))
        raise AirflowFailException(
            str(
                NotSuccessError(
                    f"Step Functions execution {arn} ended {event.get('job_status')}: {why}.",
                    execution_id=arn,
                )
            )
        )


class RestJobFailed(Exception):
    """A job error reported by the trigger (its message already carries the end code)."""


class RestJobOperator(RestJobBaseOperator):
    """Run the REST job described by a connection information file (any REST API).

    :param connection_info: the file (absolute, or relative to the DAG file's folder or to the
        DAG's ``template_searchpath``), or the same content as a dict.  Loaded and validated when
        the DAG is parsed: a bad file is an import error naming the file, the key and what was
        expected.  Its strings are rendered with Jinja here, not as template fields.
    :param conn_id: connection whose host is the base URL for relative URLs.  Default: the
        request's ``authName`` connection.  It does not sign: ``authName`` does.
    :param deferrable: wait in the triggerer (default) or poll in the worker.
    :param max_wait: give up after this many seconds (default 7 days), like ``pollingCount``.
    :param poll_backoff: factor by which ``pollingInterval`` grows (default 1: fixed interval).
    :param max_poll_interval: cap for the interval when ``poll_backoff`` > 1.
    :param stop_on_kill: send the termination request when the task is cancelled (default True).
    :param http_retry: retries of throttled/transient monitoring and termination calls.
    :param retry_start: retry a POST start request on throttling/transient errors (default False:
        a retried POST could start the job twice; GET/PUT/DELETE starts are always retried).

    XCom: ``job_id`` (the first takeover value), ``takeover`` (all takeover values), one key per
    ``jobnetValKeys`` entry, ``job_status``; the return value is the last monitoring response
    (the start response when there is no monitoring).
    """

    template_fields: Sequence[str] = ()
    ui_color = "#e6e0f5"
    stop_on_error = True

    def __init__(
        self,
        *,
        connection_info: str | os.PathLike[str] | Mapping[str, Any],
        conn_id: str | None = None,
        deferrable: bool = True,
        max_wait: float | None = DEFAULT_MAX_WAIT,
        poll_backoff: float = 1.0,
        max_poll_interval: float | None = None,
        stop_on_kill: bool = True,
        http_retry: RetryPolicy | None = None,
        retry_start: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            conn_id=conn_id, deferrable=deferrable, stop_on_kill=stop_on_kill, http_retry=http_retry, **kwargs
        )
        self.connection_info = connection_info
        self.retry_start = retry_start
        task_id = kwargs.get("task_id")
        try:
            self.info = ci.load(connection_info, self._search_dirs())
        except RestJobError as exc:
            raise type(exc)(f"Task '{task_id}': {exc.cause}", exc.fix) from None
        monitoring = self.info.monitoring
        interval = monitoring.polling_interval if monitoring else ci.DEFAULT_POLLING_INTERVAL
        self.poll = _poll_spec(
            task_id,
            first_delay=monitoring.first_monitor_interval if monitoring else interval,
            interval=interval,
            max_interval=interval if max_poll_interval is None else max_poll_interval,
            backoff=poll_backoff,
            max_polls=monitoring.polling_count if monitoring else None,
            max_wait=max_wait,
        )
        if self.conn_id is None:
            for req in (self.info.request, self.info.wait_request):
                if req and "://" not in req.url and "{{" not in req.url and not req.auth_name:
                    raise DefinitionError(
                        f"Task '{task_id}': {self.info.source}: {req.section}.url: {req.url!r} is relative, "
                        "but there is no connection to take the base URL from.",
                        "Write an absolute URL, set authName, or pass conn_id= (its host is the base URL).",
                    )

    def _search_dirs(self) -> list[str]:
        try:
            dag = getattr(self, "_dag", None) or self.dag
        except (AttributeError, RuntimeError):  # not assigned to a DAG
            dag = None
        fileloc = getattr(dag, "fileloc", None) if dag is not None else None
        if not fileloc:  # no DAG (yet): the file that created the operator
            frame = inspect.currentframe()
            while frame is not None and (
                frame.f_code.co_filename == __file__ or "/airflow/" in frame.f_code.co_filename
            ):
                frame = frame.f_back
            fileloc = frame.f_code.co_filename if frame is not None else os.path.join(os.getcwd(), "x")
        folder = Path(fileloc).parent
        dirs = [str(folder)]
        searchpath = getattr(dag, "template_searchpath", None) if dag is not None else None
        if isinstance(searchpath, str):
            searchpath = [searchpath]
        for entry in searchpath or ():
            dirs.append(str(folder / entry))
        return dirs

    # --- helpers --------------------------------------------------------------------------------
    def _client(self, req: ci.RequestDef, retry: RetryPolicy) -> tuple[SyncClient, str]:
        route = ci.Route.for_request(req, self.conn_id)
        hook = ci.hook_for(route.conn_id)
        return SyncClient(hook.settings(), retry), route.conn_id

    def _renderer(self, context: Any) -> ci.Renderer:
        return ci.Renderer(self.info.source, self.get_template_env(), context)

    def _log_response(
        self, what: str, status: Any, data: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        self.log.info("%s: HttpStatusCode=%s", what, status)
        if headers is not None:
            self.log.info("%s header: %s", what, preview(redact(dict(headers)), MAX_LOGGED_RESPONSE))
        self.log.info("%s body: %s", what, preview(redact(data), MAX_LOGGED_RESPONSE))

    def _write(self, renderer: ci.Renderer, req: ci.RequestDef, key: str, data: Any) -> None:
        template = req.res_body if key == "resBody" else req.res_header
        if not template:
            return
        where = f"{req.section}.{key}"
        path = renderer.path(where, template, self.info.base_dir)
        ci.write_response(self.info.source, where, path, data)
        self.log.info("%s written to %s", where, path)

    def _push_values(self, ti: Any, req: ci.RequestDef, response: Any) -> None:
        for key, value in ci.extract(req.jobnet_val_keys, response).items():
            if value is None:
                self.log.warning(
                    "%s.jobnetValKeys: the response has no value at %r; XCom %r is null.",
                    req.section,
                    req.jobnet_val_keys[key],
                    key,
                )
            ti.xcom_push(key=key, value=value)

    @staticmethod
    def _request_spec(rendered: ci.Rendered) -> RequestSpec:
        return RequestSpec(
            path=rendered.url,
            method=rendered.method,
            body=rendered.body,
            query=rendered.query,
            headers=rendered.headers,
            timeout=rendered.timeout,
        )

    def _job_spec(
        self, renderer: ci.Renderer, takeover: Mapping[str, Any]
    ) -> tuple[JobSpec | None, RequestSpec | None]:
        """(spec with monitoring, termination alone): rendered with the takeover values."""
        info = self.info
        terminate = None
        if info.termination is not None:
            terminate = self._request_spec(renderer.request(info.termination, takeover))
        if info.monitoring is None:
            return None, terminate
        m = info.monitoring
        spec = JobSpec(
            label=f"REST job ({Path(info.source).name})",
            monitor=self._request_spec(renderer.request(m.request, takeover)),
            end_key=m.end_key,
            end_values=m.end_values,
            result_key=m.result_key,
            success_values=m.success_values,
            terminate=terminate,
            poll=self.poll,
        )
        return spec, terminate

    # --- start ----------------------------------------------------------------------------------
    def _start_job(self, context: Any) -> tuple[str, JobSpec, str] | Done:
        ti = context["ti"]
        info = self.info
        renderer = self._renderer(context)
        start = renderer.request(info.request)  # a bad body fails here, before anything is sent
        idempotent = start.method != "POST" or self.retry_start
        start_client, _ = self._client(info.request, self.http_retry if idempotent else NO_RETRY)
        trigger_conn_id = ""
        if info.wait_request is not None:  # resolved now: on_kill must never call Airflow
            wait_client, trigger_conn_id = self._client(info.wait_request, NO_RETRY)
            self._stop_client = wait_client

        self.log.info("Starting %s: %s %s", info.source, start.method, start_client.settings.url(start.url))
        reply: Reply = start_client.request(
            start.method,
            start.url,
            start.body,
            query=start.query,
            headers=start.headers,
            timeout=start.timeout,
        )
        self._log_response("Start response", reply.status, reply.data, reply.headers)
        self._write(renderer, info.request, "resHeader", reply.headers)
        self._write(renderer, info.request, "resBody", reply.data)

        takeover = ci.extract(info.request.takeover_keys, reply.data)
        names = list(takeover)
        if names and takeover[names[0]] is None:
            raise UnparsableResponseError(
                f"{info.source}: request.takeoverKeys[0]: the start response has no value at "
                f"{info.request.takeover_keys[names[0]]!r} (the job id), so the job cannot be monitored "
                f"or terminated: {preview(redact(reply.data), 500)}",
                "Check takeoverKeys against the API's start response.",
            )
        if names:
            job_id = str(takeover[names[0]])
        else:
            job_id = f"{ti.dag_id}.{ti.task_id}.{ti.run_id}.{getattr(ti, 'map_index', -1)}.try{ti.try_number}"
        self._job_id = job_id
        self.log.info("Job id: %s", job_id)
        ti.xcom_push(key=JOB_ID_KEY, value=job_id)
        ti.xcom_push(key=TAKEOVER_KEY, value=takeover)
        self._push_values(ti, info.request, reply.data)

        missing = [n for n in names if takeover[n] is None]
        try:
            if missing:
                raise UnparsableResponseError(
                    f"{info.source}: request.takeoverKeys: the start response has no value at "
                    f"{info.request.takeover_keys[missing[0]]!r}: {preview(redact(reply.data), 500)}",
                    "Check takeoverKeys against the API's start response.",
                )
            spec, terminate = self._job_spec(renderer, takeover)
        except RestJobError as error:
            self._terminate_after_start_error(renderer, takeover, job_id, error)
            raise
        if spec is None:
            self.log.info("No monitoring: the job ended when the start request was accepted.")
            return Done(reply.data)
        self._spec = spec
        return job_id, spec, trigger_conn_id

    def _terminate_after_start_error(
        self, renderer: ci.Renderer, takeover: Mapping[str, Any], job_id: str, error: RestJobError
    ) -> None:
        """The job was started but cannot be waited for: try the termination request anyway."""
        if self.info.termination is None or self._stop_client is None:
            return
        try:
            rendered = renderer.request(self.info.termination, {k: v for k, v in takeover.items()})
        except RestJobError as exc:
            self.log.error("Termination of %s not sent: %s", job_id, exc)
            return
        spec = JobSpec(
            label="REST job",
            monitor=self._request_spec(rendered),
            end_key="x",
            end_values=("x",),
            result_key="x",
            success_values=("x",),
            terminate=self._request_spec(rendered),
        )
        self._stop(self._stop_client, spec, job_id, "airflow-restjob: start failed", str(error)[:500])

    def _rebuild(self, job_id: str, context: Any) -> tuple[SyncClient, JobSpec] | None:
        if self.info.termination is None or self.info.wait_request is None:
            return None
        takeover = context["ti"].xcom_pull(task_ids=self.task_id, key=TAKEOVER_KEY) or {}
        renderer = self._renderer(context)
        client, _ = self._client(self.info.wait_request, NO_RETRY)
        spec, terminate = self._job_spec(renderer, takeover)
        if spec is None:
            return None
        return client, spec

    def _stop_note(self, event: dict[str, Any]) -> str:
        if self.info.termination is None:
            return "no termination request is defined, the job may still run."
        if event.get("stopped", True):
            return "the termination request was sent."
        return "the termination request was NOT accepted."

    # --- completion -----------------------------------------------------------------------------
    def _job_finished(self, context: Any, event: dict[str, Any]) -> Any:
        ti = context["ti"]
        job_id = event.get("job_id") or self._job_id
        response = event.get("response")
        monitoring = self.info.monitoring
        assert monitoring is not None
        self._log_response("Last monitoring response", event.get("http_status", "2xx"), response)
        ti.xcom_push(key="job_status", value=event.get("job_status"))
        self._push_values(ti, monitoring.request, response)
        renderer = self._renderer(context)
        try:
            self._write(renderer, monitoring.request, "resBody", response)
        except RestJobError as error:
            raise fail(error.with_execution(job_id)) from None
        if event.get("status") == "success":
            self.log.info("REST job %s ended %s", job_id, event.get("job_status"))
            return response
        result = search(monitoring.result_key, response)
        raise AirflowFailException(
            str(
                NotSuccessError(
                    f"{self.info.source}: REST job {job_id} ended with {monitoring.end_key}="
                    f"{event.get('job_status')!r}; {monitoring.result_key}={result!r} is not one of "
                    f"checkResultVal {list(monitoring.success_values)}.",
                    execution_id=job_id,
                )
            )
        )
