"""One error model for every REST call, sync (worker) and async (triggerer).

Every error names its cause and its fix, and carries the job scheduler's end code so that operations
runbooks written for the mainframe-era scheduler keep working:

==== ===========================================
code meaning
==== ===========================================
2    invalid value in the job definition / connection
3    file operation failed
4    HTTP request failed
5    HTTP request timed out
6    completion wait timed out
7    result is not the success value
8    response could not be parsed
10   credentials could not be read or were rejected
==== ===========================================

``interpret_response`` turns one HTTP exchange into parsed JSON or one of these errors; it is the
only place that judges a response, so both paths judge alike.  A 200 whose body carries ``__type``
(API Gateway's default integration response for a Step Functions error) is an error, not a success.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from enum import IntEnum
from typing import Any


class EndCode(IntEnum):
    NORMAL = 0
    INVALID_ARGUMENT = 1
    BAD_DEFINITION = 2
    FILE_OPERATION = 3
    REQUEST_FAILED = 4
    REQUEST_TIMED_OUT = 5
    WAIT_TIMED_OUT = 6
    NOT_SUCCESS = 7
    UNPARSABLE = 8
    CREDENTIALS = 10
    INTERNAL = 99


END_CODE_MEANING: dict[int, str] = {
    EndCode.NORMAL: "normal end",
    EndCode.INVALID_ARGUMENT: "invalid argument",
    EndCode.BAD_DEFINITION: "invalid value in the job definition",
    EndCode.FILE_OPERATION: "file operation failed",
    EndCode.REQUEST_FAILED: "HTTP request failed",
    EndCode.REQUEST_TIMED_OUT: "HTTP request timed out",
    EndCode.WAIT_TIMED_OUT: "completion wait timed out",
    EndCode.NOT_SUCCESS: "result is not the success value",
    EndCode.UNPARSABLE: "response could not be parsed",
    EndCode.CREDENTIALS: "credentials could not be read or were rejected",
    EndCode.INTERNAL: "internal error",
}

# Error types (the part after '#' in ``__type``) that mean "slow down" rather than "you are wrong".
THROTTLING_TYPES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
)
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
BODY_PREVIEW_BYTES = 200


class RestJobError(Exception):
    """Base of every error this provider raises on purpose.

    ``retryable`` says whether sending the same request again may succeed (throttling, transient
    network or server trouble); ``execution_id`` is attached by callers that know the remote job so
    that the id travels with the error and is never lost.
    """

    end_code: EndCode = EndCode.INTERNAL
    retryable: bool = False

    def __init__(
        self,
        cause: str,
        fix: str = "",
        *,
        status: int | None = None,
        error_type: str | None = None,
        retry_after: float | None = None,
        execution_id: str | None = None,
    ) -> None:
        self.cause = cause
        self.fix = fix
        self.status = status
        self.error_type = error_type
        self.retry_after = retry_after
        self.execution_id = execution_id
        super().__init__(self._render())

    def _render(self) -> str:
        text = f"[end code {int(self.end_code)}: {END_CODE_MEANING[self.end_code]}] {self.cause}"
        if self.fix:
            text += f" Fix: {self.fix}"
        if self.execution_id:
            text += f" (execution: {self.execution_id})"
        return text

    def with_execution(self, execution_id: str | None) -> RestJobError:
        """Attach the remote job id (kept on the error and shown in its message)."""
        if execution_id and not self.execution_id:
            self.execution_id = execution_id
            self.args = (self._render(),)
        return self

    def __str__(self) -> str:
        return self._render()


class DefinitionError(RestJobError):
    end_code = EndCode.BAD_DEFINITION


class FileOperationError(RestJobError):
    end_code = EndCode.FILE_OPERATION


class RequestFailedError(RestJobError):
    end_code = EndCode.REQUEST_FAILED


class ServiceError(RequestFailedError):
    """The service answered with an error of its own (``__type``), possibly inside an HTTP 200."""


class ThrottledError(RequestFailedError):
    retryable = True


class TransientError(RequestFailedError):
    retryable = True


class RequestTimeoutError(RestJobError):
    end_code = EndCode.REQUEST_TIMED_OUT
    retryable = True


class WaitTimeoutError(RestJobError):
    end_code = EndCode.WAIT_TIMED_OUT


class NotSuccessError(RestJobError):
    end_code = EndCode.NOT_SUCCESS


class UnparsableResponseError(RestJobError):
    end_code = EndCode.UNPARSABLE


class GarbledResponseError(UnparsableResponseError):
    """A 2xx answer that starts as JSON but does not parse (cut short on the way): the request
    was served, so a start may have happened; a poll may be sent again."""


class AuthError(RestJobError):
    end_code = EndCode.CREDENTIALS


def body_preview(body: bytes | str, limit: int = BODY_PREVIEW_BYTES) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} bytes)"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = _header(headers, "retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare for API Gateway, fall back to our own backoff


def _message(payload: Any) -> str:
    if isinstance(payload, dict):
        for key in ("message", "Message", "errorMessage", "error"):
            if isinstance(payload.get(key), str):
                return payload[key]
    return ""


def _auth_error(message: str, error_type: str | None, where: str) -> RestJobError:
    """Map API Gateway's 403 messages to a cause and a fix."""
    lower = message.lower()
    if "missing authentication token" in lower:
        return RequestFailedError(
            f"{where}: API Gateway answered 403 'Missing Authentication Token'.",
            "The resource path or method does not exist on the stage (API Gateway answers this for "
            "unknown paths too): check the connection's base URL (it must include the stage) and "
            "the resource path.",
            status=403,
            error_type=error_type,
        )
    if "security token included in the request is invalid" in lower:
        fix = (
            "The access key ID is unknown or the session token is invalid/expired: check the "
            "connection's access key ID and session token."
        )
    elif "signature we calculated does not match" in lower:
        fix = (
            "Check the connection's secret access key, region and signing service "
            "(execute-api for API Gateway)."
        )
        message = re.split(r"\s*The Canonical String", message)[0]  # AWS appends the canonical request
    elif "scoped to a valid region" in lower:
        fix = (
            "The connection signs for another AWS Region than the API's: set the connection's extra "
            "'region' (the 'AWS region' field) to the Region in the API's URL "
            "(https://{api-id}.execute-api.{region}.amazonaws.com), or leave it empty to take it from there."
        )
    elif "signature expired" in lower or "signature not yet current" in lower:
        fix = "The machine clock is more than 5 minutes off: synchronise it (NTP)."
    elif "not authorized to perform" in lower:
        fix = (
            "Grant the IAM user execute-api:Invoke on this API (for example the "
            "AmazonAPIGatewayInvokeFullAccess policy)."
        )
    else:
        fix = "Check the connection's credentials and the IAM policy of the user."
    return AuthError(
        f"{where}: API Gateway rejected the credentials (403 {error_type or ''}): {message}".replace(
            "  ", " "
        ),
        fix,
        status=403,
        error_type=error_type,
    )


def interpret_response(status: int, headers: Mapping[str, str], body: bytes, *, where: str) -> Any:
    """Judge one HTTP exchange: return the parsed JSON body or raise the matching error.

    ``where`` names the call for the message (e.g. ``"describe-execution on restjob_default"``).
    """
    error_type = _header(headers, "x-amzn-errortype")
    if error_type:
        error_type = error_type.split(":")[0]
    payload: Any = None
    parse_error: Exception | None = None
    if body.strip():
        try:
            payload = json.loads(body)
        except ValueError as exc:
            parse_error = exc
    else:
        payload = {}

    if 200 <= status < 300:
        if parse_error is not None:
            garbled = body.lstrip()[:1] in (b"{", b"[")
            raise (GarbledResponseError if garbled else UnparsableResponseError)(
                f"{where}: HTTP {status} but the body is not JSON ({parse_error}): {body_preview(body)!r}",
                "Check that the URL points at the API Gateway stage and not at a proxy or login page.",
                status=status,
            )
        if isinstance(payload, dict) and "__type" in payload:
            raise service_error(payload, status, where)
        return payload

    if status == 429 or (status == 400 and error_type in THROTTLING_TYPES):
        raise ThrottledError(
            f"{where}: throttled (HTTP {status}).",
            "Requests are over the API's rate limit; they are retried with backoff. If this "
            "persists, lower the polling rate or raise the quota.",
            status=status,
            error_type=error_type or "TooManyRequestsException",
            retry_after=_retry_after(headers),
        )
    if status == 401:
        challenge = _header(headers, "www-authenticate")
        detail = _message(payload) or (body_preview(body) if parse_error is not None else "")
        raise AuthError(
            f"{where}: HTTP 401, the API rejected the credentials"
            + (f": {detail}" if detail else "")
            + (f" (WWW-Authenticate: {body_preview(challenge, 120)})" if challenge else "")
            + ".",
            "Check the credential the request uses (authName / the connection): user and password, "
            "token, key values, or the OAuth2 client and its scope.",
            status=401,
            error_type=error_type,
        )
    if status == 403:
        raise _auth_error(_message(payload), error_type, where)
    if status in TRANSIENT_STATUSES:
        raise TransientError(
            f"{where}: HTTP {status} {_message(payload) or body_preview(body)}".rstrip(),
            "A transient gateway or service error; it is retried. If it persists, check the API "
            "Gateway integration and the service health.",
            status=status,
            error_type=error_type,
            retry_after=_retry_after(headers),
        )
    if isinstance(payload, dict) and "__type" in payload:
        raise service_error(payload, status, where)
    if 300 <= status < 400:
        location = _header(headers, "location") or "(no Location header)"
        raise RequestFailedError(
            f"{where}: HTTP {status} redirect to {body_preview(location)}: signed requests are not "
            "redirected (the credentials would go to another address).",
            "Set the connection's base URL (or the request's url) to the address the API answers at.",
            status=status,
        )
    if parse_error is not None and status >= 400:
        raise RequestFailedError(
            f"{where}: HTTP {status}, body: {body_preview(body)!r}",
            "Check the URL, method and request body of the job definition.",
            status=status,
            error_type=error_type,
        )
    raise RequestFailedError(
        f"{where}: HTTP {status} {_message(payload) or body_preview(body)}".rstrip(),
        "Check the URL, method and request body of the job definition.",
        status=status,
        error_type=error_type,
    )


SERVICE_FIXES = {
    "StateMachineDoesNotExist": "Check state_machine_arn: no state machine has that ARN in this account/region.",
    "InvalidArn": "Check the ARN's format: arn:aws:states:<region>:<account>:stateMachine:<name>.",
    "InvalidExecutionInput": "The input must be a JSON document of at most 256 KiB.",
    "InvalidName": 'Execution names are 1-80 characters without whitespace or < > { } [ ] ? * " # % \\ ^ | ~ ` $ & , ; : /.',
    "ExecutionDoesNotExist": "The execution ARN is unknown: check the ARN and the region.",
    "ExecutionLimitExceeded": "Too many running executions in the account: wait or raise the quota.",
    "ExecutionAlreadyExists": "An execution with this name already exists with different input or has ended.",
    "ValidationException": "A request field is invalid: check the request body.",
    "SerializationException": "The request body is not valid JSON.",
}


def service_error(payload: Mapping[str, Any], status: int, where: str) -> RestJobError:
    """Build the error for a body carrying ``__type`` (AWS JSON protocol)."""
    error_type = str(payload.get("__type", "")).split("#")[-1] or "UnknownError"
    message = _message(payload)
    if error_type in THROTTLING_TYPES:
        return ThrottledError(
            f"{where}: throttled by the service ({error_type}: {message}).",
            "The account's API quota is exhausted; calls are retried with backoff. Lower the "
            "polling rate (restjob describe budget) if it persists.",
            status=status,
            error_type=error_type,
        )
    return ServiceError(
        f"{where}: the service answered {error_type}: {message}".rstrip(": "),
        SERVICE_FIXES.get(error_type, "See the service's error message above."),
        status=status,
        error_type=error_type,
    )
