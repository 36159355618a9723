"""viz/report.py: the overview figure, the report bundle and CSV formula neutralising."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from helpers_figures import cut_tick_labels  # noqa: E402
from helpers_frames import (  # noqa: E402
    JOB_A,
    JOB_B,
    JOB_C,
    dst_jobs,
    many_jobs,
    short_run,
    snap,
    three_jobs,
    wilson_dcs,
)
from matplotlib.figure import Figure  # noqa: E402

from zcrm_notebook.analysis.summary import (  # noqa: E402
    GROUP_COLUMNS,
    JOB_COLUMNS,
    summarize_dcs,
    summarize_jobs,
)
from zcrm_notebook.api.status import JobState as S  # noqa: E402
from zcrm_notebook.errors import ConfigError  # noqa: E402
from zcrm_notebook.snapshots.csvfile import read_snapshots  # noqa: E402
from zcrm_notebook.snapshots.frame import empty_snapshots, to_frame  # noqa: E402
from zcrm_notebook.viz.report import export_report, make_report, neutralize_formulas  # noqa: E402

FILES = {
    "snapshots": "snapshots.csv",
    "jobs": "jobs.csv",
    "dcs": "dcs.csv",
    "orgs": "orgs.csv",
    "overview": "overview.png",
    "progress": "progress.png",
    "failure_rate": "failure_rate.png",
    "outcomes": "outcomes.png",
    "status_timeline": "status_timeline.png",
    "readme": "README.md",
}


def test_make_report_is_a_2x2_figure_outside_pyplot():
    before = plt.get_fignums()
    fig = make_report(three_jobs(), tz="Europe/Paris")
    assert isinstance(fig, Figure) and plt.get_fignums() == before
    assert len(fig.axes) == 4
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("Conversion progress") and titles[1].startswith("Failed leads")
    assert titles[2].startswith("Lead outcomes") and titles[3].startswith("Job status")
    assert fig.axes[0].get_xlabel() == "time (Europe/Paris)"
    headline = fig.get_suptitle()
    # B never got a status (a job id Zoho does not know): not counted as a job (user trial)
    assert "2 jobs (+1 with no status) in 2 data centers" in headline and "103 leads" in headline
    assert titles[2].endswith("(2 of 2 by size)")  # B has no leads to draw
    assert "(Europe/Paris)" in headline


@pytest.mark.parametrize(
    "frame, tail",
    [
        (short_run, "polled 2026-01-01 01:00:17 to 01:01:05 (Europe/Paris), 48 s"),
        (lambda: short_run(0), "polled once, 2026-01-01 01:00:17 (Europe/Paris)"),
        (three_jobs, "polled 2026-03-28 13:00:00 to 13:11:40 (Europe/Paris), 11 min 40 s"),
        (dst_jobs, "polled 2026-03-29 01:00 to 04:00 (Europe/Paris), 2 h 00 min"),
    ],
)
def test_headline_shows_seconds_and_duration_of_short_runs(frame, tail):
    headline = make_report(frame(), tz="Europe/Paris").get_suptitle()
    assert headline.splitlines()[0].endswith(tail)


def test_a_long_headline_is_drawn_smaller_and_fits_in_the_figure():
    # a demo-sized run with a job id with no status, polled over two days: ~200 characters
    dcs = ["au", "eu", "in", "us"]
    rows = [
        snap(t, f"36523970000098351{i:02d}", S.COMPLETED, (250, 240, 0, 10), dc=dcs[i % 4])
        for i in range(36)
        for t in (0, 12)
    ]
    rows += [snap(t, JOB_B, S.ERROR, code="INVALID_DATA") for t in (0, 5, 10)]
    df = to_frame(rows)
    df.loc[df.index[-1], "polled_at"] += pd.Timedelta("2D")
    fig = make_report(df)
    title = fig._suptitle
    assert title is not None and len(title.get_text()) > 190
    fig.canvas.draw()
    box = title.get_window_extent()
    assert box.x0 >= 0 and box.x1 <= fig.bbox.width  # not cut at either edge


def test_headline_of_a_multi_day_run_writes_both_dates():
    df = three_jobs()
    df.loc[df.index[-1], "polled_at"] += pd.Timedelta("2D")
    headline = make_report(df).get_suptitle().splitlines()[0]
    assert headline.endswith("polled 2026-03-28 12:00 to 2026-03-30 12:11 (UTC), 2 d 0 h")


def no_1970(fig) -> bool:
    fig.draw_without_rendering()
    texts = [t.get_text() for ax in fig.axes for t in ax.get_xticklabels()]
    texts += [ax.xaxis.get_offset_text().get_text() for ax in fig.axes]
    return not any("1970" in t for t in texts)


def test_make_report_on_empty_frame_and_bad_zone():
    fig = make_report(empty_snapshots())
    assert "no snapshots" in fig.get_suptitle() and no_1970(fig)
    errors = to_frame([snap(0, JOB_B, S.ERROR, code="TOO_MANY_REQUESTS")])
    fig = make_report(errors)
    assert "0 jobs (+1 with no status) in 1 data center, 0 leads" in fig.get_suptitle()
    assert no_1970(fig)
    notes = [[t.get_text() for t in ax.texts] for ax in fig.axes]
    assert notes == [["no lead counts yet"]] * 3 + [[]]  # the timeline shows the job's row
    assert [t.get_text() for t in fig.axes[3].get_yticklabels()] == [f"{JOB_B} (us)"]
    with pytest.raises(ConfigError, match="Nowhere/City"):
        make_report(three_jobs(), tz="Nowhere/City")


@pytest.mark.parametrize("frame", [three_jobs, wilson_dcs, lambda: many_jobs(37, 4)])
def test_overview_annotations_stay_inside_their_axes(frame):
    fig = make_report(frame())
    fig.draw_without_rendering()
    for ax in fig.axes[1:3]:  # failure rate, outcomes
        box = ax.get_window_extent()
        for text in ax.texts:
            ext = text.get_window_extent()
            assert box.x0 <= ext.x0 and ext.x1 <= box.x1 and box.y0 <= ext.y0 <= ext.y1 <= box.y1
        assert ax.get_xlim()[0] == 0


def test_export_report_writes_every_file(tmp_path):
    df = three_jobs()
    before = df.copy()
    fignums = plt.get_fignums()
    paths = export_report(df, tmp_path / "out", tz="Europe/Paris")
    assert {k: p.name for k, p in paths.items()} == FILES
    assert all(p.exists() and p.stat().st_size > 0 for p in paths.values())
    assert all(
        p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        for k, p in paths.items()
        if k in ("overview", "progress", "failure_rate", "outcomes", "status_timeline")
    )
    pd.testing.assert_frame_equal(df, before)
    assert plt.get_fignums() == fignums
    pd.testing.assert_frame_equal(read_snapshots(paths["snapshots"]), df)


def test_summary_csvs_have_the_documented_columns(tmp_path):
    paths = export_report(wilson_dcs(), tmp_path)
    jobs = pd.read_csv(paths["jobs"], dtype={"job_id": str})
    assert list(jobs.columns) == list(JOB_COLUMNS) and len(jobs) == 61
    assert jobs["first_seen_at"].str.endswith("Z").all()
    dcs = pd.read_csv(paths["dcs"]).set_index("dc")
    assert list(dcs.columns) == list(GROUP_COLUMNS)
    assert dcs.loc["au", "failure_rate_lo"] == pytest.approx(0.2077, abs=1e-4)
    orgs = pd.read_csv(paths["orgs"])
    assert list(orgs.columns) == ["org", *GROUP_COLUMNS]
    readme = paths["readme"].read_text()
    for name in FILES.values():
        if name != "README.md":
            assert f"`{name}`" in readme or f"## {name}" in readme or name in readme
    for col in ["failure_rate_lo", "eta_at", "leads_per_min", "not_converted_count", "latency_s"]:
        assert f"`{col}`" in readme


def test_spreadsheet_csvs_neutralise_formulas_but_not_numbers(tmp_path):
    evil = '=HYPERLINK("http://x","y")'
    df = to_frame(
        [
            snap(0, JOB_A, S.IN_PROGRESS, (10, 2, 8, 0), org=evil),
            snap(60, JOB_A, S.ERROR, org=evil, code="@SUM(A1)"),
            snap(0, JOB_C, S.IN_PROGRESS, (10, 1, 9, 0), org="+cmd"),
        ]
    )
    paths = export_report(df, tmp_path)
    jobs = pd.read_csv(paths["jobs"], dtype=str, keep_default_na=False)
    assert set(jobs["org"]) == {"'" + evil, "'+cmd"}
    assert "'@SUM(A1)" in set(jobs["last_error_code"])
    assert set(pd.read_csv(paths["orgs"], dtype=str)["org"]) == {"'" + evil, "'+cmd"}
    snaps = pd.read_csv(paths["snapshots"], dtype=str)
    assert snaps["org"].str.startswith("'").all()
    assert read_snapshots(paths["snapshots"])["org"].iloc[0] == evil  # undone on read
    raw = export_report(df, tmp_path / "raw", spreadsheet_safe=False)
    assert evil in set(pd.read_csv(raw["jobs"], dtype=str)["org"])


def test_an_empty_text_stays_an_empty_cell_in_the_csv_and_the_workbook(tmp_path):
    import openpyxl

    df = to_frame([snap(0, JOB_A, S.COMPLETED, (10, 10, 0, 0))])  # no flags: ""
    assert summarize_jobs(df)["flags"].tolist() == [""]
    paths = export_report(df, tmp_path, formats=("csv", "xlsx"))
    with open(paths["jobs"], newline="", encoding="utf-8") as fh:
        header, row = list(csv.reader(fh))
    assert row[header.index("flags")] == ""
    assert "'" not in paths["jobs"].read_text()
    sheet = openpyxl.load_workbook(paths["workbook"])["jobs"]
    flags = [c.value for c in sheet[1]].index("flags") + 1
    assert sheet.cell(row=2, column=flags).value in (None, "")
    assert "'" not in {c.value for row in sheet.iter_rows() for c in row}
    pd.testing.assert_frame_equal(read_snapshots(paths["snapshots"]), df)


def test_neutralize_formulas_text_only():
    df = pd.DataFrame(
        {
            "text": pd.array(["=1+2", "+x", "-y", "@z", "\tq", "\rr", "ok", None], dtype="string"),
            "obj": ["-3", "a", "=b", "c", "d", "e", "f", "g"],
            "n": [-1, 2, -3, 4, 5, 6, 7, 8],
            "x": [-1.5, 0.0, 1, 2, 3, 4, 5, 6],
        }
    )
    before = df.copy()
    out = neutralize_formulas(df)
    assert list(out["text"][:7]) == ["'=1+2", "'+x", "'-y", "'@z", "'\tq", "'\rr", "ok"]
    assert pd.isna(out["text"].iloc[7]) and out["obj"].iloc[2] == "'=b"
    assert out["n"].tolist() == df["n"].tolist() and out["n"].dtype == df["n"].dtype
    assert out["x"].tolist() == df["x"].tolist() and out["x"].dtype == df["x"].dtype
    pd.testing.assert_frame_equal(df, before)


# --- export folder safety -------------------------------------------------------------------


def test_export_refuses_a_folder_with_the_users_files(tmp_path):
    (tmp_path / "jobs.csv").write_text("job_id,org\n1,mine\n")
    (tmp_path / "notes.txt").write_text("my notes")
    with pytest.raises(ConfigError) as err:
        export_report(three_jobs(), tmp_path)
    msg = str(err.value)
    assert str(tmp_path) in msg and "jobs.csv" in msg and "not written by" in msg
    assert "overwrite" not in msg.replace(str(tmp_path), "") and "\n" not in msg
    assert (tmp_path / "jobs.csv").read_text() == "job_id,org\n1,mine\n"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jobs.csv", "notes.txt"]


def test_export_refuses_a_foreign_readme_even_without_clashing_csvs(tmp_path):
    (tmp_path / "README.md").write_text("# my project\n")
    with pytest.raises(ConfigError, match="README.md"):
        export_report(three_jobs(), tmp_path)
    assert (tmp_path / "README.md").read_text() == "# my project\n"


def test_export_replaces_only_its_own_previous_bundle(tmp_path):
    first = export_report(three_jobs(), tmp_path / "r")
    assert first["readme"].read_text().splitlines()[0].startswith("<!-- zcrm_notebook report")
    (tmp_path / "r" / ".DS_Store").write_bytes(b"\0")  # OS litter does not count
    df = wilson_dcs()
    again = export_report(df, tmp_path / "r")  # a re-export needs no overwrite
    assert read_snapshots(again["snapshots"]).equals(df)
    (tmp_path / "r" / "mine.txt").write_text("x")
    with pytest.raises(ConfigError, match="not a previous report: it holds mine.txt; "):
        export_report(df, tmp_path / "r")  # (it read "exporting holds mine.txt": trial 6)


def test_overwrite_writes_the_bundle_and_leaves_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="it holds notes.txt; .* or pass overwrite=True"):
        export_report(three_jobs(), tmp_path)
    paths = export_report(three_jobs(), tmp_path, overwrite=True)
    assert {p.name for p in paths.values()} <= {p.name for p in tmp_path.iterdir()}
    assert (tmp_path / "notes.txt").read_text() == "mine"
    export_report(three_jobs(), tmp_path, overwrite=True)  # again: the bundle is ours now


@pytest.mark.parametrize("name", ["README.md", "jobs.csv", "overview.png"])
def test_overwrite_never_replaces_a_users_file_of_a_bundle_name(tmp_path, name):
    """Trial 7: --overwrite, offered by the refusal, replaced the user's own README.md."""
    (tmp_path / name).write_text("mine")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError) as err:
        export_report(three_jobs(), tmp_path, overwrite=True)
    assert f"holds {name}, not written by export_report" in str(err.value)
    assert "overwrite" not in str(err.value).replace(str(tmp_path), "")  # not offered
    assert (tmp_path / name).read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({name, "notes.txt"})


@pytest.mark.parametrize("name", ["", "   "])
def test_export_refuses_an_empty_folder_name(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="no export folder"):
        export_report(three_jobs(), name)
    assert list(tmp_path.iterdir()) == []


def test_export_into_a_file_or_under_a_file_is_a_one_line_config_error(tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        export_report(three_jobs(), tmp_path / "a-file")
    with pytest.raises(ConfigError, match="cannot be created") as err:
        export_report(three_jobs(), tmp_path / "a-file" / "report")
    assert "Errno" not in str(err.value) and "\n" not in str(err.value)


def test_cli_report_and_demo_can_rerun_into_the_same_folder(tmp_path, capsys):
    from zcrm_notebook.cli import main
    from zcrm_notebook.snapshots.csvfile import write_snapshots_csv

    write_snapshots_csv(three_jobs(), tmp_path / "s.csv")
    for _ in range(2):
        assert main(["report", str(tmp_path / "s.csv"), "--out", str(tmp_path / "rep")]) == 0
    (tmp_path / "rep" / "mine.txt").write_text("x")
    assert main(["report", str(tmp_path / "s.csv"), "--out", str(tmp_path / "rep")]) == 1
    assert "mine.txt" in capsys.readouterr().err
    for _ in range(2):  # the demo writes DIR/report afresh: a second run replaces it
        argv = ["demo", "--out", str(tmp_path / "demo"), "--no-progress", "--jobs", "3"]
        assert main([*argv, "--speed", "400"]) == 0
    assert (tmp_path / "demo" / "report" / "overview.png").is_file()


# --- Excel and Parquet -------------------------------------------------------------------


def test_the_bundle_tables_as_an_excel_workbook_and_parquet_files(tmp_path):
    import openpyxl

    evil = '=HYPERLINK("http://x","y")'
    df = to_frame(
        [
            snap(0, JOB_C, S.IN_PROGRESS, (5, 1, 4, 0), dc="eu"),
            snap(9, JOB_A, S.ERROR, org=evil, code="X"),
        ]
    )
    paths = export_report(df, tmp_path, formats=("csv", "xlsx", "parquet"))
    assert paths["workbook"].name == "report.xlsx" and paths["jobs"].name == "jobs.csv"
    book = openpyxl.load_workbook(paths["workbook"])
    assert book.sheetnames == ["snapshots", "jobs", "dcs", "orgs"]
    jobs = pd.read_excel(paths["workbook"], sheet_name="jobs", dtype={"job_id": str})
    assert jobs["job_id"].tolist() == summarize_jobs(df)["job_id"].tolist()  # ids as text
    sheet = book["snapshots"]
    assert sheet.max_row == len(df) + 1 and sheet["B2"].value == "eu"
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)  # no formula
    assert pd.read_excel(paths["workbook"], sheet_name="snapshots")["polled_at"].iloc[0] == (
        df["polled_at"].iloc[0].tz_convert(None)
    )
    snapshots = pd.read_parquet(paths["snapshots_parquet"])
    pd.testing.assert_frame_equal(snapshots, df)  # exact dtypes, no neutralising
    pd.testing.assert_frame_equal(pd.read_parquet(paths["dcs_parquet"]), summarize_dcs(df))
    readme = paths["readme"].read_text()
    assert "`report.xlsx`" in readme and "`jobs.parquet`" in readme


def test_re_exporting_with_fewer_formats_removes_the_old_files(tmp_path):
    export_report(three_jobs(), tmp_path, formats=("xlsx", "parquet"))
    assert (tmp_path / "report.xlsx").exists() and not (tmp_path / "jobs.csv").exists()
    paths = export_report(three_jobs(), tmp_path, formats="csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths.values())


def test_bad_formats_and_a_missing_openpyxl_are_refused_before_writing(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"unknown table format \['pdf'\]: use one or more of"):
        export_report(three_jobs(), tmp_path / "a", formats=("csv", "pdf"))
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "openpyxl" else real(name)
    )
    with pytest.raises(ConfigError, match=r"pip install 'zcrm-notebook\[excel\]'"):
        export_report(three_jobs(), tmp_path / "b", formats="xlsx")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_report_writes_the_formats_asked(tmp_path, capsys):
    from zcrm_notebook.cli import main
    from zcrm_notebook.cli.report import TABLE_FORMATS
    from zcrm_notebook.snapshots.csvfile import write_snapshots_csv
    from zcrm_notebook.viz.tablefiles import FORMATS

    assert TABLE_FORMATS == FORMATS
    write_snapshots_csv(three_jobs(), tmp_path / "s.csv")
    argv = ["report", str(tmp_path / "s.csv"), "--out", str(tmp_path / "rep")]
    assert main([*argv, "--format", "xlsx", "--format", "parquet"]) == 0
    out = capsys.readouterr().out
    assert "report.xlsx" in out and "snapshots.parquet" in out and "jobs.csv" not in out


# -- a conversion whose not-converted leads were retried ---------------------------------------


def retried_run() -> tuple[pd.DataFrame, pd.DataFrame]:
    """10 us leads: job A converts 8 and fails 2; job B retries those 2 and fails them again.
    The jobs count 12 lead attempts (4 failed); the leads are 10 (2 not converted)."""
    from zcrm_notebook.convert import LeadOutcome, outcomes_frame

    df = to_frame(
        [
            snap(0, JOB_A, S.IN_PROGRESS, (10, 4, 6, 0)),
            snap(30, JOB_A, S.COMPLETED, (10, 8, 0, 2)),
            snap(60, JOB_B, S.COMPLETED, (2, 0, 0, 2)),
        ]
    )
    ids = [str(10**18 + i) for i in range(10)]
    first = [LeadOutcome("us", "us", i, JOB_A, 1, "converted") for i in ids[:8]]
    first += [LeadOutcome("us", "us", i, JOB_A, 1, "not_converted") for i in ids[8:]]
    retry = [LeadOutcome("us", "us", i, JOB_B, 2, "not_converted") for i in ids[8:]]
    return df, outcomes_frame(first + retry)  # every attempt of a lead: 12 rows


def test_a_retried_lead_counts_once_and_job_totals_say_what_they_are(tmp_path, monkeypatch):
    df, leads = retried_run()
    fig = make_report(df, leads=leads)
    once, jobs = fig.get_suptitle().split("\n")
    assert once.startswith("Mass convert: 10 leads (each lead's last attempt): ")
    assert "8 converted, 2 not converted; polled " in once
    assert jobs.startswith(
        "job totals (a retried lead counts once per job): 2 jobs in 1 data center, "
        "12 lead attempts, 8 converted, 4 failed (33.3% of processed), 0 pending"
    )
    plain = make_report(df).get_suptitle()  # no leads: the job counts as before
    assert plain.startswith("Mass convert: 2 jobs in 1 data center, 12 leads, 8 converted")
    drawn: dict[str, list[str]] = {}

    def record(self, path, **kwargs):  # what every figure of the bundle says
        self.draw_without_rendering()
        texts = [t.get_text() for ax in self.axes for t in (ax.title, *ax.texts)]
        texts += [ax.get_xlabel() + " | " + ax.get_ylabel() for ax in self.axes]
        drawn[Path(path).stem] = [self.get_suptitle(), *texts]

    monkeypatch.setattr(Figure, "savefig", record)
    paths = export_report(df, tmp_path / "r", leads=leads)
    assert "job totals (a retried lead counts once per job): 2 jobs" in drawn["overview"][0]
    for stem in ("overview", "failure_rate"):
        assert "4 / 12 processed lead attempts failed" in drawn[stem], drawn[stem]
        assert "Failed lead attempts by data center\n(job totals)" in drawn[stem]
    lead_words = re.compile(r"\d (processed )?leads failed")
    assert not [t for texts in drawn.values() for t in texts if lead_words.search(t)]
    for stem in ("progress", "outcomes"):
        assert drawn[stem][0] == "" and drawn[stem][1].endswith("job totals)"), drawn[stem]
        assert "lead attempts" in drawn[stem][-1]
    assert drawn["lead_outcomes"][1] == "Lead outcomes per data center (10 leads)"
    readme = paths["readme"].read_text(encoding="utf-8")
    assert readme.count("job totals (a retried lead counts once per job)") == 3  # 3 tables
    assert "the outcome `not_converted` here is final" in readme  # not the pending count
    assert len(pd.read_csv(paths["leads"])) == 12  # the table as given, every attempt


def test_every_tick_label_of_the_bundle_lies_inside_its_figure(tmp_path, monkeypatch):
    df, leads = retried_run()
    cut: dict[str, list[str]] = {}

    def record(self, path, **kwargs):
        self.draw_without_rendering()
        cut[Path(path).stem] = cut_tick_labels(self)

    monkeypatch.setattr(Figure, "savefig", record)
    export_report(three_jobs(), tmp_path / "a", tz="Europe/Paris")
    export_report(df, tmp_path / "b", leads=leads)
    assert len(cut) == 6 and not any(cut.values()), cut


def test_the_report_groups_its_figures_by_org_when_asked(tmp_path):
    fig = make_report(three_jobs(), by="org")
    titles = [ax.get_title() for ax in fig.axes[:2]]
    assert titles == ["Conversion progress by org", "Failed leads by org"]
    paths = export_report(three_jobs(), tmp_path / "r", by="org")
    readme = paths["readme"].read_text()
    assert "over time per org" in readme and "failure rate per org" in readme
    assert "over time per data center" not in readme
    assert paths["orgs"].is_file() and paths["dcs"].is_file()  # the tables: both, as before
    with pytest.raises(ConfigError, match=r"^by='job': expected one of 'dc', 'org'$"):
        export_report(three_jobs(), tmp_path / "bad", by="job")
    with pytest.raises(ConfigError, match=r"^by=\['dc'\]: expected one of 'dc', 'org'$"):
        export_report(three_jobs(), tmp_path / "bad", by=["dc"])  # was TypeError
    assert not (tmp_path / "bad").exists()


def test_a_partial_run_says_how_many_jobs_were_not_final_in_headline_and_readme(tmp_path):
    df = three_jobs()  # B: no status, C: in progress when the snapshots end
    headline = make_report(df).get_suptitle().splitlines()
    assert headline[-1] == "Partial run: 1 job not final when the run ended"  # C, not B
    paths = export_report(df, tmp_path / "r")
    readme = paths["readme"].read_text(encoding="utf-8")
    assert "**Partial run: 1 job not final when the run ended.**" in readme
    # a finished run beside a job id Zoho does not know (no status) is not partial (user
    # trial: every demo and notebook report said "Partial run: 1 job not final")
    known_and_unknown = df[df["job_id"] != JOB_C].reset_index(drop=True)
    assert "not final" not in make_report(known_and_unknown).get_suptitle()
    done = df[df["job_id"] == JOB_A].reset_index(drop=True)
    assert "not final" not in make_report(done).get_suptitle()
    again = export_report(done, tmp_path / "r")["readme"].read_text(encoding="utf-8")
    assert "Partial run" not in again
