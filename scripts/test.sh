#!/usr/bin/env bash
# The whole test suite, from a fresh clone with only Python 3.11 and pip:
#   bash scripts/test.sh              # lint, types, then the tests on every supported Airflow minor
#   bash scripts/test.sh tests/unit   # extra arguments go to pytest (on each Airflow version)
# Every test runs on the lowest and the newest supported Airflow; on the minors between (3.2) every
# test that involves Airflow but the e2e suite (real Airflow processes: the run would not fit CI's 90
# minutes), unless RESTJOB_E2E_EVERYWHERE=1.
# Env: AIRFLOW_VERSIONS (default: lowest, middle and newest supported, see scripts/venv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
AIRFLOW_VERSIONS=${AIRFLOW_VERSIONS:-"$LOWEST_AIRFLOW $MIDDLE_AIRFLOW $NEWEST_AIRFLOW"}
export PYTHONDONTWRITEBYTECODE=1

# --- Chromium for tests/e2e/test_ui_browser.py: install once, as root with apt-get only; a failed
# install does not stop this script, but the browser test then FAILS (it skips only with
# RESTJOB_SKIP_BROWSER_TESTS=1). Playwright launches the system Chromium binary, found as the test
# does: $E2E_CHROMIUM, chromium, chromium-browser or google-chrome (chromedriver is not used by it).
chromium_found() {
  local name
  for name in ${E2E_CHROMIUM:-} chromium chromium-browser google-chrome; do
    command -v "$name" >/dev/null 2>&1 && return 0
  done
  return 1
}
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing chromium and chromium-driver (apt-get) for the browser UI test"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium chromium-driver; } >/dev/null 2>&1 || echo "   (apt-get install chromium chromium-driver failed)"
  fi
fi
if ! chromium_found && [ "${RESTJOB_SKIP_BROWSER_TESTS:-}" != 1 ]; then
  echo "!! Chromium is not installed (no \$E2E_CHROMIUM, chromium, chromium-browser or google-chrome" \
    "on PATH): tests/e2e/test_ui_browser.py will FAIL." >&2
  echo "!! Install it (as root): apt-get install chromium chromium-driver;" \
    "or set RESTJOB_SKIP_BROWSER_TESTS=1 to skip the browser UI test." >&2
fi
# --- end Chromium

status=0
for version in $AIRFLOW_VERSIONS; do
  extras=test
  [ "$version" = "$NEWEST_AIRFLOW" ] && extras=test,bench  # the Amazon provider, for side-by-side benchmarks
  py=$(setup_venv "$version" "$extras")
  if [ "$version" = "$NEWEST_AIRFLOW" ]; then
    echo "== lint (ruff) and types (mypy) on Airflow $version"
    "$py" -m ruff check airflow_restjob tests dags bench || status=1
    "$py" -m mypy airflow_restjob || status=1
  fi
  scope=()
  if [ $# -eq 0 ] && [ "$version" != "$LOWEST_AIRFLOW" ] && [ "$version" != "$NEWEST_AIRFLOW" ] \
    && [ "${RESTJOB_E2E_EVERYWHERE:-}" != 1 ]; then
    # the e2e suite (real Airflow processes), and what does not touch Airflow at all: the sandbox,
    # the HTTP drivers and the 1,000-execution quota run (the same code on every Airflow)
    scope=(--ignore=tests/e2e --ignore=tests/integration/sandbox --ignore=tests/integration/transport
      --ignore=tests/integration/scale)
  fi
  echo "== tests on Airflow $version${scope:+ (${scope[*]})}"
  started=$SECONDS
  "$py" -m pytest -p no:cacheprovider -q -rfE "${scope[@]}" "$@" || status=1
  echo "== Airflow $version: $((SECONDS - started)) s"
done
exit $status
