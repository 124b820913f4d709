"""``RestJobOperator``: the REST job of a connection information file (any REST API).

The file is loaded and validated when the DAG is parsed (``connection_info``); at run time its
requests are rendered with the task context and the start response's takeover values, the start
request is sent by the worker, and the monitoring / termination requests become the ``JobSpec``
that ``RestJobBaseOperator`` waits on and stops.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_restjob import connection_info as ci
from airflow_restjob.compat import AirflowFailException
from airflow_restjob.errors import DefinitionError, NotSuccessError, RestJobError, UnparsableResponseError
from airflow_restjob.hooks.rest_job import RestJobHook
from airflow_restjob.operators.base import (
    DEFAULT_MAX_WAIT,
    RestJobBaseOperator,
    Started,
    fail,
    poll_spec,
    redact,
)
from airflow_restjob.rest_job.retry import NO_RETRY, RetryPolicy
from airflow_restjob.rest_job.spec import JobSpec, RequestSpec, preview, search
from airflow_restjob.transport.common import Reply

if TYPE_CHECKING:
    from airflow.sdk import Context

JOB_ID_KEY = "job_id"
TAKEOVER_KEY = "takeover"
MAX_LOGGED_RESPONSE = 4000


class RestJobOperator(RestJobBaseOperator):
    """Run the REST job described by a connection information file (any REST API).

    :param connection_info: the file (absolute, or relative to the DAG file's folder or to the
        DAG's ``template_searchpath``), or the same content as a dict.  Loaded and validated when
        the DAG is parsed: a bad file is an import error naming the file, the key and what was
        expected.  Its strings are rendered with Jinja here, not as template fields.
    :param conn_id: connection whose host is the base URL for relative URLs.  Default: the
        request's ``authName`` connection.  It does not sign: ``authName`` does.
    :param deferrable: wait in the triggerer (True) or poll in the worker (False); default
        ``[operators] default_deferrable`` (Airflow's default: False). Deferral needs a running
        triggerer; ``[triggerer] capacity`` (1,000 by default) bounds the jobs one triggerer holds.
    :param max_wait: give up after this many seconds (default 7 days), like ``pollingCount``.
    :param poll_backoff: factor by which ``pollingInterval`` grows (default 1: fixed interval).
    :param max_poll_interval: cap for the interval when ``poll_backoff`` > 1.
    :param stop_on_kill: send the termination request when the task is cancelled (default True).
    :param http_retry: retries of throttled/transient monitoring and termination calls.
    :param retry_start: retry a POST start request on throttling/transient errors (default False:
        a retried POST could start the job twice; GET/PUT/DELETE starts are always retried).
    :param allow_absolute_output_paths: let ``resBody`` / ``resHeader`` be absolute paths (or
        ``~/...``), written where they say (default False).  Without it, and always for relative
        paths, an output file must stay inside the connection information file's folder (the DAG
        file's folder for a dict): ``../x``, an absolute path or a symbolic link out of the folder is
        a definition error (end code 2) when the DAG is parsed, or, for a path rendered from a
        template, before the start request is sent.

    XCom: ``job_id`` (the first takeover value), ``takeover`` (all takeover values), one key per
    ``jobnetValKeys`` entry, ``job_status``; the return value is the last monitoring response
    (the start response when there is no monitoring).
    """

    template_fields: Sequence[str] = ()
    ui_color = "#e6e0f5"
    stop_on_error = True

    def __init__(
        self,
        *,
        connection_info: str | os.PathLike[str] | Mapping[str, Any],
        conn_id: str | None = None,
        deferrable: bool | None = None,
        max_wait: float | None = DEFAULT_MAX_WAIT,
        poll_backoff: float = 1.0,
        max_poll_interval: float | None = None,
        stop_on_kill: bool = True,
        http_retry: RetryPolicy | None = None,
        retry_start: bool = False,
        retry_mode: str = "new",
        allow_absolute_output_paths: bool = False,
        **kwargs: Any,
    ) -> None:
        if retry_mode != "new":
            raise DefinitionError(
                f"Task '{kwargs.get('task_id')}': retry_mode={retry_mode!r} is for Step Functions executions "
                "(StepFunctionsExecutionOperator); a REST job of a connection information file has no redrive.",
                "Remove retry_mode (every try starts the job again), or use StepFunctionsExecutionOperator "
                "with retry_mode='redrive'.",
            )
        super().__init__(
            conn_id=conn_id, deferrable=deferrable, stop_on_kill=stop_on_kill, http_retry=http_retry, **kwargs
        )
        self.connection_info = connection_info
        self.retry_start = retry_start
        self.allow_absolute_output_paths = bool(allow_absolute_output_paths)
        task_id = kwargs.get("task_id")
        try:
            self.info = ci.load(
                connection_info, self._search_dirs(), allow_absolute_output_paths=self.allow_absolute_output_paths
            )
        except RestJobError as exc:
            raise type(exc)(f"Task '{task_id}': {exc.cause}", exc.fix) from None
        monitoring = self.info.monitoring
        interval = monitoring.polling_interval if monitoring else ci.DEFAULT_POLLING_INTERVAL
        self.poll = poll_spec(
            task_id,
            first_delay=monitoring.first_monitor_interval if monitoring else interval,
            interval=interval,
            max_interval=interval if max_poll_interval is None else max_poll_interval,
            backoff=poll_backoff,
            max_polls=monitoring.polling_count if monitoring else None,
            max_wait=DEFAULT_MAX_WAIT if max_wait is None else max_wait,  # a wait is never unbounded
        )
        if self.conn_id is None:
            for req in (self.info.request, self.info.wait_request):
                if req and "://" not in req.url and "{{" not in req.url and not req.auth_name:
                    raise DefinitionError(
                        f"Task '{task_id}': {self.info.source}: {req.section}.url: {req.url!r} is relative, "
                        "but there is no connection to take the base URL from.",
                        "Write an absolute URL, set authName, or pass conn_id= (its host is the base URL).",
                    )

        self._check_credential_types(task_id)

    def _check_credential_types(self, task_id: Any) -> None:
        """When the DAG is parsed: a connection of the wrong kind (a proxy as authName, a credential
        as proxyAuthName) is a DAG import error.  Connections not readable yet are checked when the
        task starts (before anything is sent)."""
        from airflow_restjob.connections.routes import role_problem

        seen: set[tuple[str, str]] = set()
        for req in (self.info.request, self.info.wait_request, self.info.termination):
            if req is None:
                continue
            for name, role in ((req.auth_name, "authName"), (req.proxy_auth_name, "proxyAuthName")):
                if not name or "{{" in name or (name, role) in seen:
                    continue
                seen.add((name, role))
                try:
                    conn = self._connection_at_parse(name)
                except Exception:  # noqa: BLE001 - absent or unreadable at parse time: checked at run time
                    continue
                problem = role_problem(conn, role)
                if problem:
                    raise DefinitionError(f"Task '{task_id}': {self.info.source}: {problem[0]}", problem[1])

    @staticmethod
    def _connection_at_parse(name: str) -> Any:
        from airflow.sdk import BaseHook

        return BaseHook.get_connection(name)

    def _search_dirs(self) -> list[str]:
        """Where relative file names are looked up: the DAG file's folder, then the DAG's
        ``template_searchpath`` (relative entries from the DAG file's folder), as for templates.
        An operator outside a DAG looks in the working directory."""
        dag = self.dag if self.has_dag() else None
        fileloc = getattr(dag, "fileloc", None)
        folder = Path(fileloc).parent if fileloc else Path.cwd()
        searchpath = getattr(dag, "template_searchpath", None) or ()
        if isinstance(searchpath, str):
            searchpath = [searchpath]
        return [str(folder), *(str(folder / entry) for entry in searchpath)]

    # --- helpers --------------------------------------------------------------------------------
    def _hook(self, req: ci.RequestDef, retry: RetryPolicy | None = None) -> RestJobHook:
        return RestJobHook(retry=retry or self.http_retry, route=req.route(self.conn_id))

    def _renderer(self, context: Context) -> ci.Renderer:
        return ci.Renderer(self.info.source, self.get_template_env(), context)

    def _log_response(
        self, what: str, status: Any, data: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        self.log.info("%s: HttpStatusCode=%s", what, status)
        if headers is not None:
            self.log.info("%s header: %s", what, preview(redact(dict(headers)), MAX_LOGGED_RESPONSE))
        self.log.info("%s body: %s", what, preview(redact(data), MAX_LOGGED_RESPONSE))

    def _output(self, renderer: ci.Renderer, req: ci.RequestDef, key: str) -> Path | None:
        """Where ``resBody`` / ``resHeader`` of ``req`` is written (None: not written)."""
        template = req.res_body if key == "resBody" else req.res_header
        if not template:
            return None
        where = f"{req.section}.{key}"
        return renderer.path(where, template, self.info.base_dir, self.allow_absolute_output_paths)

    def _write(self, renderer: ci.Renderer, req: ci.RequestDef, key: str, data: Any) -> None:
        path = self._output(renderer, req, key)
        if path is None:
            return
        where = f"{req.section}.{key}"
        ci.write_response(self.info.source, where, path, data)
        self.log.info("%s written to %s", where, path)

    def _push_values(self, ti: Any, req: ci.RequestDef, response: Any) -> None:
        for key, value in ci.extract(req.jobnet_val_keys, response).items():
            if value is None:
                self.log.warning(
                    "%s.jobnetValKeys: the response has no value at %r; XCom %r is null.",
                    req.section,
                    req.jobnet_val_keys[key],
                    key,
                )
            ti.xcom_push(key=key, value=value)

    def _job_spec(self, renderer: ci.Renderer, takeover: Mapping[str, Any]) -> JobSpec | None:
        """Monitoring + termination, rendered with the takeover values (None without monitoring)."""
        info = self.info
        if info.monitoring is None:
            return None
        m = info.monitoring
        return JobSpec(
            label=f"REST job ({Path(info.source).name})",
            monitor=renderer.request(m.request, takeover).spec(),
            end_key=m.end_key,
            end_values=m.end_values,
            result_key=m.result_key,
            success_values=m.success_values,
            terminate=self._termination(renderer, takeover),
            poll=self.poll,
        )

    def _termination(self, renderer: ci.Renderer, takeover: Mapping[str, Any]) -> RequestSpec | None:
        if self.info.termination is None:
            return None
        return renderer.request(self.info.termination, takeover).spec()

    # --- start ----------------------------------------------------------------------------------
    def _start_job(self, context: Context) -> Started:
        ti = context["ti"]
        info = self.info
        renderer = self._renderer(context)
        start = renderer.request(info.request)  # a bad body fails here, before anything is sent
        for later in (info.monitoring.request if info.monitoring else None, info.termination):
            if later is not None:  # what does not wait for the takeover values fails now too
                renderer.check_before_start(later)
        outputs = [(info.request, "resHeader"), (info.request, "resBody")]
        for req, key in outputs + ([(info.monitoring.request, "resBody")] if info.monitoring else []):
            self._output(renderer, req, key)  # an output file out of its folder fails before the start
        idempotent = start.method != "POST" or self.retry_start
        start_client = self._hook(info.request, self.http_retry if idempotent else NO_RETRY).client()
        wait_hook = self._hook(info.wait_request) if info.wait_request is not None else None
        if wait_hook is not None:
            self._prepare_wait(wait_hook)

        self.log.info("Starting %s: %s %s", info.source, start.method, start_client.settings.url(start.url))
        reply: Reply = start_client.request(**start.spec().call_args())
        self._log_response("Start response", reply.status, reply.data, reply.headers)
        self._write(renderer, info.request, "resHeader", reply.headers)
        self._write(renderer, info.request, "resBody", reply.data)

        takeover = ci.extract(info.request.takeover_keys, reply.data)
        job_id = self._record_job(ti, reply.data, takeover)
        try:
            self._check_takeover(reply.data, takeover)
            spec = self._job_spec(renderer, takeover)
        except RestJobError as error:
            self._terminate_after_start_error(renderer, takeover, job_id, error)
            raise
        if spec is None:
            self.log.info("No monitoring: the job ended when the start request was accepted.")
            return Started(result=reply.data)
        return Started(job_id, spec, wait_hook)

    def _record_job(self, ti: Any, response: Any, takeover: Mapping[str, Any]) -> str:
        """The job id (the first takeover value, or one per try) in the log and XCom."""
        names = list(takeover)
        if names and takeover[names[0]] is None:
            raise UnparsableResponseError(
                f"{self.info.source}: request.takeoverKeys[0]: the start response has no value at "
                f"{self.info.request.takeover_keys[names[0]]!r} (the job id), so the job cannot be monitored "
                f"or terminated: {preview(redact(response), 500)}",
                "Check takeoverKeys against the API's start response.",
            )
        if names:
            job_id = str(takeover[names[0]])
        else:
            job_id = f"{ti.dag_id}.{ti.task_id}.{ti.run_id}.{getattr(ti, 'map_index', -1)}.try{ti.try_number}"
        self._job_id = job_id
        self.log.info("Job id: %s", job_id)
        ti.xcom_push(key=JOB_ID_KEY, value=job_id)
        ti.xcom_push(key=TAKEOVER_KEY, value=dict(takeover))
        self._push_values(ti, self.info.request, response)
        return job_id

    def _check_takeover(self, response: Any, takeover: Mapping[str, Any]) -> None:
        missing = [n for n, value in takeover.items() if value is None]
        if missing:
            raise UnparsableResponseError(
                f"{self.info.source}: request.takeoverKeys: the start response has no value at "
                f"{self.info.request.takeover_keys[missing[0]]!r}: {preview(redact(response), 500)}",
                "Check takeoverKeys against the API's start response.",
            )

    def _terminate_after_start_error(
        self, renderer: ci.Renderer, takeover: Mapping[str, Any], job_id: str, error: RestJobError
    ) -> None:
        """The job was started but cannot be waited for: try the termination request anyway."""
        if self.info.termination is None or self._client is None:
            return
        try:
            terminate = self._termination(renderer, takeover)
        except RestJobError as exc:
            self.log.error("Termination of %s not sent: %s", job_id, exc)
            return
        assert terminate is not None
        spec = JobSpec(
            label="REST job",
            monitor=terminate,
            end_key="x",
            end_values=("x",),
            result_key="x",
            success_values=("x",),
            terminate=terminate,
        )
        self._send_stop(self._client, spec, job_id, "airflow-restjob: start failed", str(error)[:500])

    def _rebuild(self, job_id: str, context: Context) -> tuple[RestJobHook, JobSpec] | None:
        if self.info.termination is None or self.info.wait_request is None:
            return None
        takeover = context["ti"].xcom_pull(task_ids=self.task_id, key=TAKEOVER_KEY) or {}
        spec = self._job_spec(self._renderer(context), takeover)
        if spec is None:
            return None
        return self._hook(self.info.wait_request), spec

    def _stop_note(self, event: dict[str, Any]) -> str:
        if self.info.termination is None:
            return "no termination request is defined, the job may still run."
        if event.get("stopped", True):
            return "the termination request was sent."
        return "the termination request was NOT accepted."

    # --- completion -----------------------------------------------------------------------------
    def _job_finished(self, context: Context, event: dict[str, Any]) -> Any:
        ti = context["ti"]
        job_id = event.get("job_id") or self._job_id
        response = event.get("response")
        monitoring = self.info.monitoring
        assert monitoring is not None
        self._log_response("Last monitoring response", event.get("http_status", "2xx"), response)
        ti.xcom_push(key="job_status", value=event.get("job_status"))
        self._push_values(ti, monitoring.request, response)
        renderer = self._renderer(context)
        try:
            self._write(renderer, monitoring.request, "resBody", response)
        except RestJobError as error:
            raise fail(error.with_execution(job_id)) from None
        if event.get("status") == "success":
            self.log.info("REST job %s ended %s", job_id, event.get("job_status"))
            return response
        result = search(monitoring.result_key, response)
        raise AirflowFailException(
            str(
                NotSuccessError(
                    f"{self.info.source}: REST job {job_id} ended with {monitoring.end_key}="
                    f"{event.get('job_status')!r}; {monitoring.result_key}={result!r} is not one of "
                    f"checkResultVal {list(monitoring.success_values)}.",
                    execution_id=job_id,
                )
            )
        )
