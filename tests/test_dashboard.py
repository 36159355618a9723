"""The dashboard, built without being displayed and driven through its handlers.

The simulator runs on a manual clock; a test that needs the poll held mid-run gates the
injected ``sleep``. Nothing sleeps on the real clock to wait for the poller.
"""

import asyncio
import contextvars
import gc
import html
import re
import subprocess
import sys
import threading
import warnings

import ipywidgets
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from conftest import prefixes, sim_orgs
from helpers_figures import cut_tick_labels, texts_crossing_lines
from helpers_frames import JOB_A, JOB_B, JOB_C, S, snap
from matplotlib.figure import Figure

from zcrm_notebook.analysis.summary import summarize_jobs
from zcrm_notebook.dashboard.view import attention_html, leads_text, not_converted_html
from zcrm_notebook.dashboard.widget import Dashboard, attention_jobs
from zcrm_notebook.errors import ConfigError, ZcrmError
from zcrm_notebook.poll import Poller
from zcrm_notebook.poll.policy import PollPolicy
from zcrm_notebook.snapshots.csvfile import read_snapshots, write_snapshots_csv
from zcrm_notebook.snapshots.frame import to_frame
from zcrm_notebook.snapshots.memory import MemoryStore
from zcrm_notebook.snapshots.store import SnapshotStore

POLICY = PollPolicy(seed=1)
N_JOBS = 37  # the default scenario's 36 jobs and one unknown id


def jobs_of(sim):
    return {o.name: sim.job_ids(o.name) for o in sim.orgs}


def make(sim, clock, sleep=None, **kw):
    kw.setdefault("policy", POLICY)
    return Dashboard(
        jobs_of(sim), sim_orgs(sim), clock=clock.time, sleep=sleep or clock.sleep, **kw
    )


def run_to_end(dash):
    dash.start_button.click()
    assert dash.handle is not None
    assert dash.wait(timeout=30)


def test_a_new_dashboard_shows_every_job_waiting(scenario, clock):
    dash = make(scenario, clock)
    assert isinstance(dash.widget, ipywidgets.VBox)
    assert "not started" in dash.status.value
    assert dash.status_counts["not polled"] == N_JOBS
    assert dash.overall.value == 0.0
    assert sorted(dash.group_bars) == ["au", "eu", "in", "us"]
    assert all(bar.value == 0.0 for bar in dash.group_bars.values())
    assert not dash.start_button.disabled and dash.stop_button.disabled
    assert bytes(dash.image.value).startswith(b"\x89PNG")
    assert dash.snapshots.empty and dash.handle is None
    assert "application/vnd.jupyter.widget-view+json" in dash._repr_mimebundle_()
    # user trial 7: "No job needs attention." before any poll read as an all-clear
    assert "Nothing polled yet" in dash.attention_html.value
    assert "No job needs attention" not in dash.attention_html.value


def test_start_polls_in_the_background_and_the_bars_reach_100(scenario, clock):
    dash = make(scenario, clock)
    run_to_end(dash)
    assert dash.handle.stopped_reason == "finished"
    assert "finished" in dash.status.value
    assert dash.overall.value == 1.0
    assert "100%" in dash.overall_text.value and "failed" in dash.overall_text.value
    assert {k: b.value for k, b in dash.group_bars.items()} == dict.fromkeys(
        ["au", "eu", "in", "us"], 1.0
    )
    counts = dash.status_counts
    assert counts["not polled"] == 0 and counts["error"] == 1 and counts["failed"] == 1
    assert counts["completed"] + counts["failed"] + counts["error"] == N_JOBS
    reasons = list(dash.attention["reason"])
    assert reasons[0] == "job failed" and reasons[1] == "no status (INVALID_DATA)"
    assert dash.attention.loc[1, "job_id"] == scenario.unknown_job_id
    assert "failed" in reasons[2] and "zcrm-attention-table" in dash.attention_html.value
    df = dash.snapshots
    assert df["job_id"].nunique() == N_JOBS and len(df) == dash.handle.n_snapshots
    # trial 6: Start stayed the bright primary button though a Start polls nothing new
    assert dash.start_button.disabled and dash.stop_button.disabled
    assert dash.start_button.tooltip == "every job is final: nothing left to poll"


def test_stop_button_stops_polling_and_start_resumes(scenario, clock):
    opened = threading.Event()

    def gated_sleep(dt):  # holds the poll thread at its first wait
        assert opened.wait(10)
        clock.sleep(dt)

    dash = make(scenario, clock, sleep=gated_sleep)
    dash.start_button.click()
    assert dash.running and dash.start_button.disabled and not dash.stop_button.disabled
    assert dash.interval.disabled
    # one clock for every time of the status line: the poll's (here the simulator's)
    since = pd.Timestamp(clock.time(), unit="s", tz="UTC").strftime("%H:%M:%S")
    assert f"polling since {since} UTC" in dash.status.value
    assert "by the clock given (clock=), not wall time" in dash.status.value
    assert " s ago" not in dash.status.value
    # trial 6: a ~1000 px output wrapped inside a phrase ("... not wall" / "time")
    phrase = "<span style='white-space:nowrap'>{}</span>"
    nowrap = phrase.format("times by the clock given (clock=), not wall time")
    assert dash.status.value == " · ".join([phrase.format(f"polling since {since} UTC"), nowrap])
    assert "white-space:nowrap" in dash.title.value
    assert dash.widget.children[0].layout.flex_flow == "row wrap"  # status below, if narrow
    dash.stop_button.click()
    assert "stopping" in dash.status.value
    opened.set()
    assert dash.wait(timeout=10)
    assert dash.handle.stopped_reason == "stopped"
    assert "stopped watching" in dash.status.value
    assert dash.overall.value < 1.0
    first = dash.snapshots
    assert len(first) > 0 and first["job_id"].nunique() <= N_JOBS
    assert not dash.start_button.disabled and dash.start_button.tooltip == ""  # not final
    run_to_end(dash)  # resumes from the dashboard's in-memory store
    assert dash.handle.stopped_reason == "finished" and dash.overall.value == 1.0
    both = dash.snapshots
    assert both.iloc[: len(first)].equals(first)


def test_polling_since_names_the_first_start_and_the_restart(scenario, clock):
    # trial 6: after Stop, Start it showed the new Start's time; the snapshot count is of both
    gate = threading.Event()

    def gated_sleep(dt):  # holds the poll thread at each wait until the gate opens
        assert gate.wait(10)
        clock.sleep(dt)

    def hms() -> str:
        return pd.Timestamp(clock.time(), unit="s", tz="UTC").strftime("%H:%M:%S")

    dash = make(scenario, clock, sleep=gated_sleep)
    dash.start_button.click()
    first = hms()
    assert f"polling since {first} UTC<" in dash.status.value  # no "restarted" yet
    dash.stop_button.click()
    gate.set()
    assert dash.wait(timeout=10)
    gate.clear()
    clock.sleep(310)
    dash.start_button.click()
    assert f"polling since {first} UTC (restarted {hms()})" in dash.status.value
    dash.stop_button.click()
    gate.set()
    assert dash.wait(timeout=10)


def test_interval_bounds_go_into_the_policy(scenario, clock):
    dash = make(scenario, clock)
    dash.interval.value = (2.0, 40.0)
    run_to_end(dash)
    policy = dash.handle.poller.policy
    assert (policy.min_interval_s, policy.delay_s) == (2.0, 40.0)
    assert policy.seed == POLICY.seed


def test_filter_and_grouping_change_what_is_shown(scenario, clock):
    dash = make(scenario, clock)
    run_to_end(dash)
    dash.filter.value = "eu"
    # trial 6: an "eu" group bar under the "eu" top bar repeated its numbers
    assert dash.group_bars == {} and dash.group_box.children == ()
    assert dash.overall.description == "eu"  # not "all leads" under a filter
    eu_jobs = len(scenario.job_ids("eu-org"))
    assert re.sub(r"<[^>]+>", "", dash.overall_text.value).endswith(f"; {eu_jobs} jobs")
    assert sum(dash.status_counts.values()) == eu_jobs
    assert set(dash.view()["dc"]) == {"eu"} and set(dash.attention["dc"]) <= {"eu"}
    assert len(dash.snapshots["dc"].unique()) == 4  # the data is not filtered
    dash.group_by.value = "org"
    assert dash.filter.value == ""
    assert [v for _, v in dash.filter.options][1:] == ["au-org", "eu-org", "in-org", "us-org"]
    assert sorted(dash.group_bars) == ["au-org", "eu-org", "in-org", "us-org"]
    assert all(bar.value == 1.0 for bar in dash.group_bars.values())


def test_export_writes_the_report_bundle_of_the_view(scenario, clock, tmp_path):
    dash = make(scenario, clock)
    run_to_end(dash)
    dash.filter.value = "in"
    dash.export_dir.value = str(tmp_path / "report")
    dash.export_button.click()
    files = sorted(p.name for p in (tmp_path / "report").iterdir())
    assert "snapshots.csv" in files and "overview.png" in files and "README.md" in files
    assert str((tmp_path / "report").resolve()) in dash.export_out.value
    assert "snapshots.csv" in dash.export_out.value and "dc = in" in dash.export_out.value
    exported = read_snapshots(tmp_path / "report" / "snapshots.csv")
    assert set(exported["dc"]) == {"in"} and len(exported) == len(dash.view())
    assert "figures per data center" in dash.export_out.value
    dash.group_by.value = "org"  # the export follows the grouping too
    dash.filter.value = "in-org"
    dash.export_button.click()
    assert "org = in-org, figures per org" in dash.export_out.value
    readme = (tmp_path / "report" / "README.md").read_text()
    assert "over time per org" in readme and "over time per data center" not in readme
    assert dash.start() is not None and dash.wait(timeout=30)  # a new poll (resumed)
    assert dash.export_out.value == ""  # the export of before it no longer says what is shown


def test_export_outcomes_show_next_to_the_button_one_at_a_time(scenario, clock, tmp_path):
    dash = make(scenario, clock)
    run_to_end(dash)
    status = dash.status.value
    (tmp_path / "a-file").write_text("x")
    dash.export_dir.value = str(tmp_path / "a-file" / "report")
    dash.export_button.click()  # must not raise out of the handler
    err = dash.export_out.value
    assert "not exported" in err and "cannot be created" in err and "a-file" in err
    assert "Errno" not in err and "\n" not in err and "<ul>" not in err
    assert dash.status.value == status  # the status line is about polling only
    dash.export_dir.value = str(tmp_path / "ok")
    dash.export_button.click()
    assert "Exported" in dash.export_out.value and "not exported" not in dash.export_out.value
    (tmp_path / "ok" / "mine.txt").write_text("x")
    dash.export_button.click()  # the previous success message does not stay
    assert "not exported" in dash.export_out.value and "Exported" not in dash.export_out.value
    assert "mine.txt" in dash.export_out.value
    assert "pass overwrite=True" not in dash.export_out.value  # a button cannot
    assert "type one in the box" in dash.export_out.value
    assert dash.status.value == status


def test_export_never_replaces_the_users_files(scenario, clock, tmp_path, monkeypatch):
    dash = make(scenario, clock)
    run_to_end(dash)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "jobs.csv").write_text("my jobs")
    dash.export_dir.value = str(tmp_path / "mine")
    dash.export_button.click()
    assert "jobs.csv" in dash.export_out.value and str(tmp_path / "mine") in dash.export_out.value
    assert (tmp_path / "mine" / "jobs.csv").read_text() == "my jobs"
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["jobs.csv"]
    monkeypatch.chdir(tmp_path)  # the kernel's cwd, e.g. a repository with a README.md
    (tmp_path / "README.md").write_text("# my repo")
    for blank in ("", "   "):
        dash.export_dir.value = blank
        dash.export_button.click()
        assert "no export folder" in dash.export_out.value
    assert (tmp_path / "README.md").read_text() == "# my repo"
    dash.export_dir.value = "  spaced  "  # spaces around the name are ignored
    dash.export_button.click()
    assert (tmp_path / "spaced" / "overview.png").is_file()
    with pytest.raises(ConfigError, match="jobs.csv, not written by"):
        dash.export(str(tmp_path / "mine"), overwrite=True)  # not even from code
    assert (tmp_path / "mine" / "jobs.csv").read_text() == "my jobs"
    (tmp_path / "mine" / "jobs.csv").rename(tmp_path / "mine" / "my-jobs.csv")
    files = dash.export(str(tmp_path / "mine"), overwrite=True)  # beside the user's file
    assert files["jobs"] == tmp_path / "mine" / "jobs.csv"
    assert (tmp_path / "mine" / "my-jobs.csv").read_text() == "my jobs"


def test_exporting_nothing_says_so(scenario, clock, tmp_path):
    dash = make(scenario, clock)
    dash.export_dir.value = str(tmp_path / "report")
    dash.export_button.click()
    assert "nothing to export" in dash.export_out.value
    assert not (tmp_path / "report").exists()


def test_500_refreshes_keep_one_figure_and_no_new_widgets(scenario, clock):
    p = Poller(
        jobs_of(scenario), sim_orgs(scenario), policy=POLICY, clock=clock.time, sleep=clock.sleep
    )
    snaps = p.run_snapshots()
    store = MemoryStore(snaps[:40])
    dash = make(scenario, clock, store=store, figure_every_s=0.0)
    fig, fignums = dash.figure, plt.get_fignums()
    gc.collect()  # figures left over by earlier tests must not count
    figures = sum(isinstance(o, Figure) for o in gc.get_objects())
    widgets = len(ipywidgets.widgets.widget._instances)
    redraws, step, changes = dash._fig.redraws, (len(snaps) - 40) // 20 + 1, 0
    for i in range(500):
        if i % 25 == 0 and len(store) < len(snaps):  # new snapshots: all is recomputed
            n = len(store)
            store.extend(snaps[n : n + step])
            changes += 1
        dash.refresh()
    assert len(store) == len(snaps) and dash.overall.value == 1.0
    assert dash._fig.redraws - redraws == changes >= 15
    assert plt.get_fignums() == fignums
    assert dash.figure is fig and len(fig.axes) == 2
    assert [v for v in vars(dash).values() if isinstance(v, Figure)] == [fig]
    gc.collect()
    assert sum(isinstance(o, Figure) for o in gc.get_objects()) == figures
    assert len(ipywidgets.widgets.widget._instances) == widgets
    artists = [len(ax.get_children()) for ax in fig.axes]
    dash.refresh(force=True)
    assert [len(ax.get_children()) for ax in fig.axes] == artists  # redraws do not pile up


def test_the_figure_caption_says_what_moment_it_shows_when_the_bars_are_newer(
    scenario, clock, monkeypatch
):
    p = Poller(
        jobs_of(scenario), sim_orgs(scenario), policy=POLICY, clock=clock.time, sleep=clock.sleep
    )
    snaps = p.run_snapshots()
    store = MemoryStore(snaps[:40])
    dash = make(scenario, clock, store=store, figure_every_s=1e9)
    first = dash.snapshots["polled_at"].max().strftime("%H:%M:%S")
    assert dash.figure_caption.value == f"<small>figure: answers up to {first} UTC</small>"
    monkeypatch.setattr(Dashboard, "running", property(lambda self: True))  # mid-poll
    redraws = dash._fig.redraws
    store.extend(snaps[40:])
    dash.refresh()  # the bars follow at once; the figure waits for figure_every_s
    newest = dash.snapshots["polled_at"].max().strftime("%H:%M:%S")
    assert dash._fig.redraws == redraws and dash.overall.value == 1.0 and newest > first
    caption = dash.figure_caption.value
    assert f"figure: answers up to {first} UTC (redrawn every 1e+09 s" in caption
    assert f"the bars and counts above are newer, up to {newest} UTC)" in caption
    dash.refresh(force=True)
    assert dash.figure_caption.value == f"<small>figure: answers up to {newest} UTC</small>"


def test_browse_a_past_run_from_a_store_or_a_csv(scenario, clock, tmp_path):
    store = SnapshotStore(tmp_path / "run.sqlite")
    dash = make(scenario, clock, store=store)
    run_to_end(dash)
    live = dash.snapshots
    store.close()
    write_snapshots_csv(live, tmp_path / "s.csv")
    for past in (
        Dashboard.from_store(tmp_path / "run.sqlite"),
        Dashboard.from_csv(tmp_path / "s.csv", tz="Europe/Paris"),
    ):
        assert "browsing" in past.status.value
        assert past.start_button.disabled and past.stop_button.disabled
        assert past.start() is None and not past.running
        assert past.overall.value == 1.0 and sorted(past.group_bars) == ["au", "eu", "in", "us"]
        assert past.snapshots.equals(live)
        hidden = [past.start_button, past.stop_button, past.interval]
        assert all(w.layout.display == "none" for w in hidden)
    assert "Europe/Paris" in past.status.value
    assert all(w.layout.display != "none" for w in [dash.start_button, dash.interval])


@pytest.mark.parametrize("opener", ["from_csv", "from_store"])
def test_browsing_a_folder_or_a_missing_file_is_a_config_error(tmp_path, opener):
    with pytest.raises(ConfigError, match="is a folder"):
        getattr(Dashboard, opener)(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        getattr(Dashboard, opener)(tmp_path / "missing")


def test_widgets_change_on_the_main_thread_only_and_the_ticker_refreshes(scenario, clock):
    threads, original = set(), ipywidgets.Widget.notify_change

    def spy(self, change):
        threads.add(threading.current_thread().name)
        return original(self, change)

    async def main():
        dash = make(scenario, clock, refresh_s=0.01)
        refreshes = []
        real = dash.refresh
        dash.refresh = lambda force=False: refreshes.append(force) or real(force)
        dash.start()  # inside a running loop: starts the refresh task
        assert dash._task is not None
        assert await dash.wait_async(timeout=30)
        await asyncio.wait_for(dash._task, 10)  # the task ends after a last full refresh
        return dash, refreshes

    ipywidgets.Widget.notify_change = spy
    try:
        dash, refreshes = asyncio.run(main())
    finally:
        ipywidgets.Widget.notify_change = original
    assert threads == {threading.main_thread().name}
    assert refreshes and refreshes[-1] is True
    assert dash.overall.value == 1.0 and "finished" in dash.status.value


def test_missing_ipywidgets_says_which_extra_to_install():
    code = (
        "import sys; sys.modules['ipywidgets'] = None\n"
        "try:\n    import zcrm_notebook.widgets\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "pip install 'zcrm-notebook[notebook]'" in out.stdout


JOB_D, JOB_E, JOB_F, JOB_G = (JOB_A[:-2] + n for n in ("30", "31", "32", "33"))


def attention_frame():
    """A failed, B no status, C stalled, D done with a failed lead, E and G running (E at
    1/20 of its leads per minute, G at 5/10), F queued (scheduled, 0 %)."""
    return to_frame(
        [
            snap(0, JOB_A, S.IN_PROGRESS, (10, 2, 8, 0)),
            snap(0, JOB_B, S.ERROR, code="INVALID_DATA"),
            snap(0, JOB_C, S.IN_PROGRESS, (50, 10, 40, 0)),
            snap(0, JOB_D, S.IN_PROGRESS, (4, 1, 3, 0)),
            snap(0, JOB_E, S.IN_PROGRESS, (20, 2, 18, 0)),
            snap(0, JOB_F, S.SCHEDULED, (5, 0, 5, 0)),
            snap(0, JOB_G, S.IN_PROGRESS, (10, 1, 9, 0)),
            snap(60, JOB_A, S.FAILED, (10, 2, 0, 8)),
            snap(60, JOB_C, S.IN_PROGRESS, (50, 10, 40, 0)),
            snap(60, JOB_D, S.COMPLETED, (4, 3, 0, 1)),
            snap(60, JOB_E, S.IN_PROGRESS, (20, 3, 17, 0)),
            snap(60, JOB_G, S.IN_PROGRESS, (10, 6, 4, 0)),
        ]
    )


def slowest_of(df, **kw) -> list[str]:
    table = attention_jobs(summarize_jobs(df), max_rows=20, **kw)
    return table.loc[table["reason"] == "slowest", "job_id"].tolist()


def test_queued_jobs_are_never_the_slowest():
    df = attention_frame()  # C (stalled), E, G run; F is queued at 0 %
    assert slowest_of(df, slowest=5) == [JOB_C]  # at most half of the 3 running jobs
    more = [
        snap(t, JOB_A[:-2] + f"4{i}", S.IN_PROGRESS, (10, i + t // 60, 10 - i - t // 60, 0))
        for i in range(3)
        for t in (0, 60)
    ]
    df = pd.concat([df, to_frame(more)], ignore_index=True)  # 6 running: 3 may be listed
    assert slowest_of(df, slowest=5) == [JOB_C, JOB_E, JOB_A[:-2] + "40"]  # lowest rate first
    assert JOB_F not in slowest_of(df, slowest=5)


def test_attention_table_headers_are_words_in_padded_cells():
    text = attention_html(attention_jobs(summarize_jobs(attention_frame())))
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", text)
    assert heads == ["job id", "org", "data center", "status", "processed", "failed leads", "why"]
    assert text.count("padding:") == text.count("<td ") + text.count("<th ")
    assert "in progress" in text and "in_progress" not in text and "no status" in text


def test_attention_lists_the_most_urgent_jobs_first():
    df = attention_frame()
    job_d, job_e = JOB_D, JOB_E
    table = attention_jobs(summarize_jobs(df, stalled_after_s=60), max_rows=5, slowest=1)
    assert list(table["job_id"]) == [JOB_A, JOB_B, JOB_C, job_e, job_d]
    assert list(table["reason"]) == [
        "job failed",
        "no status (INVALID_DATA)",
        "stalled",
        "slowest",
        "1 lead failed (25.0% of processed)",  # D: 3 converted, 1 failed
    ]
    assert list(table.columns) == [
        "job_id",
        "org",
        "dc",
        "status",
        "progress",
        "failed_count",
        "reason",
    ]
    two = attention_jobs(summarize_jobs(df), max_rows=2)
    assert two["job_id"].tolist() == [JOB_A, JOB_B]
    all_ = attention_jobs(summarize_jobs(df), max_rows=100)
    assert two.attrs["more"] == len(all_) - 2 > 0 and all_.attrs["more"] == 0
    assert f"... and {len(all_) - 2} more job" in attention_html(two)  # the cut is said
    assert "more job" not in attention_html(all_)


def test_failed_leads_rows_say_the_share_they_are_ordered_by(realistic_run):
    # own trial of notebook 02: the rows read "2, 2, 1, 5, 1, 2, 5, 2 leads failed", ordered
    # by a failure rate the table did not show
    table = attention_jobs(summarize_jobs(realistic_run), max_rows=100)
    rows = table[table["reason"].str.contains("leads? failed", regex=True)]
    shares = rows["reason"].str.extract(r"\(([\d.]+)% of processed\)")[0].astype(float)
    assert len(rows) >= 3 and shares.notna().all()
    assert shares.is_monotonic_decreasing and shares.nunique() > 1


def test_close_removes_the_widgets_and_closes_a_store_file_it_opened(scenario, clock, tmp_path):
    import sqlite3

    from zcrm_notebook.snapshots.store import read_store

    dash = make(scenario, clock, store=tmp_path / "run.sqlite")
    run_to_end(dash)
    ids = {w.model_id for w in [dash.widget, dash.start_button, *dash.group_bars.values()]}
    dash.close()
    assert not ids & set(ipywidgets.widgets.widget._instances)
    with pytest.raises(sqlite3.ProgrammingError):
        dash._store.read()
    assert read_store(tmp_path / "run.sqlite").equals(dash.snapshots)


@pytest.mark.filterwarnings("always::zcrm_notebook.errors.DataQualityWarning")
def test_warnings_of_the_poll_are_shown_in_the_dashboard(clock):
    from zcrm_notebook.simulator import Faults, default_scenario

    faults = Faults(script={})
    with default_scenario(n_jobs=4, clock=clock, faults=faults) as sim:
        # the 4th answer: the job has converted some leads by then (polled every <= 2 s)
        faults.script[sim.job_ids()[0]] = ["ok", "ok", "ok", "backwards"]
        dash = make(sim, clock, policy=PollPolicy(seed=1, min_interval_s=1.0, max_delay_s=2.0))
        run_to_end(dash)
    assert len(dash.handle.warnings) == 1
    assert "1 warning from the poll" in dash.attention_html.value
    assert "went backwards" in dash.attention_html.value


def test_stop_then_start_in_one_cell_restarts(scenario, clock):
    opened = threading.Event()

    def gated_sleep(dt):
        assert opened.wait(10)
        clock.sleep(dt)

    dash = make(scenario, clock, sleep=gated_sleep)
    dash.stop_wait_s = 60.0  # the real bound is 2 s: a loaded machine may need more
    first = dash.start()
    dash.stop()
    opened.set()  # the poll thread can now end; start() waits for it
    second = dash.start()
    assert second is not None and second is not first and dash.handle is second
    assert first.done and first.stopped_reason == "stopped"
    assert dash.wait(timeout=30) and second.stopped_reason == "finished"


def test_start_says_so_when_the_poll_is_still_stopping(scenario, clock):
    opened, sleeping = threading.Event(), threading.Event()

    def gated_sleep(dt):
        sleeping.set()
        assert opened.wait(10)
        clock.sleep(dt)

    dash = make(scenario, clock, sleep=gated_sleep)
    dash.stop_wait_s = 0.01  # the real bound is 2 s
    first = dash.start()
    assert sleeping.wait(10)  # the poll is stuck in a sleep that cannot end yet
    dash.stop()
    with pytest.raises(ZcrmError, match="still stopping"):
        dash.start()
    assert dash.handle is first
    opened.set()
    assert dash.wait(timeout=10) and first.stopped_reason == "stopped"


def test_interrupting_wait_async_prints_one_line(scenario, clock, capsys):
    opened = threading.Event()

    def gated_sleep(dt):
        assert opened.wait(10)
        clock.sleep(dt)

    dash = make(scenario, clock, sleep=gated_sleep)

    async def main():
        dash.start()
        task = asyncio.ensure_future(dash.wait_async())
        await asyncio.sleep(0)  # let the task reach its first await
        task.cancel()  # what a kernel interrupt does to the awaiting cell
        return await task

    try:
        assert asyncio.run(main()) is False
    finally:
        opened.set()
        dash.stop()
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "stopped waiting" in out and "dash.stop()" in out
    assert dash.wait(timeout=10)


def test_a_refresh_on_realistic_data_emits_no_warning(realistic_run):
    for df in prefixes(realistic_run):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            dash = Dashboard.from_frame(df, tz="Europe/Paris")
            dash.group_by.value = "org"
            assert dash.refresh(force=True) and bytes(dash.image.value).startswith(b"\x89PNG")
            dash.close()


def test_no_tick_label_is_cut_off_when_the_failure_axis_grows():
    """The layout is kept between refreshes of one view: a failure-rate axis that grows
    (a wider last tick label at its right edge) must still fit in the figure."""
    from zcrm_notebook.dashboard.core import FigureImage

    dcs = ["au", "eu", "in", "us"]
    before = [snap(0, JOB_A, S.IN_PROGRESS, (60, 59, 0, 1), dc=dc, org=f"{dc}-org") for dc in dcs]
    after = [*before, snap(15, JOB_A, S.COMPLETED, (60, 56, 0, 4), dc="eu", org="eu-org")]
    image = FigureImage()
    for rows in (before, after):
        image.render(to_frame(rows), by="dc", tz="UTC", layout_key=("dc",))  # one layout
        assert not cut_tick_labels(image.figure)
    assert [t.get_text() for t in image.ax_failure.get_xticklabels()][-1] == "35%"


def test_leads_text_rounds_down_and_counts_are_pluralised(tmp_path):
    assert "(99%)" in leads_text(909, 911, 0) and "(100%)" in leads_text(911, 911, 0)
    assert "2 failed (2.4% of processed)" in leads_text(85, 246, 2)  # not 0.8 % of all
    assert "2 failed lead attempts (2.4%" in leads_text(85, 246, 2, "lead attempts")
    # own trial of notebook 04: "(20.6% of" / "processed)" wrapped inside the bold phrase
    failed = re.search(r"<b style='([^']*)'>([^<]*)</b>", leads_text(68, 68, 14, "lead attempts"))
    assert "white-space:nowrap" in failed[1]
    assert failed[2] == "14 failed lead attempts (20.6% of processed)"
    df = to_frame([snap(0, JOB_A, S.IN_PROGRESS, (10, 2, 8, 0), dc="eu", org="eu-org")])
    past = Dashboard.from_frame(df)
    one = re.sub(r"<[^>]+>", "", past.overall_text.value)
    assert one.endswith("; 1 job")  # one data center: no group bar
    assert past.overall.description == "eu" and past.group_box.children == ()
    assert "1 snapshot," in past.status.value and repr(past).endswith(": 1 snapshot>")
    past.export(tmp_path / "r")
    assert "Exported 1 snapshot " in past.export_out.value


def test_a_job_id_with_no_status_is_not_counted_as_a_job_of_its_group():
    # user trial: the us bar said "10 jobs" for 9 jobs and the id Zoho does not know
    df = to_frame(
        [
            snap(0, JOB_A, S.COMPLETED, (10, 10, 0, 0), org="us-org"),
            snap(1, JOB_B, S.ERROR, code="INVALID_DATA", org="us-org"),
            snap(2, JOB_C, S.COMPLETED, (5, 5, 0, 0), dc="eu", org="eu-org"),
        ]
    )
    dash = Dashboard.from_frame(df)
    rows = {row.children[0].description: row.children[1].value for row in dash.group_box.children}
    # the job count is one piece: a narrow output never breaks "(+1 with no / status)"
    nowrap = "<span style='white-space:nowrap'>{}</span>"
    assert rows["us"].endswith("; " + nowrap.format("1 job (+1 with no status)"))
    assert re.sub(r"<[^>]+>", "", rows["eu"]).endswith("; 1 job"), rows
    dash.filter.value = "us"  # one group shown: its text is the top bar's
    assert re.sub(r"<[^>]+>", "", dash.overall_text.value).endswith("; 1 job (+1 with no status)")


def test_a_long_or_hostile_status_phrase_may_wrap_and_is_cleaned():
    from zcrm_notebook.dashboard.widget import _phrases_html

    long = "ended: error " + "x" * 300  # an error's text: must be able to wrap
    out = _phrases_html(f"polling since 00:00:00 UTC · {long}")
    assert out.startswith("<span style='white-space:nowrap'>polling since")
    assert f"<span>{long}</span>" in out
    hostile = _phrases_html("ended: \u202eevil\x00 <b>")  # bidi, NUL, markup
    assert "\u202e" not in hostile and "\x00" not in hostile and "&lt;b&gt;" in hostile


def test_a_group_whose_jobs_never_got_a_status_says_so_not_waiting():
    # hostile review: "waiting for lead counts; 0 jobs (+2 with no status)"
    df = to_frame(
        [
            snap(0, JOB_A, S.COMPLETED, (10, 10, 0, 0), org="eu-org", dc="eu"),
            snap(1, JOB_B, S.ERROR, code="INVALID_DATA", org="us-org"),
            snap(2, JOB_C, S.ERROR, code="INVALID_DATA", org="us-org"),
        ]
    )
    dash = Dashboard.from_frame(df)
    rows = {row.children[0].description: row.children[1].value for row in dash.group_box.children}
    assert rows["us"] == "no status for its 2 job ids", rows


def test_interval_slider_starts_at_2_s_and_warns_about_credits(scenario, clock):
    dash = make(scenario, clock)
    assert dash.interval.min == 2.0 and "credits" in dash.interval.tooltip
    dash.interval.value = (1.0, 1.0)
    assert dash.interval.value == (2.0, 2.0)
    fast = make(scenario, clock, policy=PollPolicy(min_interval_s=0.5, max_interval_s=1.0))
    assert fast.interval.min == 0.5 and fast.interval.value == (0.5, 1.0)  # set in code


def test_no_button_or_progress_bar_is_red_or_green(scenario, clock):
    # red and green mean failed and converted; "processed" includes the failed leads
    from zcrm_notebook.viz.style import ALERT_COLOR, STATUS_COLORS

    dash = make(scenario, clock)
    run_to_end(dash)
    semantic = {"success", "danger"}
    assert {dash.start_button.button_style, dash.stop_button.button_style}.isdisjoint(semantic)
    bars = [dash.overall, *dash.group_bars.values()]
    assert len(bars) == 5 and all(b.bar_style not in semantic for b in bars)
    red_green = {STATUS_COLORS["completed"], STATUS_COLORS["failed"], ALERT_COLOR}
    assert all(b.style.bar_color and b.style.bar_color not in red_green for b in bars)


def test_orgs_have_their_data_centers_colours_and_the_axis_reads_percent(scenario, clock):
    from zcrm_notebook.viz.style import DC_COLORS

    dash = make(scenario, clock)
    run_to_end(dash)
    by_dc = {k: b.style.bar_color for k, b in dash.group_bars.items()}
    dash.group_by.value = "org"
    by_org = {k: b.style.bar_color for k, b in dash.group_bars.items()}
    assert by_dc == {dc: DC_COLORS[dc] for dc in ["au", "eu", "in", "us"]}
    assert by_org == {f"{dc}-org": color for dc, color in by_dc.items()}
    lines = {ln.get_label(): ln.get_color() for ln in dash._fig.ax_progress.get_lines()}
    assert {k: v for k, v in lines.items() if k != "all"} == by_org
    dash.figure.draw_without_rendering()
    ticks = [t.get_text() for t in dash._fig.ax_failure.get_xticklabels() if t.get_text()]
    assert ticks and all(t.endswith("%") for t in ticks)


# -- a conversion's leads not converted ---------------------------------------------------------


def test_a_retried_lead_counts_once_and_job_totals_say_what_they_are(clock, tmp_path):
    import warnings

    from zcrm_notebook.convert import convert_leads
    from zcrm_notebook.errors import DataQualityWarning
    from zcrm_notebook.simulator import default_scenario

    store = tmp_path / "run.sqlite"
    with (
        default_scenario(n_jobs=1, n_leads=30, dcs=("us",), clock=clock) as sim,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", DataQualityWarning)
        result = convert_leads(
            sim.lead_ids("us-org"), sim_orgs(sim), org="us-org", store=store,
            clock=clock.time, sleep=clock.sleep, retry_not_converted=True,
        )  # fmt: skip
    assert result.ledger["attempt"].max() == 2  # the not-converted leads were retried
    failed = int((result.leads["outcome"] == "not_converted").sum())
    dash = Dashboard.from_store(store)
    try:
        assert f"30 leads (each lead's last attempt): {30 - failed} converted, " in (
            html.unescape(dash.leads_html.value)
        )
        assert dash.overall.description == "job totals"  # not "all jobs" above the leads
        assert "The bars above count lead attempts: job totals (a retried lead counts once " in (
            dash.leads_html.value
        )
        n = 30 + failed
        text = dash.overall_text.value  # one data center: its name, no group bar
        assert text.startswith(f"us: {n:,} / {n:,} lead attempts processed")
        # the failed attempts are not the leads not converted: the words tell them apart
        assert re.search(r"\d+ failed lead attempts \(", dash.overall_text.value)
        labels = [r[2].value for r in dash._rows.values()]
        assert labels and all(" lead attempts processed (" in t for t in labels)
        fig = dash._fig
        assert fig.ax_failure.get_title().endswith("(job totals)")
        assert fig.ax_progress.get_title().endswith("(job totals)")
        assert any("lead attempts failed" in t.get_text() for t in fig.ax_failure.texts)
        twice = pd.concat([result.leads.assign(attempt=1), result.leads])
        dash.show_leads(twice)
        assert len(dash.leads) == 30 and (dash.leads["attempt"] == 2).any()
    finally:
        dash.close()


def test_a_conversion_store_shows_its_leads_not_converted_with_their_job(clock, tmp_path):
    import warnings

    from zcrm_notebook.convert import convert_leads
    from zcrm_notebook.errors import DataQualityWarning
    from zcrm_notebook.simulator import default_scenario

    store = tmp_path / "run.sqlite"
    with default_scenario(n_jobs=1, n_leads=30, dcs=("us",), clock=clock) as sim:
        leads = sim.lead_ids("us-org")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)
            result = convert_leads(
                leads, sim_orgs(sim), org="us-org", store=store, clock=clock.time,
                sleep=clock.sleep, diagnose_credits=5,
            )  # fmt: skip
    dash = Dashboard.from_store(store)
    try:
        html_text = dash.leads_html.value
        failed = result.leads.query("outcome == 'not_converted'")
        assert dash.leads_box.layout.display is None and len(failed) == 3
        assert all(lead in html_text for lead in failed["lead_id"])
        assert all(job in html_text for job in failed["job_id"])
        assert html_text.index(failed.dropna(subset=["reason"])["lead_id"].iloc[0]) < min(
            html_text.index(x) for x in failed[failed["reason"].isna()]["lead_id"]
        )  # a lead with Zoho's reason first
        assert "No code or reason: Zoho was not asked why" in html_text  # 2 were not asked
        assert "white-space:nowrap" in html_text  # 'not converted' stays on one line
        paths = dash.export(tmp_path / "report")
        assert paths["leads"].exists() and "lead_outcomes" in paths
        dash.show_leads(result.leads, max_rows=1)
        assert "and 2 more leads not converted" in dash.leads_html.value
    finally:
        dash.close()
    plain = Dashboard.from_frame(result.snapshots)
    try:
        assert plain.leads_box.layout.display == "none" and plain.leads is None
    finally:
        plain.close()


def test_a_start_from_another_thread_during_the_last_tick_keeps_the_dashboard_live(scenario, clock):
    """JupyterLab may run a button's handler on a kernel subshell (another thread, maybe
    with its own loop). A Start there during the ticker's last tick of the stopped run left
    no ticker: the dashboard froze while the new poll went on. The ticker now always runs
    on the loop the dashboard was made on."""
    opened = threading.Event()

    def gated_sleep(dt):  # holds the first poll at its first wait
        assert opened.wait(10)
        clock.sleep(dt)

    async def main():
        dash = make(scenario, clock, sleep=gated_sleep, refresh_s=0.01)
        real, started = dash.refresh, []

        def refresh(force=False):
            if force and not started and dash.handle.done:  # the stopped run's last tick
                other = threading.Thread(target=lambda: started.append(dash.start()))
                other.start()  # a click handled on a subshell thread, with no loop
                other.join(30)
            return real(force)

        dash.refresh = refresh
        first = dash.start()
        dash.stop()
        opened.set()
        for _ in range(3000):  # bounded: both polls end, the last tick shows it
            if "finished" in dash.status.value and dash._task and dash._task.done():
                break
            await asyncio.sleep(0.01)
        return dash, first, started

    dash, first, started = asyncio.run(main())
    assert first.stopped_reason == "stopped" and started and started[0] is dash.handle
    assert dash.handle.stopped_reason == "finished"
    assert dash.overall.value == 1.0 and "finished" in dash.status.value  # refreshed to the end


def test_refreshes_from_two_threads_never_draw_at_once(scenario, clock):
    """A click on a subshell thread and the ticker could draw the one figure together
    ("'NoneType' object has no attribute '_get_renderer'"): one refresh at a time."""
    dash = make(scenario, clock)
    real, calls, second_in = dash._fig.render, [], threading.Event()
    second = threading.Thread(target=lambda: dash.refresh(force=True))

    def render(*args, **kw):
        calls.append(threading.current_thread() is second)
        if calls[-1]:
            second_in.set()
        else:  # the first draw: the other thread's refresh comes while it draws
            second.start()
            calls.append(second_in.wait(0.5))  # True only if it got in meanwhile
        return real(*args, **kw)

    dash._fig.render = render
    dash.refresh(force=True)
    second.join(30)
    assert calls == [False, False, True]  # drew alone, then the other thread drew


def test_a_long_job_totals_title_stays_inside_the_dashboard_figure():
    """'Failed lead attempts by data center (job totals)' lost its last letters at the
    figure's right edge in the conversion notebook."""
    from zcrm_notebook.dashboard.core import FigureImage
    from zcrm_notebook.viz.failure_rate import plot_failure_rate

    df, fig = attention_frame(), FigureImage()
    fig.render(df, by="dc", tz="UTC", layout_key=("dc",))
    fig.ax_failure.clear()
    plot_failure_rate(df, by="dc", ax=fig.ax_failure, tz="UTC", job_totals=True)
    fig.figure.canvas.draw()
    title = fig.ax_failure.title
    box = title.get_window_extent(fig.figure.canvas.get_renderer())
    assert title.get_text().startswith("Failed lead attempts by data center")
    assert fig.figure.bbox.x0 <= box.x0 and box.x1 <= fig.figure.bbox.x1
    # broken between its parts, not inside "(job totals)" by the wrap
    assert title._get_wrapped_text() == "Failed lead attempts by data center\n(job totals)"


def test_a_code_learnt_by_an_earlier_attempt_says_so_first_in_its_code_cell():
    """The mark comes from reason_attempt, not from the reason's text: first in the code
    cell (a long reason wraps, the mark stays in sight); a Zoho reason that ends in
    "(attempt 1)" on attempt 2's own row is not mistaken for a mark."""
    from zcrm_notebook.convert.outcomes import LeadOutcome, outcomes_frame
    from zcrm_notebook.dashboard.view import not_converted_leads

    long = "duplicate data: the Email of this lead is that of another record " * 5
    ids = ["1000000000000000001", "1000000000000000002", "1000000000000000003"]
    job = "2000000000000000001"
    rows = [
        LeadOutcome("au-org", "au", ids[0], job, 2, "not_converted", error_code="DUPLICATE_DATA",
                    reason=long, reason_attempt=1),
        LeadOutcome("au-org", "au", ids[1], job, 2, "not_converted",
                    error_code="MANDATORY_NOT_FOUND", reason="required field missing (attempt 1)"),
        LeadOutcome("au-org", "au", ids[2], job, 3, "not_converted", reason="no code",
                    reason_attempt=2),
    ]  # fmt: skip
    table, rest = not_converted_leads(outcomes_frame(rows))
    assert table["reason_attempt"].tolist() == [1, 2, 2] and rest == 0
    text = not_converted_html(table, rest)
    assert ">attempt 1: DUPLICATE_DATA<" in text  # the code is attempt 1's, not attempt 2's
    assert ">MANDATORY_NOT_FOUND<" in text and "attempt 1: MANDATORY" not in text
    assert ">attempt 2: <" in text  # a reason without a code: the mark alone
    assert "<th" in text and "reason attempt" not in text  # no column of its own


def test_the_job_totals_figure_of_a_conversion_fits_with_its_labels():
    """A conversion's dashboard (job totals: longer labels) in four data centers: no tick
    or axis label past the figure (third trial: the failure x label was cut)."""
    from zcrm_notebook.dashboard.core import FigureImage

    rows = [
        snap(0, JOB_A, S.COMPLETED, (30, 26, 0, 4), dc=dc, org=f"{dc}-org")
        for dc in ("au", "eu", "in", "us")
    ]
    image = FigureImage()
    image.render(to_frame(rows), by="dc", tz="UTC", layout_key=("dc",), job_totals=True)
    assert not cut_tick_labels(image.figure)
    assert "lead attempts" in image.ax_failure.get_xlabel()


def test_one_more_job_needs_a_look():
    jobs = summarize_jobs(attention_frame())
    n = len(attention_jobs(jobs))
    assert "1 more job that needs a look" in attention_html(attention_jobs(jobs, max_rows=n - 1))
    assert "2 more jobs that need a look" in attention_html(attention_jobs(jobs, max_rows=n - 2))


class ShellOfIpykernel7:
    """ipykernel 7's shell dispatch as a widget's front end sees it: a message handled
    concurrently (it reached the main shell while a cell awaits) gets no status; any
    other gets busy, then idle. Statuses go to ``published`` as (state, parent id).
    ``fixed``: a later kernel that publishes idle in the concurrent path too."""

    def __init__(self, widget, fixed=False):
        self.widget, self.fixed, self.published = widget, fixed, []
        self._parent = contextvars.ContextVar("shell_parent")

    def get_parent(self, channel=None):
        return self._parent.get()

    def _publish_status(self, status, channel, parent=None, **extra):
        self.published.append((status, (parent or self.get_parent(channel))["header"]["msg_id"]))

    async def dispatch_shell(self, msg, /, subshell_id=None, *, concurrent=False):
        self._parent.set(msg)
        if not concurrent:
            self._publish_status("busy", "shell")
        self.widget.set_state(msg["content"]["data"]["state"])
        if not concurrent or self.fixed:
            self._publish_status("idle", "shell")


class WidgetThrottle:
    """A widget model in the browser (ipywidgets' message throttle): one change in flight;
    the next waits in a buffer for the kernel's idle status of the one before."""

    def __init__(self):
        self.outbox, self.pending, self.buffer, self.sent = [], 0, None, 0

    def change(self, state):
        if self.pending >= 1:
            self.buffer = state
            return
        self.sent += 1
        self.outbox.append({"header": {"msg_id": f"m{self.sent}"}, "content": {"data": {
            "method": "update", "state": state}}})  # fmt: skip
        self.pending += 1

    def read(self, published):
        for state, _ in published:
            if state == "idle":
                self.pending -= 1
                if self.buffer is not None and self.pending < 1:
                    state, self.buffer = self.buffer, None
                    self.change(state)
        published.clear()


@pytest.mark.parametrize("concurrent, fixed", [(True, False), (False, False), (True, True)])
def test_group_by_org_then_dc_while_a_cell_awaits_shows_dc(
    scenario, clock, monkeypatch, concurrent, fixed
):
    """JupyterLab, Run All, ``await dash.wait_async()``: clicking org then dc left the
    kernel on org (the browser showed dc). ipykernel 7 handled the org click beside the
    awaiting cell without an idle status, so the browser kept the dc click in its buffer.
    The dashboard now has the kernel publish that status; a normal dispatch gets one."""
    import zcrm_notebook.dashboard.widget as widget_module

    shell = ShellOfIpykernel7(None, fixed=fixed)
    monkeypatch.setattr(widget_module, "_kernel", lambda: shell)
    dash = make(scenario, clock)
    shell.widget = dash.group_by
    browser = WidgetThrottle()
    for index in (1, 0):  # org, then dc
        browser.change({"index": index})
        for _ in range(10):  # bounded: each message in flight is handled, its status read
            if not browser.outbox:
                break
            msg = browser.outbox.pop(0)
            asyncio.run(shell.dispatch_shell(msg, None, concurrent=concurrent))
            statuses = [s for s, parent in shell.published if parent == msg["header"]["msg_id"]]
            assert statuses == (["idle"] if concurrent else ["busy", "idle"])  # one idle each
            # (a kernel that publishes it itself gets no second one)
            browser.read(shell.published)
    assert browser.sent == 2 and browser.buffer is None
    assert dash.group_by.value == "dc"
    assert sorted(dash.group_bars) == ["au", "eu", "in", "us"]
    assert dash.filter.options[1:] == (("au", "au"), ("eu", "eu"), ("in", "in"), ("us", "us"))


def test_the_idle_status_is_added_once_and_only_for_a_kernel_that_dispatches_concurrently():
    from zcrm_notebook.dashboard.comm_status import publish_idle_after_concurrent_comms

    shell = ShellOfIpykernel7(None)
    assert publish_idle_after_concurrent_comms(shell)
    wrapped = shell.dispatch_shell
    assert publish_idle_after_concurrent_comms(shell) and shell.dispatch_shell is wrapped

    class OlderKernel:
        async def dispatch_shell(self, msg):
            pass

    older = OlderKernel()
    assert not publish_idle_after_concurrent_comms(older)
    assert "dispatch_shell" not in vars(older)
    assert not publish_idle_after_concurrent_comms(None)


def test_the_idle_status_wrapper_never_breaks_a_kernel_it_does_not_expect():
    """Hostile review: an extra keyword to _publish_status raised TypeError on every
    status, a kernel with fixed attributes raised out of Dashboard(), a synchronous
    dispatch became a coroutine never awaited, a second wrap after another tool's gave two
    idles, and the dispatch's own result was dropped."""
    from zcrm_notebook.dashboard.comm_status import publish_idle_after_concurrent_comms

    shell = ShellOfIpykernel7(None)
    assert publish_idle_after_concurrent_comms(shell)
    shell._publish_status("busy", "shell", parent=_msg("m0"), ident=b"topic")  # kwargs pass
    assert shell.published == [("busy", "m0")]
    other = shell.dispatch_shell  # another tool wraps it after us: not wrapped twice

    async def theirs(msg, /, *args, concurrent=False, **kwargs):
        return await other(msg, *args, concurrent=concurrent, **kwargs)

    shell.dispatch_shell = theirs
    assert publish_idle_after_concurrent_comms(shell) and shell.dispatch_shell is theirs

    class Fixed:
        __slots__ = ("dispatch_shell", "_publish_status")

    fixed = Fixed()
    fixed.dispatch_shell, fixed._publish_status = ShellOfIpykernel7(None).dispatch_shell, print
    assert not publish_idle_after_concurrent_comms(fixed)  # no raise, left as it was

    class SyncKernel:
        def dispatch_shell(self, msg, concurrent=False):
            return "handled"

        def _publish_status(self, *args):
            pass

    sync = SyncKernel()
    assert not publish_idle_after_concurrent_comms(sync) and sync.dispatch_shell(0) == "handled"

    class Answering(ShellOfIpykernel7):
        async def dispatch_shell(self, msg, /, subshell_id=None, *, concurrent=False):
            return "reply"

    answering = Answering(None)
    assert publish_idle_after_concurrent_comms(answering)
    assert asyncio.run(answering.dispatch_shell(_msg("m1"), None, concurrent=True)) == "reply"


def _msg(msg_id):
    return {"header": {"msg_id": msg_id}, "content": {"data": {"state": {}}}}


def test_a_partial_past_run_says_how_many_jobs_were_not_final_and_no_yet(tmp_path):
    df = to_frame(
        [
            snap(0, JOB_A, S.COMPLETED, (10, 9, 0, 1), dc="eu"),
            snap(0, JOB_B, S.SCHEDULED, (50, 0, 50, 0), dc="us"),
            snap(0, JOB_C, S.IN_PROGRESS, (20, 5, 15, 0), dc="eu"),
        ]
    )
    past = Dashboard.from_frame(df)
    text = re.sub("<[^>]+>", "", past.status.value)
    assert "browsing a past run · 2 jobs not final when the run ended · 3 snapshots" in text
    notes = [t.get_text() for t in past._fig.ax_failure.texts]
    assert "no lead processed" in notes  # a past run: not "yet"
    done = Dashboard.from_frame(df[df["job_id"] == JOB_A].reset_index(drop=True))
    assert "not final" not in done.status.value


def test_a_retry_rounds_note_lies_where_no_progress_line_is():
    """Notebook 04: '+32 lead attempts (4 new jobs)' stood upright across the lines,
    flat at 88 % while the retried leads waited: the note is now low, beside its mark."""
    from zcrm_notebook.dashboard.core import FigureImage

    rows = []
    for i, dc in enumerate(("au", "eu", "in", "us")):
        first, retry = f"10000000000000000{i}1", f"10000000000000000{i}2"
        rows += [
            snap(0, first, S.IN_PROGRESS, (60, 10, 50, 2), dc=dc, org=f"{dc}-org"),
            snap(30, first, S.IN_PROGRESS, (60, 40, 20, 5), dc=dc, org=f"{dc}-org"),
            snap(60 + 5 * i, first, S.COMPLETED, (60, 52, 0, 8), dc=dc, org=f"{dc}-org"),
            snap(120, retry, S.SCHEDULED, (8, 0, 8, 0), dc=dc, org=f"{dc}-org"),
            snap(150, retry, S.IN_PROGRESS, (8, 3, 5, 1), dc=dc, org=f"{dc}-org"),
            snap(200, retry, S.COMPLETED, (8, 6, 0, 2), dc=dc, org=f"{dc}-org"),
        ]
    image = FigureImage()
    image.render(to_frame(rows), by="dc", tz="UTC", layout_key=("dc",), job_totals=True)
    ax = image.ax_progress
    assert [t.get_text() for t in ax.texts] == ["+32 lead attempts\n(4 new jobs)"]
    assert not texts_crossing_lines(ax)
    probe = ax.text(ax.texts[0].xy[0], 88, "a text on the flat lines")  # the check works
    image.figure.canvas.draw()
    assert any("'a text on the flat lines' crossed" in c for c in texts_crossing_lines(ax))
    probe.remove()
    note = ax.texts[0].get_window_extent()
    assert note.y1 <= ax.bbox.y0 + 0.5 * ax.bbox.height  # the lower half: the lines are not
    assert ax.bbox.x0 <= note.x0 and note.x1 <= ax.bbox.x1
    assert not cut_tick_labels(image.figure)


def test_the_first_answers_after_stop_then_start_redraw_the_figure_at_once(scenario, clock):
    """The trial: after Stop then Start, the bars showed the new poll while the figure
    still showed the moment of the Stop until figure_every_s passed."""
    opened, reached = threading.Event(), threading.Event()

    def gated_sleep(dt):  # each poll is held at its first wait, after its first answers
        reached.set()
        assert opened.wait(10)
        clock.sleep(dt)

    dash = make(scenario, clock, sleep=gated_sleep, figure_every_s=1e9)
    try:
        dash.start()
        assert reached.wait(10)
        dash.stop()
        opened.set()
        assert dash.wait(timeout=10)  # the end of the poll: drawn
        at_stop = dash.snapshots["polled_at"].max()
        clock.advance(60)  # the stopped poll's jobs moved on meanwhile
        opened.clear()
        reached.clear()
        redraws = dash._fig.redraws
        assert dash.start() is not None
        assert reached.wait(10) and dash.running  # the new poll answered, and waits
        dash.refresh()
        newest = dash.snapshots["polled_at"].max()
        assert newest > at_stop
        assert dash._fig.redraws > redraws and dash._drawn_up_to == newest
        assert "newer" not in dash.figure_caption.value
    finally:
        opened.set()
        dash.close()


def test_the_export_message_says_exporting_while_the_files_are_written(tmp_path, monkeypatch):
    """The trial: 6 s after a click on Export the message was empty though files were
    there: export() emptied the "exporting..." of the button while the figures were drawn."""
    from zcrm_notebook.dashboard import widget

    seen = []
    real = widget.export_report

    def export_report(*args, **kwargs):  # what the dashboard shows while the files are written
        seen.append(past.export_out.value)
        return real(*args, **kwargs)

    monkeypatch.setattr(widget, "export_report", export_report)
    past = Dashboard.from_frame(to_frame([snap(0, JOB_A, S.COMPLETED, (3, 2, 0, 1))]))
    past.export_dir.value = str(tmp_path / "r")
    past.export_button.click()
    assert seen == ["exporting..."] and past.export_out.value.startswith("Exported 1 snapshot")
    past.export(tmp_path / "s")  # from code as well
    assert seen[-1] == "exporting..." and "Exported" in past.export_out.value
    with pytest.raises(ConfigError):  # a refused folder: no "exporting..." left behind
        past.export(tmp_path / "r" / "README.md")
    assert past.export_out.value == ""


def test_every_bar_keeps_its_width_beside_a_long_label(scenario, clock):
    """Trial 8: the us row's label ('...; 9 jobs (+1 with no status)') is the longest; the
    flex row shrank its bar, so us at 100 % was drawn shorter than the other rows."""
    dash = make(scenario, clock)
    run_to_end(dash)
    bars = [dash.overall, *dash.group_bars.values()]
    assert len(bars) == 5 and "+1 with no status" in dash._rows[("dc", "us")][2].value
    for bar in bars:
        assert (bar.layout.width, bar.layout.flex) == ("420px", "0 0 auto"), bar.description
