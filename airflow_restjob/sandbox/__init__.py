"""Embedded sandbox: a SigV4-verifying API Gateway stand-in in front of moto's Step Functions.

Needs the ``sandbox`` extra (moto, boto3)::

    from airflow_restjob.sandbox import Sandbox

    with Sandbox() as sb:
        print(sb.base_url, sb.connection_json())
"""

from .client import SandboxClient
from .sandbox import Sandbox, connection_json
from .sigv4 import Credentials, Identity, SigV4Verifier

__all__ = ["Credentials", "Identity", "Sandbox", "SandboxClient", "SigV4Verifier", "connection_json"]
