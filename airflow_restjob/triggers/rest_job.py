"""``RestJobTrigger``: waits for a started REST job in the triggerer and stops it on cancellation.

Kwargs hold only ids and settings (they are stored in plaintext); credentials come from the
connection, resolved through Airflow's async connection API and cached per process.  A triggerer
restart rebuilds the trigger from its kwargs and it keeps polling the same job.

When is the job stopped?
- the task was marked failed / success or cleared while deferred: Airflow >= 3.3 awaits
  ``on_kill`` (we run the stop in its own task and shield it: Airflow re-cancels ``on_kill``
  about a second later); Airflow 3.1-3.2 only cancel ``run()``, so the ``CancelledError``
  handler asks Airflow what happened;
- the trigger's own deadline passed or ``max_polls`` was used up.
It is NOT stopped when the triggerer shuts down or the trigger moves to another triggerer, nor by
an old try's trigger once a new try owns another job: the guard (``should_stop``) skips the stop
only when the task is still deferred AND the job id the current try recorded in XCom is ours.

Polling at scale (thousands of triggers in one triggerer, see bench/bench_triggers.py): the
monitoring request is prepared once per trigger (URL, body bytes, SigV4 canonical request) and
only dated and signed per poll; every attempt takes a token from the process-wide quota bucket
(``airflow_restjob.transport.quota``); polls are due at fixed steps from the previous due time (loop lag is
not added to the interval), the second poll lands at a random point of the interval (triggers
created together - a deferral wave, a triggerer restart - spread out at once), and wake-ups are
rounded up to a 0.1 s tick so triggers due together share one pass of the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_restjob.connections.routes import Route
from airflow_restjob.hooks.rest_job import RestJobHook
from airflow_restjob.rest_job.flows import ended_flow, run_async, stop_flow, wait_flow
from airflow_restjob.rest_job.retry import STOP_RETRY
from airflow_restjob.rest_job.spec import JobSpec, RequestSpec, preview
from airflow_restjob.transport.quota import budget_for
from airflow_restjob.triggers.compaction import compact, compact_job

if TYPE_CHECKING:
    from airflow_restjob.transport.aio import AsyncClient, PreparedCall

HAS_TRIGGER_ON_KILL = hasattr(BaseTrigger, "on_kill")  # Airflow >= 3.3
MAX_EVENT_RESPONSE = 200_000
_background: set[asyncio.Task[Any]] = set()  # stops that must outlive a cancelled run()
_ROUTE_IN_CONN_ID: Any = object()  # auth_conn_id absent: a first-release row (conn_id names the route)


class _TriggerIO:
    """The I/O of a trigger's flows: the monitoring request is prepared once per client (URL, body
    bytes, SigV4 canonical request; only dated and signed per poll) and gated by the quota bucket;
    the termination request is retried by ``STOP_RETRY``. One small object per deferred job."""

    __slots__ = ("hook", "monitor", "client", "call")

    def __init__(self, hook: RestJobHook, monitor: RequestSpec) -> None:
        self.hook, self.monitor = hook, monitor
        self.client: AsyncClient | None = None
        self.call: PreparedCall | None = None

    def __call__(self, request: RequestSpec) -> Awaitable[Any]:
        client = self.hook.cached_client()
        if client is None or request is not self.monitor:
            return self._send(request)
        return self._poll(client)

    def _poll(self, client: AsyncClient) -> Awaitable[Any]:
        """The send coroutine itself (no wrapper frame while thousands of polls are in flight)."""
        call = self.call
        if client is not self.client or call is None:  # a new client (rotated settings) prepares it again
            self.client, self.call = client, (call := client.prepare(**self.monitor.call_args()))
        return client.send(call, gate=budget_for(client.settings))

    async def _send(self, request: RequestSpec) -> Any:
        client = await self.hook.aclient()
        if request is self.monitor:
            return await self._poll(client)
        return await client.request(**request.call_args(), retry=STOP_RETRY)


class RestJobTrigger(BaseTrigger):
    """Poll a started job until it ends, its deadline passes or the task is cancelled.

    :param conn_id: the connection whose host is the base URL (a ``restjob`` connection for Step
        Functions; credentials are never in kwargs).
    :param auth_conn_id: the connection that signs (``authName``); None: unsigned requests.
    :param proxy_conn_id: the proxy connection (``proxyAuthName``), if any.
    :param origin: ``scheme://host`` of absolute URLs when no connection has a host.
    :param job_id: the remote job id (for Step Functions the execution ARN).
    :param spec: ``JobSpec.to_dict()``: monitoring/termination requests, judging rules, polling.
    :param deadline: epoch seconds after which the job is stopped and the task times out.
    :param task_identity: ``{"dag_id", "task_id", "run_id", "map_index", "try_number"}`` of the task.
    :param id_xcom_key: XCom key under which the task recorded ``job_id`` (the guard reads it).
    :param stop_on_kill: stop the job when the task is cancelled.
    :param reason: why the deadline exists (shown in the stop cause and the task log).
    :param not_before: epoch seconds before which no final event is sent (see ``_final``).
    """

    def __init__(
        self,
        *,
        conn_id: str | None,
        job_id: str,
        spec: dict[str, Any],
        deadline: float | None = None,
        task_identity: dict[str, Any] | None = None,
        id_xcom_key: str = "execution_arn",
        stop_on_kill: bool = True,
        reason: str = "max_wait",
        not_before: float | None = None,
        auth_conn_id: str | None = _ROUTE_IN_CONN_ID,
        proxy_conn_id: str | None = None,
        origin: str | None = None,
    ) -> None:
        super().__init__()
        if auth_conn_id is _ROUTE_IN_CONN_ID:
            self.route = Route.from_legacy_conn_id(str(conn_id))
        else:
            self.route = Route(base=conn_id, auth=auth_conn_id, proxy=proxy_conn_id, origin=origin)
        self.job_id = compact(job_id)
        self.job = compact_job(spec)
        self.deadline = deadline
        self.task_identity = task_identity
        self.id_xcom_key = id_xcom_key
        self.stop_on_kill = stop_on_kill
        self.reason = reason
        self.not_before = not_before
        self._finished = False

    @property
    def log(self) -> Any:
        """One logger per class, not per instance (same name; a deferred job holds no logger of its own)."""
        return type(self).logger()

    @property
    def spec(self) -> dict[str, Any]:
        """The ``spec`` kwarg (``JobSpec.to_dict()``); the trigger holds the ``JobSpec`` itself."""
        return self.job.to_dict()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.route.base,
                "auth_conn_id": self.route.auth,
                "proxy_conn_id": self.route.proxy,
                "origin": self.route.origin,
                "job_id": self.job_id,
                "spec": self.spec,
                "deadline": self.deadline,
                "task_identity": self.task_identity,
                "id_xcom_key": self.id_xcom_key,
                "stop_on_kill": self.stop_on_kill,
                "reason": self.reason,
                "not_before": self.not_before,
            },
        )

    def hook(self) -> RestJobHook:
        return RestJobHook(route=self.route)

    # --- polling ------------------------------------------------------------------------------
    async def run(self) -> AsyncIterator[TriggerEvent]:
        spec = self.job
        hook = self.hook()
        try:
            payload = await run_async(
                wait_flow(spec, self.job_id, self.deadline, self.reason, self.log),
                self._sender(hook, spec),
                asyncio.sleep,
            )
        except asyncio.CancelledError as cancel:
            # Airflow 3.1-3.2 only cancel run() on a user action (3.3 also awaits on_kill)
            if not HAS_TRIGGER_ON_KILL and self.stop_on_kill:
                await self._stop_in_background(hook, spec, "cancelled", default_stop=False, note=str(cancel.args))
            raise
        await self._final()
        yield self._event(payload)

    def _sender(self, hook: RestJobHook, spec: JobSpec) -> _TriggerIO:
        return _TriggerIO(hook, spec.monitor)

    async def _final(self) -> None:
        """Before the final event: mark the job ended, and wait until ``not_before``.

        Airflow can lose a task whose trigger fires within seconds of deferring (the worker's
        "deferred" exit reaches the scheduler after the task was already re-queued, and the task is
        failed); the operator asks for its event no earlier than a few seconds after deferral.
        """
        self._finished = True
        if self.not_before is not None:
            wait = self.not_before - time.time()
            if wait > 0:
                await asyncio.sleep(wait)

    def _event(self, payload: dict[str, Any]) -> TriggerEvent:
        """The final event; a response too large for the trigger table is replaced by a preview."""
        response = payload.get("response")
        if response is not None and len(preview(response, MAX_EVENT_RESPONSE + 1)) > MAX_EVENT_RESPONSE:
            # the task reads the whole response again from the worker (RestJobBaseOperator._full_response)
            payload = {
                **payload,
                "response": {"truncated": preview(response, MAX_EVENT_RESPONSE)},
                "response_truncated": True,
            }
        return TriggerEvent(payload)

    # --- cancellation -------------------------------------------------------------------------
    async def on_kill(self) -> None:
        """Airflow >= 3.3, user action on the deferred task: stop the job unless the guard says no."""
        if not self.stop_on_kill or self._finished:
            return
        await self._stop_in_background(self.hook(), self.job, "user action", default_stop=True)

    async def _stop_in_background(
        self, hook: RestJobHook, spec: JobSpec, path: str, *, default_stop: bool, note: str = ""
    ) -> None:
        task = asyncio.ensure_future(self._guarded_stop(hook, spec, path, default_stop))
        _background.add(task)
        task.add_done_callback(_background.discard)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            self.log.info("Stop of %s continues in the background (%s)", self.job_id, note or path)

    async def _guarded_stop(self, hook: RestJobHook, spec: JobSpec, path: str, default_stop: bool) -> None:
        if spec.terminate is None:
            return
        try:
            stop, why = await self.should_stop()
        except Exception as exc:  # Execution API unreachable: fall back, and say so
            stop, why = default_stop, f"task state unknown ({type(exc).__name__}: {exc})"
        if not stop:
            self.log.info("Not stopping %s %s: %s", spec.label, self.job_id, why)
            return
        send = self._sender(hook, spec)
        # a job that has ended needs no stop (e.g. a frozen triggerer resumed after the task ended)
        if await run_async(ended_flow(spec), send, asyncio.sleep):
            self.log.info("Not stopping %s %s: it has already ended (%s)", spec.label, self.job_id, why)
            return
        self.log.info("Stopping %s %s: %s", spec.label, self.job_id, why)
        flow = stop_flow(spec, self.job_id, "airflow-restjob: task cancelled", f"{path}: {why}", self.log)
        await run_async(flow, send, asyncio.sleep)

    async def should_stop(self) -> tuple[bool, str]:
        """The guard: is the task still waiting on THIS job? Returns (stop?, reason)."""
        if not self.task_identity:
            return True, "no task identity (test run)"
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
        from airflow.sdk.execution_time.xcom import XCom
        from asgiref.sync import sync_to_async

        t = self.task_identity
        map_index = t.get("map_index", -1)
        states = await sync_to_async(RuntimeTaskInstance.get_task_states)(
            dag_id=t["dag_id"], task_ids=[t["task_id"]], run_ids=[t["run_id"]], map_index=map_index
        )
        key = t["task_id"] if map_index is None or map_index < 0 else f"{t['task_id']}_{map_index}"
        state = (states.get(t["run_id"]) or {}).get(key)
        if str(state) not in ("deferred", "TaskInstanceState.DEFERRED"):
            return True, f"the task is now {state or 'cleared'} (try {t.get('try_number')})"
        get_one = getattr(XCom, "aget_one", None) or sync_to_async(XCom.get_one)
        recorded = await get_one(
            key=self.id_xcom_key,
            dag_id=t["dag_id"],
            task_id=t["task_id"],
            run_id=t["run_id"],
            map_index=map_index,
        )
        if recorded == self.job_id:
            return False, "the task is still deferred on this job (trigger moved or triggerer restarting)"
        return True, f"a newer try owns another job ({recorded})"
