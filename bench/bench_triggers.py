"""Deferred-job scale benchmark: N triggers in one event loop, ours vs. the Amazon provider vs. a floor.

    .venvs/af-3.3.2/bin/python bench/bench_triggers.py                 # N = 100, 1000, 5000, 10000
    .venvs/af-3.3.2/bin/python bench/bench_triggers.py --n 1000 --interval 2 --amazon-max 3000

A stub DescribeExecution server (``bench/stub_server.py``) runs in its own process and is not
measured; it speaks the API Gateway paths (ours, signed with SigV4) and the AWS JSON 1.0 protocol
(``X-Amz-Target: AWSStepFunctions.DescribeExecution``, the Amazon provider's trigger through
aiobotocore, pointed at the stub by an ``aws`` connection with ``extra.endpoint_url``).  Each
execution is RUNNING until a known end time (random in ``[--min-run, --max-run]`` seconds after the
start) and SUCCEEDED from then on.

For every N and poller, a fresh child process (so RSS and CPU are its own):

1. warms up (imports, one complete trigger run: connection lookup, HTTP session, botocore models);
2. builds N triggers the way Airflow does: ``trigger.serialize()`` -> ``Trigger.encrypt_kwargs``
   (scheduler side, not measured) -> ``_decrypt_kwargs`` + ``smart_decode_trigger_kwargs`` ->
   ``cls(**kwargs)`` -> one asyncio task per trigger iterating ``run()`` until its first event,
   then ``cleanup()`` (the triggerer's ``create_triggers`` / ``run_trigger``), all in ONE loop;
3. reports process CPU time / polls (polls counted by the stub), RSS growth per deferred job
   (RSS once all jobs are deferred, before the first one ends, minus the warmed-up baseline),
   errors (events other than success, exceptions, jobs unfinished at the bound) and detection
   latency (event time - execution end time) p50 / p99.

Pollers:
- ``ours``: ``airflow_restjob.triggers.rest_job.RestJobTrigger`` (Step Functions spec, first poll after
  ``--first-delay``, then every ``--interval`` +-10 % jitter), quota bucket set out of the way
  (``AIRFLOW__RESTJOB__POLL_BUDGET_*``);
- ``direct``: ours over the direct Step Functions API (a ``restjob`` connection with service
  ``states``: ``POST /`` with ``X-Amz-Target``), reported beside ``ours`` (API Gateway) as
  ``direct/ours``;
- ``amazon``: ``StepFunctionsExecutionCompleteTrigger`` (``waiter_delay=--interval``; it polls
  once immediately, then every ``waiter_delay`` without jitter); only up to ``--amazon-max``
  (default 3000: beyond that it saturates one core and latency becomes meaningless);
- ``floor``: a hand loop, one shared aiohttp session, unsigned POST + ``json.loads`` + status
  check on ours' schedule - what polling costs with no signing, no Airflow and no judging.

Logging is at WARNING in the children (``--log-level`` to change): the comparison is of the
polling machinery, not of log handlers.  Needs ``aiobotocore`` for the Amazon trigger (the
``bench`` extra); without it that column is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from stub_server import execution_arn  # noqa: E402

POLLERS = ("ours", "direct", "amazon", "floor")
ACCESS_KEY = "AKIABENCHBENCHBENCH1"
SECRET_KEY = "benchSecretKey0000000000000000000000000000"


# ------------------------------------------------------------------------------------------- child


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def stub_counts(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats", timeout=10) as r:
        return json.loads(r.read())


def build_kwargs(poller: str, arn: str, args: argparse.Namespace, port: int) -> tuple[str, dict[str, Any]]:
    """(classpath, kwargs) as the scheduler stores them for one deferred task."""
    if poller in ("ours", "direct"):
        from airflow_restjob.rest_job import step_functions as stepfunctions
        from airflow_restjob.rest_job.spec import PollSpec
        from airflow_restjob.triggers.rest_job import RestJobTrigger

        poll = PollSpec(
            first_delay=args.first_delay,
            interval=args.interval,
            max_interval=args.interval,
            max_wait=args.max_run + 3600,
        )
        direct = poller == "direct"  # the Step Functions API itself (X-Amz-Target, service "states")
        trigger: Any = RestJobTrigger(
            conn_id="restjob_states" if direct else "restjob_default",
            job_id=arn,
            spec=stepfunctions.job_spec(arn, poll, direct).to_dict(),
            deadline=time.time() + args.max_run + 3600,
            task_identity=None,
        )
        return trigger.serialize()
    if poller == "amazon":
        from airflow.providers.amazon.aws.triggers.step_function import StepFunctionsExecutionCompleteTrigger

        trigger = StepFunctionsExecutionCompleteTrigger(
            execution_arn=arn,
            waiter_delay=int(args.interval),
            waiter_max_attempts=10_000,
            aws_conn_id="aws_default",
            region_name="us-east-1",
        )
        return trigger.serialize()
    return "floor", {
        "url": f"http://127.0.0.1:{port}/floor/describe-execution",
        "arn": arn,
        "interval": args.interval,
        "first_delay": args.first_delay,
    }


_floor_session: Any = None


async def floor_run(url: str, arn: str, interval: float, first_delay: float) -> dict[str, Any]:
    """The floor: unsigned aiohttp POST + json.loads + status check, on ours' schedule.

    Same schedule as ``RestJobTrigger`` (first delay +-10 %, 2nd poll at a random point of the
    interval, then interval +-10 % from the previous due time, wake-ups on a 0.1 s tick), so the
    difference is signing, Airflow and judging - not how often the loop wakes up.
    """
    import math

    import aiohttp

    global _floor_session
    if _floor_session is None:
        _floor_session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
    body = json.dumps({"executionArn": arn}).encode()
    headers = {"content-type": "application/json"}
    due = time.time()
    for polls in range(100_000):
        if polls == 0:
            due += first_delay * random.uniform(0.9, 1.1)
        elif polls == 1:
            due += interval * random.uniform(0.1, 1.0)
        else:
            due += interval * random.uniform(0.9, 1.1)
        wake = math.ceil(due / 0.1) * 0.1
        now = time.time()
        await asyncio.sleep(wake - now if wake > now else 0.0)
        async with _floor_session.post(url, data=body, headers=headers) as response:
            data = json.loads(await response.read())
        if data["status"] != "RUNNING":
            return {"status": "success" if data["status"] == "SUCCEEDED" else "failed"}
    return {"status": "error"}


class Runner:
    """The triggerer's part: inflate triggers from stored kwargs and run each to its first event."""

    def __init__(self, poller: str) -> None:
        self.poller = poller
        self.classes: dict[str, Any] = {}
        self.events: dict[int, tuple[float, dict[str, Any]]] = {}
        self.failures: dict[int, str] = {}

    def inflate(self, classpath: str, encrypted: Any) -> Any:
        if self.poller == "floor":
            return encrypted
        from airflow.models.trigger import Trigger

        try:
            from airflow.serialization.decoders import smart_decode_trigger_kwargs
        except ImportError:  # Airflow 3.1
            smart_decode_trigger_kwargs = None  # noqa: N806
        cls = self.classes.get(classpath)
        if cls is None:
            import importlib

            module, _, name = classpath.rpartition(".")
            cls = self.classes[classpath] = getattr(importlib.import_module(module), name)
        kwargs = Trigger._decrypt_kwargs(encrypted)
        if smart_decode_trigger_kwargs is not None:
            kwargs = {k: smart_decode_trigger_kwargs(v) for k, v in kwargs.items()}
        return cls(**kwargs)

    async def run_one(self, index: int, classpath: str, stored: Any) -> None:
        try:
            if self.poller == "floor":
                event = await floor_run(**stored)
            else:
                trigger = self.inflate(classpath, stored)
                event = None
                try:
                    async for ev in trigger.run():
                        event = ev.payload
                        break
                finally:
                    await trigger.cleanup()
            self.events[index] = (time.time(), dict(event or {"status": "no event"}))
        except Exception as exc:  # noqa: BLE001 - every failure is an error in the table
            self.failures[index] = f"{type(exc).__name__}: {exc}"


def encrypt(poller: str, kwargs: dict[str, Any]) -> Any:
    if poller == "floor":
        return kwargs
    from airflow.models.trigger import Trigger

    return Trigger.encrypt_kwargs(kwargs)


async def child_main(args: argparse.Namespace) -> dict[str, Any]:
    port, poller, n = args.port, args.worker, args.n
    # warm-up: one complete trigger run on an execution that has already ended
    warm = Runner(poller)
    saved_first, args.first_delay = args.first_delay, 0.0
    classpath, kwargs = build_kwargs(poller, execution_arn(999_999_999, time.time() - 1), args, port)
    await warm.run_one(0, classpath, encrypt(poller, kwargs))
    if warm.failures or warm.events[0][1].get("status") != "success":
        raise SystemExit(f"warm-up of {poller} failed: {warm.failures or warm.events}")
    args.first_delay = saved_first

    rng = random.Random(args.seed)
    start = time.time() + 1.0
    ends = [start + rng.uniform(args.min_run, args.max_run) for _ in range(n)]
    stored = []
    for i, end in enumerate(ends):
        classpath, kwargs = build_kwargs(poller, execution_arn(i, end), args, port)
        stored.append((classpath, encrypt(poller, kwargs)))
    import gc

    gc.collect()
    await asyncio.sleep(max(0.0, start - time.time()))
    counts0 = stub_counts(port)
    rss0 = rss_bytes()
    profiler = None
    if os.environ.get("BENCH_PROFILE"):  # cProfile of the measured window, e.g. to find hot spots
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu0 = cpu_seconds()
    runner = Runner(poller)
    tasks = []
    for i, (classpath, blob) in enumerate(stored):
        tasks.append(asyncio.ensure_future(runner.run_one(i, classpath, blob)))
        if i % 100 == 99:
            await asyncio.sleep(0)  # the triggerer yields between trigger creations too
    del stored
    # RSS once every job is deferred and polling, before the first one ends
    steady_at = min(ends) - 0.5
    rss_steady = rss_peak = rss_bytes()
    bound = max(ends) + 5 * args.interval + 60
    # steady state: every job deferred and past its first poll, none ended yet (no set-up cost)
    window = (start + args.first_delay + 2.0, min(ends) - 0.5)
    marks: list[tuple[float, int]] = []  # (cpu, polls) at the window's edges
    while not all(t.done() for t in tasks) and time.time() < bound:
        await asyncio.sleep(0.25)
        rss = rss_bytes()
        rss_peak = max(rss_peak, rss)
        if time.time() <= steady_at:
            rss_steady = rss
        if len(marks) < 2 and time.time() >= window[len(marks)] and window[1] - window[0] >= 5:
            cpu_mark = cpu_seconds()
            marks.append((cpu_mark, (await asyncio.to_thread(stub_counts, port))[poller]))
    cpu = cpu_seconds() - cpu0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(os.environ["BENCH_PROFILE"])
    unfinished = sum(not t.done() for t in tasks)
    for t in tasks:
        t.cancel()
    counts1 = stub_counts(port)
    await asyncio.sleep(0.1)  # let cancelled tasks unwind before closing the sessions
    if poller in ("ours", "direct"):
        from airflow_restjob.transport.aio import close_shared_sessions

        await close_shared_sessions()
    if _floor_session is not None:
        await _floor_session.close()
    polls = counts1[poller] - counts0[poller]
    latencies = sorted(at - ends[i] for i, (at, ev) in runner.events.items() if ev.get("status") == "success")
    bad = {i: ev for i, (at, ev) in runner.events.items() if ev.get("status") != "success"}
    sample = next(iter(runner.failures.values()), None) or (
        json.dumps(next(iter(bad.values())), default=str)[:300] if bad else None
    )

    def pct(p: float) -> float | None:
        if not latencies:
            return None
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

    return {
        "poller": poller,
        "n": n,
        "polls": polls,
        "cpu_s": cpu,
        "cpu_ms_per_poll": 1000 * cpu / polls if polls else None,
        "steady_cpu_ms_per_poll": (
            1000 * (marks[1][0] - marks[0][0]) / (marks[1][1] - marks[0][1])
            if len(marks) == 2 and marks[1][1] > marks[0][1]
            else None
        ),
        "steady_polls": marks[1][1] - marks[0][1] if len(marks) == 2 else None,
        "rss_kb_per_job": (rss_steady - rss0) / 1024 / n,
        "rss_peak_kb_per_job": (rss_peak - rss0) / 1024 / n,
        "errors": len(runner.failures) + len(bad) + unfinished,
        "unfinished": unfinished,
        "latency_p50": pct(0.50),
        "latency_p99": pct(0.99),
        "latency_max": latencies[-1] if latencies else None,
        "bad_requests": counts1["bad"] - counts0["bad"],
        "error_sample": sample,
    }


def child(args: argparse.Namespace) -> None:
    import logging

    logging.basicConfig(level=getattr(logging, args.log_level), stream=sys.stderr)
    logging.getLogger().setLevel(getattr(logging, args.log_level))
    for name in ("airflow", "airflow_restjob", "botocore", "aiobotocore", "airflow.task"):
        logging.getLogger(name).setLevel(getattr(logging, args.log_level))
    result = asyncio.run(child_main(args))
    print("RESULT " + json.dumps(result), flush=True)


# ------------------------------------------------------------------------------------------ parent


def child_env(port: int, tmp: str, log_level: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {
        **os.environ,
        "AIRFLOW_HOME": tmp,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": log_level,
        "AIRFLOW__RESTJOB__POLL_BUDGET_BURST": "1000000000",
        "AIRFLOW__RESTJOB__POLL_BUDGET_PER_SECOND": "1000000000",
        "AIRFLOW_CONN_RESTJOB_DEFAULT": json.dumps(
            {
                "conn_type": "restjob",
                "host": f"http://127.0.0.1:{port}/stage",
                "login": ACCESS_KEY,
                "password": SECRET_KEY,
                "extra": {"region": "us-east-1"},
            }
        ),
        "AIRFLOW_CONN_RESTJOB_STATES": json.dumps(
            {
                "conn_type": "restjob",
                "host": f"http://127.0.0.1:{port}",
                "login": ACCESS_KEY,
                "password": SECRET_KEY,
                "extra": {"region": "us-east-1", "service": "states"},
            }
        ),
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
            {
                "conn_type": "aws",
                "login": ACCESS_KEY,
                "password": SECRET_KEY,
                "extra": {"endpoint_url": f"http://127.0.0.1:{port}", "region_name": "us-east-1"},
            }
        ),
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONUNBUFFERED": "1",
    }


def start_stub() -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "stub_server.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit("the stub server did not start")
    return proc, int(line.split()[1])


def run_child(
    poller: str, n: int, port: int, args: argparse.Namespace, env: dict[str, str]
) -> dict[str, Any]:
    script, cwd = os.path.abspath(__file__), None
    if poller == "baseline":  # ours, as another checkout (e.g. the previous release) polls
        script, cwd = os.path.join(args.baseline, "bench", "bench_triggers.py"), args.baseline
        env = {**env, "PYTHONPATH": args.baseline}
    cmd = [
        sys.executable,
        script,
        "--worker",
        "ours" if poller == "baseline" else poller,
        "--n",
        str(n),
        "--port",
        str(port),
        "--interval",
        str(args.interval),
        "--first-delay",
        str(args.first_delay),
        "--min-run",
        str(args.min_run),
        "--max-run",
        str(args.max_run),
        "--seed",
        str(args.seed),
        "--log-level",
        args.log_level,
    ]
    bound = args.max_run + 5 * args.interval + 300
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=bound)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return {**json.loads(line[len("RESULT ") :]), "poller": poller}
    tail = (proc.stderr or "").strip().splitlines()[-5:]
    return {"poller": poller, "n": n, "failed": True, "error_sample": " | ".join(tail)}


def fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def ratio(ours: dict[str, Any], other: dict[str, Any]) -> str:
    text = "-"
    if ours.get("cpu_ms_per_poll") and other.get("cpu_ms_per_poll"):
        text = f"{ours['cpu_ms_per_poll'] / other['cpu_ms_per_poll']:.2f}"
        if ours.get("steady_cpu_ms_per_poll") and other.get("steady_cpu_ms_per_poll"):
            text += f" ({ours['steady_cpu_ms_per_poll'] / other['steady_cpu_ms_per_poll']:.2f})"
    return text


def print_table(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\ninterval {args.interval:g} s, first poll after {args.first_delay:g} s (amazon: immediately), "
        f"executions end {args.min_run:g}-{args.max_run:g} s after the start; {os.cpu_count()} CPUs\n"
    )
    header = (
        "| N | poller | CPU/poll (ms) | steady CPU/poll (ms) | RSS/job (KB) | polls | errors | "
        "latency p50 (s) | latency p99 (s) | ours/amazon | ours/floor | direct/ours |"
        + (" ours/baseline (CPU, RSS) |" if args.baseline else "")
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    by = {(r["poller"], r["n"]): r for r in results}
    for r in results:
        if r.get("failed"):
            print(f"| {r['n']} | {r['poller']} | failed: {r.get('error_sample')} |")
            continue
        ratio_a = ratio_f = ratio_b = ratio_d = "-"
        if r["poller"] == "direct":  # the direct API beside API Gateway polling, same run
            ratio_d = ratio(r, by.get(("ours", r["n"]), {}))
        if r["poller"] == "ours":  # of total CPU/poll (steady state in parentheses)
            ratio_a = ratio(r, by.get(("amazon", r["n"]), {}))
            ratio_f = ratio(r, by.get(("floor", r["n"]), {}))
            base = by.get(("baseline", r["n"]), {})
            if base.get("rss_kb_per_job") and r.get("rss_kb_per_job"):
                ratio_b = f"{ratio(r, base)}, {r['rss_kb_per_job'] / base['rss_kb_per_job']:.2f}"
        print(
            f"| {r['n']:,} | {r['poller']} | {fmt(r['cpu_ms_per_poll'], '.3f')} | "
            f"{fmt(r.get('steady_cpu_ms_per_poll'), '.3f')} | "
            f"{fmt(r['rss_kb_per_job'], '.1f')} | {r['polls']:,} | {r['errors']} | "
            f"{fmt(r['latency_p50'], '.2f')} | {fmt(r['latency_p99'], '.2f')} | {ratio_a} | {ratio_f} | {ratio_d} |"
            + (f" {ratio_b} |" if args.baseline else "")
        )
    for r in results:
        if r.get("error_sample") and not r.get("failed"):
            print(f"\n{r['poller']} N={r['n']}: first error: {r['error_sample']}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, nargs="+", default=[100, 1000, 5000, 10000])
    parser.add_argument("--pollers", nargs="+", choices=POLLERS, default=list(POLLERS))
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval (s)")
    parser.add_argument("--first-delay", type=float, default=2.0, help="first poll delay of ours/floor (s)")
    parser.add_argument("--min-run", type=float, default=30.0, help="shortest execution (s)")
    parser.add_argument("--max-run", type=float, default=60.0, help="longest execution (s)")
    parser.add_argument("--amazon-max", type=int, default=3000, help="largest N for the Amazon trigger")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--log-level", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help="also run 'ours' from another checkout (e.g. `git worktree add /tmp/old <commit>`), same run",
    )
    parser.add_argument("--worker", choices=POLLERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.n = args.n[0]
        child(args)
        return 0
    if args.interval < 1 or args.min_run < args.first_delay + args.interval:
        parser.error("need --interval >= 1 and --min-run >= --first-delay + --interval")
    if "amazon" in args.pollers and importlib.util.find_spec("aiobotocore") is None:
        print("aiobotocore is not installed: skipping the Amazon provider's trigger", file=sys.stderr)
        args.pollers = [p for p in args.pollers if p != "amazon"]
    if args.baseline:
        args.baseline = os.path.abspath(args.baseline)
        args.pollers = [*args.pollers, "baseline"]
    stub, port = start_stub()
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-triggers-") as tmp:
            env = child_env(port, tmp, args.log_level)
            for n in args.n:
                for poller in args.pollers:
                    if poller == "amazon" and n > args.amazon_max:
                        continue
                    print(f"running {poller} N={n} ...", file=sys.stderr, flush=True)
                    results.append(run_child(poller, n, port, args, env))
                    r = results[-1]
                    print(f"  {json.dumps(r)}", file=sys.stderr, flush=True)
    finally:
        stub.terminate()
        stub.wait(10)
    print_table(results, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
