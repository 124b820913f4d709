"""Airflow hooks: connection -> settings -> client, and the service calls."""
