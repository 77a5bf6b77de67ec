"""The plan records and their JSON contract (``allocator rebalance --json``, DESIGN.md)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from allocator.core.arms import (
    AdGroup,
    AdGroupStatus,
    Authorization,
    AuthStatus,
    Kind,
    Objective,
    Observation,
    Portfolio,
)
from allocator.core.engine import EngineParams
from allocator.core.guardrail_params import GuardrailParams
from allocator.plans import Plan, PlanSettings, make_plan
from contracts import ADGROUP_KEYS, ALERT_KEYS, PLAN_KEYS

AS_OF = date(2026, 11, 20)
TODAY = date(2026, 11, 23)
PORTFOLIO = Portfolio("USD", 400.0, Objective.CPA, target_cpa=25.0)
PARAMS = EngineParams(n_draws=500)


def at(days: float) -> datetime:
    """A UTC time ``days`` after the planning day's midnight."""
    return datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC) + timedelta(days=days)


def adgroups() -> list[AdGroup]:
    def spark(i: str, creator: str, auth: Authorization, budget: float = 100.0) -> AdGroup:
        return AdGroup(i, Kind.SPARK, creator, "hook", budget, AdGroupStatus.ENABLE,
                       post_id=f"74{i}", authorization=auth)  # fmt: skip

    return [
        spark("A1", "@maya", Authorization(AuthStatus.ACTIVE, at(60))),
        spark("A2", "@maya", Authorization(AuthStatus.ACTIVE, at(5.5))),  # expiring, not blocked
        spark("A3", "@jo", Authorization(AuthStatus.EXPIRED, at(-2))),  # lapsed
        spark("A4", "@jo", Authorization(AuthStatus.ACTIVE, at(0.5))),  # lapses in 0.5 days
        AdGroup("D1", Kind.DARK, "brand", "demo", 100.0, AdGroupStatus.ENABLE),
        AdGroup("D2", Kind.DARK, "brand", "ugc", 0.0, AdGroupStatus.DISABLE),
    ]


def observations(days: int = 14) -> list[Observation]:
    cpa = {"A1": 18.0, "A2": 24.0, "A3": 22.0, "A4": 30.0, "D1": 26.0}
    rows = []
    for back in range(1, days + 1):
        day = AS_OF - timedelta(days=back)
        for i, c in cpa.items():
            rows.append(Observation(day, i, 100.0, 9000, 90, round(100.0 / c), 40.0 * 4))
    return rows


def plan(**overrides: Any) -> Plan:
    kwargs: dict[str, Any] = {
        "account": "demo",
        "as_of": AS_OF,
        "today": TODAY,
        "params": PARAMS,
        "seed": 7,
    }
    kwargs.update(overrides)
    groups = kwargs.pop("adgroups", adgroups())
    obs = kwargs.pop("observations", observations())
    portfolio = kwargs.pop("portfolio", PORTFOLIO)
    days = {"as_of": kwargs.pop("as_of"), "today": kwargs.pop("today")}
    return make_plan(groups, obs, portfolio, PlanSettings(**kwargs), **days)


def test_plan_json_has_exactly_the_contract_keys_and_is_strict_json() -> None:
    p = plan()
    doc = p.to_json_dict()
    assert set(doc) == PLAN_KEYS
    text = json.dumps(doc, allow_nan=False)  # the contract has no NaN or Infinity
    assert json.loads(text) == doc
    assert json.loads(json.dumps(p.to_json_dict())) == doc
    assert doc["account"] == "demo"
    assert doc["currency"] == "USD"
    assert doc["as_of"] == "2026-11-20"
    assert doc["daily_budget"] == 400.0
    assert isinstance(doc["run_id"], str)
    assert len(doc["run_id"]) == 16
    int(doc["run_id"], 16)
    assert [a["adgroup_id"] for a in doc["adgroups"]] == ["A1", "A2", "A3", "A4", "D1", "D2"]
    for a in doc["adgroups"]:
        assert set(a) == ADGROUP_KEYS
        assert a["to_status"] in ("enable", "disable")
        assert a["from_status"] in ("enable", "disable")
        assert a["stage"] in ("testing", "scaling", "paused", "blocked")
        assert 0.0 <= a["p_best"] <= 1.0
        assert isinstance(a["reason"], str)
        assert a["reason"]
        for key in ("cpa_mean", "cpa_low", "cpa_high"):
            assert a[key] is None or (isinstance(a[key], float) and math.isfinite(a[key]))
        if a["cpa_low"] is not None and a["cpa_high"] is not None:
            assert a["cpa_low"] <= a["cpa_high"]
        if a["to_status"] == "disable":
            assert a["to_budget"] == 0.0
        else:
            assert a["to_budget"] > 0.0
    for alert in doc["alerts"]:
        assert set(alert) == ALERT_KEYS
        assert isinstance(alert["message"], str)
        assert alert["message"]
    total = sum(a["to_budget"] for a in doc["adgroups"])
    assert total <= doc["daily_budget"] + 1e-9
    assert doc["planned_total"] == pytest.approx(total)
    assert doc["planned_total"] + doc["shortfall"] == pytest.approx(doc["daily_budget"])


def test_records_carry_the_inputs_and_the_engine_decisions() -> None:
    p = plan()
    by_id = {a.adgroup_id: a for a in p.adgroups}
    assert by_id["A1"].from_budget == 100.0
    assert by_id["A1"].from_status == "enable"
    assert by_id["D2"].from_budget == 0.0
    assert by_id["D2"].from_status == "disable"
    # lapsed and lapsing within min_remaining_days (1): blocked, paused, budget 0
    for i in ("A3", "A4"):
        assert by_id[i].stage == "blocked"
        assert by_id[i].to_status == "disable"
        assert by_id[i].to_budget == 0.0
        assert by_id[i].reason.startswith("blocked: ")
        assert by_id[i].changes
    assert by_id["A2"].stage != "blocked"  # 5.5 days left: warned, still running
    # a disabled ad group without a recorded stage stays paused (a person re-enables it)
    assert by_id["D2"].stage == "paused"
    assert by_id["D2"].to_status == "disable"
    assert not by_id["D2"].changes
    assert p.planned_total == pytest.approx(sum(a.to_budget for a in p.adgroups))
    assert p.planned_total <= p.daily_budget


def test_run_id_is_stable_for_the_same_inputs() -> None:
    first, second = plan(), plan()
    assert first.run_id == second.run_id
    assert first.to_json_dict() == second.to_json_dict()
    shuffled = list(reversed(observations()))  # row order of the export does not matter
    third = plan(observations=shuffled)
    assert third.run_id == first.run_id
    assert third.to_json_dict() == first.to_json_dict()


@pytest.mark.parametrize(
    "change",
    [
        {"seed": 8},
        {"account": "other"},
        {"as_of": AS_OF + timedelta(days=1)},
        {"params": EngineParams(n_draws=501)},
        {"params": replace(PARAMS, guardrails=GuardrailParams(max_step_up=0.4))},
        {"adgroups": [replace(adgroups()[0], budget=101.0), *adgroups()[1:]]},
        {"observations": [replace(observations()[0], conversions=9.0), *observations()[1:]]},
        {"observations": observations()[1:]},
        {"portfolio": replace(PORTFOLIO, daily_budget=401.0)},
        {"portfolio": replace(PORTFOLIO, target_cpa=30.0)},
        {"portfolio": replace(PORTFOLIO, currency="EUR")},
        {"timezone": "Pacific/Auckland"},
        {"lookback_days": 7},
    ],
    ids=[
        "seed", "account", "as_of", "n_draws", "guardrail", "budget", "conversions", "row",
        "daily_budget", "target_cpa", "currency", "timezone", "lookback_days",
    ],
)  # fmt: skip
def test_run_id_changes_with_any_input(change: dict[str, Any]) -> None:
    # Every one of these can change the plan (budgets, stages, alerts), so none may keep
    # the id: the id names the plan.
    assert plan(**change).run_id != plan().run_id


def test_alerts_for_expiring_and_lapsed_authorizations() -> None:
    alerts = plan().alerts
    kinds = {(a.kind, a.adgroup_id) for a in alerts}
    assert ("auth_expiring", "A2") in kinds
    assert ("auth_expiring", "A4") in kinds  # lapses in 0.5 days: blocked and warned
    assert ("auth_lapsed", "A3") in kinds
    assert ("auth_expiring", "A1") not in kinds
    assert ("auth_lapsed", "A1") not in kinds
    expiring = next(a for a in alerts if a.kind == "auth_expiring" and a.adgroup_id == "A2")
    assert "5.5 days" in expiring.message
    assert "renew" in expiring.message


def test_a_shortfall_is_an_account_alert_with_amount_and_cause() -> None:
    # 3 ad groups can run, each at most +30% of 100 (step cap, not lifted): 390 of 5000.
    capped = replace(PARAMS, step_cap_on_shortfall="hold")
    p = plan(portfolio=Portfolio("USD", 5000.0, Objective.CPA, target_cpa=25.0), params=capped)
    assert p.shortfall > 0
    assert p.planned_total + p.shortfall == pytest.approx(5000.0)
    shortfall = [a for a in p.alerts if a.kind == "shortfall"]
    assert len(shortfall) == 1
    assert shortfall[0].adgroup_id is None
    assert f"{p.shortfall:.2f} USD of the 5000.00 daily budget" in shortfall[0].message
    assert "step-up caps" in shortfall[0].message
    assert p.to_json_dict()["shortfall"] == p.shortfall


def test_no_shortfall_alert_when_the_budget_is_planned_in_full() -> None:
    p = plan(params=EngineParams(n_draws=500, guardrails=GuardrailParams(max_step_up=0.5)))
    assert p.shortfall == 0.0
    assert p.planned_total == pytest.approx(p.daily_budget)
    assert not [a for a in p.alerts if a.kind in ("shortfall", "infeasible")]


def test_a_planned_ad_group_changes_only_when_status_or_enabled_budget_moves() -> None:
    p = plan()
    for a in p.adgroups:
        moved = a.from_status != a.to_status or (
            a.to_status == "enable" and a.from_budget != a.to_budget
        )
        assert a.changes == moved


def test_money_left_because_no_creative_is_acceptable_is_stated_as_a_choice() -> None:
    # target CPA 4: every creative converts at 18-30, credibly above the 3 x 4 maximum
    groups = [g for g in adgroups() if g.adgroup_id != "D2"]
    p = plan(adgroups=groups, portfolio=Portfolio("USD", 1000.0, Objective.CPA, target_cpa=4.0))
    assert p.planned_total == 0.0
    assert p.shortfall == pytest.approx(1000.0)
    (alert,) = [a for a in p.alerts if a.kind == "shortfall"]
    assert alert.message.startswith("no creative meets the target: 1000.00 USD left unspent")
