"""What a request carries for its credential - written once for both drivers (no I/O here).

``RequestAuth`` is built once per client from the route's settings:

- a static AWS key signs with one ``Signer``; temporary AWS credentials (role, web identity,
  chain) sign with the ``Signer`` of the current lease;
- basic, bearer and key/value add fixed headers (and query parameters, added by ``full_url``);
- OAuth2 adds ``Authorization: Bearer <token of the current lease>``.

Leases (tokens, temporary keys) come from the process-wide ``SharedLease`` of the credential; the
drivers fetch a new one when ``current()`` is None - the worker with requests, the triggerer with
aiohttp (OAuth2) or in a thread (botocore) - and call ``rejected`` when the API refused a
request, which drops the lease so that the request is sent once more with a new one.
"""

from __future__ import annotations

from airflow_restjob.connections.settings import ConnectionSettings
from airflow_restjob.credentials import cache
from airflow_restjob.credentials.types import AwsRole, Basic, Bearer, KeyValue, OAuth2ClientCredentials
from airflow_restjob.errors import AuthError
from airflow_restjob.transport.signing import Signer


class RequestAuth:
    __slots__ = ("settings", "name", "credential", "shared", "static_headers", "_signer", "_lease_signer")

    def __init__(self, settings: ConnectionSettings, name: str | None = None) -> None:
        self.settings = settings
        self.name = name or settings.conn_id
        credential = settings.credential
        self.credential = credential
        self.shared = (
            cache.shared(credential.key) if isinstance(credential, (OAuth2ClientCredentials, AwsRole)) else None
        )
        self.static_headers: dict[str, str] = (
            credential.headers() if isinstance(credential, (Basic, Bearer, KeyValue)) else {}
        )
        if credential is not None:  # the credential's own secrets (not its rotating tokens)
            cache.mask(*credential.secrets)
        self._signer = Signer(settings) if settings.sigv4 and credential is None else None
        self._lease_signer: tuple[cache.Lease, Signer] | None = None

    @property
    def oauth2(self) -> OAuth2ClientCredentials | None:
        return self.credential if isinstance(self.credential, OAuth2ClientCredentials) else None

    @property
    def aws_role(self) -> AwsRole | None:
        return self.credential if isinstance(self.credential, AwsRole) else None

    def current(self) -> cache.Lease | None:
        """The fresh lease (None: fetch one first); always None for credentials without leases."""
        return self.shared.current() if self.shared is not None else None

    @property
    def needs_lease(self) -> bool:
        return self.shared is not None

    def signer(self, lease: cache.Lease | None) -> Signer | None:
        """The SigV4 signer for this request (None: not SigV4)."""
        if self._signer is not None or self.aws_role is None:
            return self._signer
        if lease is None:
            raise AuthError(f"Credential '{self.name}': no temporary AWS credentials.", "Internal: fetch a lease first.")
        cached = self._lease_signer
        if cached is None or cached[0] is not lease:
            frozen = lease.value
            cached = self._lease_signer = (
                lease,
                Signer.from_keys(
                    frozen.access_key_id,
                    frozen.secret_access_key,
                    frozen.session_token,
                    self.settings.region,
                    self.settings.service,
                ),
            )
        return cached[1]

    def headers(self, lease: cache.Lease | None) -> dict[str, str]:
        """Headers that authenticate a request (empty for SigV4: the signer adds its own)."""
        if self.oauth2 is not None:
            if lease is None:
                raise AuthError(f"Credential '{self.name}': no access token.", "Internal: fetch a lease first.")
            return {"Authorization": "Bearer " + lease.value}
        return self.static_headers

    def rejected(self, error: Exception, lease: cache.Lease | None) -> bool:
        """The API refused a request made with ``lease``: True to send it once more with a new lease.

        OAuth2: a 401 (an expired or revoked token). Temporary AWS credentials: API Gateway's 403
        for an expired or unknown security token.
        """
        if self.shared is None or lease is None or not isinstance(error, AuthError):
            return False
        if self.oauth2 is not None:
            retry = error.status == 401
        else:
            text = error.cause.lower()
            retry = error.status == 403 and ("expired" in text or "security token" in text)
        return retry and self.shared.invalidate(lease)
