"""The ``restjob`` connection type as Airflow's UI shows it (import-light: read by provider info).

Airflow >= 3.2 renders ``CONN_FIELDS`` / ``UI_FIELD_BEHAVIOUR`` from provider info; Airflow 3.1
renders the hook's ``get_connection_form_widgets`` / ``get_ui_field_behaviour``, built from the
same tables.  Field meanings are documented in ``airflow_restjob.connections.settings``.
"""

from __future__ import annotations

from typing import Any

CONN_TYPE = "restjob"
HOOK_NAME = "REST Job (API Gateway, AWS SigV4)"
PROXY_HOOK_NAME = "REST Job proxy"
PROXY_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "extra"],
    "relabeling": {"host": "Proxy URL", "login": "Proxy user", "password": "Proxy password"},
    "placeholders": {"host": "http://proxy.example.com:8080"},
}
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
    "auth_type": {
        "label": "Credential type",
        "description": "aws_sigv4 (default), basic (login/password), bearer (token in password), "
        "oauth2_client_credentials (client id/secret in login/password), key_value (password: JSON "
        '{"headers": {...}, "query": {...}}).',
        "schema": {"type": ["string", "null"], "default": "aws_sigv4"},
    },
    "role_arn": {
        "label": "AWS role ARN",
        "description": "Assume this role (source: the keys above, the profile, or the default chain).",
        "schema": {"type": ["string", "null"]},
    },
    "external_id": {"label": "AWS external ID", "schema": {"type": ["string", "null"]}},
    "role_session_name": {"label": "AWS role session name", "schema": {"type": ["string", "null"]}},
    "duration_seconds": {"label": "AWS session duration (s)", "schema": {"type": ["integer", "null"]}},
    "web_identity_token_file": {
        "label": "Web identity token file",
        "description": "With a role ARN: AssumeRoleWithWebIdentity (EKS IRSA).",
        "schema": {"type": ["string", "null"]},
    },
    "profile": {"label": "AWS profile", "schema": {"type": ["string", "null"]}},
    "credential_source": {
        "label": "AWS credential source",
        "description": "default_chain: botocore's chain (environment, ~/.aws, container, instance metadata).",
        "schema": {"type": ["string", "null"]},
    },
    "sts_endpoint": {"label": "STS endpoint URL", "schema": {"type": ["string", "null"]}},
    "oauth2_url": {
        "label": "OAuth2 token URL",
        "description": "oauth2_client_credentials: e.g. https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token.",
        "schema": {"type": ["string", "null"]},
    },
    "scope": {"label": "OAuth2 scope", "schema": {"type": ["string", "null"]}},
    "resource": {"label": "OAuth2 resource", "schema": {"type": ["string", "null"]}},
    "audience": {"label": "OAuth2 audience", "schema": {"type": ["string", "null"]}},
    "client_auth": {
        "label": "OAuth2 client authentication",
        "description": "form (client id/secret in the body, default) or basic (HTTP Basic).",
        "schema": {"type": ["string", "null"], "default": "form"},
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
