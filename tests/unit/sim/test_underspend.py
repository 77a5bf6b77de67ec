"""The underspend metric on hand-made days."""

from __future__ import annotations

import numpy as np
import pytest

from allocator.sim.metrics import MetricsAccumulator
from allocator.sim.truth import DayReport


def day(budget: list[float], available: list[float], acceptable: list[bool]) -> DayReport:
    b = np.array([budget])
    zeros = np.zeros_like(b)
    return DayReport(
        day=0,
        budget=b,
        enabled=b > 0,
        spend=b,
        impressions=zeros,
        clicks=zeros,
        conversions=zeros,
        value=zeros,
        expected_conversions=zeros,
        stranded=zeros,
        available=np.array([available]),
        best=np.zeros(b.shape, dtype=bool),
        acceptable=np.array([acceptable]),
    )


def test_underspend_counts_unplanned_budget_only_when_an_acceptable_arm_exists() -> None:
    acc = MetricsAccumulator(1, 3, daily_budget=100.0)
    # 60 planned on deliverable arms, 20 on a lapsed arm (stranded, not planned): 40 left
    acc.update(day([60.0, 0.0, 20.0], [1.0, 1.0, 0.0], [False, True, False]))
    # 30 left, but no arm is acceptable: leaving it is not underspend
    acc.update(day([70.0, 0.0, 0.0], [1.0, 1.0, 1.0], [False, False, False]))
    # the whole budget planned
    acc.update(day([50.0, 50.0, 0.0], [1.0, 1.0, 1.0], [True, True, True]))
    # nothing planned while an acceptable arm is live
    acc.update(day([0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [True, False, False]))
    m = acc.finalize()
    assert m.underspend[0] == pytest.approx((40.0 + 100.0) / 400.0)


def test_underspend_is_nan_without_the_daily_budget() -> None:
    acc = MetricsAccumulator(1, 3)
    acc.update(day([60.0, 0.0, 0.0], [1.0, 1.0, 1.0], [True, True, True]))
    assert np.isnan(acc.finalize().underspend).all()
