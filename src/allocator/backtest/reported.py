"""Conversions as reported on a past day, rebuilt from an export with the lag model.

An export holds conversions as reported on the export date ``E``: complete for old days,
partial for the last ``W - 1`` days of a ``W``-day attribution window. Day ``t``'s count as
reported on an earlier day ``d`` is rebuilt with the lag model's reported fraction ``c``:

* ``expected``: ``y * c(d - t) / c(E - t)``, its expected value given the export
  (fractional counts);
* ``sampled``: each row's whole conversions are split once over the lags visible by ``E``
  (multinomial with the lag pmf cut at ``E - t`` days, from a generator seeded by the seed
  and the row's date, :func:`lag_splits`) and the lags visible on ``d`` are summed, so
  counts only grow from day to day.

Conversion value is scaled with the conversions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date
from typing import Literal

import numpy as np

from allocator._types import FloatArray
from allocator.core.arms import Observation
from allocator.core.lag import LagModel

__all__ = ["Thinning", "lag_splits", "reported_as_of"]

Thinning = Literal["expected", "sampled"]
"""How conversions as reported on each past day are rebuilt (see the module docstring)."""


def lag_splits(
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
        splits = lag_splits(observations, export_date, lag, seed)
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
