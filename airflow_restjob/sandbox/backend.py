"""moto's Step Functions (with execution enabled) in server mode, plus the example state machines."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import uuid
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

log = logging.getLogger(__name__)

ACCOUNT_ID = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/restjob-sandbox-sfn"
RESERVATIONS_TABLE = "reservations"
RESERVATIONS_QUEUE = "reservations"
INVOKE_ROLE_NAME = "restjob-invoke-role"
# Credentials the sandbox itself uses to talk to moto (moto accepts anything).
MOTO_ACCESS_KEY = "AKIAMOTOSANDBOXADMIN"
MOTO_SECRET_KEY = "moto-does-not-check-this-secret"


class MotoProcess:
    """moto's server in a child process (one per sandbox: own state, no GIL shared with the gateway)."""

    def __init__(self, port: int = 0) -> None:
        self.requested_port = port
        self.port = 0
        self._proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> int:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "airflow_restjob.sandbox.moto_process",
                "--port",
                str(self.requested_port),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._proc = proc
        found: list[str] = []

        def _read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("MOTO_PORT="):
                    found.append(line.strip().split("=", 1)[1])
                    return

        reader = threading.Thread(target=_read, daemon=True)
        reader.start()
        reader.join(timeout)
        if not found:
            self.stop()
            raise RuntimeError("moto server process did not start (is the 'sandbox' extra installed?)")
        self.port = int(found[0])
        return self.port

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


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


def ensure_invoke_role(url: str, region: str, role_name: str = INVOKE_ROLE_NAME) -> str:
    """The IAM role STS AssumeRole / AssumeRoleWithWebIdentity hand out (moto does not require it to exist,
    but GetRole and the assumed-role ids then look like AWS's); returns its ARN."""
    iam = client("iam", url, region)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                "Action": "sts:AssumeRole",
            },
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/restjob-sandbox"},
                "Action": "sts:AssumeRoleWithWebIdentity",
            },
        ],
    }
    try:
        return iam.create_role(
            RoleName=role_name,
            AssumeRolePolicyDocument=json.dumps(trust),
            MaxSessionDuration=3600,
            Description="may invoke the sandbox API (execute-api:Invoke)",
        )["Role"]["Arn"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
    return iam.get_role(RoleName=role_name)["Role"]["Arn"]


# The example state machines of type EXPRESS (moto keeps the type; the sandbox emulates the rest,
# see express.py); every other example is STANDARD.
EXPRESS_EXAMPLES = ("express_succeed", "express_fail")


def example_type(name: str) -> str:
    return "EXPRESS" if name in EXPRESS_EXAMPLES else "STANDARD"


def _wait_then_succeed(comment: str, default_seconds: int) -> dict[str, Any]:
    """Waits input.wait_seconds (or ``default_seconds``), then succeeds with input + result=ok."""
    return {
        "Comment": comment,
        "StartAt": "HowLong",
        "States": {
            "HowLong": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.wait_seconds", "IsPresent": True, "Next": "WaitGiven"}],
                "Default": "WaitDefault",
            },
            "WaitGiven": {"Type": "Wait", "SecondsPath": "$.wait_seconds", "Next": "Done"},
            "WaitDefault": {"Type": "Wait", "Seconds": default_seconds, "Next": "Done"},
            "Done": {"Type": "Pass", "Result": "ok", "ResultPath": "$.result", "End": True},
        },
    }


def _rental_car_error(comment: str) -> dict[str, Any]:
    return {
        "Comment": comment,
        "StartAt": "Try",
        "States": {
            "Try": {"Type": "Pass", "Next": "Fail"},
            "Fail": {"Type": "Fail", "Error": "RentalCarError", "Cause": "vehicle not available"},
        },
    }


def example_definitions(wait_seconds: float, queue_url: str) -> dict[str, dict[str, Any]]:
    """The example state machines every sandbox deploys, by short name (types: :func:`example_type`)."""
    defaults = json.dumps({"customer": "anonymous", "vehicle": "compact", "days": 1})
    return {
        "succeed": _wait_then_succeed(
            "Waits (input.wait_seconds or the sandbox default), then succeeds with input + result=ok",
            int(wait_seconds),
        ),
        "fail": _rental_car_error("Fails with RentalCarError"),
        "express_succeed": _wait_then_succeed(
            "EXPRESS: waits (input.wait_seconds or 1 s), then succeeds with input + result=ok", 1
        ),
        "express_fail": _rental_car_error("EXPRESS: fails with RentalCarError"),
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


def create_state_machine(
    sfn: Any, name: str, definition: dict[str, Any], machine_type: str = "STANDARD"
) -> str:
    """Create (or reuse an identical) state machine of ``machine_type`` (STANDARD / EXPRESS); on a
    clash with a different one, add a suffix."""
    if machine_type not in ("STANDARD", "EXPRESS"):
        raise ValueError("a state machine's type is STANDARD or EXPRESS")
    text = json.dumps(definition, sort_keys=True)
    candidate = name
    for _ in range(5):
        try:
            return sfn.create_state_machine(
                name=candidate, definition=text, roleArn=ROLE_ARN, type=machine_type
            )["stateMachineArn"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "StateMachineAlreadyExists":
                raise
        arn = f"arn:aws:states:{sfn.meta.region_name}:{ACCOUNT_ID}:stateMachine:{candidate}"
        try:
            existing = sfn.describe_state_machine(stateMachineArn=arn)
            if json.loads(existing["definition"]) == definition and existing.get("type") == machine_type:
                return arn
        except ClientError:
            pass
        candidate = f"{name}-{uuid.uuid4().hex[:8]}"
    raise RuntimeError(f"could not create state machine {name!r}")
