"""Every runtime module imports with no extra installed: the wheel's own dependencies suffice
(the ``sandbox`` extra's moto / boto3 / uvloop and the ``holidays`` extra are optional)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import airflow_restjob

EXTRAS_ONLY = ("moto", "boto3", "botocore", "uvloop", "holidays")

SNIPPET = """
import importlib, importlib.abc, sys

class NoExtras(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {extras!r}:
            raise ImportError(f"{{name}} is not installed (blocked by the test)")
        return None

sys.meta_path.insert(0, NoExtras())
for name in {modules!r}:
    importlib.import_module(name)
print("imported", len({modules!r}))
"""


def runtime_modules() -> list[str]:
    names = [
        m.name
        for m in pkgutil.walk_packages(airflow_restjob.__path__, "airflow_restjob.")
        if not m.name.startswith("airflow_restjob.sandbox") and not m.name.endswith(".__main__")
    ]
    assert "airflow_restjob.triggers.rest_job" in names and "airflow_restjob.transport.aio" in names
    return sorted(names)


def test_every_runtime_module_imports_without_the_extras():
    modules = runtime_modules()
    code = SNIPPET.format(extras=EXTRAS_ONLY, modules=modules)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["imported", str(len(modules))]


def test_the_blocker_blocks():
    """The finder really hides an extra (else the test above proves nothing)."""
    code = SNIPPET.format(extras=EXTRAS_ONLY, modules=["airflow_restjob.sandbox.sandbox"])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "blocked by the test" in done.stderr
