"""``StepFunctionsExecutionSensor``: wait for a Step Functions execution that something else started.

The wait, output, XComs and the failed state are ``StepFunctionsWaitOperator``'s (the same as for
an execution the operator started); only the start differs: the execution is attached to by its
ARN. It did not start the execution, so by default it never stops it (``stop_on_kill=False``):
not on cancellation, not when its own wait limit passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_restjob.errors import DefinitionError, ServiceError
from airflow_restjob.hooks.step_functions import StepFunctionsHook
from airflow_restjob.operators.base import Started
from airflow_restjob.operators.step_functions import StepFunctionsWaitOperator
from airflow_restjob.rest_job import step_functions as sfn

if TYPE_CHECKING:
    from airflow.sdk import Context


class StepFunctionsExecutionSensor(StepFunctionsWaitOperator):
    """Wait for an existing Step Functions execution (deferrable), with the operator's judging.

    Returns the execution's parsed output on SUCCEEDED and pushes ``execution_arn``,
    ``execution_status``, ``start_date`` and ``stop_date`` to XCom; FAILED, TIMED_OUT and ABORTED
    fail the task with the error, the cause and the state that failed.

    :param execution_arn: ARN of the execution to wait for (templated), e.g.
        ``"{{ ti.xcom_pull(task_ids='start', key='execution_arn') }}"``.
    :param stop_on_kill: stop the execution when this task is cancelled or its wait limit passes
        (default False: the sensor did not start it).
    :param timeout: like a sensor's ``timeout``: seconds to wait (an alias of ``max_wait``).
    :param poke_interval: like a sensor's ``poke_interval``: seconds between checks (an alias
        of ``poll_interval``).

    Everything else as ``StepFunctionsExecutionOperator``: ``conn_id``, ``deferrable``,
    ``first_poll_delay``, ``poll_interval``, ``max_poll_interval``, ``poll_backoff``,
    ``max_polls``, ``max_wait``, ``http_retry``.
    """

    template_fields: Sequence[str] = ("execution_arn",)
    ui_color = "#e6d6f5"

    def __init__(
        self,
        *,
        execution_arn: str,
        stop_on_kill: bool = False,
        first_poll_delay: float = 0.0,
        timeout: float | None = None,
        poke_interval: float | None = None,
        **kwargs: Any,
    ) -> None:
        if timeout is not None:
            kwargs.setdefault("max_wait", timeout)
        if poke_interval is not None:
            kwargs.setdefault("poll_interval", poke_interval)
        super().__init__(stop_on_kill=stop_on_kill, first_poll_delay=first_poll_delay, **kwargs)
        self.execution_arn = execution_arn

    def _start_job(self, context: Context) -> Started:
        arn = str(self.execution_arn or "").strip()
        if not sfn.EXECUTION_ARN_RE.match(arn):
            raise DefinitionError(
                f"Task '{self.task_id}': execution_arn is not an execution ARN: {arn!r}.",
                "Pass the ARN of an execution (arn:aws:states:<region>:<account>:execution:<state machine>:<name>), "
                "e.g. \"{{ ti.xcom_pull(task_ids='start', key='execution_arn') }}\".",
            )
        if ":express:" in arn:
            raise DefinitionError(
                f"Task '{self.task_id}': {arn} is an Express execution, which Step Functions cannot describe.",
                "Wait for Standard workflow executions only; an Express workflow's result comes with its start.",
            )
        hook = StepFunctionsHook(self.conn_id, self.http_retry)
        hook.check_region(arn)
        self._prepare_wait(hook)
        try:
            hook.describe_execution(arn)  # it exists: a typo fails here, not after the wait
        except ServiceError as exc:
            if exc.error_type == "ExecutionDoesNotExist":  # end code 2: no retry
                raise DefinitionError(
                    f"Task '{self.task_id}': execution {arn} does not exist ({exc.cause}).",
                    "Check the ARN (Region, account, state machine and execution name) and that the "
                    "connection reaches the account that runs it.",
                ) from None
            raise
        self.log.info("Attaching to Step Functions execution %s (stop_on_kill=%s)", arn, self.stop_on_kill)
        self._announce(context["ti"], arn)
        return Started(arn, self._job_spec(arn, hook.direct), hook)
