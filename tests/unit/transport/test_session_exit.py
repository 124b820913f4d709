"""The triggerer's shared aiohttp session is closed when the process exits (no "Unclosed client
session" error in the triggerer's or ``dag.test()``'s log)."""

from __future__ import annotations

import subprocess
import sys

SNIPPET = """
import asyncio, logging
logging.basicConfig()
from airflow_restjob.transport import aio

async def main():
    aio.shared_session()  # what the first poll of a trigger does

asyncio.run(main())
assert len(aio._sessions) == 1, aio._sessions  # still open when the loop is gone
print("exiting")
"""


def test_a_session_left_open_is_closed_at_exit_without_an_error():
    done = subprocess.run([sys.executable, "-c", SNIPPET], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "exiting" in done.stdout
    assert "Unclosed" not in done.stderr, done.stderr
