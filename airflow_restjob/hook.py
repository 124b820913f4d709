"""``RestJobHook``: the credential connection type and signed calls to an API Gateway stage.

The hook resolves its connection once (``settings()`` / ``asettings()``) and caches it, so later
calls - from a SIGTERM handler for instance - never reach Airflow's connection or secret machinery.
The triggerer side shares one cache per process, so ten thousand triggers on one connection cost
one connection lookup per ``SETTINGS_TTL`` seconds.
"""

from __future__ import annotations

import time
from typing import Any

from airflow.sdk import BaseHook

from airflow_restjob.client import AsyncClient, SyncClient
from airflow_restjob.connection_type import CONN_FIELDS, CONN_TYPE, HOOK_NAME, UI_FIELD_BEHAVIOUR
from airflow_restjob.errors import AuthError, RestJobError
from airflow_restjob.retry import NO_RETRY, RetryPolicy
from airflow_restjob.settings import ConnectionSettings

SETTINGS_TTL = 300.0
_async_cache: dict[str, tuple[float, ConnectionSettings, AsyncClient]] = {}


class RestJobHook(BaseHook):
    """Signed calls to an API Gateway stage (AWS SigV4), sync for workers and async for triggers.

    :param conn_id: a connection of type ``restjob``.
    :param retry: how throttled / transient failures are retried.
    """

    conn_name_attr = "conn_id"
    default_conn_name = "restjob_default"
    conn_type = CONN_TYPE
    hook_name = HOOK_NAME

    def __init__(self, conn_id: str = default_conn_name, retry: RetryPolicy | None = None) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.retry = retry or RetryPolicy()
        self._settings: ConnectionSettings | None = None
        self._client: SyncClient | None = None

    # --- settings ---------------------------------------------------------------------------
    def settings(self) -> ConnectionSettings:
        """Resolve and validate the connection (once per hook)."""
        if self._settings is None:
            try:
                conn = self.get_connection(self.conn_id)
            except Exception as exc:  # AirflowNotFoundException and secrets-backend failures
                raise AuthError(
                    f"Connection '{self.conn_id}' could not be read: {type(exc).__name__}: {exc}",
                    f"Create a connection '{self.conn_id}' of type '{CONN_TYPE}' (UI, CLI or "
                    f"AIRFLOW_CONN_{self.conn_id.upper()}).",
                ) from None
            self._settings = ConnectionSettings.from_connection(conn)
        return self._settings

    async def asettings(self) -> ConnectionSettings:
        return (await self._async_entry())[1]

    async def _async_entry(self) -> tuple[float, ConnectionSettings, AsyncClient]:
        entry = _async_cache.get(self.conn_id)
        if entry is None or entry[0] < time.monotonic():
            try:
                conn = await self.aget_connection(self.conn_id)
            except Exception as exc:
                raise AuthError(
                    f"Connection '{self.conn_id}' could not be read: {type(exc).__name__}: {exc}",
                    f"Create a connection '{self.conn_id}' of type '{CONN_TYPE}'.",
                ) from None
            settings = ConnectionSettings.from_connection(conn)
            if entry is not None and entry[1] == settings:
                client = entry[2]
            else:
                client = AsyncClient(settings, self.retry)
            entry = (time.monotonic() + SETTINGS_TTL, settings, client)
            _async_cache[self.conn_id] = entry
        return entry

    @staticmethod
    def forget_cached_settings(conn_id: str | None = None) -> None:
        """Drop cached async settings (all, or one connection's): e.g. after rotated credentials."""
        if conn_id is None:
            _async_cache.clear()
        else:
            _async_cache.pop(conn_id, None)

    # --- clients ----------------------------------------------------------------------------
    def client(self) -> SyncClient:
        """The worker's client: one ``requests.Session`` for the life of this hook."""
        if self._client is None:
            self._client = SyncClient(self.settings(), self.retry)
        return self._client

    async def aclient(self) -> AsyncClient:
        """The triggerer's client over the process-wide aiohttp session."""
        return (await self._async_entry())[2]

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.client().post(path, body, **kwargs)

    async def apost(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        client = await self.aclient()
        try:
            return await client.post(path, body, **kwargs)
        except AuthError:
            # credentials may have been rotated since they were cached: read them once more
            self.forget_cached_settings(self.conn_id)
            raise

    # --- UI -----------------------------------------------------------------------------------
    def test_connection(self) -> tuple[bool, str]:
        """Make one real signed call and report what API Gateway said.

        DescribeExecution of a syntactically valid but unknown ARN: a correctly signed request is
        answered by Step Functions (``ExecutionDoesNotExist``); a wrong key by API Gateway's 403.
        """
        settings = self.settings()
        probe = f"arn:aws:states:{settings.region}:000000000000:execution:restjob-connection-test:probe"
        try:
            SyncClient(settings, NO_RETRY).post("describe-execution", {"executionArn": probe})
        except RestJobError as error:
            if error.error_type in ("ExecutionDoesNotExist", "InvalidArn"):
                return (
                    True,
                    f"Signed call accepted by {settings.base_url} (Step Functions answered {error.error_type}).",
                )
            return False, str(error)
        return True, f"Signed call accepted by {settings.base_url}."

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
