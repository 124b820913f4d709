"""The triggerer reads a route's connections once per process, however many triggers start at once
(a triggerer that just started re-creates all its triggers together)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from airflow_restjob.connections.routes import Route
from airflow_restjob.hooks import rest_job
from airflow_restjob.hooks.rest_job import RestJobHook

CONN = SimpleNamespace(
    conn_id="lookup_once",
    host="http://127.0.0.1:9/stage",
    login="AKIAEXAMPLE000000000",
    password="secret-0000000000000000000000000000000000",
    extra_dejson={"region": "us-east-1"},
    schema=None,
    port=None,
)


async def test_a_thousand_triggers_share_one_connection_lookup(monkeypatch):
    reads: list[str] = []

    async def aget_connection(self, conn_id):
        reads.append(conn_id)
        await asyncio.sleep(0.05)  # a secrets backend or the Execution API takes a while
        return CONN

    monkeypatch.setattr(RestJobHook, "aget_connection", aget_connection)
    RestJobHook.forget_cached_settings()
    try:
        clients = await asyncio.gather(*(RestJobHook("lookup_once").aclient() for _ in range(1000)))
        assert reads == ["lookup_once"]
        assert len({id(c) for c in clients}) == 1 and clients[0].settings.conn_id == "lookup_once"
        # later triggers use the cached client without a lookup
        assert RestJobHook("lookup_once").cached_client() is clients[0]
        await RestJobHook("lookup_once").aclient()
        assert reads == ["lookup_once"]
    finally:
        RestJobHook.forget_cached_settings()
        from airflow_restjob.transport.aio import close_shared_sessions

        await close_shared_sessions()


async def test_a_failed_lookup_is_not_cached_and_every_waiter_gets_the_error(monkeypatch):
    calls = 0

    async def aget_connection(self, conn_id):
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise LookupError(f"The conn_id `{conn_id}` isn't defined")

    monkeypatch.setattr(RestJobHook, "aget_connection", aget_connection)
    RestJobHook.forget_cached_settings()
    results = await asyncio.gather(*(RestJobHook("missing").aclient() for _ in range(20)), return_exceptions=True)
    assert calls == 1
    assert all("Connection 'missing' could not be read" in str(r) and "end code 10" in str(r) for r in results)
    assert not rest_job._lookups and RestJobHook("missing").cached_client() is None
    await asyncio.gather(RestJobHook("missing").aclient(), return_exceptions=True)
    assert calls == 2  # read again next time (it may have been created meanwhile)


def test_forget_cached_settings_drops_the_routes_using_a_connection():
    rest_job._async_cache[Route.of("a").key] = (1e18, None, None)  # type: ignore[assignment]
    rest_job._async_cache[Route(base="b", auth=None, proxy="a").key] = (1e18, None, None)  # type: ignore[assignment]
    rest_job._async_cache[Route.of("c").key] = (1e18, None, None)  # type: ignore[assignment]
    try:
        RestJobHook.forget_cached_settings("a")
        assert list(rest_job._async_cache) == [Route.of("c").key]
    finally:
        RestJobHook.forget_cached_settings()
