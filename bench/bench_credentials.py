"""Credential cost at scale: N deferred jobs on one OAuth2 / one assume-role credential vs. a static key.

    .venvs/af-3.3.2/bin/python bench/bench_credentials.py                  # N = 1000, 3 rounds, ~5-7 min
    .venvs/af-3.3.2/bin/python bench/bench_credentials.py --rounds 1 --json /tmp/creds.json
    .venvs/af-3.3.2/bin/python bench/bench_credentials.py --rounds 1 --profile /tmp/prof  # cProfile

Three pollers, each in a fresh child process (so CPU and RSS are its own), each running N
``RestJobTrigger``\\ s built the way Airflow builds them (``serialize()`` -> ``Trigger.encrypt_kwargs``
-> ``_decrypt_kwargs`` + ``smart_decode_trigger_kwargs`` -> ``cls(**kwargs)`` -> ``run()`` until
the first event, then ``cleanup()``; ``bench_triggers.Runner``) in ONE event loop, all polling
the same request (the Step Functions ``describe-execution`` spec: ``POST /stage/describe-execution``
with the execution ARN, same body and answer) and differing only in the credential of their
connection:

* ``static``: ``aws_sigv4`` with a static access key (the first release's path, the reference);
* ``oauth2``: ``oauth2_client_credentials`` (form client auth) against the stub's token endpoint,
  tokens living ``--token-lifetime`` seconds (default 20, so several lifetimes pass in a run);
* ``role``: ``aws_sigv4`` assuming a role (``roleArn`` + ``stsEndpoint``, source: the static key)
  through botocore's STS client, sessions living ``--sts-seconds`` (default: the token lifetime;
  the stub shortens the session whatever ``DurationSeconds`` says, as the sandbox's STS does).

The connections are built from credential statements as ``airflow-restjob credentials add`` would
store them (``to_connection_fields(validate(statement, "$"))``) and reach the children as
``AIRFLOW_CONN_BENCH_{STATIC,OAUTH2,ROLE}``.  The server (``bench/stub_credentials.py``, own
process, not measured) verifies every SigV4 signature (the static key, or temporary keys + session
token it issued and that have not expired) and every bearer token (issued, unexpired); an expired
credential is answered 403 / 401 as API Gateway / an OAuth2 resource server would, which the
provider retries once with a new credential (the ``401/403`` column counts those).

The three children of a round run AT ONCE (``--sequential``: one after another), so load from
outside (other processes on a shared machine) hits every poller alike; the per-round ratios are
then medianed over ``--rounds`` (default 3; the order alternates).  Per child: warm-up (one
complete trigger run on an ended execution: imports, connection lookup, the first token / the STS
client and first session), then every job deferred at once; each execution ends at a random point
of ``[--min-run, --max-run]`` s.  Measured from the moment the jobs are created until the last
one has ended:

* ``CPU/poll``: process CPU (``os.times``, all threads: botocore's AssumeRole runs in one) / polls
  the stub received from that poller; in parentheses the steady state only (every job past its
  first poll, none ended: no set-up cost, token / session refreshes included - the window spans
  ``(--min-run - --first-delay - 2.5) / lifetime`` lifetimes).  ``x static``: the ratio to the
  static-key poller of the same round (target: <= 1.10).  Per-job set-up (trigger inflation,
  first poll) is the same for every poller, so the steady ratio is the sharper of the two;
* ``RSS/job``: RSS once every job is deferred (before the first ends) minus the warmed-up
  baseline, per job; ``base MB``: the warmed-up process (botocore and its STS client are in it);
* ``GC ms/poll``: CPU spent in the cyclic garbage collector (``gc.callbacks``), per poll; a full
  collection walks the whole heap (the role child's holds botocore) and one more or fewer of them
  in a run moves CPU/poll by several percent - look here before reading a small difference;
* ``cred req``: token (oauth2) or AssumeRole (role) requests the stub received in the measured run;
  ``mask / STS CPU ms``: CPU of registering each new lease's secrets with Airflow's log masker
  (``credentials.cache.mask``, on the event loop) and of the AssumeRole calls (``aws.fetch``, in
  their thread) in the run - the child wraps those two functions to time them, nothing else;
* ``per lifetime`` = requests / (run seconds / lifetime), beside the most requests in any
  one-lifetime span (``max``).  The provider renews a lease a fifth of its lifetime before it
  expires, so the jobs of a process need lifetime / (0.8 * lifetime) = 1.25 requests per lifetime
  (give or take one request over a run of a few lifetimes); ``max`` > 2, or requests growing
  with N, would mean refreshes are not shared by the jobs of the process;
* ``errors``: events other than success, exceptions, jobs unfinished at the bound; ``401/403``:
  polls the stub rejected (a credential used after it expired - with 20 s lifetimes the provider's
  margin is 4 s, so an event loop or stub that lags that long on an overloaded machine shows
  some; retried by the provider, not errors).

Reading it: ``x static`` is what the credential costs per poll beside signing with a fixed key.
OAuth2 skips SigV4 (one ``Authorization`` header instead of a signature) and comes out cheaper;
assume-role signs like the static key plus a session-token header, a lease check per poll, one
re-templated signature per job per session, an AssumeRole call and a masker registration per
session, and a larger heap for the collector to walk.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from bench_triggers import Runner, cpu_seconds, encrypt, rss_bytes  # noqa: E402
from stub_credentials import (  # noqa: E402
    ACCESS_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    JOB_PATH,
    REGION,
    ROLE_ARN,
    SECRET_KEY,
)
from stub_server import execution_arn  # noqa: E402

POLLERS = ("static", "oauth2", "role")
CONN_IDS = {p: f"bench_{p}" for p in POLLERS}
CRED_KIND = {"oauth2": "token", "role": "sts"}


def statements(port: int) -> dict[str, dict[str, Any]]:
    """The credential statement of each poller (as ``airflow-restjob credentials add`` reads them)."""
    base = f"http://127.0.0.1:{port}{JOB_PATH.rsplit('/', 1)[0]}"
    return {
        "static": {
            "name": CONN_IDS["static"],
            "authType": "aws_sigv4",
            "accessKeyId": ACCESS_KEY,
            "secretAccessKey": SECRET_KEY,
            "region": REGION,
            "baseUrl": base,
        },
        "oauth2": {
            "name": CONN_IDS["oauth2"],
            "authType": "oauth2_client_credentials",
            "tokenUrl": f"http://127.0.0.1:{port}/oauth2/token",
            "clientId": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "scope": "jobs/.default",
            "clientAuth": "form",
            "baseUrl": base,
        },
        "role": {
            "name": CONN_IDS["role"],
            "authType": "aws_sigv4",
            "accessKeyId": ACCESS_KEY,
            "secretAccessKey": SECRET_KEY,
            "roleArn": ROLE_ARN,
            "roleSessionName": "bench",
            "stsEndpoint": f"http://127.0.0.1:{port}/sts",
            "region": REGION,
            "baseUrl": base,
        },
    }


def connection_env(port: int) -> dict[str, str]:
    """``AIRFLOW_CONN_<ID>`` of every poller, from its statement (the CLI's conversion)."""
    import logging

    from airflow_restjob.cli.credentials import to_connection_fields, validate

    logging.getLogger("airflow_restjob.connections.settings").setLevel(
        logging.ERROR
    )  # "plain http on loopback"
    env = {}
    for statement in statements(port).values():
        fields = to_connection_fields(validate(statement, "$"))
        env[f"AIRFLOW_CONN_{fields['conn_id'].upper()}"] = json.dumps(
            {
                "conn_type": fields["conn_type"],
                "host": fields["host"],
                "login": fields["login"],
                "password": fields["password"],
                "extra": json.loads(fields["extra"] or "{}"),
            }
        )
    return env


# ------------------------------------------------------------------------------------------- child


def get_json(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return json.loads(r.read())


def build_kwargs(poller: str, arn: str, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """(classpath, kwargs) as the scheduler stores them for one deferred job."""
    from airflow_restjob.rest_job import step_functions
    from airflow_restjob.rest_job.spec import PollSpec
    from airflow_restjob.triggers.rest_job import RestJobTrigger

    poll = PollSpec(
        first_delay=args.first_delay,
        interval=args.interval,
        max_interval=args.interval,
        max_wait=args.max_run + 3600,
    )
    conn_id = CONN_IDS[poller]
    return RestJobTrigger(
        conn_id=conn_id,
        auth_conn_id=conn_id,
        job_id=arn,
        spec=step_functions.job_spec(arn, poll).to_dict(),
        deadline=time.time() + args.max_run + 3600,
        task_identity=None,
    ).serialize()


def max_in_span(times: list[float], span: float) -> int:
    """The most events within any ``span`` seconds."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= span:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def time_refreshes() -> dict[str, list[float]]:
    """CPU ms of each lease registration with the log masker (``cache.mask``, on the event loop) and of
    each AssumeRole call (``aws.fetch``, in its thread): wrappers in the child, nothing else changes."""
    from airflow_restjob.credentials import aws, cache

    spent: dict[str, list[float]] = {"mask_ms": [], "assume_role_ms": []}
    mask, fetch = cache.mask, aws.fetch

    def timed_mask(*secrets: str) -> None:
        started = time.process_time()
        try:
            mask(*secrets)
        finally:
            spent["mask_ms"].append(1000 * (time.process_time() - started))

    def timed_fetch(*a: Any, **kw: Any) -> Any:
        started = time.thread_time()
        try:
            return fetch(*a, **kw)
        finally:
            spent["assume_role_ms"].append(1000 * (time.thread_time() - started))

    cache.mask, aws.fetch = timed_mask, timed_fetch
    return spent


async def child_main(args: argparse.Namespace) -> dict[str, Any]:
    import asyncio
    import gc

    port, poller, n = args.port, args.worker, args.n
    kind = CRED_KIND.get(poller)
    refresh = time_refreshes()
    # warm-up: one complete trigger run on an ended execution (connection, session, first credential)
    warm = Runner(poller)
    saved_first, args.first_delay = args.first_delay, 0.0
    classpath, kwargs = build_kwargs(poller, execution_arn(999_999_999, time.time() - 1), args)
    await warm.run_one(0, classpath, encrypt(poller, kwargs))
    if warm.failures or warm.events[0][1].get("status") != "success":
        raise SystemExit(f"warm-up of {poller} failed: {warm.failures or warm.events}")
    args.first_delay = saved_first

    # the executions' end times are in their ARNs, so the start is fixed before the N jobs are built:
    # far enough ahead that building them (slow on a loaded machine) does not eat into the run
    probe = time.time()
    for i in range(20):
        encrypt(poller, build_kwargs(poller, execution_arn(i, probe + 60), args)[1])
    build_estimate = (time.time() - probe) / 20 * n
    rng = random.Random(args.seed)
    start = time.time() + 1.0 + 1.5 * build_estimate
    ends = [start + rng.uniform(args.min_run, args.max_run) for _ in range(n)]
    stored = []
    for i, end in enumerate(ends):
        classpath, kwargs = build_kwargs(poller, execution_arn(i, end), args)
        stored.append((classpath, encrypt(poller, kwargs)))
    gc.collect()
    late = time.time() - start  # > 0: the run started late (the steady window is shorter)
    gc_stats = {"collections": [0, 0, 0], "cpu_s": [0.0, 0.0, 0.0]}
    gc_started = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:  # CPU spent collecting, per generation
        if phase == "start":
            gc_started[0] = time.process_time()
        else:
            gc_stats["collections"][info["generation"]] += 1
            gc_stats["cpu_s"][info["generation"]] += time.process_time() - gc_started[0]

    await asyncio.sleep(max(0.0, start - time.time()))
    counts0 = get_json(port, "/_stats")
    gc.callbacks.append(on_gc)
    rss0 = rss_bytes()
    profiler = None
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        profiler = cProfile.Profile(time.process_time)  # CPU time: other processes' load does not count
        profiler.enable()
    refresh.update(mask_ms=[], assume_role_ms=[])  # from here on: the measured run
    t0, cpu0 = time.time(), cpu_seconds()
    runner = Runner(poller)
    tasks = []
    for i, (classpath, blob) in enumerate(stored):
        tasks.append(asyncio.ensure_future(runner.run_one(i, classpath, blob)))
        if i % 100 == 99:
            await asyncio.sleep(0)  # the triggerer yields between trigger creations too
    del stored
    steady_at = min(ends) - 0.5
    rss_steady = rss_peak = rss_bytes()
    bound = max(ends) + 5 * args.interval + 60
    window = (start + args.first_delay + 2.0, min(ends) - 0.5)
    marks: list[tuple[float, float, int]] = []  # (time, cpu, polls) at the steady window's edges
    while not all(t.done() for t in tasks) and time.time() < bound:
        await asyncio.sleep(0.25)
        rss = rss_bytes()
        rss_peak = max(rss_peak, rss)
        if time.time() <= steady_at:
            rss_steady = rss
        if len(marks) < 2 and time.time() >= window[len(marks)] and window[1] - window[0] >= 5:
            at, cpu_mark = time.time(), cpu_seconds()
            stats = await asyncio.to_thread(get_json, port, "/_stats")
            marks.append((at, cpu_mark, stats[poller] + stats[f"rejected_{poller}"]))
    cpu, t1 = cpu_seconds() - cpu0, time.time()
    gc.callbacks.remove(on_gc)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(os.environ["BENCH_PROFILE"])
    unfinished = sum(not t.done() for t in tasks)
    for t in tasks:
        t.cancel()
    counts1 = get_json(port, "/_stats")
    events = get_json(port, "/_events")
    await asyncio.sleep(0.1)  # let cancelled tasks unwind before closing the session
    from airflow_restjob.transport.aio import close_shared_sessions

    await close_shared_sessions()

    def delta(key: str) -> int:
        return counts1[key] - counts0[key]

    polls = delta(poller) + delta(f"rejected_{poller}")
    latencies = sorted(at - ends[i] for i, (at, ev) in runner.events.items() if ev.get("status") == "success")
    bad = {i: ev for i, (at, ev) in runner.events.items() if ev.get("status") != "success"}
    sample = next(iter(runner.failures.values()), None) or (
        json.dumps(next(iter(bad.values())), default=str)[:300] if bad else None
    )
    duration = t1 - t0
    result: dict[str, Any] = {
        "poller": poller,
        "n": n,
        "polls": polls,
        "duration_s": duration,
        "cpu_s": cpu,
        "cpu_ms_per_poll": 1000 * cpu / polls if polls else None,
        "steady_cpu_ms_per_poll": (
            1000 * (marks[1][1] - marks[0][1]) / (marks[1][2] - marks[0][2])
            if len(marks) == 2 and marks[1][2] > marks[0][2]
            else None
        ),
        "steady_polls": marks[1][2] - marks[0][2] if len(marks) == 2 else None,
        "steady_s": marks[1][0] - marks[0][0] if len(marks) == 2 else None,
        "rss_base_mb": rss0 / 2**20,
        "rss_kb_per_job": (rss_steady - rss0) / 1024 / n,
        "rss_peak_kb_per_job": (rss_peak - rss0) / 1024 / n,
        "errors": len(runner.failures) + len(bad) + unfinished,
        "unfinished": unfinished,
        "rejected": delta(f"rejected_{poller}"),
        "bad_requests": delta("bad"),
        "latency_p50": latencies[len(latencies) // 2] if latencies else None,
        "latency_p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else None,
        "error_sample": sample,
        "late_start_s": max(0.0, late),
        "mask_ms": refresh["mask_ms"],
        "assume_role_ms": refresh["assume_role_ms"],
        "refresh_cpu_ms_per_poll": (sum(refresh["mask_ms"]) + sum(refresh["assume_role_ms"])) / polls
        if polls
        else None,
        "gc_collections": gc_stats["collections"],
        "gc_cpu_s": gc_stats["cpu_s"],
        "gc_cpu_ms_per_poll": 1000 * sum(gc_stats["cpu_s"]) / polls if polls else None,
        "objects": len(gc.get_objects()),
    }
    if kind is not None:
        lifetime = args.token_lifetime if kind == "token" else args.sts_seconds
        issued = sorted(t for t in events[kind] if t0 <= t <= t1)
        requests = delta(kind) + delta(f"{kind}_rejected")
        result.update(
            cred_kind=kind,
            cred_requests=requests,
            cred_rejected=delta(f"{kind}_rejected"),
            lifetime_s=lifetime,
            lifetimes=duration / lifetime,
            requests_per_lifetime=requests / (duration / lifetime),
            max_in_one_lifetime=max_in_span(issued, lifetime),
            issued_at=[round(t - t0, 2) for t in issued],
            rejected_at=[round(t - t0, 2) for t in events[f"rejected_{poller}"] if t0 <= t <= t1],
        )
    return result


def child(args: argparse.Namespace) -> None:
    import asyncio
    import logging

    level = getattr(logging, args.log_level)
    logging.basicConfig(level=level, stream=sys.stderr)
    for name in ("", "airflow", "airflow_restjob", "botocore", "airflow.task"):
        logging.getLogger(name).setLevel(level)
    result = asyncio.run(child_main(args))
    print("RESULT " + json.dumps(result), flush=True)


# ------------------------------------------------------------------------------------------ parent


def child_env(port: int, tmp: str, log_level: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AIRFLOW_CONN_"))}
    return {
        **env,
        **connection_env(port),
        "PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p),
        "AIRFLOW_HOME": tmp,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": log_level,
        "AIRFLOW__RESTJOB__POLL_BUDGET_BURST": "1000000000",
        "AIRFLOW__RESTJOB__POLL_BUDGET_PER_SECOND": "1000000000",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.path.join(tmp, "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(tmp, "no-aws-credentials"),
        "PYTHONUNBUFFERED": "1",
    }


def start_stub(args: argparse.Namespace) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [
            sys.executable,
            os.path.join(HERE, "stub_credentials.py"),
            "--port",
            "0",
            "--token-lifetime",
            str(args.token_lifetime),
            "--sts-seconds",
            str(args.sts_seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit("the stub server did not start")
    return proc, int(line.split()[1])


def start_child(
    poller: str, port: int, args: argparse.Namespace, env: dict[str, str], number: int
) -> subprocess.Popen:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", poller, "--port", str(port)]
    for name in (
        "n",
        "interval",
        "first_delay",
        "min_run",
        "max_run",
        "token_lifetime",
        "sts_seconds",
        "seed",
    ):
        cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    cmd += ["--log-level", args.log_level]
    if args.profile:
        os.makedirs(args.profile, exist_ok=True)
        env = {**env, "BENCH_PROFILE": os.path.join(args.profile, f"{poller}-{number + 1}.pstats")}
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def collect_child(
    poller: str, proc: subprocess.Popen, args: argparse.Namespace, deadline: float
) -> dict[str, Any]:
    try:
        stdout, stderr = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"poller": poller, "n": args.n, "failed": True, "error_sample": "timed out"}
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    tail = (stderr or "").strip().splitlines()[-5:]
    return {"poller": poller, "n": args.n, "failed": True, "error_sample": " | ".join(tail)}


def run_round(
    order: list[str], port: int, args: argparse.Namespace, env: dict[str, str], number: int
) -> list[dict[str, Any]]:
    """One child per poller: all at once (default: machine noise hits every poller alike) or in turn."""
    bound = args.max_run + 5 * args.interval + 300
    if args.sequential:
        results = []
        for poller in order:
            proc = start_child(poller, port, args, env, number)
            results.append(collect_child(poller, proc, args, time.monotonic() + bound))
        return results
    procs = [(poller, start_child(poller, port, args, env, number)) for poller in order]
    deadline = time.monotonic() + bound
    return [collect_child(poller, proc, args, deadline) for poller, proc in procs]


def fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def ratio(value: float | None, ref: float | None) -> float | None:
    return value / ref if value and ref else None


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def ratios(r: dict[str, Any], ref: dict[str, Any]) -> dict[str, float | None]:
    return {
        "cpu": ratio(r.get("cpu_ms_per_poll"), ref.get("cpu_ms_per_poll")),
        "steady": ratio(r.get("steady_cpu_ms_per_poll"), ref.get("steady_cpu_ms_per_poll")),
        "rss": ratio(r.get("rss_kb_per_job"), ref.get("rss_kb_per_job")),
    }


def print_table(rounds: list[list[dict[str, Any]]], args: argparse.Namespace) -> dict[str, Any]:
    """The per-round table and the medians over rounds (returned for --json)."""
    print(
        f"\nN = {args.n} deferred jobs per poller, one event loop each; interval {args.interval:g} s, first poll "
        f"after {args.first_delay:g} s, executions end {args.min_run:g}-{args.max_run:g} s after the start; "
        f"token lifetime {args.token_lifetime:g} s, STS session {args.sts_seconds:g} s; "
        f"{'pollers in turn' if args.sequential else 'pollers at once'}, {len(rounds)} round(s); "
        f"{os.cpu_count()} CPUs\n"
    )
    header = (
        "| round | poller | polls | CPU/poll ms (steady) | x static (steady) | RSS/job KB | x static | base MB | "
        "GC ms/poll | cred req | mask / STS CPU ms | run s / lifetime s | per lifetime (max) | 401/403 | errors | "
        "latency p50/p99 s |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    per_poller: dict[str, list[tuple[dict[str, Any], dict[str, float | None]]]] = {p: [] for p in POLLERS}
    for number, results in enumerate(rounds, 1):
        ref = next((r for r in results if r["poller"] == "static" and not r.get("failed")), {})
        for r in sorted(results, key=lambda r: POLLERS.index(r["poller"])):
            if r.get("failed"):
                print(f"| {number} | {r['poller']} | failed: {r.get('error_sample')} |")
                continue
            q = ratios(r, ref)
            per_poller[r["poller"]].append((r, q))
            lease_ms = "-"
            if r.get("mask_ms") or r.get("assume_role_ms"):
                lease_ms = f"{sum(r['mask_ms']):.0f} / {sum(r['assume_role_ms']):.0f}"
            if r.get("cred_kind"):
                cred = f"{r['cred_requests']} {r['cred_kind']}"
                span = f"{r['duration_s']:.1f} / {r['lifetime_s']:g}"
                per = f"{r['requests_per_lifetime']:.2f} ({r['max_in_one_lifetime']})"
            else:
                cred, span, per = "-", f"{r['duration_s']:.1f} / -", "-"
            print(
                f"| {number} | {r['poller']} | {r['polls']:,} | {fmt(r['cpu_ms_per_poll'], '.3f')} "
                f"({fmt(r.get('steady_cpu_ms_per_poll'), '.3f')}) | {fmt(q['cpu'], '.2f')} ({fmt(q['steady'], '.2f')}) | "
                f"{r['rss_kb_per_job']:.2f} | {fmt(q['rss'], '.2f')} | {r['rss_base_mb']:.0f} | "
                f"{fmt(r.get('gc_cpu_ms_per_poll'), '.3f')} | {cred} | {lease_ms} | {span} | {per} | {r['rejected']} | "
                f"{r['errors']} | {fmt(r['latency_p50'], '.2f')} / {fmt(r['latency_p99'], '.2f')} |"
            )
    summary: dict[str, Any] = {}
    print(
        f"\nmedian over {len(rounds)} round(s) (ratios: median of the per-round ratios; target CPU x static <= 1.10)\n"
    )
    header = (
        "| poller | CPU/poll ms | steady CPU/poll ms | x static | steady x static | RSS/job KB | x static | "
        "cred requests / lifetime (max in one) | 401/403 | errors |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for poller, rows in per_poller.items():
        if not rows:
            continue
        rs = [r for r, _ in rows]
        m = {
            "cpu_ms_per_poll": median([r["cpu_ms_per_poll"] for r in rs]),
            "steady_cpu_ms_per_poll": median([r.get("steady_cpu_ms_per_poll") for r in rs]),
            "cpu_x_static": median([q["cpu"] for _, q in rows]),
            "steady_cpu_x_static": median([q["steady"] for _, q in rows]),
            "rss_kb_per_job": median([r["rss_kb_per_job"] for r in rs]),
            "rss_x_static": median([q["rss"] for _, q in rows]),
            "requests_per_lifetime": median([r.get("requests_per_lifetime") for r in rs]),
            "max_in_one_lifetime": max((r.get("max_in_one_lifetime") or 0) for r in rs)
            if poller != "static"
            else None,
            "rejected": sum(r["rejected"] for r in rs),
            "errors": sum(r["errors"] for r in rs),
        }
        summary[poller] = m
        per = (
            "-"
            if poller == "static"
            else f"{fmt(m['requests_per_lifetime'], '.2f')} ({m['max_in_one_lifetime']})"
        )
        print(
            f"| {poller} | {fmt(m['cpu_ms_per_poll'], '.3f')} | {fmt(m['steady_cpu_ms_per_poll'], '.3f')} | "
            f"{fmt(m['cpu_x_static'], '.2f')} | {fmt(m['steady_cpu_x_static'], '.2f')} | "
            f"{fmt(m['rss_kb_per_job'], '.2f')} | {fmt(m['rss_x_static'], '.2f')} | {per} | {m['rejected']} | "
            f"{m['errors']} |"
        )
    for results in rounds:
        for r in results:
            if r.get("error_sample") and not r.get("failed"):
                print(f"\n{r['poller']}: first error: {r['error_sample']}")
    if args.profile:
        print(f"\ncProfile (CPU time) of every measured window: {args.profile}/<poller>-<round>.pstats")
        print("(the CPU numbers above include the profiler's overhead)")
    return summary


def print_profiles(args: argparse.Namespace, top: int = 18) -> None:
    import glob
    import io
    import pstats

    for poller in args.pollers:
        paths = sorted(glob.glob(os.path.join(args.profile, f"{poller}-*.pstats")))
        if not paths:
            continue
        out = io.StringIO()
        pstats.Stats(*paths, stream=out).sort_stats("tottime").print_stats(top)
        lines = out.getvalue().splitlines()
        start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        print(f"\n--- {poller}: top {top} by own CPU time ({len(paths)} round(s)) ---")
        print("\n".join(lines[max(0, start - 4) :]))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000, help="deferred jobs per poller")
    parser.add_argument("--pollers", nargs="+", choices=POLLERS, default=list(POLLERS))
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval (s)")
    parser.add_argument("--first-delay", type=float, default=2.0, help="first poll delay (s)")
    parser.add_argument("--min-run", type=float, default=40.0, help="shortest execution (s)")
    parser.add_argument("--max-run", type=float, default=65.0, help="longest execution (s)")
    parser.add_argument("--token-lifetime", type=float, default=20.0, help="OAuth2 access token lifetime (s)")
    parser.add_argument(
        "--sts-seconds", type=float, help="STS session lifetime (s); default: --token-lifetime"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of all pollers (medians are reported)")
    parser.add_argument(
        "--sequential", action="store_true", help="run the pollers of a round one after another, not at once"
    )
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--log-level", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--profile", metavar="DIR", help="cProfile each child's measured window into DIR")
    parser.add_argument("--worker", choices=POLLERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sts_seconds is None:
        args.sts_seconds = args.token_lifetime
    if args.worker:
        child(args)
        return 0
    if args.interval < 1 or args.min_run < args.first_delay + args.interval:
        parser.error("need --interval >= 1 and --min-run >= --first-delay + --interval")
    if args.token_lifetime < 2 or args.sts_seconds < 2:
        parser.error("need lifetimes >= 2 s")
    stub, port = start_stub(args)
    rounds: list[list[dict[str, Any]]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-credentials-") as tmp:
            env = child_env(port, tmp, args.log_level)
            for number in range(args.rounds):
                order = args.pollers if number % 2 == 0 else list(reversed(args.pollers))
                how = "in turn" if args.sequential else "at once"
                print(
                    f"round {number + 1}/{args.rounds}: {', '.join(order)} ({how}), N={args.n} ...",
                    file=sys.stderr,
                )
                results = run_round(order, port, args, env, number)
                for r in results:
                    brief = {k: v for k, v in r.items() if k not in ("issued_at", "rejected_at")}
                    print(f"  {json.dumps(brief)}", file=sys.stderr)
                rounds.append(results)
    finally:
        stub.terminate()
        stub.wait(10)
    summary: dict[str, Any] | None = None
    try:
        summary = print_table(rounds, args)
        if args.profile:
            print_profiles(args)
    finally:  # the results are kept even if printing fails (e.g. stdout piped into head)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"args": vars(args), "summary": summary, "rounds": rounds}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
