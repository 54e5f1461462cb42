"""The web portal's budget: the first load's compressed JavaScript (≤ 250 KB), and each
page interactive within 1 s on the embedded stack, next to the API call the page waits
for, measured in the same browser in the same run (the baseline: the page's own cost is
the ratio's excess over 1).

    .venv/bin/python cli/bench/bench_portal.py [--rounds 5]

- **first load**: the JavaScript and CSS ``web/dist/index.html`` loads, gzipped (level 6,
  what a compressing proxy sends).
- **pages**: a real ``sextant run`` on a fresh data folder; the end-to-end script
  (``web/tests/e2e/portal.e2e.mjs``) signs in, makes a workspace and a Jira source with
  one finished issue, then ``--rounds`` times opens each page from the navigation and
  times the click until the page's data shows (Forecasts: the click on Forecast until the
  chart shows), then the same API call alone. Medians.

Needs Node.js and Chromium (``make test`` installs them); says so and exits 0 without.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import runpy
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from sextant.runtime.embedded_pg import free_port

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
JS_BUDGET_KB = 250
PAGE_BUDGET_MS = 1000


def first_load() -> tuple[int, int]:
    """Gzipped bytes of the JavaScript and the CSS index.html loads."""
    index = (WEB / "dist" / "index.html").read_text()
    sizes = {"js": 0, "css": 0}
    for path in re.findall(r'(?:src|href)="/(assets/[^"]+\.(?:js|css))"', index):
        data = (WEB / "dist" / path).read_bytes()
        sizes[path.rsplit(".", 1)[1]] += len(gzip.compress(data, compresslevel=6))
    return sizes["js"], sizes["css"]


def sign_in_link(run: subprocess.Popen[bytes], port: int, log: Path) -> str:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if run.poll() is not None:
            sys.exit(f"sextant run exited {run.returncode}:\n{log.read_text()[-3000:]}")
        found = re.search(r"^SEXTANT_SIGN_IN_URL=(\S+)$", log.read_text(), re.MULTILINE)
        if found and httpx.get(f"http://127.0.0.1:{port}/v1/status", timeout=5).is_success:
            return found.group(1)
        time.sleep(0.5)
    sys.exit(f"no sign-in link within 180 s:\n{log.read_text()[-3000:]}")


def page_timings(rounds: int, folder: Path) -> dict[str, Any]:
    """What the end-to-end script measured: ``firstLoadMs``, and per page its ``pages``
    and ``api`` samples in ms."""
    port, log = free_port(), folder / "run.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SEXTANT_DATABASE_URL")}
    data = str(folder / "data")
    run = subprocess.Popen(
        [sys.executable, "-m", "sextant.cli", "run", "--port", str(port), "--data-dir", data],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        link = sign_in_link(run, port, log)
        runpy.run_path(str(ROOT / "docs/walkthrough/jira_issue.py"))["main"](folder / "hooks")
        artifacts = folder / "artifacts"
        browser = subprocess.run(
            ["node", "tests/e2e/portal.e2e.mjs"],
            cwd=WEB,
            env={
                **env,
                "SEXTANT_URL": f"http://127.0.0.1:{port}",
                "SEXTANT_SIGN_IN_URL": link,
                "SEXTANT_WEBHOOKS": str(folder / "hooks"),
                "SEXTANT_ARTIFACTS": str(artifacts),
                "SEXTANT_E2E_ROUNDS": str(rounds),
            },
            capture_output=True,
            text=True,
            timeout=600,
        )
        if browser.returncode != 0:
            sys.exit(f"the end-to-end run failed:\n{browser.stdout}\n{browser.stderr}")
        timings: dict[str, Any] = json.loads((artifacts / "timings.json").read_text())
        return timings
    finally:
        run.send_signal(signal.SIGINT)
        try:
            run.wait(20)
        except subprocess.TimeoutExpired:
            run.kill()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("node") is None or not CHROMIUM.exists():
        print("bench_portal: skipped (needs Node.js and Chromium; `make test` installs them)")
        return
    if not (WEB / "dist" / "index.html").exists():
        subprocess.run(["make", "--no-print-directory", "web"], cwd=ROOT, check=True)
    js, css = first_load()
    print(
        f"first load: JavaScript {js / 1024:.1f} KB gzipped (budget {JS_BUDGET_KB} KB, "
        f"{js / 1024 / JS_BUDGET_KB:.0%} of it), CSS {css / 1024:.1f} KB"
    )
    with tempfile.TemporaryDirectory(prefix="sextant-bench-portal-") as folder:
        timings = page_timings(args.rounds, Path(folder))
    print(f"sign-in link to the first page: {timings['firstLoadMs']:.0f} ms")
    print(f"{'page':<22} {'interactive ms':>15} {'its API ms':>11} {'ratio':>6}  budget")
    for page, samples in timings["pages"].items():
        shown = statistics.median(samples)
        api = statistics.median(timings["api"][page])
        verdict = "ok" if shown <= PAGE_BUDGET_MS else "OVER"
        print(
            f"{page:<22} {shown:>15.0f} {api:>11.0f} {shown / api:>6.1f}  "
            f"{verdict} (≤ {PAGE_BUDGET_MS} ms)"
        )
    print(f"medians of {args.rounds} rounds")


if __name__ == "__main__":
    main()
