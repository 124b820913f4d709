"""``airflow-restjob`` reads well: a version, a description per command, usage errors exit 1."""

from __future__ import annotations

import subprocess
import sys

from airflow_restjob import __version__


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow_restjob.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_version():
    done = cli("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"airflow-restjob {__version__}"


def test_help_describes_every_command_without_markup():
    done = cli("--help")
    assert done.returncode == 0
    for command in ("credentials", "sandbox", "demo"):
        assert command in done.stdout
    assert "``" not in done.stdout and "Exit codes: 0 ok, 1 usage error" in done.stdout


def test_unknown_command_and_action_are_usage_errors_exit_1():
    for args in (("nosuch",), ("credentials", "bogus"), ("--no-such-option",)):
        done = cli(*args)
        assert done.returncode == 1, (args, done.returncode, done.stderr)
        assert "usage: airflow-restjob" in done.stderr and "error:" in done.stderr


def test_demo_says_what_to_do_from_an_installed_package():
    done = cli("demo")
    assert done.returncode == 1 and "bash scripts/demo.sh" in done.stderr


def test_credentials_add_help_documents_the_file_format_of_every_auth_type():
    from airflow_restjob.cli.credentials import FIELDS

    done = cli("credentials", "add", "--help")
    assert done.returncode == 0 and "``" not in done.stdout and "::" not in done.stdout
    for auth_type, fields in FIELDS.items():
        assert f'"authType": "{auth_type}"' in done.stdout, auth_type  # an example statement
        for field in fields:
            assert f'"{field}"' in done.stdout, (auth_type, field)
