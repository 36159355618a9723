"""CPU per status call in the poll round, where it goes, and what a lighter HTTP path saves.

    python benchmarks/bench_cpu.py                 # everything below, ~3 minutes
    python benchmarks/bench_cpu.py --only round --variant "urllib3 HTTPConnectionPool"

- ``round``: the poll round of ``bench_poll.poll_round`` (2,000 completed jobs, 4 orgs,
  20 ms latency, 5 calls in flight per org, server in its own process) with each HTTP
  variant of :mod:`research.clients` swapped into the real Poller: client process CPU
  seconds per call (``time.process_time`` over the run / calls), wall time / ideal, and
  the server process's CPU per answered call;
- ``hog``: the same round with a CPU-bound process (``while True: pass``) beside it;
- ``http``: each variant alone, one thread, 2,000 sequential calls, server latency 0;
- ``sched``: the Poller with a client that only sleeps the latency and returns a canned
  answer (scheduler, thread pools, snapshots: everything but HTTP and parsing);
- ``parts``: microseconds per call of each piece of the per-call work, in-process;
- ``profile``: py-spy (all threads, idle excluded) over one round, grouped by library.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
import timeit
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from research import clients  # noqa: E402
from research.internals import (  # noqa: E402
    JobStatus,
    OrgCredentials,
    Poller,
    PollPolicy,
    StatusAnswer,
    ZohoClient,
    client_class,
    parse_status,
)
from research.remote import Remote  # noqa: E402

ROUND = dict(n_jobs=2000, n_orgs=4, latency_s=0.02)


def _creds(orgs: dict) -> dict:
    return {name: OrgCredentials(org=name, **cfg) for name, (cfg, _) in orgs.items()}


def poll_round(variant: str, *, cap: int = 5, server: str = "sim", hog: bool = False,
               client=None, **size) -> dict:  # fmt: skip
    """One poll of every job with the real Poller and ``variant``'s HTTP path."""
    size = {**ROUND, **size}
    remote = Remote(server, **size)
    hog_proc = None
    with remote as orgs:
        if hog:
            hog_proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        cls = client or clients.VARIANTS[variant]
        with client_class(cls):
            poller = Poller({n: ids for n, (_, ids) in orgs.items()}, _creds(orgs),
                            policy=PollPolicy(max_in_flight=cap, seed=1))  # fmt: skip
            rss0 = rss_now_mb()
            cpu0, t0 = time.process_time(), time.perf_counter()
            snaps = poller.run_snapshots()
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            rss1 = rss_now_mb()
        if hog_proc is not None:
            hog_proc.kill()
            hog_proc.wait()
    assert len(snaps) == size["n_jobs"] and all(s.is_final for s in snaps), len(snaps)
    ideal = size["n_jobs"] * size["latency_s"] / (cap * size["n_orgs"])
    return {
        "variant": variant, "calls": len(snaps), "wall_s": wall, "ideal_s": ideal,
        "measured_over_ideal": wall / ideal, "client_cpu_s": cpu,
        "client_cpu_us_per_call": 1e6 * cpu / len(snaps),
        "server_cpu_us_per_call": 1e6 * remote.report["cpu_s"] / max(1, remote.report["calls"]),
        "hog": hog, "server": server, "rss_before_run_mb": rss0, "rss_after_run_mb": rss1,
    }  # fmt: skip


def rss_now_mb() -> float:
    """Resident set size now (MB), from /proc (0 where there is none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def lean_round(variant: str, *, cap: int = 5, server: str = "sim", **size) -> dict:
    """The round with :func:`research.lean_loop.lean_round` instead of the Poller."""
    from research.lean_loop import lean_round as run

    size = {**ROUND, **size}
    remote = Remote(server, **size)
    with remote as orgs:
        cls = _CannedClient if variant.startswith("canned") else clients.VARIANTS[variant]
        cpu0, t0 = time.process_time(), time.perf_counter()
        snaps = run(cls, orgs, cap)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    assert len(snaps) == size["n_jobs"] and all(s.is_final for s in snaps), len(snaps)
    ideal = size["n_jobs"] * size["latency_s"] / (cap * size["n_orgs"])
    return {
        "variant": "lean loop + " + variant, "calls": len(snaps), "wall_s": wall,
        "ideal_s": ideal, "measured_over_ideal": wall / ideal, "client_cpu_s": cpu,
        "client_cpu_us_per_call": 1e6 * cpu / len(snaps),
        "server_cpu_us_per_call": 1e6 * remote.report["cpu_s"] / max(1, remote.report["calls"]),
        "hog": False, "server": server,
    }  # fmt: skip


def async_(kind: str, *, cap: int = 5, server: str = "sim", hog: bool = False, **size) -> dict:
    """The round on one asyncio loop (:mod:`research.async_round`): aiohttp or bare streams."""
    from research.async_round import async_round

    size = {**ROUND, **size}
    remote = Remote(server, **size)
    with remote as orgs:
        async_round(kind, {n: (c, ids[:1]) for n, (c, ids) in orgs.items()}, cap)  # warm-up
        hog_proc = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if hog else None
        cpu0, t0 = time.process_time(), time.perf_counter()
        snaps = async_round(kind, {n: (c, ids[1:]) for n, (c, ids) in orgs.items()}, cap)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        if hog_proc is not None:
            hog_proc.kill()
            hog_proc.wait()
    assert all(s.is_final for s in snaps) and len(snaps) == size["n_jobs"] - size["n_orgs"]
    ideal = len(snaps) * size["latency_s"] / (cap * size["n_orgs"])
    return {
        "variant": f"asyncio: {kind}", "calls": len(snaps), "wall_s": wall, "ideal_s": ideal,
        "measured_over_ideal": wall / ideal, "client_cpu_s": cpu,
        "client_cpu_us_per_call": 1e6 * cpu / len(snaps),
        "server_cpu_us_per_call": 1e6 * remote.report["cpu_s"] / max(1, remote.report["calls"]),
        "hog": hog, "server": server,
    }  # fmt: skip


def _have(kind: str) -> bool:
    """aiohttp and h11 are measured only where installed (they are not dependencies)."""
    import importlib.util

    module = {"aiohttp": "aiohttp", "h11": "h11"}.get(kind)
    return module is None or importlib.util.find_spec(module) is not None


def http_only(variant: str, n_calls: int = 2000, server: str = "sim") -> dict:
    """``variant``'s get_status alone: one thread, sequential calls, server latency 0."""
    with Remote(server, n_jobs=n_calls, n_orgs=1, latency_s=0.0) as orgs:
        ((name, (cfg, ids)),) = orgs.items()
        client = clients.VARIANTS[variant](OrgCredentials(org=name, **cfg))
        client.get_status(ids[0])  # token and connection
        cpu0, t0 = time.process_time(), time.perf_counter()
        for jid in ids:
            client.get_status(jid)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        client.close()
    return {"variant": variant, "client_cpu_us_per_call": 1e6 * cpu / n_calls,
            "wall_us_per_call": 1e6 * wall / n_calls}  # fmt: skip


class _CannedClient(ZohoClient):
    """No HTTP: sleeps the latency and returns a prebuilt answer (measures the loop)."""

    latency_s = 0.02
    _answer = StatusAnswer(
        parse_status("1", {"data": [{"Status": "COMPLETED", "Total_Count": 10,
                                     "Converted_Count": 10, "Not_Converted_Count": 0,
                                     "Failed_Count": 0}]}), 200, 0.02)  # fmt: skip

    def get_status(self, job_id: str) -> StatusAnswer:
        time.sleep(self.latency_s)
        st = self._answer.status
        return StatusAnswer(JobStatus(job_id, st.status, st.raw_status, *st.counts), 200, 0.02)


def scheduler_only(**size) -> dict:
    """The poll round with the canned client: CPU of everything but HTTP and parsing."""
    return poll_round("canned (no HTTP)", client=_CannedClient, **size)


def parts() -> dict[str, float]:
    """Microseconds per call of each piece of the status call's own work (no network)."""
    import requests
    from requests.utils import to_key_val_list

    try:
        from requests._types import SupportsItems as _SupportsItems
    except ImportError:  # requests before 2.33: no runtime protocols
        _SupportsItems = dict
    from research.internals import (
        JobTrack,  # noqa: F401  (import cost not counted)
        Snapshot,
        check_token_destination,
        interpret_answer,
    )

    body = json.dumps({"data": [{"Status": "COMPLETED", "Total_Count": 10,
                                 "Converted_Count": 10, "Not_Converted_Count": 0,
                                 "Failed_Count": 0}]}).encode()  # fmt: skip
    r = requests.Response()
    r.status_code, r._content, r.url = 200, body, "http://127.0.0.1:1/us/api/crm/v5/x?job_id=1"
    r.headers["Content-Type"] = "application/json"
    payload = json.loads(body)
    st = parse_status("1", payload)
    creds = OrgCredentials(org="us-org", dc="us", client_id="1000.X", client_secret="s",
                           refresh_token="1000.r", accounts_url="http://127.0.0.1:1/us/accounts",
                           api_domain="http://127.0.0.1:1/us/api")  # fmt: skip
    client = ZohoClient(creds)
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    pool = ThreadPoolExecutor(5)
    futs = [pool.submit(int) for _ in range(20)]
    wait(futs)
    log = logging.getLogger("zcrm_notebook.poll")
    tests = {
        "json.loads(body)": lambda: json.loads(body),
        "Response.json()": lambda: r.json(),
        "parse_status(payload)": lambda: parse_status("1", payload),
        "interpret_answer(Response)": lambda: interpret_answer("1", r),
        "requests.utils.urlparse(url) (in interpret_answer)": lambda: requests.utils.urlparse(
            r.url
        ),
        "check_token_destination(api_domain)": lambda: check_token_destination(
            "http://127.0.0.1:1/us/api"
        ),
        "ZohoClient.status_url": lambda: client.status_url("http://127.0.0.1:1/us/api"),
        "Snapshot.from_status": lambda: Snapshot.from_status(
            st, polled_at=1.0, org="us-org", dc="us", http_status=200, latency_s=0.02
        ),
        "log.debug (disabled)": lambda: log.debug("snapshot %s %s %s (kept)", "a", "b", "c"),
        "pool.submit + result (thread hop)": lambda: pool.submit(int).result(),
        "wait(20 done futures, FIRST_COMPLETED)": lambda: wait(futs, 0.5, FIRST_COMPLETED),
        "isinstance(dict, requests' runtime Protocol)": lambda: isinstance({}, _SupportsItems),
        "requests.utils.to_key_val_list(dict)": lambda: to_key_val_list({"a": 1}),
    }
    out = {}
    for name, fn in tests.items():
        n, t = 2000, min(timeit.repeat(fn, number=2000, repeat=5))
        out[name] = 1e6 * t / n
    pool.shutdown()
    return out


# -- profile ----------------------------------------------------------------------------------

GROUPS = [  # (label, substring of a frame) -- first match from the leaf wins
    ("socket / ssl syscalls", "socket.py"),
    ("typing (runtime Protocol isinstance, requests)", "typing.py"),
    ("collections.abc (Mapping checks)", "_collections_abc"),
    ("http.cookiejar (requests cookies)", "http/cookiejar.py"),
    ("http.client (parse, send)", "http/client.py"),
    ("email.parser (http.client headers)", "email/"),
    ("urllib3", "urllib3/"),
    ("requests", "requests/"),
    ("json", "json/"),
    ("concurrent.futures (pools, wait)", "concurrent/futures/"),
    ("threading (locks, conditions)", "threading.py"),
    ("queue", "queue.py"),
    ("logging", "logging/"),
    ("urllib.parse", "urllib/parse.py"),
    ("ipaddress", "ipaddress.py"),
    ("our: client.py", "zcrm_notebook/client.py"),
    ("our: status.py", "zcrm_notebook/status.py"),
    ("our: auth.py (token cache)", "zcrm_notebook/auth.py"),
    ("our: dc.py (destination check)", "zcrm_notebook/dc.py"),
    ("our: schedule.py (scheduler)", "zcrm_notebook/schedule.py"),
    ("our: orgs.py", "zcrm_notebook/orgs.py"),
    ("our: policy.py", "zcrm_notebook/policy.py"),
    ("our: poll.py", "zcrm_notebook/poll.py"),
    ("our: other", "zcrm_notebook/"),
    ("research bench", "research/"),
]


def _group(stack: list[str]) -> str:
    for frame in reversed(stack):  # leaf first
        for label, key in GROUPS:
            if key in frame:
                return label
    return "other: " + (stack[-1] if stack else "?")


def profile(variant: str, rate: int = 250) -> dict:
    """py-spy over one round in a subprocess, sampling only the thread that holds the GIL
    (Python work; time in system calls without the GIL is not seen): samples per group
    (leaf-most known frame), and the inclusive share of a few subtrees."""
    raw = HERE / "results" / f"pyspy-{variant.split()[0]}.txt"
    raw.parent.mkdir(exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    cmd = [str(spy), "record", "--format", "raw", "--rate", str(rate), "--nonblocking", "--gil",
           "-o", str(raw), "--", sys.executable, __file__, "--only", "round",
           "--variant", variant]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    leaf, incl, total = Counter(), Counter(), 0
    marks = {"requests (all below Session.request)": "request (requests/sessions.py",
             "urllib3 urlopen (all below)": "urlopen (urllib3/connectionpool.py",
             "interpret_answer (all below)": "interpret_answer (",
             "scheduler thread (Scheduler.run, all below)": "run (zcrm_notebook/schedule.py",
             "worker threads (_call, all below)": "_call (zcrm_notebook/schedule.py",
             "token cache get": "get (zcrm_notebook/auth.py"}  # fmt: skip
    for line in raw.read_text().splitlines():
        stack_text, _, count = line.rpartition(" ")
        n, stack = int(count), stack_text.split(";")
        total += n
        leaf[_group(stack)] += n
        for label, key in marks.items():
            if any(key in f for f in stack):
                incl[label] += n
    return {"samples": total,
            "by_group_pct": {k: 100 * v / total for k, v in leaf.most_common()},
            "inclusive_pct": {k: 100 * incl[k] / total for k in marks}}  # fmt: skip


def cprofile(variant: str, top: int = 25) -> dict:
    """cProfile with a per-thread CPU clock (``time.thread_time``: user + system) in every
    thread of one round (the scheduler thread and each pool worker), merged: CPU seconds
    per group of the function's file (self time), and the top functions. The profiler
    itself inflates small calls: compare shares, not totals."""
    import concurrent.futures.thread as cft
    import cProfile
    import pstats
    import threading

    profiles, original = [], cft._worker

    def worker(*args, **kw):
        prof = cProfile.Profile(time.thread_time)
        profiles.append(prof)
        prof.enable()
        try:
            return original(*args, **kw)
        finally:
            prof.disable()

    cft._worker = worker
    try:
        main_prof = cProfile.Profile(time.thread_time)
        profiles.append(main_prof)
        before = set(threading.enumerate())
        with _profiled(main_prof):
            result = poll_round(variant)
        for t in set(threading.enumerate()) - before:
            t.join(timeout=5)
    finally:
        cft._worker = original
    stats = pstats.Stats(profiles[0])
    for prof in profiles[1:]:
        stats.add(prof)
    groups, total = Counter(), 0.0
    rows = []
    for (file, line, fn), (_cc, nc, tt, _ct, callers) in stats.stats.items():
        total += tt
        rows.append((tt, nc, f"{fn} ({Path(file).name}:{line})"))
        if file != "~" or not callers:
            groups[_group([f"{fn} ({file}:{line})"])] += tt
            continue
        n_all = sum(c[0] for c in callers.values()) or 1  # a builtin: to its callers
        for (cfile, cline, cfn), c in callers.items():
            groups[_group([f"{cfn} ({cfile}:{cline})"])] += tt * c[0] / n_all
    rows.sort(reverse=True)
    calls = result["calls"]
    return {
        "calls": calls,
        "profiled_cpu_us_per_call": 1e6 * total / calls,
        "unprofiled_cpu_us_per_call": result["client_cpu_us_per_call"],
        "by_group_us_per_call": {k: 1e6 * v / calls for k, v in groups.most_common()},
        "top_functions": [(name, 1e6 * tt / calls, nc / calls) for tt, nc, name in rows[:top]],
    }


class _profiled:
    """Profile the calling thread (the scheduler) while poll_round runs."""

    def __init__(self, prof) -> None:
        self.prof = prof

    def __enter__(self):
        self.prof.enable()

    def __exit__(self, *exc) -> None:
        self.prof.disable()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="parts,http,sched,round,hog,profile")
    parser.add_argument("--variant", default=None, help="one variant (default: all)")
    parser.add_argument("--server", default="sim", choices=("sim", "fake"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    only = args.only.split(",")
    variants = [args.variant] if args.variant else list(clients.VARIANTS)
    out: dict = {"loadavg_start": os.getloadavg()}
    if "parts" in only:
        out["parts_us"] = parts()
        for k, v in out["parts_us"].items():
            print(f"parts   {k:52s} {v:8.2f} us")
    if "http" in only:
        out["http"] = [http_only(v, server=args.server) for v in variants]
        for r in out["http"]:
            cpu, wall = r["client_cpu_us_per_call"], r["wall_us_per_call"]
            print(f"http    {r['variant']:40s} client CPU {cpu:7.1f} us/call   wall {wall:7.1f}")
    if "sched" in only:
        runs = [scheduler_only() for _ in range(args.repeat)]
        out["sched"] = runs
        _print_rounds("sched", runs)
    if "lean" in only:
        names = ["canned (no HTTP)"] + variants
        out["lean"] = [lean_round(v, server=args.server) for _ in range(args.repeat) for v in names]
        _print_rounds("lean", out["lean"])
    if "async" in only:
        kinds = [k for k in ("aiohttp", "h11", "streams", "streams+stdlib headers") if _have(k)]
        out["async"] = [async_(k, server=args.server) for _ in range(args.repeat) for k in kinds]
        _print_rounds("async", out["async"])
    if "round" in only:
        out["round"] = [
            poll_round(v, server=args.server) for _ in range(args.repeat) for v in variants
        ]
        _print_rounds("round", out["round"])
    if "hog" in only:
        out["hog"] = [poll_round(v, server=args.server, hog=True)
                      for _ in range(args.repeat) for v in variants]  # fmt: skip
        out["hog"] += [async_(k, server=args.server, hog=True) for _ in range(args.repeat)
                       for k in ("aiohttp", "streams") if _have(k)]  # fmt: skip
        _print_rounds("hog", out["hog"])
    if "cprofile" in only:
        out["cprofile"] = {v: cprofile(v) for v in variants}
        for v, p in out["cprofile"].items():
            prof, plain = p["profiled_cpu_us_per_call"], p["unprofiled_cpu_us_per_call"]
            print(f"\ncProfile {v}: {prof:.0f} us/call profiled ({plain:.0f} in the same run)")
            for k, us in p["by_group_us_per_call"].items():
                if us >= 2:
                    print(f"  group {k:48s} {us:7.1f} us/call")
            for name, us, n in p["top_functions"][:15]:
                print(f"  fn    {name:60s} {us:7.1f} us/call  {n:5.2f} calls/call")
    if "profile" in only:
        out["profile"] = {v: profile(v) for v in variants}
        for v, p in out["profile"].items():
            print(f"\nprofile {v} ({p['samples']} samples)")
            for k, pct in p["inclusive_pct"].items():
                print(f"  incl  {k:48s} {pct:5.1f} %")
            for k, pct in p["by_group_pct"].items():
                if pct >= 0.5:
                    print(f"  self  {k:48s} {pct:5.1f} %")
    out["loadavg_end"] = os.getloadavg()
    path = HERE / "results" / f"cpu-{'-'.join(only)}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    print(f"load average {out['loadavg_start']} -> {out['loadavg_end']}; -> {path}")
    return 0


def _print_rounds(label: str, runs: list[dict]) -> None:
    by: dict[str, list[dict]] = {}
    for r in runs:
        by.setdefault(r["variant"], []).append(r)
    for v, rs in by.items():
        cpu, ratio, server = (
            statistics.median(r[k] for r in rs)
            for k in ("client_cpu_us_per_call", "measured_over_ideal", "server_cpu_us_per_call")
        )
        print(f"{label:7s} {v:40s} client CPU {cpu:7.1f} us/call  wall/ideal {ratio:5.2f}  "
              f"server CPU {server:7.1f} us/call  (median of {len(rs)})")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
