"""``airflow-restjob credentials``: the job scheduler's credential setting command, on Airflow connections.

    airflow-restjob credentials add FILE     register the credentials in FILE (an existing name is overwritten)
    airflow-restjob credentials list         one line per credential: name, authType, details (secrets ***)
    airflow-restjob credentials show NAME    one credential as JSON (secrets ***)
    airflow-restjob credentials delete NAME  delete one credential

FILE is UTF-8 JSON: one credential definition or a list of them.

``aws_sigv4`` (the ``authName`` of a connection information file; a ``restjob`` connection)::

    {"name": "aws_stepfunctions", "authType": "aws_sigv4", "accessKeyId": "AKIA...",
     "secretAccessKey": "...", "region": "ap-northeast-1", "sessionToken": null,
     "service": "execute-api", "baseUrl": "https://abc.execute-api.ap-northeast-1.amazonaws.com/stage"}

    required: name, authType, accessKeyId, secretAccessKey; region is required unless baseUrl is an
    execute-api URL; baseUrl (the connection's host) lets files use relative URLs.

``proxy`` (a ``proxyAuthName``)::

    {"name": "corp_proxy", "authType": "proxy", "proxyUrl": "http://proxy.example.com:8080",
     "user": "jobuser", "password": "..."}

Names: 1-64 of ``[A-Za-z0-9_-]``, not starting with ``-``.  Credentials are Airflow connections
written through Airflow's ORM (``airflow.models.Connection``), so the metadata database encrypts
them with the Fernet key; the command manages the metadata database only (secrets backends are
read-only to Airflow: put credentials there with the backend's own tools, same fields).  The
connections carry the description ``airflow-restjob credential (<authType>)``; ``list``, ``show``
and ``delete`` only touch connections with that description.

Exit codes: 0 success; 1 usage error or invalid argument (e.g. a bad NAME); 2 invalid file
content (JSON, keys, values); 3 file operation failed (FILE missing or unreadable); 4 no
credential of that name; 99 internal error (e.g. the metadata database is unreachable).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow_restjob.cli import UsageParser
from airflow_restjob.connections.settings import url_problem

OK, USAGE, BAD_CONTENT, FILE_ERROR, NOT_FOUND, INTERNAL = 0, 1, 2, 3, 4, 99
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")
MARK = "airflow-restjob credential"
FIELDS: dict[str, dict[str, bool]] = {  # authType -> field -> required
    "aws_sigv4": {
        "accessKeyId": True,
        "secretAccessKey": True,
        "region": False,
        "sessionToken": False,
        "service": False,
        "baseUrl": False,
    },
    "proxy": {"proxyUrl": True, "user": False, "password": False},
}
SECRET_FIELDS = {"secretAccessKey", "sessionToken", "password"}
CONN_TYPES = {"aws_sigv4": "restjob", "proxy": "http"}


class CommandError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _plain(text: str) -> str:
    """Help text without reStructuredText markup."""
    return text.replace("``", "").replace("::\n", ":\n")


def file_formats() -> str:
    """The FILE format of every authType, from this module's documentation."""
    doc = __doc__ or ""
    return _plain(doc[doc.index("FILE is UTF-8 JSON") : doc.index("Names:")]).rstrip()


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "credentials",
        help="add / list / show / delete named credentials (stored as Airflow connections)",
        description=_plain(__doc__.split("\n\n")[0]),
        epilog="Exit codes: 0 ok, 1 usage/invalid argument, 2 invalid file content, 3 file operation "
        "failed, 4 not found, 99 internal error.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=UsageParser)
    add = actions.add_parser(
        "add",
        help="register credentials from a JSON file (overwrites a name)",
        description="Register the credentials in FILE as Airflow connections (an existing name is overwritten).",
        epilog=file_formats(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add.add_argument("file", metavar="FILE")
    actions.add_parser("list", help="list the credentials (secrets ***)")
    show = actions.add_parser("show", help="show one credential (secrets ***)")
    show.add_argument("name", metavar="NAME")
    delete = actions.add_parser("delete", help="delete one credential")
    delete.add_argument("name", metavar="NAME")


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "action", None)
    try:
        if action == "add":
            return add(args.file)
        if action == "list":
            return list_credentials()
        if action == "show":
            return show(args.name)
        if action == "delete":
            return delete(args.name)
        print(
            "usage: airflow-restjob credentials {add FILE | list | show NAME | delete NAME}", file=sys.stderr
        )
        return USAGE
    except CommandError as exc:
        print(f"airflow-restjob credentials: {exc}", file=sys.stderr)
        return exc.code
    except Exception as exc:  # the metadata database, Fernet key, ...
        print(f"airflow-restjob credentials: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return INTERNAL


# --- validation ------------------------------------------------------------------------------------
def check_name(name: Any, where: str = "NAME", code: int = USAGE) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise CommandError(
            code,
            f"{where}: {name!r} is not a valid credential name (1-64 of A-Z a-z 0-9 _ -, not starting with '-').",
        )
    return name


def validate(item: Any, where: str) -> dict[str, Any]:
    """One credential definition -> the same dict, checked; raises CommandError(2) naming the key."""
    if not isinstance(item, dict):
        raise CommandError(BAD_CONTENT, f"{where}: expected a JSON object, got {type(item).__name__}.")
    check_name(item.get("name"), f"{where}.name", BAD_CONTENT)
    auth_type = item.get("authType")
    if auth_type not in FIELDS:
        raise CommandError(
            BAD_CONTENT, f"{where}.authType: expected one of {', '.join(FIELDS)}, got {auth_type!r}."
        )
    fields = FIELDS[auth_type]
    for key in item:
        if key not in fields and key not in ("name", "authType"):
            guess = difflib.get_close_matches(key, list(fields), n=1)
            raise CommandError(
                BAD_CONTENT,
                f"{where}.{key}: unknown key for authType {auth_type}."
                + (f" Did you mean '{guess[0]}'?" if guess else "")
                + f" Allowed: name, authType, {', '.join(fields)}.",
            )
    for key, required in fields.items():
        value = item.get(key)
        if value is None:
            if required:
                raise CommandError(BAD_CONTENT, f"{where}.{key}: required for authType {auth_type}.")
            continue
        if not isinstance(value, str) or not value.strip():
            raise CommandError(BAD_CONTENT, f"{where}.{key}: expected a non-empty string.")
    for key in ("baseUrl", "proxyUrl"):
        problem = url_problem(item[key]) if item.get(key) else None
        if problem:
            raise CommandError(
                BAD_CONTENT,
                f"{where}.{key} {problem}"
                + (" (for a proxy: user, password)." if key == "proxyUrl" else "."),
            )
    if auth_type == "aws_sigv4":
        from airflow_restjob.connections.settings import ConnectionSettings
        from airflow_restjob.errors import DefinitionError

        try:  # the same checks a task makes when it reads the connection
            ConnectionSettings.from_fields(
                item["name"],
                host=item.get("baseUrl") or "https://placeholder.execute-api.us-east-1.amazonaws.com/stage",
                login=item["accessKeyId"],
                password=item["secretAccessKey"],
                extra=_extra(item),
            )
        except DefinitionError as exc:
            raise CommandError(BAD_CONTENT, f"{where}: {exc.cause}") from None
    return dict(item)


def _extra(item: Mapping[str, Any]) -> dict[str, Any]:
    extra = {
        "region": item.get("region"),
        "session_token": item.get("sessionToken"),
        "service": item.get("service"),
    }
    return {k: v for k, v in extra.items() if v}


def read_file(path: str) -> list[dict[str, Any]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(FILE_ERROR, f"{path}: cannot be read ({type(exc).__name__}: {exc}).") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CommandError(BAD_CONTENT, f"{path}: not valid JSON ({exc}).") from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise CommandError(BAD_CONTENT, f"{path}: the list is empty.")
    checked = [
        validate(item, f"{path}: [{i}]" if isinstance(data, list) else f"{path}: $")
        for i, item in enumerate(items)
    ]
    names = [c["name"] for c in checked]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CommandError(BAD_CONTENT, f"{path}: the name {duplicates[0]!r} appears more than once.")
    return checked


# --- connections -----------------------------------------------------------------------------------
def to_connection_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    auth_type = item["authType"]
    fields: dict[str, Any] = {
        "conn_id": item["name"],
        "conn_type": CONN_TYPES[auth_type],
        "description": f"{MARK} ({auth_type})",
    }
    if auth_type == "aws_sigv4":
        fields.update(
            host=item.get("baseUrl"),
            login=item["accessKeyId"],
            password=item["secretAccessKey"],
            extra=json.dumps(_extra(item)),
        )
    else:
        fields.update(
            host=item["proxyUrl"], login=item.get("user"), password=item.get("password"), extra=None
        )
    return fields


def from_connection(conn: Any) -> dict[str, Any]:
    """A stored credential as a definition with every secret shown as ``***``."""
    auth_type = str(conn.description or "")[len(MARK) + 2 : -1]
    out: dict[str, Any] = {"name": conn.conn_id, "authType": auth_type}
    if auth_type == "aws_sigv4":
        extra = conn.extra_dejson
        out.update(
            accessKeyId=conn.login,
            secretAccessKey="***" if conn.password else None,
            region=extra.get("region"),
            sessionToken="***" if extra.get("session_token") else None,
            service=extra.get("service"),
            baseUrl=conn.host,
        )
    else:
        out.update(proxyUrl=conn.host, user=conn.login, password="***" if conn.password else None)
    return {k: v for k, v in out.items() if v is not None}


def _ours(session: Any, name: str | None = None) -> list[Any]:
    from airflow.models import Connection

    query = session.query(Connection).filter(Connection.description.like(f"{MARK} (%"))
    if name is not None:
        query = query.filter(Connection.conn_id == name)
    return list(query.order_by(Connection.conn_id))


def add(path: str) -> int:
    items = read_file(path)
    from airflow.models import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        for item in items:
            fields = to_connection_fields(item)
            existing = session.query(Connection).filter(Connection.conn_id == item["name"]).one_or_none()
            if existing is not None:
                session.delete(existing)
                session.flush()
            session.add(Connection(**fields))
            print(f"{'updated' if existing is not None else 'added'} {item['name']} ({item['authType']})")
    return OK


def list_credentials() -> int:
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = [from_connection(c) for c in _ours(session)]
    for row in rows:
        details = " ".join(f"{k}={v}" for k, v in row.items() if k not in ("name", "authType"))
        print(f"{row['name']}\t{row['authType']}\t{details}")
    if not rows:
        print("no credentials", file=sys.stderr)
    return OK


def show(name: str) -> int:
    check_name(name)
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = [from_connection(c) for c in _ours(session, name)]
    if not rows:
        raise CommandError(NOT_FOUND, f"no credential named {name!r}.")
    print(json.dumps(rows[0], indent=2))
    return OK


def delete(name: str) -> int:
    check_name(name)
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = _ours(session, name)
        if not rows:
            raise CommandError(NOT_FOUND, f"no credential named {name!r}.")
        for row in rows:
            session.delete(row)
    print(f"deleted {name}")
    return OK
