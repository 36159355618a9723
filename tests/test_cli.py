"""The command line: demo end to end, one-line errors, report from CSV and store."""

import logging
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import sim_orgs

from zcrm_notebook.api.status import JobState
from zcrm_notebook.cli import main
from zcrm_notebook.cli.entry import COMMANDS, build_parser, log_level
from zcrm_notebook.snapshots.csvfile import read_snapshots
from zcrm_notebook.snapshots.frame import SNAPSHOT_COLUMNS
from zcrm_notebook.snapshots.schema import Snapshot
from zcrm_notebook.snapshots.store import SnapshotStore

REPORT_FILES = {"snapshots.csv", "jobs.csv", "dcs.csv", "orgs.csv", "README.md", "overview.png"}


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--no-progress", "--speed", "200"]) == 0
    return out


def test_demo_writes_snapshots_with_exact_columns(demo_dir):
    header = (demo_dir / "snapshots.csv").read_text().splitlines()[0]
    assert header.split(",") == SNAPSHOT_COLUMNS
    df = read_snapshots(demo_dir / "snapshots.csv")
    assert df["dc"].nunique() >= 4 and df["job_id"].nunique() >= 31
    last = df.groupby("job_id")["status"].last().astype(str)
    assert (last == "error").sum() == 1 and set(last) == {"completed", "failed", "error"}


def test_demo_prints_the_job_table_and_paths(tmp_path, capsys):
    assert (
        main(["demo", "--out", str(tmp_path), "--no-progress", "--speed", "200", "--jobs", "6"])
        == 0
    )
    out = capsys.readouterr().out
    assert "job id" in out and "converted" in out and "INVALID_DATA" in out
    assert str(tmp_path / "snapshots.csv") in out and "report" in out
    assert {p.name for p in (tmp_path / "report").iterdir()} >= REPORT_FILES


def test_report_from_csv_and_store_write_every_file(demo_dir, tmp_path):
    assert main(["report", str(demo_dir / "snapshots.csv"), "--out", str(tmp_path / "a")]) == 0
    assert {p.name for p in (tmp_path / "a").iterdir()} >= REPORT_FILES
    df = read_snapshots(demo_dir / "snapshots.csv")
    with SnapshotStore(tmp_path / "s.sqlite") as store:
        store.extend([_snapshot(row) for row in df.itertuples(index=False)])
    assert (
        main(
            [
                "report",
                str(tmp_path / "s.sqlite"),
                "--out",
                str(tmp_path / "b"),
                "--tz",
                "Europe/Paris",
            ]
        )
        == 0
    )
    pd.testing.assert_frame_equal(read_snapshots(tmp_path / "b" / "snapshots.csv"), df)


def _snapshot(row) -> Snapshot:
    values = [None if pd.isna(v) else v for v in row]
    values[0] = row.polled_at.timestamp()
    values[4] = JobState(row.status)
    return Snapshot(*values)


@pytest.mark.parametrize(
    "argv, text",
    [
        (["poll", "missing.csv", "--out", "x.csv", "--config", "nope.toml"], "does not exist"),
        (["report", "missing.csv", "--out", "d"], "does not exist"),
        # no config at all: the missing file is still what is named (not "no org configured")
        (["poll", "missing.csv", "--out", "x.csv"], "jobs file 'missing.csv' does not exist"),
        (["convert", "nosuch.csv", "--out", "o"], "leads file 'nosuch.csv' does not exist"),
        (["convert", ".", "--out", "o"], "leads file '.' is a folder; give a CSV file"),
    ],
)
def test_errors_are_one_line_and_nonzero(tmp_path, monkeypatch, capsys, argv, text):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and text in err and err.count("\n") == 1
    assert "Traceback" not in err


def test_bad_job_ids_are_listed_before_any_call(tmp_path, capsys):
    (tmp_path / "c.toml").write_text(
        '[orgs.a]\ndc = "us"\nclient_id = "x"\nclient_secret = "yyyyyy"\nrefresh_token = "zzzzzz"\n'
    )
    # numbered as a spreadsheet shows the file: header = line 1, the blank line counts
    (tmp_path / "jobs.csv").write_text("job_id,org\n12.5,a\n\n1e18,a\n,a\n99,b\n7,\n")
    code = main(
        [
            "poll",
            str(tmp_path / "jobs.csv"),
            "--config",
            str(tmp_path / "c.toml"),
            "--out",
            str(tmp_path / "s.csv"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "5 bad rows" in err
    for line in ("line 2: '12.5'", "line 4: '1e18'", "line 5: '': empty", "line 6: '99'"):
        assert line in err
    assert "line 7: '7': empty org (configured orgs: a)" in err and "row" not in err[20:]
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize(
    "argv, text",
    [
        (["demo", "--min-interval", "-1"], "--min-interval: '-1' is out of range"),
        (["demo", "--jobs", "0"], "--jobs: '0' is out of range"),
        (["demo", "--speed", "nan"], "--speed: 'nan' is out of range"),
        (["demo", "--budget", "0"], "--budget"),
        (["simulate", "--port", "99999"], "a port 0-65535"),
        (["demo", "--timeout", "soon"], "'soon' is not a positive number"),
    ],
)
def test_bad_numbers_are_usage_errors_naming_the_option(argv, text, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and text in err and "Traceback" not in err


def test_out_is_checked_before_any_call(tmp_path, capsys):
    (tmp_path / "jobs.csv").write_text("job_id,org\n1,a\n")
    (tmp_path / "c.toml").write_text(
        '[orgs.a]\ndc = "us"\nclient_id = "x"\nclient_secret = "yyyyyy"\nrefresh_token = "zzzzzz"\n'
    )
    for out, text in [
        (str(tmp_path), "is a folder"),
        (str(tmp_path / "new") + "/", "is a folder"),
        (str(tmp_path / "jobs.csv"), "is the input file"),
    ]:
        code = main(
            ["poll", str(tmp_path / "jobs.csv"), "--config", str(tmp_path / "c.toml"), "--out", out]
        )
        err = capsys.readouterr().err
        assert code == 1 and "--out" in err and text in err, err


def test_verbose_flag_after_the_command(tmp_path, capsys):
    assert (
        main(
            ["demo", "-v", "--out", str(tmp_path), "--no-progress", "--speed", "300", "--jobs", "3"]
        )
        == 0
    )


COMMAND_ARGS = {
    "demo": [],
    "simulate": [],
    "poll": ["jobs.csv", "--out", "s.csv"],
    "report": ["s.csv", "--out", "report"],
    "auth": ["--status"],
    "convert": ["leads.csv", "--config", "c.toml", "--store", "r.sqlite", "--out", "o"],
}


@pytest.mark.parametrize("command", COMMAND_ARGS)
@pytest.mark.parametrize(
    ("before", "after", "level"),
    [
        ([], [], logging.WARNING),
        (["-v"], [], logging.INFO),
        ([], ["-v"], logging.INFO),
        ([], ["-vv"], logging.DEBUG),
        (["-v"], ["--verbose"], logging.DEBUG),
    ],
)
def test_verbose_before_or_after_every_command(command, before, after, level):
    assert set(COMMAND_ARGS) == {c.__name__.rsplit(".", 1)[1] for c in COMMANDS}
    rest = COMMAND_ARGS[command]
    for argv in ([*before, command, *after, *rest], [*before, command, *rest, *after]):
        assert log_level(build_parser().parse_args(argv)) == level, argv


@pytest.fixture
def sim_files(tmp_path):
    """A running simulator (accelerated clock) with its config and jobs CSV in tmp_path."""
    from zcrm_notebook.simulator import SimClock, default_scenario

    with default_scenario(n_jobs=8, clock=SimClock(speed=100.0)) as sim:
        sim.write_config(tmp_path / "sim.toml")
        sim.write_jobs_csv(tmp_path / "jobs.csv")
        yield sim


def poll_sim(tmp_path) -> int:
    """``zcrm-notebook poll`` of the simulator's jobs into tmp_path/s.csv; the exit code."""
    jobs, config, out = (str(tmp_path / name) for name in ("jobs.csv", "sim.toml", "s.csv"))
    args = ["--config", config, "--out", out, "--no-progress", "--min-interval", "0.2"]
    return main(["poll", jobs, *args])


def test_wrong_client_secret_exits_1_with_the_org_error(tmp_path, capsys, sim_files):
    text = (tmp_path / "sim.toml").read_text()
    secret = sim_files.org_config("us-org")["client_secret"]
    (tmp_path / "sim.toml").write_text(text.replace(secret, "wrong-secret-value"))
    code = poll_sim(tmp_path)
    err = capsys.readouterr().err
    assert code == 1 and "org us-org (us) failed: invalid_client_secret" in err
    df = read_snapshots(tmp_path / "s.csv")
    assert set(df.loc[df.org == "us-org", "status"].astype(str)) == {"error"}
    assert (df.loc[df.org != "us-org", "status"] != "error").any()


def test_invalid_url_pattern_exits_1_with_one_line_naming_api_domain_and_version(
    tmp_path, capsys, sim_files
):
    us_jobs = sim_files.job_ids("us-org")
    sim_files.faults.script.update({job: ["404"] * 3 for job in us_jobs})
    code = poll_sim(tmp_path)
    us_calls, api_domain = sim_files.stats.status_requests["us-org"], sim_files.api_domain("us")
    err = capsys.readouterr().err
    line = [e for e in err.splitlines() if e.startswith("error: org us-org")]
    assert code == 1 and len(line) == 1
    assert (
        "failed: INVALID_URL_PATTERN" in line[0] and "/crm/v5/Leads/actions/mass_convert" in line[0]
    )
    assert f"api_domain ({api_domain})" in line[0] and "api_version (v5)" in line[0]
    assert us_calls <= len(us_jobs)
    df = read_snapshots(tmp_path / "s.csv")
    us = df[df.org == "us-org"]
    assert set(us["error_code"]) == {"INVALID_URL_PATTERN"} and len(us) == len(us_jobs)
    assert (df.loc[df.org != "us-org", "status"] == "completed").any()


def test_report_of_a_csv_with_a_bad_time_is_one_line(tmp_path, demo_dir, capsys):
    lines = (demo_dir / "snapshots.csv").read_text().splitlines()
    first = lines[1].split(",", 1)
    (tmp_path / "bad.csv").write_text("\n".join([lines[0], "yesterday," + first[1]]) + "\n")
    assert main(["report", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "polled_at" in err and "yesterday" in err


def test_spreadsheet_mangled_ids_are_refused(tmp_path, demo_dir, capsys):
    text = (demo_dir / "snapshots.csv").read_text()
    job = read_snapshots(demo_dir / "snapshots.csv")["job_id"].iloc[0]
    (tmp_path / "m.csv").write_text(text.replace(job, "1.88E+18"))
    assert main(["report", str(tmp_path / "m.csv"), "--out", str(tmp_path / "r")]) == 1
    assert "1.88E+18" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and "zcrm-notebook" in capsys.readouterr().out


def test_python_dash_m_works():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "zcrm_notebook", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "demo" in done.stdout and "poll" in done.stdout


def test_frame_is_equal_after_report_round_trip(demo_dir, tmp_path):
    df = read_snapshots(demo_dir / "snapshots.csv")
    main(["report", str(demo_dir / "snapshots.csv"), "--out", str(tmp_path)])
    pd.testing.assert_frame_equal(read_snapshots(tmp_path / "snapshots.csv"), df)


def test_a_deadline_before_any_answer_says_so_with_the_last_error_per_org(tmp_path, capsys):
    # the 500 is retried (no row yet); the deadline comes before the retry (manual clock)
    from zcrm_notebook.cli.common import finish_run
    from zcrm_notebook.poll import Poller
    from zcrm_notebook.poll.policy import PollPolicy
    from zcrm_notebook.simulator import Faults, SimClock, SimJob, SimOrg, Simulator

    clock, job = SimClock(), SimJob("1111111111111111111", "us-org", 10)
    org = SimOrg("us-org", "us", "cid", "csecret-1", "rtoken-1")
    faults = Faults(script={job.job_id: ["500"] * 5})
    with Simulator([org], [job], clock=clock, faults=faults) as sim:
        policy = PollPolicy(seed=1, deadline_s=1.0)
        jobs, orgs = {"us-org": [job.job_id]}, sim_orgs(sim)
        p = Poller(jobs, orgs, clock=clock.time, sleep=clock.sleep, policy=policy)
        df = p.run()
    assert len(df) == 0 and p.stopped_reason == "deadline"
    code = finish_run(p, df, tmp_path / "s.csv")
    out, err = capsys.readouterr()
    assert code == 1 and "Empty DataFrame" not in out and "see the error column" not in err
    line = [e for e in err.splitlines() if e.startswith("error:")]
    assert len(line) == 1 and line[0].startswith("error: no answer arrived; last error per org:")
    assert "us-org (us): INTERNAL_ERROR" in line[0]


def test_simulate_refuses_to_replace_the_users_jobs_leads_or_config(tmp_path, capsys):
    config, jobs, leads = (tmp_path / n for n in ("sim.toml", "jobs.csv", "leads.csv"))
    jobs.write_text("job_id,org\n1234567890123456789,mine\n")
    argv = ["simulate", "--write-config", str(config)]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: --jobs-csv {str(jobs)!r} exists with other content; choose another path "
        "with --jobs-csv, or pass --overwrite"
    )
    assert jobs.read_text() == "job_id,org\n1234567890123456789,mine\n"
    assert not config.exists() and not leads.exists()  # nothing written
    jobs.unlink()
    config.write_text("[orgs.acme]\nclient_secret = 'real'\n")
    assert main(argv) == 1
    assert "--write-config" in capsys.readouterr().err and "real" in config.read_text()


def test_simulate_rewrites_the_same_jobs_csv_of_a_previous_run(tmp_path):
    from zcrm_notebook.cli.simulate import _check_same
    from zcrm_notebook.simulator import SimClock, default_scenario

    with default_scenario(clock=SimClock()) as sim:
        sim.write_jobs_csv(tmp_path / "jobs.csv")
    with default_scenario(clock=SimClock()) as sim:  # same seed: same ids
        _check_same(sim.write_jobs_csv, tmp_path / "jobs.csv", "--jobs-csv")  # no error


def test_report_of_a_csv_that_is_not_a_snapshot_csv_names_the_file(tmp_path, capsys):
    (tmp_path / "jobs.csv").write_text("job_id,org\n1234567890123456789,a\n")
    assert main(["report", str(tmp_path / "jobs.csv"), "--out", str(tmp_path / "rep")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {str(tmp_path / 'jobs.csv')!r} is not a snapshot CSV (missing")
    assert len(err.splitlines()) == 1 and len(err) < 200


def test_report_into_a_folder_of_other_files_says_overwrite_and_takes_it(
    demo_dir, tmp_path, capsys
):
    """Trial 5: the refusal named overwrite=True, a Python argument the CLI lacked."""
    (tmp_path / "notes.txt").write_text("mine\n")
    args = ["report", str(demo_dir / "snapshots.csv"), "--out", str(tmp_path)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "or give --overwrite" in err and "overwrite=True" not in err, err
    assert err.count("\n") == 1 and not (tmp_path / "jobs.csv").exists()
    assert main([*args, "--overwrite"]) == 0
    assert (tmp_path / "jobs.csv").exists() and (tmp_path / "notes.txt").read_text() == "mine\n"


def test_report_overwrite_never_replaces_the_users_readme(demo_dir, tmp_path, capsys):
    """Trial 7: the refusal offered --overwrite, which then replaced the user's README.md."""
    (tmp_path / "README.md").write_text("# my project\n")
    args = ["report", str(demo_dir / "snapshots.csv"), "--out", str(tmp_path)]
    for extra in ([], ["--overwrite"]):
        assert main([*args, *extra]) == 1
        err = capsys.readouterr().err
        assert "README.md, not written by" in err and "--overwrite" not in err, err
        assert (tmp_path / "README.md").read_text() == "# my project\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]


def test_report_of_a_missing_file_names_it_before_the_out_folder(tmp_path, capsys):
    """The input was checked after --out: a missing file behind a missing folder was
    reported as the folder's fault."""
    args = ["report", str(tmp_path / "nosuch.csv"), "--out", str(tmp_path / "no" / "rep")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: snapshot file ") and "nosuch.csv" in err and "exist" in err
    assert len(err.splitlines()) == 1


def test_every_option_with_a_default_says_it_in_its_help():
    parser = build_parser()
    silent = []
    for sub in parser._subparsers._group_actions[0].choices.values():  # noqa: SLF001
        for action in sub._actions:  # noqa: SLF001
            default = action.default
            if (
                action.help
                and default not in (None, False, [], "==SUPPRESS==")
                and action.nargs != 0
            ):
                shown = f"{default:g}" if isinstance(default, float) else str(default)
                if shown not in action.help and "default" not in action.help:
                    silent.append((sub.prog, action.dest))
    assert silent == []


def test_simulates_hint_is_the_readmes_second_terminal(tmp_path, monkeypatch, capsys):
    import threading
    from types import SimpleNamespace

    from zcrm_notebook.cli import simulate

    class Interrupted:  # the foreground wait ends at once, as on Ctrl-C
        def wait(self, timeout=None):
            raise KeyboardInterrupt

        def set(self):
            pass

    fake = SimpleNamespace(Event=Interrupted, Thread=threading.Thread)
    monkeypatch.setattr(simulate, "threading", fake)
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", "--write-config", "sim.toml", "--jobs-start", "now"]) == 0
    out = capsys.readouterr().out
    (hint,) = [ln for ln in out.splitlines() if ln.startswith("try:")]
    (said,) = [ln for ln in out.splitlines() if "does not know" in ln]  # trial 5: the WARNING
    assert "jobs.csv includes one job id the simulator does not know (" in said, out
    assert "on purpose" in said and "INVALID_DATA" in said
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    (terminal_2,) = re.findall(r"zcrm-notebook (poll .*?)\s+# terminal 2", readme)
    assert hint.endswith(terminal_2)


@pytest.mark.parametrize(
    "argv, said",
    [
        (["poll", "jobs.csv", "--config", "c.toml", "--out", "typo/dir/s.csv"], "'typo/dir'"),
        (
            ["poll", "jobs.csv", "--config", "c.toml", "--out", "s.csv", "--store", "typo/r.db"],
            "--store 'typo/r.db': the folder 'typo'",
        ),
        (["report", "jobs.csv", "--out", "typo/dir"], "--out 'typo/dir': the folder 'typo'"),
        (["demo", "--out", "typo/dir", "--no-progress"], "the folder 'typo' does not exist"),
        (["convert", "l.csv", "--out", "typo/dir", "--dry-run"], "the folder 'typo' does"),
        (["simulate", "--write-config", "typo/sim.toml"], "--write-config 'typo/sim.toml'"),
        (["auth", "--status", "--store", "typo/t.json"], "--store 'typo/t.json': the folder"),
    ],
)
def test_an_output_in_a_missing_folder_is_refused_and_no_folder_is_made(
    tmp_path, monkeypatch, capsys, argv, said
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs.csv").write_text("job_id,org\n1,a\n")
    (tmp_path / "l.csv").write_text("lead_id\n1000000000000000001\n")
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert said in err and "does not exist; create it first" in err, err
    assert not (tmp_path / "typo").exists()


def test_an_output_folder_is_made_when_only_its_last_part_is_missing(demo_dir, tmp_path):
    assert main(["report", str(demo_dir / "snapshots.csv"), "--out", str(tmp_path / "new")]) == 0
    assert (tmp_path / "new" / "README.md").exists()


@pytest.mark.parametrize(
    "argv, usage, hint",
    [
        (["poll", "j.csv", "--confg", "sim.toml", "--out", "s.csv"], "zcrm-notebook poll",
         "--config"),
        (["convert", "l.csv", "--out", "o", "--retry-not-convertd"], "zcrm-notebook convert",
         "--retry-not-converted"),
        (["report", "s.csv", "--out", "o", "--formt=xlsx"], "zcrm-notebook report", "--format"),
    ],
)  # fmt: skip
def test_a_mistyped_option_gets_the_commands_usage_and_a_suggestion(argv, usage, hint, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith(f"usage: {usage} "), err
    assert "unrecognized arguments: --" in err
    assert f": did you mean {hint}?" in err, err


def test_a_stray_word_is_refused_by_the_command_without_a_suggestion(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["poll", "j.csv", "--out", "s.csv", "extra"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "usage: zcrm-notebook poll " in err
    assert "unrecognized arguments: extra" in err and "did you mean" not in err


def test_demo_says_the_unknown_job_id_is_expected_before_the_run(tmp_path, capsys):
    from zcrm_notebook.simulator import default_scenario

    with default_scenario(n_jobs=2, seed=7) as sim:
        unknown = sim.unknown_job_id
    assert unknown
    argv = ["demo", "--out", str(tmp_path), "--no-progress", "--speed", "300", "--jobs", "2"]
    assert main(argv) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert f"one job id the simulator does not know ({unknown})" in first
    assert "WARNING about it below is expected" in first


def test_log_lines_print_above_the_progress_bar_not_on_its_line(tmp_path):
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "zcrm_notebook", "-v", "demo", "--out", str(tmp_path),
           "--speed", "300", "--jobs", "2"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "job ids done" in done.stderr and "WARNING" in done.stderr  # a bar and a warning
    pieces = re.split(r"[\r\n]", done.stderr)
    logged = [p for p in pieces if re.search(r"(WARNING|INFO) zcrm_notebook", p)]
    assert logged and all(re.match(r"(WARNING|INFO) zcrm_notebook", p) for p in logged), logged


def test_a_mistyped_grant_token_option_does_not_print_the_code(capsys):
    code = "1000." + "0123456789abcdef" * 2 + "." + "fedcba9876543210" * 2
    with pytest.raises(SystemExit) as exit_:
        main(["auth", "--org", "x", "--dc", "us", "--grant-tokn", code])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "did you mean --grant-token?" in err, err
    assert code not in err and "0123456789abcdef" not in err


@pytest.mark.parametrize(
    "extra, said",
    [
        # the bad data center is named before the missing secret
        (["--dc", "usa", "--grant-token", "1000.abc"], "unknown data center 'usa'"),
        # setup options without --grant-token are no status check
        (["--dc", "us"], "--dc and --client-id given but no --grant-token CODE"),
    ],
)
def test_auth_checks_local_values_first_and_wants_the_grant_token(
    tmp_path, monkeypatch, capsys, extra, said
):
    monkeypatch.delenv("ZOHO_CLIENT_SECRET", raising=False)
    monkeypatch.setenv("ZCRM_NOTEBOOK_TOKEN_STORE", str(tmp_path / "t.json"))
    argv = ["auth", "--org", "x", "--client-id", "1000.ABC", *extra]
    assert main([*argv, "--store", str(tmp_path / "t.json")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and said in err and err.count("\n") == 1, err
    assert "client secret" not in err and not (tmp_path / "t.json").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["--org", "x", "--dc", "usa"],
        ["--dc", "USA", "--grant-token", "1000.a"],
        ["--org", "x", "--dc", "usa", "--grant-token", "1000.a"],
    ],
)
def test_auth_names_an_unknown_data_center_first_as_typed(tmp_path, monkeypatch, capsys, argv):
    """Sixth trial: --dc usa was named only once --org, --client-id and --grant-token were
    all there (each missing one was reported first), and quoted lower-cased."""
    monkeypatch.delenv("ZOHO_CLIENT_SECRET", raising=False)
    monkeypatch.delenv("ZOHO_CLIENT_ID", raising=False)
    assert main(["auth", *argv, "--store", str(tmp_path / "t.json")]) == 1
    err = capsys.readouterr().err
    typed = argv[argv.index("--dc") + 1]
    assert err.startswith(f"error: unknown data center {typed!r}; valid codes: us, "), err
    assert err.count("\n") == 1 and not (tmp_path / "t.json").exists()


def test_convert_without_a_store_says_a_rerun_sends_every_lead_again(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in ("ZOHO_CLIENT_ID", "ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN", "ZOHO_DC"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "leads.csv").write_text("lead_id\n1000000000000000001\n")
    assert main(["convert", "leads.csv", "--out", "o"]) == 1  # no org configured
    err = capsys.readouterr().err
    assert err.startswith("note: no --store: ") and "sends every lead again" in err, err
    assert main(["convert", "leads.csv", "--out", "o", "--store", "r.sqlite"]) == 1
    assert "no --store" not in capsys.readouterr().err


@pytest.mark.parametrize("typed, hint", [("conver", "did you mean 'convert'?"), ("xyz", None)])
def test_a_mistyped_command_names_the_closest_and_the_valid_commands(typed, hint, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([typed, "x.csv"])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert exit_.value.code == 2 and f"invalid choice: '{typed}'" in last, last
    assert "commands: demo, simulate, poll, convert, report, auth" in last
    assert (hint in last) if hint else "did you mean" not in last


def test_a_very_long_mistyped_command_is_shown_cut(capsys):
    """A 130 KB command name was echoed back whole (hostile review)."""
    with pytest.raises(SystemExit):
        main(["x" * 130_000])
    err = capsys.readouterr().err
    assert "invalid choice: 'xxx" in err and len(err) < 2_000
