"""Where the CPU of a status call goes, layer by layer, measured in one run.

    python benchmarks/bench_layers.py            # 2,000 calls per layer
    python benchmarks/bench_layers.py --quick    # 200

Client process CPU (``time.process_time``) per status call, for the requests path
(version 0.1), the lean sender on the threaded loop (0.2) and the default (the poll loop's
own event loop, :mod:`zcrm_notebook.api.aio_sender`), against the simulator in its own
process:

- ``client, exchange canned``: ``ZohoClient.get_status`` with the HTTP exchange replaced by
  a canned 200 answer (token cache, URL, destination check, ``interpret_answer``);
- ``sequential over HTTP``: ``get_status`` called in a loop from one thread, or
  ``get_status_async`` awaited in turn on one event loop (latency 0);
- ``poll loop, canned client``: the real Poller round, on each path's loop, with a client
  that waits the latency and returns a canned answer (scheduler, snapshots; thread pools
  or the event loop);
- ``poll round``: :func:`bench_cpu.poll_round`, the real thing (20 calls in flight, 4 orgs).

The layers overlap (a sequential call also pays a wake-up per answer), so they are read
side by side, not subtracted.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import io
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_cpu  # noqa: E402
from remote_server import Remote  # noqa: E402

from zcrm_notebook.api.status import JobState, JobStatus  # noqa: E402
from zcrm_notebook.api.transport import Answer, LeanSender  # noqa: E402
from zcrm_notebook.auth import OrgCredentials  # noqa: E402
from zcrm_notebook.client import StatusAnswer, ZohoClient  # noqa: E402

_HEAD = b"Content-Type: application/json;charset=UTF-8\r\nContent-Length: 110\r\n\r\n"
_BODY = json.dumps({"data": [{"status": "COMPLETED", "total_count": 10, "converted_count": 10,
                              "not_converted_count": 0, "failed_count": 0}]}).encode()  # fmt: skip


class _CannedSender(LeanSender):
    """The lean sender's checks and bookkeeping, with a canned exchange (no socket)."""

    def _exchange(self, dest, target, url, headers, timeout):  # type: ignore[no-untyped-def]
        return Answer(200, http.client.parse_headers(io.BytesIO(_HEAD)), _BODY, url)


class _CannedClient(ZohoClient):
    """A client whose call takes the latency and costs nothing: the poll loop alone."""

    def get_status(self, job_id: str) -> StatusAnswer:
        time.sleep(bench_cpu.LATENCY_S)
        st = JobStatus(job_id, JobState.COMPLETED, "COMPLETED", 10, 10, 0, 0)
        return StatusAnswer(st, 200, bench_cpu.LATENCY_S)

    async def get_status_async(self, job_id: str, blocking) -> StatusAnswer:
        await asyncio.sleep(bench_cpu.LATENCY_S)
        st = JobStatus(job_id, JobState.COMPLETED, "COMPLETED", 10, 10, 0, 0)
        return StatusAnswer(st, 200, bench_cpu.LATENCY_S)


async def _each(client: ZohoClient, ids: list[str]) -> float:
    """CPU per call (us) of ``get_status_async`` awaited in turn on one event loop."""

    async def blocking(fn, *args):
        return fn(*args)

    await client.get_status_async(ids[0], blocking)  # a token and a connection first
    cpu0 = time.process_time()
    for job_id in ids[1:]:
        await client.get_status_async(job_id, blocking)
    cpu = time.process_time() - cpu0
    assert client.aio is not None
    await client.aio.aclose()
    return 1e6 * cpu / (len(ids) - 1)


def _per_call_us(call, ids: list[str]) -> float:
    call(ids[0])  # a token and a connection first
    cpu0 = time.process_time()
    for job_id in ids[1:]:
        call(job_id)
    return 1e6 * (time.process_time() - cpu0) / (len(ids) - 1)


def layers(n: int) -> dict:
    """The layers' CPU per call (us) of the three paths, in one run."""
    paths = {**bench_cpu.CLIENTS, **bench_cpu.LEAN}
    out: dict = {name: {} for name in paths}
    with Remote("sim", n_jobs=n + 1, n_orgs=1, latency_s=0.0) as orgs:
        ((org, (cfg, ids)),) = orgs.items()
        creds = OrgCredentials(org=org, **cfg)
        canned = ZohoClient(creds)
        assert canned.lean is not None
        canned.lean.close()
        canned.lean = _CannedSender(canned.destinations)
        out["lean sender, threaded (0.2)"]["client, exchange canned"] = _per_call_us(
            canned.get_status, ids
        )
        canned.close()
        for name, (cls, _loop) in paths.items():
            client = cls(creds)
            if client.aio is not None:
                out[name]["sequential over HTTP"] = asyncio.run(_each(client, ids))
            else:
                out[name]["sequential over HTTP"] = _per_call_us(client.get_status, ids)
            client.close()
    for name, (cls, loop_cls) in paths.items():
        row = out[name]
        row["poll loop, canned client"] = bench_cpu.poll_round(
            _CannedClient, n_jobs=n, n_orgs=4, loop_cls=loop_cls
        )["client_cpu_us_per_call"]
        row["poll round"] = bench_cpu.poll_round(cls, n_jobs=n, n_orgs=4, loop_cls=loop_cls)[
            "client_cpu_us_per_call"
        ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    out = layers(200 if args.quick else 2000)
    for name, row in out.items():
        print(name)
        for layer, us in row.items():
            print(f"  {layer:28s} {us:7.0f} us/call")
    return 0


if __name__ == "__main__":
    sys.exit(main())
