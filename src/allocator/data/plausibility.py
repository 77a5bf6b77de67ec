"""Plausibility bounds of the input files: well-formed but absurd rows are errors.

A file can parse cleanly and still be wrong in the way exports go wrong: a spend of
``1e308``, ``1e20`` conversions from a few clicks, conversions without impressions, a
``roas`` account whose export has no conversion values. :class:`Plausibility` holds the
bounds (the job config's ``[data]`` table and ``account`` give them); the readers of
:mod:`allocator.data.adgroups` and :mod:`allocator.data.observations` apply them with
the other row checks, so each violation is one :class:`~allocator.errors.DataError`
naming file, line and column. Every number cell is also refused above
:data:`~allocator.data.table.MAX_CELL` whatever the bounds (float sanity).
:func:`check_records` applies the same bounds to records read from an API platform,
naming the ad group, the day and the field instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from allocator._types import FloatArray
from allocator.core.arms import AdGroup, Observation
from allocator.data.table import MAX_CELL, Checker
from allocator.errors import DataError

__all__ = [
    "Plausibility",
    "check_budgets",
    "check_observation_rows",
    "check_records",
    "require_value_column",
]


@dataclass(frozen=True, slots=True)
class Plausibility:
    """Bounds an account's input files must respect (all money in the account currency).

    Attributes:
        max_spend: the most an ad group can plausibly spend in a day, and the largest
            plausible ad group budget, currency per day (``inf``: no bound).
        max_conversions_per_click: conversions above this many times a row's clicks (at
            least one click counted) are an error (``inf``: none; they stay a warning).
        require_value: the objective needs conversion values (``roas``): the
            observations file must have a ``value`` column.
    """

    max_spend: float = math.inf
    max_conversions_per_click: float = math.inf
    require_value: bool = False

    @classmethod
    def for_account(
        cls,
        daily_budget: float,
        *,
        spend_multiple: float,
        conversions_per_click: float,
        require_value: bool,
    ) -> Plausibility:
        """The bounds for an account of ``daily_budget`` (currency per day)."""
        return cls(spend_multiple * daily_budget, conversions_per_click, require_value)


def check_budgets(ck: Checker, budget: FloatArray, bounds: Plausibility) -> None:
    """Ad group budgets above ``bounds.max_spend`` are errors on the ``budget`` column."""
    limit = bounds.max_spend
    ck.check(
        np.isfinite(budget) & (budget > limit),
        "budget",
        lambda i: (
            f"{budget[i]:,.2f} per day is not plausible (above {limit:,.2f}: "
            "data.max_spend_multiple x account.daily_budget)"
        ),
    )


def check_observation_rows(
    ck: Checker,
    cells: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    bounds: Plausibility,
) -> None:
    """Spend, conversions against clicks and impressions: errors on their columns.

    ``cells`` is ``(spend, impressions, clicks, conversions)`` of every row.
    """
    spend, impressions, clicks, conversions = cells
    limit, ratio = bounds.max_spend, bounds.max_conversions_per_click
    ck.check(
        np.isfinite(spend) & (spend > limit),
        "spend",
        lambda i: (
            f"{spend[i]:,.2f} in one ad group-day is not plausible (above {limit:,.2f}: "
            "data.max_spend_multiple x account.daily_budget)"
        ),
    )
    ck.check(
        conversions > impressions,
        "conversions",
        lambda i: f"{conversions[i]:g} conversions above {impressions[i]:.0f} impressions",
    )
    per_click = conversions / np.maximum(clicks, 1.0)  # a ratio: no overflow at 1e308 clicks
    ck.check(
        per_click > ratio,
        "conversions",
        lambda i: (
            f"{conversions[i]:g} conversions from {clicks[i]:.0f} clicks is not plausible "
            f"(more than data.max_conversions_per_click = {ratio:g} per click)"
        ),
    )


def require_value_column(ck: Checker, bounds: Plausibility) -> None:
    """Without a ``value`` column, a ``roas`` objective is an error (line 1, the header).

    Raises:
        DataError: ``bounds.require_value`` and the file has no ``value`` column.
    """
    if bounds.require_value and "value" not in ck.table.frame.columns:
        raise DataError(
            "objective 'roas' needs conversion values, but the file has no 'value' column "
            "(add it, or use objective 'cpa')",
            path=ck.table.path,
            line=1,
            column="value",
        )


def check_records(
    adgroups: Sequence[AdGroup],
    observations: Sequence[Observation],
    bounds: Plausibility,
    source: str,
) -> None:
    """The bounds on records read from an API, where there is no file line to name.

    Raises:
        DataError: the first implausible budget, then the first implausible observation;
            the message names ``source``, the ad group, the day and the field.
    """
    budgets = np.array([g.budget for g in adgroups], dtype=np.float64)
    over = np.flatnonzero(~np.isfinite(budgets) | (budgets > min(bounds.max_spend, MAX_CELL)))
    if over.size:
        g = adgroups[int(over[0])]
        raise DataError(
            f"ad group {g.adgroup_id} (from {source}): a daily budget of {g.budget:,.2f} is "
            "not plausible (above data.max_spend_multiple x account.daily_budget)",
            column="budget",
        )
    if not observations:
        return
    cells = np.array(
        [(o.spend, o.impressions, o.clicks, o.conversions) for o in observations],
        dtype=np.float64,
    )
    spend, impressions, clicks, conversions = cells.T
    rules = (
        ("spend", ~np.isfinite(spend) | (spend > min(bounds.max_spend, MAX_CELL)), "the spend"),
        ("conversions", conversions > impressions, "more conversions than impressions"),
        (
            "conversions",
            conversions / np.maximum(clicks, 1.0) > bounds.max_conversions_per_click,
            "the conversions per click (above data.max_conversions_per_click)",
        ),
    )
    for column, mask, what in rules:
        hits = np.flatnonzero(mask)
        if hits.size:
            o = observations[int(hits[0])]
            raise DataError(
                f"ad group {o.adgroup_id} on {o.date} (from {source}): {what} is not plausible "
                f"(spend {o.spend:,.2f}, {o.impressions} impressions, {o.clicks} clicks, "
                f"{o.conversions:g} conversions)",
                column=column,
            )
