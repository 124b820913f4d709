"""Look for secrets in what a local Airflow wrote: every file under its home, every cell of its SQLite
metadata database (Fernet-encrypted cells decrypted, zlib blobs inflated), and trigger rows captured
while the triggers existed (tests/e2e/test_credentials.py)."""

from __future__ import annotations

import base64
import contextlib
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

FERNET_PREFIX = "gAAAAA"


def b64(text: str) -> str:
    """Standard base64 without padding (a substring of the padded form, wherever that appears)."""
    return base64.b64encode(text.encode()).decode().rstrip("=")


def variants(label: str, secret: str) -> dict[str, str]:
    """The forms a leaked secret may take: as is, URL-encoded, base64 (std and urlsafe)."""
    out = {label: secret}
    if quote(secret, safe="") != secret:
        out[f"{label} (url-encoded)"] = quote(secret, safe="")
    out[f"{label} (base64)"] = b64(secret)
    out[f"{label} (urlsafe base64)"] = base64.urlsafe_b64encode(secret.encode()).decode().rstrip("=")
    return out


@dataclass(frozen=True)
class Hit:
    where: str
    label: str

    def __str__(self) -> str:
        return f"{self.label} in {self.where}"


class Needles:
    """label -> secret text; ``find(data)`` -> the labels whose secret occurs in ``data``."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        short = [label for label, value in secrets.items() if len(value) < 8]
        if short:
            raise ValueError(f"secrets too short to look for without false hits: {short}")
        self.text = dict(secrets)
        self.raw = {label: value.encode() for label, value in secrets.items()}

    def __len__(self) -> int:
        return len(self.text)

    def find(self, data: bytes | str) -> list[str]:
        if isinstance(data, str):
            return [label for label, value in self.text.items() if value in data]
        return [label for label, value in self.raw.items() if value in data]


def files_under(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def scan_files(root: Path, needles: Needles) -> tuple[list[Hit], dict[Path, bytes]]:
    """Hits in every file under ``root`` (bytes as stored), and the contents read."""
    hits: list[Hit] = []
    contents: dict[Path, bytes] = {}
    for path in files_under(root):
        try:
            data = path.read_bytes()
        except OSError:
            continue  # removed meanwhile (a rotated log, a sqlite journal)
        contents[path] = data
        hits += [Hit(str(path.relative_to(root)), label) for label in needles.find(data)]
    return hits, contents


def _fernet(key: str) -> Any:
    from cryptography.fernet import Fernet, MultiFernet

    return MultiFernet([Fernet(k.strip().encode()) for k in key.split(",") if k.strip()])


def decrypt(fernet: Any, value: str) -> str | None:
    """The clear text of a Fernet token, or None if ``value`` is not one."""
    from cryptography.fernet import InvalidToken

    if not value.startswith(FERNET_PREFIX):
        return None
    try:
        return fernet.decrypt(value.encode()).decode("utf-8", errors="replace")
    except (InvalidToken, ValueError):
        return None


def cell_forms(fernet: Any, value: Any) -> Iterator[tuple[str, bytes | str]]:
    """(form, content) of one database cell: as stored, decrypted, inflated."""
    if value is None or isinstance(value, (int, float)):
        return
    if isinstance(value, (bytes, memoryview)):
        data = bytes(value)
        yield "raw", data
        with contextlib.suppress(zlib.error):
            yield "zlib", zlib.decompress(data)
        return
    text = str(value)
    yield "raw", text
    clear = decrypt(fernet, text)
    if clear is not None:
        yield "decrypted", clear


def connect_ro(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=15)


def scan_sqlite(
    db: Path, fernet_key: str, needles: Needles, skip: Iterable[tuple[str, str]] = ()
) -> tuple[list[Hit], dict[str, int]]:
    """Hits in every cell of every table (``skip``: (table, column) pairs), and rows per table."""
    fernet = _fernet(fernet_key)
    skipped = set(skip)
    hits: list[Hit] = []
    rows_per_table: dict[str, int] = {}
    with contextlib.closing(connect_ro(db)) as conn:
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
        for table in tables:
            cursor = conn.execute(f'select * from "{table}"')
            columns = [d[0] for d in cursor.description]
            count = 0
            for row in cursor:
                count += 1
                for column, value in zip(columns, row, strict=True):
                    if (table, column) in skipped:
                        continue
                    for form, content in cell_forms(fernet, value):
                        hits += [
                            Hit(f"db {table}.{column} ({form})", label) for label in needles.find(content)
                        ]
            rows_per_table[table] = count
    return hits, rows_per_table


def decrypted_column(db: Path, fernet_key: str, table: str, key: str, column: str) -> dict[Any, str | None]:
    """``{key: decrypted column}`` of one table (e.g. connection.extra by conn_id)."""
    fernet = _fernet(fernet_key)
    with contextlib.closing(connect_ro(db)) as conn:
        rows = conn.execute(f'select "{key}", "{column}" from "{table}"').fetchall()
    return {k: (decrypt(fernet, v) if isinstance(v, str) else None) for k, v in rows}


class TriggerWatcher:
    """Reads the trigger table every ``interval`` seconds and keeps every row it saw, decrypted: a
    trigger row is deleted once its task resumed, so a scan at the end would miss its kwargs."""

    def __init__(self, db: Path, fernet_key: str, interval: float = 1.0) -> None:
        self.db = db
        self.fernet = _fernet(fernet_key)
        self.interval = interval
        self.rows: dict[tuple[Any, Any], dict[str, Any]] = {}
        self.reads = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trigger-watcher", daemon=True)

    def start(self) -> TriggerWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def read_once(self) -> None:
        try:
            with contextlib.closing(connect_ro(self.db)) as conn:
                rows = conn.execute("select id, classpath, kwargs from trigger").fetchall()
        except sqlite3.Error:
            self.errors += 1
            return
        self.reads += 1
        for trigger_id, classpath, kwargs in rows:
            if (trigger_id, kwargs) in self.rows:  # SQLite reuses the id of a deleted last row
                continue
            # encrypted with the Fernet key by some Airflow versions, plain JSON by others
            clear = (decrypt(self.fernet, kwargs) or kwargs) if isinstance(kwargs, str) else None
            self.rows[(trigger_id, kwargs)] = {
                "id": trigger_id,
                "classpath": classpath,
                "kwargs": kwargs,
                "clear": clear,
            }

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.read_once()

    def scan(self, needles: Needles) -> list[Hit]:
        hits: list[Hit] = []
        for row in list(self.rows.values()):
            for form in ("kwargs", "clear"):
                if row[form] is not None:
                    hits += [Hit(f"trigger {row['id']} {form}", label) for label in needles.find(row[form])]
        return hits

    def kwargs_with(self, text: str) -> list[str]:
        """Decrypted kwargs of the captured triggers that contain ``text`` (e.g. a job id)."""
        return [row["clear"] for row in list(self.rows.values()) if row["clear"] and text in row["clear"]]


class LogRecorder:
    """Keeps every entry the sandbox's request log receives: the e2e ``_clean_sandbox`` fixture
    clears that log before every test, while these runs span several tests."""

    def __init__(self, request_log: Any) -> None:
        self.request_log = request_log
        self.entries: list[dict[str, Any]] = []
        self._original = request_log.append

    def install(self) -> LogRecorder:
        original = self._original
        entries = self.entries

        def append(entry: dict[str, Any]) -> None:
            original(entry)
            entries.append(entry)

        self.request_log.append = append  # instance attribute, shadows RequestLog.append
        return self

    def remove(self) -> None:
        with contextlib.suppress(AttributeError):
            del self.request_log.append

    def sts(self, action: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in list(self.entries)
            if e.get("resource") == "sts" and (action is None or e.get("sts_action") == action)
        ]

    def for_execution(self, arn: str, resource: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in list(self.entries)
            if e.get("execution_arn") == arn and (resource is None or e.get("resource") == resource)
        ]
