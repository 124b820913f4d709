"""Signed DescribeExecution round trips per second: through the sandbox gateway vs. moto alone.

Runs the sandbox in a child process (``python -m airflow_restjob.sandbox``), like a user would, and
drives both paths from this process with the same client stack (requests.Session + botocore SigV4
signing per call), alternating call by call so machine noise hits all alike:

* gateway: ``POST {base_url}/describe-execution`` signed for ``execute-api`` (verified by the gateway,
  forwarded to moto);
* moto alone: ``POST {moto_url}/`` with ``X-Amz-Target: AWSStepFunctions.DescribeExecution`` signed
  for ``states`` (moto does not verify it);
* for reference, boto3's ``describe_execution`` straight to moto.

    python bench/bench_gateway.py [--seconds 3] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from typing import Any

import boto3
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials


def start_sandbox() -> tuple[subprocess.Popen, dict[str, Any]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_restjob.sandbox", "--wait-seconds", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    admin = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("restjob sandbox admin URL: "):
            admin = line.split(": ", 1)[1].strip()
        if line.startswith("export AIRFLOW_CONN_"):
            break
    if admin is None:
        proc.kill()
        raise SystemExit("the sandbox did not start")
    info = requests.get(admin + "/info", timeout=10).json()
    return proc, info


class SignedPoster:
    def __init__(self, url: str, service: str, region: str, creds: Credentials, headers: dict[str, str]):
        self.url = url
        self.signer = SigV4Auth(creds, service, region)
        self.headers = headers
        self.session = requests.Session()

    def __call__(self, body: bytes) -> requests.Response:
        req = AWSRequest(method="POST", url=self.url, data=body, headers=dict(self.headers))
        self.signer.add_auth(req)
        resp = self.session.post(self.url, data=body, headers=dict(req.headers.items()), timeout=10)
        resp.raise_for_status()
        return resp


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each measuring round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per path")
    args = parser.parse_args()

    proc, info = start_sandbox()
    try:
        region = info["region"]
        inv = info["credentials"]["invoke"]
        creds = Credentials(inv["access_key"], inv["secret_key"])
        gateway = SignedPoster(
            info["base_url"] + "/describe-execution",
            "execute-api",
            region,
            creds,
            {"Content-Type": "application/json"},
        )
        moto = SignedPoster(
            info["moto_url"] + "/",
            "states",
            region,
            creds,
            {
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": "AWSStepFunctions.DescribeExecution",
            },
        )
        sfn = boto3.client(
            "stepfunctions",
            endpoint_url=info["moto_url"],
            region_name=region,
            aws_access_key_id=creds.access_key,
            aws_secret_access_key=creds.secret_key,
            config=Config(retries={"max_attempts": 1}),
        )
        start_body = json.dumps({"stateMachineArn": info["state_machines"]["long"]}).encode()
        arn = SignedPoster(
            info["base_url"] + "/start-execution",
            "execute-api",
            region,
            creds,
            {"Content-Type": "application/json"},
        )(start_body).json()["executionArn"]
        body = json.dumps({"executionArn": arn}).encode()
        assert gateway(body).json()["status"] == "RUNNING"
        assert moto(body).json()["status"] == "RUNNING"

        paths = {
            "gateway (signed, verified, forwarded)": lambda: gateway(body),
            "moto alone (signed POST)": lambda: moto(body),
            "moto alone (boto3 client)": lambda: sfn.describe_execution(executionArn=arn),
        }
        for call in paths.values():  # warm up connections and caches
            for _ in range(50):
                call()
        # Alternate the paths call by call, so load from elsewhere on the machine hits all alike;
        # a path's rate is its calls divided by the time spent in its own calls.
        results: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(args.rounds):
            spent = dict.fromkeys(paths, 0.0)
            calls = 0
            deadline = time.perf_counter() + args.seconds * len(paths)
            while time.perf_counter() < deadline:
                for name, call in paths.items():
                    began = time.perf_counter()
                    call()
                    spent[name] += time.perf_counter() - began
                calls += 1
            for name in paths:
                results[name].append(calls / spent[name])

        print(f"DescribeExecution round trips per second, median of {args.rounds} rounds, calls alternated")
        print(f"(machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]})")
        for name, values in results.items():
            print(
                f"  {name:40s} {statistics.median(values):8.1f} /s   (rounds: {', '.join(f'{v:.0f}' for v in values)})"
            )
        gw = statistics.median(results["gateway (signed, verified, forwarded)"])
        alone = statistics.median(results["moto alone (signed POST)"])
        print(f"  gateway / moto alone throughput ratio   {gw / alone:8.3f}")
        print(f"  gateway overhead (extra time per call)  {(alone / gw - 1) * 100:7.1f} %   (target < 25 %)")
        print(f"  gateway latency {1000 / gw:.2f} ms vs moto alone {1000 / alone:.2f} ms per call")
        SignedPoster(
            info["base_url"] + "/stop-execution",
            "execute-api",
            region,
            creds,
            {"Content-Type": "application/json"},
        )(body)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
