"""``airflow-restjob sandbox``: run the embedded sandbox in the foreground until SIGTERM / Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any


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
    """Start the sandbox, print its URLs and a ready AIRFLOW_CONN export line, block until a signal."""
    try:
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
    try:
        sandbox = Sandbox(
            port=getattr(args, "port", 0),
            moto_port=getattr(args, "moto_port", 0),
            stage=getattr(args, "stage", "stage"),
            region=getattr(args, "region", "us-east-1"),
            state_machine_wait_seconds=getattr(args, "wait_seconds", 3),
            error_mapping=getattr(args, "error_mapping", "default"),
        )
        with sandbox as sb:
            print(f"restjob sandbox base URL: {sb.base_url}")
            print(f"restjob sandbox admin URL: {sb.admin_url}")
            print(f"moto: {sb.moto_url}  region: {sb.region}")
            for name, arn in sb.state_machines.items():
                print(f"state machine {name}: {arn}")
            print(sb.export_line())
            print("Ctrl-C or SIGTERM stops the sandbox.", flush=True)
            while not stop.wait(0.5):
                pass
            print("stopping sandbox ...", flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("sandbox stopped", flush=True)
    return 0
