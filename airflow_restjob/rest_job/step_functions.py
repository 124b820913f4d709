"""AWS Step Functions as a built-in REST job, behind API Gateway or over its own API.

Resources (the article's API): ``POST start-execution`` (StartExecution), ``POST
describe-execution`` (DescribeExecution), ``POST stop-execution`` (StopExecution).  The direct API
(a connection whose signing service is ``states``) takes ``POST /`` with
``X-Amz-Target: AWSStepFunctions.<Action>`` instead.

Status handling: SUCCEEDED ends with success; FAILED, TIMED_OUT and ABORTED end with failure;
RUNNING and PENDING_REDRIVE keep the wait going (PENDING_REDRIVE means someone redrove the
execution: it runs again under the same ARN, so its outcome is still to come).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from airflow_restjob.errors import DefinitionError
from airflow_restjob.rest_job.spec import JobSpec, PollSpec, RequestSpec

START_PATH = "start-execution"
DESCRIBE_PATH = "describe-execution"
STOP_PATH = "stop-execution"
# the direct Step Functions API (https://states.{region}.amazonaws.com, SigV4 service "states"):
# POST / with X-Amz-Target: AWSStepFunctions.<Action> (AWS JSON 1.0) instead of a resource path
DIRECT_SERVICE = "states"
# optional resources: the direct API always has them; an API Gateway only when it was given them
HISTORY_PATH = "get-execution-history"
REDRIVE_PATH = "redrive-execution"
# Express workflows: API Gateway's synchronous integration, or the sync-states endpoint
START_SYNC_PATH = "start-sync-execution"
SYNC_LIMIT_SECONDS = 300.0  # an Express execution started synchronously runs at most 5 minutes
ACTIONS = {
    START_PATH: "StartExecution",
    DESCRIBE_PATH: "DescribeExecution",
    STOP_PATH: "StopExecution",
    HISTORY_PATH: "GetExecutionHistory",
    REDRIVE_PATH: "RedriveExecution",
    START_SYNC_PATH: "StartSyncExecution",
}
FAILED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
# GetExecutionHistory is read newest first, at most this many pages of this many events
HISTORY_PAGE_SIZE = 100
HISTORY_MAX_PAGES = 3
# retry_mode of the operator: a new execution per try, or RedriveExecution of the earlier try's
RETRY_NEW = "new"
RETRY_REDRIVE = "redrive"
RETRY_MODES = (RETRY_NEW, RETRY_REDRIVE)
REDRIVE_LOOKBACK = 10  # earlier tries whose executions are looked for (newest first)


def call(resource: str, direct: bool) -> tuple[str, dict[str, str] | None]:
    """(path, headers) of a Step Functions action: the API Gateway resource, or the direct API's
    root with its ``X-Amz-Target``."""
    if not direct:
        return resource, None
    return "", {"X-Amz-Target": "AWSStepFunctions." + ACTIONS[resource]}


def request(resource: str, body: dict[str, Any], direct: bool) -> RequestSpec:
    path, headers = call(resource, direct)
    return RequestSpec(path=path, body=body, headers=headers)

TERMINAL_STATUSES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
MAX_NAME = 80

_ARN_PART = r"arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}"
STATE_MACHINE_ARN_RE = re.compile(rf"^{_ARN_PART}:stateMachine:[A-Za-z0-9_.:-]{{1,80}}$")
EXECUTION_ARN_RE = re.compile(rf"^{_ARN_PART}:(execution|express):[A-Za-z0-9_.-]{{1,80}}:[^\s]{{1,80}}$")
# characters StartExecution rejects in a name (plus whitespace and control characters)
_INVALID_NAME_CHARS = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")


def validate_state_machine_arn(arn: str) -> str:
    arn = (arn or "").strip()
    if not STATE_MACHINE_ARN_RE.match(arn):
        raise DefinitionError(
            f"state_machine_arn is not a state machine ARN: {arn!r}.",
            "Copy the ARN from the state machine's page: arn:aws:states:<region>:<account>:stateMachine:<name>.",
        )
    return arn


def validate_name(name: str) -> str:
    bad = sorted(set(_INVALID_NAME_CHARS.findall(name)))
    if not 1 <= len(name) <= MAX_NAME or bad:
        raise DefinitionError(
            f"name {name!r} is not a valid execution name"
            + (
                f" (characters not allowed: {''.join(bad)!r})"
                if bad
                else f" (length {len(name)}, 1-{MAX_NAME})"
            )
            + ".",
            "Use 1-80 letters, digits, '-', '_' or '.'; or leave name unset to derive one per try.",
        )
    return name


MAX_PREFIX = 20


def validate_prefix(prefix: str) -> str:
    """``[restjob] execution_name_prefix``: what sets this deployment's executions apart."""
    bad = sorted(set(_INVALID_NAME_CHARS.findall(prefix)))
    if len(prefix) > MAX_PREFIX or bad:
        raise DefinitionError(
            f"[restjob] execution_name_prefix {prefix!r} is not usable in an execution name"
            + (f" (characters not allowed: {''.join(bad)!r})" if bad else f" (length {len(prefix)}, at most {MAX_PREFIX})")
            + ".",
            "Set it to a short deployment id of letters, digits, '-', '_' or '.', e.g. 'prod-tokyo'.",
        )
    return prefix


def derive_name(
    dag_id: str, task_id: str, run_id: str, map_index: int, try_number: int, prefix: str = ""
) -> str:
    """A deterministic, valid execution name for one try of one task instance.

    The same try always gets the same name, so a worker that dies after StartExecution and runs
    the try again re-attaches to its execution instead of starting a second one. ``prefix``
    (``[restjob] execution_name_prefix``) keeps two Airflow deployments with the same DAGs in one
    AWS account apart (without it their runs of the same ids would share executions).
    """
    raw = (
        (f"{prefix}." if prefix else "")
        + f"{dag_id}.{task_id}.{run_id}"
        + (f".{map_index}" if map_index >= 0 else "")
        + f".try{try_number}"
    )
    name = re.sub(r"-{2,}", "-", _INVALID_NAME_CHARS.sub("-", raw))
    if name == raw and len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(raw.encode()).hexdigest()[:10]  # keeps sanitised look-alikes apart
    if len(name) + 1 + len(digest) <= MAX_NAME:
        return f"{name}-{digest}"
    suffix = f"-try{try_number}-{digest}"
    return name[: MAX_NAME - len(suffix)] + suffix


def execution_arn_for(state_machine_arn: str, name: str) -> str:
    """The ARN StartExecution gives an execution of this name (standard workflows)."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name


def region_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else None


def console_url(execution_arn: str) -> str:
    region = region_of(execution_arn) or "us-east-1"
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{execution_arn}"
    )


def start_body(state_machine_arn: str, name: str, input_json: str) -> dict[str, Any]:
    return {"stateMachineArn": state_machine_arn, "name": name, "input": input_json}


def job_spec(execution_arn: str, poll: PollSpec, direct: bool = False) -> JobSpec:
    """The monitoring/termination half of a Step Functions job, for the trigger or the worker."""
    return JobSpec(
        label="Step Functions execution",
        monitor=request(DESCRIBE_PATH, {"executionArn": execution_arn}, direct),
        end_key="status",
        end_values=TERMINAL_STATUSES,
        result_key="status",
        success_values=("SUCCEEDED",),
        terminate=request(STOP_PATH, {"executionArn": execution_arn}, direct),
        poll=poll,
        error_keys=("error", "cause"),
        stop_reason_keys=("error", "cause"),
    )


def history_body(execution_arn: str, next_token: str | None = None) -> dict[str, Any]:
    """GetExecutionHistory, newest events first, without the states' input and output."""
    body: dict[str, Any] = {
        "executionArn": execution_arn,
        "reverseOrder": True,
        "maxResults": HISTORY_PAGE_SIZE,
        "includeExecutionData": False,
    }
    if next_token:
        body["nextToken"] = next_token
    return body


@dataclass(frozen=True)
class FailedState:
    """Where an execution failed: the state last entered, and the error and cause reported."""

    state: str | None
    state_type: str | None
    error: str | None
    cause: str | None

    def describe(self, limit: int = 1000) -> str:
        where = f"state {self.state!r}" + (f" ({self.state_type})" if self.state_type else "")
        if self.state is None:
            where = "an unknown state (not in the history read)"
        cause = self.cause if self.cause is None or len(self.cause) <= limit else self.cause[:limit] + "..."
        return f"{where}: error={self.error!r}, cause={cause!r}"


_FAILURE_SUFFIXES = ("Failed", "TimedOut", "Aborted")


def _event_details(event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


class FailureSearch:
    """Reads history pages (newest first) until the state that failed is known (sans-IO).

    The error and cause are the newest failure event's that has them (``ExecutionFailed``,
    ``TaskFailed``, ``ExecutionTimedOut``, ...); the state is the newest ``...StateEntered``.
    """

    def __init__(self) -> None:
        self.error: str | None = None
        self.cause: str | None = None
        self.state: str | None = None
        self.state_type: str | None = None

    def feed(self, events: Any) -> bool:
        """True once the state is found (no more pages needed)."""
        for event in events if isinstance(events, list) else []:
            if not isinstance(event, dict):
                continue
            event_type = str(event.get("type", ""))
            if self.error is None and self.cause is None and event_type.endswith(_FAILURE_SUFFIXES):
                details = _event_details(event)
                self.error, self.cause = details.get("error"), details.get("cause")
            if event_type.endswith("StateEntered"):
                self.state = str((event.get("stateEnteredEventDetails") or {}).get("name") or "") or None
                self.state_type = event_type[: -len("StateEntered")] or None
                return True
        return False

    def result(self) -> FailedState | None:
        if self.state is None and self.error is None and self.cause is None:
            return None
        return FailedState(self.state, self.state_type, self.error, self.cause)


def validate_retry_mode(value: Any, task_id: Any) -> str:
    if value not in RETRY_MODES:
        raise DefinitionError(
            f"Task '{task_id}': retry_mode must be 'new' or 'redrive', got {value!r}.",
            "Pass retry_mode='new' (every try starts a new execution) or retry_mode='redrive' (a try after "
            "a FAILED, TIMED_OUT or ABORTED execution redrives it from the state that failed).",
        )
    return str(value)


def earlier_try_names(
    dag_id: str, task_id: str, run_id: str, map_index: int, try_number: int, prefix: str = ""
) -> list[str]:
    """The derived execution names of the tries before ``try_number``, newest first (bounded)."""
    first = max(1, try_number - REDRIVE_LOOKBACK)
    return [
        derive_name(dag_id, task_id, run_id, map_index, n, prefix) for n in range(try_number - 1, first - 1, -1)
    ]


def redrive_token(execution_arn: str, try_number: int) -> str:
    """RedriveExecution's clientToken: the same try redrives once, however often it is sent."""
    return hashlib.sha256(f"{execution_arn}|try{try_number}".encode()).hexdigest()  # 64 chars, the limit


ATTACH = "attach"
REDRIVE = "redrive"
NEW = "new"


def redrive_decision(described: dict[str, Any]) -> tuple[str, str]:
    """What a ``retry_mode='redrive'`` try does with the execution of an earlier try:
    (``redrive`` | ``attach`` | ``new``, why)."""
    status = described.get("status")
    if status in ("RUNNING", "PENDING_REDRIVE"):
        return ATTACH, f"it is still {status} (an earlier try left it running): waiting for it"
    if status not in FAILED_STATUSES:
        return NEW, f"it ended {status}; only FAILED, TIMED_OUT or ABORTED executions are redriven"
    if described.get("redriveStatus") == "NOT_REDRIVABLE":
        reason = described.get("redriveStatusReason") or "no reason given"
        return NEW, f"Step Functions says it cannot be redriven ({reason})"
    return REDRIVE, f"it ended {status}"


def is_express_arn(arn: str) -> bool:
    """An Express execution's ARN (``...:express:...``): it cannot be described, stopped or redriven."""
    return ":express:" in (arn or "")


def sync_base_url(base_url: str) -> str:
    """Where StartSyncExecution goes: the ``sync-states`` host of a ``states`` endpoint; any other
    base URL (API Gateway, a VPC endpoint, loopback) as it is."""
    scheme, sep, rest = base_url.partition("://")
    if sep and rest.startswith("states."):
        return f"{scheme}://sync-{rest}"
    return base_url


def sync_event(response: Any, spec: JobSpec) -> dict[str, Any]:
    """A StartSyncExecution answer as the event a wait ends with, judged by the job's own spec."""
    verdict = spec.judge(response)
    return {
        "status": "success" if verdict.success else "failed",
        "job_id": response.get("executionArn") if isinstance(response, dict) else None,
        "job_status": verdict.status,
        "response": response,
        "details": verdict.details,
    }


def same_input(recorded: Any, input_json: str) -> bool:
    """Is an existing execution's input this start's (JSON-equal: key order and spacing aside)?"""
    if recorded is None:
        return True  # not reported (e.g. an IAM policy without data access): trust the name
    if recorded == input_json:
        return True
    try:
        return bool(json.loads(recorded) == json.loads(input_json))
    except (TypeError, ValueError):
        return False
