#!/usr/bin/env bash
# The main job, from a fresh clone with only Python 3.11 and pip: installs Airflow and the provider,
# starts the embedded sandbox and a real Airflow, runs dags/rental_car_reservation.py through the
# scheduler, prints a summary and stops everything.
#   bash scripts/demo.sh                  # run once
#   bash scripts/demo.sh --keep-running   # keep Airflow up to explore the UI (Ctrl-C stops it)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
py=$(setup_venv "$NEWEST_AIRFLOW" "sandbox,holidays")
exec "$py" -m tests.harness.demo "$@"
