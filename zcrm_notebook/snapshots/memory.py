"""An in-memory snapshot store: the :class:`~zcrm_notebook.snapshots.store.Store` of a
notebook session, without a file.

Pass the same :class:`MemoryStore` as ``store=`` to several runs: each run resumes from
the snapshots of the runs before it (history kept, finished jobs skipped), like a
:class:`~zcrm_notebook.snapshots.store.SnapshotStore` does on disk.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from .schema import Snapshot

__all__ = ["MemoryStore"]


class MemoryStore:
    """An in-memory snapshot journal with the store interface the poller uses.

    Pass the same instance as ``store=`` to several runs: each run resumes from the
    snapshots of the runs before it (history kept, finished jobs skipped), like a
    :class:`~zcrm_notebook.snapshots.store.SnapshotStore` but without a file.

    Parameters
    ----------
    snapshots : iterable of Snapshot, optional
        Initial history.
    """

    def __init__(self, snapshots: Iterable[Snapshot] = ()) -> None:
        self._lock = threading.Lock()
        self._rows: list[Snapshot] = list(snapshots)

    def __repr__(self) -> str:
        return f"MemoryStore({len(self)} snapshots)"

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows)

    def append(self, snap: Snapshot) -> None:
        """Keep one snapshot."""
        with self._lock:
            self._rows.append(snap)

    def extend(self, snaps: Iterable[Snapshot]) -> None:
        """Keep several snapshots."""
        with self._lock:
            self._rows.extend(snaps)

    def read(self) -> list[Snapshot]:
        """Every kept snapshot, in arrival order (a new list)."""
        with self._lock:
            return list(self._rows)

    def close(self) -> None:
        """Nothing to close (the store interface has it)."""
