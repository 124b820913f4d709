"""The ``restjob`` connection type as Airflow's UI shows it (import-light: read by provider info).

Airflow >= 3.2 renders ``CONN_FIELDS`` / ``UI_FIELD_BEHAVIOUR`` from provider info; Airflow 3.1
renders the hook's ``get_connection_form_widgets`` / ``get_ui_field_behaviour``, built from the
same tables.  Field meanings are documented in ``airflow_restjob.connections.settings``.
"""

from __future__ import annotations

from typing import Any

CONN_TYPE = "restjob"
HOOK_NAME = "REST Job (API Gateway, AWS SigV4)"
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "extra"],
    "relabeling": {"host": "API base URL", "login": "AWS access key ID", "password": "AWS secret access key"},
    "placeholders": {
        "host": "https://{api-id}.execute-api.{region}.amazonaws.com/stage",
        "login": "AKIA...",
        "region": "ap-northeast-1",
        "service": "execute-api",
        "proxy_url": "http://proxy.example.com:8080",
    },
}
# extra fields: label, description, JSON schema (format "password" renders a masked input on
# Airflow >= 3.2; Airflow 3.1's form has no masked input for extra fields). Neither UI shows
# placeholders for extra fields, so examples go into the description.
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "region": {
        "label": "AWS Region",
        "description": "Signing region of the API (inferred from an execute-api host when empty).",
        "schema": {"type": ["string", "null"]},
    },
    "session_token": {
        "label": "Session token",
        "description": "Temporary (STS) credentials only.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "service": {
        "label": "Signing service",
        "description": "SigV4 service name; execute-api for API Gateway.",
        "schema": {"type": ["string", "null"], "default": "execute-api"},
    },
    "proxy_url": {
        "label": "Proxy URL",
        "description": "HTTP(S) proxy, e.g. http://proxy.example.com:8080 (empty: no proxy).",
        "schema": {"type": ["string", "null"]},
    },
    "proxy_user": {"label": "Proxy user", "schema": {"type": ["string", "null"]}},
    "proxy_password": {
        "label": "Proxy password",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "tls_verify": {
        "label": "Verify TLS certificates",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
    "ca_bundle": {"label": "CA bundle path", "schema": {"type": ["string", "null"]}},
    "connect_timeout": {
        "label": "Connect timeout (s)",
        "schema": {"type": ["number", "null"], "default": 10},
    },
    "read_timeout": {"label": "Read timeout (s)", "schema": {"type": ["number", "null"], "default": 60}},
}
