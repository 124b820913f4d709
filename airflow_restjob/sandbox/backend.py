"""moto's Step Functions (with execution enabled) in server mode, plus the example state machines."""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

log = logging.getLogger(__name__)

ACCOUNT_ID = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/restjob-sandbox-sfn"
RESERVATIONS_TABLE = "reservations"
RESERVATIONS_QUEUE = "reservations"
# Credentials the sandbox itself uses to talk to moto (moto accepts anything).
MOTO_ACCESS_KEY = "AKIAMOTOSANDBOXADMIN"
MOTO_SECRET_KEY = "moto-does-not-check-this-secret"


class _QuietHandler(MotoRequestHandler):
    """moto's request handler without the per-request access log (werkzeug closes every connection anyway)."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:  # noqa: D401 - silence access log
        return None


class _MotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=_QuietHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


class SharedMoto:
    """One moto server per process, reference counted.

    moto keeps its backends in module globals, so two moto servers in one process would share all
    state anyway; and Task states find moto through the process-wide ``MOTO_PORT``. Sandboxes in
    the same process therefore share one server.
    """

    _lock = threading.Lock()
    _server: _MotoServer | None = None
    _port: int = 0
    _refs = 0

    @classmethod
    def acquire(cls, port: int = 0) -> int:
        with cls._lock:
            if cls._server is not None:
                if port and port != cls._port:
                    log.warning(
                        "moto already runs on port %s in this process; ignoring moto_port=%s", cls._port, port
                    )
                cls._refs += 1
                return cls._port
            server = _MotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            server.start()
            cls._port = server.get_host_and_port()[1]
            cls._server = server
            cls._refs = 1
            # Task states (DynamoDB, SQS, ...) call back into moto at localhost:$MOTO_PORT.
            os.environ["MOTO_PORT"] = str(cls._port)
            return cls._port

    @classmethod
    def release(cls) -> None:
        with cls._lock:
            if cls._server is None:
                return
            cls._refs -= 1
            if cls._refs > 0:
                return
            server, cls._server = cls._server, None
        server.stop()


def moto_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def enable_execution(url: str) -> None:
    """Turn on moto's Step Functions interpreter (must happen before state machines are created)."""
    import urllib.request

    req = urllib.request.Request(
        url + "/moto-api/config",
        data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback only
        resp.read()


def client(service: str, url: str, region: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=MOTO_ACCESS_KEY,
        aws_secret_access_key=MOTO_SECRET_KEY,
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )


def ensure_resources(url: str, region: str) -> str:
    """Create the DynamoDB table and SQS queue the rental-car flow writes to; return the queue URL."""
    ddb = client("dynamodb", url, region)
    try:
        ddb.create_table(
            TableName=RESERVATIONS_TABLE,
            KeySchema=[{"AttributeName": "reservation_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "reservation_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    sqs = client("sqs", url, region)
    return sqs.create_queue(QueueName=RESERVATIONS_QUEUE)["QueueUrl"]


def example_definitions(wait_seconds: float, queue_url: str) -> dict[str, dict[str, Any]]:
    """The example state machines every sandbox deploys, by short name."""
    defaults = json.dumps({"customer": "anonymous", "vehicle": "compact", "days": 1})
    return {
        "succeed": {
            "Comment": "Waits (input.wait_seconds or the sandbox default), then succeeds with input + result=ok",
            "StartAt": "HowLong",
            "States": {
                "HowLong": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.wait_seconds", "IsPresent": True, "Next": "WaitGiven"}],
                    "Default": "WaitDefault",
                },
                "WaitGiven": {"Type": "Wait", "SecondsPath": "$.wait_seconds", "Next": "Done"},
                "WaitDefault": {"Type": "Wait", "Seconds": int(wait_seconds), "Next": "Done"},
                "Done": {"Type": "Pass", "Result": "ok", "ResultPath": "$.result", "End": True},
            },
        },
        "fail": {
            "Comment": "Fails with RentalCarError",
            "StartAt": "Try",
            "States": {
                "Try": {"Type": "Pass", "Next": "Fail"},
                "Fail": {"Type": "Fail", "Error": "RentalCarError", "Cause": "vehicle not available"},
            },
        },
        "timeout": {
            "Comment": "TimeoutSeconds shorter than its Wait: ends TIMED_OUT",
            "TimeoutSeconds": 1,
            "StartAt": "TooLong",
            "States": {"TooLong": {"Type": "Wait", "Seconds": 5, "End": True}},
        },
        "rental_car": {
            "Comment": "Validate, check availability, reserve (DynamoDB), notify (SQS), confirm",
            "StartAt": "Validate",
            "States": {
                "Validate": {
                    "Type": "Pass",
                    "Parameters": {
                        "merged.$": f"States.JsonMerge(States.StringToJson('{defaults}'), $, false)",
                        "reservation_id.$": "$$.Execution.Name",
                    },
                    "Next": "Normalise",
                },
                "Normalise": {
                    "Type": "Pass",
                    "Parameters": {
                        "reservation_id.$": "$.reservation_id",
                        "customer.$": "$.merged.customer",
                        "vehicle.$": "$.merged.vehicle",
                        "days.$": "$.merged.days",
                    },
                    "Next": "Available",
                },
                "Available": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.vehicle", "StringEquals": "none", "Next": "NotAvailable"}],
                    "Default": "Reserve",
                },
                "NotAvailable": {"Type": "Fail", "Error": "RentalCarError", "Cause": "vehicle not available"},
                "Reserve": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::dynamodb:putItem",
                    "Parameters": {
                        "TableName": RESERVATIONS_TABLE,
                        "Item": {
                            "reservation_id": {"S.$": "$.reservation_id"},
                            "customer": {"S.$": "$.customer"},
                            "vehicle": {"S.$": "$.vehicle"},
                            "status": {"S": "RESERVED"},
                        },
                    },
                    "ResultPath": None,
                    "Next": "Notify",
                },
                "Notify": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage",
                    "Parameters": {"QueueUrl": queue_url, "MessageBody.$": "States.JsonToString($)"},
                    "ResultSelector": {"message_id.$": "$.MessageId"},
                    "ResultPath": "$.notification",
                    "Next": "Settle",
                },
                "Settle": {"Type": "Wait", "Seconds": 1, "Next": "Confirm"},
                "Confirm": {
                    "Type": "Pass",
                    "Parameters": {
                        "reservation_id.$": "$.reservation_id",
                        "customer.$": "$.customer",
                        "vehicle.$": "$.vehicle",
                        "status": "CONFIRMED",
                        "message_id.$": "$.notification.message_id",
                    },
                    "End": True,
                },
            },
        },
        "long": {
            "Comment": "Waits ten minutes (for stop tests)",
            "StartAt": "Wait",
            "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": True}},
        },
    }


def create_state_machine(sfn: Any, name: str, definition: dict[str, Any]) -> str:
    """Create (or reuse an identical) state machine; on a clash with a different one, add a suffix."""
    text = json.dumps(definition, sort_keys=True)
    candidate = name
    for _ in range(5):
        try:
            return sfn.create_state_machine(name=candidate, definition=text, roleArn=ROLE_ARN)[
                "stateMachineArn"
            ]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "StateMachineAlreadyExists":
                raise
        arn = f"arn:aws:states:{sfn.meta.region_name}:{ACCOUNT_ID}:stateMachine:{candidate}"
        try:
            existing = sfn.describe_state_machine(stateMachineArn=arn)
            if json.loads(existing["definition"]) == definition:
                return arn
        except ClientError:
            pass
        candidate = f"{name}-{uuid.uuid4().hex[:8]}"
    raise RuntimeError(f"could not create state machine {name!r}")
