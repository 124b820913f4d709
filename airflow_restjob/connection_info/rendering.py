"""Rendering connection information files: Jinja with the task context (+ ``takeover``), strictly;
values percent-encoded where they land in a URL, header values checked; writing responses
(``resBody`` / ``resHeader``); reading values out of responses."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import jinja2
from markupsafe import Markup

from airflow_restjob.connection_info.model import (
    DEFAULT_HEADERS,
    HEADER_VALUE_RULE,
    TAKEOVER,
    RequestDef,
    header_problem,
)
from airflow_restjob.errors import DefinitionError, FileOperationError
from airflow_restjob.rest_job.spec import RequestSpec, search


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

    def spec(self) -> RequestSpec:
        """As the model's request (what the drivers send and the trigger stores)."""
        return RequestSpec(
            path=self.url,
            method=self.method,
            body=self.body,
            query=self.query,
            headers=self.headers,
            timeout=self.timeout,
        )


# --- values rendered into a URL ------------------------------------------------------------------
_VALUES = "__restjob_url_values"  # the render's list of (inserted as it is, text) of every {{ }} value
_MARK = re.compile("\ue000([0-9]+)\ue001")  # a value's place in the rendered URL
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_NOT_IN_HOST = re.compile(r"[/?#@\\\s\x00-\x1f\x7f]")


@jinja2.pass_context
def _mark(context: Any, value: Any) -> str:
    """``finalize`` of URL templates: each ``{{ }}`` value becomes a placeholder, encoded later
    according to where it lands (pass_context: constant expressions are not folded at compile time)."""
    values = context.get(_VALUES)
    values.append((isinstance(value, Markup), str(value)))
    return f"\ue000{len(values) - 1}\ue001"


class Renderer:
    """Renders a request's templates with the task context (+ ``takeover``), strictly."""

    def __init__(self, source: str, env: jinja2.Environment, context: Mapping[str, Any]) -> None:
        self.source = source
        self.env = env.overlay(undefined=jinja2.StrictUndefined)
        self.url_env = env.overlay(undefined=jinja2.StrictUndefined, finalize=_mark)
        self.context = dict(context)

    def _render(
        self,
        where: str,
        template: str,
        takeover: Mapping[str, Any] | None,
        env: jinja2.Environment | None = None,
        **extra: Any,
    ) -> str:
        if "{" not in template:
            return template
        variables = {**self.context, TAKEOVER: dict(takeover or {}), **extra}
        try:
            return (env or self.env).from_string(template).render(**variables)
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

    def _origin(self, takeover: Mapping[str, Any] | None, matches: Any) -> tuple[str, str | None]:
        """(how a message names a rendered value, its takeover key or None)."""
        for key, value in (takeover or {}).items():
            if value is not None and matches(str(value)):
                return f"takeover.{key} (from the start response)", key
        return "a value of the template (task context or Variable)", None

    def url(self, where: str, template: str, takeover: Mapping[str, Any] | None = None) -> str:
        """The URL with every rendered value percent-encoded where it lands (see ``model``)."""
        if "{" not in template:
            return template
        values: list[tuple[bool, str]] = []
        text = str(self._render(where, template, takeover, self.url_env, **{_VALUES: values}))
        return _UrlBuilder(self, where, takeover).build(_MARK.split(text), values)

    def header(self, where: str, template: str, takeover: Mapping[str, Any] | None = None) -> str:
        """A header value, rendered; CR/LF, control characters or non-Latin-1 are a definition error."""
        value = str(self._render(where, template, takeover))
        problem = header_problem(value)
        if problem is None:
            return value
        origin, key = self._origin(takeover, lambda text: text in value and header_problem(text) is not None)
        fix = (
            f"Check what the API answers at request.takeoverKeys '{key}'; send the value in the url, "
            f"query or body instead (they are encoded), or encode it: {{{{ takeover.{key} | urlencode }}}}."
            if key
            else "Fix the value the template uses, or encode it in the template: {{ ... | urlencode }}."
        )
        raise DefinitionError(
            f"{self.source}: {where}: {origin} renders a header value with {problem}: {value[:200]!r}; "
            f"{HEADER_VALUE_RULE}.",
            fix,
        )

    def check_before_start(self, req: RequestDef) -> None:
        """Render now what of a monitoring/termination request does not wait for the start
        response (the url and header templates without takeover values), so that a bad value fails
        before the job is started."""
        if TAKEOVER not in req.url:
            self.url(f"{req.section}.url", req.url)
        for name, value in (req.headers or {}).items():
            if TAKEOVER not in value:
                self.header(f"{req.section}.header.{name}", value)

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
            headers[name] = self.header(f"{s}.header.{name}", value, takeover)
        return Rendered(
            url=self.url(f"{s}.url", req.url, takeover),
            method=req.method,
            query=query,
            headers=headers,
            body=body,
            timeout=req.timeout,
        )

    def path(self, where: str, template: str, base_dir: str, allow_absolute: bool = False) -> Path:
        """An output file (``resBody`` / ``resHeader``), rendered and kept inside ``base_dir``."""
        return output_path(self.source, where, str(self._render(where, template, None)), base_dir, allow_absolute)


class _UrlBuilder:
    """Puts a rendered URL together: the written text as it is, each value encoded for its place
    (path segment, query value, fragment) or, as the base URL / ``| safe``, inserted as it is."""

    def __init__(self, renderer: Renderer, where: str, takeover: Mapping[str, Any] | None) -> None:
        self.renderer, self.where, self.takeover = renderer, where, takeover
        self.out: list[str] = []
        self.state = "path"  # authority, path, query or fragment
        self.skip = 0  # characters of the scheme (https://) still to pass
        self.segment = ""  # the current path segment, as sent
        self.segment_values: list[str] = []  # the values encoded into it

    def build(self, pieces: list[str], values: list[tuple[bool, str]]) -> str:
        # pieces: written text, value index, written text, ..., written text
        first = pieces[0] or (values[int(pieces[1])][1] if len(pieces) > 1 else "")
        scheme = _ABSOLUTE.match(first)
        if scheme:
            self.state, self.skip = "authority", scheme.end()
        for i, piece in enumerate(pieces):
            if i % 2 == 0:
                self.raw(piece)
                continue
            as_is, text = values[int(piece)]
            if as_is or (i == 1 and not pieces[0] and scheme and self.base(text)):
                self.raw(text)
            else:
                self.value(text)
        if self.state == "path":
            self.end_segment()
        return "".join(self.out)

    def raw(self, text: str) -> None:
        """Written text (or a value inserted as it is): it moves the URL from part to part."""
        self.out.append(text)
        for ch in text:
            if self.skip:
                self.skip -= 1
            elif self.state == "authority" and ch in "/?#":
                self.state = {"/": "path", "?": "query", "#": "fragment"}[ch]
            elif self.state == "path" and ch in "/?#":
                self.end_segment()
                self.state = {"/": "path", "?": "query", "#": "fragment"}[ch]
            elif self.state == "path":
                self.segment += ch
            elif self.state == "query" and ch == "#":
                self.state = "fragment"

    def base(self, text: str) -> bool:
        """A value that begins the URL with http(s)://: a base URL from a Variable or the task
        context is inserted as it is; one from the start response only when marked ``| safe``."""
        origin, key = self.renderer._origin(self.takeover, lambda v: v == text)
        if key is None:
            return True
        raise DefinitionError(
            f"{self.renderer.source}: {self.where}: {origin} = {text[:200]!r} begins the URL: the API's "
            "answer would choose the server the request goes to.",
            f"If the API answers the URL to call, mark it as such: {{{{ takeover.{key} | safe }}}} (inserted "
            f"as it is); else write the URL and put the value in its path (jobs/{{{{ takeover.{key} }}}}).",
        )

    def value(self, text: str) -> None:
        if self.state == "authority":
            if _NOT_IN_HOST.search(text):
                origin, _ = self.renderer._origin(self.takeover, lambda v: v == text)
                raise DefinitionError(
                    f"{self.renderer.source}: {self.where}: {origin} renders {text[:200]!r} into the host "
                    "part of the URL, where / ? # @ \\ or spaces would change the server called.",
                    "Render only a host name (and :port) there, or render the whole base URL at the start "
                    "of the url ({{ var.value.api_url }}/jobs).",
                )
            self.out.append(text)
            return
        encoded = quote(text, safe="")
        self.out.append(encoded)
        if self.state == "path":
            self.segment += encoded
            self.segment_values.append(text)

    def end_segment(self) -> None:
        segment, values = self.segment, self.segment_values
        self.segment, self.segment_values = "", []
        if not values or unquote(segment) not in ("", ".", ".."):
            return
        origin, key = self.renderer._origin(self.takeover, lambda v: v in values)
        shown = "an empty path segment" if not segment else f"the path segment {segment!r}"
        cause = (
            f"{self.renderer.source}: {self.where}: {origin} = {values[0][:200]!r} makes {shown} "
            f"({''.join(self.out)[:300]!r}): an empty, '.' or '..' segment changes which resource is "
            "called (servers normalise '..' also when it is sent as %2E%2E)."
        )
        if key:
            fix = (
                f"Check what the API answers at request.takeoverKeys '{key}' (it must be an id), or pass "
                f"the value as a query value instead (?id={{{{ takeover.{key} }}}})."
            )
        else:
            fix = "Fix the value the template uses, or pass it as a query value (?id={{ ... }})."
        raise DefinitionError(cause, fix)


# --- output files ----------------------------------------------------------------------------------
ABSOLUTE_OUTPUT_OPT_IN = "RestJobOperator(allow_absolute_output_paths=True)"


def output_path(
    source: str, where: str, text: str, base_dir: str, allow_absolute: bool, *, shown: str | None = None
) -> Path:
    """Where an output file goes: relative to ``base_dir`` (the connection information file's
    folder) and inside it, after ``..`` and symbolic links; an absolute path (or ``~``) only with
    ``allow_absolute``.  ``shown``: the value as written, when ``text`` is only its written part."""
    shown = text if shown is None else shown
    path = Path(text).expanduser()
    base = Path(base_dir).resolve()
    if path.is_absolute():
        if allow_absolute:
            return path
        raise DefinitionError(
            f"{source}: {where}: {shown!r} is an absolute path; output files are written inside the "
            f"connection information file's folder ({base}) unless absolute paths are allowed.",
            f'Write a path relative to that folder (e.g. "responses/start.json"), or pass '
            f"{ABSOLUTE_OUTPUT_OPT_IN} to write where an absolute path says.",
        )
    target = base / path
    resolved = target.resolve()
    if not resolved.is_relative_to(base):
        how = "through a symbolic link" if Path(os.path.normpath(target)).is_relative_to(base) else "with '..'"
        raise DefinitionError(
            f"{source}: {where}: {shown!r} resolves to {resolved} ({how}), outside the connection "
            f"information file's folder {base}.",
            "Write a path that stays inside that folder (no '..', no symbolic link out of it); a file "
            f"elsewhere needs an absolute path and {ABSOLUTE_OUTPUT_OPT_IN}.",
        )
    return target


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
    """The values at ``keys`` (name -> JMESPath) of a response (``takeoverKeys``, ``jobnetValKeys``)."""
    return {name: search(path, response) for name, path in keys.items()}
