"""The live dashboard in a real browser: Voilà serves 02-live-dashboard.ipynb on loopback and
headless Chromium (Debian's, driven by Playwright; no browser download) clicks through it.

Start fills the bars, Stop stops polling, Start resumes to 100 %, Export writes the report
bundle. Skipped with a reason when playwright, voila or chromium is missing (.ci/run
installs Debian's chromium). Every wait is bounded; the page may only reach 127.0.0.1.
``ZCRM_NOTEBOOK_DOCS_SCREENSHOT=docs/dashboard.png pytest -m browser`` refreshes the README's
picture (a mid-run screenshot; that test is skipped otherwise).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest
from test_notebooks import kernel_env, with_parameters

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_S = 60
LOOPBACK = {"127.0.0.1", "localhost"}
DOCS_SCREENSHOT = os.environ.get("ZCRM_NOTEBOOK_DOCS_SCREENSHOT")


def missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    for module, hint in [
        ("playwright", "pip install playwright (no browser download)"),
        ("voila", "pip install voila"),
    ]:
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed: {hint}"
    if not Path(CHROMIUM).exists():
        return "chromium is not installed: apt-get install chromium (.ci/run does it)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, proc: subprocess.Popen, log: Path) -> None:
    """Wait until Voila answers. It is asked for a path that is no notebook (a 404): a GET
    of the notebook itself runs it in a kernel of its own, beside the page's, in the same
    folder (the two wrote out/sim.toml at once: "has no [orgs.<name>] table", a flake)."""
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"voila exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "zcrm-probe-no-page", timeout=5):
                return
        except urllib.error.HTTPError:  # an answer (404): the server listens
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"voila did not answer within {SERVER_START_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def serve(tmp_path):
    """``serve(**params)``: Voilà serving the dashboard notebook with ``params`` injected
    (polling off until Start) on 127.0.0.1; returns its URL. Stopped after the test."""
    reason = missing()
    if reason:
        pytest.skip(reason)
    servers = []

    def start(**params) -> str:
        nb = with_parameters("02-live-dashboard.ipynb", RUN_TO_END=False, OUT_DIR="out", **params)
        nbformat.write(nb, tmp_path / "dashboard.ipynb")
        jupyter = {
            f"JUPYTER_{d}_DIR": str(tmp_path / f"jupyter-{d.lower()}")
            for d in ("CONFIG", "DATA", "RUNTIME")
        }
        port, log = free_port(), tmp_path / "voila.log"
        cmd = [
            sys.executable,
            "-m",
            "voila",
            "dashboard.ipynb",
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--show_tracebacks=True",
        ]
        env = kernel_env(tmp_path, **jupyter)
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                cmd,
                cwd=tmp_path,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        servers.append(proc)
        url = f"http://127.0.0.1:{port}/"
        wait_for_http(url, proc, log)
        return url

    try:
        yield start
    finally:
        for proc in servers:
            stop_server(proc)


@pytest.fixture
def page():
    """A page of headless Debian Chromium that can only reach loopback."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1500})
            page.set_default_timeout(60_000)
            page.route("**/*", loopback_only)
            yield page
        finally:
            browser.close()


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM the server (it shuts its kernel down), then kill its process group."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group started for this server only
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait(timeout=10)


def snapshots_shown(status) -> int:
    found = re.search(r"([\d,]+) snapshots?\b", status.inner_text())
    return int(found.group(1).replace(",", "")) if found else 0


def bar_widths(page, selector: str) -> list[str]:
    return page.locator(f"{selector} .progress-bar").evaluate_all(
        "bars => bars.map(b => b.style.width)"
    )


def loopback_only(route) -> None:
    if urlsplit(route.request.url).hostname in LOOPBACK:
        route.continue_()
    else:
        route.abort()


def test_dashboard_runs_stops_resumes_and_exports_in_chromium(serve, page, tmp_path):
    from playwright.sync_api import expect

    # slow polls (30-60 simulated s, 0.75-1.5 real s) of the realistic scenario (jobs queue up
    # to 300 simulated s): Stop surely comes before the end; the run takes about 10 s
    page.goto(serve(SPEED=40.0, MIN_INTERVAL_S=30.0, MAX_DELAY_S=60.0))
    drive_the_dashboard(page, tmp_path, expect)


@pytest.mark.skipif(not DOCS_SCREENSHOT, reason="set ZCRM_NOTEBOOK_DOCS_SCREENSHOT=PATH")
def test_docs_screenshot(serve, page, tmp_path):
    """The README's picture: the dashboard half-way through the notebook's own scenario."""
    from playwright.sync_api import expect

    page.goto(serve(SPEED=20.0))
    expect(page.locator(".zcrm-status")).to_contain_text("not started", timeout=90_000)
    page.get_by_role("button", name="Start").click()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        width = float(bar_widths(page, ".zcrm-overall")[0].rstrip("%") or 0)
        if 60 <= width < 100:
            break
        page.wait_for_timeout(250)
    page.wait_for_timeout(2500)  # the figure follows the bars within figure_every_s
    page.locator(".zcrm-dashboard").screenshot(path=DOCS_SCREENSHOT)


def what_the_dashboard_shows(page, tmp_path: Path, log_lines: int = 60) -> str:
    """For a failure message: the dashboard's visible text (status, counts, bars, the
    attention table) and the tail of voila.log (the kernel's warnings and tracebacks)."""
    try:
        shown = page.locator(".zcrm-dashboard").inner_text(timeout=5_000)
    except Exception as exc:  # the page itself may be gone
        shown = f"(dashboard text unavailable: {exc})"
    log = tmp_path / "voila.log"
    tail = log.read_text(errors="replace").splitlines()[-log_lines:] if log.exists() else []
    return (
        f"--- dashboard text ---\n{shown}\n"
        f"--- voila.log, last {len(tail)} lines ---\n" + "\n".join(tail)
    )


def drive_the_dashboard(page, tmp_path: Path, expect) -> None:
    dash, status = page.locator(".zcrm-dashboard"), page.locator(".zcrm-status")
    expect(status).to_contain_text("not started", timeout=90_000)
    assert len(bar_widths(page, ".zcrm-bar-dc")) == 4  # one bar per data center
    page.get_by_role("button", name="Start").click()
    expect(status).to_contain_text("snapshot", timeout=30_000)
    page.get_by_role("button", name="Stop").click()
    expect(status).to_contain_text("stopped watching", timeout=30_000)
    stopped_at = snapshots_shown(status)
    page.wait_for_timeout(1500)  # polling really stopped: nothing new arrives
    assert snapshots_shown(status) == stopped_at > 0
    page.get_by_role("button", name="Start").click()  # resumes from the kept snapshots
    try:
        expect(status).to_contain_text("finished: every job is final", timeout=90_000)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{what_the_dashboard_shows(page, tmp_path)}") from None
    assert snapshots_shown(status) > stopped_at
    # the bars follow the status line in the same refresh: their updates may arrive just after
    for selector, n in ((".zcrm-overall", 1), (".zcrm-bar-dc", 4)):
        bars = page.locator(f"{selector} .progress-bar")
        expect(bars).to_have_count(n)
        for i in range(n):
            expect(bars.nth(i)).to_have_attribute("style", re.compile(r"width: 100%"))
    expect(page.locator(".zcrm-attention")).to_contain_text("job failed")
    page.wait_for_timeout(300)  # the last figure reaches the page
    dash.screenshot(path=tmp_path / "dashboard.png")
    export_dir = tmp_path / "export"
    dash.locator(".widget-text input").fill(str(export_dir))
    page.get_by_role("button", name="Export").click()
    expect(page.locator(".zcrm-export")).to_contain_text("Exported", timeout=60_000)
    expect(page.locator(".zcrm-export")).to_contain_text("overview.png")
    assert {"snapshots.csv", "jobs.csv", "overview.png"} <= {p.name for p in export_dir.iterdir()}
    page.screenshot(path=tmp_path / "page.png", full_page=True)


def test_a_failure_message_carries_the_dashboards_text_and_the_voila_log_tail(tmp_path):
    class Page:  # what the helper reads of a Playwright page
        def locator(self, selector):
            assert selector == ".zcrm-dashboard"
            return self

        def inner_text(self, timeout):
            return "polling: 1,909 snapshots\nus-org 3652397000009835020 in progress"

    (tmp_path / "voila.log").write_text("".join(f"log line {i}\n" for i in range(100)))
    text = what_the_dashboard_shows(Page(), tmp_path, log_lines=60)
    assert "1,909 snapshots" in text and "3652397000009835020 in progress" in text
    assert "log line 99" in text and "log line 40" in text and "log line 39\n" not in text
