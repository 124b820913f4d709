# Shared by scripts/test.sh and scripts/demo.sh: a virtualenv per Airflow version under .venvs/.
# setup_venv VERSION EXTRAS -> prints the venv's python; installs only when pyproject.toml or the
# extras changed since the last install.
LOWEST_AIRFLOW=3.1.8   # lowest supported Airflow
MIDDLE_AIRFLOW=3.2.2   # newest 3.2.x
NEWEST_AIRFLOW=3.3.2   # newest Airflow 3.x released
PYTHON=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1

# What Airflow's constraints file pins and a plain pip install gets wrong (no internet for the
# constraints URL here): Airflow 3.2.2 takes fastapi 0.165 / cadwyn 9 / svcs 26, with which every
# task fails at start (pydantic "needs a discriminator field", "'State' object has no attribute
# 'svcs_registry'"); 3.3 declares fastapi<0.137 itself.
pins_for() {
  case "$1" in
    3.2.*) echo "fastapi<0.137 cadwyn<8 svcs<26" ;;
    *) echo "" ;;
  esac
}

setup_venv() {
  local version=$1 extras=$2 venv=.venvs/af-$1
  if [ ! -x "$venv/bin/python" ]; then
    "$PYTHON" -m venv "$venv" >&2
  fi
  local pins; pins=$(pins_for "$version")
  local stamp="$venv/.installed-$({ cat pyproject.toml; [ -z "$pins" ] || echo "$pins"; } | sha1sum | cut -c1-12)-${extras//,/-}"
  if [ ! -f "$stamp" ]; then
    echo "== installing Airflow $version and airflow-provider-restjob[$extras] into $venv (a few minutes the first time)" >&2
    "$venv/bin/pip" install -q --upgrade pip >&2
    # shellcheck disable=SC2086  # $pins: one word per requirement
    "$venv/bin/pip" install -q "apache-airflow==$version" -e ".[$extras]" $pins >&2
    touch "$stamp"
  fi
  echo "$venv/bin/python"
}
