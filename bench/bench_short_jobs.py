"""Short and long Step Functions jobs through a REAL Airflow: execution end -> task success.

    .venvs/af-3.3.2/bin/python bench/bench_short_jobs.py [--runs 10]

Starts the embedded sandbox and a real Airflow (api-server, scheduler, dag-processor, triggerer;
SQLite; LocalExecutor; the default ``[restjob] worker_wait_window`` of 5 s) and measures, per run,
the Step Functions ``stopDate`` of the execution -> the task instance's ``end_date``:

- a job that ends 2 s after it starts, with the worker window (median of ``--runs``; target
  <= 3 s after the job ends) and deferred at once (``worker_wait=0``: each short job waited for
  the ~8 s event guard of a deferral before the window existed);
- a 60 s job (window, then the triggerer, 10 s polls; target: poll interval + 1 s = 11 s); its
  runs go at the same time (one triggerer holds them all).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from airflow_restjob.sandbox import Sandbox

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test harness lives in tests/harness
from tests.harness.local_airflow import LocalAirflow  # noqa: E402

DAGS = Path(__file__).parent / "dags"
TARGETS = {
    "bench_short_2s": "<= 3 s",
    "bench_short_2s_deferred": "(before the window: ~8 s or more)",
    "bench_long_60s": "<= poll interval + 1 s = 11 s",
}


def _ts(value) -> float:
    if hasattr(value, "timestamp"):
        return value.timestamp()
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return float(value)


def latency(api, sb, dag_id: str, run_id: str) -> float:
    run = api.wait_run(dag_id, run_id, timeout=300)
    if run["state"] != "success":
        raise SystemExit(f"{dag_id} {run_id} ended {run['state']}")
    arn = api.xcom(dag_id, run_id, "run", "execution_arn")
    stopped = _ts(sb.describe_execution(arn)["stopDate"])
    return _ts(api.task_instance(dag_id, run_id, "run")["end_date"]) - stopped


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    results: dict[str, list[float]] = {}
    with Sandbox(state_machine_wait_seconds=3) as sb, tempfile.TemporaryDirectory() as home:
        env = {"AIRFLOW_CONN_RESTJOB_DEFAULT": sb.connection_json()}
        with LocalAirflow(home=home, dags_folder=DAGS, env=env, progress=lambda m: None) as af:
            api = af.client
            for dag_id in TARGETS:
                api.wait_for_dag(dag_id, timeout=180)
                api.unpause(dag_id)
            long_runs = [api.trigger("bench_long_60s") for _ in range(args.runs)]  # concurrently
            for dag_id in ("bench_short_2s", "bench_short_2s_deferred"):  # one after the other
                for i in range(args.runs):
                    results.setdefault(dag_id, []).append(latency(api, sb, dag_id, api.trigger(dag_id)))
                    print(f"  {dag_id} {i + 1}/{args.runs}: {results[dag_id][-1]:.2f}s", flush=True)
            results["bench_long_60s"] = [latency(api, sb, "bench_long_60s", r) for r in long_runs]
    print("\n| job | runs | median (s) | max (s) | target |")
    print("|---|---|---|---|---|")
    for dag_id, values in results.items():
        print(
            f"| {dag_id} | {len(values)} | {statistics.median(values):.2f} | {max(values):.2f} | {TARGETS[dag_id]} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
