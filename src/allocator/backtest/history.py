"""History replay: what the engine would have done on an account's own export, day by day.

The input is the ``files`` platform's two CSV files: ad groups (a snapshot taken on the
export date) and daily observations. :func:`replay_decisions` walks the history and, for
each planning day ``d`` from the day after the first row to the export date, runs the
engine exactly as the job would have run that morning:

* **as-of cut-off**: only rows dated before ``d`` are read (later rows never enter);
* **conversions as reported then**: the export holds conversions as reported on the
  export date ``E`` (complete for old days, partial for the last ``W - 1`` days of a
  ``W``-day attribution window). Day ``t``'s count as reported on ``d`` is rebuilt with the
  lag model's reported fraction, by expectation or by one sampled split of each row
  (:mod:`allocator.backtest.reported`);
* **the engine's memory carried day to day** ("shadow mode", as if the engine had run the
  account from the first planning day): its stages (``prev_stage``), its own budgets and
  statuses as the current ones (the step caps and learning freezes act on its own
  trajectory) and its own large edits (``days_since_edit``). On the first day it starts
  from the account's actual budgets of the day before, every arm ``testing``;
* **the ad group snapshot read as of d**: an authorization that expired after ``d``
  (its ``auth_expires_at``) was still active; a revoked or deleted one (the snapshot has
  no date) counts as active while the ad group delivered the day before ``d``; an ad group
  without ``launch_date`` launches on its first row's date (a row marks its existence).

"Actual" budgets: the observations hold spend, not budgets, so the actual budget of day
``t`` is its spend (the budget the account put to work; a budget is never below its
spend), and the actual status is "delivered" (spend > 0). On the export date itself,
which has no rows yet, the actual budget is the snapshot's ``budget`` (0 if disabled).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.backtest.reported import Thinning, lag_splits, reported_as_of
from allocator.core.arms import (
    AdGroup,
    AdGroupStatus,
    ArmState,
    AuthStatus,
    Observation,
    Portfolio,
    Stage,
)
from allocator.core.engine import EngineParams, EngineStep, step
from allocator.core.target import Target
from allocator.data.arrays import to_arrays
from allocator.errors import DataError, InsufficientDataError

__all__ = [
    "DECISION_COLUMNS",
    "Panel",
    "Replay",
    "panel_from_records",
    "replay_decisions",
]

DECISION_COLUMNS: tuple[str, ...] = (
    "date",
    "adgroup_id",
    "recommended_budget",
    "recommended_status",
    "stage",
    "p_best",
    "cpa_mean",
    "cpa_low",
    "cpa_high",
    "actual_budget",
    "actual_status",
    "actual_source",
)
"""Columns of the day-by-day decisions (``decisions.csv``); money in currency per day."""


@dataclasses.dataclass(frozen=True)
class Panel:
    """The observations as dense daily arrays, ``(K, D)``, oldest day first.

    Attributes:
        adgroup_ids: ``K`` ids in the ad groups file's order.
        dates: ``D`` consecutive dates from the first to the last row.
        spend: currency per day (0 where no row).
        impressions: impressions.
        clicks: clicks.
        conversions: conversions as reported on the export date.
        value: conversion value reported, currency.
        observed: a row exists.
    """

    adgroup_ids: tuple[str, ...]
    dates: tuple[date, ...]
    spend: FloatArray
    impressions: FloatArray
    clicks: FloatArray
    conversions: FloatArray
    value: FloatArray
    observed: BoolArray

    def age_days(self, export_date: date) -> FloatArray:
        """Days from each column to ``export_date``, ``(D,)``."""
        return np.array([(export_date - d).days for d in self.dates], dtype=np.float64)


def panel_from_records(adgroups: Sequence[AdGroup], observations: Sequence[Observation]) -> Panel:
    """Dense ``(K, D)`` arrays of validated records (see :mod:`allocator.data`).

    Raises:
        InsufficientDataError: there are no observation rows.
    """
    if not observations:
        raise InsufficientDataError("the observations file has no rows: nothing to replay")
    ids = tuple(ag.adgroup_id for ag in adgroups)
    index = {a: k for k, a in enumerate(ids)}
    first = min(o.date for o in observations)
    n_days = (max(o.date for o in observations) - first).days + 1
    arrays = {n: np.zeros((len(ids), n_days)) for n in ("spend", "imp", "clk", "conv", "val")}
    observed = np.zeros((len(ids), n_days), dtype=bool)
    for o in observations:
        k, t = index[o.adgroup_id], (o.date - first).days
        arrays["spend"][k, t], arrays["imp"][k, t] = o.spend, o.impressions
        arrays["clk"][k, t], arrays["conv"][k, t] = o.clicks, o.conversions
        arrays["val"][k, t] = 0.0 if o.value is None else o.value
        observed[k, t] = True
    dates = tuple(first + timedelta(days=t) for t in range(n_days))
    return Panel(
        ids, dates, arrays["spend"], arrays["imp"], arrays["clk"], arrays["conv"], arrays["val"],
        observed,
    )  # fmt: skip


# ----------------------------------------------------------------- snapshot as of d
def _adgroups_as_of(
    adgroups: Sequence[AdGroup],
    as_of: date,
    timezone: str,
    delivered_before: set[str],
    first_row: dict[str, date],
    export_date: date,
) -> list[AdGroup]:
    """The snapshot's ad groups as they stood at the start of ``as_of`` (module docstring)."""
    start = datetime.combine(as_of, time(), tzinfo=ZoneInfo(timezone))
    lapsed = (AuthStatus.EXPIRED, AuthStatus.REVOKED, AuthStatus.DELETED)
    out = []
    for ag in adgroups:
        auth = ag.authorization
        if auth.status in lapsed:
            dated = auth.status is AuthStatus.EXPIRED and auth.expires_at is not None
            live = (
                auth.expires_at is not None and auth.expires_at > start
                if dated
                else ag.adgroup_id in delivered_before
            )
            if live:
                auth = dataclasses.replace(auth, status=AuthStatus.ACTIVE)
        launch = ag.launch_date or first_row.get(ag.adgroup_id, export_date)
        launch = min(launch, as_of + timedelta(days=1))  # "not yet" is all that can be known
        out.append(
            dataclasses.replace(
                ag,
                authorization=auth,
                launch_date=launch,
                status=AdGroupStatus.ENABLE,
                last_edit_date=None,
                stage=None,
            )
        )
    return out


@dataclasses.dataclass
class _Shadow:
    """The engine's own account state, carried from one planning day to the next."""

    budget: FloatArray
    enabled: BoolArray
    days_since_edit: FloatArray
    stage: IntArray

    @classmethod
    def start(cls, panel: Panel) -> _Shadow:
        """The first planning day: the actual budgets of the day before, every arm testing."""
        n_arms = len(panel.adgroup_ids)
        return cls(
            budget=panel.spend[:, 0].copy(),
            enabled=panel.spend[:, 0] > 0,
            days_since_edit=np.full(n_arms, np.inf),
            stage=np.full(n_arms, int(Stage.TESTING), dtype=np.int64),
        )

    def arms(self, arms: ArmState) -> ArmState:
        """``arms`` with the engine's own budgets, statuses, edits and stages as current."""
        return dataclasses.replace(
            arms,
            budget=np.where(self.enabled, self.budget, 0.0),
            enabled=self.enabled.copy(),
            days_since_edit=self.days_since_edit.copy(),
            prev_stage=self.stage.copy(),
        )

    def advance(self, budget: FloatArray, enabled: BoolArray, stage: IntArray, frac: float) -> None:
        """Adopt the day's plan; a change above ``frac`` of the budget restarts learning."""
        before = np.where(self.enabled, self.budget, 0.0)
        after = np.where(enabled, budget, 0.0)
        large = (np.abs(after - before) > frac * before) & enabled
        self.days_since_edit = np.where(large, 1.0, self.days_since_edit + 1.0)
        self.budget, self.enabled, self.stage = after, enabled.copy(), stage.copy()


@dataclasses.dataclass(frozen=True, slots=True)
class Replay:
    """Which history a replay walks and how it reads it.

    Attributes:
        export_date: the day the export was taken (the last planning day).
        timezone: the account's IANA time zone.
        lookback_days: days of history the engine reads.
        thinning: how conversions as reported on each day are rebuilt.
        last_day: stop after this planning day (default: ``export_date``).
    """

    export_date: date
    timezone: str = "UTC"
    lookback_days: int = 60
    thinning: Thinning = "expected"
    last_day: date | None = None


def replay_decisions(
    adgroups: Sequence[AdGroup],
    observations: Sequence[Observation],
    portfolio: Portfolio,
    params: EngineParams,
    replay: Replay,
    *,
    seed: int,
) -> pd.DataFrame:
    """The engine's decisions for every day of the history (see the module docstring).

    Args:
        adgroups: the ad group snapshot (``K`` arms).
        observations: the export's rows, all dated before ``replay.export_date``.
        portfolio: the account's budget frame and target.
        params: engine settings.
        replay: the export date, time zone, lookback, thinning and last day.
        seed: the engine's seed; day ``d`` draws from ``default_rng([seed, d.toordinal()])``
            as :func:`allocator.plans.make_plan` does.

    Returns:
        One row per (planning day, ad group), columns :data:`DECISION_COLUMNS`.

    Raises:
        DataError: a row is dated on or after ``export_date``.
        InsufficientDataError: no rows.
    """
    export_date, timezone, thinning = replay.export_date, replay.timezone, replay.thinning
    panel = panel_from_records(adgroups, observations)
    if panel.dates[-1] >= export_date:
        raise DataError(
            f"observations dated {panel.dates[-1]} are not before the export date {export_date}",
            column="date",
        )
    lag = params.posterior.lag
    splits = lag_splits(observations, export_date, lag, seed) if thinning == "sampled" else None
    first_row = _first_rows(panel)
    target = Target.from_portfolio(portfolio)
    shadow = _Shadow.start(panel)
    frames = []
    end = export_date if replay.last_day is None else min(replay.last_day, export_date)
    day = panel.dates[0] + timedelta(days=1)
    while day <= end:
        delivered = _delivered_before(panel, day)
        snapshot = _adgroups_as_of(adgroups, day, timezone, delivered, first_row, export_date)
        rows = reported_as_of(observations, day, export_date, lag, thinning=thinning, splits=splits)
        inputs = to_arrays(
            snapshot,
            rows,
            as_of=day,
            today=day,
            timezone=timezone,
            lookback_days=replay.lookback_days,
        )
        arms = shadow.arms(inputs.arms)
        rng = np.random.default_rng([seed, day.toordinal()])
        result = step(arms, inputs.history, target, portfolio.daily_budget, params, rng)
        frames.append(_day_frame(day, panel, adgroups, result, export_date))
        shadow.advance(
            result.budget, result.enabled, result.stage, params.guardrails.large_edit_fraction
        )
        day += timedelta(days=1)
    return pd.concat(frames, ignore_index=True)


def _first_rows(panel: Panel) -> dict[str, date]:
    """Each ad group's first dated row (ad groups without rows left out)."""
    return {
        a: panel.dates[int(np.argmax(row))]
        for a, row in zip(panel.adgroup_ids, panel.observed, strict=True)
        if row.any()
    }


def _delivered_before(panel: Panel, day: date) -> set[str]:
    """Ad groups with spend on the day before ``day``."""
    t_prev = (day - panel.dates[0]).days - 1
    return {a for a, s in zip(panel.adgroup_ids, panel.spend[:, t_prev], strict=True) if s > 0}


def _day_frame(
    day: date,
    panel: Panel,
    adgroups: Sequence[AdGroup],
    result: EngineStep,
    export_date: date,
) -> pd.DataFrame:
    """One planning day's rows of :data:`DECISION_COLUMNS`."""
    d = result.decisions
    t = (day - panel.dates[0]).days
    if day < export_date and t < len(panel.dates):
        actual = panel.spend[:, t]
        source = "spend"
    else:
        actual = np.array(
            [ag.budget if ag.status is AdGroupStatus.ENABLE else 0.0 for ag in adgroups]
        )
        source = "logged"
    enabled = np.asarray(result.enabled)
    return pd.DataFrame(
        {
            "date": day.isoformat(),
            "adgroup_id": list(panel.adgroup_ids),
            "recommended_budget": np.round(np.where(enabled, result.budget, 0.0), 2),
            "recommended_status": np.where(enabled, "enable", "disable"),
            "stage": [Stage(int(s)).label for s in result.stage],
            "p_best": np.round(d.p_best, 4),
            "cpa_mean": np.round(d.cpa_mean, 2),
            "cpa_low": np.round(d.intervals().cpa_low, 2),
            "cpa_high": np.round(d.intervals().cpa_high, 2),
            "actual_budget": np.round(actual, 2),
            "actual_status": np.where(actual > 0, "enable", "disable"),
            "actual_source": source,
        },
        columns=list(DECISION_COLUMNS),
    )
