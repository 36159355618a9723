"""Scale: 100,000 jobs over 50 orgs on loopback, and summaries/plots at 10 million rows.

    python benchmarks/bench_scale.py            # full sizes (a few minutes)
    python benchmarks/bench_scale.py --quick    # 2,000 jobs / 10 orgs, 100,000 rows

The rounds run against :mod:`fake_zoho` (one asyncio loop answering every job
``COMPLETED`` after the latency), not the simulator: the simulator costs about 300 us of
CPU per answered call, a third of a core at the round's 1,250 calls/s on a 2-core machine,
so it would measure itself. Parts (each memory-sensitive one in its own subprocess, so its
peak RSS, ``VmHWM``, is its own):

- ``clean``: ``clean_jobs`` on 100k (job id, org) pairs;
- ``sched``: the real Poller over 100k jobs / 50 orgs (5 in flight each) with a client that
  only sleeps 20 ms and returns a canned answer: the loop's CPU per call;
- ``round``: the real Poller (default client) over HTTP to the fake, 100k jobs / 50 orgs,
  200 ms latency, snapshots committed to a SQLite store: wall / ideal, client CPU per
  call, snapshots committed per second, peak RSS;
- ``store``: ``SnapshotStore`` commits per second, one transaction per snapshot vs one per
  loop iteration (250 snapshots: 50 orgs x 5 calls in flight);
- ``render``: one dashboard refresh at 10,000 jobs (12 polls each);
- ``frame``: summaries and plots at 10M snapshot rows (1M with ``--quick``), the frame
  built column-wise with the package's dtypes: bytes per row, seconds, peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from zcrm_notebook.api.status import JobStatus, parse_status  # noqa: E402
from zcrm_notebook.auth import OrgCredentials  # noqa: E402
from zcrm_notebook.client import StatusAnswer, ZohoClient  # noqa: E402

SIZES = {
    "full": dict(n_jobs=100_000, n_orgs=50, store_rows=50_000, render_jobs=10_000,
                 frame_rows=10_000_000),
    "quick": dict(n_jobs=2000, n_orgs=10, store_rows=5000, render_jobs=300,
                  frame_rows=100_000),
}  # fmt: skip
ROUND_LATENCY_S, SCHED_LATENCY_S, BATCH = 0.2, 0.02, 250


def _peak_rss_mb() -> float:
    """Peak resident set size of this process so far (MB): ``VmHWM`` of its address space
    (``ru_maxrss`` would include the peak of the parent it was forked from)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn, *a, **kw):
    t = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t


def clean(n_jobs: int, n_orgs: int) -> dict:
    """``clean_jobs`` on ``n_jobs`` (job id, org) pairs given as a dict of lists."""
    from remote_server import job_ids, org_names

    from zcrm_notebook.inputs.jobs import clean_jobs

    creds = {
        name: OrgCredentials(org=name, dc=dc, client_id="1000.X", client_secret="s",
                             refresh_token="1000.r")
        for name, dc in org_names(n_orgs)
    }  # fmt: skip
    jobs, seconds = _timed(clean_jobs, job_ids(n_jobs, n_orgs), creds)
    assert len(jobs) == n_jobs
    return {"rows": n_jobs, "seconds": seconds, "us_per_row": 1e6 * seconds / n_jobs}


class CannedClient(ZohoClient):
    """No HTTP: sleeps the latency and returns a prebuilt answer (measures the loop)."""

    _st = parse_status("1", {"data": [{"Status": "COMPLETED", "Total_Count": 10,
                                        "Converted_Count": 10, "Not_Converted_Count": 0,
                                        "Failed_Count": 0}]})  # fmt: skip

    def get_status(self, job_id: str) -> StatusAnswer:
        time.sleep(SCHED_LATENCY_S)
        st = self._st
        return StatusAnswer(JobStatus(job_id, st.status, st.raw_status, *st.counts), 200, 0.02)

    async def get_status_async(self, job_id: str, blocking) -> StatusAnswer:
        """The poll loop's path: the latency awaited on its event loop."""
        await asyncio.sleep(SCHED_LATENCY_S)
        st = self._st
        return StatusAnswer(JobStatus(job_id, st.status, st.raw_status, *st.counts), 200, 0.02)


def sched(n_jobs: int, n_orgs: int) -> dict:
    import bench_cpu

    r = bench_cpu.poll_round(CannedClient, n_jobs=n_jobs, n_orgs=n_orgs, server="fake",
                             latency_s=SCHED_LATENCY_S)  # fmt: skip
    return {**r, "peak_rss_mb": _peak_rss_mb()}


def round_(n_jobs: int, n_orgs: int) -> dict:
    import bench_cpu

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.sqlite"
        r = bench_cpu.poll_round(ZohoClient, n_jobs=n_jobs, n_orgs=n_orgs, server="fake",
                                 latency_s=ROUND_LATENCY_S, store=path)  # fmt: skip
        from zcrm_notebook.snapshots.store import SnapshotStore

        with SnapshotStore(path) as st:
            committed = len(st)
    assert committed == n_jobs, committed
    return {**r, "committed": committed, "committed_per_s": committed / r["wall_s"],
            "peak_rss_mb": _peak_rss_mb()}  # fmt: skip


def store(n: int) -> dict:
    """Rows committed per second: one transaction per snapshot, and per loop iteration."""
    from bench_frame import make_snapshots

    from zcrm_notebook.snapshots.store import SnapshotStore

    snaps = make_snapshots(n // 10, 10)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for batch in (1, BATCH):
            with SnapshotStore(Path(tmp) / f"s{batch}.sqlite") as st:
                t = time.perf_counter()
                for i in range(0, n, batch):
                    st.extend(snaps[i : i + batch])
                dt = time.perf_counter() - t
                assert len(st) == n
            out[f"rows_per_s_batch_{batch}"] = n / dt
    return out


def render(n_jobs: int) -> dict:
    import bench_render
    from bench_frame import make_snapshots

    from zcrm_notebook.snapshots.frame import to_frame

    df = to_frame(make_snapshots(n_jobs, 12))
    return {"rows": len(df), "jobs": n_jobs, **bench_render._dashboard_refresh(df, 3)}


def big_frame(n_jobs: int, n_polls: int, seed: int = 1):
    """The rows of bench_frame.make_snapshots (same shape, other random draws), built
    column-wise: 10M rows without 10M Python objects."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from zcrm_notebook.snapshots.frame import SNAPSHOT_DTYPES, STATUS_DTYPE

    dcs = np.array(["us", "eu", "in", "au", "jp", "cn", "ca", "sa", "uk"])
    rng = np.random.default_rng(seed)
    n = n_jobs * n_polls
    j = np.repeat(np.arange(n_jobs), n_polls)
    p = np.tile(np.arange(n_polls), n_jobs)
    total = rng.integers(1, 51, n_jobs)[j]
    failed_total = (rng.random(n_jobs) * (total[::n_polls] // 5 + 1)).astype(np.int64)[j]
    done = np.minimum(total, total * (p + 1) // max(1, n_polls - 10))
    failed = failed_total * done // total
    completed = done == total
    t = 1_767_225_600.0 + p * 5.0 + j * 0.001
    dc_code = j % len(dcs)

    def text(values, codes):
        arr = pa.array(list(values), type=pa.large_string()).take(pa.array(codes))
        return pd.array(arr, dtype=SNAPSHOT_DTYPES["org"])

    ints = lambda v: pd.arrays.IntegerArray(np.asarray(v, dtype=np.int64), np.zeros(n, bool))  # noqa: E731
    status_codes = np.where(completed, 2, 1).astype(np.int8)  # completed / in_progress
    null_text = pd.array(pa.nulls(n, pa.large_string()), dtype=SNAPSHOT_DTYPES["org"])
    us = np.round(t * 1e6).astype("int64")
    cols = {
        "polled_at": pd.to_datetime(us, unit="us", utc=True).astype(SNAPSHOT_DTYPES["polled_at"]),
        "org": text([f"{d}-org" for d in dcs], dc_code),
        "dc": text(dcs, dc_code),
        "job_id": text((str(3652397000000000000 + k) for k in range(n_jobs)), j),
        "status": pd.Categorical.from_codes(status_codes, dtype=STATUS_DTYPE),
        "raw_status": text(["in_progress", "completed"], completed.astype(np.int64)),
        "total_count": ints(total),
        "converted_count": ints(done - failed),
        "not_converted_count": ints(total - done),
        "failed_count": ints(failed),
        "http_status": ints(np.full(n, 200)),
        "error_code": null_text,
        "error_message": null_text.copy(),
        "latency_s": np.full(n, 0.02),
    }
    df = pd.DataFrame(cols)
    assert dict(df.dtypes) == SNAPSHOT_DTYPES, dict(df.dtypes)
    return df


def frame(rows: int) -> dict:
    """Build ``rows`` snapshot rows (100 polls per job), summarize and plot them."""
    import gc

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from zcrm_notebook import viz
    from zcrm_notebook.analysis import summary

    df, t_build = _timed(big_frame, rows // 100, 100)
    gc.collect()
    out = {"rows": len(df), "build_s": t_build,
           "bytes_per_row_deep": df.memory_usage(deep=True).sum() / len(df)}  # fmt: skip
    for name in ("summarize_jobs", "summarize_dcs", "summarize_orgs"):
        _, out[f"{name}_s"] = _timed(getattr(summary, name), df)
    for name in ("plot_progress", "plot_outcomes", "plot_failure_rate", "plot_status_timeline"):
        fig = Figure(figsize=(10, 6))
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            getattr(viz, name)(df, ax=fig.add_subplot())
        fig.canvas.draw()
        out[f"{name}_s"] = time.perf_counter() - t
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


# -- driver ----------------------------------------------------------------------------------


def _in_subprocess(part: str, *args: int) -> dict:
    cmd = [sys.executable, __file__, "--child", part, *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise RuntimeError(f"bench_scale {part} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def scale(quick: bool = False, log=print) -> dict:
    """Every part at the full (or quick) size."""
    size = SIZES["quick" if quick else "full"]
    jobs, orgs = size["n_jobs"], size["n_orgs"]
    out = {"sizes": size}
    for name, run in (
        ("clean", lambda: clean(jobs, orgs)),
        ("store", lambda: store(size["store_rows"])),
        ("render", lambda: render(size["render_jobs"])),
        ("sched", lambda: _in_subprocess("sched", jobs, orgs)),
        ("round", lambda: _in_subprocess("round", jobs, orgs)),
        ("frame", lambda: _in_subprocess("frame", size["frame_rows"])),
    ):
        out[name] = run()
        log(f"  {name}: {out[name]}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        part, *numbers = args.child
        fn = {"sched": sched, "round": round_, "frame": frame}[part]
        print(json.dumps(fn(*map(int, numbers)), default=str))
        return 0
    print(json.dumps(scale(args.quick), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
