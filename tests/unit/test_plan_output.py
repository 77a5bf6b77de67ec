"""What a media buyer reads: names, causes, ROAS, tables that fit, "No changes"."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_plans import adgroups, plan

from allocator.cli.plan_table import fitting_columns
from allocator.cli.render import markdown_report, show_result
from allocator.core.arms import AdGroup, Authorization, AuthStatus, Objective, Portfolio
from allocator.job.results import ApplyReport, RebalanceResult
from allocator.plans import Plan, display_name


def named() -> list[AdGroup]:
    groups = adgroups()
    groups[0] = dataclasses.replace(groups[0], name="Maya summer hook")
    return groups


def test_each_ad_group_has_its_name_or_creator_and_concept() -> None:
    rows = {a.adgroup_id: a for a in plan(adgroups=named()).adgroups}
    assert rows["A1"].name == "Maya summer hook"
    assert rows["A2"].name == "@maya · hook"
    assert display_name(adgroups()[4]) == "brand · demo"


@pytest.mark.parametrize(
    ("status", "cause"),
    [
        (AuthStatus.EXPIRED, "authorization expired"),
        (AuthStatus.REVOKED, "authorization revoked by the creator"),
        (AuthStatus.DELETED, "post deleted"),
    ],
)
def test_a_lapse_alert_names_the_creator_and_the_cause(status: AuthStatus, cause: str) -> None:
    groups = adgroups()
    groups[2] = dataclasses.replace(groups[2], authorization=Authorization(status))
    p = plan(adgroups=groups)
    alert = next(a for a in p.alerts if a.kind == "auth_lapsed" and a.adgroup_id == "A3")
    assert alert.message.startswith("@jo · hook: " + cause)
    assert "ask @jo" in alert.message
    row = next(a for a in p.adgroups if a.adgroup_id == "A3")
    assert row.reason.startswith("blocked: " + cause)


def test_an_expiring_alert_says_whom_to_ask() -> None:
    alert = next(a for a in plan().alerts if a.kind == "auth_expiring" and a.adgroup_id == "A2")
    assert "ask @maya to renew" in alert.message


def roas_plan() -> Plan:
    return plan(portfolio=Portfolio("USD", 400.0, Objective.ROAS, target_roas=2.0))


def test_roas_mode_fills_roas_and_the_table_shows_it_not_cpa() -> None:
    p = roas_plan()
    assert p.objective == "roas"
    running = [a for a in p.adgroups if a.roas_mean is not None]
    assert running
    assert all(a.roas_low <= a.roas_mean <= a.roas_high for a in running)
    out = render(RebalanceResult.of(p, None), width=200)
    assert "ROAS (90%)" in out
    assert "CPA (90%)" not in out
    assert json.loads(render(RebalanceResult.of(p, None), as_json=True))["objective"] == "roas"


def test_cpa_mode_leaves_roas_empty() -> None:
    p = plan()
    assert p.objective == "cpa"
    assert all(a.roas_mean is None for a in p.adgroups)


def render(result: RebalanceResult, *, width: int = 100, as_json: bool = False) -> str:
    out, err = io.StringIO(), io.StringIO()
    show_result(result, as_json=as_json, report_md=None, out=out, err=err, width=width)
    return out.getvalue()


@settings(max_examples=25, deadline=None)
@given(width=st.integers(min_value=40, max_value=220))
def test_the_plan_table_never_exceeds_the_width(width: int) -> None:
    out = render(RebalanceResult.of(PLAN, None), width=width)
    table = out.split("planned total")[0]
    assert max(len(line.rstrip()) for line in table.splitlines()) <= width


PLAN = plan(adgroups=named())


def test_narrow_tables_drop_low_value_columns_first_and_keep_the_reason() -> None:
    wide = [c.title for c in fitting_columns(PLAN, 240)]
    assert wide == ["ad group", "id", "stage", "budget", "status", "CPA (90%)", "P(best)", "reason"]
    at_80 = [c.title for c in fitting_columns(PLAN, 80)]
    assert {"ad group", "stage", "budget", "reason"} <= set(at_80)
    assert "id" not in at_80
    dropped = [t for t in wide if t not in [c.title for c in fitting_columns(PLAN, 60)]]
    assert dropped[0] == "id"
    assert "ad group" not in dropped


def test_the_reason_wraps_instead_of_being_cut() -> None:
    out = render(RebalanceResult.of(PLAN, None), width=80)
    reason = next(a.reason.split(";")[0] for a in PLAN.adgroups if len(a.reason) > 40)
    assert " ".join(out.split()).count(reason.split()[-1]) >= 1
    assert "…" not in reason
    assert reason.split()[-1] in out


def test_a_plan_that_changes_nothing_says_no_changes() -> None:
    p = PLAN
    same = dataclasses.replace(
        p,
        adgroups=tuple(
            dataclasses.replace(a, from_budget=a.to_budget, from_status=a.to_status)
            for a in p.adgroups
        ),
    )
    assert "No changes" in render(RebalanceResult.of(same, None))
    assert "ad groups change" in render(RebalanceResult.of(p, None))


def test_a_noop_apply_says_no_changes_without_a_plan_table() -> None:
    report = ApplyReport(
        mode="apply",
        outcome="noop",
        message="period 2026-11-20 was already applied by store run 3: nothing to do",
        store_run_id=3,
        disposition="noop",
    )
    out = render(RebalanceResult.of(PLAN, report))
    assert out.startswith("No changes. Period 2026-11-20 was already applied")
    assert "ad groups change" not in out
    assert "P(best)" not in out
    assert "[auth_lapsed]" in out  # the alerts still show


def test_the_markdown_report_is_written_for_a_plan_only_run(tmp_path: Path) -> None:
    path = tmp_path / "r" / "report.md"
    out, err = io.StringIO(), io.StringIO()
    show_result(RebalanceResult.of(PLAN, None), as_json=False, report_md=path, out=out, err=err)
    text = path.read_text(encoding="utf-8")
    assert "**plan only**" in text
    assert "| Maya summer hook | A1 |" in text
    assert "## Alerts" in text


def test_the_markdown_report_shows_roas_under_roas(tmp_path: Path) -> None:
    markdown_report(roas_plan(), None, tmp_path / "r.md")
    assert "ROAS (90%)" in (tmp_path / "r.md").read_text(encoding="utf-8")
