"""Scale: 100,000 jobs over 50 orgs, and summaries/plots at 10 million snapshot rows.

    python benchmarks/bench_scale.py                       # every part (several minutes)
    python benchmarks/bench_scale.py --only clean,store    # some parts
    python benchmarks/bench_scale.py --quick               # small sizes

Parts (each memory-sensitive one runs in its own subprocess, so ``ru_maxrss`` is its own):

- ``clean``: ``clean_jobs`` on 100k rows (dict of lists, DataFrame);
- ``sched``: the real Poller, 100k completed jobs over 50 orgs (5 in flight each), with a
  client that only sleeps 20 ms and returns a canned answer: scheduler CPU per call and
  peak RSS of the run (snapshots kept in memory);
- ``round``: the same round over HTTP on loopback against the simulator and against the
  minimal asyncio fake (:mod:`research.fake_zoho`), 200 ms latency: wall / ideal, client
  and server CPU per call, client RSS before/after the run;
- ``variants`` (not in the default set): the round against the fake with http.client in
  the Poller, and on one asyncio loop (aiohttp, bare streams);
- ``store``: snapshots committed per second, ``SnapshotStore.append`` one at a time vs
  ``extend`` in batches;
- ``render``: each plot and one dashboard refresh at 10,000 jobs (12 polls each);
- ``frame``: summaries and plots at 1M, 3M and 10M snapshot rows (the frame built
  column-wise with the package's dtypes): bytes per row, seconds, RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from research.internals import (  # noqa: E402
    OrgCredentials,
    SnapshotStore,
    clean_jobs,
)

N_JOBS, N_ORGS = 100_000, 50


def _rss_mb() -> float:
    """Peak resident set size of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_now_mb() -> float:
    """Resident set size now (MB), from /proc (0 where there is none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _timed(fn, *a, **kw):
    t = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t


# -- clean_jobs ------------------------------------------------------------------------------------


def clean(n_jobs: int = N_JOBS, n_orgs: int = N_ORGS) -> dict:
    import pandas as pd
    from research.remote import job_ids, org_names

    creds = {
        name: OrgCredentials(
            org=name, dc=dc, client_id="1000.X", client_secret="s", refresh_token="1000.r"
        )  # fmt: skip
        for name, dc in org_names(n_orgs)
    }
    ids = job_ids(n_jobs, n_orgs)
    df = pd.DataFrame([(j, org) for org, js in ids.items() for j in js], columns=["job_id", "org"])
    out = {"rows": n_jobs}
    jobs, out["dict_s"] = _timed(clean_jobs, ids, creds)
    assert len(jobs) == n_jobs
    jobs, out["dataframe_s"] = _timed(clean_jobs, df, creds)
    assert len(jobs) == n_jobs
    out["us_per_row_dict"] = 1e6 * out["dict_s"] / n_jobs
    out["us_per_row_dataframe"] = 1e6 * out["dataframe_s"] / n_jobs
    return out


# -- the poll round at scale -----------------------------------------------------------------------


def sched(n_jobs: int = N_JOBS, n_orgs: int = N_ORGS) -> dict:
    import bench_cpu

    rss0 = _rss_now_mb()
    r = bench_cpu.scheduler_only(n_jobs=n_jobs, n_orgs=n_orgs, latency_s=0.02, server="fake")
    return {**r, "rss_before_mb": rss0, "rss_after_mb": _rss_now_mb(), "peak_rss_mb": _rss_mb()}


def round_(server: str, variant: str, n_jobs: int = N_JOBS, n_orgs: int = N_ORGS,
           latency_s: float = 0.2) -> dict:  # fmt: skip
    import bench_cpu

    rss0 = _rss_now_mb()
    r = bench_cpu.poll_round(variant, server=server, n_jobs=n_jobs, n_orgs=n_orgs,
                             latency_s=latency_s)  # fmt: skip
    return {**r, "rss_before_mb": rss0, "rss_after_mb": _rss_now_mb(), "peak_rss_mb": _rss_mb()}


# -- the store -------------------------------------------------------------------------------------


def store(n: int = 20_000) -> dict:
    from bench_frame import make_snapshots

    snaps = make_snapshots(n // 10, 10)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for batch in (1, 10, 100, 1000):
            path = Path(tmp) / f"s{batch}.sqlite"
            with SnapshotStore(path) as st:
                t = time.perf_counter()
                if batch == 1:
                    for s in snaps:
                        st.append(s)
                else:
                    for i in range(0, n, batch):
                        st.extend(snaps[i : i + batch])
                dt = time.perf_counter() - t
                assert len(st) == n
            out[f"rows_per_s_batch_{batch}"] = n / dt
    return out


# -- rendering at 10,000 jobs ----------------------------------------------------------------------


def render(n_jobs: int = 10_000, n_polls: int = 12) -> dict:
    import bench_render
    from bench_frame import make_snapshots
    from research.internals import to_frame

    df = to_frame(make_snapshots(n_jobs, n_polls))
    out = {"rows": len(df), "jobs": n_jobs}
    for name in bench_render.PLOTS:
        out[f"{name}_s"] = bench_render._render(name, df)
    out.update(bench_render._dashboard_refresh(df, refreshes=3))
    return out


# -- 10M rows --------------------------------------------------------------------------------------


def big_frame(n_jobs: int, n_polls: int, seed: int = 1):
    """The rows of bench_frame.make_snapshots (same shape, other random draws), built
    column-wise: 10M rows without 10M Python objects."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    from research.internals import SNAPSHOT_DTYPES, STATUS_DTYPE

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
    import gc

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from research.internals import plots, summary

    n_polls = 100
    rss0 = _rss_mb()
    df, t_build = _timed(big_frame, rows // n_polls, n_polls)
    gc.collect()
    out = {"rows": len(df), "build_s": t_build,
           "bytes_per_row_deep": df.memory_usage(deep=True).sum() / len(df),
           "rss_after_build_mb": _rss_mb(), "rss_before_mb": rss0}  # fmt: skip
    for name in ("summarize_jobs", "summarize_dcs", "summarize_orgs"):
        _, out[f"{name}_s"] = _timed(getattr(summary, name), df)
    for name in ("plot_progress", "plot_outcomes", "plot_failure_rate", "plot_status_timeline"):
        fig = Figure(figsize=(10, 6))
        ax = fig.add_subplot()
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            getattr(plots, name)(df, ax=ax)
        fig.canvas.draw()
        out[f"{name}_s"] = time.perf_counter() - t
    out["peak_rss_mb"] = _rss_mb()
    return out


# -- driver ----------------------------------------------------------------------------------------


def _in_subprocess(part: str, arg: str = "") -> dict:
    cmd = [sys.executable, __file__, "--child", part] + ([arg] if arg else [])
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if done.returncode:
        return {"error": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _child(part: str, arg: str) -> None:
    if part == "sched":
        out = sched(*(map(int, arg.split(":")) if arg else ()))
    elif part.startswith("round-"):
        server, _, variant = part[6:].partition("-")
        n = arg.split(":") if arg else ()
        out = round_(server, variant.replace("_", " ") or "requests Session.get (today)",
                     *map(int, n))  # fmt: skip
    elif part.startswith("async-"):
        import bench_cpu

        server, _, kind = part[6:].partition("-")
        n_jobs, n_orgs = map(int, arg.split(":")) if arg else (N_JOBS, N_ORGS)
        out = bench_cpu.async_(kind, server=server, n_jobs=n_jobs, n_orgs=n_orgs, latency_s=0.2)
    elif part == "frame":
        out = frame(int(arg))
    else:
        raise SystemExit(f"unknown part {part}")
    print(json.dumps(out, default=str))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="clean,store,render,sched,round,frame")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child[0], args.child[1] if len(args.child) > 1 else "")
        return 0
    only = args.only.split(",")
    jobs, orgs = (2000, 10) if args.quick else (N_JOBS, N_ORGS)
    out: dict = {"loadavg_start": os.getloadavg()}
    if "clean" in only:
        out["clean"] = clean(jobs, orgs)
        print("clean", out["clean"])
    if "store" in only:
        out["store"] = store(2000 if args.quick else 20_000)
        print("store", out["store"])
    if "render" in only:
        out["render"] = render(300 if args.quick else 10_000)
        print("render", out["render"])
    if "sched" in only:
        out["sched"] = _in_subprocess("sched", f"{jobs}:{orgs}")
        print("sched", out["sched"])
    if "round" in only:
        for server in ("fake", "sim"):
            key = f"round-{server}"
            out[key] = _in_subprocess(key, f"{jobs}:{orgs}")
            print(key, out[key])
    if "variants" in only:  # lighter HTTP paths at scale, against the fake
        import bench_cpu

        for key in ("round-fake-http.client,_conn_per_thread", "async-fake-aiohttp",
                    "async-fake-streams"):  # fmt: skip
            if not bench_cpu._have(key.rpartition("-")[2]):
                continue
            out[key] = _in_subprocess(key, f"{jobs}:{orgs}")
            print(key, out[key])
    if "frame" in only:
        for rows in (100_000,) if args.quick else (1_000_000, 3_000_000, 10_000_000):
            out[f"frame-{rows}"] = _in_subprocess("frame", str(rows))
            print(f"frame {rows}", out[f"frame-{rows}"])
    out["loadavg_end"] = os.getloadavg()
    path = HERE / "results" / f"scale-{'-'.join(only)}{'-quick' if args.quick else ''}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=1, default=str))
    print(f"load average {out['loadavg_start']} -> {out['loadavg_end']}; -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
