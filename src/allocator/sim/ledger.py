"""The platform's reported view of simulated accounts, one column per day.

A :class:`Ledger` holds what the platform will report about each simulated day, as
growing arrays of shape ``(R, K, capacity)``: spend (currency), impressions and clicks as
delivered, and conversions and their value as attributed so far. Conversions arrive late:
each day's conversions are split over the attribution window of ``W`` days, and the share
with lag ``j`` is added to the day's column ``j + 1`` days later (after day ``t + j`` is
simulated), so a day's column is complete once ``W`` more days have been simulated and
totals are conserved exactly. The pending shares wait in a ``(R, K, W, W)`` ring indexed
``[day % W, lag]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from allocator._types import FloatArray, IntArray

__all__ = ["Ledger"]


@dataclass(slots=True)
class Ledger:
    """Growing ``(R, K, capacity)`` arrays of the reported view, one column per day.

    Attributes:
        spend: currency spent per day.
        impressions: impressions per day.
        clicks: clicks per day.
        conversions: conversions of each day reported so far.
        value: their value, currency.
        lag_conversions: ``(R, K, W, W)`` ring of each recent day's conversions by lag,
            indexed ``[day % W, lag]``.
        lag_value: the same for their value.
    """

    spend: FloatArray
    impressions: FloatArray
    clicks: FloatArray
    conversions: FloatArray
    value: FloatArray
    lag_conversions: FloatArray  # (R, K, W, W) ring: [day % W, lag]
    lag_value: FloatArray

    @classmethod
    def allocate(cls, n_runs: int, n_arms: int, capacity: int, window: int) -> Ledger:
        """Empty ledger for ``capacity`` days (it grows) and a ``window``-day lag ring."""

        def z(*tail: int) -> FloatArray:
            return np.zeros((n_runs, n_arms, *tail))

        return cls(
            z(capacity), z(capacity), z(capacity), z(capacity), z(capacity),
            z(window, window), z(window, window),
        )  # fmt: skip

    def ensure(self, n_days: int) -> None:
        """Grow the day columns (at least doubling) so that ``n_days`` of them fit."""
        capacity = self.spend.shape[-1]
        if n_days <= capacity:
            return
        new = max(n_days, 2 * capacity)
        for name in ("spend", "impressions", "clicks", "conversions", "value"):
            old = getattr(self, name)
            grown = np.zeros((*old.shape[:-1], new))
            grown[..., :capacity] = old
            setattr(self, name, grown)

    def record(
        self,
        day: int,
        spend: FloatArray,
        impressions: FloatArray,
        clicks: FloatArray,
        split: FloatArray,
        conversions: IntArray,
        value: FloatArray,
    ) -> None:
        """Store day ``day``'s delivery and report every lag share that is now due.

        Args:
            day: the simulated day ``t`` (0-based).
            spend: currency spent ``(R, K)``.
            impressions: impressions ``(R, K)``.
            clicks: clicks ``(R, K)``.
            split: the day's conversions by lag ``(R, K, W)``; sums to ``conversions``.
            conversions: the day's conversions ``(R, K)``.
            value: their value ``(R, K)``, currency, split over lags like the conversions.
        """
        t, window = day, self.lag_conversions.shape[-1]
        self.ensure(t + 1)
        self.spend[..., t] = spend
        self.impressions[..., t] = impressions
        self.clicks[..., t] = clicks
        share = np.divide(split, conversions[..., None], out=np.zeros_like(split),
                          where=conversions[..., None] > 0)  # fmt: skip
        self.lag_conversions[..., t % window, :] = split
        self.lag_value[..., t % window, :] = share * value[..., None]
        # lag j of day t - j becomes visible now (after day t, seen on day t + 1)
        lags = np.arange(min(window, t + 1))
        days = t - lags
        self.conversions[..., days] += self.lag_conversions[..., days % window, lags]
        self.value[..., days] += self.lag_value[..., days % window, lags]
