"""``SandboxClient``: drive a sandbox running in another process through its admin endpoint.

Standard library only, so end-to-end tests need nothing but the admin URL
(``http://127.0.0.1:<port>/_sandbox``).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .sigv4 import Credentials


class _AdminHTTP:
    def __init__(self, admin_url: str, timeout: float = 30) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.timeout = timeout

    def call(self, method: str, route: str, body: Any = None, query: dict[str, str] | None = None) -> Any:
        url = f"{self.admin_url}/{route}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - loopback only
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise RuntimeError(f"sandbox admin {method} {route} failed: {exc.code} {detail}") from None


class _RemoteFaults:
    def __init__(self, http: _AdminHTTP) -> None:
        self._http = http

    def inject(
        self, resource: str = "*", kind: str = "503", count: int = 1, delay_seconds: float | None = None
    ) -> None:
        body: dict[str, Any] = {"resource": resource, "kind": str(kind), "count": count}
        if delay_seconds is not None:
            body["delay_seconds"] = delay_seconds
        self._http.call("POST", "faults", body)

    def clear(self) -> None:
        self._http.call("DELETE", "faults")

    def pending(self) -> list[dict[str, Any]]:
        return self._http.call("GET", "faults")["pending"]


class _RemoteQuota:
    def __init__(self, http: _AdminHTTP) -> None:
        self._http = http

    def enable(self, burst: float = 300, refill_per_second: float = 15) -> None:
        self._http.call(
            "POST", "quota", {"enabled": True, "burst": burst, "refill_per_second": refill_per_second}
        )

    def disable(self) -> None:
        self._http.call("POST", "quota", {"enabled": False})

    def state(self) -> dict[str, Any]:
        return self._http.call("GET", "quota")


class SandboxClient:
    """The test-facing part of :class:`Sandbox`'s API, over HTTP."""

    def __init__(self, admin_url: str, timeout: float = 30) -> None:
        self._http = _AdminHTTP(admin_url, timeout)
        self.faults = _RemoteFaults(self._http)
        self.quota = _RemoteQuota(self._http)
        self._info: dict[str, Any] | None = None

    def info(self, refresh: bool = False) -> dict[str, Any]:
        if self._info is None or refresh:
            self._info = self._http.call("GET", "info")
        return self._info

    @property
    def base_url(self) -> str:
        return self.info()["base_url"]

    @property
    def region(self) -> str:
        return self.info()["region"]

    @property
    def sts_url(self) -> str:
        return self.info()["sts_url"]

    @property
    def role_arn(self) -> str:
        return self.info()["role_arn"]

    @property
    def states_url(self) -> str:
        """The direct Step Functions API (SigV4 service ``states``), as :attr:`Sandbox.states_url`."""
        return self.info()["states_url"]

    def states_statement(self, name: str = "sandbox_states") -> dict[str, Any]:
        creds = self.invoke_credentials
        return {
            "name": name,
            "authType": "aws_sigv4",
            "accessKeyId": creds.access_key,
            "secretAccessKey": creds.secret_key,
            "region": self.region,
            "service": "states",
            "baseUrl": self.states_url,
        }

    def configure_redrive(
        self,
        seconds: float | None = None,
        status: str | None = None,
        output: str | None = None,
        error: str | None = None,
        cause: str | None = None,
        window_seconds: float | None = None,
    ) -> dict[str, Any]:
        """As :meth:`Sandbox.configure_redrive`."""
        body = {
            k: v
            for k, v in (
                ("seconds", seconds),
                ("status", status),
                ("output", output),
                ("error", error),
                ("cause", cause),
                ("window_seconds", window_seconds),
            )
            if v is not None
        }
        return self._http.call("POST", "redrive", body)

    def set_extra_resources(self, names: list[str]) -> None:
        """As :meth:`Sandbox.set_extra_resources` (``redrive-execution``, ``get-execution-history``)."""
        self._http.call("POST", "resources", {"extra_resources": list(names)})

    def _creds(self, which: str) -> Credentials:
        c = self.info()["credentials"][which]
        return Credentials(c["access_key"], c["secret_key"], c.get("session_token"))

    @property
    def invoke_credentials(self) -> Credentials:
        return self._creds("invoke")

    @property
    def noinvoke_credentials(self) -> Credentials:
        return self._creds("noinvoke")

    @property
    def temporary_credentials(self) -> Credentials:
        return self._creds("temporary")

    def connection_json(
        self, conn_id: str = "restjob_default", credentials: Credentials | None = None
    ) -> str:
        from .sandbox import connection_json

        return connection_json(self.base_url, self.region, credentials or self.invoke_credentials)

    def state_machine_arn(self, name: str) -> str:
        return self._http.call("GET", "state-machines")[name]

    def create_state_machine(self, name: str, definition: dict[str, Any]) -> str:
        return self._http.call("POST", "state-machines", {"name": name, "definition": definition})["arn"]

    def describe_execution(self, arn: str) -> dict[str, Any]:
        return self._http.call("POST", "describe", {"executionArn": arn})

    def list_executions(self, state_machine_arn: str) -> list[dict[str, Any]]:
        return self._http.call("GET", "executions", query={"stateMachineArn": state_machine_arn})

    def request_log(self) -> list[dict[str, Any]]:
        return self._http.call("GET", "requests")

    def stops_for(self, arn: str) -> list[dict[str, Any]]:
        """StopExecution entries for ``arn``, through the gateway or the direct API."""
        entries = self._http.call("GET", "requests", query={"execution_arn": arn})
        return [
            e
            for e in entries
            if e["resource"] == "stop-execution"
            or (e["resource"] == "states" and e.get("action") == "StopExecution")
        ]

    def states_calls(self) -> list[dict[str, Any]]:
        return self._http.call("GET", "requests", query={"resource": "states"})

    def clear_log(self) -> None:
        self._http.call("DELETE", "requests")
