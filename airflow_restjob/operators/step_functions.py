"""``StepFunctionsExecutionOperator``: start an AWS Step Functions execution and wait for it.

The service calls are ``StepFunctionsHook``'s; the wait, completion and stop paths are
``RestJobBaseOperator``'s; the execution's monitoring / termination requests are
``rest_job.step_functions.job_spec``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_restjob.compat import AirflowFailException
from airflow_restjob.errors import (
    DefinitionError,
    FileOperationError,
    NotSuccessError,
    RestJobError,
    ServiceError,
)
from airflow_restjob.hooks.rest_job import RestJobHook
from airflow_restjob.hooks.step_functions import StepFunctionsHook
from airflow_restjob.links.step_functions import EXECUTION_ARN_KEY, StepFunctionsExecutionLink
from airflow_restjob.operators.base import (
    DEFAULT_MAX_WAIT,
    RestJobBaseOperator,
    Started,
    poll_spec,
    redact,
)
from airflow_restjob.rest_job import step_functions as sfn
from airflow_restjob.rest_job.retry import STOP_RETRY, RetryPolicy
from airflow_restjob.rest_job.spec import JobSpec, is_number, preview

if TYPE_CHECKING:
    from airflow.sdk import Context


def _outline(response: Any) -> str:
    """A DescribeExecution answer without its business data: every key, the payloads by size."""
    if not isinstance(response, dict):
        return preview(response, 200)
    parts = []
    for key, value in response.items():
        if key in ("input", "output") or key.endswith(("Details", "Input", "Output")):
            parts.append(f"{key}=<{len(str(value))} chars>")
        else:
            parts.append(f"{key}={preview(value, 300)}")
    return ", ".join(parts)


def name_prefix() -> str:
    """``[restjob] execution_name_prefix`` (default empty: the names of earlier releases)."""
    from airflow.configuration import conf

    return sfn.validate_prefix(str(conf.get("restjob", "execution_name_prefix", fallback="") or "").strip())


def _missing_resource(error: RestJobError) -> bool:
    """API Gateway's answer for a path the stage does not have."""
    return error.status == 403 and "Missing Authentication Token" in error.cause


def _cannot_redrive(error: RestJobError) -> bool:
    """RedriveExecution refused for good: not redrivable, or an API Gateway without the resource."""
    return error.error_type in ("ExecutionNotRedrivable", "ValidationException") or _missing_resource(error)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc).isoformat()
    return str(value)


class StepFunctionsWaitOperator(RestJobBaseOperator):
    """What waiting for a Step Functions execution means, whoever started it: the poll settings,
    the completion (output, XComs, the failed state) and the stop request. Subclasses start or
    attach (``_start_job``)."""

    operator_extra_links = (StepFunctionsExecutionLink(),)
    ui_color = "#f5d6e6"
    id_xcom_key = EXECUTION_ARN_KEY
    job_label = "Step Functions execution"
    retry_mode = sfn.RETRY_NEW

    def __init__(
        self,
        *,
        conn_id: str = RestJobHook.default_conn_name,
        deferrable: bool | None = None,
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
        self.poll = poll_spec(
            kwargs.get("task_id"),
            first_delay=first_poll_delay,
            interval=poll_interval,
            max_interval=(
                max_poll_interval
                if max_poll_interval is not None
                else max(60.0, poll_interval) if is_number(poll_interval) else poll_interval
            ),
            backoff=poll_backoff,
            max_polls=max_polls,
            max_wait=DEFAULT_MAX_WAIT if max_wait is None else max_wait,  # a wait is never unbounded
        )

    def _job_spec(self, arn: str, direct: bool) -> JobSpec:
        spec = sfn.job_spec(arn, self.poll, direct)
        # without stop_on_kill nothing stops the execution, not even the wait's own limit
        return spec if self.stop_on_kill else replace(spec, terminate=None)

    def _announce(self, ti: Any, arn: str) -> None:
        """Log the execution and record it (XCom) before anything else can go wrong."""
        self._job_id = arn
        self.log.info("Step Functions execution ARN: %s", arn)
        self.log.info("AWS console: %s", sfn.console_url(arn))
        ti.xcom_push(key=EXECUTION_ARN_KEY, value=arn)
        ti.xcom_push(key=StepFunctionsExecutionLink().xcom_key, value=sfn.console_url(arn))

    def _rebuild(self, job_id: str, context: Context) -> tuple[RestJobHook, JobSpec]:
        hook = StepFunctionsHook(self.conn_id)
        return hook, self._job_spec(job_id, hook.direct)

    def _stop_note(self, event: dict[str, Any]) -> str:
        if not self.stop_on_kill:
            return "the execution was left running (stop_on_kill=False)."
        return "the execution was stopped." if event.get("stopped", True) else "the stop was NOT accepted."

    # --- completion -------------------------------------------------------------------------------
    def _failed_state(self, arn: str | None) -> sfn.FailedState | None:
        """Which state failed, from the execution history; best effort (None, with the reason at
        INFO, when the endpoint has no GetExecutionHistory or the call fails)."""
        if not arn:
            return None
        hook = StepFunctionsHook(self.conn_id, STOP_RETRY)
        try:
            return hook.failed_state(arn)
        except RestJobError as exc:
            where = "" if hook.direct else " (an API Gateway needs a get-execution-history resource for it)"
            self.log.info("The state that failed is not known: GetExecutionHistory failed%s: %s", where, exc)
        return None

    def _job_finished(self, context: Context, event: dict[str, Any]) -> Any:
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
        failed = self._failed_state(arn) if event.get("job_status") in sfn.FAILED_STATUSES else None
        if failed is not None:
            self.log.error("The execution failed in %s", failed.describe())
            if failed.state is not None:
                why = f"in state {failed.state!r}: " + (
                    why if error or cause else f"error={failed.error!r}, cause={preview(failed.cause, 1000)!r}"
                )
        # business data (input, output) stays out of the log at ERROR: its size only, the body at DEBUG
        self.log.error("Last DescribeExecution response: %s", _outline(response))
        self.log.debug("Last DescribeExecution response body: %s", preview(redact(response)))
        error = NotSuccessError(f"Step Functions execution {arn} ended {event.get('job_status')}: {why}.", execution_id=arn)
        if self.retry_mode == sfn.RETRY_REDRIVE:
            raise error  # the task's retries redrive the execution
        raise AirflowFailException(str(error))


class StepFunctionsExecutionOperator(StepFunctionsWaitOperator):
    """Start an AWS Step Functions execution through a SigV4-signed API Gateway and wait for it.

    :param state_machine_arn: ARN of the state machine (templated).
    :param input: execution input: a dict, a JSON string, or a ``.json`` file rendered with Jinja
        (templated).
    :param name: execution name (templated). Default: derived from dag_id, task_id, run_id,
        map_index and try number, so a re-run of the same try re-attaches instead of starting twice.
    :param conn_id: a ``restjob`` connection (API base URL with stage, keys, region).
    :param deferrable: wait in the triggerer (True) or poll in the worker (False); default
        ``[operators] default_deferrable`` (Airflow's default: False). Deferral needs a running
        triggerer; ``[triggerer] capacity`` (1,000 by default) bounds the jobs one triggerer holds.
    :param first_poll_delay: seconds before the first status check.
    :param poll_interval: seconds between checks (>= 1).
    :param max_poll_interval: cap for the interval when ``poll_backoff`` > 1.
    :param poll_backoff: factor by which the interval grows for long executions.
    :param max_polls: give up (stop the execution, end code 6) after this many checks.
    :param max_wait: give up after this many seconds (default 7 days); the wait is never unbounded.
    :param stop_on_kill: stop the execution when the task is cancelled (default True).
    :param http_retry: retries of throttled/transient HTTP calls.
    :param retry_mode: ``"new"`` (default): every try starts a new execution. ``"redrive"``: a try
        after an execution that ended FAILED, TIMED_OUT or ABORTED calls RedriveExecution on it (same
        ARN, it continues from the state that failed); when it cannot be redriven (NOT_REDRIVABLE,
        ended more than 14 days ago, an API Gateway without a ``redrive-execution`` resource) the
        try starts a new execution and the log says why. An execution still running is waited for.
    """

    template_fields: Sequence[str] = ("state_machine_arn", "input", "name")
    template_ext: Sequence[str] = (".json",)
    template_fields_renderers = {"input": "json"}

    def __init__(
        self,
        *,
        state_machine_arn: str,
        input: dict[str, Any] | list[Any] | str | None = None,
        name: str | None = None,
        retry_mode: str = sfn.RETRY_NEW,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.retry_mode = sfn.validate_retry_mode(retry_mode, kwargs.get("task_id"))
        self.state_machine_arn = state_machine_arn
        self.input = input
        self.name = name

    # --- templating -----------------------------------------------------------------------------
    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
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
    def _checked_start(self, ti: Any) -> tuple[str, str, str, StepFunctionsHook]:
        """What a start sends, checked before anything is sent: (state machine ARN, input JSON,
        execution name - given or derived per try -, the hook, its Region checked)."""
        state_machine_arn = sfn.validate_state_machine_arn(self.state_machine_arn)
        input_json = self._input_json()
        name = (
            sfn.validate_name(self.name)
            if self.name
            else sfn.derive_name(
                ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1), ti.try_number, name_prefix()
            )
        )
        hook = StepFunctionsHook(self.conn_id, self.http_retry)
        hook.check_region(state_machine_arn)
        return state_machine_arn, input_json, name, hook

    def _start_job(self, context: Context) -> Started:
        ti = context["ti"]
        state_machine_arn, input_json, name, hook = self._checked_start(ti)
        self._prepare_wait(hook)
        arn = None
        if self.retry_mode == sfn.RETRY_REDRIVE and ti.try_number > 1:
            arn = self._redrive_earlier(hook, ti, state_machine_arn)
        if arn is None:
            self.log.info("Starting Step Functions execution %s of %s", name, state_machine_arn)
            arn = hook.start_execution(state_machine_arn, name, input_json)
        self._announce(ti, arn)
        if sfn.is_express_arn(arn):
            raise DefinitionError(
                f"Task '{self.task_id}': {state_machine_arn} is an Express state machine: Step Functions "
                f"started {arn} asynchronously, and an Express execution cannot be described or stopped, "
                "so this operator cannot wait for it (it runs on by itself).",
                "Use StepFunctionsExpressExecutionOperator (StartSyncExecution) for Express workflows.",
            )
        return Started(arn, self._job_spec(arn, hook.direct), hook)

    def _redrive_earlier(self, hook: StepFunctionsHook, ti: Any, state_machine_arn: str) -> str | None:
        """``retry_mode='redrive'``: redrive (or wait for) the execution of the newest earlier try;
        None (with the reason in the log) when this try must start a new execution."""
        names = (
            [self.name]
            if self.name
            else sfn.earlier_try_names(
                ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1), ti.try_number, name_prefix()
            )
        )
        for name in names:
            arn = sfn.execution_arn_for(state_machine_arn, name)
            try:
                described = hook.describe_execution(arn)
            except ServiceError as exc:
                if exc.error_type == "ExecutionDoesNotExist":
                    continue
                raise exc.with_execution(arn) from None
            action, why = sfn.redrive_decision(described if isinstance(described, dict) else {})
            if action == sfn.ATTACH:
                self.log.warning("retry_mode='redrive': execution %s: %s", arn, why)
                return arn
            if action == sfn.NEW:
                self.log.warning("retry_mode='redrive': not redriving %s: %s; starting a new execution", arn, why)
                return None
            try:
                hook.redrive_execution(arn, sfn.redrive_token(arn, ti.try_number))
            except RestJobError as exc:
                if not _cannot_redrive(exc):
                    raise exc.with_execution(arn) from None
                self.log.warning(
                    "retry_mode='redrive': %s cannot be redriven: %s; starting a new execution", arn, exc.cause
                )
                return None
            self.log.info(
                "retry_mode='redrive': redrove %s (%s); it continues from the state that failed, same ARN",
                arn,
                why,
            )
            return arn
        self.log.info(
            "retry_mode='redrive': no execution of an earlier try was found (looked for %s); starting a new one",
            ", ".join(names[:3]) + (", ..." if len(names) > 3 else ""),
        )
        return None


class StepFunctionsExpressExecutionOperator(StepFunctionsExecutionOperator):
    """Run an Express Step Functions workflow with StartSyncExecution and return its output.

    The answer comes when the execution has ended (Express workflows run at most 5 minutes), so
    the task runs in the worker whatever ``deferrable`` says. Step Functions cannot describe,
    stop or redrive an Express execution later: a cancelled task leaves it running, there are no
    polls, and the request is sent once (a resent StartSyncExecution would run the workflow
    again; throttling fails the try, and ``retries`` start it again). The status, output, error
    and cause are judged from the answer as a Standard execution's are from DescribeExecution.

    Over an API Gateway the stage needs a ``POST /start-sync-execution`` resource (the
    synchronous integration, action ``StartSyncExecution``); over the direct API the call goes to
    ``https://sync-states.{region}.amazonaws.com`` (a ``states.*`` host gets the ``sync-`` prefix;
    point a VPC endpoint connection at the ``sync-states`` endpoint).

    Same parameters as ``StepFunctionsExecutionOperator`` (``state_machine_arn``, ``input``,
    ``name``, ``conn_id``); the wait settings do not apply and ``retry_mode`` must be ``"new"``.
    """

    ui_color = "#f5e6d6"

    def __init__(self, *, retry_mode: str = sfn.RETRY_NEW, **kwargs: Any) -> None:
        if retry_mode != sfn.RETRY_NEW:
            raise DefinitionError(
                f"Task '{kwargs.get('task_id')}': retry_mode={retry_mode!r}: an Express execution cannot be redriven.",
                "Remove retry_mode (every try starts the workflow again).",
            )
        super().__init__(**kwargs)

    def _start_job(self, context: Context) -> Started:
        ti = context["ti"]
        state_machine_arn, input_json, name, hook = self._checked_start(ti)
        self.log.info("Running Express workflow %s (%s) with StartSyncExecution", state_machine_arn, name)
        try:
            response = hook.start_sync_execution(state_machine_arn, name, input_json)
        except ServiceError as exc:
            if exc.error_type == "StateMachineTypeNotSupported":
                raise DefinitionError(
                    f"Task '{self.task_id}': {state_machine_arn} is a Standard state machine; "
                    f"StartSyncExecution runs Express workflows only ({exc.cause}).",
                    "Use StepFunctionsExecutionOperator for Standard workflows.",
                ) from None
            raise
        except RestJobError as exc:
            if _missing_resource(exc) and not hook.direct:  # nothing was started
                raise DefinitionError(
                    f"Task '{self.task_id}': the API Gateway of connection '{self.conn_id}' has no "
                    f"start-sync-execution resource ({exc.cause})",
                    "Add POST /start-sync-execution to the stage (the StartSyncExecution synchronous "
                    "integration), or use a connection to the Step Functions API itself (service states).",
                ) from None
            self.log.error(
                "StartSyncExecution failed; if it reached Step Functions, the Express execution named %s of %s "
                "may run on (find it in the state machine's CloudWatch Logs)",
                name,
                state_machine_arn,
            )
            raise
        if not isinstance(response, dict) or not response.get("executionArn"):
            self.log.error("StartSyncExecution answered without executionArn: %s", preview(redact(response), 300))
        else:
            self._announce(ti, str(response["executionArn"]))
        event = sfn.sync_event(response, sfn.job_spec(self._job_id or "", self.poll))
        return Started(result=self._job_finished(context, event))

    def _failed_state(self, arn: str | None) -> sfn.FailedState | None:
        return None  # an Express execution has no GetExecutionHistory (its history is in CloudWatch Logs)
