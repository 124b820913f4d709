"""Fault injection, the DescribeExecution token bucket and the request log (thread-safe)."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

RESOURCES = ("start-execution", "describe-execution", "stop-execution")  # the gateway's resources
# Gateway resources a sandbox serves only when asked to (``Sandbox(extra_resources=...)``).
EXTRA_RESOURCES = ("redrive-execution", "get-execution-history", "start-sync-execution")
# Faults are keyed by action: the gateway resource's name, which the direct Step Functions listener
# uses too (DescribeExecution there takes a "describe-execution" fault). The direct API's other
# actions (ListExecutions, DescribeStateMachine, ...) take only "*" faults.
FAULT_RESOURCES = RESOURCES + EXTRA_RESOURCES
FAULT_KINDS = ("429", "500", "502", "503", "504", "reset", "delay", "malformed_json", "throttling_200")
DEFAULT_DELAY_SECONDS = 30.0


@dataclass
class Fault:
    resource: str
    kind: str
    remaining: int
    delay_seconds: float = DEFAULT_DELAY_SECONDS

    def as_dict(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "kind": self.kind,
            "count": self.remaining,
            "delay_seconds": self.delay_seconds,
        }


class Faults:
    """The next N responses of a resource (or of any resource, ``"*"``) fail in a given way.

    A resource names an action (``describe-execution`` = DescribeExecution), so a fault is taken by
    the next such request on either path: the API Gateway stand-in or the direct Step Functions API.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def inject(
        self,
        resource: str = "*",
        kind: str = "503",
        count: int = 1,
        delay_seconds: float | None = None,
    ) -> None:
        kind = str(kind)
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        if resource != "*" and resource not in FAULT_RESOURCES:
            raise ValueError(f"unknown resource {resource!r}; expected '*' or one of {FAULT_RESOURCES}")
        if int(count) < 1:
            raise ValueError("count must be >= 1")
        fault = Fault(
            resource,
            kind,
            int(count),
            DEFAULT_DELAY_SECONDS if delay_seconds is None else float(delay_seconds),
        )
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_dict() for f in self._faults]

    def take(self, resource: str) -> Fault | None:
        """Consume one fault for ``resource`` (first injected first), if any is pending."""
        with self._lock:
            for fault in self._faults:
                if fault.resource in ("*", resource):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return Fault(fault.resource, fault.kind, 1, fault.delay_seconds)
        return None


class Quota:
    """AWS's per-account token bucket for DescribeExecution (300 burst, 15/s in us-east-1); off by default.

    One bucket for both paths (gateway and direct API), as AWS's is per account and region."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.enabled = False
        self.burst = 300.0
        self.refill_per_second = 15.0
        self._tokens = 0.0
        self._stamp = time.monotonic()

    def enable(self, burst: float = 300, refill_per_second: float = 15) -> None:
        with self._lock:
            self.enabled = True
            self.burst = float(burst)
            self.refill_per_second = float(refill_per_second)
            self._tokens = self.burst
            self._stamp = time.monotonic()

    def disable(self) -> None:
        with self._lock:
            self.enabled = False

    def state(self) -> dict[str, Any]:
        with self._lock:
            self._refill()
            return {
                "enabled": self.enabled,
                "burst": self.burst,
                "refill_per_second": self.refill_per_second,
                "tokens": self._tokens,
            }

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.refill_per_second)
        self._stamp = now

    def try_acquire(self) -> bool:
        """Take one token; False means the call is throttled."""
        with self._lock:
            if not self.enabled:
                return True
            self._refill()
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class RequestLog:
    def __init__(self, maxlen: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=maxlen)

    def append(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
