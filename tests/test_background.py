"""watch(): the poll in a background thread, against the simulator on a manual clock.

Nothing here sleeps on the real clock to wait for the poller: a gate in ``on_snapshot`` (or
in the injected ``sleep``) holds the poll thread where a test needs it, and the tests wait on
events with bounded timeouts.
"""

import threading
import warnings

import pandas as pd
import pytest
from conftest import sim_orgs

from zcrm_notebook.errors import DataQualityWarning, JobInputError
from zcrm_notebook.poll import Poller
from zcrm_notebook.poll.background import Watch, _interruptible, watch
from zcrm_notebook.poll.policy import PollPolicy
from zcrm_notebook.simulator import Faults, SimClock, default_scenario
from zcrm_notebook.snapshots.frame import SNAPSHOT_COLUMNS, to_frame
from zcrm_notebook.snapshots.memory import MemoryStore

POLICY = PollPolicy(seed=1)
DENSE = PollPolicy(seed=1, min_interval_s=1.0, max_delay_s=2.0)  # enough polls for a script


def all_jobs(sim):
    return {o.name: sim.job_ids(o.name) for o in sim.orgs}


def start(sim, clock, **kw):
    kw.setdefault("policy", POLICY)
    return watch(all_jobs(sim), sim_orgs(sim), clock=clock.time, sleep=clock.sleep, **kw)


class Gate:
    """``on_snapshot`` that blocks the poll thread after ``after`` snapshots until opened."""

    def __init__(self, after=1):
        self.after, self.seen = after, 0
        self.reached, self.opened = threading.Event(), threading.Event()

    def __call__(self, snap):
        self.seen += 1
        if self.seen >= self.after:
            self.reached.set()
            assert self.opened.wait(10), "gate never opened"


def test_watch_returns_while_the_poll_runs_and_snapshots_are_live(scenario, clock):
    gate = Gate(after=3)
    h = start(scenario, clock, on_snapshot=gate)
    assert isinstance(h, Watch)
    assert gate.reached.wait(10)
    assert not h.done and h.stopped_reason is None
    live = h.snapshots
    assert list(live.columns) == SNAPSHOT_COLUMNS and len(live) == 3
    live.loc[0, "job_id"] = "0"  # a copy: the handle is not affected
    assert h.snapshots.loc[0, "job_id"] != "0"
    gate.opened.set()
    assert h.wait(timeout=30) is True
    assert h.done and h.stopped_reason == "finished"
    final = h.snapshots
    assert len(final) > 3 and final["job_id"].nunique() == 37
    # 36 jobs and one id the simulator does not know: the handle counts ids, not jobs
    assert repr(h) == f"<Watch done: 37 job ids, {len(final)} snapshots, stopped_reason='finished'>"
    pd.testing.assert_frame_equal(final, to_frame(h.poller.all_snapshots))
    pd.testing.assert_frame_equal(final, h.poller.frame())


def test_wait_times_out_while_the_poll_is_held(scenario, clock):
    gate = Gate()
    h = start(scenario, clock, on_snapshot=gate)
    assert gate.reached.wait(10)
    assert h.wait(timeout=0.05) is False
    h.stop()
    gate.opened.set()
    assert h.wait(timeout=10)
    assert h.stopped_reason == "stopped"
    assert 1 <= len(h.snapshots) < 37  # stopped early, every snapshot kept


def test_stop_ends_the_default_sleep_of_the_real_clock():
    """Real time, slow jobs (minutes), no injected sleep: once the poll thread waits between
    polls, stop() ends the run (the loop waits in slices of at most 0.5 s)."""
    with default_scenario(n_jobs=4, clock=SimClock(speed=1.0), realistic=True) as sim:
        policy = PollPolicy(min_interval_s=30, max_interval_s=60, seed=1)
        poller = Poller(all_jobs(sim), sim_orgs(sim), policy=policy)
        sleeping, own_sleep = threading.Event(), poller._sleep

        def sleep(dt):  # the default sleep, reporting that the poll thread is in it
            sleeping.set()
            own_sleep(dt)

        poller._sleep = sleep
        h = Watch(poller)
        assert sleeping.wait(30)
        h.stop()
        assert h.wait(timeout=20)  # the jobs alone would take minutes
        assert h.stopped_reason == "stopped" and h.error is None


def test_a_long_injected_sleep_is_taken_in_slices_that_stop_ends():
    stopping, slept = threading.Event(), []

    def sleep(dt):
        slept.append(dt)
        if len(slept) == 3:
            stopping.set()  # stop() while the third slice runs

    _interruptible(sleep, stopping)(30.0)
    assert slept == [0.5, 0.5, 0.5]  # not one 30 s sleep, and no slice after the stop
    stopping.clear()
    slept.clear()
    _interruptible(sleep, stopping, slice_s=0.5)(1.2)
    assert slept == pytest.approx([0.5, 0.5, 0.2])


def test_stop_interrupts_a_long_sleep_of_an_injected_clock(scenario, clock):
    """watch() hands the poller its sleep in slices: a stop during a long wait ends the run
    after the current slice, whatever the clock."""
    in_sleep, stopped, slices = threading.Event(), threading.Event(), []

    def sleep(dt):  # the injected clock's sleep; the first one waits for stop()
        slices.append(dt)
        in_sleep.set()
        assert stopped.wait(10)
        clock.sleep(dt)

    policy = PollPolicy(min_interval_s=30, max_interval_s=60, use_eta=False, seed=1)
    h = watch(all_jobs(scenario), sim_orgs(scenario), policy=policy, clock=clock.time, sleep=sleep)
    assert in_sleep.wait(10)
    h.stop()
    stopped.set()
    assert h.wait(timeout=10) and h.stopped_reason == "stopped"
    assert slices == [0.5]  # one slice of the 30 s wait, then the stop was seen


def test_an_exception_in_the_thread_is_kept_and_raised_by_wait(scenario, clock):
    def boom(snap):
        raise RuntimeError("callback failed")

    h = start(scenario, clock, on_snapshot=boom)
    with pytest.raises(RuntimeError, match="callback failed"):
        h.wait(timeout=10)
    assert h.done and h.stopped_reason == "error"
    assert isinstance(h.error, RuntimeError)
    with pytest.raises(RuntimeError):  # raised again on every call
        h.wait(0)
    assert "done" in repr(h)


def test_bad_job_ids_raise_at_once_and_start_no_thread(scenario, clock):
    before = {t.name for t in threading.enumerate()}
    with pytest.raises(JobInputError, match="12x"):
        watch({"us-org": ["12x"]}, sim_orgs(scenario), clock=clock.time, sleep=clock.sleep)
    assert {t.name for t in threading.enumerate()} == before


def test_memory_store_resumes_a_stopped_run(scenario, clock):
    store = MemoryStore()
    gate = Gate(after=60)  # about half the run
    h1 = start(scenario, clock, store=store, on_snapshot=gate)
    assert gate.reached.wait(10)
    h1.stop()
    gate.opened.set()
    assert h1.wait(timeout=10) and h1.stopped_reason == "stopped"
    first = h1.snapshots
    assert len(store) == len(first) >= 60
    h2 = start(scenario, clock, store=store)
    assert h2.wait(timeout=30) and h2.stopped_reason == "finished"
    both = h2.snapshots
    pd.testing.assert_frame_equal(both.iloc[: len(first)], first)  # history kept, in order
    done_before = set(first.loc[first["status"].isin(["completed", "failed"]), "job_id"])
    again = both.iloc[len(first) :]
    assert done_before and not (set(again["job_id"]) & done_before)  # finished: not re-polled
    last = both.groupby("job_id", observed=True)["status"].last().astype(str)
    assert set(last.drop(scenario.unknown_job_id)) <= {"completed", "failed"}


def test_keyboard_interrupt_while_waiting_stops_the_run(scenario, clock):
    gate = Gate()
    h = start(scenario, clock, on_snapshot=gate)
    assert gate.reached.wait(10)
    real_wait = h._done.wait
    calls = []

    def interrupted_wait(timeout=None):
        calls.append(timeout)
        if len(calls) == 1:
            gate.opened.set()
            raise KeyboardInterrupt
        return real_wait(timeout)

    h._done.wait = interrupted_wait
    assert h.wait() is True
    assert h.stopped_reason == "interrupted" and h.poller.stopped_reason == "stopped"
    assert len(h.snapshots) >= 1


@pytest.mark.filterwarnings("always::zcrm_notebook.errors.DataQualityWarning")
def test_warnings_of_the_poll_thread_are_kept_not_printed(clock, capfd):
    faults = Faults(script={})
    with default_scenario(n_jobs=4, clock=clock, faults=faults) as sim:
        jid = sim.job_ids()[0]
        faults.script[jid] = ["ok", "ok", "ok", "backwards"]  # it has converted leads by then
        h = start(sim, clock, policy=DENSE)
        assert h.wait(timeout=30) and h.stopped_reason == "finished"
    assert [w.category for w in h.warnings] == [DataQualityWarning]
    assert "went backwards" in str(h.warnings[0].message) and jid in str(h.warnings[0].message)
    assert "went backwards" not in capfd.readouterr().err
    with pytest.warns(UserWarning, match="main thread"):  # other threads: as before
        warnings.warn("main thread", UserWarning, stacklevel=1)


def test_the_watch_docstring_names_every_attribute_the_readme_lists():
    import re
    from pathlib import Path

    import zcrm_notebook as zn

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    handle = re.search(r"returns a handle: (.+?)\n\n", readme, re.S)[1]
    listed = re.findall(r"`(\.\w+)(?:\([^)]*\))?`", handle)
    assert ".warnings" in listed
    assert [a for a in listed if a not in zn.watch.__doc__] == []
