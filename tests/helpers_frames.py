"""Hand-built snapshot frames whose summaries are known by hand (for summary/plot/report tests).

Every frame is made with ``to_frame([Snapshot(...), ...])``, the public path. Times are
seconds after ``T0`` (2026-03-28 12:00 UTC, a Saturday, no DST nearby) unless stated.
"""

from __future__ import annotations

import pandas as pd

from zcrm_notebook.api.status import JobState
from zcrm_notebook.snapshots.frame import to_frame
from zcrm_notebook.snapshots.schema import Snapshot

T0 = pd.Timestamp("2026-03-28T12:00:00Z").timestamp()
# 2026-03-29 01:00 UTC: Europe/Paris jumps from 02:00 CET to 03:00 CEST
DST_T0 = pd.Timestamp("2026-03-29T00:00:00Z").timestamp()
# 2026-01-01 00:00 UTC: the demo's clock
NEW_YEAR_T0 = pd.Timestamp("2026-01-01T00:00:00Z").timestamp()
DCS9 = ["us", "eu", "in", "au", "jp", "cn", "ca", "sa", "uk"]
JOB_A, JOB_B, JOB_C = "3652397000009835020", "3652397000009835021", "3652397000009835022"
S = JobState


def snap(t, job, status, counts=None, *, dc="us", org=None, code=None, t0=T0) -> Snapshot:
    """One row: ``counts`` = (total, converted, not_converted, failed) or None."""
    total, conv, pend, failed = counts if counts is not None else (None,) * 4
    error = status is S.ERROR
    return Snapshot(
        polled_at=t0 + t,
        org=org or dc,
        dc=dc,
        job_id=job,
        status=status,
        raw_status=None if error else status.value.replace("_", " "),
        total_count=total,
        converted_count=conv,
        not_converted_count=pend,
        failed_count=failed,
        http_status=None if code == "ReadTimeout" else (429 if error else 200),
        error_code=code if error else None,
        error_message="boom" if error else None,
        latency_s=0.1,
    )


def three_jobs() -> pd.DataFrame:
    """A: eu, 3 leads, done in 120 s with 2 failed. B: us, every poll an error.
    C: us, 100 leads, 10 -> 20 converted in the first minute, then no change until 700 s."""
    return to_frame(
        [
            snap(0, JOB_A, S.SCHEDULED, (3, 0, 3, 0), dc="eu"),
            snap(0, JOB_B, S.ERROR, code="TOO_MANY_REQUESTS"),
            snap(0, JOB_C, S.IN_PROGRESS, (100, 10, 90, 0)),
            snap(30, JOB_B, S.ERROR, code="ReadTimeout"),
            snap(60, JOB_A, S.IN_PROGRESS, (3, 0, 2, 1), dc="eu"),
            snap(60, JOB_C, S.IN_PROGRESS, (100, 20, 80, 0)),
            snap(120, JOB_A, S.COMPLETED, (3, 1, 0, 2), dc="eu"),
            snap(700, JOB_C, S.IN_PROGRESS, (100, 20, 80, 0)),
        ]
    )


def wilson_dcs() -> pd.DataFrame:
    """au: one job, 2 of 3 leads failed. jp: 60 jobs of 50 leads, 30 of 3,000 failed."""
    rows = [
        snap(0, "1000000000000000001", S.SCHEDULED, (3, 0, 3, 0), dc="au"),
        snap(60, "1000000000000000001", S.COMPLETED, (3, 1, 0, 2), dc="au"),
    ]
    for i in range(60):
        job, failed = f"2000000000000000{i:03d}", 1 if i < 30 else 0
        rows.append(snap(i, job, S.SCHEDULED, (50, 0, 50, 0), dc="jp"))
        rows.append(snap(600 + i, job, S.COMPLETED, (50, 50 - failed, 0, failed), dc="jp"))
    return to_frame(rows)


def flagged_jobs() -> pd.DataFrame:
    """D: converted goes 5 -> 3 (backwards). E: completed then in_progress again (regressed).
    F: counts 10 of 3 total (mismatch). G: total 0. H: counts without a total."""
    return to_frame(
        [
            snap(0, "4", S.IN_PROGRESS, (10, 5, 5, 0)),
            snap(60, "4", S.IN_PROGRESS, (10, 3, 7, 0)),
            snap(0, "5", S.IN_PROGRESS, (10, 5, 5, 0)),
            snap(60, "5", S.COMPLETED, (10, 10, 0, 0)),
            snap(120, "5", S.IN_PROGRESS, (10, 10, 0, 0)),
            snap(180, "5", S.ERROR, code="INVALID_DATA"),
            snap(0, "6", S.COMPLETED, (3, 10, 0, 0)),
            snap(0, "7", S.COMPLETED, (0, 0, 0, 0)),
            snap(0, "8", S.IN_PROGRESS, (None, 4, 6, None)),
            snap(60, "8", S.IN_PROGRESS, (None, 8, 2, None)),
        ]
    )


def dst_jobs() -> pd.DataFrame:
    """Two eu jobs polled every 10 min from 00:00 to 02:00 UTC on 2026-03-29 (Paris DST)."""
    rows = []
    for k in range(13):
        done = min(50, 5 * k)
        rows.append(
            snap(
                600 * k,
                JOB_A,
                S.IN_PROGRESS if done < 50 else S.COMPLETED,
                (50, done, 50 - done, 0),
                dc="eu",
                t0=DST_T0,
            )
        )
        rows.append(
            snap(600 * k + 5, JOB_B, S.IN_PROGRESS, (40, 2 * k, 40 - 2 * k, 0), dc="eu", t0=DST_T0)
        )
    return to_frame(rows)


def late_job() -> pd.DataFrame:
    """eu: A (10 leads) 3 then 5 processed; B (30 leads) first seen at 60 s, 0 then 15
    converted at 120 s. us: C, 20 leads, 10 converted from the start."""
    return to_frame(
        [
            snap(0, JOB_A, S.IN_PROGRESS, (10, 3, 7, 0), dc="eu"),
            snap(0, JOB_C, S.IN_PROGRESS, (20, 10, 10, 0)),
            snap(60, JOB_A, S.IN_PROGRESS, (10, 4, 5, 1), dc="eu"),
            snap(60, JOB_B, S.SCHEDULED, (30, 0, 30, 0), dc="eu"),
            snap(120, JOB_B, S.IN_PROGRESS, (30, 15, 15, 0), dc="eu"),
            snap(120, JOB_C, S.IN_PROGRESS, (20, 10, 10, 0)),
        ]
    )


def short_run(seconds: float = 48.0) -> pd.DataFrame:
    """Like the demo: two us jobs polled every 4 s from 00:00:17 UTC on 2026-01-01 for
    ``seconds`` (0 gives a single poll of each)."""
    rows = []
    steps = int(seconds // 4) + 1
    for k in range(steps):
        done = min(20, 2 * k)
        for job, total in ((JOB_A, 20), (JOB_C, 40)):
            t = 17 + min(4 * k, seconds)
            state = S.COMPLETED if done == total else S.IN_PROGRESS
            counts = (total, done, total - done, 0)
            rows.append(snap(t, job, state, counts, t0=NEW_YEAR_T0))
    return to_frame(rows)


def many_jobs(n_jobs: int = 3000, n_polls: int = 8, dcs: list[str] = DCS9) -> pd.DataFrame:
    """``n_jobs`` jobs spread over ``dcs``, deterministic counts, polled ``n_polls`` times
    every 5 min; every 7th job fails one lead per poll, every 11th poll is an error row."""
    rows = []
    for j in range(n_jobs):
        dc, job, total = dcs[j % len(dcs)], f"36523970{j:011d}", 10 + j % 41
        for k in range(n_polls):
            t = 300 * k + (j % 60)
            if (j + k) % 11 == 0:
                rows.append(snap(t, job, S.ERROR, dc=dc, code="TOO_MANY_REQUESTS"))
                continue
            failed = min(k, total) if j % 7 == 0 else 0
            conv = min(total - failed, (k * total) // (n_polls - 2))
            pend = total - conv - failed
            state = S.SCHEDULED if k == 0 else (S.COMPLETED if pend == 0 else S.IN_PROGRESS)
            rows.append(snap(t, job, state, (total, conv, pend, failed), dc=dc))
    return to_frame(rows)
