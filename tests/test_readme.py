"""The README's code runs as written.

Every ``bash`` and ``python`` block is run exactly as written, in a new folder, with the
PATH a reader has after the set-up commands: the venv is not activated, so ``.venv/bin/``
is how its programs are reached. The set-up commands make ``.venv`` with ``python3 -m venv``
and ``pip install -e``: that venv is the one running these tests, so the test links
``.venv`` to it and runs the rest of the command as written. A block that cannot run here
says why in an HTML comment just above it (``<!-- not run by the tests: ... -->``).
Blocks whose lines end in ``# terminal 1`` / ``# terminal 2`` run as two processes, the
first in the background until the second ends, then stopped with Ctrl-C (SIGINT).
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from zcrm_notebook.inputs.orgs import orgs_from_toml
from zcrm_notebook.snapshots.csvfile import read_snapshots

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(
    r"(?:<!-- not run by the tests: (?P<why>.+?) -->\n)?```(?P<lang>\w*)\n(?P<code>.*?)\n```", re.S
)
SETUP = ("python3 -m venv .venv", ".venv/bin/pip install -q -e")
TERMINAL = re.compile(r"\s+# terminal (\d)\b.*$")


def blocks(lang: str | None = None) -> list[re.Match]:
    return [m for m in BLOCK.finditer(README) if lang is None or m["lang"] == lang]


def runnable(lang: str) -> list[str]:
    return [m["code"] for m in blocks(lang) if not m["why"]]


def commands():
    head = README.split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", head, flags=re.S)


def test_exactly_two_setup_commands_at_the_top():
    cmds = commands()
    assert len(cmds) == 2
    assert "demo" in cmds[0] and "pytest" in cmds[1]
    assert all("\n" not in c for c in cmds)


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands()[1] in ci


def test_every_code_block_runs_or_says_why_not():
    code = [m for m in blocks() if m["lang"] in ("bash", "python")]
    skipped = [m["why"] for m in code if m["why"]]
    assert len(code) - len(skipped) >= 3, skipped  # the examples run; only these say why not
    assert all(len(why.split()) >= 4 for why in skipped)  # a reason, not a shrug
    bash_blocks = set(runnable("bash"))
    assert bash_blocks == {commands()[0], *(c for c in bash_blocks if TERMINAL.search(c))}, (
        "a new runnable bash block needs its test here"
    )
    assert not re.search(r"(?m)^zcrm-notebook ", "\n".join(m["code"] for m in code)), (
        "zcrm-notebook is not on PATH after the set-up commands: write .venv/bin/zcrm-notebook"
    )


@pytest.fixture
def reader(tmp_path):
    """A new folder with ``.venv`` (the venv of this test run) and a reader's environment:
    PATH without the venv, no Zoho credentials, a private token store."""
    venv = Path(sys.prefix)
    if not (venv / "bin" / "zcrm-notebook").exists():
        pytest.skip("tests not run from the venv of the set-up commands")
    (tmp_path / ".venv").symlink_to(venv)
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != venv / "bin"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOHO_", "ZCRM_", "VIRTUAL"))}
    env |= {"PATH": os.pathsep.join(path), "ZCRM_NOTEBOOK_TOKEN_STORE": str(tmp_path / "t.json")}
    return tmp_path, env


def bash(code: str, cwd: Path, env: dict, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-e", "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_demo_setup_command_runs_as_written(reader):
    cwd, env = reader
    steps = commands()[0].split(" && ")
    assert steps[0] == SETUP[0] and steps[1].startswith(SETUP[1])  # .venv is linked instead
    done = bash(" && ".join(steps[2:]), cwd, env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (cwd / "zcrm-demo" / "report" / "overview.png").is_file()
    assert "snapshots of 36 jobs (+1 with no status) ->" in done.stdout  # the unknown id
    # its 3 polls are "no_status_polls" in the per-org table, not "errors" beside "retries 0"
    header = next(line.split() for line in done.stdout.splitlines() if "retries" in line)
    assert "no_status_polls" in header and "errors" not in header
    assert "job_ids" in header and "jobs" not in header  # the us org has 9 jobs + that id


@pytest.mark.parametrize("code", runnable("python"), ids=lambda c: c.splitlines()[0][:40])
def test_python_blocks_run_as_written(reader, code):
    cwd, env = reader
    (cwd / "block.py").write_text(code + "\n")
    done = subprocess.run(
        [str(cwd / ".venv" / "bin" / "python"), "block.py"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def lines_of(proc: subprocess.Popen) -> queue.Queue:
    """The process's stdout lines, as they come (a reader thread)."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_the_two_terminal_example_runs_as_written_and_has_something_to_watch(reader):
    cwd, env = reader
    (code,) = [c for c in runnable("bash") if TERMINAL.search(c)]
    first, second = code.splitlines()
    assert TERMINAL.search(first)[1] == "1" and TERMINAL.search(second)[1] == "2"
    server = subprocess.Popen(
        ["bash", "-c", first],
        cwd=cwd,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        lines, shown = lines_of(server), []
        while not shown or not shown[-1].startswith("Ctrl-C to stop"):
            line = lines.get(timeout=60)
            assert line is not None, "".join(shown)
            shown.append(line)
        done = bash(second, cwd, env)
        assert done.returncode == 0, done.stderr[-3000:]
    finally:
        os.killpg(server.pid, signal.SIGINT)  # Ctrl-C in terminal 1
        server.wait(timeout=30)
    assert server.returncode == 0 and "simulator stopped" in "".join(iter(lines.get, None))
    df = read_snapshots(cwd / "s.csv").sort_values("polled_at")
    first = df[df["status"] != "error"].iloc[0]
    assert first["converted_count"] + first["failed_count"] == 0  # the jobs start when polled
    first_seen = df.groupby("job_id")["status"].first().astype(str)
    assert (~first_seen.isin(["completed", "failed"])).mean() > 0.5  # most were still to run
    assert "completed" in done.stdout


@pytest.mark.parametrize("code", [m["code"] for m in blocks("toml")])
def test_toml_examples_are_valid_configs(tmp_path, code):
    (tmp_path / "orgs.toml").write_text(code + "\n")
    assert list(orgs_from_toml(tmp_path / "orgs.toml"))


# what the README's examples write, where a reader runs them (the clone's folder)
WRITTEN = re.compile(
    r"""--(?:write-config|out|store|jobs-csv|leads-csv) ([\w.-]+)"""
    r"""|write_\w+\((?:[^()"]*, )?"([\w.-]+)"\)|store="([\w.-]+)\""""
)


def test_what_the_readme_examples_write_is_ignored_by_git():
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse"], capture_output=True).returncode:
        pytest.skip("not a git checkout")
    names = {n for m in WRITTEN.finditer(README) for n in m.groups() if n and not n.isupper()}
    names |= {"jobs.csv", "leads.csv"}  # `simulate` writes them beside its config
    assert {"sim.toml", "s.csv", "snapshots.csv", "run.sqlite", "out"} <= names
    for name in sorted(names):  # a file, or a folder holding one
        paths = [name, f"{name}/leads.csv"]
        check = ["git", "-C", str(ROOT), "check-ignore", "--no-index", "-q"]
        ignored = [subprocess.run([*check, p]).returncode == 0 for p in paths]
        assert any(ignored), f"README example writes {name!r}, which .gitignore does not cover"


def test_the_version_is_the_one_the_readme_calls_this_one():
    # user trial 7: --version said 0.1.0 while the README compared the current code with
    # "version 0.1" and "version 0.2"
    import zcrm_notebook

    said = re.search(r"This is version (\d+\.\d+) \(`zcrm-notebook --version`\)", README)
    project = re.search(r'(?m)^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text())
    assert said and project and zcrm_notebook.__version__ == project[1]
    assert zcrm_notebook.__version__.startswith(said[1] + ".")
    named = re.findall(r"[Vv]ersions? (0\.\d+)", README)
    assert named and all(tuple(map(int, v.split("."))) <= (0, 3) for v in named)
    assert said[1] == "0.3"
