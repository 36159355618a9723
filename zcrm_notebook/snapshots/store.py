"""Durable snapshot journal in SQLite (stdlib ``sqlite3``, WAL mode).

Every snapshot is committed as it arrives, so a killed kernel or process loses at most the
answers in flight. Opening the same file again resumes: :meth:`SnapshotStore.read` gives
the history back as :class:`~zcrm_notebook.status.Snapshot` records in arrival order, and
:func:`read_store` as the snapshot DataFrame. Each append is one row (a poll is never
merged with another, even at the same instant); rows keep their arrival order (``seq``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from ..api.status import JobState, Snapshot
from ..errors import ConfigError

__all__ = ["SnapshotStore", "read_store"]

SCHEMA_VERSION = 1
_COLUMNS = (
    "polled_at", "org", "dc", "job_id", "status", "raw_status", "total_count",
    "converted_count", "not_converted_count", "failed_count", "http_status",
    "error_code", "error_message", "latency_s",
)  # fmt: skip
_DDL = f"""
CREATE TABLE IF NOT EXISTS snapshots (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    polled_at REAL NOT NULL, org TEXT NOT NULL, dc TEXT NOT NULL, job_id TEXT NOT NULL,
    status TEXT NOT NULL, raw_status TEXT, total_count INTEGER, converted_count INTEGER,
    not_converted_count INTEGER, failed_count INTEGER, http_status INTEGER,
    error_code TEXT, error_message TEXT, latency_s REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS snapshots_job ON snapshots (org, job_id);
PRAGMA user_version = {SCHEMA_VERSION};
"""
_INSERT = (
    f"INSERT INTO snapshots ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"
)


class SnapshotStore:
    """An SQLite file holding every snapshot of one or more runs.

    Parameters
    ----------
    path : str or PathLike
        The database file; created (with its folder) if missing.
    exclusive : bool, default False
        Hold an advisory lock (``PATH.lock``, POSIX ``flock``) for as long as the store is
        open, so two runs cannot write the same journal at once (the poller sets it).

    Raises
    ------
    ConfigError
        If the file exists but is not a snapshot store (names the file), or, with
        ``exclusive``, another run holds the store.
    """

    def __init__(self, path: str | os.PathLike, *, exclusive: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._lockfile = _acquire(self.path) if exclusive else None
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_DDL)
            self._check_columns()
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{str(self.path)!r} is not a snapshot store: {exc}") from None

    def __repr__(self) -> str:
        return f"SnapshotStore({str(self.path)!r})"

    def __enter__(self) -> SnapshotStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_columns(self) -> None:
        cols = {row[1] for row in self._db.execute("PRAGMA table_info(snapshots)")}
        if not set(_COLUMNS) <= cols:
            raise sqlite3.DatabaseError(f"table snapshots lacks {sorted(set(_COLUMNS) - cols)}")

    def append(self, snap: Snapshot) -> None:
        """Commit one snapshot (durable when this returns)."""
        self.extend([snap])

    def extend(self, snaps: list[Snapshot]) -> None:
        """Commit several snapshots in one transaction."""
        rows = [_row(s) for s in snaps]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(_INSERT, rows)
            self._db.execute("COMMIT")

    def rows(self) -> list[tuple]:
        """Every stored row as a tuple in ``SNAPSHOT_COLUMNS`` order, in arrival order."""
        with self._lock:
            cur = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM snapshots ORDER BY seq")
            return cur.fetchall()

    def read(self) -> list[Snapshot]:
        """Every stored snapshot, in arrival order."""
        return [_snapshot(r) for r in self.rows()]

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0]

    def close(self) -> None:
        """Close the connection (and release the run lock)."""
        with self._lock:
            self._db.close()
            if self._lockfile is not None:
                self._lockfile.close()  # closing the descriptor releases the flock
                self._lockfile = None


def _acquire(path: Path):
    """Open ``PATH.lock`` and take an exclusive non-blocking flock on it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory lock
        return None
    fh = open(path.with_name(path.name + ".lock"), "a+")  # noqa: SIM115 (held until close)
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise ConfigError(
            f"store {str(path)!r} is in use by another run; wait for it to end or use "
            "another --store file"
        ) from None
    return fh


def _int(value: object) -> int | None:
    return None if value is None else int(value)  # numpy ints would be stored as blobs


def _row(s: Snapshot) -> tuple:
    counts = (s.total_count, s.converted_count, s.not_converted_count, s.failed_count)
    return (
        float(s.polled_at), s.org, s.dc, s.job_id, JobState(s.status).value, s.raw_status,
        *map(_int, counts), _int(s.http_status), s.error_code, s.error_message,
        float(s.latency_s),
    )  # fmt: skip


def _snapshot(r: tuple) -> Snapshot:
    return Snapshot(r[0], r[1], r[2], r[3], JobState(r[4]), *r[5:13], float(r[13]))


def read_store(path: str | os.PathLike):
    """Read a store file back as the snapshot DataFrame (same as the run returned).

    Raises
    ------
    ConfigError
        If the file does not exist or is not a snapshot store.
    """
    from .frame import SNAPSHOT_COLUMNS, frame_from_columns

    if not Path(path).exists():
        raise ConfigError(f"store {str(path)!r} does not exist")
    with SnapshotStore(path) as store:
        rows = store.rows()
    columns = list(zip(*rows)) if rows else [() for _ in SNAPSHOT_COLUMNS]
    return frame_from_columns(dict(zip(SNAPSHOT_COLUMNS, columns)))
