"""``StepFunctionsExecutionOperator``: one task = one Step Functions execution, stopped on cancel.

Flow: resolve the connection (once) -> start the execution through the signed API Gateway ->
log the ARN and push it to XCom -> wait (deferred in the triggerer by default, or polling in the
worker) -> return the execution's parsed ``output``.

The execution is stopped (StopExecution with an error/cause naming who and why) when:
- the task is marked failed/success or cleared while deferred (the trigger's ``on_kill`` /
  cancellation guard, see ``airflow_restjob.trigger``);
- the task runs in a worker (``deferrable=False``) and is marked failed, cleared, times out
  (``execution_timeout``) or the worker shuts down (``on_kill``: pure HTTP with credentials
  resolved before the start, no call into Airflow from the signal handler);
- the deferral times out (``resume_execution`` with ``__fail__``) or the trigger's own deadline
  passes (``max_wait``, or what is left of ``execution_timeout``: Airflow does not enforce
  ``execution_timeout`` while a task is deferred, so it is passed to ``defer()`` and the trigger).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import BaseOperator

from airflow_restjob import stepfunctions as sfn
from airflow_restjob.client import SyncClient
from airflow_restjob.compat import AirflowFailException, AirflowTaskTimeout
from airflow_restjob.errors import (
    DefinitionError,
    EndCode,
    FileOperationError,
    NotSuccessError,
    RestJobError,
    ServiceError,
    WaitTimeoutError,
)
from airflow_restjob.hook import RestJobHook
from airflow_restjob.job import JobSpec, PollSpec, Wait, preview, stop_request
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
TRIGGER_FAIL = "__fail__"


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


class StepFunctionsExecutionOperator(BaseOperator):
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
        max_poll_interval: float = 60.0,
        poll_backoff: float = 1.0,
        max_polls: int | None = None,
        max_wait: float | None = DEFAULT_MAX_WAIT,
        stop_on_kill: bool = True,
        http_retry: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.state_machine_arn = state_machine_arn
        self.input = input
        self.name = name
        self.conn_id = conn_id
        self.deferrable = deferrable
        try:
            self.poll = PollSpec(
                first_delay=first_poll_delay,
                interval=poll_interval,
                max_interval=max(max_poll_interval, poll_interval),
                backoff=poll_backoff,
                max_polls=max_polls,
                max_wait=max_wait,
            )
        except DefinitionError as exc:
            raise DefinitionError(f"Task '{kwargs.get('task_id')}': {exc.cause}", exc.fix) from None
        self.stop_on_kill = stop_on_kill
        self.http_retry = http_retry or RetryPolicy()
        self._execution_arn: str | None = None
        self._stop_client: SyncClient | None = None
        self._killed = False

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

    # --- execute ----------------------------------------------------------------------------------
    def execute(self, context: Any) -> Any:
        try:
            return self._start_and_wait(context)
        except RestJobError as error:
            raise fail(error.with_execution(self._execution_arn)) from None

    def _start_and_wait(self, context: Any) -> Any:
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
        deadline, reason = self._deadline(context)
        spec = sfn.job_spec(arn, self.poll)
        if self.deferrable:
            self.defer(
                trigger=RestJobTrigger(
                    conn_id=self.conn_id,
                    job_id=arn,
                    spec=spec.to_dict(),
                    deadline=deadline,
                    task_identity={
                        "dag_id": ti.dag_id,
                        "task_id": ti.task_id,
                        "run_id": ti.run_id,
                        "map_index": getattr(ti, "map_index", -1),
                        "try_number": ti.try_number,
                    },
                    id_xcom_key=EXECUTION_ARN_KEY,
                    stop_on_kill=self.stop_on_kill,
                    reason=reason,
                ),
                method_name="execute_complete",
                # backstop if no triggerer runs the trigger: the scheduler fails the deferral a little
                # after the trigger's own deadline, and resume_execution stops the execution
                timeout=timedelta(seconds=defer_timeout(deadline - time.time())) if deadline else None,
            )
        return self._wait_in_worker(client, spec, arn, deadline, reason, context)

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
        self._execution_arn = arn
        self.log.info("Step Functions execution ARN: %s", arn)
        self.log.info("AWS console: %s", sfn.console_url(arn))
        ti.xcom_push(key=EXECUTION_ARN_KEY, value=arn)
        ti.xcom_push(key=StepFunctionsExecutionLink().xcom_key, value=sfn.console_url(arn))
        return arn

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
        self, client: SyncClient, spec: JobSpec, arn: str, deadline: float | None, reason: str, context: Any
    ) -> Any:
        wait = Wait(spec, deadline, reason)
        while True:
            self._sleep(wait.delay(time.time()))
            limit = wait.limit_reached(time.time())
            if limit:
                status, why = limit
                self._stop(client, spec, arn, "airflow-restjob: wait limit", why)
                return self.execute_complete(context, {"status": status, "job_id": arn, "message": why})
            try:
                reply = client.request(spec.monitor.method, spec.monitor.path, spec.monitor.body)
            except RestJobError as error:
                if not error.retryable:
                    raise
                self.log.warning("Poll of %s failed, will poll again: %s", arn, error)
                wait.failed_poll()
                continue
            verdict, changed = wait.observe(reply.data)
            if changed:
                self.log.info("%s %s is %s", spec.label, arn, verdict.status)
            if verdict.ended:
                event = {
                    "status": "success" if verdict.success else "failed",
                    "job_id": arn,
                    "job_status": verdict.status,
                    "response": reply.data,
                    "details": verdict.details,
                }
                return self.execute_complete(context, event)

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._killed and time.monotonic() < end:
            time.sleep(min(0.5, max(0.0, end - time.monotonic())))
        if self._killed:
            raise AirflowFailException(f"Task killed; the stop of {self._execution_arn} was sent by on_kill.")

    # --- completion -------------------------------------------------------------------------------
    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        status = event.get("status")
        arn = event.get("job_id") or self._execution_arn
        ti = context["ti"]
        if status == "error":
            message = str(event.get("message"))
            code = event.get("end_code", int(EndCode.REQUEST_FAILED))
            raise AirflowFailException(message) if code in FAIL_FAST_CODES else RestJobFailed(message)
        if status in ("timeout", "polls_exhausted"):
            message = (
                f"[end code {int(EndCode.WAIT_TIMED_OUT)}: completion wait timed out] Step Functions execution "
                f"{arn}: {event.get('message')}; "
                + (
                    "the execution was stopped."
                    if event.get("stopped", True)
                    else "the stop was NOT accepted."
                )
            )
            self.log.error(message)
            if "execution_timeout" in str(event.get("message")):
                raise AirflowTaskTimeout(message)
            raise WaitTimeoutError(message, execution_id=arn)
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
        self.log.error("Last DescribeExecution response: %s", preview(response))
        raise AirflowFailException(
            str(
                NotSuccessError(
                    f"Step Functions execution {arn} ended {event.get('job_status')}: {why}.",
                    execution_id=arn,
                )
            )
        )

    # --- stopping -----------------------------------------------------------------------------------
    def on_kill(self) -> None:
        """SIGTERM in the worker: stop the execution with pre-resolved credentials, pure HTTP."""
        self._killed = True
        if not (self.stop_on_kill and self._execution_arn and self._stop_client):
            return
        spec = sfn.job_spec(self._execution_arn, self.poll)
        self._stop(
            self._stop_client, spec, self._execution_arn, "airflow-restjob: task killed", "on_kill (worker)"
        )

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Any) -> Any:
        if next_method == TRIGGER_FAIL and self.stop_on_kill:
            arn = context["ti"].xcom_pull(task_ids=self.task_id, key=EXECUTION_ARN_KEY)
            if arn:
                reason = (next_kwargs or {}).get("error", "trigger failure")
                self.log.error("Deferral ended with %s: stopping %s", reason, arn)
                client = SyncClient(RestJobHook(self.conn_id).settings(), NO_RETRY)
                self._stop(
                    client,
                    sfn.job_spec(arn, self.poll),
                    arn,
                    "airflow-restjob: deferral timeout",
                    str(reason),
                )
        return super().resume_execution(next_method, next_kwargs, context)

    def _stop(self, client: SyncClient, spec: JobSpec, arn: str, error: str, cause: str) -> bool:
        request = stop_request(spec, error, cause)
        if request is None:
            return False
        try:
            client.request(request.method, request.path, request.body)
        except RestJobError as exc:
            self.log.warning("Stop of %s was not accepted: %s", arn, exc)
            return False
        self.log.info("Stop sent for %s (%s)", arn, cause)
        return True


class RestJobFailed(Exception):
    """A job error reported by the trigger (its message already carries the end code)."""
