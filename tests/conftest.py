"""Shared fixtures: credentials, a manual clock, the simulator on loopback."""

from __future__ import annotations

import ipaddress
import signal
import socket
import threading

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")

# A test run started in the background by a non-interactive shell (`.ci/run &`, cron) inherits
# SIGINT ignored, and so would every CLI it starts: the tests that press Ctrl-C on a child
# would then wait for a process that never hears it. Children of a process that handles
# SIGINT start with the default disposition again.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

from zcrm_notebook.auth import (
    OrgCredentials,  # noqa: E402
    tokens,  # noqa: E402
)

JOB = "3652397000009835020"


def make_creds(org="us-org", dc="us", **kw) -> OrgCredentials:
    base = dict(
        client_id="1000.CLIENTID",
        client_secret="s3cr3t-client-secret",
        refresh_token="1000.refresh.token.value",
    )
    return OrgCredentials(org=org, dc=dc, **{**base, **kw})


_real_connect = socket.socket.connect


def _is_loopback(host: str) -> bool:
    return host == "localhost" or ipaddress.ip_address(host.split("%")[0]).is_loopback


def _loopback_only_connect(sock, address):
    host = address[0] if isinstance(address, tuple) else None
    inet = sock.family in (socket.AF_INET, socket.AF_INET6)
    if inet and host is not None and not _is_loopback(host):
        raise OSError(f"test tried to reach {host}: tests may only use loopback")
    return _real_connect(sock, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Any connection from the test process to a non-loopback address fails loudly."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only_connect)


@pytest.fixture(autouse=True)
def _private_token_store(tmp_path, monkeypatch):
    """No test reads or writes the real user's token store."""
    monkeypatch.setenv("ZCRM_NOTEBOOK_TOKEN_STORE", str(tmp_path / "tokens.json"))


@pytest.fixture
def fresh_token_caches():
    """Empty the process-wide access-token caches before and after the test, so no token
    (or token request count) carries over between tests. Use with
    ``pytestmark = pytest.mark.usefixtures("fresh_token_caches")``."""
    tokens._caches.clear()
    yield
    tokens._caches.clear()


@pytest.fixture
def creds():
    return make_creds()


@pytest.fixture
def two_orgs():
    return {"us-org": make_creds("us-org", "us"), "eu-org": make_creds("eu-org", "eu")}


def overlapping(sim, n=2, timeout_s=10.0):
    """Make the first ``n`` CRM calls ``sim`` answers wait for each other (at most
    ``timeout_s`` real seconds) while they count as in flight: a client that really sends
    ``n`` calls at once is then seen doing so, whatever the threads' timing."""
    barrier, handle = threading.Barrier(n, timeout=timeout_s), sim.handle
    arrived = iter(range(n))

    def held(method, target, headers, body):
        answer, done = handle(method, target, headers, body)
        if "/crm/" in target and next(arrived, None) is not None:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass  # fewer than n calls at once: the test's own assertion says so
        return answer, done

    sim.handle = held
    return sim


def sim_orgs(sim, names=None):
    """OrgCredentials for the simulator's orgs (the path a TOML config takes)."""
    names = names or [o.name for o in sim.orgs]
    return {n: OrgCredentials(org=n, **sim.org_config(n)) for n in names}


@pytest.fixture
def clock():
    from zcrm_notebook.simulator import SimClock

    return SimClock()


@pytest.fixture
def scenario(clock):
    """The simulator's default scenario (4 DCs, 36 jobs + 1 unknown id), manual clock."""
    from zcrm_notebook.simulator import default_scenario

    with default_scenario(clock=clock) as sim:
        yield sim


@pytest.fixture(scope="session")
def realistic_run():
    """The snapshot frame of the simulator's realistic scenario polled to the end on a
    manual clock (jobs queue up to 5 simulated minutes, some pause; one unknown id)."""
    import zcrm_notebook as zn
    from zcrm_notebook.simulator import SimClock, default_scenario

    clock = SimClock()
    with default_scenario(clock=clock, realistic=True) as sim:
        jobs = {o.name: sim.job_ids(o.name) for o in sim.orgs}
        policy = zn.PollPolicy(seed=1)
        return zn.poll_jobs(jobs, sim_orgs(sim), policy=policy, clock=clock.time, sleep=clock.sleep)


def prefixes(df, seconds=(0, 30, 120, 190, 215, 300)):
    """The frame as it stood ``seconds`` after its first poll, then the whole frame."""
    start = df["polled_at"].min()
    cuts = [df[df["polled_at"] <= start + pd.Timedelta(seconds=s)] for s in seconds]
    return [cut.reset_index(drop=True) for cut in cuts] + [df]
