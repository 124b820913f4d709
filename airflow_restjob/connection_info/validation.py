"""Loading and validating connection information files: every error names the file, the JSON path
of the key and what was expected (a DAG import error at parse time)."""

from __future__ import annotations

import difflib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from jinja2 import nodes

from airflow_restjob.connection_info.model import (
    ALL_KEYS,
    DEFAULT_POLLING_INTERVAL,
    HEADER_NAME,
    HEADER_VALUE_RULE,
    MAX_URL_BYTES,
    METHODS,
    SECTION_KEYS,
    TAKEOVER,
    Body,
    ConnectionInfo,
    MonitoringDef,
    RequestDef,
    header_problem,
)
from airflow_restjob.connection_info.rendering import output_path
from airflow_restjob.errors import DefinitionError, FileOperationError
from airflow_restjob.rest_job.spec import compile_path

log = logging.getLogger(__name__)


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


def load(
    source: str | os.PathLike[str] | Mapping[str, Any],
    search_dirs: list[str],
    *,
    allow_absolute_output_paths: bool = False,
) -> ConnectionInfo:
    """Read and validate a connection information file (or an already parsed dict, whose folder is
    the first of ``search_dirs``).  Output files (``resBody`` / ``resHeader``) stay inside the
    file's folder; absolute paths only with ``allow_absolute_output_paths``."""
    allow = allow_absolute_output_paths
    if isinstance(source, Mapping):
        base_dir = search_dirs[0] if search_dirs else os.getcwd()
        return parse(source, "<inline connection_info>", base_dir, allow_absolute_output_paths=allow)
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
    return parse(data, str(path), str(path.parent), allow_absolute_output_paths=allow)


def parse(
    data: Any, source: str, base_dir: str, *, allow_absolute_output_paths: bool = False
) -> ConnectionInfo:
    checker = _Checker(source, base_dir, allow_absolute_output_paths)
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


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )


class _Checker:
    """Validation with messages that name the file, the JSON path and what was expected."""

    def __init__(self, source: str, base_dir: str, allow_absolute_output_paths: bool = False) -> None:
        self.source = source
        self.base_dir = base_dir
        self.allow_absolute_output_paths = allow_absolute_output_paths
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
        for name, value in (headers or {}).items():
            self.header(f"{section}.header", str(name), str(value))
        for key in ("resHeader", "resBody"):
            self.output(f"{section}.{key}", raw.get(key))
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

    def output(self, where: str, value: Any) -> None:
        """An output file path: inside the file's folder (absolute only when allowed).  A template
        is checked here as far as its written start goes (``../{{ ds }}.json``, ``/tmp/{{ ds }}``);
        the rendered path is checked again before the start request is sent."""
        text = self.string(where, value)
        if text is None:
            return
        written = text
        if "{" in text:
            start = text.split("{", 1)[0]
            absolute = start.startswith(("/", "~"))
            written = start if absolute else start.rpartition("/")[0]  # its last part may go on
            if not written:
                return
        output_path(
            self.source, where, written, self.base_dir, self.allow_absolute_output_paths, shown=text
        )

    def header(self, where: str, name: str, value: str) -> None:
        """A header name is an HTTP token; the value's written text is one line of Latin-1 (the
        rendered values are checked when they are rendered)."""
        if not HEADER_NAME.fullmatch(name):
            raise DefinitionError(
                f"{self.source}: {where}: {name!r} is not a header name (letters, digits and "
                "! # $ % & ' * + - . ^ _ ` | ~ only; no spaces or colons).",
                'Fix the header name, e.g. "X-Job-Id".',
            )
        written = value
        if "{" in value:
            try:
                written = "".join(node.data for node in self.env.parse(value).find_all(nodes.TemplateData))
            except jinja2.TemplateSyntaxError:
                return  # reported with the template's line by cross_checks
        problem = header_problem(written)
        if problem:
            raise DefinitionError(
                f"{self.source}: {where}.{name}: the value has {problem}: {value[:200]!r}; {HEADER_VALUE_RULE}.",
                "Remove the character from the header value (a value that needs it goes in the url, "
                "query or body).",
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


