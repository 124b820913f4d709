"""What each credential type is: the secrets it holds and what a request carries.

One frozen (hashable, comparable) value per credential, built from its Airflow connection by
``from_connection_fields``; secrets are excluded from ``repr``.  The values hold no I/O: tokens and
temporary AWS credentials are obtained by ``airflow_restjob.credentials.tokens`` /
``airflow_restjob.credentials.aws`` and kept in memory (``airflow_restjob.credentials.cache``).

Every type is a connection of type ``restjob`` whose extra ``auth_type`` names it (no
``auth_type``: ``aws_sigv4``, the first release's connections); a proxy is a ``restjob_proxy``
connection:

=========================  ===============================================================
auth_type                  connection fields
=========================  ===============================================================
aws_sigv4                  login / password = access key ID / secret access key (optional with
                           a role or the default chain); extra ``region``, ``session_token``,
                           ``service``, ``role_arn``, ``external_id``, ``role_session_name``,
                           ``duration_seconds``, ``web_identity_token_file``, ``profile``,
                           ``credential_source`` (``default_chain``), ``sts_endpoint``
basic                      login / password
bearer                     password = the token
oauth2_client_credentials  login / password = client id / client secret; extra ``oauth2_url`` (the token URL; not
                           ``token_url``: Airflow hides every extra value whose key says "token"),
                           ``scope``, ``resource``, ``audience``, ``client_auth`` (form | basic)
key_value                  password = JSON ``{"headers": {...}, "query": {...}}`` (all values secret)
=========================  ===============================================================
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from airflow_restjob.errors import DefinitionError

AWS_SIGV4 = "aws_sigv4"
BASIC = "basic"
BEARER = "bearer"
OAUTH2 = "oauth2_client_credentials"
KEY_VALUE = "key_value"
PROXY = "proxy"
AUTH_TYPES = (AWS_SIGV4, BASIC, BEARER, OAUTH2, KEY_VALUE)  # what a restjob connection can be
PROXY_CONN_TYPE = "restjob_proxy"
CLIENT_AUTH = ("form", "basic")
DEFAULT_SESSION_NAME = "airflow-restjob"


def fingerprint(*parts: Any) -> str:
    """A stable short digest (cache keys that must not hold a secret in clear)."""
    return hashlib.sha256(json.dumps(parts, default=str).encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Basic:
    user: str
    password: str = field(repr=False)

    def headers(self) -> dict[str, str]:
        pair = f"{self.user}:{self.password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.password, base64.b64encode(f"{self.user}:{self.password}".encode()).decode("ascii"))


@dataclass(frozen=True)
class Bearer:
    token: str = field(repr=False)

    def headers(self) -> dict[str, str]:
        return {"Authorization": "Bearer " + self.token}

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.token,)


@dataclass(frozen=True)
class KeyValue:
    """Named headers and query parameters whose values are secrets (``x-api-key`` ...)."""

    header_items: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    query_items: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def headers(self) -> dict[str, str]:
        return dict(self.header_items)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.header_items) + tuple(f"?{k}" for k, _ in self.query_items)

    @property
    def secrets(self) -> tuple[str, ...]:
        values = [v for _, v in self.header_items + self.query_items]
        return tuple(values) + tuple(quote(v, safe="") for v in values)


@dataclass(frozen=True)
class OAuth2ClientCredentials:
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None
    resource: str | None = None
    audience: str | None = None
    client_auth: str = "form"

    @property
    def key(self) -> str:
        """Names the token in the process cache: same client, same token (a new secret: a new one)."""
        return "oauth2:" + fingerprint(
            self.token_url, self.client_id, self.client_secret, self.scope, self.resource, self.audience
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        pair = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}".encode()
        return (self.client_secret, quote(self.client_secret, safe=""), base64.b64encode(pair).decode("ascii"))


@dataclass(frozen=True)
class AwsRole:
    """Temporary AWS credentials: assume role, web identity, or the default credential chain.

    ``source``: where the credentials that call STS (or sign, without a role) come from -
    ``static`` (the connection's keys), ``profile`` (a named profile of the shared config) or
    ``default_chain`` (botocore's chain: environment, shared files, web identity, container and
    instance metadata).
    """

    source: str
    role_arn: str | None = None
    external_id: str | None = field(default=None, repr=False)
    session_name: str = DEFAULT_SESSION_NAME
    duration_seconds: int | None = None
    web_identity_token_file: str | None = None
    profile: str | None = None
    sts_endpoint: str | None = None
    sts_region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return "aws:" + fingerprint(
            self.source,
            self.role_arn,
            self.external_id,
            self.session_name,
            self.duration_seconds,
            self.web_identity_token_file,
            self.profile,
            self.sts_endpoint,
            self.sts_region,
            self.access_key_id,
            self.secret_access_key,
            self.session_token,
        )

    @property
    def label(self) -> str:
        if self.role_arn and self.web_identity_token_file:
            return f"web identity {self.role_arn}"
        if self.role_arn:
            return f"assume role {self.role_arn}"
        return f"profile {self.profile}" if self.profile else "the default AWS credential chain"

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.secret_access_key, self.session_token, self.external_id) if s)


Credential = Basic | Bearer | KeyValue | OAuth2ClientCredentials | AwsRole


def _text(extra: dict[str, Any], name: str) -> str | None:
    value = extra.get(name)
    return str(value).strip() if value not in (None, "") else None


def auth_type_of(conn_id: str, extra: dict[str, Any]) -> str:
    auth_type = str(extra.get("auth_type") or AWS_SIGV4).strip()
    if auth_type not in AUTH_TYPES:
        import difflib

        guess = difflib.get_close_matches(auth_type, AUTH_TYPES, n=1)
        raise DefinitionError(
            f"Connection '{conn_id}': extra 'auth_type' {auth_type!r} is not a credential type."
            + (f" Did you mean '{guess[0]}'?" if guess else ""),
            f"Use one of {', '.join(AUTH_TYPES)} (a proxy is a '{PROXY_CONN_TYPE}' connection).",
        )
    return auth_type


def _required(conn_id: str, value: Any, what: str, auth_type: str, fix: str) -> str:
    if value in (None, ""):
        raise DefinitionError(f"Connection '{conn_id}' ({auth_type}): {what} is missing.", fix)
    return str(value)


def key_value_items(conn_id: str, secret: str | None) -> KeyValue:
    """The password field of a ``key_value`` connection: JSON ``{"headers": {...}, "query": {...}}``."""
    fix = 'Set the password to JSON such as {"headers": {"x-api-key": "..."}, "query": {"code": "..."}}.'
    try:
        data = json.loads(secret or "")
    except ValueError:
        raise DefinitionError(
            f"Connection '{conn_id}' (key_value): the password is not a JSON object of headers/query.", fix
        ) from None
    if not isinstance(data, dict) or set(data) - {"headers", "query"} or not (data.get("headers") or data.get("query")):
        raise DefinitionError(
            f"Connection '{conn_id}' (key_value): the password must hold 'headers' and/or 'query' objects.", fix
        )
    parts: dict[str, tuple[tuple[str, str], ...]] = {}
    for part in ("headers", "query"):
        items = data.get(part) or {}
        if not isinstance(items, dict) or not all(
            isinstance(k, str) and k and isinstance(v, str) and v for k, v in items.items()
        ):
            raise DefinitionError(
                f"Connection '{conn_id}' (key_value): '{part}' must map names to non-empty strings.", fix
            )
        parts[part] = tuple(items.items())
    return KeyValue(parts["headers"], parts["query"])


def from_connection_fields(
    conn_id: str, auth_type: str, *, login: str | None, password: str | None, extra: dict[str, Any]
) -> Credential | None:
    """The credential of a ``restjob`` connection other than a static AWS key (None: static key)."""
    if auth_type == BASIC:
        user = _required(conn_id, login, "the user (login)", auth_type, "Set the connection's login.")
        secret = _required(conn_id, password, "the password", auth_type, "Set the connection's password.")
        return Basic(user, secret)
    if auth_type == BEARER:
        return Bearer(
            _required(conn_id, password, "the token (password)", auth_type, "Put the token in the password.")
        )
    if auth_type == KEY_VALUE:
        return key_value_items(conn_id, password)
    if auth_type == OAUTH2:
        from airflow_restjob.connections.settings import url_problem

        token_url = _required(
            conn_id,
            _text(extra, "oauth2_url") or _text(extra, "token_url"),
            "the token URL (extra 'oauth2_url')",
            auth_type,
            "Set extra 'oauth2_url' to the token endpoint URL.",
        )
        problem = url_problem(token_url)
        if problem:
            raise DefinitionError(
                f"Connection '{conn_id}' (oauth2): the token URL (extra 'oauth2_url') {problem}.",
                "Set it to the token endpoint, e.g. https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token.",
            )
        client_auth = _text(extra, "client_auth") or "form"
        if client_auth not in CLIENT_AUTH:
            raise DefinitionError(
                f"Connection '{conn_id}' (oauth2): extra 'client_auth' must be form or basic, got {client_auth!r}.",
                "form: client_id/client_secret in the token request body; basic: HTTP Basic authentication.",
            )
        return OAuth2ClientCredentials(
            token_url=token_url,
            client_id=_required(conn_id, login, "the client id (login)", auth_type, "Set the login."),
            client_secret=_required(
                conn_id, password, "the client secret (password)", auth_type, "Set the password."
            ),
            scope=_text(extra, "scope"),
            resource=_text(extra, "resource"),
            audience=_text(extra, "audience"),
            client_auth=client_auth,
        )
    return aws_role(conn_id, login=login, password=password, extra=extra)


def aws_role(conn_id: str, *, login: str | None, password: str | None, extra: dict[str, Any]) -> AwsRole | None:
    """An ``aws_sigv4`` connection's temporary-credential source; None for a plain static key."""
    role_arn = _text(extra, "role_arn")
    token_file = _text(extra, "web_identity_token_file")
    profile = _text(extra, "profile")
    chain = _text(extra, "credential_source")
    if chain not in (None, "default_chain", "static"):
        raise DefinitionError(
            f"Connection '{conn_id}': extra 'credential_source' must be default_chain or static, got {chain!r}.",
            "default_chain: botocore's chain (environment, shared config, web identity, container, instance).",
        )
    if not (role_arn or token_file or profile or chain == "default_chain"):
        return None
    if token_file and not role_arn:
        raise DefinitionError(
            f"Connection '{conn_id}': 'web_identity_token_file' needs 'role_arn' (the role to assume).",
            "Set extra 'role_arn' (on EKS: the AWS_ROLE_ARN of the service account), or use "
            "credential_source default_chain to take AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE from the environment.",
        )
    if token_file and login:
        raise DefinitionError(
            f"Connection '{conn_id}': a web identity role takes no access key (login).",
            "Remove the login/password, or drop 'web_identity_token_file' to assume the role with the keys.",
        )
    if login and not password:
        raise DefinitionError(
            f"Connection '{conn_id}': the secret access key (password) is missing.",
            "Set the connection's 'AWS secret access key' (password) field.",
        )
    duration = extra.get("duration_seconds")
    if duration not in (None, ""):
        try:
            duration = int(duration)
        except (TypeError, ValueError):
            duration = -1
        if not 900 <= duration <= 43200:
            raise DefinitionError(
                f"Connection '{conn_id}': extra 'duration_seconds' must be 900-43200, got {extra.get('duration_seconds')!r}.",
                "STS sessions last 900 s to the role's maximum (12 h at most); default 3600.",
            )
    sts_endpoint = _text(extra, "sts_endpoint")
    if sts_endpoint:
        from airflow_restjob.connections.settings import url_problem

        problem = url_problem(sts_endpoint)
        if problem:
            raise DefinitionError(
                f"Connection '{conn_id}': extra 'sts_endpoint' {problem}.",
                "Set it to the STS endpoint, e.g. https://sts.ap-northeast-1.amazonaws.com.",
            )
    source = "static" if login else ("profile" if profile else "default_chain")
    return AwsRole(
        source=source,
        role_arn=role_arn,
        external_id=_text(extra, "external_id"),
        session_name=_text(extra, "role_session_name") or DEFAULT_SESSION_NAME,
        duration_seconds=duration or None,
        web_identity_token_file=token_file,
        profile=profile,
        sts_endpoint=sts_endpoint,
        sts_region=_text(extra, "sts_region") or _text(extra, "region"),
        access_key_id=str(login).strip() if login else None,
        secret_access_key=password if login else None,
        session_token=_text(extra, "session_token") if login else None,
    )
