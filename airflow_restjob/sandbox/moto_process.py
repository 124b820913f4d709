"""Child process running moto's server (``python -m airflow_restjob.sandbox.moto_process``).

moto runs in its own process so the gateway's event loop never competes with moto for the GIL.
Prints ``MOTO_PORT=<port>`` once listening; exits on SIGTERM/SIGINT or when stdin closes (the
parent went away).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server


class _QuietHandler(MotoRequestHandler):
    """moto's request handler without the per-request access log."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _MotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
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
