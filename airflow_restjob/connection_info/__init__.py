"""Connection information files: the scheduler's REST job definition, loaded as it is.

``model`` (the definition and its file format), ``validation`` (``load`` / ``parse``: errors that
name the file, the key and what was expected), ``rendering`` (Jinja with the task context and
``takeover``, response files, values read from responses).
"""

from airflow_restjob.connection_info.model import (
    DEFAULT_POLLING_INTERVAL,
    Body,
    ConnectionInfo,
    MonitoringDef,
    RequestDef,
)
from airflow_restjob.connection_info.rendering import Rendered, Renderer, extract, write_response
from airflow_restjob.connection_info.validation import find_file, load, parse

__all__ = [
    "DEFAULT_POLLING_INTERVAL",
    "Body",
    "ConnectionInfo",
    "MonitoringDef",
    "RequestDef",
    "Rendered",
    "Renderer",
    "extract",
    "write_response",
    "find_file",
    "load",
    "parse",
]
