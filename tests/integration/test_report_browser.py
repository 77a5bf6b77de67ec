"""The account report opened in a real headless Chromium (Debian's ``chromium``).

One module fixture runs the job 30 days against the sandbox (the demo's account) and
writes its report; the tests then open it through Playwright with every non-local
request aborted and recorded, and compare what the page shows with the job's store and
with the sandbox's own edit log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from allocator.job import Store
from allocator.job.records import budget_text
from allocator.reports.browser import OpenedPage, headless_browser, open_report
from allocator.reports.sandbox_run import SandboxRun, run_and_report

SECTIONS = ("plan", "changes", "history", "account")
CHARTS = ("budget", "spend", "conversions", "cpa", "stages", "account", "unspent")


@pytest.fixture(scope="module")
def sandbox_run(tmp_path_factory: pytest.TempPathFactory) -> SandboxRun:
    return run_and_report(tmp_path_factory.mktemp("report"), days=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with headless_browser() as b:
        yield b


@pytest.fixture(scope="module")
def opened(browser: Any, sandbox_run: SandboxRun) -> Iterator[OpenedPage]:
    with open_report(browser, sandbox_run.report) as page:
        yield page


def test_the_job_ran_every_day(sandbox_run: SandboxRun) -> None:
    assert sandbox_run.exit_codes == (0,) * 30
    assert len(sandbox_run.edits) > 30


def test_every_section_and_chart_renders(opened: OpenedPage) -> None:
    page = opened.page
    for section in SECTIONS:
        box = page.locator(f"section#{section}").bounding_box()
        assert box is not None, section
        assert box["height"] > 50, section
        assert page.locator(f"section#{section} h2").inner_text().strip()
    for chart in CHARTS:
        assert page.locator(f"#chart-{chart} .main-svg").count() >= 1, chart
        assert page.evaluate(f"document.getElementById('chart-{chart}').data.length") >= 1


def test_the_console_has_no_errors_and_nothing_goes_to_the_network(opened: OpenedPage) -> None:
    assert opened.console_errors == []
    assert opened.network == []


def test_a_page_reaching_for_the_network_is_caught(browser: Any, tmp_path: Path) -> None:
    page = tmp_path / "leaky.html"
    page.write_text(
        '<html><body><img src="https://example.com/pixel.png">'
        "<script>console.error('boom')</script></body></html>",
        encoding="utf-8",
    )
    with open_report(browser, page) as opened:
        assert opened.network == ["https://example.com/pixel.png"]
        assert "boom" in opened.console_errors


def test_the_plan_table_equals_the_store(opened: OpenedPage, sandbox_run: SandboxRun) -> None:
    with Store.open(sandbox_run.store) as store:
        run = store.runs("glow-lab-demo")[-1]
    rows = opened.page.locator("#plan-table tbody tr")
    assert rows.count() == len(run.plan["adgroups"])
    for i, want in enumerate(run.plan["adgroups"]):
        row = rows.nth(i)
        assert row.get_attribute("data-adgroup") == want["adgroup_id"]

        def cell(field: str, row: Any = row) -> str:
            text: str = row.locator(f"td[data-field={field}]").inner_text()
            return text.split(" (off)")[0].replace(",", "")

        assert cell("from_budget") == f"{want['from_budget']:.2f}"
        assert cell("to_budget") == f"{want['to_budget']:.2f}"
        assert cell("p_best") == f"{want['p_best']:.3f}"
        if want["cpa_mean"] is None:
            assert cell("cpa_mean") == "-"
        else:
            assert float(cell("cpa_mean")) == pytest.approx(want["cpa_mean"], abs=0.005)
            low, high = cell("cpa_interval").split(" – ")
            assert float(low) == pytest.approx(want["cpa_low"], abs=0.005)
            assert float(high) == pytest.approx(want["cpa_high"], abs=0.005)
        assert want["stage"] in row.inner_text()


def test_each_per_creative_chart_has_one_trace_per_creative(
    opened: OpenedPage, sandbox_run: SandboxRun
) -> None:
    with Store.open(sandbox_run.store) as store:
        planned = {a["adgroup_id"] for r in store.runs("glow-lab-demo") for a in r.plan["adgroups"]}
    plan_names = opened.page.locator("#plan-table tbody tr td .name").all_inner_texts()
    for chart in ("budget", "spend", "conversions", "cpa"):
        names = opened.page.evaluate(
            f"document.getElementById('chart-{chart}').data.map(t => t.name)"
        )
        assert len(names) == len(planned) == len(set(names)), chart
        assert set(names) == set(plan_names), chart


def _sandbox_edit_key(edit: dict[str, Any]) -> tuple[str, str, str]:
    if edit["field"] == "budget":
        return edit["adgroup_id"], "budget", budget_text(float(edit["to"]))
    return edit["adgroup_id"], "status", str(edit["to"]).lower()


def test_the_report_shows_every_edit_of_the_sandbox_log(
    opened: OpenedPage, sandbox_run: SandboxRun
) -> None:
    rows = opened.page.locator("#edits-table tbody tr")
    cells = opened.page.evaluate(
        "[...document.querySelectorAll('#edits-table tbody tr')]"
        ".map(r => [r.dataset.adgroup, ...[...r.cells].map(c => c.innerText)])"
    )
    # cells: ad group, day, run, #, creative, edit, from, to, outcome, error
    shown = Counter((c[0], c[5], c[7]) for c in cells if c[8] == "applied")
    logged = Counter(_sandbox_edit_key(e) for e in sandbox_run.edits)
    assert logged == shown
    heading = opened.page.locator("#edits").inner_text()
    assert f"({rows.count()})" in heading
