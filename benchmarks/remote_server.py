"""A server in its own process (own GIL, like a remote Zoho) that reports its CPU time.

``Remote("sim", n_jobs=..., n_orgs=..., latency_s=...)`` serves the package's simulator
with jobs that are already completed (one poll each is one round, as in
``benchmarks/bench_poll.py``); ``Remote("fake", ...)`` serves :mod:`fake_zoho`, the
minimal asyncio responder (the simulator costs about 300 us of CPU per answered call, the
fake about 100: at 1,250 calls/s the simulator would take a third of a core of the 2).
On exit, ``self.report`` holds the server process's CPU
seconds (``time.process_time``) and the status calls it answered.
"""

from __future__ import annotations

import multiprocessing
import time

DCS = ("us", "eu", "in", "au", "jp", "ca", "sa", "uk", "cn")


def org_names(n_orgs: int) -> list[tuple[str, str]]:
    """(org name, dc) of ``n_orgs`` orgs: one per data center, then numbered."""
    return [(f"{DCS[i % len(DCS)]}-org{i}", DCS[i % len(DCS)]) for i in range(n_orgs)]


def job_ids(n_jobs: int, n_orgs: int) -> dict[str, list[str]]:
    names = [name for name, _ in org_names(n_orgs)]
    ids: dict[str, list[str]] = {name: [] for name in names}
    for i in range(n_jobs):
        ids[names[i % n_orgs]].append(str(3652397000000000000 + i))
    return ids


def _sim(n_jobs: int, n_orgs: int, latency_s: float):
    from zcrm_notebook.simulator import Faults, SimClock, SimJob, SimOrg, Simulator

    orgs = [SimOrg(name, dc, f"1000.CID{i}", f"secret-{i}-xxxx", f"1000.rt.{i}.yyyy")
            for i, (name, dc) in enumerate(org_names(n_orgs))]  # fmt: skip
    jobs = [SimJob(jid, org, 10, leads_per_s=1e6)
            for org, ids in job_ids(n_jobs, n_orgs).items() for jid in ids]  # fmt: skip
    sim = Simulator(orgs, jobs, clock=SimClock(speed=1.0), faults=Faults(latency_s=latency_s),
                    token_throttle=(1000, 600.0))  # fmt: skip
    return sim


def _serve(conn, kind: str, kw: dict) -> None:
    if kind == "sim":
        server = _sim(**kw).start()
        configs = {o.name: server.org_config(o.name) for o in server.orgs}
        answered = lambda: sum(server.stats.status_requests.values())  # noqa: E731
        stop = server.stop
    else:
        from fake_zoho import FakeZoho

        server = FakeZoho(**kw).start()
        configs = server.org_configs()
        answered = lambda: server.status_calls  # noqa: E731
        stop = server.stop
    ids = job_ids(kw["n_jobs"], kw["n_orgs"])
    conn.send({name: (configs[name], ids[name]) for name in configs})
    cpu0, calls0 = conn.recv()
    cpu0, calls0 = time.process_time(), answered()
    conn.send("ok")
    conn.recv()
    report = {"cpu_s": time.process_time() - cpu0, "calls": answered() - calls0}
    stop()
    conn.send(report)


class Remote:
    """The server in a spawned process; ``with Remote(...) as orgs`` gives
    ``{org: (config dict, [job ids])}`` and starts its CPU clock."""

    def __init__(self, kind: str = "sim", **kw) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, kind, kw), daemon=True)
        self.report: dict = {}

    def __enter__(self) -> dict:
        self.proc.start()
        orgs = self.conn.recv()
        self.conn.send((0, 0))
        self.conn.recv()
        return orgs

    def __exit__(self, *exc) -> None:
        self.conn.send("stop")
        self.report = self.conn.recv()
        self.proc.join(timeout=30)

    @property
    def pid(self) -> int:
        return self.proc.pid
