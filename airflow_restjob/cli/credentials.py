"""``airflow-restjob credentials``: the job scheduler's credential setting command, on Airflow connections.

    airflow-restjob credentials add FILE     register the credentials in FILE (an existing name is overwritten)
    airflow-restjob credentials list         one line per credential: name, authType, details (secrets ***)
    airflow-restjob credentials show NAME    one credential as JSON (secrets ***)
    airflow-restjob credentials delete NAME  delete one credential

FILE is UTF-8 JSON: one credential definition or a list of them.  Every type may have
"baseUrl" (the connection's host: files may then use relative URLs).

``basic``::

    {"name": "jobs_basic", "authType": "basic", "user": "jobuser", "password": "..."}

``bearer`` (a static token)::

    {"name": "jobs_token", "authType": "bearer", "token": "..."}

``oauth2_client_credentials`` (RFC 6749 client credentials; clientAuth form (default) or basic)::

    {"name": "jobs_oauth", "authType": "oauth2_client_credentials", "tokenUrl": "https://idp.example.com/oauth2/token",
     "clientId": "...", "clientSecret": "...", "scope": "jobs.run", "resource": null, "audience": null,
     "clientAuth": "form"}

``azure_ad`` (oauth2_client_credentials, token URL from the tenant; authorityHost for sovereign clouds)::

    {"name": "azure_mgmt", "authType": "azure_ad", "tenantId": "<directory id>", "clientId": "...",
     "clientSecret": "...", "scope": "https://management.azure.com/.default",
     "authorityHost": "https://login.microsoftonline.com", "clientAuth": "form"}

``sap_btp`` (oauth2_client_credentials, token URL = the service key's url + /oauth/token, basic auth)::

    {"name": "sap_jobs", "authType": "sap_btp", "xsuaaUrl": "https://<subdomain>.authentication.eu10.hana.ondemand.com",
     "clientId": "...", "clientSecret": "..."}

``key_value`` (headers and/or query parameters whose values are secrets)::

    {"name": "jobs_key", "authType": "key_value", "headers": {"x-api-key": "..."}, "query": {"code": "..."}}

``aws_sigv4`` (the ``authName`` of a connection information file; a ``restjob`` connection)::

    {"name": "aws_stepfunctions", "authType": "aws_sigv4", "accessKeyId": "AKIA...",
     "secretAccessKey": "...", "region": "ap-northeast-1", "sessionToken": null,
     "service": "execute-api", "baseUrl": "https://abc.execute-api.ap-northeast-1.amazonaws.com/stage"}

    required: name, authType, and accessKeyId + secretAccessKey unless the credentials are
    temporary: "roleArn" (assume role; "externalId", "roleSessionName", "durationSeconds"; source
    credentials: the keys, "profile", or the default chain), "roleArn" + "webIdentityTokenFile"
    (web identity, EKS IRSA), "profile" (a named profile of ~/.aws/config), or
    "credentialSource": "default_chain" (environment, shared config, web identity, container and
    instance metadata); "stsEndpoint" / "stsRegion" for a VPC or regional STS endpoint (needs the
    aws extra: botocore).  region is required unless baseUrl is an execute-api URL.

``proxy`` (a ``proxyAuthName``; a ``restjob_proxy`` connection)::

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
import contextlib
import difflib
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from airflow_restjob.cli import UsageParser
from airflow_restjob.connections.form import CONN_TYPE
from airflow_restjob.connections.settings import url_problem
from airflow_restjob.credentials.types import PROXY_CONN_TYPE

OK, USAGE, BAD_CONTENT, FILE_ERROR, NOT_FOUND, INTERNAL = 0, 1, 2, 3, 4, 99
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")
MARK = "airflow-restjob credential"
STR, INT, MAP = "string", "integer", "object"
# authType -> statement key -> (required, kind); "baseUrl" is allowed for every type but proxy
FIELDS: dict[str, dict[str, tuple[bool, str]]] = {
    "basic": {"user": (True, STR), "password": (True, STR)},
    "bearer": {"token": (True, STR)},
    "oauth2_client_credentials": {
        "tokenUrl": (True, STR),
        "clientId": (True, STR),
        "clientSecret": (True, STR),
        "scope": (False, STR),
        "resource": (False, STR),
        "audience": (False, STR),
        "clientAuth": (False, STR),
    },
    "azure_ad": {
        "tenantId": (True, STR),
        "clientId": (True, STR),
        "clientSecret": (True, STR),
        "scope": (True, STR),
        "authorityHost": (False, STR),
        "clientAuth": (False, STR),
    },
    "sap_btp": {
        "xsuaaUrl": (True, STR),
        "clientId": (True, STR),
        "clientSecret": (True, STR),
        "scope": (False, STR),
        "clientAuth": (False, STR),
    },
    "key_value": {"headers": (False, MAP), "query": (False, MAP)},
    "aws_sigv4": {
        "accessKeyId": (False, STR),
        "secretAccessKey": (False, STR),
        "region": (False, STR),
        "sessionToken": (False, STR),
        "service": (False, STR),
        "roleArn": (False, STR),
        "externalId": (False, STR),
        "roleSessionName": (False, STR),
        "durationSeconds": (False, INT),
        "webIdentityTokenFile": (False, STR),
        "profile": (False, STR),
        "credentialSource": (False, STR),
        "stsEndpoint": (False, STR),
        "stsRegion": (False, STR),
    },
    "proxy": {"proxyUrl": (True, STR), "user": (False, STR), "password": (False, STR)},
}
for _type, _fields in FIELDS.items():
    if _type != "proxy":
        _fields["baseUrl"] = (False, STR)
SECRET_FIELDS = {"secretAccessKey", "sessionToken", "password", "token", "clientSecret"}
PRESETS = {"azure_ad", "sap_btp"}  # oauth2_client_credentials with a token URL worked out
# statement key -> connection extra key, per stored type
AWS_EXTRA = {
    "region": "region",
    "sessionToken": "session_token",
    "service": "service",
    "roleArn": "role_arn",
    "externalId": "external_id",
    "roleSessionName": "role_session_name",
    "durationSeconds": "duration_seconds",
    "webIdentityTokenFile": "web_identity_token_file",
    "profile": "profile",
    "credentialSource": "credential_source",
    "stsEndpoint": "sts_endpoint",
    "stsRegion": "sts_region",
}
OAUTH2_EXTRA = {
    "tokenUrl": "oauth2_url",  # not "token_url": Airflow hides values of extra keys that say "token"
    "scope": "scope",
    "resource": "resource",
    "audience": "audience",
    "clientAuth": "client_auth",
    "tenantId": "tenant_id",
    "authorityHost": "authority_host",
    "xsuaaUrl": "xsuaa_url",
}


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


_answers: list[TextIO] = []


def answer(text: str) -> None:
    """The command's answer, on standard output (which, while the command runs, is standard error for
    everything else: Airflow and alembic log to standard output, and ``show`` must stay JSON)."""
    print(text, file=_answers[-1] if _answers else sys.stdout, flush=True)


def run(args: argparse.Namespace) -> int:
    _answers.append(sys.stdout)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return _run(args)
    finally:
        _answers.pop()


def _run(args: argparse.Namespace) -> int:
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
        given = str(auth_type).lower()
        guess = [t for t in FIELDS if given and given in t] or difflib.get_close_matches(
            given, list(FIELDS), n=1, cutoff=0.5
        )
        raise CommandError(
            BAD_CONTENT,
            f"{where}.authType: {auth_type!r} is not a credential type."
            + (f" Did you mean '{guess[0]}'?" if guess else "")
            + f" Expected one of {', '.join(FIELDS)}.",
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
    for key, (required, kind) in fields.items():
        value = item.get(key)
        if value is None:
            if required:
                raise CommandError(
                    BAD_CONTENT,
                    f"{where}.{key}: required for authType {auth_type} "
                    f"(required keys: {', '.join(k for k, (r, _) in fields.items() if r)}).",
                )
            continue
        if kind == INT:
            if isinstance(value, bool) or not isinstance(value, int):
                raise CommandError(BAD_CONTENT, f"{where}.{key}: expected an integer, got {value!r}.")
        elif kind == MAP:
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and k.strip() and isinstance(v, str) and v for k, v in value.items()
            ):
                raise CommandError(
                    BAD_CONTENT, f"{where}.{key}: expected an object of names to non-empty strings."
                )
        elif not isinstance(value, str) or not value.strip():
            raise CommandError(BAD_CONTENT, f"{where}.{key}: expected a non-empty string.")
    if auth_type == "aws_sigv4":
        temporary = any(item.get(k) for k in ("roleArn", "webIdentityTokenFile", "profile")) or (
            item.get("credentialSource") == "default_chain"
        )
        for key in ("accessKeyId", "secretAccessKey"):
            if not item.get(key) and (not temporary or item.get("accessKeyId") or item.get("secretAccessKey")):
                raise CommandError(
                    BAD_CONTENT,
                    f"{where}.{key}: required for authType aws_sigv4 (with a static key; temporary "
                    "credentials instead: roleArn, roleArn + webIdentityTokenFile, profile, or "
                    'credentialSource "default_chain").',
                )
    if auth_type == "key_value" and not (item.get("headers") or item.get("query")):
        raise CommandError(
            BAD_CONTENT, f"{where}: authType key_value needs 'headers' and/or 'query' (names to secret values)."
        )
    for key in ("baseUrl", "proxyUrl", "tokenUrl", "xsuaaUrl", "authorityHost", "stsEndpoint"):
        problem = url_problem(item[key]) if item.get(key) else None
        if problem:
            raise CommandError(
                BAD_CONTENT,
                f"{where}.{key} {problem}" + (" (for a proxy: user, password)." if key == "proxyUrl" else "."),
            )
    if auth_type != "proxy":
        from airflow_restjob.connections.settings import ConnectionSettings
        from airflow_restjob.errors import DefinitionError

        fields_ = to_connection_fields(item)
        placeholder = "https://placeholder.execute-api.us-east-1.amazonaws.com/stage"
        try:  # the same checks a task makes when it reads the connection
            ConnectionSettings.from_fields(
                item["name"],
                host=fields_["host"] or placeholder,
                login=fields_["login"],
                password=fields_["password"],
                extra=fields_["extra"],
            )
        except DefinitionError as exc:
            raise CommandError(BAD_CONTENT, f"{where}: {exc.cause} {exc.fix}".rstrip()) from None
    return dict(item)


def _stored_type(auth_type: str) -> str:
    return "oauth2_client_credentials" if auth_type in PRESETS else auth_type


def _extra(item: Mapping[str, Any]) -> dict[str, Any]:
    """The connection extra of a statement (no secrets but a session token / external id)."""
    from airflow_restjob.credentials.tokens import azure_token_url, xsuaa_token_url

    auth_type = item["authType"]
    if auth_type == "aws_sigv4":
        extra = {AWS_EXTRA[k]: v for k, v in item.items() if k in AWS_EXTRA}
        return {k: v for k, v in extra.items() if v not in (None, "")}
    extra = {"auth_type": _stored_type(auth_type)}
    if auth_type in ("oauth2_client_credentials", *PRESETS):
        extra.update({OAUTH2_EXTRA[k]: v for k, v in item.items() if k in OAUTH2_EXTRA and v})
        if auth_type == "azure_ad":
            extra["oauth2_url"] = azure_token_url(item["tenantId"], item.get("authorityHost"))
        elif auth_type == "sap_btp":
            extra["oauth2_url"] = xsuaa_token_url(item["xsuaaUrl"])
            extra.setdefault("client_auth", "basic")
        if auth_type in PRESETS:
            extra["preset"] = auth_type
    return extra


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
        "conn_type": PROXY_CONN_TYPE if auth_type == "proxy" else CONN_TYPE,
        "description": f"{MARK} ({auth_type})",
        "host": item.get("baseUrl"),
        "login": None,
        "password": None,
        "extra": None,
    }
    if auth_type == "proxy":
        fields.update(host=item["proxyUrl"], login=item.get("user"), password=item.get("password"))
        return fields
    if auth_type == "aws_sigv4":
        fields.update(login=item.get("accessKeyId"), password=item.get("secretAccessKey"))
    elif auth_type == "basic":
        fields.update(login=item["user"], password=item["password"])
    elif auth_type == "bearer":
        fields.update(password=item["token"])
    elif auth_type == "key_value":
        secret = {part: item[part] for part in ("headers", "query") if item.get(part)}
        fields.update(password=json.dumps(secret, separators=(",", ":")))
    else:  # oauth2_client_credentials, azure_ad, sap_btp
        fields.update(login=item["clientId"], password=item["clientSecret"])
    fields["extra"] = json.dumps(_extra(item))
    return fields


def from_connection(conn: Any) -> dict[str, Any]:
    """A stored credential as a definition with every secret shown as ``***``."""
    auth_type = str(conn.description or "")[len(MARK) + 2 : -1]
    out: dict[str, Any] = {"name": conn.conn_id, "authType": auth_type}
    secret = "***" if conn.password else None
    extra = conn.extra_dejson if auth_type != "proxy" else {}
    if auth_type == "proxy":
        out.update(proxyUrl=conn.host, user=conn.login, password=secret)
        return {k: v for k, v in out.items() if v is not None}
    if auth_type == "aws_sigv4":
        out.update(accessKeyId=conn.login, secretAccessKey=secret)
        for key, name in AWS_EXTRA.items():
            out[key] = extra.get(name)
        if out.get("sessionToken"):
            out["sessionToken"] = "***"
    elif auth_type == "basic":
        out.update(user=conn.login, password=secret)
    elif auth_type == "bearer":
        out.update(token=secret)
    elif auth_type == "key_value":
        try:
            stored = json.loads(conn.password or "{}")
        except ValueError:
            stored = {}
        for part in ("headers", "query"):
            if isinstance(stored.get(part), dict):
                out[part] = dict.fromkeys(stored[part], "***")
    else:
        out.update(clientId=conn.login, clientSecret=secret)
        for key, name in OAUTH2_EXTRA.items():
            if key in FIELDS.get(auth_type, {}):
                out[key] = extra.get(name)
    out["baseUrl"] = conn.host
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
            answer(f"{'updated' if existing is not None else 'added'} {item['name']} ({item['authType']})")
    return OK


def list_credentials() -> int:
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = [from_connection(c) for c in _ours(session)]
    for row in rows:
        details = " ".join(f"{k}={v}" for k, v in row.items() if k not in ("name", "authType"))
        answer(f"{row['name']}\t{row['authType']}\t{details}")
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
    answer(json.dumps(rows[0], indent=2))
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
    answer(f"deleted {name}")
    return OK
