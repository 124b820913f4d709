"""The credential connection, read once and validated: everything a signed call needs.

Connection type ``restjob`` (the scheduler's "credential setting"), stored where Airflow stores
credentials (encrypted connections or any secrets backend):

=================  ==========================================================
field              meaning
=================  ==========================================================
host               API base URL incl. stage, ``https://{id}.execute-api.{region}.amazonaws.com/stage``
login              AWS access key ID
password           AWS secret access key
extra.region       signing region (inferred from an execute-api host when omitted)
extra.session_token  optional STS session token
extra.service      signing service, default ``execute-api``
extra.proxy_url    optional ``http(s)://host:port`` proxy
extra.proxy_user / extra.proxy_password   proxy authentication
extra.tls_verify   true (default) / false
extra.ca_bundle    path of a CA bundle (implies verification)
extra.connect_timeout / extra.read_timeout   seconds (defaults 10 / 60); a whole request
                   (connect, headers, body) gets at most connect + read timeout
extra.max_response_bytes  largest answer read (default 4 MiB; a larger one is end code 8)
=================  ==========================================================

Secret fields are named with words Airflow masks (``password``, ``secret``, ``token``).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from airflow_restjob.errors import DefinitionError

if TYPE_CHECKING:
    from airflow_restjob.credentials.types import Credential

log = logging.getLogger(__name__)

DEFAULT_SERVICE = "execute-api"
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 60.0
# Step Functions answers carry at most 256 KiB of input and 256 KiB of output (JSON-escaped, a
# DescribeExecution answer stays well under 2 MiB); nothing the provider reads needs more
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
EXTRA_PREFIX = "extra__restjob__"
TRANSPORT_FIELDS = (
    "proxy_url",
    "proxy_user",
    "proxy_password",
    "tls_verify",
    "ca_bundle",
    "connect_timeout",
    "read_timeout",
    "max_response_bytes",
)
# extra fields by auth_type (airflow_restjob.credentials.types), besides the transport fields
AUTH_FIELDS: dict[str, tuple[str, ...]] = {
    "aws_sigv4": (
        "region",
        "session_token",
        "service",
        "role_arn",
        "external_id",
        "role_session_name",
        "duration_seconds",
        "web_identity_token_file",
        "profile",
        "credential_source",
        "sts_endpoint",
        "sts_region",
    ),
    "basic": (),
    "bearer": (),
    "key_value": (),
    "oauth2_client_credentials": (
        "oauth2_url",
        "token_url",  # read too; written as oauth2_url (Airflow masks values of keys saying "token")
        "scope",
        "resource",
        "audience",
        "client_auth",
        "preset",
        "tenant_id",
        "authority_host",
        "xsuaa_url",
    ),
}
EXTRA_FIELDS = ("auth_type", *AUTH_FIELDS["aws_sigv4"], *TRANSPORT_FIELDS)
# aws partition prefixes: us, eu, ap, sa, ca, me, af, il, mx, cn, us-gov, us-iso(b)
REGION_RE = re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx|cn)(-gov|-iso|-isob)?-[a-z]+-\d{1,2}$")
EXECUTE_API_HOST_RE = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
# the Step Functions API itself: states.{region}.amazonaws.com, FIPS, VPC endpoints (...states.{region}.vpce...)
STATES_HOST_RE = re.compile(r"(?:^|\.)states(?:-fips)?\.([a-z0-9-]+)\.(?:vpce\.)?amazonaws\.com(\.cn)?$")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _as_bool(value: Any, *, conn_id: str, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise DefinitionError(
        f"Connection '{conn_id}': extra field '{name}' must be true or false, got {value!r}.",
        f"Set '{name}' to true or false in the connection's extra.",
    )


def _as_seconds(value: Any, default: float, *, conn_id: str, name: str) -> float:
    if value in (None, ""):
        return default
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if seconds <= 0:
        raise DefinitionError(
            f"Connection '{conn_id}': extra field '{name}' must be a positive number of seconds, got {value!r}.",
            f"Set '{name}' to e.g. {default:g}.",
        )
    return seconds


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a base or proxy URL (None: it can); never echoes a password it holds."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError as exc:
        return f"is not a URL ({exc})"
    if parts.username is not None or parts.password is not None:
        shown = parts._replace(netloc=f"***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else ""))
        return (
            f"holds a user/password ({shown.geturl()}); a URL is stored and shown in plain text, "
            "so credentials go in their own (encrypted) fields"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"needs a scheme and host (http(s)://host:port), got {url!r}"
    return None


def connection_extra(conn_id: str, extra: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """A connection's extra as a dict: JSON text parsed, Airflow 3.1's form prefix
    (``extra__restjob__<name>``; 3.2+ store names unprefixed) removed, empty values dropped."""
    if extra is None:
        return {}
    if isinstance(extra, str):
        try:
            extra = json.loads(extra) if extra.strip() else {}
        except ValueError as exc:
            raise DefinitionError(
                f"Connection '{conn_id}': extra is not valid JSON ({exc}).",
                "Write the extra field as a JSON object.",
            ) from None
    if not isinstance(extra, Mapping):
        raise DefinitionError(
            f"Connection '{conn_id}': extra must be a JSON object, got {type(extra).__name__}.",
            "Write the extra field as a JSON object.",
        )
    return {k.removeprefix(EXTRA_PREFIX): v for k, v in extra.items() if v not in (None, "")}


def transport_options(conn_id: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    """TLS verification and timeouts from a connection's (normalized) extra."""
    verify: bool | str = _as_bool(extra.get("tls_verify", True), conn_id=conn_id, name="tls_verify")
    if extra.get("ca_bundle"):
        verify = str(extra["ca_bundle"])
    return {
        "verify": verify,
        "connect_timeout": _as_seconds(
            extra.get("connect_timeout"), DEFAULT_CONNECT_TIMEOUT, conn_id=conn_id, name="connect_timeout"
        ),
        "read_timeout": _as_seconds(
            extra.get("read_timeout"), DEFAULT_READ_TIMEOUT, conn_id=conn_id, name="read_timeout"
        ),
        "max_response_bytes": _as_byte_count(extra.get("max_response_bytes"), conn_id=conn_id),
    }


def _as_byte_count(value: Any, *, conn_id: str) -> int:
    if value in (None, ""):
        return DEFAULT_MAX_RESPONSE_BYTES
    try:
        count = int(value) if not isinstance(value, bool) and float(value) == int(float(value)) else 0
    except (TypeError, ValueError, OverflowError):
        count = 0
    if count < 1024:
        raise DefinitionError(
            f"Connection '{conn_id}': extra field 'max_response_bytes' must be a whole number of bytes "
            f"of at least 1024, got {value!r}.",
            f"Set 'max_response_bytes' to e.g. {DEFAULT_MAX_RESPONSE_BYTES} (4 MiB, the default), or remove it.",
        )
    return count


def connection_fields(conn: Any) -> dict[str, Any]:
    """The fields of an Airflow ``Connection`` (sdk or core) that settings are built from."""
    return {
        "host": conn.host,
        "login": conn.login,
        "password": conn.password,
        "extra": conn.extra_dejson if hasattr(conn, "extra_dejson") else getattr(conn, "extra", None),
        "schema": getattr(conn, "schema", None),
        "port": getattr(conn, "port", None),
    }


@dataclass(frozen=True)
class ConnectionSettings:
    """Validated settings of one ``restjob`` connection. Secrets are excluded from ``repr``."""

    conn_id: str
    base_url: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    region: str
    session_token: str | None = field(default=None, repr=False)
    service: str = DEFAULT_SERVICE
    proxy_url: str | None = None
    proxy_user: str | None = None
    proxy_password: str | None = field(default=None, repr=False)
    verify: bool | str = True
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    auth_type: str | None = "aws_sigv4"  # None: requests go unauthenticated (no authName)
    credential: Credential | None = field(default=None, repr=False)  # all but a static AWS key

    @classmethod
    def from_fields(
        cls,
        conn_id: str,
        *,
        host: str | None,
        login: str | None,
        password: str | None,
        extra: dict[str, Any] | str | None,
        schema: str | None = None,
        port: int | None = None,
    ) -> ConnectionSettings:
        """Validate raw connection fields; every error names the connection and the field."""
        from airflow_restjob.credentials import types
        from airflow_restjob.credentials.types import AwsRole

        extra = connection_extra(conn_id, extra)
        auth_type = types.auth_type_of(conn_id, extra)
        allowed = ("auth_type", *AUTH_FIELDS[auth_type], *TRANSPORT_FIELDS)
        unknown = sorted(set(extra) - set(allowed))
        if unknown:
            raise DefinitionError(
                f"Connection '{conn_id}': unknown extra field(s) {unknown} for auth_type {auth_type}.",
                f"Allowed extra fields: {', '.join(allowed)}.",
            )
        base_url = cls._base_url(conn_id, host, schema, port)
        credential = types.from_connection_fields(
            conn_id, auth_type, login=login, password=password, extra=extra
        )
        proxy = cls._proxy(conn_id, extra)
        if auth_type != types.AWS_SIGV4:
            return cls(
                conn_id=conn_id,
                base_url=base_url,
                access_key_id="",
                secret_access_key="",
                region="",
                auth_type=auth_type,
                credential=credential,
                **proxy,
                **transport_options(conn_id, extra),
            )
        if credential is not None:
            from airflow_restjob.credentials.aws import require_botocore

            require_botocore(conn_id)
        elif not login:
            raise DefinitionError(
                f"Connection '{conn_id}': the access key ID (login) is missing.",
                "Set the connection's 'AWS access key ID' (login) field.",
            )
        if login and not password:
            raise DefinitionError(
                f"Connection '{conn_id}': the secret access key (password) is missing.",
                "Set the connection's 'AWS secret access key' (password) field.",
            )
        region = str(extra.get("region") or "").strip()
        if not region:
            hostname = urlsplit(base_url).hostname or ""
            match = EXECUTE_API_HOST_RE.search(hostname) or STATES_HOST_RE.search(hostname)
            if not match:
                raise DefinitionError(
                    f"Connection '{conn_id}': the region is missing (extra field 'region').",
                    "Set extra 'region' to the API's AWS Region, e.g. ap-northeast-1 (it is taken from "
                    "an execute-api or states.{region}.amazonaws.com host when empty).",
                )
            region = match.group(1)
        if not REGION_RE.match(region):
            raise DefinitionError(
                f"Connection '{conn_id}': extra field 'region' is not an AWS Region: {region!r}.",
                "Use a Region code such as us-east-1 or ap-northeast-1.",
            )
        if isinstance(credential, AwsRole) and credential.sts_region is None:
            credential = replace(credential, sts_region=region)
        static = credential is None
        return cls(
            conn_id=conn_id,
            base_url=base_url,
            access_key_id=str(login).strip() if static else "",
            secret_access_key=str(password) if static else "",
            region=region,
            session_token=(extra.get("session_token") or None) if static else None,
            service=str(extra.get("service") or cls._default_service(base_url)),
            credential=credential,
            **proxy,
            **transport_options(conn_id, extra),
        )

    @staticmethod
    def _default_service(base_url: str) -> str:
        """``states`` for the Step Functions API's own hosts (the direct API), else ``execute-api``."""
        return "states" if STATES_HOST_RE.search(urlsplit(base_url).hostname or "") else DEFAULT_SERVICE

    @staticmethod
    def _proxy(conn_id: str, extra: Mapping[str, Any]) -> dict[str, Any]:
        proxy_url = extra.get("proxy_url") or None
        problem = url_problem(str(proxy_url)) if proxy_url else None
        if problem:
            raise DefinitionError(
                f"Connection '{conn_id}': extra field 'proxy_url' {problem}.",
                "Write it as http://proxy.example.com:8080; the proxy's user and password go in "
                "proxy_user / proxy_password.",
            )
        return {
            "proxy_url": proxy_url,
            "proxy_user": extra.get("proxy_user") or None,
            "proxy_password": extra.get("proxy_password") or None,
        }

    @classmethod
    def from_connection(cls, conn: Any) -> ConnectionSettings:
        """Build from an Airflow ``Connection`` (sdk or core)."""
        return cls.from_fields(conn.conn_id, **connection_fields(conn))

    @staticmethod
    def _base_url(conn_id: str, host: str | None, schema: str | None, port: int | None) -> str:
        if not host:
            raise DefinitionError(
                f"Connection '{conn_id}': the API base URL (host) is missing.",
                "Set it to https://{api-id}.execute-api.{region}.amazonaws.com/{stage}.",
            )
        url = host.strip()
        if "://" not in url:
            # host without scheme (URI-style connection): rebuild from host/port/schema
            url = "https://" + url + (f":{port}" if port else "") + (f"/{schema}" if schema else "")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DefinitionError(
                f"Connection '{conn_id}': the API base URL {host!r} is not an http(s) URL.",
                "Set it to https://{api-id}.execute-api.{region}.amazonaws.com/{stage}.",
            )
        if parts.scheme == "http":
            if not _is_loopback(parts.hostname):
                raise DefinitionError(
                    f"Connection '{conn_id}': the API base URL {url!r} is not HTTPS.",
                    "Use https:// (plain http is allowed only for loopback sandboxes).",
                )
            log.warning("Connection '%s' uses plain http on loopback (%s): sandbox only.", conn_id, url)
        return url.rstrip("/")

    @classmethod
    def unsigned(
        cls,
        conn_id: str,
        base_url: str = "",
        *,
        proxy_url: str | None = None,
        proxy_user: str | None = None,
        proxy_password: str | None = None,
        verify: bool | str = True,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> ConnectionSettings:
        """Settings for requests sent without signing (no ``authName``): no keys, maybe no base URL."""
        return cls(
            conn_id=conn_id,
            base_url=base_url.rstrip("/"),
            access_key_id="",
            secret_access_key="",
            region="",
            proxy_url=proxy_url,
            proxy_user=proxy_user,
            proxy_password=proxy_password,
            verify=verify,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_response_bytes=max_response_bytes,
            auth_type=None,
        )

    @property
    def signed(self) -> bool:
        """The requests carry credentials (any auth type); False for ``unsigned()`` settings."""
        return self.auth_type is not None

    @property
    def sigv4(self) -> bool:
        return self.auth_type == "aws_sigv4"

    # --- helpers used by both transports -------------------------------------------------------
    def url(self, path: str) -> str:
        """Resolve ``path`` against the base URL; an absolute URL is returned unchanged (and checked:
        credentials never go over plain http to a host that is not loopback)."""
        if "://" in path:
            parts = urlsplit(path)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise DefinitionError(
                    f"{path!r} is not an http(s) URL (connection '{self.conn_id}').",
                    "Write an absolute https:// URL or a path relative to the connection's base URL.",
                )
            if parts.scheme == "http" and self.signed and not _is_loopback(parts.hostname):
                raise DefinitionError(
                    f"{path!r} is plain http to {parts.hostname}, and the request is signed with "
                    f"connection '{self.conn_id}': its signature and session token would travel in clear.",
                    "Use https:// (plain http is allowed only for loopback sandboxes).",
                )
            return path
        if not self.base_url:
            raise DefinitionError(
                f"{path!r} is a relative URL but '{self.conn_id}' has no base URL.",
                "Write an absolute http(s):// URL, or name a connection whose host is the base URL.",
            )
        return urljoin(self.base_url + "/", path.lstrip("/"))

    @property
    def secrets(self) -> tuple[str, ...]:
        own = (self.secret_access_key, self.session_token, self.proxy_password)
        return tuple(s for s in own if s) + (self.credential.secrets if self.credential is not None else ())

    def redact(self, text: str) -> str:
        """Replace every secret of this connection (and every token or temporary credential this
        process holds) that appears in ``text`` with ``***``."""
        from airflow_restjob.credentials.cache import live_secrets

        for secret in sorted({*self.secrets, *live_secrets()}, key=len, reverse=True):
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    @property
    def proxy_url_with_auth(self) -> str | None:
        if not self.proxy_url:
            return None
        if not self.proxy_user:
            return self.proxy_url
        from urllib.parse import quote

        parts = urlsplit(self.proxy_url)
        cred = quote(self.proxy_user, safe="") + ":" + quote(self.proxy_password or "", safe="")
        return parts._replace(netloc=f"{cred}@{parts.netloc}").geturl()
