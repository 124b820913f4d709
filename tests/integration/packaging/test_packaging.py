"""The package as pip and Airflow see it: entry points, provider discovery, wheel and sdist."""

from __future__ import annotations

import email.parser
import json
import os
import subprocess
import sys
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from airflow_restjob.provider_info import DOCUMENTATION_URL, get_provider_info

ROOT = Path(__file__).resolve().parents[3]


def airflow_cli(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "airflow", *args], capture_output=True, text=True, env=os.environ, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_entry_points_are_declared():
    provider = [e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("airflow_restjob")]
    assert len(provider) == 1
    info = provider[0].load()()
    assert info["package-name"] == "airflow-provider-restjob"
    assert info["connection-types"][0]["connection-type"] == "restjob"
    plugins = [e for e in entry_points(group="airflow.plugins") if e.value.startswith("airflow_restjob")]
    assert plugins and plugins[0].load().name == "restjob"
    scripts = [e for e in entry_points(group="console_scripts") if e.name == "airflow-restjob"]
    assert scripts and scripts[0].value == "airflow_restjob.cli:main"


def test_airflow_lists_the_provider_and_the_hook():
    providers = json.loads(airflow_cli("providers", "list", "-o", "json"))
    assert any(p["package_name"] == "airflow-provider-restjob" for p in providers), providers
    hooks = json.loads(airflow_cli("providers", "hooks", "-o", "json"))
    ours = [h for h in hooks if h.get("connection_type") == "restjob"]
    assert ours and ours[0]["class"] == "airflow_restjob.hooks.rest_job.RestJobHook", hooks


def test_wheel_and_sdist_build_and_pass_twine_check(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(tmp_path), str(ROOT)], capture_output=True, text=True
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    files = sorted(p.name for p in tmp_path.iterdir())
    assert any(f.endswith(".whl") for f in files) and any(f.endswith(".tar.gz") for f in files), files
    check = subprocess.run(
        [sys.executable, "-m", "twine", "check", *map(str, tmp_path.iterdir())], capture_output=True, text=True
    )
    assert check.returncode == 0 and "PASSED" in check.stdout, check.stdout + check.stderr
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(zf.read(name).decode())
    urls = metadata.get_all("Project-URL") or []
    # Airflow 3.1/3.2 read these with ``name, url = entry.split(",")``: a second comma would raise
    # and stop the discovery of every provider
    assert all(u.count(",") == 1 for u in urls), urls
    labels = {label.strip(): url.strip() for label, url in (u.split(",") for u in urls)}
    home = "https://github.com/airflow-restjob/airflow-restjob"
    assert labels == {
        "Homepage": home,
        "Documentation": f"{home}/blob/main/README.md",
        "Source": home,
        "Issues": f"{home}/issues",
    }, urls
    # the provider's documentation link in Airflow comes from this Project-URL; provider info says the same
    assert labels["Documentation"] == DOCUMENTATION_URL == get_provider_info()["documentation-url"]


def test_provider_info_passes_airflows_schema():
    """The validation Airflow's ProvidersManager runs on every provider it discovers."""
    from airflow import providers_manager

    make_validator = getattr(providers_manager, "_create_provider_info_schema_validator", None)
    if make_validator is None:
        pytest.skip("this Airflow has no provider info schema validator")
    make_validator().validate(get_provider_info())  # raises jsonschema.ValidationError


def test_cli_help_lists_subcommands():
    out = subprocess.run([sys.executable, "-m", "airflow_restjob.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for sub in ("sandbox",):
        assert sub in out.stdout
