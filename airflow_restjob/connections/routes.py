"""Routes: which Airflow connections one request uses - base URL, signing credentials, proxy.

A Step Functions job uses one ``restjob`` connection for all three. A connection information
file names them per request (``authName``, ``proxyAuthName``, the operator's ``conn_id`` for the
base URL), and a request may be unsigned (no ``authName``) with an absolute URL (``origin``).
A trigger stores its route as explicit kwargs (``conn_id``, ``auth_conn_id``, ``proxy_conn_id``,
``origin``); ``Route.from_legacy_conn_id`` reads the first release's ``restjob-route:{...}`` form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from airflow_restjob.connections.form import CONN_TYPE
from airflow_restjob.connections.settings import (
    ConnectionSettings,
    connection_extra,
    connection_fields,
    transport_options,
    url_problem,
)
from airflow_restjob.credentials.types import PROXY_CONN_TYPE
from airflow_restjob.errors import DefinitionError

LEGACY_ROUTE_PREFIX = "restjob-route:"


@dataclass(frozen=True)
class Route:
    """Which connections one request uses: base URL, signing credentials, proxy."""

    base: str | None = None  # connection whose host is the base URL
    auth: str | None = None  # authName: signs (restjob connection); None = unsigned
    proxy: str | None = None  # proxyAuthName
    origin: str | None = None  # scheme://host of an absolute URL (when no connection has a host)

    @classmethod
    def of(cls, conn_id: str) -> Route:
        """One ``restjob`` connection for everything (Step Functions jobs)."""
        return cls(base=conn_id, auth=conn_id)

    @classmethod
    def for_url(cls, url: str, *, base: str | None, auth: str | None, proxy: str | None) -> Route:
        origin = None
        if "://" in url and "{{" not in url.split("://")[0]:
            parts = urlsplit(url)
            origin = f"{parts.scheme}://{parts.netloc}"
        return cls(base=base or auth, auth=auth, proxy=proxy, origin=origin)

    @classmethod
    def from_legacy_conn_id(cls, conn_id: str) -> Route:
        """A trigger's ``conn_id`` as the first release stored it: a plain id, or ``restjob-route:{json}``."""
        if not conn_id.startswith(LEGACY_ROUTE_PREFIX):
            return cls.of(conn_id)
        return cls(**json.loads(conn_id[len(LEGACY_ROUTE_PREFIX) :]))

    @cached_property
    def key(self) -> str:
        """A string naming the route (its hash is cached: the triggerer looks it up on every poll)."""
        return json.dumps([self.base, self.auth, self.proxy, self.origin], separators=(",", ":"))

    @classmethod
    def from_key(cls, key: str) -> Route:
        base, auth, proxy, origin = json.loads(key)
        return cls(base=base, auth=auth, proxy=proxy, origin=origin)

    @property
    def names(self) -> tuple[str, ...]:
        """The connection ids to read, each once."""
        return tuple(sorted({n for n in (self.base, self.auth, self.proxy) if n}))

    @property
    def single(self) -> bool:
        """One connection does it all (its id is the settings' ``conn_id``)."""
        return bool(self.auth) and self.base == self.auth and not self.proxy

    @property
    def label(self) -> str:
        """How messages name the route: the connection id, or its parts."""
        if self.single:
            return str(self.auth)
        parts = [f"auth={self.auth}" if self.auth else "unsigned"]
        if self.base and self.base != self.auth:
            parts.append(f"base={self.base}")
        if self.proxy:
            parts.append(f"proxy={self.proxy}")
        return ", ".join(parts)

    def settings(self, conns: Mapping[str, Any]) -> ConnectionSettings:
        """Settings for this route from its connections (``conns``: connection id -> Connection)."""
        base = conns.get(self.base) if self.base else None
        auth = conns.get(self.auth) if self.auth else None
        for conn, role in ((auth, "authName"), (conns.get(self.proxy) if self.proxy else None, "proxyAuthName")):
            problem = role_problem(conn, role)
            if problem:
                raise DefinitionError(*problem)
        proxy = proxy_fields(conns[self.proxy]) if self.proxy else None
        if auth is not None:
            fields = connection_fields(auth)
            source = base if base is not None and base.host else auth
            fields.update(
                host=(base.host if base is not None else None) or auth.host or self.origin,
                schema=getattr(source, "schema", None),
                port=getattr(source, "port", None),
            )
            settings = ConnectionSettings.from_fields(auth.conn_id, **fields)
            return replace(settings, conn_id=self.label, **(proxy or {}))
        base_url = ""
        options: dict[str, Any] = {}
        if base is not None:
            extra = connection_extra(base.conn_id, connection_fields(base)["extra"])
            if base.host:
                base_url = ConnectionSettings._base_url(base.conn_id, base.host, base.schema, base.port)
            options = transport_options(base.conn_id, extra)
            if extra.get("proxy_url") and proxy is None:
                proxy = proxy_fields(base)
        return ConnectionSettings.unsigned(self.label, base_url, **options, **(proxy or {}))


def proxy_fields(conn: Any) -> dict[str, Any]:
    """A proxy connection: host (+ port) is the proxy URL, login/password authenticate."""
    extra = connection_extra(conn.conn_id, connection_fields(conn)["extra"])
    url = str(extra.get("proxy_url") or conn.host or "").strip()
    if url and "://" not in url:
        url = "http://" + url + (f":{conn.port}" if getattr(conn, "port", None) else "")
    problem = url_problem(url) if url else "is missing"
    if problem:
        raise DefinitionError(
            f"Connection '{conn.conn_id}' (proxyAuthName): the proxy URL (host) {problem}.",
            "Set the connection's host to the proxy URL (http(s)://host:port), login/password to the "
            "proxy credentials.",
        )
    return {
        "proxy_url": url,
        "proxy_user": conn.login or extra.get("proxy_user") or None,
        "proxy_password": conn.password or extra.get("proxy_password") or None,
    }


def _is_proxy(conn: Any) -> bool:
    conn_type = getattr(conn, "conn_type", None)
    description = str(getattr(conn, "description", None) or "")
    return conn_type == PROXY_CONN_TYPE or description.endswith("credential (proxy)")


def role_problem(conn: Any, role: str) -> tuple[str, str] | None:
    """(cause, fix) when ``conn`` cannot play ``role`` (``authName`` or ``proxyAuthName``); None if it can."""
    if conn is None:
        return None
    if role == "authName" and _is_proxy(conn):
        return (
            f"Connection '{conn.conn_id}' is a proxy ({PROXY_CONN_TYPE}) and cannot authenticate requests "
            "(it is used as authName / conn_id).",
            "Name it as proxyAuthName, and as authName a credential (airflow-restjob credentials list).",
        )
    if role == "proxyAuthName" and getattr(conn, "conn_type", None) == CONN_TYPE:
        return (
            f"Connection '{conn.conn_id}' is a credential ({CONN_TYPE}), not a proxy (it is used as proxyAuthName).",
            f"Name it as authName; as proxyAuthName name a proxy (authType proxy, a {PROXY_CONN_TYPE} connection).",
        )
    return None
