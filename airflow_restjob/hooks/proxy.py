"""``RestJobProxyHook``: the ``restjob_proxy`` connection type (a ``proxyAuthName``).

Host is the proxy URL (``http(s)://host:port``), login / password authenticate to the proxy.  A
connection type of this provider, so the form works without the http provider installed; the
first release's proxies (``http`` connections) are read the same way.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook

from airflow_restjob.connections.form import PROXY_HOOK_NAME, PROXY_UI_FIELD_BEHAVIOUR
from airflow_restjob.credentials.types import PROXY_CONN_TYPE


class RestJobProxyHook(BaseHook):
    conn_name_attr = "conn_id"
    default_conn_name = "restjob_proxy_default"
    conn_type = PROXY_CONN_TYPE
    hook_name = PROXY_HOOK_NAME

    def __init__(self, conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.conn_id = conn_id

    def proxy(self) -> dict[str, Any]:
        """The proxy URL, user and password of the connection (validated)."""
        from airflow_restjob.connections.routes import proxy_fields

        return proxy_fields(self.get_connection(self.conn_id))

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": PROXY_UI_FIELD_BEHAVIOUR["hidden-fields"],
            "relabeling": PROXY_UI_FIELD_BEHAVIOUR["relabeling"],
            "placeholders": PROXY_UI_FIELD_BEHAVIOUR["placeholders"],
        }
