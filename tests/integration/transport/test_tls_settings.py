"""The connection's TLS settings win over the environment (``REQUESTS_CA_BUNDLE``,
``CURL_CA_BUNDLE``, ``SSL_CERT_FILE``) on both HTTP drivers: a real HTTPS server on loopback with a
self-signed certificate."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from airflow_restjob.connections.settings import ConnectionSettings
from airflow_restjob.errors import TransientError
from airflow_restjob.rest_job.retry import NO_RETRY
from airflow_restjob.transport.aio import AsyncClient, close_shared_sessions
from airflow_restjob.transport.sync import SyncClient


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = b'{"status": "RUNNING"}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def https(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_port}", str(cert_file)
    server.shutdown()


def settings(base_url: str, **extra: str) -> ConnectionSettings:
    return ConnectionSettings.from_fields(
        "tls",
        host=base_url,
        login="AKIAEXAMPLE000000000",
        password="secret-0000000000000000000000000000000000",
        extra={"region": "us-east-1", **extra},
    )


def sync_post(s):
    return SyncClient(s, NO_RETRY).post("describe-execution", {})


def async_post(s):
    async def go():
        try:
            return await AsyncClient(s, NO_RETRY).post("describe-execution", {})
        finally:
            await close_shared_sessions()

    return asyncio.run(go())


BOTH = pytest.mark.parametrize("post", [sync_post, async_post], ids=["sync", "async"])
BAD_BUNDLE = "/nonexistent/ca-bundle.pem"


@pytest.fixture()
def hostile_env(monkeypatch):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, BAD_BUNDLE)


@BOTH
def test_tls_verify_false_wins_over_the_environment(https, hostile_env, post):
    base, _ = https
    assert post(settings(base, tls_verify="false")) == {"status": "RUNNING"}


@BOTH
def test_ca_bundle_wins_over_the_environment(https, hostile_env, post):
    base, cert_file = https
    assert post(settings(base, ca_bundle=cert_file)) == {"status": "RUNNING"}


@BOTH
def test_verification_is_on_by_default(https, post):
    base, _ = https
    with pytest.raises(TransientError, match="connection failed"):
        post(settings(base, connect_timeout="2", read_timeout="2"))
