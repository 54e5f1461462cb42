"""The web portal in a real browser against `sextant run` as a person starts it: the run
prints its one-time sign-in link, and web/tests/e2e/portal.e2e.mjs (Debian's Chromium
through playwright-core) signs in with it, creates a tenant, a workspace and a Jira
source in the pages, sends the source signed webhooks, sees the developer appear, reads
the forecast chart's numbers against the API, checks every page with axe-core and
saves a screenshot of each under web/test-artifacts/e2e/.

`make test` installs what this needs (npm ci and the build; chromium with apt-get when
root). Without Node or Chromium it skips saying which is missing; under CI it fails."""

from __future__ import annotations

import os
import re
import runpy
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

from sextant.runtime.embedded_pg import free_port

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
ARTIFACTS = WEB / "test-artifacts" / "e2e"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
PAGES = (
    "0-signed-out",
    "1-tenants-empty",
    "2-workspaces-and-sources",
    "3-developers",
    "4-overview",
    "5-forecast",
    "6-forecast-other-theme",
    "7-metrics",
    "8-metrics-phone",
    "9-developer",
    "10-reports",
    "10b-report-schedules",
    "11-notifications",
    "12-admin",
    "13-gates",
    "14-stale",
    "15-other-tenant",
)


def missing(what: str) -> NoReturn:
    """Under CI a missing browser or Node is a failure; elsewhere a skip naming it."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} (CI=true: the portal's end-to-end test must run)")
    pytest.skip(f"{what}: `make test` installs it (npm; apt-get install chromium as root)")


def portal_ready() -> str:
    """The node binary, once the portal's packages and build are in place."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        missing("Node.js 20+ (node and npm) is not installed")
    if not CHROMIUM.exists():
        missing(f"no Chromium at {CHROMIUM}")
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    if not (WEB / "dist" / "index.html").exists():
        subprocess.run([npm, "run", "build"], cwd=WEB, check=True)
    return node


def test_a_person_signs_in_creates_a_workspace_and_reads_a_forecast_in_the_browser(
    tmp_path: Path,
) -> None:
    node = portal_ready()
    port, log = free_port(), tmp_path / "run.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SEXTANT_DATABASE_URL")}
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sextant.cli",
            "run",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        link = signed_in_link(run, port, log)
        hooks = tmp_path / "hooks"
        runpy.run_path(str(ROOT / "docs/walkthrough/jira_issue.py"))["main"](hooks)
        shutil.rmtree(ARTIFACTS, ignore_errors=True)
        browser = subprocess.run(
            [node, "tests/e2e/portal.e2e.mjs"],
            cwd=WEB,
            env={
                **env,
                "SEXTANT_URL": f"http://127.0.0.1:{port}",
                "SEXTANT_SIGN_IN_URL": link,
                "SEXTANT_WEBHOOKS": str(hooks),
                "SEXTANT_ARTIFACTS": str(ARTIFACTS),
                "CHROMIUM": str(CHROMIUM),
            },
            capture_output=True,
            text=True,
            timeout=300,
        )
        report = f"{browser.stdout}\n{browser.stderr}"
        assert browser.returncode == 0, f"{report}\n--- sextant run:\n{log.read_text()[-3000:]}"
        assert "e2e: passed" in browser.stdout, report
        for page in PAGES:
            assert (ARTIFACTS / f"{page}.png").stat().st_size > 5000, page
    finally:
        run.send_signal(signal.SIGINT)
        try:
            run.wait(20)
        except subprocess.TimeoutExpired:
            run.kill()


def signed_in_link(run: subprocess.Popen[bytes], port: int, log: Path) -> str:
    """The sign-in link the run prints once every service answers."""
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        if run.poll() is not None:
            pytest.fail(f"sextant run exited {run.returncode}:\n{log.read_text()[-3000:]}")
        found = re.search(r"^SEXTANT_SIGN_IN_URL=(\S+)$", log.read_text(), re.MULTILINE)
        if found:
            link = found.group(1)
            assert link.startswith(f"http://127.0.0.1:{port}/v1/session/link?code=")
            if httpx.get(f"http://127.0.0.1:{port}/v1/status", timeout=5).status_code == 200:
                return link
        time.sleep(0.5)
    pytest.fail(f"no sign-in link within 150 s:\n{log.read_text()[-3000:]}")
