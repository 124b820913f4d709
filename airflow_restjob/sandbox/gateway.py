"""The API Gateway stand-in: SigV4 (AWS_IAM) in front of moto's Step Functions, on aiohttp.

Three listeners share one event loop thread: the API (``/{stage}/<resource>`` + the admin endpoint),
STS, and the direct Step Functions API (``POST /`` with ``X-Amz-Target``, SigV4 service ``states``).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import random
import re
import socket
import struct
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from . import express, sts
from .express import ExpressExecutions
from .faults import RESOURCES, Faults, Quota, RequestLog
from .moto_link import MotoLink
from .redrive import RedriveError, Redrives, failed_state, fast_describe, history_page
from .sigv4 import AuthError, Credentials, Identity, SigV4Verifier

if TYPE_CHECKING:  # pragma: no cover
    from .sandbox import Sandbox

log = logging.getLogger(__name__)

ACTIONS = {
    "start-execution": "StartExecution",
    "describe-execution": "DescribeExecution",
    "stop-execution": "StopExecution",
    # opt-in resources (faults.EXTRA_RESOURCES)
    "redrive-execution": "RedriveExecution",
    "get-execution-history": "GetExecutionHistory",
    "start-sync-execution": "StartSyncExecution",
}
# What the direct Step Functions listener serves, with the fault / quota key (= gateway resource name)
# and the request member naming the ARN the action is about (None: none).
DIRECT_ACTIONS: dict[str, tuple[str, str | None]] = {
    "StartExecution": ("start-execution", "stateMachineArn"),
    "DescribeExecution": ("describe-execution", "executionArn"),
    "StopExecution": ("stop-execution", "executionArn"),
    "RedriveExecution": ("redrive-execution", "executionArn"),
    "GetExecutionHistory": ("get-execution-history", "executionArn"),
    # AWS serves it on sync-states.{region}; on loopback this listener stands for that host too
    "StartSyncExecution": ("start-sync-execution", "stateMachineArn"),
    "ListExecutions": ("list-executions", "stateMachineArn"),
    "DescribeStateMachine": ("describe-state-machine", "stateMachineArn"),
    "DescribeStateMachineForExecution": ("describe-state-machine-for-execution", "executionArn"),
    "ListStateMachines": ("list-state-machines", None),
}
ARN_FIELDS = {action: arn_field for action, (_, arn_field) in DIRECT_ACTIONS.items()}
# Every operation of the Step Functions API (botocore's model): a known one the sandbox does not
# serve is refused after authentication, anything else is an unknown operation.
SFN_OPERATIONS = frozenset(
    (
        "CreateActivity CreateStateMachine CreateStateMachineAlias DeleteActivity DeleteStateMachine "
        "DeleteStateMachineAlias DeleteStateMachineVersion DescribeActivity DescribeExecution DescribeMapRun "
        "DescribeStateMachine DescribeStateMachineAlias DescribeStateMachineForExecution GetActivityTask "
        "GetExecutionHistory ListActivities ListExecutions ListMapRuns ListStateMachineAliases "
        "ListStateMachineVersions ListStateMachines ListTagsForResource PublishStateMachineVersion "
        "RedriveExecution SendTaskFailure SendTaskHeartbeat SendTaskSuccess StartExecution "
        "StartSyncExecution StopExecution TagResource TestState UntagResource UpdateMapRun "
        "UpdateStateMachine UpdateStateMachineAlias ValidateStateMachineDefinition"
    ).split()
)
TARGET_PREFIX = "AWSStepFunctions."
AMZ_JSON = "application/x-amz-json-1.0"
CORAL_PREFIX = "com.amazon.coral.service#"
SFN_PREFIX = "com.amazonaws.swf.service.v2.model#"
SERIALIZATION_TYPE = "com.amazon.coral.service#SerializationException"
VALIDATION_TYPE = "com.amazon.coral.validate#ValidationException"
# API Gateway's own responses for the injectable status faults: (body, x-amzn-ErrorType)
GATEWAY_FAULTS: dict[str, tuple[dict[str, str], str]] = {
    "429": ({"message": "Too Many Requests"}, "TooManyRequestsException"),
    "500": ({"message": "Internal server error"}, "InternalServerErrorException"),
    "502": ({"message": "Bad Gateway"}, "BadGatewayException"),
    "503": ({"message": "Service Unavailable"}, "ServiceUnavailableException"),
    "504": ({"message": "Endpoint request timed out"}, "IntegrationTimeoutException"),
}
THROTTLING_BODY = {"__type": SFN_PREFIX + "ThrottlingException", "message": "Rate exceeded"}
# The same faults on the direct API, as a JSON-protocol service answers: (status, __type, message).
# There is no 429 and no "200 with an error" there: both are Step Functions' throttling answer.
DIRECT_FAULTS: dict[str, tuple[int, str, str]] = {
    "429": (400, SFN_PREFIX + "ThrottlingException", "Rate exceeded"),
    "throttling_200": (400, SFN_PREFIX + "ThrottlingException", "Rate exceeded"),
    "500": (500, CORAL_PREFIX + "InternalFailure", "An internal error occurred."),
    "502": (502, CORAL_PREFIX + "InternalFailure", "Bad Gateway"),
    "503": (503, "com.amazon.coral.availability#ServiceUnavailableException", "Service Unavailable"),
    "504": (504, CORAL_PREFIX + "InternalFailure", "The request timed out."),
}
# SigV4 failures on the direct API: HTTP 400 with the coral type; this message where it differs.
DIRECT_AUTH_MESSAGES = {"MissingAuthenticationTokenException": "Request is missing Authentication Token"}
_INVALID_NAME = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_LOOPBACK = ("127.", "::1", "::ffff:127.")
MOTO_TIMEOUT = 60.0
_MOTO_ERRORS = (
    asyncio.TimeoutError,
    asyncio.IncompleteReadError,
    asyncio.LimitOverrunError,
    OSError,
    ValueError,
    IndexError,
)
MAX_BODY = 2 * 1024 * 1024


def _request_id() -> str:
    # A random (version 4) UUID like API Gateway's; random.getrandbits spares uuid4's system call.
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


def _ok(body: bytes) -> web.Response:
    return web.Response(
        status=200, body=body, content_type="application/json", headers={"x-amzn-RequestId": _request_id()}
    )


def _json(status: int, body: Any, error_type: str | None = None) -> web.Response:
    headers = {"x-amzn-RequestId": _request_id()}
    if error_type:
        headers["x-amzn-ErrorType"] = error_type
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode(),
        content_type="application/json",
        headers=headers,
    )


def _amz(status: int, body: bytes | dict[str, Any]) -> web.Response:
    """An answer of the direct Step Functions API (AWS JSON 1.0)."""
    data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    return web.Response(
        status=status, body=data, headers={"Content-Type": AMZ_JSON, "x-amzn-RequestId": _request_id()}
    )


def _amz_error(entry: dict[str, Any], status: int, error_type: str, message: str | None) -> web.Response:
    entry["error"] = error_type.rpartition("#")[2]
    body: dict[str, Any] = {"__type": error_type}
    if message is not None:
        body["message"] = message
    return _amz(status, body)


class _Render:
    """How the integration's answers are rendered: the API Gateway stand-in's way."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def error(self, status: int, error_type: str, message: str | None) -> web.Response:
        return self.gateway._sfn_error(status, error_type, message)

    def internal(self) -> web.Response:
        return _json(500, {"message": "Internal server error"}, "InternalServerErrorException")

    def ok(self, body: bytes) -> web.Response:
        return _ok(body)


class _DirectRender(_Render):
    """... and the direct Step Functions API's: errors as HTTP 400 (moto's status) with ``__type``."""

    def __init__(self, gateway: Gateway, entry: dict[str, Any]) -> None:
        super().__init__(gateway)
        self.entry = entry

    def error(self, status: int, error_type: str, message: str | None) -> web.Response:
        full_type = error_type if "#" in error_type else SFN_PREFIX + error_type
        return _amz_error(self.entry, status if status >= 400 else 400, full_type, message)

    def internal(self) -> web.Response:
        return _amz_error(self.entry, 500, CORAL_PREFIX + "InternalFailure", "An internal error occurred.")

    def ok(self, body: bytes) -> web.Response:
        return _amz(200, body)


def secrets_equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop where installed (the sandbox extra asks for it): transport work per request
    is a large part of the gateway's own cost, and uvloop does it in C."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - e.g. Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class _Reset(Exception):
    """Raised inside the pipeline to drop the connection without any response."""


class Gateway:
    """aiohttp application + its own event loop in a daemon thread."""

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        stage: str,
        region: str,
        account_id: str,
        api_id: str,
        moto_url: str,
        verifier: SigV4Verifier,
        faults: Faults,
        quota: Quota,
        request_log: RequestLog,
        error_mapping: str = "default",
        host: str = "127.0.0.1",
        port: int = 0,
        sts_verifier: SigV4Verifier | None = None,
        sts_port: int = 0,
        states_verifier: SigV4Verifier | None = None,
        states_port: int = 0,
        redrives: Redrives | None = None,
        express_executions: ExpressExecutions | None = None,
        extra_resources: set[str] | None = None,
    ) -> None:
        if error_mapping not in ("default", "4xx"):
            raise ValueError("error_mapping must be 'default' or '4xx'")
        self.sandbox = sandbox
        self.stage = stage
        self.region = region
        self.account_id = account_id
        self.api_id = api_id
        self.moto_url = moto_url
        self.verifier = verifier
        self.faults = faults
        self.quota = quota
        self.request_log = request_log
        self.error_mapping = error_mapping
        self.host = host
        self.port = port
        self.sts_verifier = sts_verifier or SigV4Verifier(verifier.identities, region, "sts")
        self.sts_port = sts_port
        self._sts_runner: web.ServerRunner | None = None
        self.states_verifier = states_verifier or SigV4Verifier(verifier.identities, region, "states")
        self.states_port = states_port
        self._states_runner: web.ServerRunner | None = None
        self.redrives = redrives if redrives is not None else Redrives()
        self.express = express_executions if express_executions is not None else ExpressExecutions()
        # opt-in gateway resources (faults.EXTRA_RESOURCES); the sandbox's own set, so changes apply at once
        self.extra_resources = extra_resources if extra_resources is not None else set()
        self._render = _Render(self)
        self._stop_details: dict[str, tuple[str | None, str | None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.ServerRunner | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._moto: MotoLink | None = None  # created on the gateway's loop

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> int:
        self._thread = threading.Thread(target=self._run, name="restjob-sandbox-gateway", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._startup_error is not None:
            raise RuntimeError("sandbox gateway failed to start") from self._startup_error
        if not self._ready.is_set():
            raise RuntimeError("sandbox gateway did not start in time")
        return self.port

    def _run(self) -> None:
        loop = _new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._setup())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._teardown())
            loop.close()

    async def _setup(self) -> None:
        self._moto = MotoLink(self.moto_url, self.region, timeout=MOTO_TIMEOUT)
        # aiohttp's low-level server: one handler for every path, no router or middlewares to run.
        server = web.Server(self._dispatch, access_log=None, request_factory=self._make_request)
        self._runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]
        # STS (AssumeRole, AssumeRoleWithWebIdentity, GetCallerIdentity) on a listener of its own, so
        # that its URL is a root like sts.{region}.amazonaws.com and the API's hot path stays as it is.
        sts_server = web.Server(self._sts_dispatch, access_log=None)
        self._sts_runner = web.ServerRunner(sts_server, handle_signals=False, shutdown_timeout=0.5)
        await self._sts_runner.setup()
        sts_site = web.TCPSite(self._sts_runner, self.host, self.sts_port, reuse_address=True)
        await sts_site.start()
        self.sts_port = self._sts_runner.addresses[0][1]
        # The Step Functions API itself (states.{region}.amazonaws.com): also a root URL of its own.
        states_server = web.Server(self._states_dispatch, access_log=None, request_factory=self._make_request)
        self._states_runner = web.ServerRunner(states_server, handle_signals=False, shutdown_timeout=0.5)
        await self._states_runner.setup()
        states_site = web.TCPSite(self._states_runner, self.host, self.states_port, reuse_address=True)
        await states_site.start()
        self.states_port = self._states_runner.addresses[0][1]

    def _make_request(self, *args: Any) -> web.BaseRequest:
        # As web.Server's own factory, with room for a 256 KiB execution input even when escaped.
        return web.BaseRequest(*args, asyncio.get_running_loop(), client_max_size=MAX_BODY)  # type: ignore[misc, arg-type]

    async def _teardown(self) -> None:
        if self._moto is not None:
            self._moto.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._sts_runner is not None:
            await self._sts_runner.cleanup()
        if self._states_runner is not None:
            await self._states_runner.cleanup()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
        self._loop = None
        self._thread = None

    # ------------------------------------------------------------------ dispatch

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.path.startswith("/_sandbox/"):
            return await self._admin(request)
        body = await request.read()
        entry: dict[str, Any] = {
            "time": time.time(),
            "method": request.method,
            "path": request.path,
            "resource": self._resource_for(request),
            "status": None,
            "execution_arn": None,
            "access_key": None,
            "body": None,
            "throttled": False,
            "fault": None,
        }
        match = _CREDENTIAL.search(request.headers.get("Authorization", ""))
        if match:
            entry["access_key"] = match.group(1)
        parsed: Any = {}  # an empty body reads as {} (Step Functions then reports the missing field)
        if body.strip():
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        if isinstance(parsed, dict) and parsed:
            entry["body"] = parsed
            if isinstance(parsed.get("executionArn"), str):
                entry["execution_arn"] = parsed["executionArn"]
        try:
            response = await self._pipeline(request, body, parsed, entry)
        except _Reset:
            entry["status"] = None
            entry["duration"] = time.time() - entry["time"]
            self.request_log.append(entry)
            self._reset(request)
            return web.Response(status=500)  # never reaches the client: the transport is gone
        entry["status"] = response.status
        entry["duration"] = time.time() - entry["time"]
        self.request_log.append(entry)
        return response

    def _resource_for(self, request: web.BaseRequest) -> str | None:
        parts = request.path.split("/")
        if request.method == "POST" and len(parts) == 3 and parts[0] == "" and parts[1] == self.stage:
            if parts[2] in RESOURCES or parts[2] in self.extra_resources:
                return parts[2]
        return None

    @staticmethod
    def _reset(request: web.BaseRequest) -> None:
        transport = request.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        transport.abort()

    async def _pipeline(
        self, request: web.BaseRequest, body: bytes, request_doc: Any, entry: dict[str, Any]
    ) -> web.Response:
        resource = entry["resource"]
        if resource is None:
            entry["resource"] = None
            return _json(
                403, {"message": "Missing Authentication Token"}, "MissingAuthenticationTokenException"
            )
        raw_path, _, raw_query = request.raw_path.partition("?")
        try:
            verified = self.verifier.verify(
                request.method, raw_path, raw_query, request.headers.items(), body, now=None
            )
        except AuthError as err:
            return _json(err.status, err.body(), err.error_type)
        identity = verified.identity
        if not identity.can_invoke:
            resource_arn = f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}/{self.stage}/POST/{resource}"
            return _json(
                403,
                {
                    "Message": f"User: {identity.arn} is not authorized to perform: execute-api:Invoke "
                    f"on resource: {resource_arn}"
                },
                "AccessDeniedException",
            )

        fault = self.faults.take(resource)
        if fault is not None:
            entry["fault"] = fault.kind
            if fault.kind in GATEWAY_FAULTS:
                fault_body, error_type = GATEWAY_FAULTS[fault.kind]
                return _json(int(fault.kind), fault_body, error_type)
            if fault.kind == "throttling_200":
                return _json(200, THROTTLING_BODY)
            if fault.kind == "reset":
                raise _Reset()

        if resource == "describe-execution" and not self.quota.try_acquire():
            entry["throttled"] = True
            return self._sfn_error(400, "ThrottlingException", "Rate exceeded")

        response = await self._integrate(ACTIONS[resource], body, request_doc, entry, self._render)
        return await self._after_fault(fault, response, "application/json")

    @staticmethod
    async def _after_fault(fault: Any, response: web.Response, content_type: str) -> web.Response:
        """The faults that let the request through: ``delay`` and ``malformed_json``."""
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.delay_seconds)
        if fault is not None and fault.kind == "malformed_json":
            text = response.body if isinstance(response.body, bytes) else b"{}"
            cut = max(1, len(text) // 2)
            return web.Response(
                status=200,
                body=text[:cut],
                headers={"Content-Type": content_type, "x-amzn-RequestId": _request_id()},
            )
        return response

    # ------------------------------------------------------------------ integration (Step Functions)

    def _sfn_error(self, status: int, error_type: str, message: str | None) -> web.Response:
        full_type = error_type if "#" in error_type else SFN_PREFIX + error_type
        body = {"__type": full_type, "message": message}
        if self.error_mapping == "4xx":
            return _json(status, body, error_type.rpartition("#")[2])
        # The default integration response of an AWS-service integration: everything is a 200.
        return _json(200, body)

    async def _call_moto(self, action: str, payload: bytes) -> tuple[int, bytes]:
        assert self._moto is not None, "the gateway is not running"
        return await self._moto.call(action, payload)

    async def _integrate(
        self, action: str, body: bytes, request_doc: Any, entry: dict[str, Any], render: _Render
    ) -> web.Response:
        """One Step Functions action against moto, with the sandbox's fixes of moto's gaps and its
        redrive emulation; shared by the gateway resources and the direct API (``render``)."""
        if not isinstance(request_doc, dict):
            return render.error(
                400, SERIALIZATION_TYPE, "Start of structure or map found where not expected."
            )

        arn_field = ARN_FIELDS[action]
        arn: str | None = None
        if arn_field is not None:
            value = request_doc.get(arn_field)
            if value is None and not (action == "ListExecutions" and request_doc.get("mapRunArn")):
                return render.error(
                    400,
                    VALIDATION_TYPE,
                    f"1 validation error detected: Value null at '{arn_field}' failed to satisfy constraint: "
                    "Member must not be null",
                )
            if value is not None and not isinstance(value, str):
                return render.error(400, SERIALIZATION_TYPE, f"Expected a string for '{arn_field}'.")
            arn = value
        if arn is not None and action in express.REFUSING_ACTIONS and express.is_express_arn(arn):
            return render.error(400, "InvalidArn", express.INVALID_ARN_MESSAGE)

        payload = body
        if action in ("StartExecution", "StartSyncExecution"):
            name = request_doc.get("name")
            if name is None:
                if action == "StartExecution":  # (an Express execution is named by its emulation)
                    # moto gap: AWS generates a UUID name when none is given (moto would use "None").
                    payload = json.dumps({**request_doc, "name": str(uuid.uuid4())}).encode()
            elif not isinstance(name, str):
                return render.error(400, SERIALIZATION_TYPE, "Expected a string for 'name'.")
            elif not 1 <= len(name) <= 80 or _INVALID_NAME.search(name):
                return render.error(400, "InvalidName", f"Invalid Name: '{name}'")
            execution_input = request_doc.get("input")
            if execution_input is not None:
                if not isinstance(execution_input, str):
                    return render.error(400, SERIALIZATION_TYPE, "Expected a string for 'input'.")
                if len(execution_input.encode("utf-8")) > 262144:
                    return render.error(
                        400,
                        VALIDATION_TYPE,
                        "1 validation error detected: Value at 'input' failed to satisfy constraint: "
                        "Member must have length less than or equal to 262144",
                    )
                try:
                    json.loads(execution_input)
                except ValueError as exc:
                    # moto gap: it raises this error with a null __type.
                    return render.error(
                        400, "InvalidExecutionInput", f"Invalid State Machine Execution Input: '{exc}'"
                    )
            assert arn is not None
            kind = await self._machine_type(arn, render)
            if kind == express.EXPRESS:
                return await self._start_express(action, arn, request_doc, entry, render)
            if action == "StartSyncExecution":
                if isinstance(kind, web.Response):
                    return kind  # no such state machine: as StartExecution answers
                return render.error(400, express.NOT_SUPPORTED, express.NOT_SUPPORTED_MESSAGE)
        elif action == "StopExecution":
            error, cause = request_doc.get("error"), request_doc.get("cause")
            if isinstance(error, str) and len(error) > 256:
                return render.error(
                    400,
                    VALIDATION_TYPE,
                    "1 validation error detected: Value at 'error' failed to satisfy constraint: "
                    "Member must have length less than or equal to 256",
                )
            if isinstance(cause, str) and len(cause) > 32768:
                return render.error(
                    400,
                    VALIDATION_TYPE,
                    "1 validation error detected: Value at 'cause' failed to satisfy constraint: "
                    "Member must have length less than or equal to 32768",
                )
            if arn is not None and self.redrives.known(arn):
                # a redriven execution is the sandbox's, not moto's, to stop
                stop_date = self.redrives.stop(
                    arn,
                    error if isinstance(error, str) else None,
                    cause if isinstance(cause, str) else None,
                )
                return render.ok(json.dumps({"stopDate": stop_date}).encode())
        elif action == "RedriveExecution":
            assert arn is not None
            return await self._redrive(arn, request_doc, render)
        elif action == "GetExecutionHistory":
            assert arn is not None
            return await self._history(arn, request_doc, render)

        try:
            status, raw = await self._call_moto(action, payload)
        except _MOTO_ERRORS as exc:
            log.warning("moto call failed: %s", exc)
            return render.internal()
        if (
            status == 200
            and action == "DescribeExecution"
            and arn not in self._stop_details
            and not self.redrives.known(arn)
        ):
            fast = fast_describe(raw)  # the hot path of every poll: not parsed
            if fast is not None:
                return render.ok(fast)
        doc = self._moto_doc(status, raw, action)
        if doc is None:
            return render.internal()
        if status >= 400:
            return self._moto_error(status, doc, render)

        changed = False
        if action == "StartExecution":
            entry["execution_arn"] = doc.get("executionArn")
        elif action == "StopExecution":
            assert arn is not None
            error, cause = request_doc.get("error"), request_doc.get("cause")
            if error is not None or cause is not None:
                self._stop_details[arn] = (error, cause)
            if "stopDate" not in doc:
                # moto gap: StopExecution answers {} while it stops the worker asynchronously.
                doc["stopDate"] = await self._stop_date(arn)
                changed = True
        elif action == "DescribeExecution":
            self._add_stop_details(doc)
            self.redrives.overlay(doc)
            changed = True
        elif action == "ListExecutions" and isinstance(doc.get("executions"), list):
            wanted = request_doc.get("statusFilter")
            items = [self.redrives.overlay_item(i) for i in doc["executions"] if isinstance(i, dict)]
            doc["executions"] = [i for i in items if wanted is None or i.get("status") == wanted]
            changed = True
        return render.ok(json.dumps(doc).encode() if changed else raw)

    @staticmethod
    def _moto_doc(status: int, raw: bytes, action: str) -> dict[str, Any] | None:
        """moto's answer as a JSON object, or None when it is a server error or not JSON."""
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError:
            doc = None
        if status >= 500 or not isinstance(doc, dict):
            log.warning("moto answered %s for %s: %r", status, action, raw[:300])
            return None
        return doc

    @staticmethod
    def _moto_error(status: int, doc: dict[str, Any], render: _Render) -> web.Response:
        error_type = str(doc.get("__type") or doc.get("code") or "InternalFailure")
        return render.error(status, error_type, doc.get("message") or doc.get("Message"))

    def _add_stop_details(self, doc: dict[str, Any]) -> None:
        # moto gap: StopExecution drops error and cause; AWS reports them on the aborted execution.
        arn = doc.get("executionArn")
        if doc.get("status") != "ABORTED" or arn not in self._stop_details:
            return
        error, cause = self._stop_details[arn]
        if error is not None and not doc.get("error"):
            doc["error"] = error
        if cause is not None and not doc.get("cause"):
            doc["cause"] = cause

    async def _moto_json(
        self, action: str, doc: dict[str, Any], render: _Render
    ) -> dict[str, Any] | web.Response:
        """Call moto; its answer as a document, or the response to give when it is an error."""
        try:
            status, raw = await self._call_moto(action, json.dumps(doc).encode())
        except _MOTO_ERRORS as exc:
            log.warning("moto call failed: %s", exc)
            return render.internal()
        answer = self._moto_doc(status, raw, action)
        if answer is None:
            return render.internal()
        if status >= 400:
            return self._moto_error(status, answer, render)
        return answer

    async def _machine_type(self, arn: str, render: _Render) -> str | web.Response:
        """A state machine's type (moto's DescribeStateMachine, once per ARN), or the response to its
        error (e.g. StateMachineDoesNotExist, the same as moto's StartExecution gives)."""
        kind = self.express.machine_type(arn)
        if kind is not None:
            return kind
        described = await self._moto_json("DescribeStateMachine", {"stateMachineArn": arn}, render)
        if isinstance(described, web.Response):
            return described
        return self.express.remember_type(arn, described)

    async def _start_express(
        self, action: str, arn: str, request_doc: dict[str, Any], entry: dict[str, Any], render: _Render
    ) -> web.Response:
        """StartExecution / StartSyncExecution of an EXPRESS state machine, emulated (moto has no
        StartSyncExecution and no Express ARNs): see ``express.py``."""
        started = self.express.begin(arn, request_doc.get("name"))
        entry["execution_arn"] = started.arn
        start_doc = {"stateMachineArn": arn, "name": started.moto_name}
        if request_doc.get("input") is not None:
            start_doc["input"] = request_doc["input"]
        moto_started = await self._moto_json("StartExecution", start_doc, render)
        if isinstance(moto_started, web.Response):
            return moto_started
        moto_arn = str(moto_started.get("executionArn"))
        self.express.bind(started.arn, moto_arn)
        if action == "StartExecution":
            answer: dict[str, Any] = {"executionArn": started.arn, "startDate": moto_started.get("startDate")}
            return render.ok(json.dumps(answer).encode())
        deadline = time.monotonic() + self.express.sync_seconds
        timed_out_at: float | None = None
        while True:
            described = await self._moto_json("DescribeExecution", {"executionArn": moto_arn}, render)
            if isinstance(described, web.Response):
                return described
            if described.get("status") != "RUNNING":
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out_at = time.time()
                # AWS ends it there; moto's execution is stopped so that it does not run on
                await self._moto_json("StopExecution", {"executionArn": moto_arn}, render)
                break
            await asyncio.sleep(min(express.POLL_SECONDS, remaining))
        trace = request_doc.get("traceHeader")
        answer = self.express.sync_answer(
            started, arn, described, trace if isinstance(trace, str) else None, timed_out_at
        )
        return render.ok(json.dumps(answer).encode())

    async def _redrive(self, arn: str, request_doc: dict[str, Any], render: _Render) -> web.Response:
        """RedriveExecution, emulated (moto has none): see ``redrive.py``."""
        token = request_doc.get("clientToken")
        if token is not None and (not isinstance(token, str) or not 1 <= len(token) <= 64):
            return render.error(
                400,
                VALIDATION_TYPE,
                "1 validation error detected: Value at 'clientToken' failed to satisfy constraint: "
                "Member must have length between 1 and 64",
            )
        described = await self._moto_json("DescribeExecution", {"executionArn": arn}, render)
        if isinstance(described, web.Response):
            return described
        self._add_stop_details(described)
        state = None
        if not self.redrives.known(arn):
            history = await self._moto_json("GetExecutionHistory", {"executionArn": arn}, render)
            if isinstance(history, dict) and isinstance(history.get("events"), list):
                state = failed_state(history["events"])
        try:
            redrive_date = self.redrives.begin(arn, described, token, state)
        except RedriveError as err:
            return render.error(400, err.error_type, err.message)
        return render.ok(json.dumps({"redriveDate": redrive_date}).encode())

    async def _history(self, arn: str, request_doc: dict[str, Any], render: _Render) -> web.Response:
        """GetExecutionHistory: moto's events (+ the stop's error/cause on ExecutionAborted, + the
        redrives'), paged here (moto ignores maxResults / reverseOrder / nextToken / includeExecutionData)."""
        try:
            history_page([], arn, {k: v for k, v in request_doc.items() if k != "nextToken"})
        except RedriveError as err:
            return render.error(400, err.error_type, err.message)
        answer = await self._moto_json("GetExecutionHistory", {"executionArn": arn}, render)
        if isinstance(answer, web.Response):
            return answer
        events = [e for e in answer.get("events") or [] if isinstance(e, dict)]
        error, cause = self._stop_details.get(arn, (None, None))
        for event in events:
            if event.get("type") == "ExecutionAborted" and (error is not None or cause is not None):
                details = dict(event.get("executionAbortedEventDetails") or {})
                for key, value in (("error", error), ("cause", cause)):
                    if value is not None and not details.get(key):
                        details[key] = value
                event["executionAbortedEventDetails"] = details
        events = self.redrives.history(arn, events)
        try:
            page = history_page(events, arn, request_doc)
        except RedriveError as err:
            return render.error(400, err.error_type, err.message)
        return render.ok(json.dumps(page).encode())

    async def _stop_date(self, execution_arn: str) -> float:
        for _ in range(5):
            try:
                status, raw = await self._call_moto(
                    "DescribeExecution", json.dumps({"executionArn": execution_arn}).encode()
                )
                if status == 200:
                    stop_date = json.loads(raw).get("stopDate")
                    if stop_date is not None:
                        return float(stop_date)
            except (asyncio.TimeoutError, asyncio.IncompleteReadError, OSError, ValueError, IndexError):
                break
            await asyncio.sleep(0.02)
        return round(time.time(), 3)

    # ------------------------------------------------------------------ STS

    async def _sts_dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await request.read()
        entry: dict[str, Any] = {
            "time": time.time(),
            "method": request.method,
            "path": request.path,
            "resource": "sts",
            "status": None,
            "execution_arn": None,
            "access_key": None,
            "body": None,  # never logged: it holds the web identity token
            "throttled": False,
            "fault": None,
            "sts_action": None,
            "role_arn": None,
            "role_session_name": None,
            "duration_seconds": None,
            "expiration": None,
            "issued_access_key": None,
            "assumed_role_arn": None,
            "web_identity_subject": None,
            "error": None,
        }
        match = _CREDENTIAL.search(request.headers.get("Authorization", ""))
        if match:
            entry["access_key"] = match.group(1)
        request_id = _request_id()
        try:
            status, answer = await self._sts(request, body, entry)
        except sts.StsError as err:
            entry["error"] = err.code
            status, answer = err.status, err.xml(request_id)
        entry["status"] = status
        entry["duration"] = time.time() - entry["time"]
        self.request_log.append(entry)
        return web.Response(
            status=status, body=answer, content_type="text/xml", headers={"x-amzn-RequestId": request_id}
        )

    async def _sts(self, request: web.BaseRequest, body: bytes, entry: dict[str, Any]) -> tuple[int, bytes]:
        raw_path, _, raw_query = request.raw_path.partition("?")
        try:
            text = body.decode("utf-8") if request.method == "POST" else raw_query
            pairs = parse_qsl(text, keep_blank_values=True)
            if request.method == "POST" and raw_query:
                pairs += parse_qsl(raw_query, keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            raise sts.StsError("MalformedQueryString", "The query string is not well formed.") from None
        params: dict[str, str] = {}
        for name, value in pairs:
            params.setdefault(name, value)
        action = params.get("Action")
        entry["sts_action"] = action
        if not action:
            raise sts.StsError("MissingAction", "Missing Action")
        if (
            action not in ("AssumeRole", "AssumeRoleWithWebIdentity", "GetCallerIdentity")
            or params.get("Version") != sts.VERSION
        ):
            raise sts.StsError(
                "InvalidAction", f"Could not find operation {action} for version {params.get('Version')}"
            )

        caller: Identity | None = None
        if action == "AssumeRoleWithWebIdentity":
            # unsigned: the token is the credential
            claims = sts.check_web_identity_token(
                self.sandbox.web_identity_key, params.get("WebIdentityToken")
            )
            entry["web_identity_subject"] = claims.get("sub")
        else:
            try:
                verified = self.sts_verifier.verify(
                    request.method, raw_path, raw_query, request.headers.items(), body, now=None
                )
            except AuthError as err:
                code, status, message = sts.AUTH_ERRORS.get(err.error_type, ("AccessDenied", 403, None))
                raise sts.StsError(code, message or err.message, status) from None
            caller = verified.identity
        if action == "GetCallerIdentity":
            assert caller is not None
            user_id = caller.access_key
            return 200, sts.caller_identity_xml(caller.arn, user_id, self.account_id, _request_id())

        role_arn = params.get("RoleArn")
        session_name = params.get("RoleSessionName")
        entry["role_arn"], entry["role_session_name"] = role_arn, session_name
        if not role_arn:
            raise sts.validation(
                "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: "
                "Member must not be null"
            )
        sts.check_session_name(session_name)
        duration = sts.check_duration(params.get("DurationSeconds"))
        entry["duration_seconds"] = duration
        if caller is not None:
            denied = (
                f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
            )
            if not caller.can_invoke or role_arn != self.sandbox.role_arn:
                raise sts.StsError("AccessDenied", denied, 403)
            required = self.sandbox.require_external_id
            if required is not None:
                given = params.get("ExternalId")
                if given is None or not secrets_equal(given, required):
                    raise sts.StsError("AccessDenied", denied, 403)
        elif role_arn != self.sandbox.role_arn:
            raise sts.StsError("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity", 403)

        headers = {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "Authorization": (
                f"AWS4-HMAC-SHA256 Credential=AKIAMOTOSANDBOXADMIN/20200101/{self.region}/sts/aws4_request, "
                "SignedHeaders=host, Signature=0"
            ),
        }
        assert self._moto is not None, "the gateway is not running"
        try:
            status, answer = await self._moto.post(headers, urlencode(pairs).encode())
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, OSError, ValueError, IndexError) as exc:
            log.warning("moto STS call failed: %s", exc)
            raise sts.StsError("InternalFailure", "An internal error occurred.", 500, sender=False) from None
        if status != 200:
            log.warning("moto answered %s for %s: %r", status, action, answer[:300])
            return status, answer
        try:
            issued = sts.parse_credentials(answer)
        except (ValueError, SyntaxError) as exc:
            log.warning("unexpected STS answer from moto: %s", exc)
            raise sts.StsError("InternalFailure", "An internal error occurred.", 500, sender=False) from None
        session_seconds = self.sandbox.sts_session_seconds
        seconds = duration if session_seconds is None else min(duration, session_seconds)
        expires = sts.expiration_after(seconds)
        self.sandbox.register_temporary(
            Credentials(issued.access_key, issued.secret_key, issued.session_token), issued.arn, expires
        )
        entry["expiration"] = expires
        entry["issued_access_key"] = issued.access_key
        entry["assumed_role_arn"] = issued.arn
        return 200, sts.rewrite_expiration(answer, expires)

    # ------------------------------------------------------------------ the direct Step Functions API

    async def _states_dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await request.read()
        target = request.headers.get("X-Amz-Target", "")
        action = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else None
        entry: dict[str, Any] = {
            "time": time.time(),
            "method": request.method,
            "path": request.path,
            "resource": "states",
            "action": action or target or None,
            "status": None,
            "execution_arn": None,
            "state_machine_arn": None,
            "access_key": None,
            "body": None,
            "throttled": False,
            "fault": None,
            "error": None,
        }
        match = _CREDENTIAL.search(request.headers.get("Authorization", ""))
        if match:
            entry["access_key"] = match.group(1)
        parsed: Any = {}
        if body.strip():
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        if isinstance(parsed, dict):
            for key, field in (("executionArn", "execution_arn"), ("stateMachineArn", "state_machine_arn")):
                if isinstance(parsed.get(key), str):
                    entry[field] = parsed[key]
            if parsed and action not in ("StartExecution", "StartSyncExecution"):
                entry["body"] = parsed  # never a start's: its input is the caller's data
        try:
            response = await self._states_pipeline(request, action, body, parsed, entry)
        except _Reset:
            entry["duration"] = time.time() - entry["time"]
            self.request_log.append(entry)
            self._reset(request)
            return web.Response(status=500)  # never reaches the client: the transport is gone
        entry["status"] = response.status
        entry["duration"] = time.time() - entry["time"]
        self.request_log.append(entry)
        return response

    async def _states_pipeline(
        self,
        request: web.BaseRequest,
        action: str | None,
        body: bytes,
        request_doc: Any,
        entry: dict[str, Any],
    ) -> web.Response:
        if request.method != "POST" or action not in SFN_OPERATIONS:
            return _amz_error(entry, 400, CORAL_PREFIX + "UnknownOperationException", None)
        raw_path, _, raw_query = request.raw_path.partition("?")
        try:
            verified = self.states_verifier.verify(
                request.method, raw_path, raw_query, request.headers.items(), body, now=None
            )
        except AuthError as err:
            message = DIRECT_AUTH_MESSAGES.get(err.error_type, err.message)
            return _amz_error(entry, 400, CORAL_PREFIX + err.error_type, message)
        assert action is not None
        if action not in DIRECT_ACTIONS:
            return _amz_error(
                entry,
                400,
                CORAL_PREFIX + "UnknownOperationException",
                f"The sandbox does not serve {TARGET_PREFIX}{action}; it serves {', '.join(DIRECT_ACTIONS)}.",
            )
        identity = verified.identity
        resource, arn_field = DIRECT_ACTIONS[action]
        if not identity.can_invoke:
            target_arn = request_doc.get(arn_field) if arn_field and isinstance(request_doc, dict) else None
            if not isinstance(target_arn, str):
                target_arn = f"arn:aws:states:{self.region}:{self.account_id}:stateMachine:*"
            entry["error"] = "AccessDeniedException"
            return _amz(
                400,
                {
                    "__type": CORAL_PREFIX + "AccessDeniedException",
                    "Message": f"User: {identity.arn} is not authorized to perform: states:{action} on "
                    f"resource: {target_arn} because no identity-based policy allows the states:{action} action",
                },
            )

        render = _DirectRender(self, entry)
        fault = self.faults.take(resource)
        if fault is not None:
            entry["fault"] = fault.kind
            if fault.kind in DIRECT_FAULTS:
                status, error_type, message = DIRECT_FAULTS[fault.kind]
                return _amz_error(entry, status, error_type, message)
            if fault.kind == "reset":
                raise _Reset()

        if action == "DescribeExecution" and not self.quota.try_acquire():
            entry["throttled"] = True
            return render.error(400, "ThrottlingException", "Rate exceeded")

        response = await self._integrate(action, body, request_doc, entry, render)
        return await self._after_fault(fault, response, AMZ_JSON)

    # ------------------------------------------------------------------ admin endpoint

    async def _admin(self, request: web.BaseRequest) -> web.Response:
        remote = request.remote or ""
        if not remote.startswith(_LOOPBACK):
            return _json(403, {"message": "the sandbox admin endpoint is loopback only"})
        route = request.path[len("/_sandbox/") :].strip("/")
        method = request.method
        try:
            doc = await request.json() if method in ("POST", "PUT") and request.can_read_body else {}
        except ValueError:
            return _json(400, {"message": "body must be JSON"})
        doc = doc or {}
        loop = asyncio.get_running_loop()
        try:
            if route == "requests" and method == "GET":
                entries = self.request_log.entries()
                if "resource" in request.query:
                    entries = [e for e in entries if e["resource"] == request.query["resource"]]
                if "execution_arn" in request.query:
                    entries = [e for e in entries if e["execution_arn"] == request.query["execution_arn"]]
                if "action" in request.query:
                    entries = [e for e in entries if e.get("action") == request.query["action"]]
                return _json(200, entries)
            if route == "requests" and method == "DELETE":
                self.request_log.clear()
                return _json(200, {"cleared": True})
            if route == "faults" and method == "POST":
                self.faults.inject(
                    resource=doc.get("resource", "*"),
                    kind=str(doc.get("kind", "503")),
                    count=int(doc.get("count", 1)),
                    delay_seconds=doc.get("delay_seconds"),
                )
                return _json(200, {"pending": self.faults.pending()})
            if route == "faults" and method == "DELETE":
                self.faults.clear()
                return _json(200, {"pending": []})
            if route == "faults" and method == "GET":
                return _json(200, {"pending": self.faults.pending()})
            if route == "quota" and method == "POST":
                if doc.get("enabled", True):
                    self.quota.enable(
                        burst=float(doc.get("burst", 300)),
                        refill_per_second=float(doc.get("refill_per_second", 15)),
                    )
                else:
                    self.quota.disable()
                return _json(200, self.quota.state())
            if route == "quota" and method == "GET":
                return _json(200, self.quota.state())
            if route == "state-machines" and method == "GET":
                return _json(200, dict(self.sandbox.state_machines))
            if route == "state-machines" and method == "POST":
                arn = await loop.run_in_executor(
                    None,
                    self.sandbox.create_state_machine,
                    doc["name"],
                    doc["definition"],
                    doc.get("type", "STANDARD"),
                )
                return _json(200, {"name": doc["name"], "arn": arn})
            if route == "describe" and method == "POST":
                status, raw = await self._call_moto("DescribeExecution", json.dumps(doc).encode())
                if status == 200:  # with the redrive emulation (as Sandbox.describe_execution)
                    raw = json.dumps(self.redrives.overlay(json.loads(raw))).encode()
                return web.Response(status=status, body=raw, content_type="application/json")
            if route == "redrive" and method == "POST":
                state = self.redrives.configure(
                    seconds=doc.get("seconds"),
                    status=doc.get("status"),
                    output=doc.get("output"),
                    error=doc.get("error"),
                    cause=doc.get("cause"),
                    window_seconds=doc.get("window_seconds"),
                )
                return _json(200, state)
            if route == "redrive" and method == "GET":
                return _json(200, self.redrives.state())
            if route == "resources" and method == "POST":
                self.sandbox.set_extra_resources(doc.get("extra_resources", []))
                return _json(200, {"extra_resources": sorted(self.extra_resources)})
            if route == "resources" and method == "GET":
                return _json(200, {"extra_resources": sorted(self.extra_resources)})
            if route == "executions" and method == "GET":
                result = await loop.run_in_executor(
                    None, self.sandbox.list_executions, request.query["stateMachineArn"]
                )
                return _json(200, result)
            if route == "info" and method == "GET":
                return _json(200, self.sandbox.info())
        except (KeyError, ValueError, TypeError) as exc:
            return _json(400, {"message": f"bad admin request: {exc}"})
        return _json(404, {"message": f"unknown admin route {method} /_sandbox/{route}"})
