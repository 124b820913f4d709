"""``StepFunctionsHook``: StartExecution, DescribeExecution and StopExecution of AWS Step Functions.

Calls go through the article's API Gateway (the ``restjob`` connection's host is the stage URL,
requests are SigV4-signed; the resources are ``rest_job.step_functions``'s paths), or to the Step
Functions API itself when the connection's signing service is ``states`` (host
``https://states.{region}.amazonaws.com`` or a VPC endpoint URL).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow_restjob.errors import DefinitionError, RestJobError, ServiceError, UnparsableResponseError
from airflow_restjob.hooks.rest_job import RestJobHook
from airflow_restjob.rest_job import step_functions as sfn

log = logging.getLogger(__name__)


class StepFunctionsHook(RestJobHook):
    """Step Functions calls over a ``restjob`` connection (worker side, ``requests``)."""

    @property
    def direct(self) -> bool:
        """The connection is the Step Functions API itself (signing service ``states``)."""
        return self.settings().service == sfn.DIRECT_SERVICE

    def _call(self, resource: str, body: dict[str, Any]) -> Any:
        path, headers = sfn.call(resource, self.direct)
        return self.post(path, body, headers=headers)

    def check_region(self, arn: str) -> None:
        """The direct API serves one Region: an ARN of another one can only fail."""
        region = sfn.region_of(arn)
        settings = self.settings()
        if self.direct and region and region != settings.region:
            raise DefinitionError(
                f"{arn} is in Region {region}, but connection '{self.conn_id}' calls Step Functions in "
                f"{settings.region} ({settings.base_url}).",
                f"Use a connection for {region} (host https://states.{region}.amazonaws.com), or the ARN "
                f"of a state machine in {settings.region}.",
            )

    def start_execution(self, state_machine_arn: str, name: str, input_json: str) -> str:
        """Start an execution and return its ARN.

        The name is derived per try, so an execution of that name already existing means this try
        started it before (a worker died after StartExecution): re-attach to it. When the start
        fails in a way that may have reached Step Functions, the error carries the ARN the
        execution would have, so it can be found and stopped.
        """
        expected_arn = sfn.execution_arn_for(state_machine_arn, name)
        try:
            response = self._call(sfn.START_PATH, sfn.start_body(state_machine_arn, name, input_json))
        except ServiceError as error:
            if error.error_type != "ExecutionAlreadyExists":
                raise
            existing = self._existing(expected_arn)
            if existing is not None and not sfn.same_input(existing.get("input"), input_json):
                raise DefinitionError(
                    f"An execution named {name!r} of {state_machine_arn} already exists with another input "
                    f"({expected_arn}, {existing.get('status')}): it is not this task's to wait for.",
                    "Leave name unset (a name is derived per try), or give the task a name no execution of "
                    "this state machine has had in the last 90 days.",
                ) from None
            self.log.warning(
                "An execution named %s already exists with the same input (this try started it before): "
                "re-attaching to %s",
                name,
                expected_arn,
            )
            return expected_arn
        except UnparsableResponseError as error:
            # Step Functions answered, but the answer was unreadable: the execution may have started
            existing = self._existing(expected_arn)
            if existing is not None and sfn.same_input(existing.get("input"), input_json):
                self.log.warning(
                    "StartExecution's answer could not be read (%s); execution %s exists: attaching to it",
                    error.cause,
                    expected_arn,
                )
                return expected_arn
            self.log.error("Start failed; if it was started, its ARN is %s", expected_arn)
            raise error.with_execution(expected_arn) from None
        except RestJobError as error:
            # the request may have reached Step Functions: keep the id so the job can be found
            self.log.error("Start failed; if it was started, its ARN is %s", expected_arn)
            error.with_execution(expected_arn)
            raise
        arn = response.get("executionArn") if isinstance(response, dict) else None
        if not arn:
            self.log.error("StartExecution answered without executionArn; the ARN would be %s", expected_arn)
            return expected_arn
        return str(arn)

    def _existing(self, execution_arn: str) -> dict[str, Any] | None:
        """DescribeExecution of an execution that may exist; None when it does not or cannot be read."""
        try:
            described = self.describe_execution(execution_arn)
        except RestJobError as error:
            if error.error_type != "ExecutionDoesNotExist":
                self.log.warning("Could not look %s up: %s", execution_arn, error)
            return None
        return described if isinstance(described, dict) else None

    def describe_execution(self, execution_arn: str) -> dict[str, Any]:
        return self._call(sfn.DESCRIBE_PATH, {"executionArn": execution_arn})

    def stop_execution(self, execution_arn: str, error: str = "", cause: str = "") -> dict[str, Any]:
        return self._call(sfn.STOP_PATH, {"executionArn": execution_arn, "error": error, "cause": cause})

    def failed_state(self, execution_arn: str) -> sfn.FailedState | None:
        """The state an ended execution failed in, from GetExecutionHistory (newest first, at most
        ``HISTORY_MAX_PAGES`` pages). Raises what the call raises (an API Gateway without a
        ``get-execution-history`` resource answers 403 "Missing Authentication Token")."""
        search = sfn.FailureSearch()
        token: str | None = None
        for _ in range(sfn.HISTORY_MAX_PAGES):
            page = self._call(sfn.HISTORY_PATH, sfn.history_body(execution_arn, token))
            if not isinstance(page, dict) or search.feed(page.get("events")):
                break
            token = page.get("nextToken")
            if not token:
                break
        return search.result()

    def redrive_execution(self, execution_arn: str, client_token: str) -> dict[str, Any]:
        """RedriveExecution: the execution runs again from the state that failed, same ARN."""
        return self._call(sfn.REDRIVE_PATH, {"executionArn": execution_arn, "clientToken": client_token})

    def start_sync_execution(self, state_machine_arn: str, name: str, input_json: str) -> dict[str, Any]:
        """StartSyncExecution of an Express state machine: the answer comes when the execution has
        ended (at most 5 minutes). Sent once: a resent request would run the workflow again."""
        from dataclasses import replace

        from airflow_restjob.rest_job.retry import NO_RETRY
        from airflow_restjob.transport.sync import SyncClient

        settings = self.settings()
        path, headers = sfn.call(sfn.START_SYNC_PATH, self.direct)
        if self.direct:
            settings = replace(settings, base_url=sfn.sync_base_url(settings.base_url))
        client = SyncClient(settings, NO_RETRY)
        timeout = max(settings.read_timeout, sfn.SYNC_LIMIT_SECONDS + 10)
        body = sfn.start_body(state_machine_arn, name, input_json)
        try:
            return client.post(path, body, headers=headers, timeout=timeout)
        finally:
            client.close()
