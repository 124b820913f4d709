"""Memory per deferred job: a triggerer may hold ten thousand triggers (see bench/bench_triggers.py).

``compact(spec)`` returns the same data with its strings interned - thousands of deferred jobs
share their spec's keys and common values ("POST", "status", ...), and one job's ARN is stored
once, not three times - and with small containers without job-specific text (the poll settings,
the status lists) shared by every trigger whose spec has equal ones (nothing mutates a spec).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any, TypeVar

from airflow_restjob.rest_job.spec import JobSpec

T = TypeVar("T")

_INTERN_MAX = 256
_shared_parts: dict[Any, Any] = {}
_SHARED_MAX = 4096
_SHARE_MAX_TEXT = 64  # longer text (ARNs, bodies) is job-specific: not worth a shared entry


def compact_job(spec: dict[str, Any]) -> JobSpec:
    """The trigger's ``JobSpec`` from its kwargs, held instead of the kwargs' dicts (a few hundred
    bytes less per job): job-specific text interned, equal poll settings and status lists shared."""
    job = JobSpec.from_dict(compact(spec))
    return replace(
        job,
        poll=shared(job.poll),
        end_values=shared(job.end_values),
        success_values=shared(job.success_values),
        error_keys=shared(job.error_keys),
        stop_reason_keys=shared(job.stop_reason_keys),
    )


def shared(value: T) -> T:
    """One instance of each equal (hashable, immutable) value: the settings many triggers have alike."""
    try:
        found = _shared_parts.get(("v", value))
    except TypeError:  # unhashable: not shared
        return value
    if found is None:
        if len(_shared_parts) >= _SHARED_MAX:
            _shared_parts.clear()
        found = _shared_parts[("v", value)] = value
    return found  # type: ignore[no-any-return]


def compact(value: Any) -> Any:
    """The same data, its strings interned and its small plain containers shared (see above)."""
    if isinstance(value, str):
        return sys.intern(value) if len(value) <= _INTERN_MAX else value
    if isinstance(value, dict):
        result: Any = {(sys.intern(k) if type(k) is str else k): compact(v) for k, v in value.items()}
    elif isinstance(value, list):
        result = [compact(v) for v in value]
    elif isinstance(value, tuple):
        return tuple(compact(v) for v in value)
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
