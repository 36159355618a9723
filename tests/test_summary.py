"""analysis/summary.py / timeseries.py on hand-built frames whose answers are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers_frames import (
    JOB_A,
    JOB_B,
    JOB_C,
    T0,
    flagged_jobs,
    many_jobs,
    snap,
    three_jobs,
    wilson_dcs,
)

from zcrm_notebook.analysis.summary import (
    GROUP_COLUMNS,
    JOB_COLUMNS,
    progress_over_time,
    summarize_dcs,
    summarize_jobs,
    summarize_orgs,
    wilson_interval,
)
from zcrm_notebook.api.status import JobState as S
from zcrm_notebook.errors import ConfigError
from zcrm_notebook.snapshots.frame import empty_snapshots, to_frame


def at(seconds: float) -> pd.Timestamp:
    return pd.Timestamp(T0 + seconds, unit="s", tz="UTC")


def by_job(table: pd.DataFrame) -> dict[str, pd.Series]:
    return {row.job_id: row for _, row in table.iterrows()}


def wilson_by_hand(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


# --- summarize_jobs -----------------------------------------------------------------------


def test_jobs_columns_dtypes_and_order():
    out = summarize_jobs(three_jobs())
    assert list(out.columns) == list(JOB_COLUMNS)
    assert list(out["job_id"]) == [JOB_A, JOB_B, JOB_C]  # sorted by org, dc, job_id
    for col, (dtype, _) in JOB_COLUMNS.items():
        got = str(out[col].dtype)
        assert got.startswith(dtype) or (dtype == "string" and got in ("string", "str")), col
    assert isinstance(out.index, pd.RangeIndex)


def test_finished_job_by_hand():
    a = by_job(summarize_jobs(three_jobs()))[JOB_A]
    assert a.status == "completed" and a.dc == "eu" and a.org == "eu"
    assert (a.total_count, a.converted_count, a.not_converted_count, a.failed_count) == (3, 1, 0, 2)
    assert a.progress == 1.0 and a.failure_rate == pytest.approx(2 / 3)
    assert a.first_seen_at == at(0) and a.finished_at == at(120) and a.last_polled_at == at(120)
    assert a.duration_s == 120.0
    assert a.leads_per_min == pytest.approx(1.5)  # 3 leads processed in 2 minutes
    assert pd.isna(a.eta_at)  # finished: nothing to estimate
    assert (a.n_polls, a.n_errors) == (3, 0) and pd.isna(a.last_error_code)
    assert a["flags"] == "" and not (a.stalled or a.counts_backwards or a.counts_mismatch)


def test_all_error_job_by_hand():
    b = by_job(summarize_jobs(three_jobs()))[JOB_B]
    assert b.status == "error"
    assert all(pd.isna(b[c]) for c in ("total_count", "converted_count", "failed_count"))
    assert np.isnan(b.progress) and np.isnan(b.failure_rate) and np.isnan(b.leads_per_min)
    assert pd.isna(b.first_seen_at) and pd.isna(b.finished_at) and pd.isna(b.eta_at)
    assert b.last_polled_at == at(30)
    assert (b.n_polls, b.n_errors, b.last_error_code) == (2, 2, "ReadTimeout")
    assert not b.stalled and b["flags"] == ""


def test_unfinished_job_stalled_and_eta_by_hand():
    c = by_job(summarize_jobs(three_jobs()))[JOB_C]
    assert c.status == "in_progress" and c.progress == pytest.approx(0.2)
    assert c.leads_per_min == pytest.approx(10 / (700 / 60))  # +10 leads over 700 s
    # rate over the last polls (all 3 here): 10 leads / 700 s; 80 left -> 5600 s after 700 s
    assert c.eta_at == at(700 + 5600)
    assert c.stalled and c["flags"] == "stalled"  # unchanged from 60 s to 700 s = 640 s
    assert pd.isna(c.finished_at) and np.isnan(c.duration_s)


@pytest.mark.parametrize(
    ("kwargs", "stalled"),
    [
        ({"stalled_after_s": 700}, False),
        ({"stalled_after_s": 640}, True),
        ({"now": at(60 + 599)}, False),
        ({"now": at(60 + 600)}, True),
        ({"now": (at(1000)).tz_localize(None)}, True),  # naive means UTC
        ({"now": T0 + 500}, False),  # epoch seconds
        ({"now": "2026-03-28T13:00:00Z"}, True),
    ],
)
def test_stalled_threshold_and_now(kwargs, stalled):
    assert by_job(summarize_jobs(three_jobs(), **kwargs))[JOB_C].stalled == stalled


def test_bad_now_is_config_error():
    with pytest.raises(ConfigError, match="now"):
        summarize_jobs(three_jobs(), now="not a time")


def test_flags_by_hand():
    jobs = by_job(summarize_jobs(flagged_jobs()))
    assert jobs["4"].counts_backwards and jobs["4"]["flags"] == "counts_backwards"
    assert jobs["5"].status_regressed and jobs["5"].status == "in_progress"
    assert jobs["5"].finished_at == at(60) and jobs["5"].last_error_code == "INVALID_DATA"
    assert jobs["5"]["flags"] == "status_regressed"
    assert jobs["6"].counts_mismatch and jobs["6"]["flags"] == "counts_mismatch"
    assert jobs["6"].progress == pytest.approx(10 / 3)  # kept as Zoho sent it, flagged
    for job in ("7", "8"):  # total 0 / total NA: ratios NaN, not inf, no warning
        assert np.isnan(jobs[job].progress) and np.isnan(jobs[job].failure_rate)
        assert not jobs[job].counts_mismatch
    # H: no total; remaining = not_converted 2, rate 4 leads/min -> 30 s after its last poll
    assert jobs["8"].eta_at == at(90) and jobs["8"].leads_per_min == pytest.approx(4.0)


def test_pending_going_down_is_not_backwards():
    assert not summarize_jobs(three_jobs())["counts_backwards"].any()


def test_several_flags_are_joined():
    df = to_frame(
        [
            snap(0, "9", S.COMPLETED, (5, 5, 0, 0)),
            snap(60, "9", S.IN_PROGRESS, (5, 4, 0, 0)),
            snap(900, "9", S.IN_PROGRESS, (5, 4, 0, 0)),
        ]
    )
    row = summarize_jobs(df).iloc[0]
    assert row["flags"] == "stalled,counts_backwards,status_regressed,counts_mismatch"


def test_row_order_does_not_matter_and_df_is_not_mutated():
    df = three_jobs()
    before = df.copy()
    shuffled = df.sample(frac=1, random_state=3).reset_index(drop=True)
    pd.testing.assert_frame_equal(summarize_jobs(df), summarize_jobs(shuffled))
    pd.testing.assert_frame_equal(summarize_dcs(df), summarize_dcs(shuffled))
    pd.testing.assert_frame_equal(df, before)


def test_filtered_frame_with_gaps_in_its_index():
    df = three_jobs()
    only_us = df[df["dc"] == "us"]  # index 1, 2, 3, 5, 7
    jobs = summarize_jobs(only_us)
    assert list(jobs["job_id"]) == [JOB_B, JOB_C] and jobs["n_polls"].tolist() == [2, 3]


def test_empty_frame_gives_empty_tables_with_columns():
    jobs = summarize_jobs(empty_snapshots())
    assert jobs.empty and list(jobs.columns) == list(JOB_COLUMNS)
    assert str(jobs["first_seen_at"].dtype) == "datetime64[ns, UTC]"
    for table, key in [
        (summarize_dcs(empty_snapshots()), "dc"),
        (summarize_orgs(empty_snapshots()), "org"),
    ]:
        assert table.empty and list(table.columns) == [key, *GROUP_COLUMNS]


def test_missing_column_and_bad_status_are_config_errors():
    with pytest.raises(ConfigError, match="failed_count"):
        summarize_jobs(three_jobs().drop(columns="failed_count"))
    df = three_jobs().astype({"status": "string"})
    df.loc[0, "status"] = "exploded"
    with pytest.raises(ConfigError, match="exploded"):
        summarize_jobs(df)


def test_plain_dtypes_are_accepted():
    df = three_jobs()
    loose = df.astype({"status": str, "job_id": object, "total_count": "float64"})
    loose["polled_at"] = loose["polled_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.testing.assert_frame_equal(summarize_jobs(loose), summarize_jobs(df))


# --- summarize_dcs / summarize_orgs -------------------------------------------------------


def test_dcs_by_hand():
    dcs = summarize_dcs(three_jobs()).set_index("dc")
    assert list(dcs.index) == ["eu", "us"]
    eu, us = (dcs.loc[dc].astype(object) for dc in ("eu", "us"))
    assert (eu.n_jobs, eu.n_completed, eu.n_in_progress, eu.n_error) == (1, 1, 0, 0)
    assert (us.n_jobs, us.n_in_progress, us.n_error, us.n_completed) == (2, 1, 1, 0)
    assert (eu.leads_total, eu.leads_converted, eu.leads_failed, eu.leads_pending) == (3, 1, 2, 0)
    assert (us.leads_total, us.leads_converted, us.leads_failed, us.leads_pending) == (
        100,
        20,
        0,
        80,
    )
    assert dcs.at["eu", "median_duration_s"] == 120.0
    assert np.isnan(dcs.at["us", "median_duration_s"])
    assert eu.throughput_leads_per_min == pytest.approx(3 / 2)  # 3 leads, polls 0..120 s
    assert pd.isna(us.throughput_leads_per_min)  # no job of us finished: no observed timing
    assert us.failure_rate == 0.0 and us.failure_rate_lo == 0.0 and us.failure_rate_hi > 0


def test_wilson_interval_small_vs_large_dc():
    dcs = summarize_dcs(wilson_dcs()).set_index("dc")
    au, jp = dcs.loc["au"], dcs.loc["jp"]
    assert (au.leads_failed, au.leads_total, jp.leads_failed, jp.leads_total) == (2, 3, 30, 3000)
    assert au.failure_rate == pytest.approx(2 / 3) and jp.failure_rate == pytest.approx(0.01)
    assert (au.failure_rate_lo, au.failure_rate_hi) == pytest.approx(wilson_by_hand(2, 3))
    assert (jp.failure_rate_lo, jp.failure_rate_hi) == pytest.approx(wilson_by_hand(30, 3000))
    assert (au.failure_rate_lo, au.failure_rate_hi) == pytest.approx((0.2077, 0.9385), abs=1e-4)
    assert (jp.failure_rate_lo, jp.failure_rate_hi) == pytest.approx((0.00701, 0.01424), abs=1e-5)
    assert (
        au.failure_rate_hi - au.failure_rate_lo
        > 0.7
        > 0.01
        > jp.failure_rate_hi - jp.failure_rate_lo
    )
    assert jp.n_completed == 60 and jp.median_duration_s == 600.0


def test_wilson_interval_edges():
    lo, hi = wilson_interval([0, 3, 1, 1], [10, 3, 0, None])
    assert lo[0] == 0.0 and 0 < hi[0] < 0.35 and hi[1] == 1.0 and lo[1] < 1.0
    assert np.isnan(lo[2:]).all() and np.isnan(hi[2:]).all()


def test_orgs_group_by_org_label():
    df = to_frame(
        [
            snap(0, "1", S.COMPLETED, (10, 9, 0, 1), org="acme-us"),
            snap(0, "2", S.COMPLETED, (10, 10, 0, 0), org="beta-us"),
            snap(0, "3", S.COMPLETED, (20, 18, 0, 2), org="acme-us", dc="eu"),
        ]
    )
    orgs = summarize_orgs(df).set_index("org")
    assert list(orgs.index) == ["acme-us", "beta-us"]
    assert (orgs.loc["acme-us", "n_jobs"], orgs.loc["acme-us", "leads_failed"]) == (2, 3)
    assert orgs.loc["acme-us", "failure_rate"] == pytest.approx(0.1)
    assert np.isnan(orgs.loc["beta-us", "throughput_leads_per_min"])  # one poll: zero span
    assert list(summarize_dcs(df)["dc"]) == ["eu", "us"]


def already_final_jobs() -> pd.DataFrame:
    """Yesterday's jobs: "1" and "2" completed at their first poll (0.2 s apart); "3" seen
    scheduled at 0 s, completed at 120 s; all in us. "4" (eu) final at its first poll too."""
    return to_frame(
        [
            snap(0.0, "1", S.COMPLETED, (50, 48, 0, 2)),
            snap(0.2, "2", S.COMPLETED, (45, 45, 0, 0)),
            snap(0.0, "3", S.SCHEDULED, (20, 0, 20, 0)),
            snap(120.0, "3", S.COMPLETED, (20, 19, 0, 1)),
            snap(0.1, "4", S.FAILED, (10, 5, 0, 5), dc="eu"),
        ]
    )


def test_a_job_final_at_its_first_poll_has_no_duration_or_rate():
    jobs = by_job(summarize_jobs(already_final_jobs()))
    for job in ("1", "2", "4"):
        assert np.isnan(jobs[job].duration_s) and np.isnan(jobs[job].leads_per_min), job
        assert jobs[job].finished_at == jobs[job].first_seen_at  # still known
    assert jobs["3"].duration_s == 120.0 and jobs["3"].leads_per_min == pytest.approx(10.0)


def test_group_timing_uses_only_jobs_with_an_observed_duration():
    df = already_final_jobs()
    for table, key in [(summarize_dcs(df), "dc"), (summarize_orgs(df), "org")]:
        t = table.set_index(key)
        # us: only job 3 counts, 20 leads in 2 minutes (not 115 leads in 120 s, nor in 0.2 s)
        assert t.loc["us", "median_duration_s"] == 120.0
        assert t.loc["us", "throughput_leads_per_min"] == pytest.approx(10.0)
        assert t.loc["us", "leads_total"] == 115  # the counts still include every job
        assert np.isnan(t.loc["eu", "median_duration_s"])
        assert np.isnan(t.loc["eu", "throughput_leads_per_min"])  # was 10 leads / 0 s
    only_final = df[df["job_id"].isin(["1", "2"])]
    t = summarize_dcs(only_final).iloc[0]
    assert np.isnan(t.median_duration_s) and np.isnan(t.throughput_leads_per_min)  # was 2.8e4


# --- progress_over_time -------------------------------------------------------------------


def test_progress_over_time_by_dc_by_hand():
    ts = progress_over_time(three_jobs(), by="dc", freq="1min")
    assert list(ts.columns) == ["time", "dc", "converted", "failed", "pending", "total"]
    assert str(ts["time"].dtype) == "datetime64[ns, UTC]" and str(ts["converted"].dtype) == "Int64"
    eu = ts[ts["dc"] == "eu"].set_index("time")
    assert list(eu.index) == [at(60 * k) for k in range(12)]  # 12:00 .. 12:11 (last poll 700 s)
    assert list(eu["failed"][:4]) == [0, 1, 2, 2] and list(eu["pending"][:3]) == [3, 2, 0]
    us = ts[ts["dc"] == "us"].set_index("time")  # job B (errors only) adds nothing
    assert list(us["converted"][:3]) == [10, 20, 20] and set(us["total"]) == {100}
    assert ts["time"].is_monotonic_increasing


def test_progress_over_time_by_job_and_org():
    df = three_jobs()
    jobs = progress_over_time(df, by="job", freq="5min")
    assert list(jobs.columns[:4]) == ["time", "org", "dc", "job_id"]
    assert set(jobs["job_id"]) == {JOB_A, JOB_C}
    last = jobs.groupby("job_id").last()
    assert last.loc[JOB_A, "converted"] == 1 and last.loc[JOB_C, "converted"] == 20
    orgs = progress_over_time(df, by="org", freq=pd.Timedelta("10min"))
    assert list(orgs.columns[:2]) == ["time", "org"] and len(orgs) == 4  # 12:00, 12:10 x eu, us


def test_progress_starts_when_first_seen():
    df = to_frame(
        [
            snap(0, "1", S.IN_PROGRESS, (10, 5, 5, 0)),
            snap(180, "2", S.IN_PROGRESS, (20, 0, 20, 0)),
            snap(240, "1", S.COMPLETED, (10, 10, 0, 0)),
        ]
    )
    ts = progress_over_time(df, freq="1min").set_index("time")
    assert list(ts["total"]) == [10, 10, 10, 30, 30]
    assert list(ts["converted"]) == [5, 5, 5, 5, 10]


@pytest.mark.parametrize(
    ("by", "freq", "bad"),
    [
        ("job_id", "1min", "'job_id'"),
        ("dc", "1ME", "'1ME'"),
        ("dc", "often", "'often'"),
        ("dc", "-1min", "'-1min'"),
        ("dc", 5, "5"),
    ],
)
def test_progress_over_time_validates(by, freq, bad):
    with pytest.raises(ConfigError, match=bad) as info:
        progress_over_time(three_jobs(), by=by, freq=freq)
    assert ("dc" in str(info.value) and "org" in str(info.value)) or "1min" in str(info.value)


def test_progress_over_time_empty_and_too_fine():
    ts = progress_over_time(empty_snapshots(), by="job")
    assert ts.empty and list(ts.columns) == [
        "time",
        "org",
        "dc",
        "job_id",
        "converted",
        "failed",
        "pending",
        "total",
    ]
    with pytest.raises(ConfigError, match="coarser"):
        progress_over_time(
            to_frame(
                [
                    snap(0, "1", S.IN_PROGRESS, (1, 0, 1, 0)),
                    snap(1e7, "1", S.IN_PROGRESS, (1, 0, 1, 0)),
                ]
            ),
            freq="1s",
        )


def test_many_jobs_summaries_are_consistent():
    df = many_jobs(n_jobs=900, n_polls=6)
    jobs, dcs = summarize_jobs(df), summarize_dcs(df)
    assert len(jobs) == 900 and len(dcs) == 9 and dcs["n_jobs"].sum() == 900
    assert dcs["leads_total"].sum() == jobs["total_count"].sum()
    status_cols = [c for c in GROUP_COLUMNS if c.startswith("n_") and c != "n_jobs"]
    assert (dcs[status_cols].sum(axis=1) == dcs["n_jobs"]).all()
    ts = progress_over_time(df, by="dc", freq="5min")
    final = ts[ts["time"] == ts["time"].max()]
    assert final["converted"].sum() == jobs["converted_count"].fillna(0).sum()


def test_failure_rate_mid_run_is_of_the_processed_leads_not_of_all():
    """85 of 246 leads processed, 2 failed: the rate is 2/85 (pending leads are not
    successes), its Wilson interval is over 85 leads, and it equals failed/total at the end."""
    df = to_frame(
        [
            snap(0, JOB_A, S.IN_PROGRESS, (246, 83, 161, 2), dc="eu"),
            snap(0, JOB_B, S.IN_PROGRESS, (50, 0, 50, 0), dc="us"),  # nothing processed
            snap(0, JOB_C, S.COMPLETED, (60, 57, 0, 3), dc="in"),
        ]
    )
    jobs = by_job(summarize_jobs(df))
    assert jobs[JOB_A].failure_rate == pytest.approx(2 / 85)
    assert np.isnan(jobs[JOB_B].failure_rate)  # no rate before a lead is processed
    assert jobs[JOB_C].failure_rate == pytest.approx(3 / 60)
    dcs = summarize_dcs(df).set_index("dc")
    assert dcs.loc["eu", "failure_rate"] == pytest.approx(2 / 85)
    lo, hi = wilson_interval(np.array([2]), np.array([85]))
    assert (dcs.loc["eu", "failure_rate_lo"], dcs.loc["eu", "failure_rate_hi"]) == pytest.approx(
        (lo[0], hi[0])
    )
    assert np.isnan(dcs.loc["us", "failure_rate"]) and np.isnan(dcs.loc["us", "failure_rate_hi"])
