"""The path a new user takes: build the wheel, install it, let Airflow find the provider, run a DAG.

Everything runs in a fresh virtualenv that holds nothing but the built wheel, so a module, entry
point or data file the wheel lacks fails here even though the repository's editable install has it.

How the new virtualenv gets Airflow without installing it again (minutes): the test runs inside
``.venvs/af-X``; ``python -m venv`` from there builds on the *base* interpreter
(``sys._base_executable``, pyenv's python), so ``--system-site-packages`` would inherit the base's
site-packages, which have no Airflow. Instead the new venv (no ``--system-site-packages``, no pip
of its own: ``--without-pip``) gets a ``.pth`` file whose one line is the running venv's
site-packages directory. A plain path line in a ``.pth`` only appends that directory to
``sys.path``, *after* the new venv's own site-packages, and does not process the ``.pth`` files
inside it - so the running venv's ``_editable_impl_airflow_provider_restjob.pth`` (which puts the
repository on ``sys.path``) is never read and ``airflow_restjob`` can only come from the wheel.
Airflow, its dependencies and pip come from the running venv. What stays visible behind the wheel
is the editable install's ``airflow_provider_restjob-<v>.dist-info`` (metadata, no code): the
wheel's comes first on ``sys.path``, so ``importlib.metadata`` and Airflow's provider discovery
(first distribution of a name wins) take the wheel's, and the plugin entry point it also declares
is skipped by name ("already registered"). pip runs as ``<venv>/bin/python -m pip`` (the running
venv's pip, installing into the new venv's prefix) with ``--ignore-installed``: otherwise it sees
the editable distribution and tries to uninstall it ("outside environment", refused). Every
subprocess runs with its working directory in tmp_path, never the repository root, whose
``airflow_restjob/`` would otherwise be importable from the current directory.

``RESTJOB_WHEEL=<path to a .whl>`` tests that wheel instead of building one (a release artifact).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from airflow_restjob.provider_info import DOCUMENTATION_URL, PACKAGE_NAME

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SUCCEED = "arn:aws:states:us-east-1:123456789012:stateMachine:succeed"
DAG_ID = "restjob_wheel_install"
DAG_FILE = f'''
from datetime import datetime

from airflow.sdk import DAG

from airflow_restjob.operators.step_functions import StepFunctionsExecutionOperator

with DAG("{DAG_ID}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    StepFunctionsExecutionOperator(
        task_id="run",
        state_machine_arn="{SUCCEED}",
        input={{"car": "wheel"}},
        deferrable=False,
        first_poll_delay=0.2,
        poll_interval=1,
    )
'''


def _run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


def _tail(out: subprocess.CompletedProcess) -> str:
    return f"exit {out.returncode}\n--- stdout\n{out.stdout[-4000:]}\n--- stderr\n{out.stderr[-4000:]}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if os.environ.get("RESTJOB_WHEEL"):
        return Path(os.environ["RESTJOB_WHEEL"]).resolve()
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def venv_python(wheel, tmp_path_factory) -> Path:
    """A new virtualenv with the wheel installed and the running venv's packages behind it."""
    where = tmp_path_factory.mktemp("wheel-venv")
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, cwd=where,
    ).stdout.strip()
    assert purelib.startswith(str(venv)), purelib
    parent = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib) / "restjob-parent-venv.pth").write_text("".join(f"{p}\n" for p in sorted(parent)))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    pip = _run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", str(wheel)],
        env, where,
    )
    assert pip.returncode == 0, _tail(pip)
    return python


@pytest.fixture()
def user_env(venv_python, sandbox, tmp_path) -> dict[str, str]:
    """A user's shell: this venv first on PATH, AIRFLOW_HOME, SQLite and the DAG folder in tmp_path.

    Nothing of the test session's Airflow settings (tests/conftest.py sets AIRFLOW__* in this
    process, default_deferrable among them) leaks in.
    """
    home = tmp_path / "airflow_home"
    dags = tmp_path / "dags"
    home.mkdir()
    dags.mkdir()
    (dags / "wheel_install_dag.py").write_text(DAG_FILE)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "PYTHONPATH", "VIRTUAL_ENV", "_AIRFLOW"))
    }
    env.update(
        PATH=f"{venv_python.parent}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv_python.parent.parent),
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW_CONN_RESTJOB_DEFAULT=sandbox.connection_json(),
    )
    return env


def test_the_wheel_not_the_checkout_is_imported(venv_python, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    probe = _run(
        [
            str(venv_python),
            "-c",
            "import json, airflow, airflow_restjob, importlib.metadata as m; "
            f"d = m.distribution({PACKAGE_NAME!r}); "
            "print(json.dumps({'module': airflow_restjob.__file__, 'dist': str(d.locate_file('')), "
            "'airflow': airflow.__file__}))",
        ],
        env, tmp_path,
    )
    assert probe.returncode == 0, _tail(probe)
    seen = json.loads(probe.stdout.strip().splitlines()[-1])
    venv = str(venv_python.parent.parent)
    assert seen["module"].startswith(venv + os.sep), seen
    assert seen["dist"].startswith(venv + os.sep), seen
    assert not seen["airflow"].startswith(venv + os.sep), seen  # inherited, not reinstalled


def test_a_new_user_runs_a_dag_from_the_installed_wheel(venv_python, user_env, sandbox, tmp_path):
    airflow = [str(venv_python), "-m", "airflow"]

    providers = _run([*airflow, "providers", "get", PACKAGE_NAME, "-o", "json", "--full"], user_env, tmp_path)
    assert providers.returncode == 0, _tail(providers)
    info = json.loads(providers.stdout[providers.stdout.index("[") :])[0]
    assert info["package-name"] == PACKAGE_NAME
    # read from the installed wheel's Project-URL (Airflow 3.1/3.2 keep the space after the comma)
    assert (info.get("documentation-url") or "").strip() == DOCUMENTATION_URL, info.get("documentation-url")
    listed = _run([*airflow, "providers", "list", "-o", "json"], user_env, tmp_path)
    assert listed.returncode == 0, _tail(listed)
    assert any(p["package_name"] == PACKAGE_NAME for p in json.loads(listed.stdout)), listed.stdout[-2000:]

    migrate = _run([*airflow, "db", "migrate"], user_env, tmp_path)
    assert migrate.returncode == 0, _tail(migrate)

    test = _run([*airflow, "dags", "test", DAG_ID], user_env, tmp_path)
    assert test.returncode == 0, _tail(test)
    log = test.stdout + test.stderr
    assert "Step Functions execution ARN:" in log, _tail(test)
    assert "Traceback" not in log, _tail(test)
    arn = re.search(r"Step Functions execution ARN: (\S+)", log).group(1)
    requests = sandbox.request_log()
    starts = [e for e in requests if e["resource"] == "start-execution"]
    assert len(starts) == 1, requests
    assert starts[0]["status"] == 200, starts
    assert starts[0]["body"]["stateMachineArn"] == SUCCEED, starts
    assert json.loads(starts[0]["body"]["input"]) == {"car": "wheel"}, starts
    assert any(e["resource"] == "describe-execution" and e["execution_arn"] == arn for e in requests), requests
