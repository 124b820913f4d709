"""A small asynchronous job API (no auth) for the generic REST job tests: not Step Functions.

    POST /jobs               {"duration": s, "outcome": "DONE"|"ERROR", "noId": bool, "noEndKey": bool}
                             -> 201 {"jobId": "...", "state": "RUNNING", "ticket": "..."}
    GET  /jobs/{id}          -> {"jobId", "state": RUNNING|DONE|ERROR|CANCELLED, "result"?, "error"?}
    POST /jobs/{id}/cancel   -> {"jobId", "state": "CANCELLED"}
    GET  /_admin/jobs        -> every job with its requests (what the tests assert on)

In-process (tests): ``with JobApi() as api: api.url``.  Standalone (tests/e2e):
``python -m tests.harness.jobapi --port 8123`` prints its URL on the first line and serves until
killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
import uuid
from typing import Any

from aiohttp import web


class JobApi:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.jobs: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- handlers ---------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/jobs", self._submit)
        app.router.add_get("/jobs/{id}", self._status)
        app.router.add_post("/jobs/{id}/cancel", self._cancel)
        app.router.add_get("/_admin/jobs", self._admin)
        app.middlewares.append(self._record)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "headers": dict(request.headers),
                "body": body.decode("utf-8", "replace"),
                "time": time.time(),
            }
        )
        return await handler(request)

    async def _submit(self, request: web.Request) -> web.Response:
        try:
            spec = json.loads(await request.read() or b"{}")
        except ValueError:
            return web.json_response({"message": "body is not JSON"}, status=400)
        if not isinstance(spec, dict):
            return web.json_response({"message": "body must be an object"}, status=400)
        job_id = "job-" + uuid.uuid4().hex[:12]
        self.jobs[job_id] = {
            "jobId": job_id,
            "spec": spec,
            "created": time.time(),
            "cancelled": None,
            "polls": 0,
            "cancels": [],
        }
        answer: dict[str, Any] = {"state": "RUNNING"}
        if not spec.get("noId"):
            answer["jobId"] = job_id
        if not spec.get("noTicket"):
            answer["ticket"] = "T-" + job_id
        return web.json_response(answer, status=201)

    def state(self, job: dict[str, Any]) -> str:
        if job["cancelled"]:
            return "CANCELLED"
        if time.time() - job["created"] < float(job["spec"].get("duration", 1)):
            return "RUNNING"
        return str(job["spec"].get("outcome", "DONE"))

    async def _status(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return web.json_response({"message": "no such job"}, status=404)
        job["polls"] += 1
        state = self.state(job)
        answer: dict[str, Any] = {"jobId": job["jobId"], "progress": 100 if state != "RUNNING" else 50}
        if not job["spec"].get("noEndKey"):
            answer["state"] = state
        if state == "DONE":
            answer["result"] = {"value": job["spec"].get("value", 42), "token": "s3cr3t-result-token"}
        elif state == "ERROR":
            answer["error"] = job["spec"].get("error", "disk full")
        return web.json_response(answer)

    async def _cancel(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return web.json_response({"message": "no such job"}, status=404)
        body = (await request.read()).decode("utf-8", "replace")
        job["cancels"].append(body)
        job.setdefault("cancel_times", []).append(time.time())
        if self.state(job) == "RUNNING":
            job["cancelled"] = time.time()
        return web.json_response({"jobId": job["jobId"], "state": self.state(job)})

    async def _admin(self, request: web.Request) -> web.Response:
        return web.json_response({k: {**v, "state": self.state(v)} for k, v in self.jobs.items()})

    # --- running ----------------------------------------------------------------------------
    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]

    def start(self) -> JobApi:
        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._start())
            self._ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="jobapi", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the job API did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        loop = self._loop

        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> JobApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def job_for(self, job_id: str) -> dict[str, Any]:
        return {**self.jobs[job_id], "state": self.state(self.jobs[job_id])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    api = JobApi(args.host, args.port).start()
    print(api.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
