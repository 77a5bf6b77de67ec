"""What the simulator knows and the policies do not, arrays of shape ``(R, K)``.

:class:`Truth` is today's true response of each arm (read only by the oracle, through
:meth:`~allocator.sim.environment.Environment.truth`); :class:`DayReport` holds the true
results of a delivered day (read by the metrics), as
:meth:`~allocator.sim.environment.Environment.advance_day` returns them. Budgets and
spend are in currency per day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from allocator._types import BoolArray, FloatArray
from allocator.core import response

__all__ = ["DayReport", "Truth"]


@dataclass(frozen=True, slots=True)
class Truth:
    """What the oracle knows about today (the planning day), arrays of shape ``(R, K)``.

    Expected conversions of a daily budget ``b`` on arm ``k`` today are
    ``rate * b / (1 + b / half_saturation)`` (see :meth:`expected_conversions`); ``rate``
    already includes availability, fatigue, the weekday and the mean delivery share.

    Attributes:
        day: the planning day (0-based).
        rate: expected conversions per currency unit at vanishing budget.
        half_saturation: ``h``, currency per day.
        available: share of today the arm can deliver (0 before launch / after lapse).
        launched: the arm exists today.
        fatigue: today's CTR multiplier from fatigue, in (0, 1].
        value_per_conversion: mean order value, currency.
        lapse: time the authorization lapses (min of expiry and revocation), days.
    """

    day: int
    rate: FloatArray
    half_saturation: FloatArray
    available: FloatArray
    launched: BoolArray
    fatigue: FloatArray
    value_per_conversion: FloatArray
    lapse: FloatArray

    def expected_conversions(self, budgets: FloatArray) -> FloatArray:
        """Expected conversions today for daily budgets ``(..., R, K)`` (currency/day)."""
        return response.expected_conversions(
            self.rate, self.half_saturation, np.maximum(budgets, 0.0)
        )

    def marginal_rate(self, budgets: FloatArray) -> FloatArray:
        """Derivative of :meth:`expected_conversions`, conversions per currency unit."""
        return response.marginal_rate(self.rate, self.half_saturation, np.maximum(budgets, 0.0))


@dataclass(frozen=True, slots=True)
class DayReport:
    """True results of one simulated day, arrays of shape ``(R, K)``.

    Attributes:
        day: the simulated day (0-based).
        budget: effective daily budget (0 where disabled), currency per day.
        enabled: the status the policy set.
        spend: currency spent (<= budget).
        impressions: impressions delivered.
        clicks: clicks.
        conversions: conversions that the day will eventually be credited with.
        value: their value, currency.
        expected_conversions: the expectation of ``conversions`` given the budgets.
        stranded: budget on enabled arms that could not deliver because the Spark
            authorization had lapsed (before or during the day), currency.
        available: share of the day each arm could deliver.
        best: the arm(s) with the highest true rate today (base rate x fatigue x
            availability) among those that can deliver; all False if none can.
        learning: ad groups in the platform's learning phase that day
            (:mod:`allocator.sim.learning`); None when not tracked.
        acceptable: arms that could deliver that day at an acceptable true CPA (see
            :data:`~allocator.sim.environment.ACCEPTABLE_CPA_MULTIPLE`); None when not
            tracked.
    """

    day: int
    budget: FloatArray
    enabled: BoolArray
    spend: FloatArray
    impressions: FloatArray
    clicks: FloatArray
    conversions: FloatArray
    value: FloatArray
    expected_conversions: FloatArray
    stranded: FloatArray
    available: FloatArray
    best: BoolArray
    learning: BoolArray | None = None
    acceptable: BoolArray | None = None
