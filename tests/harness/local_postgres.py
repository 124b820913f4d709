"""A throw-away PostgreSQL server for tests and demos (``initdb`` + ``pg_ctl`` on a loopback port).

Usage::

    with LocalPostgres() as pg:
        print(pg.url)  # postgresql+psycopg2://postgres@127.0.0.1:PORT/airflow

The server listens on 127.0.0.1 only (its unix socket lives in the temporary directory), uses
``trust`` authentication and durability settings that favour speed (``fsync=off``). Everything
is removed on exit. When running as root, PostgreSQL refuses to start, so the server runs as a
non-root user (``postgres`` by default, which the Debian ``postgresql`` package creates).

Airflow needs ``psycopg2`` (sync engine) and ``asyncpg`` (async engine, derived automatically
from the sync URL) in its environment to use this database.
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["LocalPostgres", "LocalPostgresError", "find_postgres_bin_dir", "free_port"]

log = logging.getLogger(__name__)

_INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) were not found. Install them with "
    "`apt-get install postgresql` (Debian/Ubuntu) or point LocalPostgres(bin_dir=...) / the "
    "PG_BIN_DIR environment variable at the directory that contains initdb and pg_ctl."
)


class LocalPostgresError(RuntimeError):
    """PostgreSQL could not be found, started or stopped."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def find_postgres_bin_dir(bin_dir: str | os.PathLike[str] | None = None) -> Path:
    """Locate the directory holding ``initdb`` and ``pg_ctl``; raise with the fix when missing."""
    candidates: list[Path] = []
    if bin_dir:
        candidates.append(Path(bin_dir))
    if os.environ.get("PG_BIN_DIR"):
        candidates.append(Path(os.environ["PG_BIN_DIR"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass

    def _version_key(p: str) -> float:
        try:
            return float(Path(p).parent.name)
        except ValueError:
            return 0.0

    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        candidates.append(Path(d))
    for name in ("initdb", "pg_ctl"):
        found = shutil.which(name)
        if found:
            candidates.append(Path(os.path.realpath(found)).parent)
    for cand in candidates:
        if (cand / "initdb").is_file() and (cand / "pg_ctl").is_file() and (cand / "postgres").is_file():
            return cand
    raise LocalPostgresError(_INSTALL_HINT)


class LocalPostgres:
    """Start a private PostgreSQL cluster on 127.0.0.1 and create one database.

    :param database: name of the database to create.
    :param port: TCP port; a free one is chosen when None.
    :param base_dir: parent directory of the temporary cluster directory (must be reachable by
        the server user when running as root); defaults to the system temp dir.
    :param bin_dir: directory with initdb/pg_ctl/postgres; discovered when None.
    :param run_as: user that runs the server when this process is root (default ``postgres``).
    :param max_connections: the server's ``max_connections``.
    :param startup_timeout: seconds to wait for the server to accept connections.
    """

    def __init__(
        self,
        database: str = "airflow",
        *,
        port: int | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        bin_dir: str | os.PathLike[str] | None = None,
        run_as: str = "postgres",
        max_connections: int = 300,
        startup_timeout: float = 60.0,
    ) -> None:
        self.database = database
        self.port = port
        self.base_dir = base_dir
        self.bin_dir = bin_dir
        self.run_as = run_as
        self.max_connections = max_connections
        self.startup_timeout = startup_timeout
        self.user = "postgres"  # the cluster's superuser role
        self.host = "127.0.0.1"
        self.tmpdir: Path | None = None
        self._bin: Path | None = None
        self._uid: int | None = None
        self._gid: int | None = None
        self._started = False

    # ------------------------------------------------------------------ properties
    @property
    def data_dir(self) -> Path:
        assert self.tmpdir is not None, "LocalPostgres is not started"
        return self.tmpdir / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.tmpdir is not None, "LocalPostgres is not started"
        return self.tmpdir / "sock"

    @property
    def log_file(self) -> Path:
        assert self.tmpdir is not None, "LocalPostgres is not started"
        return self.tmpdir / "postgres.log"

    @property
    def url(self) -> str:
        """SQLAlchemy URL for Airflow's ``[database] sql_alchemy_conn``."""
        return f"postgresql+psycopg2://{self.user}@{self.host}:{self.port}/{self.database}"

    @property
    def dsn(self) -> str:
        """libpq DSN (for psycopg2.connect / psql)."""
        return f"host={self.host} port={self.port} user={self.user} dbname={self.database}"

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> LocalPostgres:
        if self._started:
            return self
        self._bin = find_postgres_bin_dir(self.bin_dir)
        self._resolve_user()
        self.tmpdir = Path(tempfile.mkdtemp(prefix="restjob-pg-", dir=self.base_dir))
        try:
            self.socket_dir.mkdir()
            if self._uid is not None:
                os.chown(self.tmpdir, self._uid, self._gid or -1)
                os.chown(self.socket_dir, self._uid, self._gid or -1)
            self._run(
                [
                    str(self._bin / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                what="initdb",
            )
            last_err: LocalPostgresError | None = None
            for _attempt in range(3):  # the chosen port can be taken between choosing and binding
                port = self.port or free_port(self.host)
                try:
                    self._pg_ctl_start(port)
                    self.port = port
                    break
                except LocalPostgresError as e:
                    last_err = e
                    if self.port:  # a fixed port: do not retry
                        raise
            else:
                assert last_err is not None
                raise last_err
            self._started = True
            self._wait_ready()
            self._run(
                [
                    str(self._bin / "createdb"),
                    "-h",
                    self.host,
                    "-p",
                    str(self.port),
                    "-U",
                    self.user,
                    self.database,
                ],
                what="createdb",
            )
        except BaseException:
            self.stop()
            raise
        log.info("PostgreSQL ready at %s (data %s)", self.url, self.data_dir)
        return self

    def stop(self) -> None:
        if self.tmpdir is None:
            return
        try:
            if self._started and self._bin is not None and (self.data_dir / "postmaster.pid").exists():
                for mode in ("fast", "immediate"):
                    res = self._run(
                        [
                            str(self._bin / "pg_ctl"),
                            "stop",
                            "-D",
                            str(self.data_dir),
                            "-m",
                            mode,
                            "-w",
                            "-t",
                            "20",
                        ],
                        what="pg_ctl stop",
                        check=False,
                    )
                    if res.returncode == 0:
                        break
                self._kill_postmaster_if_alive()
        finally:
            self._started = False
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    # ------------------------------------------------------------------ helpers
    def _resolve_user(self) -> None:
        if os.geteuid() != 0:
            self._uid = self._gid = None
            return
        try:
            pw = pwd.getpwnam(self.run_as)
        except KeyError:
            raise LocalPostgresError(
                f"Running as root: PostgreSQL must run as a non-root user, and user {self.run_as!r} does "
                f"not exist. Create it (`useradd --system {self.run_as}`; the Debian `postgresql` package "
                "does this) or pass LocalPostgres(run_as=...) an existing non-root user."
            ) from None
        if pw.pw_uid == 0:
            raise LocalPostgresError(f"run_as={self.run_as!r} is root; PostgreSQL refuses to run as root.")
        self._uid, self._gid = pw.pw_uid, pw.pw_gid

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        env["LANG"] = "C"
        if self._uid is not None:
            pw = pwd.getpwuid(self._uid)
            env["HOME"] = pw.pw_dir
            env["USER"] = env["LOGNAME"] = pw.pw_name
        return env

    def _run(self, cmd: list[str], *, what: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        kwargs: dict = {}
        if self._uid is not None:
            kwargs = {"user": self._uid, "group": self._gid, "extra_groups": []}
        res = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            env=self._env(),
            cwd=str(self.tmpdir) if self.tmpdir else None,
            timeout=120,
            **kwargs,
        )
        if check and res.returncode != 0:
            raise LocalPostgresError(
                f"{what} failed (exit {res.returncode}): {' '.join(cmd)}\n{res.stdout}\n{res.stderr}"
                + self._log_tail()
            )
        return res

    def _pg_ctl_start(self, port: int) -> None:
        assert self._bin is not None
        opts = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={port}",
                f"-c unix_socket_directories={self.socket_dir}",
                f"-c max_connections={self.max_connections}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c shared_buffers=64MB",
            ]
        )
        res = self._run(
            [
                str(self._bin / "pg_ctl"),
                "start",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                opts,
                "-w",
                "-t",
                str(int(self.startup_timeout)),
            ],
            what="pg_ctl start",
            check=False,
        )
        if res.returncode != 0:
            self._kill_postmaster_if_alive()
            raise LocalPostgresError(
                f"pg_ctl start failed on port {port} (exit {res.returncode}):\n{res.stdout}\n{res.stderr}"
                + self._log_tail()
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                with socket.create_connection((self.host, int(self.port or 0)), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise LocalPostgresError(
                        f"PostgreSQL did not accept connections on {self.host}:{self.port}" + self._log_tail()
                    ) from None
                time.sleep(0.2)

    def _kill_postmaster_if_alive(self) -> None:
        pid_file = self.data_dir / "postmaster.pid" if self.tmpdir else None
        if pid_file is None or not pid_file.exists():
            return
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return
        for sig in (signal.SIGQUIT, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.1)

    def _log_tail(self, lines: int = 30) -> str:
        try:
            if self.tmpdir and self.log_file.exists():
                tail = self.log_file.read_text(errors="replace").splitlines()[-lines:]
                return "\n--- postgres.log (tail) ---\n" + "\n".join(tail)
        except OSError:
            pass
        return ""
