"""Child process running moto's server (``python -m airflow_restjob.sandbox.moto_process``).

moto runs in its own process so the gateway's event loop never competes with moto for the GIL.
Prints ``MOTO_PORT=<port>`` once listening; exits on SIGTERM/SIGINT or when stdin closes (the
parent went away).
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import selectors
import signal
import sys
import threading
from typing import Any

import werkzeug.serving
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server


class _QuietHandler(MotoRequestHandler):
    """moto's request handler without the per-request access log, and with HTTP keep-alive.

    werkzeug's development server closes every connection after one response, because an app may
    leave part of a request body unread. Here a Content-Length body is read in full before the app
    runs, so the next request on the connection always starts clean (a chunked request still
    closes). Keep-alive spares the gateway and boto3 clients a TCP connect and a server thread per
    call; without Nagle's algorithm the header and body writes of a response do not wait for the
    client's delayed ACK (40 ms per call on a reused connection otherwise).
    """

    timeout = 120  # seconds an idle keep-alive connection (and its thread) may wait
    disable_nagle_algorithm = True
    _keep_alive = False

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        return None

    def handle_one_request(self) -> None:
        self._keep_alive = False  # until make_environ has read this request's body
        super().handle_one_request()

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        length = environ.get("CONTENT_LENGTH") or "0"
        if not environ.get("wsgi.input_terminated") and length.isdigit():
            environ["wsgi.input"] = io.BytesIO(self.rfile.read(int(length)))
            self._keep_alive = True
        return environ

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value.lower() == "close":
            if self._keep_alive and not self.close_connection:
                return  # werkzeug's unconditional close; the client's own "close" is still honoured
        super().send_header(keyword, value)


class _NoDrainSelectors:
    """Stands in for the ``selectors`` module inside ``werkzeug.serving``.

    After each response werkzeug waits up to 10 ms for leftover request bytes and reads them away,
    safe only because it closes the connection. With bodies read up front there is nothing left
    over, and on a keep-alive connection that drain would swallow the next request.
    """

    EVENT_READ = selectors.EVENT_READ

    class DefaultSelector:
        def register(self, *args: Any) -> None:
            return None

        def select(self, timeout: float | None = None) -> list[Any]:
            return []

        def close(self) -> None:
            return None


class _MotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        werkzeug.serving.selectors = _NoDrainSelectors  # type: ignore[assignment]
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=_QuietHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    # moto logs every failing state (including the expected Fail/TimeoutSeconds examples) at ERROR.
    logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").setLevel(logging.CRITICAL)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    def _watch_stdin() -> None:
        try:
            while sys.stdin.read(4096):
                pass
        except (OSError, ValueError):
            pass
        stop.set()

    server = _MotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    port = server.get_host_and_port()[1]
    # Task states (DynamoDB, SQS, ...) call back into moto at localhost:$MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)
    print(f"MOTO_PORT={port}", flush=True)
    threading.Thread(target=_watch_stdin, daemon=True).start()
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
