"""Stop and completion latency through a REAL Airflow (issue 4's speed targets).

    .venvs/af-3.3.2/bin/python bench/bench_stop_latency.py [--runs 10]

Starts the embedded sandbox and a real Airflow (api-server, scheduler, dag-processor, triggerer;
SQLite), then measures:
- mark failed on a deferred task (REST PATCH) -> StopExecution received by the gateway, median of
  N runs on a warm triggerer (target < 2 s). The Amazon provider's operator never sends it.
- execution end (Step Functions stopDate) -> task success (task end_date), with a 5 s poll
  interval (target: poll interval + 1 s).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from airflow_restjob.sandbox import Sandbox

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test harness lives in tests/harness
from tests.harness.local_airflow import LocalAirflow  # noqa: E402

DAGS = Path(__file__).parent / "dags"
POLL_INTERVAL = 5.0


def wait_until(probe, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(what)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    stop_latencies: list[float] = []
    completion_latencies: list[float] = []
    with Sandbox(state_machine_wait_seconds=3) as sb, tempfile.TemporaryDirectory() as home:
        env = {"AIRFLOW_CONN_RESTJOB_DEFAULT": sb.connection_json()}
        with LocalAirflow(home=home, dags_folder=DAGS, env=env, progress=lambda m: None) as af:
            api = af.client
            for dag_id in ("bench_long", "bench_succeed"):
                api.wait_for_dag(dag_id, timeout=180)
                api.unpause(dag_id)
            for i in range(args.runs):
                run_id = api.trigger("bench_long")
                api.wait_task_state("bench_long", run_id, "run", "deferred", timeout=120)
                arn = wait_until(lambda r=run_id: _xcom(api, "bench_long", r), 60, "ARN")
                wait_until(lambda a=arn: _polled(sb, a), 60, "first poll")
                t0 = time.time()
                api.set_task_state("bench_long", run_id, "run", "failed")
                stop = wait_until(lambda a=arn: sb.stops_for(a), 60, "stop")
                stop_latencies.append(stop[0]["time"] - t0)
                print(f"  stop {i + 1}/{args.runs}: {stop_latencies[-1]:.2f}s", flush=True)
            for i in range(args.runs):
                run_id = api.trigger("bench_succeed")
                api.wait_run("bench_succeed", run_id, timeout=180)
                arn = _xcom(api, "bench_succeed", run_id)
                stopped = sb.describe_execution(arn)["stopDate"]
                ti = api.task_instance("bench_succeed", run_id, "run")
                end = datetime.fromisoformat(ti["end_date"].replace("Z", "+00:00")).timestamp()
                stopped_ts = stopped.timestamp() if hasattr(stopped, "timestamp") else float(stopped)
                completion_latencies.append(end - stopped_ts)
                print(f"  completion {i + 1}/{args.runs}: {completion_latencies[-1]:.2f}s", flush=True)
    print("\n| measure | median | max | target |")
    print("|---|---|---|---|")
    print(
        f"| mark failed -> StopExecution (n={len(stop_latencies)}) | {statistics.median(stop_latencies):.2f} s |"
        f" {max(stop_latencies):.2f} s | < 2 s (Amazon provider: never) |"
    )
    print(
        f"| execution end -> task success (n={len(completion_latencies)}) |"
        f" {statistics.median(completion_latencies):.2f} s | {max(completion_latencies):.2f} s |"
        f" <= poll interval + 1 s = {POLL_INTERVAL + 1:.0f} s |"
    )
    return 0


def _xcom(api, dag_id, run_id):
    try:
        return api.xcom(dag_id, run_id, "run", "execution_arn")
    except Exception:
        return None


def _polled(sb, arn):
    return any(r["resource"] == "describe-execution" and r["execution_arn"] == arn for r in sb.request_log())


if __name__ == "__main__":
    sys.exit(main())
