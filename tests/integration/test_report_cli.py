"""``[job] report_html``, ``allocator report`` and ``allocator simulate --html`` end to end.

The pages are opened in headless Chromium (see :mod:`allocator.reports.browser`): every
section renders, the console stays clean and nothing is requested from the network.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from allocator.cli import EXIT_OK, EXIT_USAGE, main
from allocator.reports.browser import headless_browser, open_report

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "example"

TINY = """
name = "tiny"
seeds = 4
block_size = 2
horizon_days = 8
daily_budget = 300.0

[scenario]
n_arms = 4
n_creators = 2

[[policies]]
kind = "thompson"
n_draws = 50

[[policies]]
kind = "even"
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with headless_browser() as b:
        yield b


@pytest.fixture
def files_config(tmp_path: Path) -> Path:
    for name in ("job.toml", "adgroups.csv", "observations.csv"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    path = tmp_path / "job.toml"
    text = path.read_text(encoding="utf-8")
    assert text.count("\n[job]\n") == 1
    path.write_text(
        text.replace("\n[job]\n", '\n[job]\nreport_html = "out/report.html"\n'),
        encoding="utf-8",
    )
    return path


def test_a_files_run_writes_its_report_and_the_page_shows_the_plan(
    files_config: Path, browser: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["rebalance", "--config", str(files_config), "--as-of", "2026-11-20", "--json"])
    printed = json.loads(capsys.readouterr().out)
    plan = printed.get("plan", printed)
    assert code == EXIT_OK
    report = files_config.parent / "out" / "report.html"
    with open_report(browser, report) as opened:
        assert opened.console_errors == []
        assert opened.network == []
        page = opened.page
        ids = [r.get_attribute("data-adgroup") for r in page.locator("#plan-table tbody tr").all()]
        assert ids == [a["adgroup_id"] for a in plan["adgroups"]]
        assert "first planning day" in page.locator("section#changes").inner_text()
        assert "No edit was sent" in page.locator("section#history").inner_text()
        names = page.evaluate("document.getElementById('chart-spend').data.map(t => t.name)")
        assert len(names) == len(plan["adgroups"])


def test_report_for_a_files_config_writes_the_page(files_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine.html"
    assert main(["report", "--config", str(files_config), "--out", str(out)]) == EXIT_OK
    text = out.read_text(encoding="utf-8")
    assert 'id="plan-table"' in text
    assert text.count("Plotly.newPlot(") == 7
    assert "cdn.plot.ly" not in text.split("</script>", 1)[1]


def test_report_needs_exactly_one_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report"]) == EXIT_USAGE
    assert main(["report", "--simulation", str(tmp_path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "exactly one of --config FILE or --simulation DIR" in err
    assert f"{tmp_path}: has no results.csv" in err


def test_simulate_html_writes_a_report_with_curves_and_a_conclusion(
    tmp_path: Path, browser: Any
) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(TINY, encoding="utf-8")
    out = tmp_path / "out"
    args = ["simulate", str(config), "--out", str(out), "--workers", "1", "--html"]
    assert main(args) == EXIT_OK
    with open_report(browser, out / "report.html") as opened:
        assert opened.console_errors == []
        assert opened.network == []
        page = opened.page
        for section in ("conclusion", "summary", "curves"):
            assert page.locator(f"section#{section}").is_visible()
        words = page.locator("section#conclusion").inner_text()
        assert "thompson" in words
        assert "even" in words
        assert "95% interval" in words
        cumulative = page.evaluate(
            "document.getElementById('chart-cumulative').data"
            ".filter(t => t.showlegend !== false).map(t => t.name)"
        )
        assert cumulative == ["oracle", "thompson", "even"]
        arms = page.evaluate(
            "document.getElementById('chart-shares').data"
            ".filter(t => t.showlegend).map(t => t.name)"
        )
        assert arms == ["arm 1", "arm 2", "arm 3", "arm 4"]
        regret = page.evaluate(
            "document.getElementById('chart-regret').data"
            ".filter(t => t.showlegend !== false).map(t => t.y)"
        )
        for curve in regret:
            assert all(b >= a for a, b in pairwise(curve))


def test_allocator_and_its_help_do_not_import_plotly_or_jinja2() -> None:
    code = (
        "import sys, allocator, allocator.cli\n"
        "allocator.cli.build_app()\n"
        "print(sorted(m for m in ('plotly', 'jinja2', 'playwright') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_report_that_cannot_be_written_leaves_the_run_ok(
    files_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (files_config.parent / "out").write_text("a file where the folder should be", encoding="utf-8")
    code = main(["rebalance", "--config", str(files_config), "--as-of", "2026-11-20"])
    err = capsys.readouterr().err
    assert code == EXIT_OK
    assert "could not write the HTML report" in err
    assert "report.html" in err


def test_the_demo_writes_its_account_report_beside_the_png(tmp_path: Path, browser: Any) -> None:
    assert main(["demo", "--days", "4", "--out", str(tmp_path)]) == EXIT_OK
    assert (tmp_path / "demo.png").exists()
    with open_report(browser, tmp_path / "report.html") as opened:
        assert opened.console_errors == []
        assert opened.network == []
        header = opened.page.locator("header").inner_text()
        assert "glow-lab-demo" in header
        assert "4 run(s) over 4 planning day(s)" in header
        assert opened.page.locator("#plan-table tbody tr").count() == 10
