"""Validated ad group and observation records turned into the core arrays for one day.

:func:`to_arrays` gives :class:`EngineInputs`: per-arm state of shape ``(K,)`` and daily
history of shape ``(K, D)`` (columns oldest first, ``age_days`` = ``[D, ..., 1]``), with the
ad group ids, creator names and calendar dates that map results back to the records.
Money is in currency; conversions are kept as reported (the posterior's lag model corrects
recent, incomplete days).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core.arms import (
    AdGroup,
    AdGroupStatus,
    ArmState,
    History,
    Kind,
    Observation,
    Stage,
)
from allocator.data.table import DataWarning
from allocator.errors import DataError

__all__ = ["EngineInputs", "to_arrays"]


@dataclass(frozen=True, slots=True)
class EngineInputs:
    """The core arrays for one planning date, with the labels to map results back.

    Attributes:
        arms: per-arm state, arrays of shape ``(K,)``, in ad group order.
        history: daily observations, arrays of shape ``(K, D)``; columns run oldest first,
            so ``history.age_days`` is ``[D, D-1, ..., 1]`` (1 = the day before ``as_of``).
        adgroup_ids: ``K`` ad group ids; index ``k`` is arm ``k``.
        creators: creator names; ``arms.creator == c`` means ``creators[c]``.
        dates: ``D`` calendar dates of the history columns (``as_of - age_days``).
        as_of: the planning date.
    """

    arms: ArmState
    history: History
    adgroup_ids: tuple[str, ...]
    creators: tuple[str, ...]
    dates: tuple[date, ...]
    as_of: date


def _check_objects(
    adgroups: Sequence[AdGroup], observations: Sequence[Observation], today: date
) -> dict[str, int]:
    """Index ad groups by id; reject duplicates, unknown ids and future rows."""
    index: dict[str, int] = {}
    for k, ag in enumerate(adgroups):
        if ag.adgroup_id in index:
            raise DataError(f"duplicate ad group {ag.adgroup_id!r}", column="adgroup_id")
        index[ag.adgroup_id] = k
    seen: set[tuple[date, str]] = set()
    for o in observations:
        if o.adgroup_id not in index:
            raise DataError(
                f"observation for unknown ad group {o.adgroup_id!r}", column="adgroup_id"
            )
        if o.date > today:
            raise DataError(f"observation dated {o.date} is after today ({today})", column="date")
        key = (o.date, o.adgroup_id)
        if key in seen:
            raise DataError(
                f"duplicate observation for {o.adgroup_id!r} on {o.date}", column="date"
            )
        seen.add(key)
    return index


def _arm_state(
    adgroups: Sequence[AdGroup], first_delivery: FloatArray, as_of: date, timezone: str
) -> tuple[ArmState, tuple[str, ...]]:
    """Per-arm arrays ``(K,)`` as of ``as_of`` 00:00 in ``timezone``."""
    start = datetime.combine(as_of, time(), tzinfo=ZoneInfo(timezone))
    enabled = np.array([ag.status is AdGroupStatus.ENABLE for ag in adgroups], dtype=bool)
    codes, creators = pd.factorize(pd.Series([ag.creator for ag in adgroups], dtype=object))
    launch = np.array(
        [np.nan if ag.launch_date is None else (as_of - ag.launch_date).days for ag in adgroups],
        dtype=np.float64,
    )
    # an explicit launch_date after as_of stays negative: the engine gives it no budget
    launch = np.where(np.isnan(launch), np.maximum(first_delivery, 0.0), launch)
    edited = [ag.last_edit_date for ag in adgroups]
    prev = [
        ag.stage if ag.stage is not None else (Stage.TESTING if on else Stage.PAUSED)
        for ag, on in zip(adgroups, enabled, strict=True)
    ]
    arms = ArmState(
        is_spark=np.array([ag.kind is Kind.SPARK for ag in adgroups], dtype=bool),
        creator=np.asarray(codes, dtype=np.int64),
        budget=np.where(enabled, [float(ag.budget) for ag in adgroups], 0.0).astype(np.float64),
        enabled=enabled,
        auth_days_left=np.array(
            [ag.authorization.days_remaining(start) for ag in adgroups], dtype=np.float64
        ),
        days_since_launch=launch,
        days_since_edit=np.array(
            [np.inf if d is None else max((as_of - d).days, 0) for d in edited], dtype=np.float64
        ),
        prev_stage=np.array([int(s) for s in prev], dtype=np.int64),
    )
    return arms, tuple(str(c) for c in creators)


def _first_delivery(n_arms: int, arm: IntArray, age: IntArray, delivered: BoolArray) -> FloatArray:
    """Age in days of each arm's oldest ``delivered`` row (0 for an arm without one)."""
    first_delivery: FloatArray = np.full(n_arms, np.nan)
    np.fmax.at(first_delivery, arm[delivered], age[delivered].astype(np.float64))
    return np.nan_to_num(first_delivery, nan=0.0)


def _history(
    observations: Sequence[Observation],
    arm: IntArray,
    age: IntArray,
    spend: FloatArray,
    used: BoolArray,
    n_arms: int,
) -> History:
    """The ``used`` rows as ``(K, D)`` arrays; ``D`` runs from the oldest used row to age 1."""
    n_days = int(age[used].max()) if used.any() else 0
    col = n_days - age[used]
    shape = (n_arms, n_days)
    arrays = {name: np.zeros(shape) for name in ("spend", "conversions", "value", "impressions")}
    picked = [o for o, u in zip(observations, used, strict=True) if u]
    rows = arm[used]
    arrays["spend"][rows, col] = spend[used]
    arrays["conversions"][rows, col] = [o.conversions for o in picked]
    arrays["value"][rows, col] = [0.0 if o.value is None else o.value for o in picked]
    arrays["impressions"][rows, col] = [float(o.impressions) for o in picked]
    observed = np.zeros(shape, dtype=bool)
    observed[rows, col] = True
    ages = np.arange(n_days, 0, -1, dtype=np.float64)
    return History(observed=observed, age_days=ages, **arrays)


def to_arrays(
    adgroups: Sequence[AdGroup],
    observations: Sequence[Observation],
    *,
    as_of: date,
    today: date,
    timezone: str = "UTC",
    lookback_days: int = 60,
) -> EngineInputs:
    """Turn validated records into the core arrays for planning day ``as_of``.

    Only observations dated before ``as_of`` and at most ``lookback_days`` days before it
    are used; rows dated on or after ``as_of`` are left out with a :class:`DataWarning`.
    ``D`` is the number of days from the oldest used row to ``as_of - 1`` (0 without rows).
    Conversions are kept as reported: the posterior corrects recent, incomplete days with
    its lag model using ``history.age_days``.

    Arm fields: ``budget`` is the current daily budget (0 for disabled ad groups);
    ``auth_days_left`` is measured from ``as_of`` 00:00 in ``timezone``; ``days_since_launch``
    from ``launch_date`` (negative for an ad group scheduled after ``as_of``: not launched,
    no budget), else from the first day with spend before ``as_of`` (0 if none);
    ``prev_stage`` is the recorded stage, else ``PAUSED`` for disabled and ``TESTING`` for
    enabled ad groups; creators are coded ``0..n-1`` in order of first appearance.

    Args:
        adgroups: the account's ad groups (``K`` arms, in this order).
        observations: daily rows for those ad groups, any order.
        as_of: the planning date (the job runs at its start).
        today: the real current date; rows dated later are an error.
        timezone: the account's IANA time zone.
        lookback_days: the most days of history used (>= 1).

    Returns:
        :class:`EngineInputs` with ``arms`` ``(K,)`` and ``history`` ``(K, D)``.

    Raises:
        DataError: duplicate ad groups, observations for unknown ad groups, duplicate
            ``(date, adgroup_id)`` rows, or rows dated after ``today``.
        ValueError: ``lookback_days`` < 1.
    """
    if lookback_days < 1:
        raise ValueError(f"lookback_days must be >= 1, got {lookback_days}")
    index = _check_objects(adgroups, observations, today)
    n_arms, n_obs = len(adgroups), len(observations)
    arm = np.fromiter((index[o.adgroup_id] for o in observations), np.int64, n_obs)
    age = as_of.toordinal() - np.fromiter(
        (o.date.toordinal() for o in observations), np.int64, n_obs
    )
    spend = np.fromiter((o.spend for o in observations), np.float64, n_obs)
    late = age <= 0
    if late.any():
        newest = as_of + timedelta(days=int(-age.min()))
        warnings.warn(
            DataWarning(
                f"{int(late.sum())} observation rows dated on or after the planning date "
                f"{as_of} (up to {newest}) are left out"
            ),
            stacklevel=2,
        )
    first_delivery = _first_delivery(n_arms, arm, age, ~late & (spend > 0))
    arms, creators = _arm_state(adgroups, first_delivery, as_of, timezone)
    history = _history(observations, arm, age, spend, ~late & (age <= lookback_days), n_arms)
    dates = tuple(as_of - timedelta(days=int(a)) for a in history.age_days)
    ids = tuple(ag.adgroup_id for ag in adgroups)
    return EngineInputs(arms, history, ids, creators, dates, as_of)
