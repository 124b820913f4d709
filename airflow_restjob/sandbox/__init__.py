"""Embedded sandbox: a SigV4-verifying API Gateway stand-in in front of moto's Step Functions.

Needs the ``sandbox`` extra (moto, boto3)::

    from airflow_restjob.sandbox import Sandbox

    with Sandbox() as sb:
        print(sb.base_url, sb.connection_json())

Names are imported lazily, so ``airflow_restjob.sandbox.cli`` (and the verifier) import without moto.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .auth_api import AuthApi
    from .client import SandboxClient
    from .sandbox import Sandbox, connection_json
    from .sigv4 import Credentials, Identity, SigV4Verifier

__all__ = [
    "AuthApi",
    "Credentials",
    "Identity",
    "Sandbox",
    "SandboxClient",
    "SigV4Verifier",
    "connection_json",
]

_WHERE = {
    "AuthApi": ".auth_api",
    "Sandbox": ".sandbox",
    "connection_json": ".sandbox",
    "SandboxClient": ".client",
    "Credentials": ".sigv4",
    "Identity": ".sigv4",
    "SigV4Verifier": ".sigv4",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
