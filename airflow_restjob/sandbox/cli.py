"""``airflow-restjob sandbox``: run the embedded sandbox in the foreground until SIGTERM / Ctrl-C."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from typing import Any

TOKEN_FILE_LIFETIME = 3600.0  # the web identity token file is rewritten at half of it, as EKS rotates


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=0, help="gateway port (default: a free port)")
    parser.add_argument("--moto-port", type=int, default=0, help="moto server port (default: a free port)")
    parser.add_argument("--stage", default="stage", help="API Gateway stage name (default: stage)")
    parser.add_argument("--region", default="us-east-1", help="AWS region to emulate (default: us-east-1)")
    parser.add_argument(
        "--wait-seconds",
        type=float,
        default=3,
        help="how long the 'succeed' state machine waits (default: 3)",
    )
    parser.add_argument(
        "--error-mapping",
        choices=("default", "4xx"),
        default="default",
        help="'default': Step Functions errors come back as HTTP 200 with __type (API Gateway's default "
        "integration response); '4xx': as HTTP 400",
    )
    parser.add_argument("--sts-port", type=int, default=0, help="STS endpoint port (default: a free port)")
    parser.add_argument(
        "--sts-session-seconds",
        type=float,
        default=900.0,
        help="sessions STS issues last at most this long (default: 900)",
    )
    parser.add_argument(
        "--states-port",
        type=int,
        default=0,
        help="port of the direct Step Functions API (SigV4 service states; default: a free port)",
    )
    parser.add_argument(
        "--redrive-seconds",
        type=float,
        default=None,
        help="how long a redriven execution runs before it succeeds (default: --wait-seconds)",
    )
    parser.add_argument(
        "--extra-resources",
        default="",
        help="comma-separated extra gateway resources: redrive-execution, get-execution-history, or 'all' "
        "(default: none; the direct API serves both actions anyway)",
    )
    parser.add_argument(
        "--auth-port",
        type=int,
        default=0,
        help="port of the job API behind basic / bearer / API key / OAuth 2.0 (default: a free port)",
    )
    parser.add_argument(
        "--token-lifetime",
        type=float,
        default=3600.0,
        help="lifetime of the OAuth 2.0 access tokens it issues, seconds (default: 3600)",
    )


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "sandbox",
        help="run a local SigV4-checking API Gateway + Step Functions sandbox",
        description="Run moto's Step Functions behind a local API Gateway stand-in (AWS_IAM / SigV4) "
        "on 127.0.0.1 until SIGTERM or Ctrl-C.",
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Start the sandbox, print its URLs, a ready AIRFLOW_CONN export line and a credential statement
    per credential type, block until a signal."""
    try:
        from .auth_api import AuthApi
        from .faults import EXTRA_RESOURCES
        from .sandbox import Sandbox
    except ImportError as exc:  # moto / boto3 missing
        print(
            f"the sandbox needs the 'sandbox' extra: pip install 'airflow-provider-restjob[sandbox]' ({exc})",
            file=sys.stderr,
        )
        return 2

    stop = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    extra = str(getattr(args, "extra_resources", "") or "")
    if extra.strip() == "all":
        extra_resources: list[str] = list(EXTRA_RESOURCES)
    else:
        extra_resources = [name.strip() for name in extra.split(",") if name.strip()]
    unknown = sorted(set(extra_resources) - set(EXTRA_RESOURCES))
    if unknown:
        print(
            f"unknown --extra-resources {unknown}; expected some of {list(EXTRA_RESOURCES)} or 'all'",
            file=sys.stderr,
        )
        return 2
    workdir = tempfile.mkdtemp(prefix="restjob-sandbox-")
    try:
        sandbox = Sandbox(
            port=getattr(args, "port", 0),
            moto_port=getattr(args, "moto_port", 0),
            stage=getattr(args, "stage", "stage"),
            region=getattr(args, "region", "us-east-1"),
            state_machine_wait_seconds=getattr(args, "wait_seconds", 3),
            error_mapping=getattr(args, "error_mapping", "default"),
            sts_port=getattr(args, "sts_port", 0),
            sts_session_seconds=getattr(args, "sts_session_seconds", 900.0),
            states_port=getattr(args, "states_port", 0),
            redrive_seconds=getattr(args, "redrive_seconds", None),
            extra_resources=extra_resources,
        )
        auth_api = AuthApi(
            port=getattr(args, "auth_port", 0),
            token_lifetime=getattr(args, "token_lifetime", 3600.0),
            job_seconds=getattr(args, "wait_seconds", 3),
        )
        with sandbox as sb, auth_api as api:
            print(f"restjob sandbox base URL: {sb.base_url}")
            print(f"restjob sandbox admin URL: {sb.admin_url}")
            print(f"moto: {sb.moto_url}  region: {sb.region}")
            for name, arn in sb.state_machines.items():
                print(f"state machine {name}: {arn}")
            print(sb.export_line())
            print(f"STS endpoint: {sb.sts_url}  role: {sb.role_arn}")
            print(f"auth job API: {api.url}  OAuth 2.0 token URL: {api.token_url}")
            print(
                f"Step Functions endpoint: {sb.states_url}  (direct API: POST /, X-Amz-Target "
                "AWSStepFunctions.<Action>, SigV4 service states)"
            )
            if sb.extra_resources:
                print(f"extra gateway resources: {', '.join(sorted(sb.extra_resources))}")
            token_file = os.path.join(workdir, "web-identity-token")
            sb.write_web_identity_token(token_file, TOKEN_FILE_LIFETIME)
            statements = sb.statements(token_file) + api.statements()
            statements_file = os.path.join(workdir, "credentials.json")
            with open(statements_file, "w", encoding="utf-8") as handle:
                json.dump(statements, handle, indent=2)
            os.chmod(statements_file, 0o600)
            for statement in statements:
                print(f"credential statement {statement['name']}: {json.dumps(statement)}")
            print(f"credential statements file: {statements_file}")
            # Not in the file above (that holds one statement per credential type): a statement of its own.
            states_file = os.path.join(workdir, "credentials-states.json")
            with open(states_file, "w", encoding="utf-8") as handle:
                json.dump([sb.states_statement()], handle, indent=2)
            os.chmod(states_file, 0o600)
            print(f"states credential statement sandbox_states: {json.dumps(sb.states_statement())}")
            print(f"states credential statement file: {states_file}")
            print("Ctrl-C or SIGTERM stops the sandbox.", flush=True)
            written = time.monotonic()
            while not stop.wait(0.5):
                if time.monotonic() - written > TOKEN_FILE_LIFETIME / 2:
                    sb.write_web_identity_token(token_file, TOKEN_FILE_LIFETIME)
                    written = time.monotonic()
            print("stopping sandbox ...", flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        shutil.rmtree(workdir, ignore_errors=True)
    print("sandbox stopped", flush=True)
    return 0
