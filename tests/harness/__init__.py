"""Test and demo harness: a real local Airflow (``LocalAirflow``) and PostgreSQL (``LocalPostgres``).

Not part of the runtime package (the wheel holds the provider and the sandbox only); the e2e
tests, the benchmarks and ``bash scripts/demo.sh`` import it from a clone of the repository.
"""
