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
(``airflow_restjob.quota``); polls are due at fixed steps from the previous due time (loop lag is
not added to the interval), the second poll lands at a random point of the interval (triggers
created together - a deferral wave, a triggerer restart - spread out at once), and wake-ups are
rounded up to a 0.1 s tick so triggers due together share one pass of the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_restjob.client import AsyncClient, PreparedCall
from airflow_restjob.errors import RestJobError
from airflow_restjob.hook import RestJobHook
from airflow_restjob.job import JobSpec, Wait, preview, stop_request
from airflow_restjob.quota import budget_for

log = logging.getLogger(__name__)

HAS_TRIGGER_ON_KILL = hasattr(BaseTrigger, "on_kill")  # Airflow >= 3.3
MAX_EVENT_RESPONSE = 200_000
_background: set[asyncio.Task[Any]] = set()  # stops that must outlive a cancelled run()
_INTERN_MAX = 256
_shared_parts: dict[Any, Any] = {}
_SHARED_MAX = 4096
_SHARE_MAX_TEXT = 64  # longer text (ARNs, bodies) is job-specific: not worth a shared entry
WAKE_TICK = 0.1  # seconds; polls are at most this much later than due


def _compact(value: Any) -> Any:
    """The same data with its strings interned: thousands of deferred jobs share their spec's keys
    and common values ("POST", "status", ...), and one job's ARN is stored once, not three times.
    Small containers without job-specific text (the poll settings, the status lists) are shared by
    every trigger whose spec has equal ones (nothing mutates a spec)."""
    if isinstance(value, str):
        return sys.intern(value) if len(value) <= _INTERN_MAX else value
    if isinstance(value, dict):
        result: Any = {(sys.intern(k) if type(k) is str else k): _compact(v) for k, v in value.items()}
    elif isinstance(value, list):
        result = [_compact(v) for v in value]
    elif isinstance(value, tuple):
        return tuple(_compact(v) for v in value)
    else:
        return value
    key = _shareable_key(result)
    if key is None:
        return result
    shared = _shared_parts.get(key)
    if shared is None:
        if len(_shared_parts) >= _SHARED_MAX:
            _shared_parts.clear()
        shared = _shared_parts[key] = result
    return shared


def _shareable_key(value: Any) -> Any:
    """A hashable key of a small container of short plain values, else None."""
    if isinstance(value, dict):
        if len(value) > 16:
            return None
        items = []
        for k, v in value.items():
            key = _shareable_key(v) if isinstance(v, (dict, list)) else _plain_key(v)
            if key is None or not isinstance(k, str):
                return None
            items.append((k, key))
        return ("d", tuple(items))
    if isinstance(value, list):
        if len(value) > 16:
            return None
        keys = [_shareable_key(v) if isinstance(v, (dict, list)) else _plain_key(v) for v in value]
        return None if any(k is None for k in keys) else ("l", tuple(keys))
    return None


def _plain_key(value: Any) -> Any:
    if value is None or (type(value) is str and len(value) <= _SHARE_MAX_TEXT):
        return ("s", value)
    if type(value) in (bool, int, float):
        return (type(value).__name__, value)  # True and 1 (and 1.0) stay apart
    return None


def _hook(conn_id: str) -> RestJobHook:
    """A plain connection id, or a route of several connections (``RestJobOperator``'s files)."""
    if conn_id.startswith("restjob-route:"):
        from airflow_restjob.connection_info import RouteHook

        return RouteHook(conn_id)
    return RestJobHook(conn_id)


class RestJobTrigger(BaseTrigger):
    """Poll a started job until it ends, its deadline passes or the task is cancelled.

    :param conn_id: ``restjob`` connection (credentials are never in kwargs).
    :param job_id: the remote job id (for Step Functions the execution ARN).
    :param spec: ``JobSpec.to_dict()``: monitoring/termination requests, judging rules, polling.
    :param deadline: epoch seconds after which the job is stopped and the task times out.
    :param task_identity: ``{"dag_id", "task_id", "run_id", "map_index", "try_number"}`` of the task.
    :param id_xcom_key: XCom key under which the task recorded ``job_id`` (the guard reads it).
    :param stop_on_kill: stop the job when the task is cancelled.
    :param reason: why the deadline exists (shown in the stop cause and the task log).
    """

    def __init__(
        self,
        *,
        conn_id: str,
        job_id: str,
        spec: dict[str, Any],
        deadline: float | None = None,
        task_identity: dict[str, Any] | None = None,
        id_xcom_key: str = "execution_arn",
        stop_on_kill: bool = True,
        reason: str = "max_wait",
        not_before: float | None = None,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.job_id = sys.intern(job_id) if isinstance(job_id, str) else job_id
        self.spec = _compact(spec)
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

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
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

    # --- polling ------------------------------------------------------------------------------
    async def run(self) -> AsyncIterator[TriggerEvent]:
        spec = JobSpec.from_dict(self.spec)
        hook = _hook(self.conn_id)
        wait = Wait(spec, self.deadline, self.reason)
        monitor = spec.monitor
        # the monitoring request is worked out once per client (URL, body bytes, SigV4 canonical
        # request) and only signed per poll; a new client (rotated settings) prepares it again
        client: AsyncClient | None = None
        call: PreparedCall | None = None
        self.log.info("Waiting for %s %s", spec.label, self.job_id)
        # Polls are due at fixed steps from the previous due time, not from when the previous
        # poll finished: when thousands of triggers poll at once and the loop lags, the lag is
        # not added to every interval (detection latency stays <= interval + jitter).  A trigger
        # more than one step behind (a long retry or quota wait) starts afresh instead of catching up.
        due = time.time()
        try:
            while True:
                step = wait.delay(due)
                due += step
                now = time.time()
                if due < now - step:
                    due = now
                # wake on a coarse tick: triggers due within the same tick share one loop wake-up
                # (and their requests one pass of the event loop) - fewer wake-ups per poll
                wake = math.ceil(due / WAKE_TICK) * WAKE_TICK
                await asyncio.sleep(wake - now if wake > now else 0.0)
                limit = wait.limit_reached(time.time())
                if limit:
                    event = await self._give_up(hook, spec, *limit)
                    await self._final()
                    yield event
                    return
                try:
                    current = await hook.aclient()
                    if current is not client or call is None:
                        client = current
                        call = client.prepare(**monitor.call_args())
                    # every attempt (retries too) takes a token of the process-wide quota bucket
                    reply = await client.send(call, gate=budget_for(client.settings))
                    verdict, changed = wait.observe(reply.data)
                except RestJobError as error:
                    if (
                        error.retryable
                    ):  # the client's retries are used up: keep waiting, bounded by the deadline
                        self.log.warning("Poll of %s failed, will poll again: %s", self.job_id, error)
                        wait.failed_poll()
                        continue
                    await self._final()
                    yield self._event("error", error=error.with_execution(self.job_id))
                    return
                if changed:
                    self.log.info("%s %s is %s", spec.label, self.job_id, verdict.status)
                if verdict.ended:
                    await self._final()
                    yield self._event(
                        "success" if verdict.success else "failed",
                        job_status=verdict.status,
                        response=reply.data,
                        details=verdict.details,
                        http_status=reply.status,
                    )
                    return
                del reply, verdict  # do not hold the last response while sleeping (memory per job)
        except asyncio.CancelledError as cancel:
            # after the final event the triggerer (3.1) cancels run(): the job has ended, nothing to stop
            if not HAS_TRIGGER_ON_KILL and self.stop_on_kill and not self._finished:
                await self._stop_in_background(
                    hook, spec, "cancelled", default_stop=False, note=str(cancel.args)
                )
            raise

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

    def _event(self, status: str, error: RestJobError | None = None, **payload: Any) -> TriggerEvent:
        body: dict[str, Any] = {"status": status, "job_id": self.job_id, **payload}
        if error is not None:
            body.update(message=str(error), end_code=int(error.end_code), error_type=error.error_type)
        if "response" in body and len(preview(body["response"], MAX_EVENT_RESPONSE + 1)) > MAX_EVENT_RESPONSE:
            body["response"] = {"truncated": preview(body["response"], MAX_EVENT_RESPONSE)}
        return TriggerEvent(body)

    async def _give_up(self, hook: RestJobHook, spec: JobSpec, status: str, why: str) -> TriggerEvent:
        stopped = False
        if spec.terminate is not None:
            stopped = await stop_job_async(hook, spec, self.job_id, "airflow-restjob: wait limit", why)
        return self._event(status, message=why, stopped=stopped)

    # --- cancellation -------------------------------------------------------------------------
    async def on_kill(self) -> None:
        """Airflow >= 3.3, user action on the deferred task: stop the job unless the guard says no."""
        if not self.stop_on_kill:
            return
        spec = JobSpec.from_dict(self.spec)
        await self._stop_in_background(_hook(self.conn_id), spec, "user action", default_stop=True)

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
        if await self._already_ended(hook, spec):
            self.log.info("Not stopping %s %s: it has already ended (%s)", spec.label, self.job_id, why)
            return
        self.log.info("Stopping %s %s: %s", spec.label, self.job_id, why)
        await stop_job_async(hook, spec, self.job_id, "airflow-restjob: task cancelled", f"{path}: {why}")

    async def _already_ended(self, hook: RestJobHook, spec: JobSpec) -> bool:
        """One monitoring call: a job that has ended needs no stop (e.g. a frozen triggerer resumed
        after the task finished elsewhere). Any error means "unknown": stop anyway."""
        try:
            client = await hook.aclient()
            reply = await client.request(**spec.monitor.call_args())
            return spec.judge(reply.data).ended
        except Exception:
            return False

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


async def stop_job_async(hook: RestJobHook, spec: JobSpec, job_id: str, error: str, cause: str) -> bool:
    """Send the termination request; a job that already ended is not an error. Returns success."""
    request = stop_request(spec, error, cause)
    if request is None:
        return False
    try:
        client = await hook.aclient()
        await client.request(
            request.method, request.path, request.body, query=request.query, headers=request.headers
        )
    except RestJobError as exc:
        log.warning("Stop of %s was not accepted: %s", job_id, exc.with_execution(job_id))
        return False
    log.info("Stop sent for %s (%s)", job_id, cause)
    return True
