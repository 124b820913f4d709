"""The connection-information-file model: the scheduler's REST job definition, as loaded.

The file format (validated by ``connection_info.validation``, rendered by ``connection_info.rendering``):

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
* Values rendered into a ``url`` (every ``{{ ... }}``: takeover values, Variables, the task
  context) are percent-encoded where they land; the text the file's author wrote is sent as
  written.  In the path a value is encoded as part of one segment (``/`` -> ``%2F``, ``?`` ->
  ``%3F``, ``#`` -> ``%23``, ``%`` -> ``%25``; ``../admin`` -> ``..%2Fadmin``); in the URL's query
  (after a written ``?``) as a query value (``&``, ``=``, ``+`` encoded).  A path segment that
  a value makes empty, ``.`` or ``..`` is a definition error naming the value (servers normalise
  ``..`` also when it is sent as ``%2E%2E``, so encoding cannot make it harmless).  Not encoded:
  a value of the task context or a Variable that begins the URL and renders to an ``http(s)://``
  URL (a base URL: ``{{ var.value.api }}/jobs``), and a value marked ``| safe`` (inserted as it
  is: ``{{ var.value.prefix | safe }}/jobs`` for a path prefix with ``/``, or an API's status URL,
  ``{{ takeover.statusUrl | safe }}``; without ``| safe`` a takeover value that begins the URL
  with ``http(s)://`` is a definition error: the answer would choose the server); a value in
  the host part (``https://{{ var.value.host }}/jobs``) must not contain ``/``, ``?``, ``#``,
  ``@``, a backslash or spaces.
  Do not also ``| urlencode`` a value (it would be encoded twice).  ``query`` values are encoded
  as query values when the request is sent.
* Header names are HTTP tokens; header values (as written and as rendered) must be one line of
  Latin-1 text: CR, LF, other control characters (tab is allowed) or characters outside Latin-1
  are a definition error (end code 2) naming the header: at DAG parse time for the written text,
  before the start request for values of the task context, and, for takeover values, when the
  start response arrives (the job id is in the log, XCom and the error message).
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
  write is end code 3.  Every output path (all four keys) must stay inside the connection
  information file's folder (for a dict, the DAG file's folder): ``../x``, an absolute path (or
  ``~``) or a symbolic link out of the folder is a definition error naming the key, when the file
  is loaded (DAG parse; a template as far as its written start goes) and again, rendered, before
  the start request is sent.  Absolute paths are allowed only by the operator's
  ``allow_absolute_output_paths=True`` (an Airflow-side decision: the file format stays the
  scheduler's); relative paths must stay inside the folder even then.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from airflow_restjob.connections.routes import Route

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


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


# --- header rules (checked when the file is loaded and again on the rendered values) ------------
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
HEADER_VALUE_RULE = "a header value is one line of Latin-1 text (a CR or LF would start another header)"


def header_problem(text: str) -> str | None:
    """What makes ``text`` unfit for a header value (None: it fits): CR/LF, another control
    character (tab is allowed), or a character outside Latin-1 (what HTTP/1.1 clients send)."""
    for ch in text:
        if ch in "\r\n":
            return "a line break (CR/LF)"
        if ch != "\t" and unicodedata.category(ch) == "Cc":
            return f"a control character (U+{ord(ch):04X})"
        if ord(ch) > 0xFF:
            return f"a character outside Latin-1 ({ch!r}, U+{ord(ch):04X})"
    return None


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

    def route(self, conn_id: str | None) -> Route:
        """The connections this request uses: ``conn_id`` (else ``authName``) for the base URL."""
        return Route.for_url(self.url, base=conn_id, auth=self.auth_name, proxy=self.proxy_auth_name)

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


