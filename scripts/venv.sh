# Shared by scripts/test.sh and scripts/demo.sh: a virtualenv per Airflow version under .venvs/.
# setup_venv VERSION EXTRAS -> prints the venv's python; installs only when pyproject.toml or the
# extras changed since the last install.
LOWEST_AIRFLOW=3.1.8   # lowest supported Airflow
NEWEST_AIRFLOW=3.3.2   # newest Airflow 3.x released
PYTHON=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1

setup_venv() {
  local version=$1 extras=$2 venv=.venvs/af-$1
  if [ ! -x "$venv/bin/python" ]; then
    "$PYTHON" -m venv "$venv" >&2
  fi
  local stamp="$venv/.installed-$(cat pyproject.toml | sha1sum | cut -c1-12)-${extras//,/-}"
  if [ ! -f "$stamp" ]; then
    echo "== installing Airflow $version and airflow-provider-restjob[$extras] into $venv (a few minutes the first time)" >&2
    "$venv/bin/pip" install -q --upgrade pip >&2
    "$venv/bin/pip" install -q "apache-airflow==$version" -e ".[$extras]" >&2
    touch "$stamp"
  fi
  echo "$venv/bin/python"
}
