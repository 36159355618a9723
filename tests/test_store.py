"""The SQLite snapshot journal."""

import dataclasses
import fcntl

import numpy as np
import pandas as pd
import pytest
from conftest import JOB, sim_orgs

from zcrm_notebook.api.status import JobState
from zcrm_notebook.errors import ConfigError
from zcrm_notebook.snapshots.frame import to_frame
from zcrm_notebook.snapshots.schema import Snapshot
from zcrm_notebook.snapshots.store import SnapshotStore, _is_the_file, read_store

T0 = 1_767_225_600.5


def snaps():
    counts = (10, 4, 5, 1)  # total, converted, not converted, failed
    poll = Snapshot(T0, "us-org", "us", JOB, JobState.IN_PROGRESS, "in progress", *counts, 200)
    poll = dataclasses.replace(poll, latency_s=0.02)
    error = {"error_code": "ReadTimeout", "error_message": "job 7: no answer", "latency_s": 10.0}
    timeout = Snapshot(T0 + 3, "eu-org", "eu", "7", JobState.ERROR, **error)
    return [poll, dataclasses.replace(poll), timeout]  # same instant, same answer: two polls


def test_read_back_equals_the_frame(tmp_path):
    with SnapshotStore(tmp_path / "s.sqlite") as store:
        store.extend(snaps())
        assert len(store) == 3
        assert store.read() == snaps()
    pd.testing.assert_frame_equal(read_store(tmp_path / "s.sqlite"), to_frame(snaps()))


def test_numpy_integers_are_stored_as_integers(tmp_path):
    s = snaps()[0]
    odd = Snapshot(
        np.float64(s.polled_at),
        s.org,
        s.dc,
        s.job_id,
        s.status,
        s.raw_status,
        np.int64(10),
        np.int64(4),
        np.int64(5),
        np.int64(1),
        np.int64(200),
    )
    with SnapshotStore(tmp_path / "s.sqlite") as store:
        store.append(odd)
    assert read_store(tmp_path / "s.sqlite")["total_count"].tolist() == [10]


def test_an_exclusive_store_refuses_a_second_run(tmp_path):
    first = SnapshotStore(tmp_path / "s.sqlite", exclusive=True)
    with pytest.raises(ConfigError, match="in use by another run"):
        SnapshotStore(tmp_path / "s.sqlite", exclusive=True)
    with SnapshotStore(tmp_path / "s.sqlite") as reader:  # reading is always allowed
        assert len(reader) == 0
    first.close()
    SnapshotStore(tmp_path / "s.sqlite", exclusive=True).close()


def test_no_lock_file_is_left_behind_after_a_run(tmp_path, scenario, clock):
    import zcrm_notebook as zn

    store = tmp_path / "run.sqlite"
    jobs = scenario.job_ids("us-org")[:2]
    zn.poll_jobs(
        jobs, sim_orgs(scenario), org="us-org", store=store, clock=clock.time, sleep=clock.sleep
    )
    assert len(read_store(store)) >= 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("run.")] == ["run.sqlite"]


def test_a_lock_file_removed_under_a_waiting_run_is_not_trusted(tmp_path):
    lock = tmp_path / "s.sqlite.lock"
    first = SnapshotStore(tmp_path / "s.sqlite", exclusive=True)
    with open(lock, "a+") as late:  # a second run opened the lock file before the first closed
        first.close()
        assert not lock.exists()
        second = SnapshotStore(tmp_path / "s.sqlite", exclusive=True)  # a new lock file
        fcntl.flock(late, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the old file's lock is free now...
        assert not _is_the_file(late, lock)  # ...but it is not the lock: _acquire tries again
        with pytest.raises(ConfigError, match="in use by another run"):
            SnapshotStore(tmp_path / "s.sqlite", exclusive=True)
    second.close()
    assert not lock.exists()


def test_close_checkpoints_the_wal(tmp_path):
    with SnapshotStore(tmp_path / "s.sqlite") as store:
        store.extend(snaps())
    assert not (tmp_path / "s.sqlite-wal").exists()


def test_not_a_store_is_a_clear_error(tmp_path):
    (tmp_path / "x.sqlite").write_bytes(b"not a database at all, just text" * 10)
    with pytest.raises(ConfigError, match="not a snapshot store"):
        SnapshotStore(tmp_path / "x.sqlite")
    with pytest.raises(ConfigError, match="does not exist"):
        read_store(tmp_path / "missing.sqlite")


def test_rows_are_read_back_by_column_name_whatever_the_table_order(tmp_path):
    import sqlite3

    from zcrm_notebook.snapshots.schema import COLUMN_KINDS
    from zcrm_notebook.snapshots.store import SQL_TYPES

    path = tmp_path / "old.sqlite"
    reordered = ", ".join(f"{c} {SQL_TYPES[k]}" for c, k in reversed(COLUMN_KINDS.items()))
    with sqlite3.connect(path) as db:  # the same columns, in another order
        db.execute(f"CREATE TABLE snapshots (seq INTEGER PRIMARY KEY AUTOINCREMENT, {reordered})")
    with SnapshotStore(path) as store:
        store.extend(snaps())
        assert store.read() == snaps()
    pd.testing.assert_frame_equal(read_store(path), to_frame(snaps()))


def test_the_sqlite_and_memory_stores_are_stores(tmp_path):
    from zcrm_notebook.snapshots.memory import MemoryStore
    from zcrm_notebook.snapshots.store import Store, open_store

    with SnapshotStore(tmp_path / "s.sqlite") as sqlite_store:
        assert isinstance(sqlite_store, Store) and open_store(sqlite_store) is sqlite_store
    memory = MemoryStore(snaps())
    assert isinstance(memory, Store) and open_store(memory) is memory and len(memory) == 3
    assert not isinstance(str(tmp_path / "s.sqlite"), Store) and open_store(None) is None
    opened = open_store(tmp_path / "t.sqlite")
    assert isinstance(opened, SnapshotStore)
    opened.close()
