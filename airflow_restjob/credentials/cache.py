"""Tokens and temporary credentials: in memory, one per credential per process, one refresh at a time.

A ``Lease`` is what a credential currently grants (an OAuth2 access token, temporary AWS keys)
and until when.  ``SharedLease`` keeps the current one for every job of the process that uses
the credential: a triggerer with 1,000 deferred jobs on one OAuth2 client asks for one token per
token lifetime.  It is refreshed

- before it expires: at ``refresh_at`` (``expires_at`` minus a margin of a fifth of the lifetime,
  at most ``MAX_MARGIN`` seconds), and
- once after the service rejected it (``invalidate(lease)``: only if it is still the current one,
  so 100 jobs rejected together cause one refresh).

Concurrent callers share one refresh: threads (a worker) through a lock, coroutines (the
triggerer) through one future per event loop.  Nothing is written anywhere: the values are lost
with the process; the secrets of the current leases are redacted from error text
(``live_secrets``); a credential's own secrets are also given to Airflow's log masker.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

MAX_MARGIN = 300.0
UNKNOWN_LIFETIME = 60.0  # a lease without expiry (botocore's chain refreshes by itself): check again after this

_live: set[str] = set()


def live_secrets() -> frozenset[str]:
    """Every secret a current lease of this process holds (for redaction of error text)."""
    return frozenset(_live)


def remember(*secrets: str) -> None:
    """Secrets of a current lease: redacted from error text (``live_secrets``), not given to
    Airflow's masker - it keeps every pattern it is given for the life of the process and
    recompiles one regex of all of them each time, so a triggerer refreshing tokens for weeks
    would spend ever longer on each refresh (on its event loop) and on every log line."""
    _live.update(s for s in secrets if s and len(s) >= 4)


def mask(*secrets: str) -> None:
    """Register long-lived secrets (a credential's own) with Airflow's masker (logs show ``***``)."""
    values = [s for s in secrets if s and len(s) >= 4]
    _live.update(values)
    try:
        from airflow.sdk.log import mask_secret
    except Exception:  # noqa: BLE001 - outside Airflow (CLI, tests): redaction still applies
        return
    for value in values:
        try:
            mask_secret(value)
        except Exception:  # noqa: BLE001 - the masker is best effort, never a failure
            pass


@dataclass(frozen=True)
class Lease:
    value: Any = field(repr=False)  # the token / the frozen AWS credentials
    secrets: tuple[str, ...] = field(repr=False)
    expires_at: float | None  # time.time(); None: unknown
    obtained_at: float = field(default_factory=time.time)

    @property
    def refresh_at(self) -> float:
        if self.expires_at is None:
            return self.obtained_at + UNKNOWN_LIFETIME
        lifetime = max(0.0, self.expires_at - self.obtained_at)
        return self.expires_at - min(MAX_MARGIN, lifetime / 5)

    def fresh(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) < self.refresh_at


class SharedLease:
    """The current lease of one credential in this process."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.lease: Lease | None = None
        self.refreshes = 0
        self._remembered: set[str] = set()
        self._lock = threading.Lock()
        self._futures: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[Lease]]] = {}

    def current(self) -> Lease | None:
        """The lease if it is fresh (no I/O, no await: the hot path of every request)."""
        lease = self.lease
        return lease if lease is not None and lease.fresh() else None

    def _store(self, lease: Lease) -> Lease:
        self.lease = lease
        self.refreshes += 1
        _live.difference_update(self._remembered - set(lease.secrets))  # the replaced lease's
        self._remembered = set(lease.secrets)
        remember(*lease.secrets)
        return lease

    def get_sync(self, fetch: Callable[[], Lease]) -> Lease:
        """A fresh lease, fetched (blocking) by one thread at a time."""
        lease = self.current()
        if lease is not None:
            return lease
        with self._lock:
            lease = self.current()
            if lease is None:
                lease = self._store(fetch())
            return lease

    async def get_async(self, fetch: Callable[[], Awaitable[Lease]]) -> Lease:
        """A fresh lease; coroutines of one event loop that ask together share one ``fetch``."""
        lease = self.current()
        if lease is not None:
            return lease
        loop = asyncio.get_running_loop()
        entry = self._futures.get(id(loop))
        if entry is None or entry[0] is not loop:
            future: asyncio.Future[Lease] = asyncio.ensure_future(self._fetch_async(fetch))
            entry = self._futures[id(loop)] = (loop, future)
            future.add_done_callback(lambda _: self._futures.pop(id(loop), None))
        return await asyncio.shield(entry[1])

    async def _fetch_async(self, fetch: Callable[[], Awaitable[Lease]]) -> Lease:
        lease = self.current()  # another thread may have refreshed it meanwhile
        return lease if lease is not None else self._store(await fetch())

    def invalidate(self, lease: Lease | None) -> bool:
        """The service rejected ``lease``: forget it if it is still the current one.

        True if a retry with a new lease makes sense (the rejected one was current or already
        replaced); False if there was no lease.
        """
        if lease is None:
            return False
        with self._lock:
            if self.lease is lease:
                self.lease = None
        return True


_shared: dict[str, SharedLease] = {}
_shared_lock = threading.Lock()


def shared(key: str) -> SharedLease:
    """The process's ``SharedLease`` for a credential key (``OAuth2ClientCredentials.key`` ...)."""
    entry = _shared.get(key)
    if entry is None:
        with _shared_lock:
            entry = _shared.setdefault(key, SharedLease(key))
    return entry


def forget_all() -> None:
    """Drop every lease of this process (tests; a credential rotated everywhere)."""
    _shared.clear()
    _live.clear()
