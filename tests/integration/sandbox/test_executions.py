"""Executions really run in moto behind the gateway; moto gaps fixed at the gateway."""

from __future__ import annotations

import json
import re
import time

from airflow_restjob.sandbox import Sandbox
from tests.integration.sandbox.sandbox_helpers import post, start, wait_terminal

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_succeed_waits_then_merges_result(sandbox):
    began = time.monotonic()
    arn = start(sandbox, "succeed", {"order": 7})
    first = post(sandbox, "describe-execution", {"executionArn": arn}).json()
    assert first["status"] == "RUNNING"
    doc = wait_terminal(sandbox, arn)
    assert time.monotonic() - began >= 0.9  # the sandbox waits state_machine_wait_seconds=1
    assert doc["status"] == "SUCCEEDED"
    assert json.loads(doc["output"]) == {"order": 7, "result": "ok"}
    assert isinstance(doc["startDate"], float) and isinstance(doc["stopDate"], float)
    assert sandbox.describe_execution(arn)["status"] == "SUCCEEDED"


def test_succeed_honours_wait_seconds_in_input(sandbox):
    arn = start(sandbox, "succeed", {"wait_seconds": 0})
    assert wait_terminal(sandbox, arn, timeout=5)["status"] == "SUCCEEDED"


def test_fail_reports_error_and_cause(sandbox):
    doc = wait_terminal(sandbox, start(sandbox, "fail"))
    assert doc["status"] == "FAILED"
    assert doc["error"] == "RentalCarError"
    assert doc["cause"] == "vehicle not available"
    assert "output" not in doc


def test_timeout_ends_timed_out(sandbox):
    doc = wait_terminal(sandbox, start(sandbox, "timeout"), timeout=10)
    assert doc["status"] == "TIMED_OUT"


def test_rental_car_writes_dynamodb_and_sqs(sandbox):
    arn = start(sandbox, "rental_car", {"customer": "ada", "vehicle": "suv"})
    doc = wait_terminal(sandbox, arn)
    assert doc["status"] == "SUCCEEDED", doc
    output = json.loads(doc["output"])
    name = arn.rsplit(":", 1)[1]
    assert output["reservation_id"] == name
    assert output["status"] == "CONFIRMED"
    assert output["vehicle"] == "suv"
    item = sandbox.aws_client("dynamodb").get_item(
        TableName="reservations", Key={"reservation_id": {"S": name}}
    )
    assert item["Item"]["customer"] == {"S": "ada"}
    assert item["Item"]["status"] == {"S": "RESERVED"}
    sqs = sandbox.aws_client("sqs")
    bodies = []
    for _ in range(5):
        for message in sqs.receive_message(QueueUrl=sandbox.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=sandbox.queue_url, ReceiptHandle=message["ReceiptHandle"])
        if any(b["reservation_id"] == name for b in bodies):
            break
    assert any(b["reservation_id"] == name and b["customer"] == "ada" for b in bodies), bodies
    assert output["message_id"]


def test_rental_car_without_vehicle_fails(sandbox):
    doc = wait_terminal(sandbox, start(sandbox, "rental_car", {"vehicle": "none"}))
    assert doc["status"] == "FAILED"
    assert doc["error"] == "RentalCarError"


def test_stop_aborts_with_stop_date_error_and_cause(sandbox):
    arn = start(sandbox, "long")
    before = time.time()
    r = post(sandbox, "stop-execution", {"executionArn": arn, "error": "Cancelled", "cause": "task killed"})
    assert r.status_code == 200
    stop_date = r.json()["stopDate"]
    assert isinstance(stop_date, float) and before - 1 <= stop_date <= time.time() + 1
    doc = post(sandbox, "describe-execution", {"executionArn": arn}).json()
    assert doc["status"] == "ABORTED"
    assert doc["stopDate"] == stop_date
    assert doc["error"] == "Cancelled" and doc["cause"] == "task killed"
    assert sandbox.describe_execution(arn)["status"] == "ABORTED"
    stops = sandbox.stops_for(arn)
    assert len(stops) == 1 and stops[0]["status"] == 200 and stops[0]["body"]["error"] == "Cancelled"
    # stopping again is harmless
    assert post(sandbox, "stop-execution", {"executionArn": arn}).json()["stopDate"] == stop_date


def test_name_is_generated_when_missing(sandbox):
    arn = start(sandbox, "succeed", {"wait_seconds": 0})
    name = arn.rsplit(":", 1)[1]
    assert UUID.match(name), arn
    assert post(sandbox, "describe-execution", {"executionArn": arn}).json()["name"] == name
    # the request log shows the body the client sent (without a name) and the ARN from the response
    entry = sandbox.request_log()[0]
    assert entry["resource"] == "start-execution" and "name" not in entry["body"]
    assert entry["execution_arn"] == arn


def test_same_name_is_idempotent_while_running_then_already_exists(sandbox):
    name = f"idem-{time.time_ns()}"
    a = start(sandbox, "long", {"k": 1}, name=name)
    assert start(sandbox, "long", {"k": 1}, name=name) == a
    r = post(
        sandbox,
        "start-execution",
        {"stateMachineArn": sandbox.state_machine_arn("long"), "name": name, "input": '{"k": 2}'},
    )
    assert r.status_code == 200
    assert r.json()["__type"] == "com.amazonaws.swf.service.v2.model#ExecutionAlreadyExists"
    post(sandbox, "stop-execution", {"executionArn": a})


def test_step_functions_errors_come_back_as_200_with_type(sandbox):
    arn = sandbox.state_machine_arn("succeed")
    cases = [
        (
            {"stateMachineArn": arn + "-missing"},
            "com.amazonaws.swf.service.v2.model#StateMachineDoesNotExist",
        ),
        ({"stateMachineArn": "not-an-arn"}, "com.amazonaws.swf.service.v2.model#InvalidArn"),
        ({"stateMachineArn": arn, "name": "bad name"}, "com.amazonaws.swf.service.v2.model#InvalidName"),
        (
            {"stateMachineArn": arn, "input": "{nope"},
            "com.amazonaws.swf.service.v2.model#InvalidExecutionInput",
        ),
        ({}, "com.amazon.coral.validate#ValidationException"),
    ]
    for doc, error_type in cases:
        r = post(sandbox, "start-execution", doc)
        assert r.status_code == 200, r.text
        assert r.json()["__type"] == error_type, (doc, r.text)
        assert r.json()["message"]
    r = post(
        sandbox,
        "describe-execution",
        {"executionArn": arn.replace(":stateMachine:", ":execution:") + ":nope"},
    )
    assert r.json()["__type"] == "com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist"


def test_malformed_json_body_is_a_serialization_exception(sandbox):
    for body in (b"{not json", b"[1, 2]"):
        r = post(sandbox, "start-execution", body)
        assert r.status_code == 200
        assert r.json()["__type"] == "com.amazon.coral.service#SerializationException"


def test_4xx_error_mapping():
    with Sandbox(error_mapping="4xx", state_machine_wait_seconds=1) as sb:
        r = post(sb, "start-execution", {"stateMachineArn": sb.state_machine_arn("succeed") + "-missing"})
        assert r.status_code == 400
        assert r.headers["x-amzn-ErrorType"] == "StateMachineDoesNotExist"
        assert r.json()["__type"] == "com.amazonaws.swf.service.v2.model#StateMachineDoesNotExist"
        r = post(sb, "start-execution", {"stateMachineArn": sb.state_machine_arn("succeed"), "input": "{}"})
        assert r.status_code == 200


def test_extra_state_machine(sandbox):
    arn = sandbox.create_state_machine(
        "extra_pass", {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"v": 1}, "End": True}}}
    )
    assert sandbox.state_machine_arn("extra_pass") == arn
    r = post(sandbox, "start-execution", {"stateMachineArn": arn})
    doc = wait_terminal(sandbox, r.json()["executionArn"])
    assert json.loads(doc["output"]) == {"v": 1}
    listed = sandbox.list_executions(arn)
    assert [e["executionArn"] for e in listed] == [r.json()["executionArn"]]
