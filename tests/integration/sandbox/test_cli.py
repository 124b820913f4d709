"""``airflow-restjob sandbox`` / ``python -m airflow_restjob.sandbox`` in a real subprocess."""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import requests

from airflow_restjob.sandbox import Credentials, SandboxClient
from airflow_restjob.sandbox.cli import add_parser
from tests.integration.sandbox.sandbox_helpers import botocore_headers


def _reader(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def test_cli_starts_prints_export_line_and_exits_0_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_restjob.sandbox", "--wait-seconds", "1", "--stage", "dev"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    export = admin = None
    try:
        deadline = time.monotonic() + 60
        while export is None:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"sandbox exited early: {seen} {proc.stderr.read()}"
            seen.append(line)
            if line.startswith("restjob sandbox admin URL: "):
                admin = line.split(": ", 1)[1].strip()
            if line.startswith("export AIRFLOW_CONN_RESTJOB_DEFAULT='"):
                export = line.strip()
        assert any(line.startswith("restjob sandbox base URL: http://127.0.0.1:") for line in seen), seen
        conn = json.loads(export.split("=", 1)[1].strip("'"))
        assert conn["conn_type"] == "restjob" and conn["host"].endswith("/dev")
        assert conn["extra"] == {"region": "us-east-1"}

        # the printed connection works against the running sandbox
        client = SandboxClient(admin)
        url = f"{conn['host']}/start-execution"
        body = json.dumps({"stateMachineArn": client.state_machine_arn("succeed")}).encode()
        headers = botocore_headers(url, body, Credentials(conn["login"], conn["password"]))
        r = requests.post(url, data=body, headers=headers, timeout=10)
        assert r.status_code == 200 and ":execution:succeed:" in r.json()["executionArn"]
        assert client.request_log()[-1]["status"] == 200

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        rest = []
        while (line := lines.get(timeout=5)) is not None:
            rest.append(line)
        assert "sandbox stopped\n" in rest
        # the ports are closed
        try:
            requests.get(admin + "/info", timeout=2)
            raise AssertionError("sandbox still answering after SIGTERM")
        except requests.exceptions.ConnectionError:
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_add_parser_defaults():
    parser = argparse.ArgumentParser(prog="airflow-restjob")
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    args = parser.parse_args(["sandbox", "--port", "8123", "--wait-seconds", "2"])
    assert (args.port, args.moto_port, args.stage, args.region, args.wait_seconds) == (
        8123,
        0,
        "stage",
        "us-east-1",
        2,
    )
    assert callable(args.func)
