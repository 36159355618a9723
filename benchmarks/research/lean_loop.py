"""A lean threaded poll round, to measure how much of today's CPU per call is the loop.

Not the product's scheduler: per org, ``cap`` long-lived worker threads take job ids from
the org's ``queue.SimpleQueue`` and put ``(job, answer, time)`` on one shared
``SimpleQueue``; the calling thread turns each answer into a Snapshot. No futures, no
``wait()`` over the calls in flight, no executor hand-off per call. One poll per job (a
round); a real loop would put a job back on its org's queue when it is due again.
"""

from __future__ import annotations

import queue
import threading
import time

from .internals import OrgCredentials, Snapshot


def lean_round(client_cls, orgs: dict, cap: int = 5) -> list:
    """Poll every job of ``orgs`` (``{org: (config, ids)}``) once; returns the Snapshots."""
    done: queue.SimpleQueue = queue.SimpleQueue()
    clients, threads, n = [], [], 0
    for name, (cfg, ids) in orgs.items():
        client = client_cls(OrgCredentials(org=name, **cfg), pool_size=cap)
        clients.append(client)
        todo: queue.SimpleQueue = queue.SimpleQueue()
        for jid in ids:
            todo.put(jid)
        for _ in range(cap):
            todo.put(None)
            t = threading.Thread(target=_work, args=(client, todo, done), daemon=True)
            threads.append(t)
        n += len(ids)
    for t in threads:
        t.start()
    snaps = []
    for _ in range(n):
        client, jid, ans, at = done.get()
        snaps.append(Snapshot.from_status(ans.status, polled_at=at, org=client.creds.org,
                                          dc=client.creds.dc, http_status=ans.http_status,
                                          latency_s=ans.latency_s))  # fmt: skip
    for c in clients:
        c.close()
    return snaps


def _work(client, todo: queue.SimpleQueue, done: queue.SimpleQueue) -> None:
    while (jid := todo.get()) is not None:
        done.put((client, jid, client.get_status(jid), time.time()))
