#!/usr/bin/env bash
# The whole test suite, from a fresh clone with only Python 3.11 and pip:
#   bash scripts/test.sh            # lint, types, packaging, then every test on the lowest and newest Airflow
#   bash scripts/test.sh tests/unit # extra arguments go to pytest (each Airflow version)
# Env: AIRFLOW_VERSIONS (default "3.1.8 3.3.2": the lowest and newest supported), PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
AIRFLOW_VERSIONS=${AIRFLOW_VERSIONS:-"3.1.8 3.3.2"}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

setup_venv() {  # $1 = Airflow version, $2 = extras -> prints the venv's python
  local version=$1 extras=$2 venv=.venvs/af-$1
  if [ ! -x "$venv/bin/python" ]; then
    "$PYTHON" -m venv "$venv" >&2
  fi
  local stamp="$venv/.installed-$(sha1sum < pyproject.toml | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    echo "== installing Airflow $version and the project into $venv" >&2
    "$venv/bin/pip" install -q --upgrade pip >&2
    "$venv/bin/pip" install -q "apache-airflow==$version" -e ".[$extras]" >&2
    touch "$stamp"
  fi
  echo "$venv/bin/python"
}

status=0
newest=${AIRFLOW_VERSIONS##* }
for version in $AIRFLOW_VERSIONS; do
  extras=test
  [ "$version" = "$newest" ] && extras=test,bench  # the Amazon provider, for the side-by-side benchmarks
  py=$(setup_venv "$version" "$extras")
  if [ "$version" = "$newest" ]; then
    echo "== lint (ruff) and types (mypy) on Airflow $version"
    "$py" -m ruff check airflow_restjob tests dags bench || status=1
    "$py" -m mypy airflow_restjob || status=1
  fi
  echo "== tests on Airflow $version"
  AIRFLOW_VERSION_UNDER_TEST=$version "$py" -m pytest -p no:cacheprovider -q -rfEs "$@" || status=1
done
exit $status
