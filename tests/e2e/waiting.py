"""Polling helper shared by the end-to-end tests (no timed assertions: generous bounds only)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(probe: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    """Call ``probe`` until it returns something truthy; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def patient(call: Callable[..., Any], *args: Any, attempts: int = 4, **kwargs: Any) -> Any:
    """``call(*args, **kwargs)``, asked again when a busy api-server times out or answers 5xx
    (reads and idempotent writes only)."""
    import requests

    for attempt in range(attempts):
        try:
            return call(*args, **kwargs)
        except requests.RequestException as exc:
            response = getattr(exc, "response", None)
            if response is not None and response.status_code < 500 or attempt == attempts - 1:
                raise
            time.sleep(2 * (attempt + 1))
    return None
