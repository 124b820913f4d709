"""Names that moved between Airflow 3.1 and 3.3."""

from __future__ import annotations

try:  # Airflow >= 3.2
    from airflow.sdk.exceptions import AirflowFailException, AirflowTaskTimeout, TaskDeferralTimeout
except ImportError:  # Airflow 3.1
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowFailException,
        AirflowTaskTimeout,
        TaskDeferralTimeout,
    )

__all__ = ["AirflowFailException", "AirflowTaskTimeout", "TaskDeferralTimeout"]
