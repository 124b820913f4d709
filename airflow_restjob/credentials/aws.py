"""Temporary AWS credentials through botocore: assume role, web identity, profiles, the default chain.

botocore (the ``aws`` extra) does the credential work - its default chain (environment, shared
config/credentials files and profiles incl. ``role_arn`` / ``credential_process`` / SSO, web
identity from ``AWS_ROLE_ARN`` + ``AWS_WEB_IDENTITY_TOKEN_FILE``, container and instance metadata)
and its STS client; this module only turns what it answers into a ``Lease`` and its failures
into errors with a cause and a fix.  Every function here blocks: the triggerer runs them in a
thread (``asyncio.to_thread``), never on its event loop.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_restjob.credentials.cache import Lease
from airflow_restjob.credentials.types import AwsRole
from airflow_restjob.errors import AuthError, DefinitionError, RequestTimeoutError, TransientError

INSTALL_FIX = "Install the aws extra: pip install 'airflow-provider-restjob[aws]' (botocore)."


@dataclass(frozen=True)
class Frozen:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


def require_botocore(name: str) -> None:
    """A DAG that needs botocore fails when it is parsed, not when the job has started."""
    import importlib.util

    if importlib.util.find_spec("botocore") is None:
        raise DefinitionError(
            f"Connection '{name}' uses temporary AWS credentials (role, web identity, profile or the "
            "default chain), which need botocore, and it is not installed.",
            INSTALL_FIX,
        )


_sources: dict[str, Any] = {}  # credential key -> botocore Credentials of a chain/profile (refreshable)
_clients: dict[str, Any] = {}  # credential key -> STS client
_lock = threading.Lock()


def _session(role: AwsRole) -> Any:
    import botocore.session

    return botocore.session.Session(profile=role.profile) if role.profile else botocore.session.Session()


def _chain_credentials(role: AwsRole, name: str) -> Any:
    with _lock:
        creds = _sources.get(role.key)
        if creds is None:
            creds = _session(role).get_credentials()
            if creds is None:
                where = f"profile '{role.profile}'" if role.profile else "the default AWS credential chain"
                raise AuthError(
                    f"Credential '{name}': no AWS credentials found in {where}.",
                    "Give the worker and triggerer AWS credentials (environment, ~/.aws, an instance or "
                    "container role, EKS IRSA), or set the connection's access key / role.",
                )
            _sources[role.key] = creds
    return creds


def _sts_client(role: AwsRole, name: str) -> Any:
    with _lock:
        client = _clients.get(role.key)
    if client is not None:
        return client
    from botocore import UNSIGNED
    from botocore.config import Config

    options: dict[str, Any] = {
        "region_name": role.sts_region or "us-east-1",
        "config": Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=10, read_timeout=30),
    }
    if role.sts_endpoint:
        options["endpoint_url"] = role.sts_endpoint
    if role.web_identity_token_file:  # the token is the credential: the call is unsigned
        options["config"] = options["config"].merge(Config(signature_version=UNSIGNED))
        client = _session(role).create_client("sts", **options)
    elif role.source == "static":
        client = _session(role).create_client(
            "sts",
            aws_access_key_id=role.access_key_id,
            aws_secret_access_key=role.secret_access_key,
            aws_session_token=role.session_token,
            **options,
        )
    else:  # the chain / profile: botocore resolves (and refreshes) the source itself, per client
        return _session(role).create_client("sts", **options)
    with _lock:
        _clients[role.key] = client
    return client


def _failure(role: AwsRole, name: str, exc: Exception) -> Exception:
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    what = f"Credential '{name}' ({role.label})"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        for secret in role.secrets:
            message = message.replace(secret, "***")
        fixes = {
            "AccessDenied": "The source credentials may not assume this role: check the role's trust "
            "policy (principal, sts:ExternalId condition) and the caller's sts:AssumeRole permission.",
            "InvalidIdentityToken": "The web identity token was refused: check the token file and the "
            "role's OIDC provider (EKS: the service account's IRSA annotation).",
            "ExpiredTokenException": "The web identity token or the source session expired: the platform "
            "must rotate the token file; check the source credentials.",
            "ExpiredToken": "The source credentials expired: refresh them.",
            "InvalidClientTokenId": "The source access key ID is unknown: check the connection's keys.",
            "SignatureDoesNotMatch": "The source secret access key is wrong: check the connection's keys.",
            "RegionDisabledException": "STS is not enabled in this Region: set sts_region / sts_endpoint.",
        }
        return AuthError(
            f"{what}: STS refused: {code}: {message}".rstrip(": "),
            fixes.get(code, "Check the role ARN, the source credentials and the role's trust policy."),
            error_type=code or None,
        )
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):
        return RequestTimeoutError(
            f"{what}: STS did not answer in time ({type(exc).__name__}).",
            "Check that STS (or the sts_endpoint) is reachable from the worker and triggerer.",
        )
    if isinstance(exc, EndpointConnectionError):
        return TransientError(
            f"{what}: STS could not be reached ({exc}).",
            "Check the sts_endpoint / sts_region, DNS and network path to STS.",
        )
    if isinstance(exc, NoCredentialsError):
        return AuthError(f"{what}: no source credentials ({exc}).", "Give the source credentials or a profile.")
    if isinstance(exc, OSError):
        return AuthError(
            f"{what}: the web identity token file cannot be read ({type(exc).__name__}: {exc}).",
            "Check web_identity_token_file (EKS: AWS_WEB_IDENTITY_TOKEN_FILE) and its permissions.",
        )
    return AuthError(f"{what}: {type(exc).__name__}: {exc}", "Check the connection's AWS settings.")


def _lease(creds: dict[str, Any]) -> Lease:
    frozen = Frozen(creds["AccessKeyId"], creds["SecretAccessKey"], creds.get("SessionToken"))
    expiration = creds.get("Expiration")
    expires_at = expiration.timestamp() if expiration is not None and hasattr(expiration, "timestamp") else None
    return Lease(frozen, tuple(s for s in (frozen.secret_access_key, frozen.session_token) if s), expires_at)


def fetch(role: AwsRole, name: str) -> Lease:
    """New temporary credentials (blocking: STS, files or metadata)."""
    require_botocore(name)
    try:
        if role.role_arn:
            client = _sts_client(role, name)
            args: dict[str, Any] = {"RoleArn": role.role_arn, "RoleSessionName": role.session_name}
            if role.duration_seconds:
                args["DurationSeconds"] = role.duration_seconds
            if role.web_identity_token_file:  # re-read every time: the platform rotates it
                token = Path(role.web_identity_token_file).read_text(encoding="utf-8").strip()
                answer = client.assume_role_with_web_identity(WebIdentityToken=token, **args)
            else:
                if role.external_id:
                    args["ExternalId"] = role.external_id
                answer = client.assume_role(**args)
            return _lease(answer["Credentials"])
        creds = _chain_credentials(role, name)
        frozen = creds.get_frozen_credentials()  # botocore refreshes its own refreshable credentials
        value = Frozen(frozen.access_key, frozen.secret_key, frozen.token)
        secrets = tuple(s for s in (value.secret_access_key, value.session_token) if s)
        return Lease(value, secrets, None, obtained_at=time.time())
    except (AuthError, DefinitionError):
        raise
    except Exception as exc:  # botocore's errors, the token file
        raise _failure(role, name, exc) from None


def forget() -> None:
    """Drop cached botocore clients and chains (tests)."""
    with _lock:
        _sources.clear()
        _clients.clear()
