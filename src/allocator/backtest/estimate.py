"""What the engine would have earned: policies on worlds sampled from the fitted history.

:func:`layout_from_records` fixes what the history tells about the account (launches,
authorizations, the logged budgets); :func:`estimate_policies` draws ``R`` worlds from
the :class:`~allocator.backtest.scenario_fit.ScenarioFit` and runs the engine
(``thompson``), the baselines (``even``, ``rules``), the ``oracle`` and the ``logged``
allocation replayed, on the same worlds with the same daily noise; :func:`summarize` turns
each policy's ``R`` outcomes into a mean and an equal-tailed interval (parameter
uncertainty and delivery noise together), plus the paired difference with the logged
allocation.
:func:`actual_outcome` is what the logged allocation actually earned in the export.

Conversions are the expected conversions given the budgets set (the simulator's
``expected_conversions``: delivery noise in spend and CPM stays, the Poisson noise of
the count goes), over the history's days, lag-free (every conversion the days earn).
CPA is spend over those conversions, currency per conversion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from allocator._types import FloatArray
from allocator.backtest.history import Panel
from allocator.backtest.scenario_fit import ScenarioFit
from allocator.backtest.worlds import (
    FittedEnvironment,
    Layout,
    LoggedSchedule,
    WarmStart,
    draw_fitted_world,
    fitted_scenario,
    run_policies,
)
from allocator.core.arms import AdGroup, AuthStatus, Kind
from allocator.core.engine import EngineParams
from allocator.core.lag import LagModel
from allocator.sim.environment import Environment
from allocator.sim.metrics import PolicyMetrics
from allocator.sim.oracle import Oracle
from allocator.sim.policy import Policy
from allocator.sim.rules import Rules
from allocator.sim.splits import EvenSplit
from allocator.sim.thompson import ThompsonPolicy

__all__ = [
    "ESTIMATE_COLUMNS",
    "POLICY_ORDER",
    "ActualOutcome",
    "actual_outcome",
    "estimate_policies",
    "history_policies",
    "layout_from_records",
    "summarize",
]

POLICY_ORDER: tuple[str, ...] = ("thompson", "logged", "even", "rules", "oracle")
"""Policies of the history backtest, in report order."""

ESTIMATE_COLUMNS: tuple[str, ...] = (
    "policy",
    "conversions",
    "conversions_low",
    "conversions_high",
    "spend",
    "cpa",
    "cpa_low",
    "cpa_high",
    "vs_logged",
    "vs_logged_low",
    "vs_logged_high",
    "oracle_ratio",
    "n_worlds",
)
"""Columns of ``estimates.csv``: means over the sampled worlds and interval ends."""


def _day_start(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(), tzinfo=ZoneInfo(timezone))


def layout_from_records(
    adgroups: Sequence[AdGroup],
    panel: Panel,
    *,
    daily_budget: float,
    platform_min_budget: float,
    target_cpa: float,
    timezone: str = "UTC",
    delivery_mean: float = 0.97,
) -> Layout:
    """The account's arms and days as the whole history shows them.

    Launch: ``launch_date`` if given, else the first day with spend (``D`` if none).
    Authorizations: an ``auth_expires_at`` expires then (days from the first day's
    start in ``timezone``); a revoked or deleted one (or expired without a date) lapses
    at the end of its last day with spend (at the start if it never delivered). The
    logged budgets are the spend-implied ones, ``spend / delivery_mean``.
    """
    n_days = len(panel.dates)
    start = _day_start(panel.dates[0], timezone)
    delivered = panel.spend > 0
    any_spend = delivered.any(axis=1)
    first_spend = np.where(any_spend, np.argmax(delivered, axis=1), n_days)
    last_spend = np.where(any_spend, n_days - 1 - np.argmax(delivered[:, ::-1], axis=1), -1)
    launch, expiry, revocation = [], [], []
    for k, ag in enumerate(adgroups):
        if ag.launch_date is not None:
            launch.append(int(np.clip((ag.launch_date - panel.dates[0]).days, 0, n_days)))
        else:
            launch.append(int(first_spend[k]))
        auth = ag.authorization
        expires = auth.expires_at
        expiry.append(np.inf if expires is None else (expires - start).total_seconds() / 86_400)
        undated = auth.status in (AuthStatus.REVOKED, AuthStatus.DELETED) or (
            auth.status is AuthStatus.EXPIRED and expires is None
        )
        revocation.append(float(last_spend[k] + 1) if undated else np.inf)
    codes, _ = pd.factorize(pd.Series([ag.creator for ag in adgroups], dtype=object))
    return Layout(
        is_spark=np.array([ag.kind is Kind.SPARK for ag in adgroups], dtype=bool),
        creator=np.asarray(codes, dtype=np.int64),
        launch_day=np.array(launch, dtype=np.int64),
        expiry=np.array(expiry, dtype=np.float64),
        revocation=np.array(revocation, dtype=np.float64),
        logged_budget=np.ascontiguousarray(panel.spend.T / delivery_mean),
        daily_budget=daily_budget,
        platform_min_budget=platform_min_budget,
        target_cpa=target_cpa,
    )


def history_policies(params: EngineParams, lookback_days: int, layout: Layout) -> list[Policy]:
    """The engine, the logged allocation, ``even``, ``rules`` and the ``oracle``.

    Every policy starts from the logged first day's budgets (:class:`WarmStart`).
    """
    start = layout.logged_budget[0]
    policies: list[Policy] = [
        ThompsonPolicy(params, lookback_days=lookback_days),
        LoggedSchedule(layout.logged_budget),
        EvenSplit(),
        Rules(),
        Oracle(),
    ]
    return [WarmStart(p, start) for p in policies]


def estimate_policies(
    fit: ScenarioFit,
    layout: Layout,
    policies: Sequence[Policy],
    *,
    n_worlds: int,
    seed: int,
) -> dict[str, PolicyMetrics]:
    """Run ``policies`` on ``n_worlds`` worlds drawn from ``fit`` (same worlds and noise).

    Args:
        fit: the fit of one history (per-arm fields ``(K,)``).
        layout: the account's arms and days.
        policies: the policies (one named ``oracle`` gives every policy its regret).
        n_worlds: sampled worlds ``R``.
        seed: seed of the worlds (``[seed, 0]``), the daily noise (``[seed, 1]``) and
            the policies' own draws.

    Returns:
        Metrics per policy name, arrays ``(R,)``.
    """
    scenario = fitted_scenario(fit, layout)
    world, beta = draw_fitted_world(fit, layout, n_worlds, np.random.default_rng([seed, 0]))

    def make_env() -> Environment:
        return FittedEnvironment(scenario, world, np.random.default_rng([seed, 1]), beta)

    return run_policies(
        make_env,
        policies,
        daily_budget=layout.daily_budget,
        platform_min_budget=layout.platform_min_budget,
        target_cpa=layout.target_cpa,
        seed=seed,
    )


def _interval(values: FloatArray, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high)


def summarize(metrics: dict[str, PolicyMetrics], level: float = 0.9) -> pd.DataFrame:
    """Mean and equal-tailed ``level`` interval per policy over the sampled worlds.

    Returns:
        One row per policy (:data:`POLICY_ORDER` first), columns :data:`ESTIMATE_COLUMNS`;
        ``vs_logged`` is the paired difference in conversions with ``logged`` (NaN
        without it); CPA is per world ``spend / conversions``.
    """
    logged = metrics.get("logged")
    rows = []
    names = [p for p in POLICY_ORDER if p in metrics] + [
        p for p in metrics if p not in POLICY_ORDER
    ]
    for name in names:
        m = metrics[name]
        conv, spend = m.expected_conversions, m.spend
        cpa = np.divide(spend, conv, out=np.full_like(conv, np.nan), where=conv > 0)
        diff = (
            conv - logged.expected_conversions if logged is not None else np.full_like(conv, np.nan)
        )
        rows.append(
            {
                "policy": name,
                "conversions": float(conv.mean()),
                **dict(
                    zip(
                        ("conversions_low", "conversions_high"), _interval(conv, level), strict=True
                    )
                ),
                "spend": float(spend.mean()),
                "cpa": float(np.nanmean(cpa)) if np.isfinite(cpa).any() else float("nan"),
                **dict(zip(("cpa_low", "cpa_high"), _interval(cpa, level), strict=True)),
                "vs_logged": float(diff.mean()),
                **dict(
                    zip(("vs_logged_low", "vs_logged_high"), _interval(diff, level), strict=True)
                ),
                "oracle_ratio": float(np.nanmean(m.oracle_ratio)),
                "n_worlds": int(conv.shape[0]),
            }
        )
    return pd.DataFrame(rows, columns=list(ESTIMATE_COLUMNS))


@dataclass(frozen=True)
class ActualOutcome:
    """What the logged allocation earned over the export's days.

    Attributes:
        spend: total spend, currency.
        conversions_reported: conversions as reported on the export date.
        conversions_completed: reported counts divided by the lag model's reported
            fraction (the conversions the days will end with, expected).
        first_day: first day of the export.
        last_day: last day of the export.
    """

    spend: float
    conversions_reported: float
    conversions_completed: float
    first_day: date
    last_day: date

    @property
    def cpa(self) -> float:
        """Spend per completed conversion, currency (NaN without conversions)."""
        if self.conversions_completed <= 0:
            return float("nan")
        return self.spend / self.conversions_completed


def actual_outcome(panel: Panel, export_date: date, lag: LagModel) -> ActualOutcome:
    """The logged allocation's spend and conversions (reported, and lag-completed)."""
    seen = lag.reported_fraction(panel.age_days(export_date))
    daily = panel.conversions.sum(axis=0)
    completed = np.divide(daily, seen, out=np.zeros_like(daily), where=seen > 0).sum()
    return ActualOutcome(
        spend=float(panel.spend.sum()),
        conversions_reported=float(daily.sum()),
        conversions_completed=float(completed),
        first_day=panel.dates[0],
        last_day=panel.dates[-1] if panel.dates else export_date - timedelta(days=1),
    )
