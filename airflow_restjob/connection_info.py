"""Connection information files: the scheduler's REST job definition, loaded as it is.

A connection information file is a UTF-8 JSON object with three sections (key names as in the
job scheduler's manual)::

    {
      "request":     {"url": "start-execution", "method": "POST", "authName": "restjob_default",
                      "body": "main_body.json", "takeoverKeys": ["executionArn"],
                      "jobnetValKeys": ["executionArn"]},
      "monitoring":  {"url": "describe-execution", "authName": "restjob_default",
                      "body": "moni_body.json", "firstMonitorInterval": 5, "pollingInterval": 10,
                      "pollingCount": 360, "pollingEndKey": "status",
                      "pollingEndVal": ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"],
                      "checkResultKey": "status", "checkResultVal": ["SUCCEEDED"]},
      "termination": {"url": "stop-execution", "authName": "restjob_default", "body": "term_body.json"}
    }

Decisions (the manual does not give units, defaults or the path syntax):

* ``request`` is required; ``monitoring`` and ``termination`` are optional.  Without
  ``monitoring`` the job ends (successfully) when the start request answers 2xx.
* ``url``: an absolute ``http(s)://`` URL, or a path relative to the base URL (the ``host``) of
  the operator's ``conn_id`` connection or, when ``conn_id`` is not given, of the ``authName``
  connection.  At most 2083 bytes.  Signed requests need https (plain http only on loopback).
* ``method``: GET, PUT, POST or DELETE (any case).  Default: POST when there is a body, else GET.
* ``authName``: the Airflow connection whose credentials sign the request (a ``restjob``
  connection: AWS SigV4).  Absent: the request is sent unsigned.  ``proxyAuthName``: an Airflow
  connection whose host is the proxy URL and whose login/password authenticate at the proxy.
  ``monitoring`` and ``termination`` must use the same ``authName``/``proxyAuthName`` (the
  triggerer sends both through one client).
* ``query`` (object of scalars or lists of scalars) and ``header`` (object of strings).  Never put
  secrets there: the monitoring/termination requests are stored in the trigger table in plain
  text; credentials belong in the ``authName`` connection.  Default header
  ``content-type: application/json``.
* ``body``: an inline JSON value (object or array, its strings are templates), or a string: a
  JSON text when it starts with ``{`` or ``[``, otherwise the path of a body file relative to the
  connection information file.  Every string of a request (url, query and header values, body)
  is rendered with Jinja and the Airflow task context; ``monitoring`` and ``termination`` also
  see ``takeover`` (``{{ takeover.executionArn }}``).  A body must render to valid JSON (end code 2).
  Rendering uses strict undefined variables; these strings are not operator template fields.
* ``takeoverKeys``: JMESPath expressions (``executionArn``, ``job.id``, ``items[0].id``) read from
  the start response; ``{"name": "path"}`` gives a value a name.  A name referenced by a
  monitoring/termination string but not declared is a definition error at DAG parse time.  The
  first takeover value is the job id (XCom ``job_id``); a missing one is end code 8.
* ``jobnetValKeys``: JMESPath expressions (or ``{"xcom_key": "path"}``) copied to XCom: from the
  start response (``request``) and from the last monitoring response (``monitoring``).  A missing
  value is pushed as null with a warning.
* Times are seconds (int or float): ``timeout`` (read timeout of one HTTP request, default the
  connection's ``read_timeout``, 60), ``firstMonitorInterval`` (default ``pollingInterval``),
  ``pollingInterval`` (default 10, >= 1).  ``pollingCount`` (polls before giving up; default
  unbounded, the operator's ``max_wait`` still applies): when used up the job is terminated and
  the task fails with end code 6.
* ``pollingEndKey``/``pollingEndVal`` are required in ``monitoring``; ``checkResultKey`` defaults to
  ``pollingEndKey``; without ``checkResultVal`` every end value counts as success.  Values compare
  as strings.
* ``resBody``/``resHeader``: a file path (Jinja-rendered, relative to the connection information
  file) where the response body / headers (JSON) are written: in ``request`` the start response,
  ``resBody`` in ``monitoring`` the last monitoring response.  ``resHeader`` in ``monitoring`` and
  both in ``termination`` are ignored with a warning (the triggerer does not keep them).  A failed
  write is end code 3.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from jinja2 import nodes

from airflow_restjob.errors import AuthError, DefinitionError, FileOperationError
from airflow_restjob.hook import RestJobHook
from airflow_restjob.job import compile_path
from airflow_restjob.settings import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    ConnectionSettings,
    _as_bool,
    _as_seconds,
)

log = logging.getLogger(__name__)

MAX_URL_BYTES = 2083
METHODS = ("GET", "PUT", "POST", "DELETE")
DEFAULT_POLLING_INTERVAL = 10.0
DEFAULT_HEADERS = {"content-type": "application/json", "accept": "application/json"}
REQUEST_KEYS = (
    "url",
    "method",
    "authName",
    "proxyAuthName",
    "query",
    "header",
    "body",
    "resHeader",
    "resBody",
    "timeout",
)
SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "request": REQUEST_KEYS + ("takeoverKeys", "jobnetValKeys"),
    "monitoring": REQUEST_KEYS
    + (
        "jobnetValKeys",
        "pollingInterval",
        "pollingCount",
        "firstMonitorInterval",
        "pollingEndKey",
        "pollingEndVal",
        "checkResultKey",
        "checkResultVal",
    ),
    "termination": REQUEST_KEYS,
}
ALL_KEYS = sorted({k for keys in SECTION_KEYS.values() for k in keys})
TAKEOVER = "takeover"
ROUTE_PREFIX = "restjob-route:"


# --- the definition ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Body:
    """A request body: an inline JSON value whose strings are templates, or a JSON text template."""

    value: Any = None  # inline JSON value (kind "inline")
    text: str | None = None  # JSON text template (kinds "text" and "file")
    kind: str = "inline"
    path: str | None = None  # body file (kind "file")

    def templates(self) -> list[str]:
        return [self.text] if self.text is not None else list(_strings(self.value))


@dataclass(frozen=True)
class RequestDef:
    section: str
    url: str
    method: str
    auth_name: str | None = None
    proxy_auth_name: str | None = None
    query: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    body: Body | None = None
    res_header: str | None = None
    res_body: str | None = None
    timeout: float | None = None
    takeover_keys: dict[str, str] = field(default_factory=dict)
    jobnet_val_keys: dict[str, str] = field(default_factory=dict)

    def templates(self) -> list[tuple[str, str]]:
        """(JSON path, template) of every string rendered with Jinja."""
        out = [(f"{self.section}.url", self.url)]
        for k, v in (self.query or {}).items():
            out += [(f"{self.section}.query.{k}", s) for s in _strings(v)]
        out += [(f"{self.section}.header.{k}", v) for k, v in (self.headers or {}).items()]
        if self.body is not None:
            where = f"{self.section}.body" + (f" ({self.body.path})" if self.body.path else "")
            out += [(where, s) for s in self.body.templates()]
        return out


@dataclass(frozen=True)
class MonitoringDef:
    request: RequestDef
    polling_interval: float
    first_monitor_interval: float
    polling_count: int | None
    end_key: str
    end_values: tuple[str, ...]
    result_key: str
    success_values: tuple[str, ...]


@dataclass(frozen=True)
class ConnectionInfo:
    """A validated connection information file."""

    source: str  # the file (or "<inline>") named in every message
    base_dir: str
    request: RequestDef
    monitoring: MonitoringDef | None = None
    termination: RequestDef | None = None

    @property
    def wait_request(self) -> RequestDef | None:
        """The request whose connection the triggerer uses (monitoring, else termination)."""
        if self.monitoring is not None:
            return self.monitoring.request
        return self.termination


# --- loading -------------------------------------------------------------------------------------
def find_file(name: str, search_dirs: list[str]) -> Path:
    """``name`` if absolute, else the first of ``search_dirs``/name that exists."""
    path = Path(name).expanduser()
    if path.is_absolute():
        candidates = [path]
    else:
        candidates = [Path(d) / path for d in search_dirs]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise FileOperationError(
        f"Connection information file {name!r} was not found (looked in: "
        + ", ".join(str(c.parent) for c in candidates)
        + ").",
        "Give an absolute path, or a path relative to the DAG file or to the DAG's template_searchpath.",
    )


def load(source: str | os.PathLike[str] | Mapping[str, Any], search_dirs: list[str]) -> ConnectionInfo:
    """Read and validate a connection information file (or an already parsed dict)."""
    if isinstance(source, Mapping):
        return parse(source, "<inline connection_info>", search_dirs[0] if search_dirs else os.getcwd())
    path = find_file(str(source), search_dirs)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileOperationError(
            f"{path}: cannot be read as UTF-8 text ({exc}).", "Check the file and its permissions."
        ) from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DefinitionError(
            f"{path}: not valid JSON ({exc}).", "Fix the JSON syntax (a linter such as `jq .` shows where)."
        ) from None
    return parse(data, str(path), str(path.parent))


def parse(data: Any, source: str, base_dir: str) -> ConnectionInfo:
    checker = _Checker(source, base_dir)
    if not isinstance(data, dict):
        checker.fail("$", "a JSON object with 'request' (and optional 'monitoring', 'termination')", data)
    checker.unknown_keys(data, ("request", "monitoring", "termination"), "$")
    if "request" not in data:
        checker.fail("request", "the 'request' object (the start request); it is missing", None)
    request = checker.request("request", data["request"])
    monitoring = checker.monitoring(data["monitoring"]) if data.get("monitoring") is not None else None
    termination = (
        checker.request("termination", data["termination"]) if data.get("termination") is not None else None
    )
    info = ConnectionInfo(source, base_dir, request, monitoring, termination)
    checker.cross_checks(info)
    return info


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )


class _Checker:
    """Validation with messages that name the file, the JSON path and what was expected."""

    def __init__(self, source: str, base_dir: str) -> None:
        self.source = source
        self.base_dir = base_dir
        self.env = jinja2.Environment()

    def fail(self, where: str, expected: str, got: Any, fix: str = "") -> Any:
        shown = f"{_type_name(got)} {json.dumps(got, default=str)[:80]}" if got is not None else "nothing"
        raise DefinitionError(
            f"{self.source}: {where}: expected {expected}, got {shown}.",
            fix or "Fix the connection information file (see the README, 'Connection information files').",
        )

    def unknown_keys(self, obj: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for key in obj:
            if key in allowed:
                continue
            guess = difflib.get_close_matches(key, allowed, n=1) or difflib.get_close_matches(
                key, ALL_KEYS, n=1
            )
            hint = f" Did you mean '{guess[0]}'?" if guess else ""
            if guess and guess[0] == key:  # a known key in the wrong section
                hint = f" '{key}' is not allowed in {where}."
            raise DefinitionError(
                f"{self.source}: {where}.{key}: unknown key.{hint}",
                f"Allowed keys in {where}: {', '.join(allowed)}.",
            )

    def string(self, where: str, value: Any, *, optional: bool = True) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(where, "a non-empty string", value)
        return str(value)

    def seconds(self, where: str, value: Any, minimum: float, maximum: float = 7 * 24 * 3600) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not minimum <= value <= maximum:
            self.fail(where, f"a number of seconds from {minimum:g} to {maximum:g}", value)
        return float(value)

    def keys(self, where: str, value: Any) -> dict[str, str]:
        """takeoverKeys / jobnetValKeys: a list of JMESPaths or an object name -> JMESPath."""
        if value is None:
            return {}
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            pairs = [(v, v) for v in value]
        elif isinstance(value, dict):
            pairs = list(value.items())
        else:
            return self.fail(where, 'an array of key paths such as ["executionArn"]', value)
        out: dict[str, str] = {}
        for i, (name, path) in enumerate(pairs):
            if not isinstance(name, str) or not isinstance(path, str) or not name or not path:
                self.fail(f"{where}[{i}]", "a non-empty string (a key path)", path)
            try:
                compile_path(path, f"{where}[{i}]")
            except DefinitionError as exc:
                raise DefinitionError(f"{self.source}: {exc.cause}", exc.fix) from None
            out[name] = path
        return out

    def scalars(self, where: str, value: Any, *, optional: bool) -> tuple[str, ...] | None:
        if value is None and optional:
            return None
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, (str, int, float, bool)) for v in value)
        ):
            self.fail(where, 'a non-empty array of values such as ["DONE"]', value)
        return tuple(str(v) for v in value)

    def path(self, where: str, value: Any, *, optional: bool) -> str | None:
        text = self.string(where, value, optional=optional)
        if text is not None:
            try:
                compile_path(text, where)
            except DefinitionError as exc:
                raise DefinitionError(f"{self.source}: {where}: {exc.cause}", exc.fix) from None
        return text

    def body(self, where: str, value: Any) -> Body | None:
        if value is None:
            return None
        if isinstance(value, (dict, list)):
            return Body(value=value, kind="inline")
        if not isinstance(value, str) or not value.strip():
            return self.fail(where, "a JSON object/array, a JSON text or the path of a body file", value)
        if value.lstrip().startswith(("{", "[")):
            self._check_static_json(where, value, None)
            return Body(text=value, kind="text")
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = Path(self.base_dir) / path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FileOperationError(
                f"{self.source}: {where}: body file {value!r} was not found ({path}).",
                "Put the body file next to the connection information file, or give an absolute path.",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise FileOperationError(
                f"{self.source}: {where}: body file {path} cannot be read as UTF-8 ({exc}).",
                "Check the file and its permissions.",
            ) from None
        self._check_static_json(where, text, str(path))
        return Body(text=text, kind="file", path=str(path))

    def _check_static_json(self, where: str, text: str, path: str | None) -> None:
        """A body without Jinja must already be JSON: say so at parse time, not at run time."""
        if "{{" in text or "{%" in text:
            return
        try:
            json.loads(text)
        except ValueError as exc:
            raise DefinitionError(
                f"{self.source}: {where}: "
                + (f"body file {path} " if path else "body ")
                + f"is not valid JSON ({exc}).",
                "Fix the body's JSON.",
            ) from None

    def request(self, section: str, raw: Any) -> RequestDef:
        if not isinstance(raw, dict):
            self.fail(section, "an object", raw)
        self.unknown_keys(raw, SECTION_KEYS[section], section)
        url = self.string(f"{section}.url", raw.get("url"), optional=False)
        assert url is not None
        if len(url.encode("utf-8")) > MAX_URL_BYTES:
            self.fail(f"{section}.url", f"a URL of at most {MAX_URL_BYTES} bytes", url)
        if "://" in url and "{{" not in url.split("://")[0]:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                self.fail(f"{section}.url", "an http(s):// URL or a path relative to the base URL", url)
        body = self.body(f"{section}.body", raw.get("body"))
        method = raw.get("method")
        if method is None:
            method = "POST" if body is not None else "GET"
        if not isinstance(method, str) or method.upper() not in METHODS:
            self.fail(f"{section}.method", "one of " + ", ".join(METHODS), method)
        query = raw.get("query")
        if query is not None and (
            not isinstance(query, dict)
            or not all(
                isinstance(v, (str, int, float, bool))
                or (isinstance(v, list) and all(isinstance(x, (str, int, float, bool)) for x in v))
                for v in query.values()
            )
        ):
            self.fail(f"{section}.query", "an object of strings, numbers or arrays of them", query)
        headers = raw.get("header")
        if headers is not None and (
            not isinstance(headers, dict)
            or not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in headers.values())
        ):
            self.fail(
                f"{section}.header", 'an object of header names to strings ({"X-Team": "ops"})', headers
            )
        for key in ("resHeader", "resBody"):
            self.string(f"{section}.{key}", raw.get(key))
        return RequestDef(
            section=section,
            url=url,
            method=method.upper(),
            auth_name=self.string(f"{section}.authName", raw.get("authName")),
            proxy_auth_name=self.string(f"{section}.proxyAuthName", raw.get("proxyAuthName")),
            query=dict(query) if query else None,
            headers={str(k): str(v) for k, v in headers.items()} if headers else None,
            body=body,
            res_header=raw.get("resHeader"),
            res_body=raw.get("resBody"),
            timeout=self.seconds(f"{section}.timeout", raw.get("timeout"), 0.1, 3600),
            takeover_keys=self.keys(f"{section}.takeoverKeys", raw.get("takeoverKeys")),
            jobnet_val_keys=self.keys(f"{section}.jobnetValKeys", raw.get("jobnetValKeys")),
        )

    def monitoring(self, raw: Any) -> MonitoringDef:
        request = self.request("monitoring", raw)
        interval = self.seconds("monitoring.pollingInterval", raw.get("pollingInterval"), 1)
        interval = DEFAULT_POLLING_INTERVAL if interval is None else interval
        first = self.seconds("monitoring.firstMonitorInterval", raw.get("firstMonitorInterval"), 0)
        count = raw.get("pollingCount")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            self.fail("monitoring.pollingCount", "a whole number >= 1 (polls before giving up)", count)
        if raw.get("pollingEndKey") is None:
            self.fail(
                "monitoring.pollingEndKey",
                'the key path whose value ends the polling, e.g. "status"; it is missing',
                None,
            )
        end_key = self.path("monitoring.pollingEndKey", raw.get("pollingEndKey"), optional=False)
        if raw.get("pollingEndVal") is None:
            self.fail("monitoring.pollingEndVal", 'the values that end polling, e.g. ["DONE", "ERROR"]', None)
        end_values = self.scalars("monitoring.pollingEndVal", raw.get("pollingEndVal"), optional=False)
        result_key = self.path("monitoring.checkResultKey", raw.get("checkResultKey"), optional=True)
        success = self.scalars("monitoring.checkResultVal", raw.get("checkResultVal"), optional=True)
        if result_key is not None and success is None:
            self.fail("monitoring.checkResultVal", "the success values for checkResultKey", None)
        if success is None:
            log.warning(
                "%s: monitoring has no checkResultVal: every end value (%s) counts as success.",
                self.source,
                end_values,
            )
        assert end_key is not None and end_values is not None
        if request.res_header:
            log.warning(
                "%s: monitoring.resHeader is ignored (the triggerer does not keep headers).", self.source
            )
        return MonitoringDef(
            request=request,
            polling_interval=interval,
            first_monitor_interval=interval if first is None else first,
            polling_count=count,
            end_key=end_key,
            end_values=end_values,
            result_key=result_key or end_key,
            success_values=success or end_values,
        )

    def cross_checks(self, info: ConnectionInfo) -> None:
        declared = set(info.request.takeover_keys)
        sections: list[RequestDef] = [info.request]
        if info.monitoring is not None:
            sections.append(info.monitoring.request)
        if info.termination is not None:
            sections.append(info.termination)
            if info.termination.res_body or info.termination.res_header:
                log.warning("%s: termination.resBody/resHeader are ignored.", self.source)
        for request in sections:
            for where, template in request.templates():
                names = self._takeover_names(where, template)
                if names and request.section == "request":
                    raise DefinitionError(
                        f"{self.source}: {where}: references {TAKEOVER}.{sorted(names)[0]}, but takeover "
                        "values exist only after the start response.",
                        "Use takeover values in monitoring and termination only.",
                    )
                missing = sorted(names - declared)
                if missing:
                    raise DefinitionError(
                        f"{self.source}: {where}: references {TAKEOVER}.{missing[0]}, which "
                        f"request.takeoverKeys does not declare (declared: {sorted(declared) or 'none'}).",
                        f'Add "{missing[0]}" to request.takeoverKeys, or fix the name.',
                    )
        monitor, term = info.monitoring, info.termination
        if monitor is not None and term is not None:
            for attr, key in (("auth_name", "authName"), ("proxy_auth_name", "proxyAuthName")):
                if getattr(monitor.request, attr) != getattr(term, attr):
                    raise DefinitionError(
                        f"{self.source}: termination.{key}: expected the same value as monitoring.{key} "
                        f"({getattr(monitor.request, attr)!r}), got {getattr(term, attr)!r}.",
                        "The triggerer sends monitoring and termination through one connection: use one.",
                    )

    def _takeover_names(self, where: str, template: str) -> set[str]:
        if "{" not in template:
            return set()
        try:
            tree = self.env.parse(template)
        except jinja2.TemplateSyntaxError as exc:
            raise DefinitionError(
                f"{self.source}: {where}: Jinja syntax error at line {exc.lineno}: {exc.message}.",
                "Fix the template ({{ ... }}).",
            ) from None
        names: set[str] = set()
        for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
            target = getattr(node, "node", None)
            if isinstance(target, nodes.Name) and target.name == TAKEOVER:
                if isinstance(node, nodes.Getattr):
                    names.add(node.attr)
                elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
                    if isinstance(node.arg.value, str):
                        names.add(node.arg.value)
        return names


# --- rendering -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rendered:
    """One request with its templates rendered: what the client sends."""

    url: str
    method: str
    query: dict[str, Any] | None
    headers: dict[str, str]
    body: Any  # JSON value (dict/list) or JSON text
    timeout: float | None


class Renderer:
    """Renders a request's templates with the task context (+ ``takeover``), strictly."""

    def __init__(self, source: str, env: jinja2.Environment, context: Mapping[str, Any]) -> None:
        self.source = source
        self.env = env.overlay(undefined=jinja2.StrictUndefined)
        self.context = dict(context)

    def _render(self, where: str, template: str, takeover: Mapping[str, Any] | None) -> str:
        if "{" not in template:
            return template
        variables = {**self.context, TAKEOVER: dict(takeover or {})}
        try:
            return self.env.from_string(template).render(**variables)
        except jinja2.TemplateError as exc:
            raise DefinitionError(
                f"{self.source}: {where}: the template does not render: {type(exc).__name__}: {exc}.",
                "Fix the template; only the task context and declared takeover values are available.",
            ) from None

    def _value(self, where: str, value: Any, takeover: Mapping[str, Any] | None) -> Any:
        if isinstance(value, str):
            return self._render(where, value, takeover)
        if isinstance(value, dict):
            return {k: self._value(f"{where}.{k}", v, takeover) for k, v in value.items()}
        if isinstance(value, list):
            return [self._value(f"{where}[{i}]", v, takeover) for i, v in enumerate(value)]
        return value

    def request(self, req: RequestDef, takeover: Mapping[str, Any] | None = None) -> Rendered:
        s = req.section
        body: Any = None
        if req.body is not None:
            if req.body.text is None:
                body = self._value(f"{s}.body", req.body.value, takeover)
            else:
                where = f"{s}.body" + (f" (file {req.body.path})" if req.body.path else "")
                text = self._render(where, req.body.text, takeover)
                try:
                    body = json.loads(text)
                except ValueError as exc:
                    raise DefinitionError(
                        f"{self.source}: {where}: renders to invalid JSON ({exc}): {text[:300]!r}",
                        "Fix the body template so it renders to JSON (quote string values: "
                        '"{{ ... }}", or use | tojson).',
                    ) from None
                if not isinstance(body, (dict, list)):
                    body = text.strip()
        query = self._value(f"{s}.query", req.query, takeover) if req.query else None
        headers = {**DEFAULT_HEADERS}
        for name, value in (req.headers or {}).items():
            headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
            headers[name] = self._render(f"{s}.header.{name}", value, takeover)
        return Rendered(
            url=self._render(f"{s}.url", req.url, takeover),
            method=req.method,
            query=query,
            headers=headers,
            body=body,
            timeout=req.timeout,
        )

    def path(self, where: str, template: str, base_dir: str) -> Path:
        path = Path(self._render(where, template, None)).expanduser()
        return path if path.is_absolute() else Path(base_dir) / path


def write_response(source: str, where: str, path: Path, data: Any) -> None:
    """``resBody`` / ``resHeader``: write a response as JSON; failure is end code 3."""
    try:
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    except OSError as exc:
        raise FileOperationError(
            f"{source}: {where}: cannot write the response to {path} ({exc}).",
            "Create the directory or fix its permissions, or remove the key.",
        ) from None


def extract(keys: Mapping[str, str], response: Any) -> dict[str, Any]:
    from airflow_restjob.job import search

    return {name: search(path, response) for name, path in keys.items()}


# --- connections: authName / proxyAuthName / the base URL ----------------------------------------
@dataclass(frozen=True)
class Route:
    """Which connections one request uses: base URL, signing credentials, proxy."""

    base: str | None = None  # connection whose host is the base URL
    auth: str | None = None  # authName: signs (restjob connection); None = unsigned
    proxy: str | None = None  # proxyAuthName
    origin: str | None = None  # scheme://host of an absolute URL (when no connection has a host)

    @classmethod
    def for_request(cls, req: RequestDef, conn_id: str | None) -> Route:
        origin = None
        if "://" in req.url and "{{" not in req.url.split("://")[0]:
            parts = urlsplit(req.url)
            origin = f"{parts.scheme}://{parts.netloc}"
        base = conn_id or req.auth_name
        return cls(base=base, auth=req.auth_name, proxy=req.proxy_auth_name, origin=origin)

    @property
    def conn_id(self) -> str:
        """One connection id for hooks and triggers: the plain id when one connection does it all."""
        if self.auth and self.base == self.auth and not self.proxy:
            return self.auth
        return ROUTE_PREFIX + json.dumps(
            {"base": self.base, "auth": self.auth, "proxy": self.proxy, "origin": self.origin},
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def parse(cls, conn_id: str) -> Route:
        if not conn_id.startswith(ROUTE_PREFIX):
            return cls(base=conn_id, auth=conn_id)
        return cls(**json.loads(conn_id[len(ROUTE_PREFIX) :]))

    @property
    def label(self) -> str:
        parts = [f"auth={self.auth}" if self.auth else "unsigned"]
        if self.base and self.base != self.auth:
            parts.append(f"base={self.base}")
        if self.proxy:
            parts.append(f"proxy={self.proxy}")
        return ", ".join(parts)


def _extra(conn: Any) -> dict[str, Any]:
    extra = conn.extra_dejson if hasattr(conn, "extra_dejson") else getattr(conn, "extra", None)
    if isinstance(extra, str):
        try:
            extra = json.loads(extra) if extra.strip() else {}
        except ValueError:
            extra = {}
    return {
        k.removeprefix("extra__restjob__"): v for k, v in dict(extra or {}).items() if v not in (None, "")
    }


def _proxy_fields(conn: Any) -> dict[str, Any]:
    """A proxy connection: host (+ port) is the proxy URL, login/password authenticate."""
    extra = _extra(conn)
    url = str(extra.get("proxy_url") or conn.host or "").strip()
    if url and "://" not in url:
        url = "http://" + url + (f":{conn.port}" if getattr(conn, "port", None) else "")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DefinitionError(
            f"Connection '{conn.conn_id}' (proxyAuthName): the proxy URL (host) must be http(s)://host:port, "
            f"got {url!r}.",
            "Set the connection's host to the proxy URL, login/password to the proxy credentials.",
        )
    return {
        "proxy_url": url,
        "proxy_user": conn.login or extra.get("proxy_user") or None,
        "proxy_password": conn.password or extra.get("proxy_password") or None,
    }


def compose_settings(route: Route, conns: Mapping[str, Any]) -> ConnectionSettings:
    """Settings for a route from its connections (``conns``: connection id -> Connection)."""
    base = conns.get(route.base) if route.base else None
    auth = conns.get(route.auth) if route.auth else None
    if auth is not None:
        host = (base.host if base is not None else None) or auth.host or route.origin
        source = base if base is not None and base.host else auth
        settings = ConnectionSettings.from_fields(
            auth.conn_id,
            host=host,
            login=auth.login,
            password=auth.password,
            extra=auth.extra_dejson if hasattr(auth, "extra_dejson") else auth.extra,
            schema=getattr(source, "schema", None),
            port=getattr(source, "port", None),
        )
        if route.proxy:
            settings = replace(settings, **_proxy_fields(conns[route.proxy]))
        return replace(
            settings, conn_id=route.label if route.conn_id.startswith(ROUTE_PREFIX) else auth.conn_id
        )
    base_url = ""
    verify: bool | str = True
    connect, read = DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT
    proxy: dict[str, Any] = {}
    if base is not None:
        extra = _extra(base)
        if base.host:
            base_url = ConnectionSettings._base_url(base.conn_id, base.host, base.schema, base.port)
        verify = _as_bool(extra.get("tls_verify", True), conn_id=base.conn_id, name="tls_verify")
        if extra.get("ca_bundle"):
            verify = str(extra["ca_bundle"])
        connect = _as_seconds(
            extra.get("connect_timeout"), connect, conn_id=base.conn_id, name="connect_timeout"
        )
        read = _as_seconds(extra.get("read_timeout"), read, conn_id=base.conn_id, name="read_timeout")
        if extra.get("proxy_url"):
            proxy = _proxy_fields(base)
    if route.proxy:
        proxy = _proxy_fields(conns[route.proxy])
    return ConnectionSettings.unsigned(
        route.label, base_url, verify=verify, connect_timeout=connect, read_timeout=read, **proxy
    )


def _read_failed(name: str, exc: Exception) -> AuthError:
    return AuthError(
        f"Connection '{name}' could not be read: {type(exc).__name__}: {exc}",
        f"Create it (airflow-restjob credentials add FILE, the UI, or AIRFLOW_CONN_{name.upper()}).",
    )


_route_cache: dict[str, tuple[float, ConnectionSettings, Any]] = {}
ROUTE_TTL = 300.0


class RouteHook(RestJobHook):
    """A ``RestJobHook`` whose ``conn_id`` is a route: several connections, or none (unsigned)."""

    def __init__(self, conn_id: str, retry: Any = None) -> None:
        super().__init__(conn_id, retry)
        self.route = Route.parse(conn_id)

    def _names(self) -> list[str]:
        return sorted({n for n in (self.route.base, self.route.auth, self.route.proxy) if n})

    def settings(self) -> ConnectionSettings:
        if self._settings is None:
            conns = {}
            for name in self._names():
                try:
                    conns[name] = self.get_connection(name)
                except Exception as exc:  # AirflowNotFoundException and secrets-backend failures
                    raise _read_failed(name, exc) from None
            self._settings = compose_settings(self.route, conns)
        return self._settings

    async def _route_entry(self) -> tuple[float, ConnectionSettings, Any]:
        from airflow_restjob.client import AsyncClient

        entry = _route_cache.get(self.conn_id)
        if entry is None or entry[0] < time.monotonic():
            conns = {}
            for name in self._names():
                try:
                    conns[name] = await self.aget_connection(name)
                except Exception as exc:
                    raise _read_failed(name, exc) from None
            settings = compose_settings(self.route, conns)
            client = (
                entry[2] if entry is not None and entry[1] == settings else AsyncClient(settings, self.retry)
            )
            entry = (time.monotonic() + ROUTE_TTL, settings, client)
            _route_cache[self.conn_id] = entry
        return entry

    async def asettings(self) -> ConnectionSettings:
        return (await self._route_entry())[1]

    async def aclient(self) -> Any:
        return (await self._route_entry())[2]


def hook_for(conn_id: str) -> RestJobHook:
    """The hook for a trigger's ``conn_id``: a plain connection id or a route."""
    return RouteHook(conn_id) if conn_id.startswith(ROUTE_PREFIX) else RestJobHook(conn_id)


__all__ = [
    "ConnectionInfo",
    "RequestDef",
    "MonitoringDef",
    "Renderer",
    "Route",
    "RouteHook",
    "hook_for",
    "load",
    "parse",
]
