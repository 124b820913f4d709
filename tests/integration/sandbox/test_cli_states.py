"""``python -m airflow_restjob.sandbox`` prints the direct Step Functions endpoint and a working
``sandbox_states`` credential statement (besides every line it printed before)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import boto3
import requests
from botocore.config import Config

from airflow_restjob.cli.credentials import read_file, validate
from airflow_restjob.sandbox import Credentials, SandboxClient
from tests.integration.sandbox.sandbox_helpers import botocore_headers

STATEMENT = "states credential statement sandbox_states: "


def _reader(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def test_cli_prints_the_direct_endpoint_and_its_statement():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_restjob.sandbox",
            "--wait-seconds",
            "1",
            "--redrive-seconds",
            "0.5",
            "--extra-resources",
            "all",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not seen or not seen[-1].startswith("Ctrl-C or SIGTERM"):
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"sandbox exited early: {seen} {proc.stderr.read()}"
            seen.append(line)
        for prefix in (
            "restjob sandbox base URL: http://127.0.0.1:",
            "restjob sandbox admin URL: http://127.0.0.1:",
            "export AIRFLOW_CONN_RESTJOB_DEFAULT='",
            "STS endpoint: http://127.0.0.1:",
            "auth job API: http://127.0.0.1:",
            "credential statement sandbox_aws: ",
            "credential statements file: ",
            "Step Functions endpoint: http://127.0.0.1:",
            "extra gateway resources: get-execution-history, redrive-execution",
            STATEMENT,
            "states credential statement file: ",
        ):
            assert any(line.startswith(prefix) for line in seen), (prefix, seen)
        admin = next(line for line in seen if line.startswith("restjob sandbox admin URL: ")).split(": ", 1)[
            1
        ]
        client = SandboxClient(admin.strip())
        endpoint = next(line for line in seen if line.startswith("Step Functions endpoint: "))
        assert endpoint.split()[3] == client.states_url
        statement = json.loads(next(line for line in seen if line.startswith(STATEMENT))[len(STATEMENT) :])
        assert statement == client.states_statement()
        assert set(statement) == {
            "name",
            "authType",
            "accessKeyId",
            "secretAccessKey",
            "region",
            "service",
            "baseUrl",
        }
        assert statement["service"] == "states" and statement["baseUrl"] == client.states_url
        # a statement ``airflow-restjob credentials add`` takes
        validate(statement, "statement")
        states_file = next(line for line in seen if line.startswith("states credential statement file: "))
        assert read_file(states_file.split(": ", 1)[1].strip()) == [statement]
        # ... and not among the one-per-type statements
        assert not any(line.startswith("credential statement sandbox_states") for line in seen)

        # the statement works with an unmodified botocore client
        sfn = boto3.client(
            "stepfunctions",
            endpoint_url=statement["baseUrl"],
            region_name=statement["region"],
            aws_access_key_id=statement["accessKeyId"],
            aws_secret_access_key=statement["secretAccessKey"],
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )
        arn = sfn.start_execution(stateMachineArn=client.state_machine_arn("fail"))["executionArn"]
        deadline = time.monotonic() + 20
        while (doc := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert doc["status"] == "FAILED"
        sfn.redrive_execution(executionArn=arn)
        assert sfn.describe_execution(executionArn=arn)["redriveCount"] == 1
        # --extra-resources all: the gateway serves the history resource
        url = client.base_url + "/get-execution-history"
        body = json.dumps({"executionArn": arn, "reverseOrder": True}).encode()
        creds = Credentials(statement["accessKeyId"], statement["secretAccessKey"])
        r = requests.post(url, data=body, headers=botocore_headers(url, body, creds), timeout=10)
        assert r.status_code == 200 and r.json()["events"][0]["type"] in (
            "ExecutionRedriven",
            "FailStateEntered",
            "FailStateExited",
            "ExecutionSucceeded",
        )
        assert client.info()["redrive"]["seconds"] == 0.5

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        try:
            requests.get(client.states_url, timeout=2)
            raise AssertionError("the direct API still answers after SIGTERM")
        except requests.exceptions.ConnectionError:
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_refuses_unknown_extra_resources():
    proc = subprocess.run(
        [sys.executable, "-m", "airflow_restjob.sandbox", "--extra-resources", "list-executions"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "unknown --extra-resources" in proc.stderr
