"""The worker's HTTP driver: ``requests``, signed by ``AWS4Auth``; retries decided by ``retry_flow``."""

from __future__ import annotations

import logging
import time
from typing import Any

import requests
import urllib3

from airflow_restjob.connections.settings import ConnectionSettings
from airflow_restjob.credentials import tokens
from airflow_restjob.credentials.cache import Lease
from airflow_restjob.errors import AuthError, RestJobError
from airflow_restjob.rest_job.flows import retry_flow, run_sync
from airflow_restjob.rest_job.retry import RetryPolicy
from airflow_restjob.transport import common
from airflow_restjob.transport.auth import RequestAuth
from airflow_restjob.transport.common import Reply

log = logging.getLogger(__name__)


class SyncClient:
    """For workers: one ``requests.Session`` per task, signed by ``AWS4Auth``.

    Once built it makes no call into Airflow, so it is safe in a SIGTERM handler (``on_kill``).
    """

    def __init__(self, settings: ConnectionSettings, retry: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.session = requests.Session()
        self.auth = RequestAuth(settings)
        self.session.verify = settings.verify
        proxy = settings.proxy_url_with_auth
        if proxy:
            self.session.proxies = {"http": proxy, "https": proxy}
        self.session.trust_env = not proxy

    def request(
        self, method: str, path: str, body: Any = None, *, retry: RetryPolicy | None = None, **options: Any
    ) -> Reply:
        """Send one request (``options``: ``headers``, ``query``, ``timeout``, as in ``RequestSpec``),
        retried as ``retry_flow`` decides."""
        url = common.full_url(self.settings, path, options.get("query"))
        data = common.encode_body(body)
        headers = {**common.JSON_HEADERS, **(options.get("headers") or {})}
        at = common.where(self.settings, method, path)
        timeout = options.get("timeout")
        started = time.monotonic()
        try:
            return self._once(method, url, data, headers, at, timeout)
        except RestJobError as failed:
            flow = retry_flow(retry or self.retry, log, started, failed)
        return run_sync(flow, lambda _attempt: self._once(method, url, data, headers, at, timeout))

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, body, **kwargs).data

    def _once(
        self, method: str, url: str, data: bytes, headers: dict[str, str], at: str, timeout: float | None
    ) -> Reply:
        lease = self._lease(timeout)
        try:
            return self._send(method, url, data, headers, at, timeout, lease)
        except AuthError as error:
            if not self.auth.rejected(error, lease):
                raise
        log.info("%s: the credential was refused; sending once more with a new token/credentials.", at)
        return self._send(method, url, data, headers, at, timeout, self._lease(timeout))

    def _lease(self, timeout: float | None) -> Lease | None:
        """The credential's current token / temporary credentials, fetched first if needed."""
        auth = self.auth
        if not auth.needs_lease:
            return None
        lease = auth.current()
        if lease is not None:
            return lease
        assert auth.shared is not None
        if auth.oauth2 is not None:
            return auth.shared.get_sync(lambda: self._fetch_token(timeout))
        from airflow_restjob.credentials import aws

        role = auth.aws_role
        assert role is not None
        return auth.shared.get_sync(lambda: aws.fetch(role, auth.name))

    def _fetch_token(self, timeout: float | None) -> Lease:
        cred = self.auth.oauth2
        assert cred is not None
        url, headers, body = tokens.token_request(cred)
        read_timeout = timeout or self.settings.read_timeout
        try:
            response = self.session.post(
                url,
                data=body,
                headers=headers,
                timeout=(self.settings.connect_timeout, read_timeout),
                verify=self.settings.verify,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise tokens.timeout(cred, self.auth.name, read_timeout) from None
        except requests.RequestException as exc:
            raise tokens.unreachable(cred, self.auth.name, str(exc)) from None
        lease = tokens.token_lease(cred, self.auth.name, response.status_code, response.content)
        log.info("Credential '%s': new access token from %s.", self.auth.name, cred.token_url)
        return lease

    def _send(
        self,
        method: str,
        url: str,
        data: bytes,
        headers: dict[str, str],
        at: str,
        timeout: float | None,
        lease: Lease | None,
    ) -> Reply:
        read_timeout = timeout or self.settings.read_timeout
        signer = self.auth.signer(lease)
        extra = self.auth.headers(lease)
        limit = common.BodyLimit(self.settings, at, self.settings.connect_timeout + read_timeout, time.monotonic())
        try:
            response = self.session.request(
                method,
                url,
                data=data,
                headers={**headers, **extra} if extra else headers,
                auth=signer.auth if signer is not None else None,
                timeout=(self.settings.connect_timeout, read_timeout),
                verify=self.settings.verify,  # the connection's TLS settings win over REQUESTS_CA_BUNDLE
                allow_redirects=not self.settings.signed,  # credentials never follow a redirect
                stream=True,  # the body is read bounded (size, total time)
            )
            with response:
                limit.check_length(response.headers.get("content-length"))
                _read_bounded(response, limit)
        except (requests.Timeout, urllib3.exceptions.TimeoutError) as exc:
            raise common.timeout_error(at, read_timeout, self.settings.redact(type(exc).__name__)) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise common.connection_error(self.settings, at, str(exc), "worker") from None
        return common.judge(self.settings, response.status_code, dict(response.headers), limit.body(), at)

    def close(self) -> None:
        self.session.close()


def _read_bounded(response: requests.Response, limit: common.BodyLimit) -> None:
    """Read the body as it arrives (``read1``: what the socket has, not a full chunk), so the total
    deadline is checked between arrivals however slowly the bytes come."""
    read1 = getattr(response.raw, "read1", None)
    if read1 is None:  # urllib3 < 2: bounded in size, each read bounded by the read timeout
        for chunk in response.iter_content(common.CHUNK):
            limit.add(chunk, time.monotonic())
        return
    while chunk := read1(common.CHUNK, decode_content=True):
        limit.add(chunk, time.monotonic())
