"""Frame scale: 1,000,000 snapshot rows (10,000 jobs x 100 polls)."""

from __future__ import annotations

import gc
import random
import tempfile
import time
import tracemalloc
from pathlib import Path

import pandas as pd

from zcrm_notebook.analysis.summary import summarize_dcs, summarize_jobs
from zcrm_notebook.api.status import JobState
from zcrm_notebook.snapshots.csvfile import read_snapshots, write_snapshots_csv
from zcrm_notebook.snapshots.frame import to_frame
from zcrm_notebook.snapshots.schema import Snapshot
from zcrm_notebook.snapshots.store import SnapshotStore, read_store

DCS = ("us", "eu", "in", "au", "jp", "cn", "ca", "sa", "uk")
T0 = 1_767_225_600.0


def make_snapshots(n_jobs: int, n_polls: int, seed: int = 1) -> list[Snapshot]:
    """Parsed results as the poller produces them: one Snapshot per (job, poll)."""
    rng = random.Random(seed)
    out = []
    for j in range(n_jobs):
        dc = DCS[j % len(DCS)]
        org, job_id, total = f"{dc}-org", str(3652397000000000000 + j), rng.randint(1, 50)
        failed_total = rng.randint(0, total // 5)
        for p in range(n_polls):
            done = min(total, total * (p + 1) // max(1, n_polls - 10))
            failed = failed_total * done // total
            status = JobState.COMPLETED if done == total else JobState.IN_PROGRESS
            out.append(
                Snapshot(
                    T0 + p * 5.0 + j * 0.001,
                    org,
                    dc,
                    job_id,
                    status,
                    status.value,
                    total,
                    done - failed,
                    total - done,
                    failed,
                    200,
                    None,
                    None,
                    0.02,
                )
            )
    return out


def _timed(fn, *args):
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


def _peak_mb(fn, *args):
    gc.collect()
    tracemalloc.start()
    result = fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, peak / 1e6


def _naive(snaps: list[Snapshot]) -> pd.DataFrame:
    """What a user writes by hand: a list of dicts, then a groupby for the latest state."""
    df = pd.DataFrame([s.__dict__ for s in snaps])
    return df.sort_values("polled_at").groupby(["org", "dc", "job_id"]).last()


def frame_scale(n_jobs: int = 10_000, n_polls: int = 100) -> dict:
    """Seconds, memory and bytes per row of each step on n_jobs * n_polls rows."""
    snaps = make_snapshots(n_jobs, n_polls)
    rows = len(snaps)
    df, t_build = _timed(to_frame, snaps)
    _, build_peak = _peak_mb(to_frame, snaps[: rows // 10])
    deep = df.memory_usage(deep=True).sum() / rows
    (_, t_jobs), (_, t_dcs) = _timed(summarize_jobs, df), _timed(summarize_dcs, df)
    _, t_naive = _timed(_naive, snaps)
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "s.csv"
        _, t_csv_w = _timed(write_snapshots_csv, df, csv)
        back, t_csv_r = _timed(read_snapshots, csv)
        assert back["job_id"].iloc[-1] == df["job_id"].iloc[-1]
        db = Path(tmp) / "s.sqlite"
        with SnapshotStore(db) as store:
            _, t_sql_w = _timed(store.extend, snaps)
        _, t_sql_r = _timed(read_store, db)
    return {
        "rows": rows,
        "build_s": t_build,
        "bytes_per_row_deep": deep,
        "bytes_per_row_traced": build_peak * 1e6 / (rows // 10),
        "summarize_jobs_s": t_jobs,
        "summarize_dcs_s": t_dcs,
        "summaries_s": t_jobs + t_dcs,
        "naive_dicts_groupby_s": t_naive,
        "speedup_vs_naive": t_naive / (t_build + t_jobs),
        "csv_write_s": t_csv_w,
        "csv_read_s": t_csv_r,
        "sqlite_write_s": t_sql_w,
        "sqlite_read_s": t_sql_r,
    }
