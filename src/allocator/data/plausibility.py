"""Plausibility bounds of the input files: well-formed but absurd rows are errors.

A file can parse cleanly and still be wrong in the way exports go wrong: a spend of
``1e308``, ``1e20`` conversions from a few clicks, conversions without impressions, a
``roas`` account whose export has no conversion values. :class:`Plausibility` holds the
bounds (the job config's ``[data]`` table and ``account`` give them); the readers of
:mod:`allocator.data.adgroups` and :mod:`allocator.data.observations` apply them with
the other row checks, so each violation is one :class:`~allocator.errors.DataError`
naming file, line and column. Every number cell is also refused above
:data:`~allocator.data.table.MAX_CELL` whatever the bounds (float sanity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from allocator._types import FloatArray
from allocator.data.table import Checker
from allocator.errors import DataError

__all__ = ["Plausibility", "check_budgets", "check_observation_rows", "require_value_column"]


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
