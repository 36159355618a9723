"""Issue 10, point 4: a slow or huge answer never hangs the process or fills its memory.

These tests are about the real-time behaviour of slow sockets, so they use real time, kept
small: a configured timeout of 0.5 s, a server trickling a byte every 0.05 s (each read gets
a byte well within the timeout, so only a bound on the whole call ends it), and generous hard
limits so that a loaded 2-core machine does not make them flaky. When a limit is passed
the fake server hangs up, so a failing test ends too. The poller's own waits run on a
manual clock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc

import pytest
from hostile_server import (
    BACKSTOP,
    FakeZoho,
    big_body,
    by_job,
    child_env,
    chunked_body,
    close_delimited_body,
    gzip_bomb,
    manual_poller,
    never_answer,
    trickle_body,
    trickle_headers,
    write_toml,
)

import zcrm_notebook as zn

ORG = "slow-org"
JOB = "3652397000009835020"
TIMEOUT_S = 0.5
# A call bounded by a 0.5 s timeout (connect + headers + body) must be over well within this.
CALL_BOUND_S = 4.0
# The CLI must exit within this after printing that it stopped (deadline) or after SIGINT.
EXIT_BOUND_S = 5.0
TRICKLE_S = 0.05  # one byte per 0.05 s: ten per timeout, so no single read ever times out
MAX_BODY = 16 * 2**20  # far below the 100 MB sent; above 1 MiB + loopback socket buffers
POLICY = zn.PollPolicy(seed=1, timeout_s=TIMEOUT_S, max_retries=0, give_up_after_errors=1,
                       **BACKSTOP)  # fmt: skip

SLOW = {
    "trickled headers": lambda: trickle_headers(TRICKLE_S),
    "trickled body": lambda: trickle_body(TRICKLE_S),
    "never answers": never_answer,
}


def run_limited(fn, limit_s: float, on_overrun):
    """Run ``fn`` in a thread; after ``limit_s`` call ``on_overrun`` (to unblock it).

    Returns (elapsed seconds until fn returned or the limit, fn's result or exception)."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # reported by the test
            box["value"] = exc

    thread = threading.Thread(target=target, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(limit_s)
    elapsed = time.monotonic() - started
    if thread.is_alive():
        on_overrun()
        thread.join(30)
    return elapsed, box.get("value")


@pytest.fixture
def fake():
    with FakeZoho() as server:
        yield server


def install(fake: FakeZoho, endpoint: str, answer) -> None:
    if endpoint == "status":
        fake.status = by_job({JOB: lambda req, n: answer()})
    else:
        fake.token = lambda req, n: answer()


def poll_one(fake: FakeZoho, endpoint: str, answer, limit_s: float):
    """Poll JOB (manual clock) against ``answer`` at ``endpoint``: (elapsed s, frame)."""
    install(fake, endpoint, answer)
    creds = zn.OrgCredentials(org=ORG, **fake.org_config())
    poller = manual_poller({ORG: [JOB]}, {ORG: creds}, policy=POLICY)
    elapsed, result = run_limited(poller.run, limit_s, fake.drop_connections)
    assert not isinstance(result, BaseException), repr(result)
    return elapsed, result


@pytest.mark.parametrize("endpoint", ["status", "token"])
@pytest.mark.parametrize("mode", list(SLOW))
def test_a_slow_answer_is_bounded_by_the_configured_timeout(fake, endpoint, mode):
    elapsed, result = poll_one(fake, endpoint, SLOW[mode], CALL_BOUND_S)
    assert elapsed < CALL_BOUND_S, f"one call with timeout_s={TIMEOUT_S} lasted {elapsed:.1f} s"
    assert fake.counts["token"] + fake.status_requests() <= 3
    assert result["status"].astype(str).tolist() == ["error"]


BIG = {"with a length": big_body, "close-delimited": close_delimited_body,
       "chunked": chunked_body}  # fmt: skip


@pytest.mark.parametrize("endpoint", ["status", "token"])
@pytest.mark.parametrize("mode", list(BIG))
def test_a_100_mb_answer_is_not_read_to_the_end(fake, endpoint, mode):
    _, result = poll_one(fake, endpoint, BIG[mode], 60.0)
    sent = fake.raw_bytes_sent
    assert sent < MAX_BODY, f"the client read {sent / 2**20:.0f} MiB of a 100 MiB answer"
    assert result["status"].astype(str).tolist() == ["error"]
    assert result["error_code"].tolist() == ["RESPONSE_FORMAT"]


def test_a_gzip_bomb_is_not_inflated_in_memory(fake):
    install(fake, "status", gzip_bomb)
    creds = zn.OrgCredentials(org=ORG, **fake.org_config())
    client = zn.ZohoClient(creds, timeout_s=30)
    tracemalloc.start()
    try:
        with pytest.raises(zn.ZcrmError) as err:
            client.get_status(JOB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        client.close()
    assert err.value.code == "RESPONSE_FORMAT"
    assert peak < MAX_BODY, f"{peak / 2**20:.0f} MiB allocated for a 200 MiB gzip bomb"


@pytest.mark.parametrize("endpoint", ["status", "token"])
def test_stop_aborts_a_stuck_call_whatever_its_timeout(fake, endpoint):
    """Stop ends the run within the bound even when the call's own timeout (60 s) is far."""
    install(fake, endpoint, lambda: trickle_headers(TRICKLE_S))
    creds = zn.OrgCredentials(org=ORG, **fake.org_config())
    policy = zn.PollPolicy(seed=1, timeout_s=60, max_retries=0, give_up_after_errors=1)
    handle = zn.watch({ORG: [JOB]}, {ORG: creds}, policy=policy)
    assert fake.wait_for(endpoint, 1, timeout_s=30)
    started = time.monotonic()
    handle.stop()
    elapsed, _ = run_limited(lambda: handle.wait(30), EXIT_BOUND_S, fake.drop_connections)
    assert elapsed < EXIT_BOUND_S and handle.done, f"stop took {elapsed:.1f} s"
    workers = [t for t in threading.enumerate() if t.name.startswith(f"zcrm-{ORG}")]
    for t in workers:  # the aborted call returns: no worker stays in it
        t.join(max(0.1, EXIT_BOUND_S - (time.monotonic() - started)))
    assert not any(t.is_alive() for t in workers), "a worker is still inside the call"


def test_stop_ends_a_watch_whose_call_is_stuck(fake):
    fake.status = by_job({JOB: lambda req, n: trickle_headers(TRICKLE_S)})
    creds = zn.OrgCredentials(org=ORG, **fake.org_config())
    handle = zn.watch({ORG: [JOB]}, {ORG: creds}, policy=POLICY)
    assert fake.wait_for("status", 1, timeout_s=30)
    handle.stop()
    elapsed, _ = run_limited(lambda: handle.wait(30), EXIT_BOUND_S, fake.drop_connections)
    assert elapsed < EXIT_BOUND_S and handle.done, f"stop took {elapsed:.1f} s"


# --- the command line -------------------------------------------------------------------------


def start_cli(tmp_path, fake, *extra):
    config = write_toml(tmp_path / "orgs.toml", {ORG: fake.org_config()})
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(f"job_id,org\n{JOB},{ORG}\n")
    env, _ = child_env(tmp_path)
    cmd = [sys.executable, "-m", "zcrm_notebook", "poll", str(jobs), "--config", str(config),
           "--out", str(tmp_path / "s.csv"), "--store", str(tmp_path / "s.sqlite"),
           "--no-progress", "--timeout", str(TIMEOUT_S), *extra]  # fmt: skip
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def watch_stderr(proc, marker: str) -> tuple[threading.Event, list[str]]:
    """Read the child's stderr in a thread; the event is set when a line holds ``marker``."""
    seen, lines = threading.Event(), []

    def read():
        for line in proc.stderr:
            lines.append(line)
            if marker in line:
                seen.set()

    threading.Thread(target=read, daemon=True).start()
    return seen, lines


def end_within(proc, limit_s: float) -> float | None:
    """Seconds until the child exited, or None (then it is killed)."""
    started = time.monotonic()
    try:
        proc.wait(timeout=limit_s)
        return time.monotonic() - started
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        return None


@pytest.mark.skipif(os.name != "posix", reason="signals")
@pytest.mark.parametrize("timeout", [str(TIMEOUT_S), "60"])
def test_cli_exits_soon_after_its_deadline_while_a_call_is_stuck(tmp_path, fake, timeout):
    """Whatever the call's own timeout (60 s too), the stuck call is aborted at the end."""
    fake.status = by_job({JOB: lambda req, n: trickle_headers(TRICKLE_S)})
    proc = start_cli(tmp_path, fake, "--deadline", "1", "--timeout", timeout)
    try:
        said, lines = watch_stderr(proc, "stopped watching")
        assert said.wait(30), "no 'stopped watching' line within 30 s:\n" + "".join(lines)
        took = end_within(proc, EXIT_BOUND_S)
    finally:
        fake.drop_connections()
        if proc.poll() is None:
            proc.kill()
    assert took is not None, f"still running {EXIT_BOUND_S} s after 'stopped watching (deadline)'"
    assert "Traceback" not in "".join(lines)
    assert zn.read_snapshots(tmp_path / "s.csv") is not None


@pytest.mark.skipif(os.name != "posix", reason="signals")
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_cli_exits_soon_after_a_signal_while_a_call_is_stuck(tmp_path, fake, sig, code):
    fake.status = by_job({JOB: lambda req, n: trickle_headers(TRICKLE_S)})
    proc = start_cli(tmp_path, fake)
    try:
        assert fake.wait_for("status", 1, timeout_s=30), "the CLI never called"
        proc.send_signal(sig)
        took = end_within(proc, EXIT_BOUND_S)
    finally:
        fake.drop_connections()
        if proc.poll() is None:
            proc.kill()
    assert took is not None, f"still running {EXIT_BOUND_S} s after {sig.name}"
    assert proc.returncode == code
    assert "Traceback" not in proc.stderr.read()
