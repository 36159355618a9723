"""Measure the bounds the README's Security section states, against hostile fake servers.

    python benchmarks/bench_hostile.py            # about a minute on 2 cores
    python benchmarks/bench_hostile.py --repeat 1 # a quick look

Uses the loopback fake Zoho of the test suite (``tests/hostile_server.py``): a server
trickling a byte every 0.05 s (header or body) or never answering, 100 MB answers (with a
length, close-delimited, chunked), a 200 MiB gzip bomb, and the command line stopped by its
deadline or by SIGINT while a call is stuck. Prints the worst value of each bound over
``--repeat`` runs. Numbers only: the tests assert the bounds with wide margins.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import hostile_server as hs  # noqa: E402

import zcrm_notebook as zn  # noqa: E402

JOB = "3652397000009835020"
TIMEOUT_S = 0.5


def _client(fake: hs.FakeZoho, timeout_s: float) -> zn.ZohoClient:
    return zn.ZohoClient(zn.OrgCredentials(org="bench", **fake.org_config()), timeout_s=timeout_s)


def call_deadline_s(endpoint: str, answer) -> float:
    """Seconds one call with timeout_s=0.5 lasted against ``answer``."""
    with hs.FakeZoho() as fake:
        setattr(fake, endpoint, lambda req, n: answer())
        client = _client(fake, TIMEOUT_S)
        started = time.monotonic()
        try:
            client.get_status(JOB)
        except zn.ZcrmError:
            pass
        elapsed = time.monotonic() - started
        client.close()
    return elapsed


def body_read(answer) -> tuple[int, str]:
    """(bytes the fake handed to the kernel, the error code) for one big answer."""
    with hs.FakeZoho() as fake:
        fake.status = lambda req, n: answer()
        client = _client(fake, 30.0)
        try:
            client.get_status(JOB)
            code = "none"
        except zn.ZcrmError as exc:
            code = exc.code
        client.close()
        time.sleep(0.2)  # let the server notice the hang-up
        return fake.raw_bytes_sent, code


def gzip_peak() -> int:
    """Peak Python allocations (bytes) while refusing a 200 MiB gzip bomb."""
    with hs.FakeZoho() as fake:
        bomb = hs.gzip_bomb()
        fake.status = lambda req, n: bomb
        client = _client(fake, 30.0)
        tracemalloc.start()
        try:
            client.get_status(JOB)
        except zn.ZcrmError:
            pass
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        client.close()
    return peak


def stop_s() -> float:
    """Seconds from Watch.stop() to the end of a watch whose call (timeout 60 s) is stuck."""
    with hs.FakeZoho() as fake:
        fake.status = lambda req, n: hs.trickle_headers(0.05)
        creds = zn.OrgCredentials(org="bench", **fake.org_config())
        handle = zn.watch({"bench": [JOB]}, {"bench": creds}, policy=zn.PollPolicy(timeout_s=60))
        fake.wait_for("status", 1)
        started = time.monotonic()
        handle.stop()
        handle.wait(30)
        return time.monotonic() - started


def cli_exit_s(how: str) -> float:
    """Seconds from 'stopped watching' (deadline) or SIGINT to the CLI's exit; the one
    call is stuck in a trickling answer and its timeout is 60 s."""
    with hs.FakeZoho() as fake, tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        fake.status = lambda req, n: hs.trickle_headers(0.05)
        config = hs.write_toml(tmp / "orgs.toml", {"bench": fake.org_config()})
        (tmp / "jobs.csv").write_text(f"job_id,org\n{JOB},bench\n")
        env, _ = hs.child_env(tmp)
        extra = ["--deadline", "1"] if how == "deadline" else []
        cmd = [sys.executable, "-m", "zcrm_notebook", "poll", str(tmp / "jobs.csv"), "--config",
               str(config), "--out", str(tmp / "s.csv"), "--no-progress", "--timeout", "60",
               *extra]  # fmt: skip
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        said = threading.Event()

        def read() -> None:
            for line in proc.stderr:  # type: ignore[union-attr]
                if "stopped watching" in line:
                    said.set()

        threading.Thread(target=read, daemon=True).start()
        if how == "deadline":
            said.wait(30)
        else:
            fake.wait_for("status", 1)
            proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        proc.wait(60)
        return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--repeat", type=int, default=3)
    n = args.parse_args(argv).repeat
    slow = {
        "trickled headers": lambda: hs.trickle_headers(0.05),
        "trickled body": lambda: hs.trickle_body(0.05),
        "never answers": hs.never_answer,
    }
    rows = []
    for endpoint in ("status", "token"):
        for name, answer in slow.items():
            worst = max(call_deadline_s(endpoint, answer) for _ in range(n))
            rows.append((f"{endpoint} call, {name}, timeout_s=0.5", f"{worst:.2f} s"))
    big = {
        "Content-Length 100 MB": hs.big_body,
        "100 MB close-delimited": hs.close_delimited_body,
        "100 MB chunked": hs.chunked_body,
    }
    for name, answer in big.items():
        sent, code = max(body_read(answer) for _ in range(n))
        what = f"bytes sent by the server of a {name} answer"
        rows.append((what, f"{sent / 2**20:.1f} MiB ({code})"))
    peak = max(gzip_peak() for _ in range(n))
    rows.append(("Python allocations refusing a 200 MiB gzip bomb", f"{peak / 2**20:.1f} MiB"))
    rows.append(("Watch.stop() to the end, call stuck (timeout 60 s)",
                 f"{max(stop_s() for _ in range(n)):.2f} s"))  # fmt: skip
    for how in ("deadline", "SIGINT"):
        worst = max(cli_exit_s(how) for _ in range(n))
        rows.append((f"CLI exit after {how}, call stuck (--timeout 60)", f"{worst:.2f} s"))
    width = max(len(r[0]) for r in rows)
    for what, value in rows:
        print(f"{what.ljust(width)}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
