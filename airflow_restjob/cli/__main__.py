"""``python -m airflow_restjob.cli`` = ``airflow-restjob``."""

import sys

from airflow_restjob.cli import main

sys.exit(main())
