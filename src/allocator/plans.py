"""The plan: what the engine wants each ad group to be, with reasons and alerts.

:func:`make_plan` runs one :func:`allocator.core.engine.step` on a portfolio's ad groups
and observations and turns the arrays into records a person (or the job) acts on. The
JSON form is a contract (``allocator rebalance --json``; see DESIGN.md): ``run_id``,
``account``, ``as_of``, ``daily_budget``, ``adgroups`` (``adgroup_id``, ``from_budget``,
``to_budget``, ``from_status``, ``to_status``, ``stage``, ``p_best``, ``cpa_mean``,
``cpa_low``, ``cpa_high``, ``reason``) and ``alerts`` (``kind``, ``adgroup_id``,
``message``).

``run_id`` is a content hash of the inputs (account, as-of date, portfolio, settings, seed,
time zone, lookback, ad groups and observations), so the same inputs always give the same
plan, id included, and inputs that can change the plan change the id.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np

from allocator.core.alerts import alert_messages
from allocator.core.arms import AdGroup, AdGroupStatus, AuthStatus, Observation, Portfolio, Stage
from allocator.core.engine import EngineParams, EngineStep, starved_reason, step
from allocator.core.explain import explain
from allocator.core.guardrails import Infeasibility
from allocator.core.target import Target
from allocator.data.arrays import EngineInputs, to_arrays

__all__ = ["Plan", "PlanAlert", "PlanSettings", "PlannedAdGroup", "make_plan", "plan_from_step"]

_SHORTFALL_CAUSES = {
    Infeasibility.SHORTFALL_STEP_UP: "step-up caps keep the running ad groups below it",
    Infeasibility.SHORTFALL_START: "newly enabled ad groups start at their start budget",
    Infeasibility.SHORTFALL_LEARNING: "ad groups in learning keep their budget",
    Infeasibility.SHORTFALL_MAX_SHARE: "the per-ad-group cap (max_budget_share) binds",
    Infeasibility.SHORTFALL_NO_ARMS: "no ad group may run (all blocked or paused)",
    Infeasibility.LEARNING_OVER_TOTAL: (
        "ad groups in learning alone exceed the daily budget, so their freeze was lifted"
    ),
}


@dataclass(frozen=True)
class PlannedAdGroup:
    """One ad group's planned change; money in currency per day.

    ``name`` is a short display name (the platform's or export's ad group name, else
    ``creator · concept``); ``roas_*`` the ROAS mean and 90% interval (value per unit of
    spend; ``None`` under the CPA objective).
    """

    adgroup_id: str
    from_budget: float
    to_budget: float
    from_status: str
    to_status: str
    stage: str
    p_best: float
    cpa_mean: float | None
    cpa_low: float | None
    cpa_high: float | None
    reason: str
    name: str = ""
    roas_mean: float | None = None
    roas_low: float | None = None
    roas_high: float | None = None

    @property
    def changes(self) -> bool:
        """True when applying the plan edits this ad group (budget or status)."""
        if self.from_status != self.to_status:
            return True
        return self.to_status == AdGroupStatus.ENABLE and self.from_budget != self.to_budget


@dataclass(frozen=True)
class PlanAlert:
    """Something a person should look at; ``adgroup_id`` is None for account-level alerts."""

    kind: str
    adgroup_id: str | None
    message: str


@dataclass(frozen=True)
class Plan:
    """The desired state of every ad group for one planning day."""

    run_id: str
    account: str
    currency: str
    as_of: date
    daily_budget: float
    adgroups: tuple[PlannedAdGroup, ...]
    alerts: tuple[PlanAlert, ...]
    shortfall: float
    objective: str = "cpa"

    @property
    def planned_total(self) -> float:
        """Sum of planned budgets of enabled ad groups, currency per day."""
        return round(sum(a.to_budget for a in self.adgroups), 2)

    def to_json_dict(self) -> dict[str, Any]:
        """The plan JSON of the contract (``allocator rebalance --json``)."""
        return {
            "run_id": self.run_id,
            "account": self.account,
            "currency": self.currency,
            "as_of": self.as_of.isoformat(),
            "daily_budget": self.daily_budget,
            "planned_total": self.planned_total,
            "shortfall": self.shortfall,
            "adgroups": [asdict(a) for a in self.adgroups],
            "alerts": [asdict(a) for a in self.alerts],
            "objective": self.objective,
        }


_LAPSED_WORDS = "authorization expired, revoked or post deleted"
"""The engine's words for a lapse whose cause it does not know (the plan names it)."""


def _finite(x: float) -> float | None:
    return round(x, 4) if math.isfinite(x) else None


def _fingerprint(
    account: str,
    as_of: date,
    portfolio: Portfolio,
    settings: tuple[EngineParams, int, str, int],
    adgroups: Sequence[AdGroup],
    observations: Sequence[Observation],
) -> str:
    """Content hash of everything that shapes a plan, 16 hex digits.

    ``settings`` is (engine params, seed, time zone, lookback days); the leading parts are
    separated by NUL bytes so adjacent fields cannot run together.
    """
    digest = hashlib.sha256()
    for part in (account, as_of.isoformat(), repr(portfolio), repr(settings)):
        digest.update(part.encode())
        digest.update(b"\x00")
    for ag in adgroups:
        digest.update(repr(ag).encode())
    for ob in sorted(observations, key=lambda o: (o.date, o.adgroup_id)):
        digest.update(repr(ob).encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class PlanSettings:
    """How an account is planned, besides its portfolio and records.

    Attributes:
        account: the account's name, as plans and the store show it.
        params: the engine's settings.
        seed: the engine's seed (with the planning day, it seeds each plan's draws).
        timezone: the account's IANA time zone (authorization expiry, learning windows).
        lookback_days: the most days of history used (>= 1).
    """

    account: str
    params: EngineParams
    seed: int
    timezone: str = "UTC"
    lookback_days: int = 60


def make_plan(
    adgroups: Sequence[AdGroup],
    observations: Sequence[Observation],
    portfolio: Portfolio,
    settings: PlanSettings,
    *,
    as_of: date,
    today: date,
) -> Plan:
    """Plan budgets for ``as_of`` from the records (validated by :mod:`allocator.data`).

    The engine's generator is seeded from ``settings.seed`` and the planning day, so a plan
    is reproducible and successive days draw fresh samples.
    """
    inputs = to_arrays(
        adgroups,
        observations,
        as_of=as_of,
        today=today,
        timezone=settings.timezone,
        lookback_days=settings.lookback_days,
    )
    rng = np.random.default_rng([settings.seed, as_of.toordinal()])
    target = Target.from_portfolio(portfolio)
    params = settings.params
    result = step(inputs.arms, inputs.history, target, portfolio.daily_budget, params, rng)
    hashed = (params, settings.seed, settings.timezone, settings.lookback_days)
    account = settings.account
    run_id = _fingerprint(account, as_of, portfolio, hashed, adgroups, observations)
    by_id = {ag.adgroup_id: ag for ag in adgroups}
    return plan_from_step(result, inputs, by_id, portfolio, target, account=account, run_id=run_id)


def plan_from_step(
    result: EngineStep,
    inputs: EngineInputs,
    adgroups: dict[str, AdGroup],
    portfolio: Portfolio,
    target: Target,
    *,
    account: str,
    run_id: str,
) -> Plan:
    """Turn an unbatched engine step into plan records (one per ad group, input order)."""
    rows: list[PlannedAdGroup] = []
    alerts: list[PlanAlert] = []
    for i, adgroup_id in enumerate(inputs.adgroup_ids):
        ag = adgroups[adgroup_id]
        rows.append(_planned_adgroup(result, i, adgroup_id, ag, portfolio, target))
        alerts.extend(_arm_alerts(result, i, ag))
    shortfall = round(float(result.projection.shortfall), 2)
    account_alert = _shortfall_alert(result, portfolio, shortfall)
    if account_alert is not None:
        alerts.append(account_alert)
    return Plan(
        run_id=run_id,
        account=account,
        currency=portfolio.currency,
        as_of=inputs.as_of,
        daily_budget=portfolio.daily_budget,
        adgroups=tuple(rows),
        alerts=tuple(alerts),
        shortfall=shortfall,
        objective=str(target.objective),
    )


def display_name(ag: AdGroup) -> str:
    """An ad group's short name: its own name, else ``creator · concept``."""
    if ag.name:
        return ag.name
    return f"{ag.creator} · {ag.concept}" if ag.concept else ag.creator


def lapse_cause(ag: AdGroup) -> str:
    """Why a Spark ad group's authorization lapsed, in words (``expired`` when it ran out)."""
    return {
        AuthStatus.REVOKED: "authorization revoked by the creator",
        AuthStatus.DELETED: "post deleted",
    }.get(ag.authorization.status, "authorization expired")


def _planned_adgroup(
    result: EngineStep,
    i: int,
    adgroup_id: str,
    ag: AdGroup,
    portfolio: Portfolio,
    target: Target,
) -> PlannedAdGroup:
    """Arm ``i`` of the step as a plan row, its reason led by any budget constraint."""
    d = result.decisions
    enabled = bool(result.enabled[i])
    reason = explain(d, i, portfolio.currency, target)
    if result.starved[i]:
        reason = starved_reason(int(result.projection.binding[i])) + "; " + reason
    elif result.frozen[i] and enabled:
        reason = "learning phase: budget kept; " + reason
    interval = d.intervals()
    return PlannedAdGroup(
        adgroup_id=adgroup_id,
        from_budget=round(ag.budget, 2),
        to_budget=round(float(result.budget[i]), 2) if enabled else 0.0,
        from_status=str(ag.status),
        to_status=str(AdGroupStatus.ENABLE if enabled else AdGroupStatus.DISABLE),
        stage=Stage(int(result.stage[i])).label,
        p_best=round(float(d.p_best[i]), 4),
        cpa_mean=_finite(float(d.cpa_mean[i])),
        cpa_low=_finite(float(interval.cpa_low[i])),
        cpa_high=_finite(float(interval.cpa_high[i])),
        reason=reason.replace(_LAPSED_WORDS, lapse_cause(ag)),
        name=display_name(ag),
        roas_mean=_finite(float(d.roas_mean[i])),
        roas_low=_finite(float(interval.roas_low[i])),
        roas_high=_finite(float(interval.roas_high[i])),
    )


def _shortfall_alert(
    result: EngineStep, portfolio: Portfolio, shortfall: float
) -> PlanAlert | None:
    """The account-level alert when part of the daily budget cannot be planned."""
    code = Infeasibility(int(result.projection.infeasible))
    if code is Infeasibility.OK:
        return None
    amount = float(result.projection.infeasible_amount)
    if shortfall > 0 and float(result.unspent_by_choice) > 0:
        return PlanAlert(
            kind="shortfall",
            adgroup_id=None,
            message=(
                f"no creative meets the target: {shortfall:.2f} {portfolio.currency} left "
                "unspent by choice (every idle creative's CPA is credibly above the maximum "
                "accepted)"
            ),
        )
    return PlanAlert(
        kind="shortfall" if shortfall > 0 else "infeasible",
        adgroup_id=None,
        message=(
            f"{amount:.2f} {portfolio.currency} of the {portfolio.daily_budget:.2f} "
            f"daily budget cannot be planned: {_SHORTFALL_CAUSES[code]}"
        ),
    )


def _arm_alerts(result: EngineStep, i: int, ag: AdGroup) -> list[PlanAlert]:
    """Arm ``i``'s alerts, naming the ad group's creator and, for a lapse, its cause."""
    d = result.decisions
    messages = alert_messages(int(d.alerts[i]), float(d.auth_days_left[i]), float(d.p_fatigue[i]))
    who = f"{display_name(ag)} ({ag.creator})" if ag.name else display_name(ag)
    out = []
    for kind, text in messages:
        if kind == "auth_lapsed":
            text = f"{lapse_cause(ag)}: the ad cannot deliver; ask {ag.creator} for a new code"
        elif kind == "auth_expiring":
            text = text.replace("ask the creator", f"ask {ag.creator}")
        out.append(PlanAlert(kind=kind, adgroup_id=ag.adgroup_id, message=f"{who}: {text}"))
    return out
