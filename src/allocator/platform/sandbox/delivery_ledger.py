"""Delivery data behind the sandbox: one day's delivery, the model that makes it, the ledger.

A :class:`DeliveryModel` turns the day's budgets and delivery flags into a
:class:`DayDelivery` (per arm ``k``, ``K`` arms); the :class:`Ledger` keeps what reports
show, per arm and day, as arrays of shape ``(K, D)``. Conversions and conversion value
can be reported late: a day's delivery carries them per lag, and the ledger adds them to
the earlier days they belong to. Spend and value are currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol

import numpy as np

from allocator._types import BoolArray, FloatArray

__all__ = ["METRIC_FIELDS", "DayDelivery", "DeliveryModel", "Ledger"]

METRIC_FIELDS = (
    "spend",
    "impressions",
    "clicks",
    "conversions",
    "value",
    "video_watched_2s",
    "video_watched_6s",
)
"""Quantities the ledger keeps per ad group and day (currency for spend and value)."""


@dataclass(frozen=True, slots=True)
class DayDelivery:
    """What one simulated day delivered, per arm.

    Attributes:
        spend: currency spent, shape ``(K,)``.
        impressions: impressions, shape ``(K,)``.
        clicks: clicks, shape ``(K,)``.
        video_watched_2s: 2-second video views, shape ``(K,)``.
        video_watched_6s: 6-second video views, shape ``(K,)``.
        conversions: conversions *reported during* this day, shape ``(K, L)``: column
            ``l`` belongs to the day ``l`` days before this one (``l = 0``: this day), so
            a model with conversion lag fills earlier days in as time passes.
        value: conversion value reported during this day, currency, shape ``(K, L)``.
    """

    spend: FloatArray
    impressions: FloatArray
    clicks: FloatArray
    video_watched_2s: FloatArray
    video_watched_6s: FloatArray
    conversions: FloatArray
    value: FloatArray


class DeliveryModel(Protocol):
    """The dynamics behind the sandbox: one account (one replication), ``K`` arms."""

    @property
    def n_arms(self) -> int:
        """Number of arms ``K``; arm ``k`` is the ad group with ``AdGroup.arm == k``."""
        ...

    def advance_day(self, budgets: FloatArray, enabled: BoolArray) -> DayDelivery:
        """Deliver one day.

        Args:
            budgets: daily budget per arm, currency per day, shape ``(K,)``.
            enabled: whether each arm may deliver today, shape ``(K,)``.

        Returns:
            The day's delivery; arms not enabled spend nothing.
        """
        ...


@dataclass(slots=True)
class Ledger:
    """Reported delivery per arm and day since ``start``: arrays of shape ``(K, D)``."""

    start: date
    n_arms: int
    data: dict[str, FloatArray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in METRIC_FIELDS:
            self.data.setdefault(name, np.zeros((self.n_arms, 0)))

    @property
    def n_days(self) -> int:
        """Days recorded ``D``."""
        return int(self.data["spend"].shape[1])

    def append(self, day: DayDelivery) -> None:
        """Record a new day; lagged conversions and value land on the earlier days."""
        for name in ("spend", "impressions", "clicks", "video_watched_2s", "video_watched_6s"):
            column = np.asarray(getattr(day, name), dtype=float).reshape(self.n_arms, 1)
            self.data[name] = np.concatenate([self.data[name], column], axis=1)
        n_days = self.n_days
        for name in ("conversions", "value"):
            late = np.asarray(getattr(day, name), dtype=float).reshape(self.n_arms, -1)
            grown = np.concatenate([self.data[name], np.zeros((self.n_arms, 1))], axis=1)
            n_lag = min(late.shape[1], n_days)
            # column l of `late` belongs to day index n_days - 1 - l
            grown[:, n_days - n_lag :] += late[:, :n_lag][:, ::-1]
            self.data[name] = grown

    def window(self, first: date, last: date) -> tuple[list[date], dict[str, FloatArray]]:
        """Days in ``[first, last]`` that have data, and each metric as ``(K, n)``."""
        lo = max((first - self.start).days, 0)
        hi = min((last - self.start).days + 1, self.n_days)
        if hi <= lo:
            return [], {name: np.zeros((self.n_arms, 0)) for name in METRIC_FIELDS}
        days = [self.start + timedelta(days=i) for i in range(lo, hi)]
        return days, {name: values[:, lo:hi] for name, values in self.data.items()}
