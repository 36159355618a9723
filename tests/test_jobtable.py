"""viz/jobtable.py: the compact, formatted job table (a Styler over the raw summary)."""

import re
from html import unescape

import pandas as pd
import pytest
from helpers_frames import JOB_A, JOB_B, JOB_C, three_jobs

import zcrm_notebook as zn
from zcrm_notebook.errors import ConfigError
from zcrm_notebook.viz.jobtable import COMPACT_COLUMNS, hms
from zcrm_notebook.viz.style import STATUS_COLORS


def cells(styler) -> dict[str, list[str]]:
    """Displayed text of each column, by header word."""
    html = styler.to_html()
    heads = re.findall(r"<th [^>]*>(.*?)</th>", html)
    rows = [re.findall(r"<td [^>]*>(.*?)</td>", row) for row in html.split("<tr>")[2:]]
    return {h: [unescape(r[i]) for r in rows] for i, h in enumerate(heads)}


def test_the_view_is_compact_and_formatted_while_the_frame_stays_raw():
    jobs = zn.summarize_jobs(three_jobs())
    before = jobs.copy()
    styler = zn.style_jobs(jobs)
    shown = cells(styler)
    assert list(shown) == list(COMPACT_COLUMNS.values())
    assert shown["job id"] == [JOB_A, JOB_B, JOB_C]
    assert shown["status"] == ["completed", "no status (ReadTimeout)", "in progress"]
    assert shown["processed"] == ["100%", "", "20%"]
    assert shown["failure rate"] == ["66.7%", "", "0.0%"]
    assert shown["duration"] == ["0:02:00", "", ""]
    assert shown["leads"] == ["3", "", "100"]
    pd.testing.assert_frame_equal(jobs, before)  # nothing changed in the frame
    pd.testing.assert_frame_equal(styler.data, jobs[list(COMPACT_COLUMNS)])
    html = styler.to_html()
    assert f"border-left: 0.6em solid {STATUS_COLORS['in_progress']}" in html
    assert "white-space: nowrap" in html  # "in-org" stays on one line in a narrow cell
    assert re.search(r"th \{\s*white-space: normal", html)  # two-word headers may wrap


def test_columns_can_be_chosen_and_unknown_ones_are_named():
    jobs = zn.summarize_jobs(three_jobs())
    assert list(cells(zn.style_jobs(jobs, columns=["status", "job_id"]))) == ["status", "job id"]
    with pytest.raises(ConfigError, match=r"no column \['eta'\]"):
        zn.style_jobs(jobs, columns=["status", "eta"])
    with pytest.raises(ConfigError, match="give summarize_jobs"):
        zn.style_jobs(three_jobs())  # the snapshot frame, not the summary


def test_durations_read_as_hours_minutes_seconds():
    assert [hms(s) for s in (0, 59.6, 100, 3600, 93784)] == [
        "0:00:00",
        "0:01:00",
        "0:01:40",
        "1:00:00",
        "26:03:04",
    ]


def test_a_job_without_status_shows_its_error_code_as_the_dashboard_does():
    jobs = zn.summarize_jobs(three_jobs())
    code = jobs.loc[jobs["job_id"] == JOB_B, "last_error_code"].iloc[0]
    assert isinstance(code, str) and code  # the frame's job B got an error answer
    assert cells(zn.style_jobs(jobs))["status"][1] == f"no status ({code})"
    assert cells(zn.style_jobs(jobs.iloc[::-1]))["status"][1] == f"no status ({code})"
    plain = zn.style_jobs(jobs.drop(columns="last_error_code"), columns=["job_id", "status"])
    assert cells(plain)["status"][1] == "no status"


def test_a_servers_code_and_a_files_org_are_shown_escaped_never_as_html():
    """An error code from a status answer (``<img src=x onerror=...>``) was written raw
    into the table's HTML, which a notebook renders: a server's script in the browser."""
    jobs = zn.summarize_jobs(three_jobs())
    hostile = "<img src=x onerror=alert(1)>"
    jobs.loc[jobs["job_id"] == JOB_B, "last_error_code"] = hostile
    jobs.loc[jobs["job_id"] == JOB_A, "org"] = "<b>org</b>"
    html = zn.style_jobs(jobs, columns=["job_id", "org", "status"]).to_html()
    assert "<img" not in html and "<b>" not in html
    shown = cells(zn.style_jobs(jobs, columns=["job_id", "org", "status"]))
    assert f"no status ({hostile})" in shown["status"] and "<b>org</b>" in shown["org"]
