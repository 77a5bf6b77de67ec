"""History replay: what the engine would have done on an account's own export, day by day.

The input is the ``files`` platform's two CSV files: ad groups (a snapshot taken on the
export date) and daily observations. :func:`replay_decisions` walks the history and, for
each planning day ``d`` from the day after the first row to the export date, runs the
engine exactly as the job would have run that morning:

* **as-of cut-off**: only rows dated before ``d`` are read (later rows never enter);
* **conversions as reported then**: the export holds conversions as reported on the
  export date ``E`` (complete for old days, partial for the last ``W - 1`` days of a
  ``W``-day attribution window). Day ``t``'s count as reported on ``d`` is rebuilt with the
  lag model's reported fraction ``c``: in ``expected`` mode ``y * c(d - t) / c(E - t)``
  (its expected value given the export; fractional counts); in ``sampled`` mode each
  row's whole conversions are split once over the lags visible by ``E`` (multinomial with
  the lag pmf cut at ``E - t`` days, from a generator seeded by the seed and the row's
  date) and the lags visible on ``d`` are summed, so counts only grow from day to day;
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
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core.arms import (
    AdGroup,
    AdGroupStatus,
    AuthStatus,
    Observation,
    Portfolio,
    Stage,
)
from allocator.core.engine import EngineParams, EngineStep, step
from allocator.core.lag import LagModel
from allocator.core.target import Target
from allocator.data.arrays import to_arrays
from allocator.errors import DataError, InsufficientDataError

__all__ = [
    "DECISION_COLUMNS",
    "Panel",
    "Thinning",
    "panel_from_records",
    "replay_decisions",
    "reported_as_of",
]

Thinning = Literal["expected", "sampled"]

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


# ----------------------------------------------------------------- reported counts
def _lag_splits(
    observations: Sequence[Observation], export_date: date, lag: LagModel, seed: int
) -> dict[tuple[date, str], FloatArray]:
    """Each whole-count row's conversions split over the lags visible on the export date.

    One generator per row date (seeded by ``seed`` and the date), rows of a date in
    ad group id order: a row's split never depends on rows of other dates.
    """
    by_date: dict[date, list[Observation]] = {}
    for o in observations:
        if float(o.conversions).is_integer():
            by_date.setdefault(o.date, []).append(o)
    splits: dict[tuple[date, str], FloatArray] = {}
    for day, rows in by_date.items():
        age = (export_date - day).days
        pvals = lag.pmf[: max(age, 1)].copy()
        pvals = pvals / pvals.sum() if pvals.sum() > 0 else np.eye(1, pvals.size)[0]
        rows = sorted(rows, key=lambda o: o.adgroup_id)
        counts = np.array([int(o.conversions) for o in rows], dtype=np.int64)
        rng = np.random.default_rng([seed, day.toordinal()])
        drawn = rng.multinomial(counts, pvals).astype(np.float64)
        for o, split in zip(rows, drawn, strict=True):
            splits[(o.date, o.adgroup_id)] = split
    return splits


def reported_as_of(
    observations: Sequence[Observation],
    as_of: date,
    export_date: date,
    lag: LagModel,
    *,
    thinning: Thinning = "expected",
    splits: dict[tuple[date, str], FloatArray] | None = None,
    seed: int = 0,
) -> list[Observation]:
    """The rows dated before ``as_of``, conversions (and value) as reported on ``as_of``.

    Args:
        observations: the export's rows (conversions as reported on ``export_date``).
        as_of: the planning day (``<= export_date``).
        export_date: the day the export was taken (every row is dated before it).
        lag: the conversion-lag model.
        thinning: ``expected`` or ``sampled`` (see the module docstring); rows with
            fractional counts are always thinned by expectation.
        splits: precomputed lag splits for ``sampled`` (computed if missing).
        seed: seed of the ``sampled`` splits.

    Returns:
        New observations, in input order; value is scaled with the conversions.
    """
    if thinning == "sampled" and splits is None:
        splits = _lag_splits(observations, export_date, lag, seed)
    rows = [o for o in observations if o.date < as_of]
    ages_now = np.array([(as_of - o.date).days for o in rows], dtype=np.float64)
    ages_export = np.array([(export_date - o.date).days for o in rows], dtype=np.float64)
    seen_now = lag.reported_fraction(ages_now)
    seen_export = lag.reported_fraction(ages_export)
    ratio = np.divide(seen_now, seen_export, out=np.ones_like(seen_now), where=seen_export > 0)
    out = []
    for o, r, age in zip(rows, np.minimum(ratio, 1.0), ages_now, strict=True):
        split = None if splits is None else splits.get((o.date, o.adgroup_id))
        if split is not None:
            conv = float(split[: int(age)].sum())
            share = conv / o.conversions if o.conversions > 0 else 1.0
        else:
            conv, share = o.conversions * float(r), float(r)
        value = None if o.value is None else o.value * share
        out.append(dataclasses.replace(o, conversions=conv, value=value))
    return out


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

    def advance(self, budget: FloatArray, enabled: BoolArray, stage: IntArray, frac: float) -> None:
        """Adopt the day's plan; a change above ``frac`` of the budget restarts learning."""
        before = np.where(self.enabled, self.budget, 0.0)
        after = np.where(enabled, budget, 0.0)
        large = (np.abs(after - before) > frac * before) & enabled
        self.days_since_edit = np.where(large, 1.0, self.days_since_edit + 1.0)
        self.budget, self.enabled, self.stage = after, enabled.copy(), stage.copy()


def replay_decisions(
    adgroups: Sequence[AdGroup],
    observations: Sequence[Observation],
    portfolio: Portfolio,
    params: EngineParams,
    *,
    seed: int,
    export_date: date,
    timezone: str = "UTC",
    lookback_days: int = 60,
    thinning: Thinning = "expected",
    last_day: date | None = None,
) -> pd.DataFrame:
    """The engine's decisions for every day of the history (see the module docstring).

    Args:
        adgroups: the ad group snapshot (``K`` arms).
        observations: the export's rows, all dated before ``export_date``.
        portfolio: the account's budget frame and target.
        params: engine settings.
        seed: the engine's seed; day ``d`` draws from ``default_rng([seed, d.toordinal()])``
            as :func:`allocator.plan.make_plan` does.
        export_date: the day the export was taken (the last planning day).
        timezone: the account's IANA time zone.
        lookback_days: days of history the engine reads.
        thinning: how conversions as reported on each day are rebuilt.
        last_day: stop after this planning day (default: ``export_date``).

    Returns:
        One row per (planning day, ad group), columns :data:`DECISION_COLUMNS`.

    Raises:
        DataError: a row is dated on or after ``export_date``.
        InsufficientDataError: no rows.
    """
    panel = panel_from_records(adgroups, observations)
    if panel.dates[-1] >= export_date:
        raise DataError(
            f"observations dated {panel.dates[-1]} are not before the export date {export_date}",
            column="date",
        )
    lag = params.posterior.lag
    splits = _lag_splits(observations, export_date, lag, seed) if thinning == "sampled" else None
    first_row = {
        a: panel.dates[int(np.argmax(row))]
        for a, row in zip(panel.adgroup_ids, panel.observed, strict=True)
        if row.any()
    }
    target = Target.from_portfolio(portfolio)
    n_arms = len(adgroups)
    day0 = panel.dates[0] + timedelta(days=1)
    shadow = _Shadow(
        budget=panel.spend[:, 0].copy(),
        enabled=panel.spend[:, 0] > 0,
        days_since_edit=np.full(n_arms, np.inf),
        stage=np.full(n_arms, int(Stage.TESTING), dtype=np.int64),
    )
    frames = []
    end = export_date if last_day is None else min(last_day, export_date)
    day = day0
    while day <= end:
        t_prev = (day - panel.dates[0]).days - 1
        delivered = {
            a for a, s in zip(panel.adgroup_ids, panel.spend[:, t_prev], strict=True) if s > 0
        }
        snapshot = _adgroups_as_of(adgroups, day, timezone, delivered, first_row, export_date)
        rows = reported_as_of(observations, day, export_date, lag, thinning=thinning, splits=splits)
        inputs = to_arrays(
            snapshot, rows, as_of=day, today=day, timezone=timezone, lookback_days=lookback_days
        )
        arms = dataclasses.replace(
            inputs.arms,
            budget=np.where(shadow.enabled, shadow.budget, 0.0),
            enabled=shadow.enabled.copy(),
            days_since_edit=shadow.days_since_edit.copy(),
            prev_stage=shadow.stage.copy(),
        )
        rng = np.random.default_rng([seed, day.toordinal()])
        result = step(arms, inputs.history, target, portfolio.daily_budget, params, rng)
        frames.append(_day_frame(day, panel, adgroups, result, export_date))
        shadow.advance(
            result.budget, result.enabled, result.stage, params.guardrails.large_edit_fraction
        )
        day += timedelta(days=1)
    return pd.concat(frames, ignore_index=True)


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
            "cpa_low": np.round(d.cpa_low, 2),
            "cpa_high": np.round(d.cpa_high, 2),
            "actual_budget": np.round(actual, 2),
            "actual_status": np.where(actual > 0, "enable", "disable"),
            "actual_source": source,
        },
        columns=list(DECISION_COLUMNS),
    )
