"""CPU per status call in the poll round: the requests path (version 0.1) vs the lean sender.

    python benchmarks/bench_cpu.py            # 2,000 jobs, 4 orgs, 3 runs each
    python benchmarks/bench_cpu.py --quick    # 200 jobs, 2 orgs, 1 run

The poll round of ``bench_poll.poll_round`` (completed jobs: one poll each, 20 ms latency,
5 calls in flight per org, the simulator in its own process) with the real Poller, twice in
the same run: the baseline client sends every status call through its ``requests.Session``
(``Session.request``, as version 0.1 did), the default client through
:class:`~zcrm_notebook.api.transport.LeanSender`. Measured: client process CPU seconds per
call (``time.process_time`` over the run / calls), and wall time over ideal, alone and with
a CPU-bound process (``while True: pass``) beside it. Medians over the runs.
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import subprocess
import sys
import time
from concurrent.futures import Future
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from remote_server import Remote  # noqa: E402

from zcrm_notebook.auth import OrgCredentials  # noqa: E402
from zcrm_notebook.client import ZohoClient  # noqa: E402
from zcrm_notebook.errors import ZcrmError  # noqa: E402
from zcrm_notebook.inputs.jobs import Job  # noqa: E402
from zcrm_notebook.poll import orgstate  # noqa: E402
from zcrm_notebook.poll import poller as poller_module  # noqa: E402
from zcrm_notebook.poll.loop import PollLoop  # noqa: E402
from zcrm_notebook.poll.policy import PollPolicy  # noqa: E402
from zcrm_notebook.poll.poller import Poller  # noqa: E402

SIZES = {
    "full": dict(n_jobs=2000, n_orgs=4, repeat=3),
    "quick": dict(n_jobs=200, n_orgs=2, repeat=1),
}
LATENCY_S, CAP = 0.02, 5


class RequestsClient(ZohoClient):
    """The baseline: every status call through the client's ``requests.Session``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.lean is not None:
            self.lean.close()
        self.lean = self.aio = None


class ThreadedPollLoop(PollLoop):
    """The poll loop of version 0.1 (up to 0.2): the calling thread dispatches each call
    to its org's thread pool and takes the answers from a completion queue. The same
    scheduling and answer handling as :class:`PollLoop` (inherited): only the threads."""

    def run(self) -> str:
        try:
            return self._run_threads()
        finally:
            self.flush()

    def _run_threads(self) -> str:
        outstanding: dict[Future, Job] = {}
        done: queue.SimpleQueue[Future] = queue.SimpleQueue()
        while self._pending or outstanding:
            if self.stop.is_set():
                return "stopped"
            now = self.clock()
            self.flush()
            for o in self.orgs.values():
                while not o.paused(now) and o.has_due(now):
                    job = o.take()
                    fut = o.pool.submit(self._call_blocking, o.client, job.job_id)
                    outstanding[fut] = job
                    fut.add_done_callback(done.put)
            if outstanding:
                came = [done.get(timeout=0.5)]
                while not done.empty():
                    came.append(done.get_nowait())
                for fut in came:
                    self._handle(outstanding.pop(fut), fut.result())
            elif self._pending:
                wake = self._next_wake()
                if wake is None:
                    return "budget"
                self.sleep(min(max(0.0, wake - now), 0.5))
        return "finished"

    def _call_blocking(self, client: ZohoClient, job_id: str) -> tuple:
        started = time.perf_counter()
        try:
            result = client.get_status(job_id)
        except ZcrmError as exc:
            result = exc
        return result, self.clock(), time.perf_counter() - started


class LeanClient(ZohoClient):
    """Version 0.2's default: the status calls through the lean sender (http.client)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.aio = None


#: name -> (client class, poll loop class)
CLIENTS = {
    "requests Session (0.1)": (RequestsClient, ThreadedPollLoop),
    "on-loop (default)": (ZohoClient, PollLoop),
}
#: the path of version 0.2 (lean sender, threaded loop), measured beside on request
LEAN = {"lean sender, threaded (0.2)": (LeanClient, ThreadedPollLoop)}


def poll_round(client_cls: type, *, n_jobs: int, n_orgs: int, hog: bool = False,
               server: str = "sim", latency_s: float = LATENCY_S, store=None,
               loop_cls: type = PollLoop) -> dict:  # fmt: skip
    """One poll of every job with the real Poller, its orgs opened with ``client_cls``, its
    loop a ``loop_cls``, against ``server`` ("sim": the simulator; "fake":
    :mod:`fake_zoho`) in its own process."""
    remote = Remote(server, n_jobs=n_jobs, n_orgs=n_orgs, latency_s=latency_s)
    saved, saved_loop, hog_proc = orgstate.ZohoClient, poller_module.PollLoop, None
    with remote as orgs:
        if hog:
            hog_proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        orgstate.ZohoClient = client_cls  # what OrgState.open makes
        poller_module.PollLoop = loop_cls  # what Poller._start makes
        try:
            creds = {name: OrgCredentials(org=name, **cfg) for name, (cfg, _) in orgs.items()}
            poller = Poller({n: ids for n, (_, ids) in orgs.items()}, creds, store=store,
                            policy=PollPolicy(max_in_flight=CAP, seed=1))  # fmt: skip
            cpu0, t0 = time.process_time(), time.perf_counter()
            snaps = poller.run_snapshots()
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        finally:
            orgstate.ZohoClient, poller_module.PollLoop = saved, saved_loop
            if hog_proc is not None:
                hog_proc.kill()
                hog_proc.wait()
    assert len(snaps) == n_jobs and all(s.is_final for s in snaps), len(snaps)
    ideal = n_jobs * latency_s / (CAP * n_orgs)
    server_us = 1e6 * remote.report["cpu_s"] / max(1, remote.report["calls"])
    return {"calls": len(snaps), "wall_s": wall, "ideal_s": ideal,
            "measured_over_ideal": wall / ideal, "client_cpu_us_per_call": 1e6 * cpu / n_jobs,
            "server_cpu_us_per_call": server_us}  # fmt: skip


def cpu_per_call(quick: bool = False, log=print, lean: bool = False) -> dict:
    """Both paths (and version 0.2's with ``lean``), alone and with a CPU hog, in one run:
    medians and the ratios."""
    size = dict(SIZES["quick" if quick else "full"])
    repeat = size.pop("repeat")
    out: dict = {}
    paths = {**CLIENTS, **(LEAN if lean else {})}
    for hog in (False, True):
        for name, (cls, loop_cls) in paths.items():
            runs = []
            for _ in range(repeat):  # alternate nothing: each median is over its own runs
                runs.append(poll_round(cls, hog=hog, loop_cls=loop_cls, **size))
                log(f"  {'hog ' if hog else ''}{name:24s} "
                    f"{runs[-1]['client_cpu_us_per_call']:7.0f} us/call  "
                    f"wall/ideal {runs[-1]['measured_over_ideal']:.2f}")  # fmt: skip
            key = f"{name}{', CPU hog beside' if hog else ''}"
            out[key] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    base = out["requests Session (0.1)"]["client_cpu_us_per_call"]
    out["default_over_requests_cpu"] = out["on-loop (default)"]["client_cpu_us_per_call"] / base
    if lean:
        lean_us = out["lean sender, threaded (0.2)"]["client_cpu_us_per_call"]
        out["lean_over_requests_cpu"] = lean_us / base
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--lean", action="store_true", help="version 0.2's path beside")
    args = parser.parse_args(argv)
    out = cpu_per_call(args.quick, lean=args.lean)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
