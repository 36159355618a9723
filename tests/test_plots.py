"""The plots of viz/: artists checked against hand-worked values, plus a few baseline images.

Baseline PNGs live in ``tests/baseline_images/``. After an intended visual change, look at
the new images and regenerate them with ``python tests/test_plots.py`` (runs
:func:`regenerate_baselines`). They are compared only under the matplotlib release that drew
them (``BASELINE_MATPLOTLIB``); the artist tests run everywhere.
"""

from __future__ import annotations

import colorsys
import re
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import prefixes  # noqa: E402
from helpers_frames import (  # noqa: E402
    DCS9,
    DST_T0,
    JOB_A,
    JOB_B,
    JOB_C,
    NEW_YEAR_T0,
    T0,
    S,
    dst_jobs,
    late_job,
    many_jobs,
    short_run,
    snap,
    three_jobs,
    wilson_dcs,
)
from matplotlib.colors import to_hex, to_rgb  # noqa: E402
from matplotlib.container import BarContainer, ErrorbarContainer  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.testing.compare import compare_images  # noqa: E402

from zcrm_notebook.analysis.summary import summarize_jobs  # noqa: E402
from zcrm_notebook.errors import ConfigError  # noqa: E402
from zcrm_notebook.snapshots.frame import STATUS_DTYPE, empty_snapshots, to_frame  # noqa: E402
from zcrm_notebook.viz import (  # noqa: E402
    DC_COLORS,
    OUTCOME_COLORS,
    STATUS_COLORS,
    dc_color,
    plot_failure_rate,
    plot_lead_outcomes,
    plot_outcomes,
    plot_progress,
    plot_status_timeline,
)
from zcrm_notebook.viz.report import make_report  # noqa: E402
from zcrm_notebook.viz.style import OTHER_COLOR, date_num, time_axis  # noqa: E402

BASELINE_DIR = Path(__file__).parent / "baseline_images"
BASELINE_MATPLOTLIB = "3.11"  # text layout differs between releases: compare within one
TOLERANCE = 5.0  # RMS over 0..255 pixel values
PLOTS = [plot_progress, plot_outcomes, plot_failure_rate, plot_status_timeline]


def new_ax(size=(6.4, 4.0)):
    return Figure(figsize=size, dpi=100, layout="constrained").add_subplot()


def num(seconds: float, t0: float = T0) -> float:
    return float(mdates.date2num(np.datetime64(int((t0 + seconds) * 1e9), "ns")))


def bars(ax) -> list[BarContainer]:
    return [c for c in ax.containers if isinstance(c, BarContainer)]


def widths(container) -> list[float]:
    return [round(p.get_width(), 6) for p in container.patches]


def ytick_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_yticklabels()]


def xtick_texts(ax) -> list[str]:
    ax.figure.draw_without_rendering()
    return [t.get_text() for t in ax.get_xticklabels()]


def inside(ax, texts) -> bool:
    """Every text ends inside the Axes (after a draw, i.e. after constrained layout)."""
    ax.figure.draw_without_rendering()
    box = ax.get_window_extent()
    exts = [t.get_window_extent() for t in texts]
    return all(
        box.x0 <= e.x0 and e.x1 <= box.x1 and box.y0 <= e.y0 and e.y1 <= box.y1 for e in exts
    )


def error_rows_only():
    return to_frame(
        [
            snap(0, JOB_B, S.ERROR, code="TOO_MANY_REQUESTS"),
            snap(30, JOB_B, S.ERROR, code="ReadTimeout"),
        ]
    )


def wilson_by_hand(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


# --- plot_progress ------------------------------------------------------------------------


def test_progress_lines_by_dc_by_hand():
    ax = plot_progress(three_jobs(), freq="1min", ax=new_ax())
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == ["eu", "us", "all"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["eu", "us", "all"]
    assert ax.get_legend().get_title().get_text() == "data center"
    # eu: 0 of 3, then 1 of 3 (1 failed), then 3 of 3 processed; us: 10 % then 20 %
    np.testing.assert_allclose(lines["eu"].get_ydata()[:4], [0, 100 / 3, 100, 100])
    np.testing.assert_allclose(lines["us"].get_ydata()[:3], [10, 20, 20])
    np.testing.assert_allclose(
        lines["all"].get_ydata()[:3], [100 * 10 / 103, 100 * 21 / 103, 100 * 23 / 103]
    )
    np.testing.assert_allclose(lines["eu"].get_xdata()[:3], [num(0), num(60), num(120)])
    assert to_hex(lines["eu"].get_color()) == DC_COLORS["eu"]
    assert ax.get_xlabel() == "time (UTC)" and "%" in ax.get_ylabel()


def test_progress_percent_never_drops_when_a_job_appears():
    ax = plot_progress(late_job(), freq="1min", ax=new_ax())
    lines = {line.get_label(): line.get_ydata() for line in ax.get_lines()}
    # eu is 40 leads (A and B) from the start: not 3/10 then 5/40 (30 % -> 12.5 %)
    np.testing.assert_allclose(lines["eu"], [100 * 3 / 40, 100 * 5 / 40, 100 * 20 / 40])
    np.testing.assert_allclose(lines["us"], [50, 50, 50])
    np.testing.assert_allclose(lines["all"], [100 * 13 / 60, 100 * 15 / 60, 100 * 30 / 60])
    assert all((np.diff(y) >= 0).all() for y in lines.values())
    assert "latest total" in ax.get_ylabel()


def test_progress_area_and_jobs():
    ax = plot_progress(three_jobs(), kind="area", freq="1min", ax=new_ax())
    assert len(ax.collections) == 2 and "count" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["eu", "us"]
    ax = plot_progress(three_jobs(), by="job", freq="1min", ax=new_ax())
    assert [line.get_label() for line in ax.get_lines()] == [JOB_A, JOB_C, "all"]


def test_kwargs_reach_the_artists():
    ax = plot_progress(three_jobs(), freq="1min", ax=new_ax(), linewidth=3, color="black")
    assert {line.get_linewidth() for line in ax.get_lines()[:2]} == {3}
    assert to_hex(ax.get_lines()[0].get_color()) == "#000000"
    ax = plot_outcomes(three_jobs(), ax=new_ax(), height=0.5)
    assert bars(ax)[0].patches[0].get_height() == 0.5


def test_progress_refuses_bad_arguments():
    with pytest.raises(ConfigError, match="'pie'"):
        plot_progress(three_jobs(), kind="pie", ax=new_ax())
    with pytest.raises(ConfigError, match="'job_id'.*dc"):
        plot_progress(three_jobs(), by="job_id", ax=new_ax())
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        plot_progress(three_jobs(), tz="Mars/Olympus", ax=new_ax())
    with pytest.raises(ConfigError, match="at most 10 jobs"):
        plot_progress(many_jobs(n_jobs=11, n_polls=3), by="job", ax=new_ax())


def test_progress_folds_groups_beyond_top():
    ax = plot_progress(many_jobs(n_jobs=90, n_polls=4), by="org", top=4, ax=new_ax())
    labels = [line.get_label() for line in ax.get_lines()]
    assert len(labels) == 5 and labels[-2:] == ["other (6 orgs)", "all"]


def test_dst_change_keeps_spacing_and_labels_local_time():
    ax = plot_progress(dst_jobs(), by="job", tz="Europe/Paris", freq="10min", ax=new_ax())
    assert ax.get_xlabel() == "time (Europe/Paris)"
    x = ax.get_lines()[0].get_xdata()
    assert len(x) == 13 and np.allclose(np.diff(x), 10 / 1440)  # 10 min apart across 01:00 UTC
    ax.figure.canvas.draw()
    ticks = ax.get_xticks()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    paris = [mdates.num2date(t, tz="Europe/Paris").strftime("%H:%M") for t in ticks]
    assert labels == paris and not any(label.startswith("02:") for label in labels)
    assert len(set(labels)) == len(labels) and (np.diff(ticks) > 0).all()  # none drawn twice
    assert "01:30" in labels and "03:00" in labels  # 30 real minutes apart
    gap = ticks[labels.index("03:00")] - ticks[labels.index("01:30")]
    assert gap == pytest.approx(30 / 1440)
    assert num(0, DST_T0) <= ticks[0] and ticks[-1] <= num(7200, DST_T0)


@pytest.mark.parametrize("plot", [plot_progress, plot_status_timeline])
def test_short_run_ticks_read_as_clock_times(plot):
    ax = plot(short_run(), tz="Europe/Paris", ax=new_ax())  # 00:00:17 to 00:01:05 UTC
    labels = xtick_texts(ax)
    assert len(labels) >= 3 and all(re.fullmatch(r"01:0[01]:[0-5]0", t) for t in labels), labels
    assert ax.xaxis.get_offset_text().get_text() == "2026-01-01"  # the date, once
    assert ax.get_xlabel() == "time (Europe/Paris)"


@pytest.mark.parametrize("plot", [plot_progress, plot_status_timeline])
def test_single_poll_gets_a_one_minute_axis_from_the_poll_on(plot):
    ax = plot(short_run(0), tz="Europe/Paris", ax=new_ax())
    lo, hi = ax.get_xlim()
    assert hi - lo == pytest.approx(1 / 1440) and lo == pytest.approx(num(17, NEW_YEAR_T0))
    labels = xtick_texts(ax)  # 01:00:17 to 01:01:17 in Paris: nothing before the first poll
    assert labels and all(re.fullmatch(r"01:0[01]:[0-5]0", t) for t in labels), labels


def test_multi_day_run_marks_midnight_with_a_date():
    ax = new_ax((10, 4))
    plot_progress(many_jobs(n_jobs=2, n_polls=3), ax=ax)
    ax.set_xlim(num(-6 * 3600), num(30 * 3600))  # 06:00 on the 28th to 18:00 on the 29th
    labels = xtick_texts(ax)
    assert "Mar 29" in labels and all(re.fullmatch(r"\d\d:00|Mar 29", t) for t in labels)


# --- plot_outcomes ------------------------------------------------------------------------


def test_outcomes_bars_by_hand():
    ax = plot_outcomes(three_jobs(), ax=new_ax())
    conv, failed, pending = bars(ax)
    assert [c.get_label() for c in (conv, failed, pending)] == ["converted", "failed", "pending"]
    # B never got a status: no leads, no bar (it is no job; the status timeline shows it)
    assert ytick_texts(ax) == [f"{JOB_C} (us)", f"{JOB_A} (eu)"]
    assert ax.get_title().endswith("(2 of 2 by size)")
    assert widths(conv) == [20, 1] and widths(failed) == [0, 2]
    assert widths(pending) == [80, 0]
    assert [p.get_x() for p in failed.patches] == [20, 1]  # stacked after converted
    assert ax.get_xlabel() == "leads (count)"
    assert to_hex(failed.patches[0].get_facecolor()) == STATUS_COLORS["failed"]


def test_outcomes_sorted_by_failures():
    ax = plot_outcomes(three_jobs(), sort="failures", ax=new_ax())
    assert ytick_texts(ax) == [f"{JOB_A} (eu)", f"{JOB_C} (us)"]
    with pytest.raises(ConfigError, match="'rate'"):
        plot_outcomes(three_jobs(), sort="rate", ax=new_ax())


def test_outcomes_fold_the_rest_into_other():
    df = many_jobs(n_jobs=30, n_polls=4)
    ax = plot_outcomes(df, top=5, ax=new_ax())
    conv, failed, pending = bars(ax)
    assert len(conv.patches) == 6 and ytick_texts(ax)[-1] == "other (25 jobs, mean)"
    # job j has 10 + j leads here: the top 5 are j = 25..29, "other" holds j = 0..24
    assert ytick_texts(ax)[0].startswith("3652397000000000029")
    other = [c.patches[-1] for c in (conv, failed, pending)]
    assert sum(p.get_width() for p in other) == pytest.approx(550 / 25)  # the mean, to scale
    assert all(p.get_hatch() is None and p.get_alpha() < 1 for p in other)
    (note,) = ax.texts
    assert note.get_text() == "mean of 25 jobs; 550 leads in all"  # sum(10..34), one line
    assert inside(ax, [note])


def test_outcomes_note_fits_in_the_overview_cell():
    fig = Figure(figsize=(16, 11), layout="constrained")
    ax = fig.subplots(2, 2)[1, 0]
    plot_outcomes(many_jobs(n_jobs=37, n_polls=4, dcs=["us", "eu", "in", "au"]), ax=ax)
    assert inside(ax, ax.texts) and "\n" not in ax.texts[0].get_text()


# --- plot_failure_rate --------------------------------------------------------------------


def test_failure_rate_bars_and_wilson_error_bars():
    ax = plot_failure_rate(wilson_dcs(), ax=new_ax())
    (cont,) = bars(ax)
    assert ytick_texts(ax) == ["au", "jp"]
    assert widths(cont) == pytest.approx([200 / 3, 1.0])
    assert to_hex(cont.patches[0].get_facecolor()) == DC_COLORS["au"]
    (errs,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    segments = errs.lines[2][0].get_segments()
    for seg, (k, n) in zip(segments, [(2, 3), (30, 3000)]):
        lo, hi = wilson_by_hand(k, n)
        assert (seg[0][0], seg[1][0]) == pytest.approx((100 * lo, 100 * hi))
    au_width = segments[0][1][0] - segments[0][0][0]
    jp_width = segments[1][1][0] - segments[1][0][0]
    assert au_width > 70 and jp_width < 1  # the small DC is far less certain
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["2 / 3 processed leads failed", "30 / 3,000 processed leads failed"]
    assert "Wilson" in ax.get_xlabel() and "%" in ax.get_xlabel()
    assert inside(ax, ax.texts) and max(ax.get_xticks()) <= 100 < ax.get_xlim()[1]


@pytest.mark.parametrize("size", [(6.4, 4.0), (10, 6), (4, 3)])
def test_failure_rate_axis_fits_the_largest_upper_bound_and_its_text(size):
    df = wilson_dcs()
    ax = plot_failure_rate(df[df["dc"] == "jp"], ax=new_ax(size))  # 30 / 3000: hi 1.43 %
    hi = 100 * wilson_by_hand(30, 3000)[1]
    lo_edge, right = ax.get_xlim()
    assert lo_edge == 0 and hi < right and max(ax.get_xticks()) <= right
    assert inside(ax, ax.texts)
    box, text = ax.get_window_extent(), ax.texts[0].get_window_extent()
    assert box.x1 - text.x1 < 0.1 * box.width  # no wide empty band on the right


def test_a_narrow_failure_rate_axis_reads_as_percent():
    df = wilson_dcs()
    ax = plot_failure_rate(df[df["dc"] == "jp"], ax=new_ax())  # 1 %: the axis ends near 1.6
    ticks = [t for t in xtick_texts(ax) if t]
    assert ticks[0] == "0%" and all(t.endswith("%") for t in ticks)
    assert any(t in ("0.5%", "1%", "0.2%", "0.4%") for t in ticks)  # not "0.5" like a fraction
    assert "%" in ax.get_xlabel()


def test_progress_ticks_read_as_percent():
    ax = plot_progress(three_jobs(), ax=new_ax())
    ax.figure.draw_without_rendering()
    ticks = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert ticks[0] == "0%" and "100%" in ticks


def org_frame(orgs_dcs):
    rows = []
    for i, (org, dc) in enumerate(orgs_dcs):
        job = f"10000000000000000{i:02d}"
        rows += [
            snap(0, job, S.SCHEDULED, (10, 0, 10, 0), dc=dc, org=org),
            snap(60, job, S.COMPLETED, (10, 9, 0, 1), dc=dc, org=org),
        ]
    return to_frame(rows)


def test_an_org_has_the_colour_of_its_data_center():
    df = org_frame([("au-org", "au"), ("eu-org", "eu"), ("x-org", "xx")])
    ax = plot_failure_rate(df, by="org", ax=new_ax())
    colours = [to_hex(p.get_facecolor()) for p in bars(ax)[0].patches]
    assert colours == [DC_COLORS["au"], DC_COLORS["eu"], dc_color("xx")]
    ax = plot_progress(df, by="org", ax=new_ax())
    lines = {ln.get_label(): to_hex(ln.get_color()) for ln in ax.get_lines()}
    assert lines["au-org"] == DC_COLORS["au"] and lines["eu-org"] == DC_COLORS["eu"]


def test_orgs_sharing_a_data_center_get_distinct_colours():
    df = org_frame([("acme-eu", "eu"), ("beta-eu", "eu"), ("gamma-us", "us")])
    ax = plot_failure_rate(df, by="org", ax=new_ax())
    acme, beta, gamma = (to_hex(p.get_facecolor()) for p in bars(ax)[0].patches)
    assert acme != beta and DC_COLORS["eu"] not in (acme, beta) and gamma == DC_COLORS["us"]
    assert DC_COLORS["us"] not in (acme, beta)


def test_failure_rate_by_org_and_fold():
    df = many_jobs(n_jobs=45, n_polls=4)
    ax = plot_failure_rate(df, top=4, ax=new_ax())
    assert ytick_texts(ax)[-1] == "other (6 dcs)" and len(bars(ax)[0].patches) == 4
    ax = plot_failure_rate(df, by="org", ax=new_ax())
    assert ax.get_ylabel() == "org" and len(bars(ax)[0].patches) == 9
    with pytest.raises(ConfigError, match="'job'"):
        plot_failure_rate(df, by="job", ax=new_ax())


# --- plot_status_timeline -----------------------------------------------------------------


def test_status_timeline_by_hand():
    ax = plot_status_timeline(three_jobs(), ax=new_ax())
    assert ytick_texts(ax) == [f"{JOB_A} (eu)", f"{JOB_C} (us)", f"{JOB_B} (us)"]
    spans = {}
    for coll in ax.collections:
        if coll.get_gid() and ":" in coll.get_gid():
            ext = coll.get_paths()[0].get_extents()
            spans[coll.get_gid()] = (ext.x0, ext.x1)
            status = coll.get_gid().split(":")[0]
            assert to_hex(coll.get_facecolor()[0]) == STATUS_COLORS[status]
    assert spans["scheduled:0"] == pytest.approx((num(0), num(60)))
    assert spans["in_progress:0"] == pytest.approx((num(60), num(120)))
    assert spans["in_progress:1"] == pytest.approx((num(0), num(700)))  # one merged run
    (done,) = [c for c in ax.collections if c.get_gid() == "finished"]
    np.testing.assert_allclose(done.get_offsets(), [[num(120), 0]])
    (crosses,) = [c for c in ax.collections if c.get_gid() == "no status"]  # B never had one
    np.testing.assert_allclose(crosses.get_offsets(), [[num(0), 2], [num(30), 2]])
    assert to_hex(crosses.get_facecolor()[0]) == STATUS_COLORS["error"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["scheduled", "in progress", "completed", "no status"]
    assert ax.get_xlabel() == "time (UTC)"


def test_one_folded_job_is_one_job():
    df = many_jobs(n_jobs=21, n_polls=3)
    assert ytick_texts(plot_outcomes(df, top=20, ax=new_ax()))[-1] == "other (1 job, mean)"
    assert ytick_texts(plot_status_timeline(df, top=20, ax=new_ax()))[-1] == "other (1 job)"


def test_status_timeline_folds_beyond_top():
    df = many_jobs(n_jobs=40, n_polls=4)
    ax = plot_status_timeline(df, top=5, ax=new_ax())
    assert len(ytick_texts(ax)) == 6 and ytick_texts(ax)[-1] == "other (35 jobs)"
    (span,) = [c for c in ax.collections if c.get_gid() == "other"]
    assert to_hex(span.get_facecolor()[0]) == OTHER_COLOR and not span.get_hatch()
    finishes = {c.get_gid(): c.get_offsets() for c in ax.collections if c.get_gid()}
    n_done = summarize_jobs(df)["finished_at"].notna().sum()
    assert len(finishes["finished"]) + len(finishes["other finished"]) == n_done
    assert set(finishes["other finished"][:, 1]) == {5}  # on the "other" row


# --- contract: colours, ax, rcParams, df, empty, many jobs --------------------------------


def test_colour_tables():
    assert set(STATUS_COLORS) == set(STATUS_DTYPE.categories)
    assert set(DC_COLORS) == set(DCS9) and len(set(DC_COLORS.values())) == 9
    assert dc_color("eu") == DC_COLORS["eu"]
    assert dc_color("xx") == dc_color("xx") and dc_color("xx") not in DC_COLORS.values()


def hue_degrees(colour: str) -> tuple[float, float]:
    """(hue in degrees, saturation) of a colour."""
    h, s, _ = colorsys.rgb_to_hsv(*to_rgb(colour))
    return h * 360, s


def test_statuses_have_their_meaning_and_data_centers_are_neither_red_nor_green():
    assert hue_degrees(STATUS_COLORS["completed"])[0] == pytest.approx(115, abs=25)  # green
    assert hue_degrees(STATUS_COLORS["failed"])[0] % 360 < 15  # red
    assert hue_degrees(STATUS_COLORS["in_progress"])[0] == pytest.approx(215, abs=25)  # blue
    assert hue_degrees(STATUS_COLORS["scheduled"])[1] < 0.2  # grey
    assert len(set(STATUS_COLORS.values())) == len(STATUS_COLORS)  # error, unknown distinct
    palette = [*DC_COLORS.values(), *(dc_color(f"x{i}") for i in range(100))]
    for colour in palette:
        hue, saturation = hue_degrees(colour)
        reddish, greenish = hue < 20 or hue > 335, 75 < hue < 165
        assert saturation < 0.2 or not (reddish or greenish), colour
        assert colour not in STATUS_COLORS.values() and colour not in OUTCOME_COLORS.values()


#: Least RGB distance (Euclidean, components 0..1) between a status colour and a data-center
#: colour or another status: the old "no status" orange and eu orange were 0.15 apart, the
#: old "unknown" purple and in pink 0.10, in-progress blue and us blue 0.30.
MIN_STATUS_DISTANCE = 0.32


def rgb_distance(a: str, b: str) -> float:
    return float(np.linalg.norm(np.subtract(to_rgb(a), to_rgb(b))))


def test_no_status_colour_is_near_a_data_center_colour_or_another_status():
    # trial 6: "no status: 1" in orange sat above the orange eu bar and read as eu's
    near = [
        (status, dc, round(rgb_distance(s_colour, dc_colour), 3))
        for status, s_colour in STATUS_COLORS.items()
        for dc, dc_colour in DC_COLORS.items()
        if rgb_distance(s_colour, dc_colour) < MIN_STATUS_DISTANCE
    ]
    assert near == []
    # nor the fallback colours (custom codes, orgs past the palette; hostile review)
    from zcrm_notebook.viz.style import _FALLBACK

    near = [
        (status, colour)
        for status, s_colour in STATUS_COLORS.items()
        for colour in _FALLBACK
        if rgb_distance(s_colour, colour) < MIN_STATUS_DISTANCE
    ]
    assert near == []
    pairs = [(a, b) for a in STATUS_COLORS for b in STATUS_COLORS if a < b]
    near = [
        (a, b)
        for a, b in pairs
        if rgb_distance(STATUS_COLORS[a], STATUS_COLORS[b]) < MIN_STATUS_DISTANCE
    ]
    assert near == []


def test_the_four_most_used_data_centers_are_far_apart_in_colour():
    # seventh trial: au in mustard and eu in orange looked alike in the progress legend
    main = ["us", "eu", "in", "au"]
    near = [
        (a, b, round(rgb_distance(DC_COLORS[a], DC_COLORS[b]), 3))
        for i, a in enumerate(main)
        for b in main[i + 1 :]
        if rgb_distance(DC_COLORS[a], DC_COLORS[b]) < 0.45
    ]
    assert near == []


@pytest.mark.parametrize("plot", PLOTS)
def test_contract_no_mutation_no_rcparams_current_axes(plot):
    df = three_jobs()
    before, rc = df.copy(), dict(matplotlib.rcParams)
    fig = plt.figure()
    try:
        assert plot(df) is plt.gca()  # draws on the current Axes when none is given
    finally:
        plt.close(fig)
    pd.testing.assert_frame_equal(df, before)
    assert dict(matplotlib.rcParams) == rc


@pytest.mark.parametrize(
    ("plot", "frame"),
    [(plot, empty_snapshots) for plot in PLOTS]
    + [(plot, error_rows_only) for plot in PLOTS if plot is not plot_status_timeline],
)
def test_empty_frame_draws_a_note(plot, frame):
    ax = plot(frame(), ax=new_ax())
    assert any("yet" in t.get_text() for t in ax.texts) and ax.get_title()
    ax.figure.draw_without_rendering()  # no 1970-01-01 time axis, no 0..1 ticks
    assert len(ax.get_xticks()) == len(ax.get_yticks()) == 0
    assert ax.xaxis.get_offset_text().get_text() == ""


def test_a_job_without_any_status_still_gets_its_row_in_the_timeline():
    ax = plot_status_timeline(error_rows_only(), ax=new_ax())
    assert ytick_texts(ax) == [f"{JOB_B} (us)"] and not ax.texts
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["no status"]


@pytest.fixture(scope="module")
def big():
    return many_jobs(n_jobs=3000, n_polls=4)


def test_3000_jobs_over_9_dcs_stay_readable(big, tmp_path):
    fig = Figure(figsize=(16, 11), layout="constrained")
    axes = fig.subplots(2, 2).flat
    ax = plot_progress(big, ax=next(axes))
    assert len(ax.get_lines()) == 10  # 9 DCs + all
    ax = plot_failure_rate(big, ax=next(axes))
    assert len(bars(ax)[0].patches) == 9
    ax = plot_outcomes(big, ax=next(axes))
    assert all(len(c.patches) == 21 for c in bars(ax)) and len(ax.get_yticks()) == 21
    ax = plot_status_timeline(big, ax=next(axes))
    assert len(ax.get_yticks()) == 31 and ytick_texts(ax)[-1] == "other (2,970 jobs)"
    fig.savefig(tmp_path / "big.png", dpi=60)


# --- no warnings on normal data ---------------------------------------------------------


def one_row() -> pd.DataFrame:
    return to_frame([snap(0, JOB_A, S.IN_PROGRESS, (10, 2, 8, 0))])


def same_instant() -> pd.DataFrame:
    """Three jobs of two DCs, every row polled at the same instant."""
    return to_frame(
        [
            snap(0, JOB_A, S.SCHEDULED, (10, 0, 10, 0)),
            snap(0, JOB_B, S.IN_PROGRESS, (20, 5, 14, 1), dc="eu"),
            snap(0, JOB_C, S.COMPLETED, (5, 5, 0, 0)),
        ]
    )


def test_no_time_span_makes_the_clock_axis_warn():
    """matplotlib's AutoDateLocator warned for spans of 3 to 4 minutes (a live run early on)."""
    for tz in ("UTC", "Europe/Paris"):
        ax = new_ax()
        time_axis(ax, tz)
        for span_s in np.geomspace(60, 40 * 86400, 300):
            ax.set_xlim(num(0), num(span_s))
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                assert len(ax.xaxis.get_major_locator()()) >= 2


def test_every_plot_and_the_report_draw_without_warnings(realistic_run):
    frames = [*prefixes(realistic_run), one_row(), same_instant(), short_run(0), three_jobs()]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for df in frames:
            for plot in PLOTS:
                plot(df, ax=new_ax(), tz="Europe/Paris").figure.draw_without_rendering()
        for df in (one_row(), realistic_run):
            make_report(df).draw_without_rendering()


# --- legends never over the data, time axes end at the data -----------------------------


def us_largest_leads() -> pd.DataFrame:
    """A conversion's lead outcomes where the last bar (us) is the longest and ends red."""
    from zcrm_notebook.convert import LeadOutcome, outcomes_frame

    rows = [("au", 40, 4), ("eu", 50, 5), ("in", 45, 6), ("us", 60, 12)]
    return outcomes_frame(
        LeadOutcome(f"{dc}-org", dc, str(10**18 + 1000 * k + i), outcome=outcome)
        for k, (dc, converted, failed) in enumerate(rows)
        for i, outcome in enumerate(["converted"] * converted + ["not_converted"] * failed)
    )


def data_extents(ax) -> list:
    """Window extents of what ``ax`` draws of the data: lines, bars, collections."""
    artists = [*ax.lines, *ax.patches, *ax.collections]
    return [a.get_window_extent() for a in artists if a.get_visible()]


def overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


@pytest.mark.parametrize("size", [(6.4, 4.0), (10, 6)])
def test_no_legend_covers_the_data(realistic_run, size):
    drawn = [plot(realistic_run, ax=new_ax(size), tz="Europe/Paris") for plot in PLOTS]
    drawn += [plot_progress(realistic_run, by="org", ax=new_ax(size))]
    drawn += [plot_lead_outcomes(us_largest_leads(), ax=new_ax(size))]
    with_legend = [ax for ax in drawn if ax.get_legend() is not None]
    assert len(with_legend) == 5  # every plot but the failure rate has one
    for ax in with_legend:
        ax.figure.draw_without_rendering()
        legend = ax.get_legend().get_window_extent()
        hit = [e for e in data_extents(ax) if overlaps(legend, e)]
        assert not hit, (ax.get_title(), legend, hit[:3])
        assert not overlaps(legend, ax.title.get_window_extent()), ax.get_title()


@pytest.mark.parametrize("plot", [plot_progress, plot_status_timeline])
@pytest.mark.parametrize("frame", [short_run, three_jobs, dst_jobs])
def test_the_time_axis_ends_at_the_data(plot, frame):
    df = frame()
    ax = plot(df, ax=new_ax(), tz="Europe/Paris")
    first, last = (float(date_num(pd.Series([df["polled_at"].agg(f)]))[0]) for f in ("min", "max"))
    lo, hi = ax.get_xlim()
    assert lo == pytest.approx(first) and last <= hi <= last + 0.021 * (last - first)


# --- baseline images ----------------------------------------------------------------------

BASELINES = {
    "progress_dst_paris": lambda ax: plot_progress(
        dst_jobs(), by="job", tz="Europe/Paris", freq="10min", ax=ax
    ),
    "failure_rate_wilson": lambda ax: plot_failure_rate(wilson_dcs(), ax=ax),
    "outcomes_folded": lambda ax: plot_outcomes(
        many_jobs(n_jobs=30, n_polls=4, dcs=["us", "eu", "jp"]), top=8, ax=ax
    ),
    "status_timeline": lambda ax: plot_status_timeline(
        many_jobs(n_jobs=12, n_polls=6, dcs=["us", "eu", "jp"]), top=8, ax=ax
    ),
}


def render(name: str, path: Path) -> Path:
    ax = new_ax()
    BASELINES[name](ax)
    ax.figure.savefig(path, dpi=100)
    return path


def regenerate_baselines() -> None:
    """Rewrite every baseline PNG (look at them before committing)."""
    BASELINE_DIR.mkdir(exist_ok=True)
    for name in BASELINES:
        print("wrote", render(name, BASELINE_DIR / f"{name}.png"))


@pytest.mark.skipif(
    not matplotlib.__version__.startswith(BASELINE_MATPLOTLIB + "."),
    reason=f"baselines were drawn with matplotlib {BASELINE_MATPLOTLIB}",
)
@pytest.mark.parametrize("name", sorted(BASELINES))
def test_matches_baseline_image(name, tmp_path):
    expected = BASELINE_DIR / f"{name}.png"
    assert expected.exists(), f"missing {expected}; run `python tests/test_plots.py`"
    actual = render(name, tmp_path / f"{name}.png")
    assert compare_images(str(expected), str(actual), tol=TOLERANCE) is None


if __name__ == "__main__":
    regenerate_baselines()


def test_failure_rate_mid_run_counts_only_processed_leads():
    df = to_frame(
        [
            snap(0, JOB_A, S.IN_PROGRESS, (246, 83, 161, 2), dc="eu"),
            snap(0, JOB_B, S.IN_PROGRESS, (50, 0, 50, 0), dc="us"),
        ]
    )
    ax = plot_failure_rate(df, ax=new_ax())
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["2 / 85 processed leads failed", "no lead processed yet"]
    ended = plot_failure_rate(df, ax=new_ax(), ended=True)  # a past run: no "yet"
    assert [t.get_text() for t in ended.texts][1] == "no lead processed"
    assert ax.containers[0].patches[0].get_width() == pytest.approx(100 * 2 / 85)
    assert "of processed leads" in ax.get_xlabel()


def test_a_retry_round_is_marked_where_its_jobs_were_first_seen():
    """Round 1 (A, C) ends at 30 s; the retry job B is first seen at 90 s, runs at 150 s:
    one dotted line at 90 s says what the flat stretch waits for. Without job totals, or
    with jobs overlapping in time, no mark."""
    rows = [
        snap(0, JOB_A, S.IN_PROGRESS, (50, 20, 30, 0)),
        snap(0, JOB_C, S.IN_PROGRESS, (40, 10, 30, 0)),
        snap(30, JOB_A, S.COMPLETED, (50, 45, 0, 5)),
        snap(30, JOB_C, S.COMPLETED, (40, 38, 0, 2)),
        snap(90, JOB_B, S.SCHEDULED, (7, 0, 7, 0)),
        snap(120, JOB_B, S.SCHEDULED, (7, 0, 7, 0)),
        snap(150, JOB_B, S.COMPLETED, (7, 6, 0, 1)),
    ]
    df = to_frame(rows)
    ax = plot_progress(df, ax=new_ax(), job_totals=True)
    marks = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    ninety = pd.Timestamp(T0 + 90, unit="s", tz="UTC")
    assert [line.get_xdata()[0] for line in marks] == [date_num(pd.Series([ninety]))[0]]
    assert [t.get_text() for t in ax.texts] == ["+7 lead attempts\n(1 new job)"]
    assert inside(ax, ax.texts)
    plain = plot_progress(df, ax=new_ax())
    assert not plain.texts and not [ln for ln in plain.get_lines() if ln.get_linestyle() == ":"]
    overlapping = to_frame([*rows[:2], snap(10, JOB_B, S.IN_PROGRESS, (7, 1, 6, 0)), *rows[2:]])
    assert not plot_progress(overlapping, ax=new_ax(), job_totals=True).texts
