"""Airflow triggers: waiting for a remote job in the triggerer."""
