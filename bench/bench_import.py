"""DAG parse cost: what importing the operators in a DAG file adds, ours vs. another checkout.

    .venvs/af-3.3.2/bin/python bench/bench_import.py --baseline /tmp/old [--runs 11]

Each run is a fresh interpreter that imports ``airflow.sdk`` first (every DAG file does), then
times the import of ``StepFunctionsExecutionOperator`` and ``RestJobOperator`` and reports whether
aiohttp (the triggerer's transport) came with them. Runs alternate between the two checkouts;
medians are reported side by side. ``--baseline``: e.g. ``git worktree add /tmp/old 2626b0e``
(its operators are imported from the first release's path ``airflow_restjob.operator``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEW = (
    "from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator; "
    "from airflow_restjob.operators.rest_job import RestJobOperator"
)
OLD = "from airflow_restjob.operator import StepFunctionsExecutionOperator, RestJobOperator"


def once(checkout: str, statement: str) -> tuple[float, bool]:
    code = (
        "import airflow.sdk, sys, time; t = time.perf_counter(); " + statement + "; "
        "print(time.perf_counter() - t, 'aiohttp' in sys.modules)"
    )
    with tempfile.TemporaryDirectory() as cwd:  # not the checkout: its folder would come first
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=cwd,
            env={**os.environ, "PYTHONPATH": checkout},
        ).stdout.split()
    return float(out[0]), out[1] == "True"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", metavar="DIR", help="another checkout to compare with")
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    cases = [("ours", ROOT, NEW)]
    if args.baseline:
        cases.append(("baseline", os.path.abspath(args.baseline), OLD))
    results: dict[str, list[tuple[float, bool]]] = {name: [] for name, _, _ in cases}
    for _ in range(args.runs):
        for name, checkout, statement in cases:
            results[name].append(once(checkout, statement))
    print("| checkout | import of the operators, median (ms) | aiohttp imported |\n|---|---|---|")
    for name, runs in results.items():
        print(f"| {name} | {1000 * statistics.median(r[0] for r in runs):.0f} | {runs[0][1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
