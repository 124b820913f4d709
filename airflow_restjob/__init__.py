"""airflow-restjob: REST execution jobs for Apache Airflow.

Layout (Airflow's provider layout; see the README's "Architecture"):
``operators/``, ``triggers/``, ``hooks/``, ``links/``, ``timetables/`` - what Airflow loads;
``rest_job/`` - the REST-job model and the sans-IO core (what to send, how to judge, when to poll,
what to stop); ``connection_info/`` - connection information files; ``connections/`` - connection
settings, routes and the connection form; ``transport/`` - the two HTTP drivers (requests,
aiohttp), signing and the quota gate; ``cli/``; ``sandbox/`` (the ``sandbox`` extra).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.1.0"

# Module paths of the first release, kept importable: DAG files import from them, and Airflow
# stores a deferred task's trigger classpath (``airflow_restjob.trigger.RestJobTrigger``) in its
# database. Each is a light module object that imports its new home on first attribute access
# (as Airflow's own ``add_deprecated_classes`` does), so importing the package stays cheap.
LEGACY_MODULES: dict[str, str] = {
    "timetable": "airflow_restjob.timetables.legacy",
    "calendar": "airflow_restjob.timetables.business_calendar",
    "operator": "airflow_restjob.operators",
    "trigger": "airflow_restjob.triggers.rest_job",
    "hook": "airflow_restjob.hooks.rest_job",
}


class _LegacyModule(types.ModuleType):
    def __init__(self, name: str, target: str) -> None:
        super().__init__(name, f"Moved to {target} (this path is kept for DAG files and stored triggers).")
        self.__target = target

    def _target(self) -> types.ModuleType:
        return importlib.import_module(self.__target)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return getattr(self._target(), attr)

    def __dir__(self) -> list[str]:
        return dir(self._target())


for _old, _new in LEGACY_MODULES.items():
    globals()[_old] = sys.modules.setdefault(f"{__name__}.{_old}", _LegacyModule(f"{__name__}.{_old}", _new))
del _old, _new
