"""The demo (``bash scripts/demo.sh``): the rental-car DAG end to end through a real local Airflow.

Starts the embedded sandbox (SigV4-verifying API Gateway + moto Step Functions) and a real Airflow
(api-server, scheduler, dag-processor, triggerer; SQLite; loopback only), runs the DAG through the
scheduler, prints a summary, and stops everything it started.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

DEFAULT_DAG = "rental_car_reservation"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("demo", help="run the example DAG end to end against the embedded sandbox")
    parser.add_argument("--dags-folder", default="dags", help="DAG folder (default: ./dags)")
    parser.add_argument("--dag-id", default=DEFAULT_DAG, help=f"DAG to run (default: {DEFAULT_DAG})")
    parser.add_argument("--home", default=".airflow-home-demo", help="AIRFLOW_HOME, re-used between runs")
    parser.add_argument(
        "--keep-running", action="store_true", help="keep Airflow and the sandbox up for the UI"
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the DAG run")
    return parser


def _say(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def _duration(ti: dict[str, Any]) -> str:
    if ti.get("duration") is not None:
        return f"{ti['duration']:.1f}s"
    return "-"


def run(args: argparse.Namespace) -> int:
    from airflow_restjob.sandbox import Sandbox
    from tests.harness.local_airflow import LocalAirflow

    dags_folder = Path(args.dags_folder).absolute()
    if not (dags_folder / f"{args.dag_id}.py").exists() and not any(dags_folder.glob("*.py")):
        print(
            f"airflow-restjob demo: no DAG files in {dags_folder}; run it from the repository root.",
            file=sys.stderr,
        )
        return 1
    started = time.monotonic()
    _say("starting the sandbox (API Gateway with SigV4 in front of moto's Step Functions)")
    with Sandbox(state_machine_wait_seconds=3) as sandbox:
        _say(f"sandbox API: {sandbox.base_url}")
        env = {"AIRFLOW_CONN_RESTJOB_DEFAULT": sandbox.connection_json()}
        _say("starting Airflow: api-server, scheduler, dag-processor, triggerer (SQLite, 127.0.0.1)")
        with LocalAirflow(
            home=Path(args.home).absolute(), dags_folder=dags_folder, env=env, progress=_say
        ) as af:
            healthy = time.monotonic()
            _say(
                f"all components healthy after {healthy - started:.0f}s; UI at {af.ui_url} (login admin / admin)"
            )
            api = af.client
            api.wait_for_dag(args.dag_id, timeout=180)
            api.unpause(args.dag_id)
            run_id = api.trigger(args.dag_id)
            _say(f"triggered {args.dag_id} run {run_id}; waiting for it")
            last = ""
            deadline = time.monotonic() + args.timeout
            while True:
                run_info = api.dag_run(args.dag_id, run_id)
                states = api.task_states(args.dag_id, run_id)
                line = ", ".join(f"{k}={v}" for k, v in sorted(states.items()))
                if line != last:
                    _say(f"  {run_info['state']}: {line}")
                    last = line
                if run_info["state"] in ("success", "failed") or time.monotonic() > deadline:
                    break
                time.sleep(1)
            finished = time.monotonic()
            _summary(api, sandbox, args.dag_id, run_id, run_info["state"])
            print(
                f"\nhealthy -> run {run_info['state']}: {finished - healthy:.1f}s; total {finished - started:.1f}s"
            )
            if args.keep_running:
                _say(f"kept running: UI {af.ui_url} (admin / admin); Ctrl-C stops everything")
                try:
                    while True:
                        time.sleep(3600)
                except KeyboardInterrupt:
                    pass
            _say("stopping Airflow and the sandbox")
    return 0 if run_info["state"] == "success" else 1


def _summary(api: Any, sandbox: Any, dag_id: str, run_id: str, state: str) -> None:
    print(f"\n=== {dag_id} / {run_id}: {state.upper()}")
    print(f"{'task':28} {'state':12} {'duration':>9}")
    for ti in sorted(api.task_instances(dag_id, run_id), key=lambda t: t.get("start_date") or ""):
        print(f"{ti['task_id']:28} {str(ti.get('state')):12} {_duration(ti):>9}")
        if ti.get("state") == "failed":
            try:
                log = api.task_log(dag_id, run_id, ti["task_id"], max(1, ti.get("try_number") or 1))
            except Exception:
                log = ""
            for line in [x for x in log.splitlines() if "error" in x.lower()][-5:]:
                print(f"    {line[:300]}")
        try:
            arn = api.xcom(dag_id, run_id, ti["task_id"], "execution_arn")
        except Exception:
            continue
        status = sandbox.describe_execution(arn)["status"]
        print(f"    execution {arn}\n    Step Functions status: {status}")
        try:
            print(f"    output: {api.xcom(dag_id, run_id, ti['task_id'])}")
        except Exception:
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo.sh", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    return run(parser.parse_args(["demo", *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    sys.exit(main())
