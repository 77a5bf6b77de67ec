"""Take the README's screenshots of the HTML reports with headless Chromium.

    .venv/bin/python scripts/report_screenshots.py

Runs the job 30 days against the sandbox (seed 7, the demo's account) and the quickstart
experiment (one worker), writes both reports into a temporary folder and saves the top of
each page as ``docs/report_job.png`` and ``docs/report_simulation.png``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from allocator.cli import main
from allocator.reports.browser import headless_browser, open_report
from allocator.reports.sandbox_run import run_and_report

ROOT = Path(__file__).resolve().parents[1]


def shoot(browser: object, page: Path, out: Path, height: int) -> None:
    """Screenshot the top ``height`` pixels of ``page`` (1200 wide) into ``out``."""
    with open_report(browser, page, width=1200, height=height) as opened:
        if opened.console_errors or opened.network:
            raise SystemExit(f"{page}: errors {opened.console_errors}, requests {opened.network}")
        opened.page.screenshot(path=str(out), type="png")
    print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB)")


def run() -> int:
    """Build both reports in a temporary folder and take their screenshots."""
    with tempfile.TemporaryDirectory(prefix="allocator-shots-") as tmp:
        work = Path(tmp)
        job = run_and_report(work / "job", days=30, seed=7).report
        sim = work / "sim"
        config = ROOT / "configs" / "experiments" / "quickstart.toml"
        args = ["simulate", str(config), "--out", str(sim), "--workers", "1", "--html"]
        if main([*args, "--no-progress"]) != 0:
            return 1
        with headless_browser() as browser:
            shoot(browser, job, ROOT / "docs" / "report_job.png", 2100)
            shoot(browser, sim / "report.html", ROOT / "docs" / "report_simulation.png", 1500)
    return 0


if __name__ == "__main__":
    sys.exit(run())
