"""Rendering connection information files: Jinja with the task context (+ ``takeover``), strictly;
writing responses (``resBody`` / ``resHeader``); reading values out of responses."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from airflow_restjob.connection_info.model import DEFAULT_HEADERS, TAKEOVER, RequestDef
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
    """The values at ``keys`` (name -> JMESPath) of a response (``takeoverKeys``, ``jobnetValKeys``)."""
    return {name: search(path, response) for name, path in keys.items()}
