"""airflow-restjob: the command line of the REST Job provider for Apache Airflow.

Commands:
  credentials   add / list / show / delete named credentials (stored as Airflow connections)
  sandbox       run the local SigV4-verifying API Gateway in front of moto's Step Functions
  calendar      show a business-day calendar file, list the next runs of a business-day timetable
  demo          how to run the example DAG end to end (from a clone of the repository)

Exit codes: 0 ok, 1 usage error (unknown command or option), others as each command says.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from airflow_restjob import __version__

USAGE = 1  # exit code of a usage error, for every command (argparse's own is 2)

# subcommand -> module with add_parser(subparsers) and run(args) -> int
SUBCOMMANDS = {
    "sandbox": "airflow_restjob.sandbox.cli",
    "credentials": "airflow_restjob.cli.credentials",
    "calendar": "airflow_restjob.cli.calendar",
}


class UsageParser(argparse.ArgumentParser):
    """Usage errors exit with ``USAGE`` (1), as the commands' help says."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    summary, _, rest = __doc__.partition("\n\n")
    parser = UsageParser(
        prog="airflow-restjob",
        description=summary,
        epilog=rest.split("\n\n")[-1],
    )
    parser.add_argument("--version", action="version", version=f"airflow-restjob {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=UsageParser)
    demo = subparsers.add_parser(
        "demo",
        help="how to run the example DAG end to end (from a clone: bash scripts/demo.sh)",
        description="The demo starts the sandbox and a real local Airflow with the test harness of the "
        "repository (not part of the installed package): run it from a clone with bash scripts/demo.sh.",
    )
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
        return USAGE
    if getattr(args, "unavailable", None):
        print(f"airflow-restjob: {args.unavailable}. Install it with: pip install 'airflow-provider-restjob[sandbox]'", file=sys.stderr)
        return 1
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
