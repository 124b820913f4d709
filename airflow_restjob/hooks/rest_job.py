"""``RestJobHook``: the ``restjob`` connection type, and connection -> settings -> client.

The hook owns the way from Airflow connections to a ready HTTP client (as the http provider's
hook owns connection -> session). It reads the connections of its route (one ``restjob``
connection, or a connection information file's base / ``authName`` / ``proxyAuthName``) and
validates them into ``ConnectionSettings``:

- in the worker once per hook (``settings()`` / ``client()``), so later calls - from a SIGTERM
  handler for instance - never reach Airflow's connection or secret machinery;
- in the triggerer once per route per process (``aclient()``), shared by every trigger and
  refreshed after ``SETTINGS_TTL`` seconds; triggers that start together share one lookup.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_restjob.connections.form import CONN_FIELDS, CONN_TYPE, HOOK_NAME, UI_FIELD_BEHAVIOUR
from airflow_restjob.connections.routes import Route
from airflow_restjob.connections.settings import ConnectionSettings
from airflow_restjob.errors import AuthError, DefinitionError, RestJobError
from airflow_restjob.rest_job.retry import NO_RETRY, RetryPolicy
from airflow_restjob.rest_job.step_functions import DESCRIBE_PATH, DIRECT_SERVICE, call
from airflow_restjob.transport.sync import SyncClient

if TYPE_CHECKING:
    from airflow_restjob.transport.aio import AsyncClient

SETTINGS_TTL = 300.0
_async_cache: dict[str, tuple[float, ConnectionSettings, AsyncClient]] = {}  # by Route.key
_lookups: dict[tuple[str, int], asyncio.Future[Any]] = {}


def read_failed(name: str, exc: Exception) -> AuthError:
    """The error of a connection that cannot be read (missing, or the secrets backend failed)."""
    return AuthError(
        f"Connection '{name}' could not be read: {type(exc).__name__}: {exc}",
        f"Create it (airflow-restjob credentials add FILE, the UI, or AIRFLOW_CONN_{name.upper()}); "
        f"credentials are connections of type '{CONN_TYPE}'.",
    )


class RestJobHook(BaseHook):
    """Signed calls to an API Gateway stage (AWS SigV4), sync for workers and async for triggers.

    :param conn_id: a connection of type ``restjob``.
    :param retry: how throttled / transient failures are retried.
    :param route: the connections to use when they are several (connection information files);
        default: ``conn_id`` for base URL and credentials.
    """

    conn_name_attr = "conn_id"
    default_conn_name = "restjob_default"
    conn_type = CONN_TYPE
    hook_name = HOOK_NAME

    def __init__(
        self, conn_id: str = default_conn_name, retry: RetryPolicy | None = None, *, route: Route | None = None
    ) -> None:
        super().__init__()
        self.route = route or Route.of(conn_id)
        self.conn_id = conn_id if route is None else self.route.label
        self.retry = retry or RetryPolicy()
        self._settings: ConnectionSettings | None = None
        self._client: SyncClient | None = None

    # --- worker -------------------------------------------------------------------------------
    def settings(self) -> ConnectionSettings:
        """Read and validate the route's connections (once per hook)."""
        if self._settings is None:
            self._settings = self.route.settings({name: self._read(name) for name in self.route.names})
        return self._settings

    def _read(self, name: str) -> Any:
        try:
            return self.get_connection(name)
        except Exception as exc:  # AirflowNotFoundException and secrets-backend failures
            raise read_failed(name, exc) from None

    def client(self, retry: RetryPolicy | None = None) -> SyncClient:
        """The worker's client: one ``requests.Session`` for the life of this hook."""
        if retry is not None:
            return SyncClient(self.settings(), retry)
        if self._client is None:
            self._client = SyncClient(self.settings(), self.retry)
        return self._client

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.client().post(path, body, **kwargs)

    # --- triggerer ----------------------------------------------------------------------------
    def cached_client(self) -> AsyncClient | None:
        """The triggerer's client if this process has it fresh (no await: the hot path of a poll)."""
        entry = _async_cache.get(self.route.key)
        return entry[2] if entry is not None and entry[0] >= time.monotonic() else None

    async def aclient(self) -> AsyncClient:
        """The triggerer's client over the process-wide aiohttp session (cached per route)."""
        client = self.cached_client()
        if client is not None:
            return client
        entry = _async_cache.get(self.route.key)
        key = (self.route.key, id(asyncio.get_running_loop()))
        lookup = _lookups.get(key)
        if lookup is None:  # the first trigger to ask reads the connections; the others wait for it
            lookup = _lookups[key] = asyncio.ensure_future(self._resolve(entry))
            lookup.add_done_callback(lambda _: _lookups.pop(key, None))
        return (await asyncio.shield(lookup))[2]

    async def _resolve(
        self, old: tuple[float, ConnectionSettings, AsyncClient] | None
    ) -> tuple[float, ConnectionSettings, AsyncClient]:
        from airflow_restjob.transport.aio import AsyncClient

        conns = {}
        for name in self.route.names:
            try:
                conns[name] = await self.aget_connection(name)
            except Exception as exc:
                raise read_failed(name, exc) from None
        settings = self.route.settings(conns)
        client = old[2] if old is not None and old[1] == settings else AsyncClient(settings, self.retry)
        entry = _async_cache[self.route.key] = (time.monotonic() + SETTINGS_TTL, settings, client)
        return entry

    @staticmethod
    def forget_cached_settings(conn_id: str | None = None) -> None:
        """Drop cached triggerer settings (all, or those using one connection): e.g. after rotation."""
        for key in list(_async_cache):
            if conn_id is None or conn_id in Route.from_key(key).names:
                del _async_cache[key]

    # --- UI -----------------------------------------------------------------------------------
    def test_connection(self) -> tuple[bool, str]:
        """The form's "Test connection": one real call, reported for the connection being edited.

        Airflow tests a copy stored under a random id, so the message says "this connection"
        instead of that id, and a setting that cannot work is "a connection problem", not an
        invalid job definition.
        """
        try:
            ok, message = self._test_connection()
        except RestJobError as error:
            ok, message = False, self._form_message(error)
        for quoted in (f"Connection '{self.conn_id}'", f"connection '{self.conn_id}'"):
            message = message.replace(quoted, "This connection" if quoted[0] == "C" else "this connection")
        return ok, message

    @staticmethod
    def _form_message(error: RestJobError) -> str:
        if isinstance(error, DefinitionError):
            return f"Connection problem: {error.cause}" + (f" Fix: {error.fix}" if error.fix else "")
        return str(error)

    def _test_connection(self) -> tuple[bool, str]:
        """Make one real signed call and report what API Gateway said.

        DescribeExecution of a syntactically valid but unknown ARN: a correctly signed request is
        answered by Step Functions (``ExecutionDoesNotExist``); a wrong key by API Gateway's 403.
        """
        settings = self.settings()
        if not settings.sigv4:
            return self._test_other(settings)
        probe = f"arn:aws:states:{settings.region}:000000000000:execution:restjob-connection-test:probe"
        try:
            path, headers = call(DESCRIBE_PATH, settings.service == DIRECT_SERVICE)
            SyncClient(settings, NO_RETRY).post(path, {"executionArn": probe}, headers=headers)
        except RestJobError as error:
            if error.error_type in ("ExecutionDoesNotExist", "InvalidArn"):
                return (
                    True,
                    f"Signed call accepted by {settings.base_url} (Step Functions answered {error.error_type}).",
                )
            return False, str(error)
        return True, f"Signed call accepted by {settings.base_url}."

    @staticmethod
    def _test_other(settings: ConnectionSettings) -> tuple[bool, str]:
        """basic / bearer / key_value / OAuth2: get a token (OAuth2), then GET the base URL; any
        answer but 401/403 means the credentials were accepted."""
        client = SyncClient(settings, NO_RETRY)
        try:
            if settings.auth_type == "oauth2_client_credentials":
                lease = client._lease(None)
                assert lease is not None and lease.expires_at is not None
                got = f"a token from the token endpoint (valid {lease.expires_at - lease.obtained_at:.0f} s), then "
            else:
                got = ""
            if not settings.base_url:
                return True, f"Got {got.removesuffix(', then ')}; no base URL to call."
            try:
                reply = client.request("GET", "")
                status = reply.status
            except AuthError:
                raise
            except RestJobError as error:  # 404 / 405 on the base URL: the credentials passed
                if error.status is None:
                    raise
                status = error.status
            return True, f"Got {got}GET {settings.base_url}/ answered HTTP {status} (credentials accepted)."
        except RestJobError as error:
            return False, str(error)
        finally:
            client.close()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Airflow 3.1 UI: hidden and relabelled standard fields."""
        return {
            "hidden_fields": UI_FIELD_BEHAVIOUR["hidden-fields"],
            "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
            "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Airflow 3.1 UI: the extra fields (Airflow mocks wtforms when FAB is absent)."""
        from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import BooleanField, PasswordField, StringField

        widgets: dict[str, Any] = {}
        for name, spec in CONN_FIELDS.items():
            types = spec["schema"]["type"]
            label = lazy_gettext(spec["label"])
            description = spec.get("description", "")
            if spec["schema"].get("format") == "password":
                widgets[name] = PasswordField(label, widget=BS3PasswordFieldWidget(), description=description)
            elif "boolean" in types:
                widgets[name] = BooleanField(
                    label, default=spec["schema"].get("default", False), description=description
                )
            else:
                widgets[name] = StringField(
                    label,
                    widget=BS3TextFieldWidget(),
                    description=description,
                    default=spec["schema"].get("default"),
                )
        return widgets
