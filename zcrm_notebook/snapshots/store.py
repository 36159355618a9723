"""Where snapshots are kept: the :class:`Store` protocol and the SQLite journal.

A store keeps the snapshots of one or more poll runs in arrival order; a poller given a
store that already holds snapshots resumes from them. :class:`SnapshotStore` is the
durable one (stdlib ``sqlite3``, WAL mode): every snapshot is committed as it arrives, so
a killed kernel or process loses at most the answers in flight, and opening the same file
again resumes. Each append is one row (a poll is never merged with another, even at the
same instant); rows keep their arrival order (``seq``) and are read back by column name.
The table is derived from :class:`~zcrm_notebook.snapshots.schema.Snapshot` (one SQL
column per field, typed by its kind). :class:`~zcrm_notebook.snapshots.memory.MemoryStore`
is the in-memory one.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..api.status import JobState
from ..errors import ConfigError
from ..redact import shown
from .schema import (
    CATEGORY,
    COLUMN_KINDS,
    COUNT,
    FLOAT,
    INT,
    INT64_MAX,
    SNAPSHOT_COLUMNS,
    STATUS,
    TEXT,
    TIME,
    Columns,
    Snapshot,
)

__all__ = ["Store", "SnapshotStore", "read_store", "open_store", "columns_sql"]


@runtime_checkable
class Store(Protocol):
    """What a poller needs of a snapshot store (SQLite, memory, or your own).

    ``append`` / ``extend`` keep snapshots (durably, for a file store, when they
    return); ``read`` gives every kept snapshot in arrival order; ``len()`` counts them;
    ``close`` releases the store.
    """

    def append(self, snap: Snapshot) -> None: ...

    def extend(self, snaps: Iterable[Snapshot]) -> None: ...

    def read(self) -> list[Snapshot]: ...

    def close(self) -> None: ...

    def __len__(self) -> int: ...


def open_store(store: object, *, exclusive: bool = True) -> Store | None:
    """``store`` as a :class:`Store`: None stays None, a store is used as is, a path opened.

    A path is opened as a :class:`SnapshotStore`, by default holding the file's lock (one
    run per journal); the caller closes it.

    Raises
    ------
    ConfigError
        The file is not a snapshot store, or (``exclusive``) another run holds it.
    """
    if store is None or isinstance(store, Store):
        return store
    return SnapshotStore(store, exclusive=exclusive)  # type: ignore[arg-type]


SCHEMA_VERSION = 1
#: Column kind -> SQLite column type.
SQL_TYPES = {
    TIME: "REAL",
    TEXT: "TEXT",
    STATUS: "TEXT",
    COUNT: "INTEGER",
    INT: "INTEGER",
    FLOAT: "REAL",
    CATEGORY: "TEXT",
}


def columns_sql(columns: Columns) -> str:
    """The SQL column definitions of a table declared like the snapshot row (one line per
    column, typed by its kind, ``NOT NULL`` when always set)."""
    return ",\n    ".join(
        f"{c} {SQL_TYPES[k]}{' NOT NULL' if columns.required[c] else ''}"
        for c, k in columns.kinds.items()
    )


_DDL = f"""
CREATE TABLE IF NOT EXISTS snapshots (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    {columns_sql(Columns.of(Snapshot))}
);
CREATE INDEX IF NOT EXISTS snapshots_job ON snapshots (org, job_id);
PRAGMA user_version = {SCHEMA_VERSION};
"""
_NAMES = ", ".join(SNAPSHOT_COLUMNS)
_INSERT = f"INSERT INTO snapshots ({_NAMES}) VALUES ({', '.join('?' for _ in SNAPSHOT_COLUMNS)})"
_SELECT = f"SELECT {_NAMES} FROM snapshots ORDER BY seq"


def _int(value: Any) -> int | None:
    if value is None:
        return None
    number = int(value)  # numpy ints would be stored as blobs
    if not -INT64_MAX - 1 <= number <= INT64_MAX:  # SQLite would raise OverflowError
        raise ConfigError(f"{shown(value, 40)} does not fit an INTEGER column of the store")
    return number


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _same(value: Any) -> Any:
    return value


#: Column kind -> Python value to SQLite value.
_TO_SQL: dict[str, Callable[[Any], Any]] = {
    TIME: _float,
    TEXT: _same,
    STATUS: lambda v: JobState(v).value,
    COUNT: _int,
    INT: _int,
    FLOAT: _float,
}
#: Column kind -> SQLite value to the Snapshot field's value.
_FROM_SQL: dict[str, Callable[[Any], Any]] = {**dict.fromkeys(_TO_SQL, _same), STATUS: JobState}


def _row(s: Snapshot) -> tuple:
    return tuple(_TO_SQL[k](getattr(s, c)) for c, k in COLUMN_KINDS.items())


def _snapshot(row: sqlite3.Row) -> Snapshot:
    return Snapshot(**{c: _FROM_SQL[k](row[c]) for c, k in COLUMN_KINDS.items()})


class SnapshotStore:
    """An SQLite file holding every snapshot of one or more runs.

    Parameters
    ----------
    path : str or PathLike
        The database file; created (with its folder) if missing.
    exclusive : bool, default False
        Hold an advisory lock (``PATH.lock``, POSIX ``flock``) for as long as the store is
        open, so two runs cannot write the same journal at once (the poller sets it). The
        lock file is removed again on :meth:`close`.

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
            self._db.row_factory = sqlite3.Row  # rows are read by column name
            self._check_foreign()
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

    def _check_foreign(self) -> None:
        """Refuse an SQLite file of something else (tables, none of them ``snapshots``):
        the store's tables would be added to it."""
        names = [
            r[0]
            for r in self._db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        if names and "snapshots" not in names:
            listed = ", ".join(repr(n) for n in sorted(names)[:5])
            more = f" and {len(names) - 5} more" if len(names) > 5 else ""
            raise sqlite3.DatabaseError(
                f"it is an SQLite file of something else (tables {listed}{more}); give a new "
                "file name or a store this package wrote"
            )

    def _check_columns(self) -> None:
        cols = {row[1] for row in self._db.execute("PRAGMA table_info(snapshots)")}
        missing = sorted(set(SNAPSHOT_COLUMNS) - cols)
        if missing:
            raise sqlite3.DatabaseError(f"table snapshots lacks {missing}")

    def append(self, snap: Snapshot) -> None:
        """Commit one snapshot (durable when this returns)."""
        self.extend([snap])

    def extend(self, snaps: Iterable[Snapshot]) -> None:
        """Commit several snapshots in one transaction."""
        rows = [_row(s) for s in snaps]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(_INSERT, rows)
                self._db.execute("COMMIT")
            except BaseException:  # a full disk: leave no transaction open
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise

    def _rows(self) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(_SELECT).fetchall()

    @contextlib.contextmanager
    def transaction(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """The store's connection inside one transaction, under its lock.

        For the other tables kept in the same file (the conversion ledger of
        :mod:`zcrm_notebook.convert.ledger`): they share the file, its run lock and this
        connection. Committed when the block ends, rolled back if it raises.

        Parameters
        ----------
        durable : bool, default False
            Commit with ``PRAGMA synchronous=FULL`` (the commit survives a power loss, not
            only a killed process), for records that must exist before an action.
        """
        with self._lock:
            if durable:
                self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                if durable:
                    self._db.execute("PRAGMA synchronous=NORMAL")

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Rows of one read-only SQL statement (read by column name), under the lock."""
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def read(self) -> list[Snapshot]:
        """Every stored snapshot, in arrival order."""
        return [_snapshot(r) for r in self._rows()]

    def columns(self) -> dict[str, list]:
        """Every stored row as one list of plain values per column, in arrival order.

        The values are SQLite's (``polled_at`` float seconds, ``status`` its text): what
        :func:`~zcrm_notebook.snapshots.frame.frame_from_columns` takes.
        """
        rows = self._rows()
        return {c: [r[c] for r in rows] for c in SNAPSHOT_COLUMNS}

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0]

    def close(self) -> None:
        """Close the connection (and release the run lock)."""
        with self._lock:
            self._db.close()
            if self._lockfile is not None:
                _release(self._lockfile)
                self._lockfile = None


def _acquire(path: Path, attempts: int = 5):
    """Open ``PATH.lock`` and take an exclusive non-blocking flock on it.

    The holder removes the file when it closes (:func:`_release`). A lock taken on a file
    that was removed between our open and our flock is worthless (the next run creates
    a new file): it is dropped and the path tried again.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory lock
        return None
    lock_path = path.with_name(path.name + ".lock")
    for _ in range(attempts):
        fh = open(lock_path, "a+")  # noqa: SIM115 (held until close)
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            break
        if _is_the_file(fh, lock_path):
            return fh
        fh.close()
    raise ConfigError(
        f"store {str(path)!r} is in use by another run; wait for it to end or use "
        "another --store file"
    )


def _is_the_file(fh, path: Path) -> bool:
    """True while ``path`` names the file open as ``fh`` (not removed or replaced)."""
    try:
        named = os.stat(path)
    except OSError:
        return False
    held = os.fstat(fh.fileno())
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _release(fh) -> None:
    """Remove our lock file while still holding its lock, then release it."""
    path = Path(fh.name)
    if _is_the_file(fh, path):
        with contextlib.suppress(OSError):
            path.unlink()
    fh.close()  # closing the descriptor releases the flock


def read_store(path: str | os.PathLike):
    """Read a store file back as the snapshot DataFrame (same as the run returned).

    Raises
    ------
    ConfigError
        If the file does not exist or is not a snapshot store.
    """
    from .frame import frame_from_columns

    if not Path(path).exists():
        raise ConfigError(f"store {str(path)!r} does not exist")
    with SnapshotStore(path) as store:
        return frame_from_columns(store.columns())
