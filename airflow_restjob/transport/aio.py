"""The triggerer's HTTP driver: ``aiohttp`` over one shared session per event loop.

aiohttp is the async transport because it costs about a third of httpx's CPU per signed request
when a triggerer polls thousands of jobs (see bench/). One ``aiohttp.ClientSession`` is shared per
event loop (so per triggerer process): proxy, TLS and timeouts are per request, so every
connection can use it. Retries are decided by ``retry_flow`` (the same as the worker's).

Only the triggerer imports this module (DAG files and workers never load aiohttp).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import ssl
import time
from collections.abc import Mapping
from typing import Any, Protocol

import aiohttp
from yarl import URL

from airflow_restjob.connections.settings import ConnectionSettings
from airflow_restjob.credentials import tokens
from airflow_restjob.credentials.cache import Lease
from airflow_restjob.errors import AuthError, RestJobError, ThrottledError
from airflow_restjob.rest_job.flows import retry_flow, run_async
from airflow_restjob.rest_job.retry import RetryPolicy
from airflow_restjob.transport import common
from airflow_restjob.transport.auth import RequestAuth
from airflow_restjob.transport.common import Reply
from airflow_restjob.transport.signing import Signer

log = logging.getLogger(__name__)

_sessions: dict[int, tuple[asyncio.AbstractEventLoop, aiohttp.ClientSession]] = {}
_ssl_contexts: dict[str, ssl.SSLContext] = {}
# Connections kept by the triggerer's shared session (all hosts).  The account quota caps the
# steady poll rate (DescribeExecution: 15/s by default), so with API Gateway's 30-300 ms latency a
# handful of connections carry it; the limit matters for bursts (the 300-token bucket burst,
# retries, stops).  100 lets a full burst go out in about three round trips while bounding the
# sockets and TLS buffers (~30-60 KB each) of one process; extra requests queue FIFO in the
# connector.  (200 before: more idle sockets, no gain - the quota, not the pool, bounds the rate.)
CONNECTION_LIMIT = 100
_slots: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Semaphore]] = {}


def shared_session() -> aiohttp.ClientSession:
    """The process's ``ClientSession`` for the running event loop (created on first use)."""
    loop = asyncio.get_running_loop()
    entry = _sessions.get(id(loop))
    if entry is None or entry[0] is not loop or entry[1].closed:
        _forget_dead_loops()
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=CONNECTION_LIMIT, ttl_dns_cache=300),
            skip_auto_headers=("User-Agent",),
            trust_env=False,
        )
        _sessions[id(loop)] = (loop, session)
        return session
    return entry[1]


def request_slot() -> asyncio.Semaphore:
    """At most ``CONNECTION_LIMIT`` requests of this event loop are built and in flight at once.

    Waiting here costs a future; waiting in aiohttp's connector costs a whole signed request
    (headers, request and response objects: a few KB). When thousands of triggers poll together
    (the first polls after a deferral wave or a triggerer restart) that is the difference between
    a few hundred KB and tens of MB, and Python keeps most of such a peak as RSS afterwards.
    """
    loop = asyncio.get_running_loop()
    entry = _slots.get(id(loop))
    if entry is None or entry[0] is not loop:
        for key, (other, _) in list(_slots.items()):
            if other.is_closed():
                del _slots[key]
        entry = _slots[id(loop)] = (loop, asyncio.Semaphore(CONNECTION_LIMIT))
    return entry[1]


def _forget_dead_loops() -> None:
    """Drop sessions of event loops that have closed (e.g. ``dag.test()`` runs each trigger in its own)."""
    for key, (loop, session) in list(_sessions.items()):
        if loop.is_closed():
            del _sessions[key]
            _discard(session)


def _discard(session: aiohttp.ClientSession) -> None:
    """Close a session without its event loop: its sockets are closed synchronously."""
    connector = session.connector
    session.detach()
    if connector is not None:
        try:
            connector._close()  # sync close of the sockets; the loop is gone or stopping
        except Exception:  # noqa: BLE001 - best effort on a dead loop
            pass


@atexit.register
def _close_sessions_at_exit() -> None:
    """A triggerer (or ``dag.test()``) that exits with sessions still open: close them, so no
    "Unclosed client session" error is logged when they are garbage-collected."""
    while _sessions:
        _discard(_sessions.popitem()[1][1])


async def close_shared_sessions() -> None:
    loop = asyncio.get_running_loop()
    entry = _sessions.pop(id(loop), None)
    if entry is not None:
        await entry[1].close()


async def _ssl_for(verify: bool | str) -> ssl.SSLContext | bool:
    if verify is True:
        return True
    if verify is False:
        return False
    context = _ssl_contexts.get(verify)
    if context is None:  # loading a CA bundle reads a file: keep it off the event loop
        context = await asyncio.to_thread(ssl.create_default_context, cafile=verify)
        _ssl_contexts[verify] = context
    return context


class Gate(Protocol):
    """What every attempt passes before it is sent (``quota.TokenBucket``)."""

    async def acquire(self) -> None: ...

    def throttled(self) -> None: ...


class PreparedCall:
    """One request with everything that does not change between polls worked out once.

    A trigger prepares its monitoring request once and sends it on every poll: URL, body bytes,
    headers and the SigV4 canonical request are not rebuilt each time.
    """

    __slots__ = (
        "method",
        "path",
        "url",
        "data",
        "headers",
        "template",
        "template_signer",
        "timeout",
        "where",
        "read_timeout",
    )

    def __init__(
        self,
        client: AsyncClient,
        method: str,
        path: str,
        body: Any,
        headers: Mapping[str, str] | None,
        query: Mapping[str, Any] | None,
        timeout: float | None,
    ) -> None:
        self.method = method
        self.path = path
        # URL, headers and message are shared by every call of the same resource (memory per job)
        url, self.url, self.headers, self.where = client.shared_parts(method, path, query, headers)
        self.data = common.encode_body(body)
        signer = client.signer
        self.template_signer = signer
        self.template = signer.template(method, url, self.headers, self.data) if signer else None
        self.read_timeout = timeout or client.settings.read_timeout
        self.timeout = client.timeout_for(self.read_timeout)

    def signed_headers(self, signer: Signer | None, auth_headers: Mapping[str, str] | None = None) -> dict[str, str]:
        """The headers to send: SigV4-signed by ``signer``, or with ``auth_headers`` (an OAuth2 token)."""
        if signer is not None:
            if signer is not self.template_signer:  # temporary credentials were refreshed: new template
                self.template_signer = signer
                self.template = signer.template(self.method, str(self.url), self.headers, self.data)
            if self.template is not None:
                return self.template.headers()
            return signer.sign_headers(self.method, str(self.url), self.headers, self.data)
        if auth_headers:
            return {**self.headers, **auth_headers}
        return self.headers  # unsigned settings (no authName), or fixed auth headers already in them


class AsyncClient:
    """For the triggerer: signed calls over the process's shared aiohttp session."""

    def __init__(self, settings: ConnectionSettings, retry: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.auth = RequestAuth(settings)
        self.signer: Signer | None = None if self.auth.needs_lease else self.auth.signer(None)
        self._proxy_auth = (
            aiohttp.BasicAuth(settings.proxy_user, settings.proxy_password or "")
            if settings.proxy_user
            else None
        )
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._shared: dict[Any, tuple[str, URL, dict[str, str], str]] = {}
        self._ssl: ssl.SSLContext | bool | None = None

    def shared_parts(
        self,
        method: str,
        path: str,
        query: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
    ) -> tuple[str, URL, dict[str, str], str]:
        """(url, yarl URL, headers, where) of a resource, cached: never mutate what it returns."""
        key: Any = (
            method,
            path,
            tuple(sorted(query.items())) if query else None,
            tuple(headers.items()) if headers else None,
        )
        try:
            parts = self._shared.get(key)
        except TypeError:  # unhashable query values (lists): not cached
            parts, key = None, None
        if parts is None:
            url = common.full_url(self.settings, path, query)
            parts = (
                url,
                URL(url, encoded=True),
                {**common.JSON_HEADERS, **self.auth.static_headers, **(headers or {})},
                common.where(self.settings, method, path),
            )
            if key is not None:
                if len(self._shared) >= 1024:  # many distinct resources: start over
                    self._shared.clear()
                self._shared[key] = parts
        return parts

    def timeout_for(self, read_timeout: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(read_timeout)
        if timeout is None:
            timeout = self._timeouts[read_timeout] = aiohttp.ClientTimeout(
                total=self.settings.connect_timeout + read_timeout,  # a trickling answer cannot hold a slot
                sock_connect=self.settings.connect_timeout,
                sock_read=read_timeout,
            )
        return timeout

    def prepare(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> PreparedCall:
        """Work out a request once, to ``send`` it many times (a trigger's monitoring request)."""
        return PreparedCall(self, method, path, body, headers, query, timeout)

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        retry: RetryPolicy | None = None,
        gate: Gate | None = None,
        **options: Any,
    ) -> Reply:
        """Send one request (``options``: ``headers``, ``query``, ``timeout``, as in ``RequestSpec``)."""
        return await self.send(self.prepare(method, path, body, **options), retry=retry, gate=gate)

    async def send(
        self, call: PreparedCall, *, retry: RetryPolicy | None = None, gate: Gate | None = None
    ) -> Reply:
        """Send a prepared call, retrying throttled / transient failures (``retry_flow``).

        ``gate`` (the quota bucket) is passed before EVERY attempt, retries included (each one is an
        API call that counts against the account's quota), and is told when the service throttled.
        """
        started = time.monotonic()
        try:  # the first attempt inline: a poll that succeeds costs no flow and no extra frame
            if gate is not None:
                await gate.acquire()
            return await self._once(call)
        except RestJobError as failed:
            if gate is not None and isinstance(failed, ThrottledError):
                gate.throttled()
            flow = retry_flow(retry or self.retry, log, started, failed)
        return await run_async(flow, lambda _: self._attempt(call, gate), asyncio.sleep)

    async def _attempt(self, call: PreparedCall, gate: Gate | None) -> Reply:
        if gate is None:
            return await self._once(call)
        await gate.acquire()
        try:
            return await self._once(call)
        except ThrottledError:
            gate.throttled()
            raise

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return (await self.request("POST", path, body, **kwargs)).data

    async def _once(self, call: PreparedCall) -> Reply:
        if self._ssl is None:
            self._ssl = await _ssl_for(self.settings.verify)
        if not self.auth.needs_lease:  # static keys / headers, or unsigned: the hot path
            async with request_slot():
                return await self._exchange(call, self.signer, None)
        async with request_slot():  # the lease is taken when the request goes out, not before it queued
            lease = await self._lease(call.read_timeout)
            try:
                return await self._exchange(call, self.auth.signer(lease), self.auth.headers(lease))
            except AuthError as error:
                if not self.auth.rejected(error, lease):
                    raise
            log.info("%s: the credential was refused; sending once more with a new token/credentials.", call.where)
            lease = await self._lease(call.read_timeout)
            return await self._exchange(call, self.auth.signer(lease), self.auth.headers(lease))

    async def _lease(self, read_timeout: float) -> Lease:
        """The credential's current token / temporary credentials; one fetch per process at a time
        (botocore's blocking calls in a thread, never on the event loop)."""
        auth = self.auth
        shared = auth.shared
        assert shared is not None
        lease = shared.current()
        if lease is not None:
            return lease
        if auth.oauth2 is not None:
            return await shared.get_async(lambda: self._fetch_token(read_timeout))
        from airflow_restjob.credentials import aws

        role = auth.aws_role
        assert role is not None
        return await shared.get_async(lambda: asyncio.to_thread(aws.fetch, role, auth.name))

    async def _fetch_token(self, read_timeout: float) -> Lease:
        cred = self.auth.oauth2
        assert cred is not None
        url, headers, body = tokens.token_request(cred)
        try:
            async with shared_session().post(
                url,
                data=body,
                headers=headers,
                timeout=self.timeout_for(read_timeout),
                proxy=self.settings.proxy_url,
                proxy_auth=self._proxy_auth,
                ssl=self._ssl if self._ssl is not None else True,
                allow_redirects=False,
            ) as response:
                status, answer = response.status, await response.read()
        except asyncio.TimeoutError:
            raise tokens.timeout(cred, self.auth.name, read_timeout) from None
        except aiohttp.ClientError as exc:
            raise tokens.unreachable(cred, self.auth.name, str(exc) or type(exc).__name__) from None
        lease = tokens.token_lease(cred, self.auth.name, status, answer)
        log.info("Credential '%s': new access token from %s.", self.auth.name, cred.token_url)
        return lease

    async def _exchange(
        self, call: PreparedCall, signer: Signer | None, auth_headers: dict[str, str] | None
    ) -> Reply:
        """One HTTP exchange (the caller holds a request slot), judged."""
        try:
            async with shared_session().request(
                call.method,
                call.url,
                data=call.data,
                headers=call.signed_headers(signer, auth_headers),
                timeout=call.timeout,
                proxy=self.settings.proxy_url,
                proxy_auth=self._proxy_auth,
                ssl=self._ssl if self._ssl is not None else True,
                allow_redirects=not self.settings.signed,  # credentials never follow a redirect
            ) as response:
                # the total time is aiohttp's (ClientTimeout(total=)); the size is bounded here
                limit = common.BodyLimit(self.settings, call.where, call.timeout.total or 0.0, time.monotonic())
                limit.check_length(response.content_length)
                if response.content_length is not None:  # the poll's hot path: one read of a known size
                    body = await response.read()
                else:
                    async for chunk in response.content.iter_chunked(common.CHUNK):
                        limit.add(chunk, 0.0)
                    body = limit.body()
                return common.judge(self.settings, response.status, dict(response.headers), body, call.where)
        except asyncio.TimeoutError:
            raise common.timeout_error(call.where, call.read_timeout) from None
        except aiohttp.ClientError as exc:
            raise common.connection_error(self.settings, call.where, str(exc) or type(exc).__name__, "triggerer") from None
