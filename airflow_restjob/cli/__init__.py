"""``airflow-restjob``: the provider's command line.

Subcommands:
  sandbox       run the local SigV4-verifying API Gateway in front of moto's Step Functions
  demo          run the example DAG end to end through a real local Airflow (see README)
  credentials   add / list / show / delete named credentials (stored as Airflow connections)
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> module with add_parser(subparsers) and run(args) -> int
SUBCOMMANDS = {
    "sandbox": "airflow_restjob.sandbox.cli",
    "credentials": "airflow_restjob.cli.credentials",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="airflow-restjob", description=__doc__.split("\n\n")[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = subparsers.add_parser("demo", help="run the example DAG end to end (from a clone: bash scripts/demo.sh)")
    demo.set_defaults(run=_demo)
    for name, module_name in SUBCOMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            sub = subparsers.add_parser(name, help=f"(unavailable: {exc})")
            sub.set_defaults(unavailable=f"'{name}' needs a missing package: {exc}")
            continue
        module.add_parser(subparsers)
        subparsers.choices[name].set_defaults(run=module.run)
    return parser


def _demo(args: argparse.Namespace) -> int:
    """The demo starts a real Airflow with the test harness, which is not part of the wheel."""
    print(
        "airflow-restjob demo: the demo runs from a clone of the repository (it starts a real Airflow "
        "with the test harness in tests/harness, which the installed package does not include). "
        "Run: git clone <repository> && cd airflow-restjob && bash scripts/demo.sh",
        file=sys.stderr,
    )
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 1
    if getattr(args, "unavailable", None):
        print(f"airflow-restjob: {args.unavailable}. Install it with: pip install 'airflow-provider-restjob[sandbox]'", file=sys.stderr)
        return 1
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
