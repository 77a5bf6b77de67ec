"""The simulation report's numbers: the conclusion's words, clipped intervals, curves."""

from __future__ import annotations

import math
from itertools import pairwise
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from allocator.reports.simulation_report import Comparison, conclusion
from allocator.sim.curves import band, summary_curves
from allocator.sim.report import Interval, mean_interval
from allocator.sim.runner import ExperimentResult


def comp(engine: str, baseline: str, mean: float, low: float, high: float) -> Comparison:
    return Comparison(engine, baseline, Interval(mean, low, high, 20), Interval(1.0, 1.0, 1.0, 20))


def test_the_conclusion_names_the_winner_against_its_strongest_baseline() -> None:
    found = [comp("thompson", "even", 1.30, 1.2, 1.4), comp("thompson", "rules", 1.08, 1.03, 1.12)]
    text = conclusion(found, {"thompson": Interval(0.93, 0.9, 0.95, 20)})
    assert text.startswith("Thompson won: thompson got +8.0% conversions")
    assert "strongest baseline, rules (95% interval +3.0% to +12.0%, 20 paired seeds" in text
    assert "excludes no difference" in text
    assert "93% of the oracle" in text


def test_the_conclusion_says_when_there_is_no_clear_winner_or_a_loss() -> None:
    unclear = conclusion([comp("thompson", "rules", 0.98, 0.95, 1.02)], {})
    assert unclear.startswith("No clear winner between thompson and rules")
    assert "includes no difference" in unclear
    lost = conclusion([comp("thompson", "rules", 0.90, 0.85, 0.95)], {})
    assert lost.startswith("Rules beat thompson")


def test_no_comparison_is_said_plainly() -> None:
    assert conclusion([], {}) == "No engine policy and baseline to compare: see the table."


def test_an_interval_of_a_non_negative_quantity_is_clipped_at_zero() -> None:
    values = np.array([0.0, 0.0, 0.0, 400.0])
    assert mean_interval(values).low < 0
    clipped = mean_interval(values, floor=0.0)
    assert clipped.low == 0.0
    assert clipped.mean == pytest.approx(100.0)
    assert clipped.high == pytest.approx(mean_interval(values).high)


@settings(max_examples=60, deadline=None)
@given(
    conv=arrays(np.float64, (3, 6, 4), elements=st.floats(0, 50)),
    expected=arrays(np.float64, (3, 6, 4), elements=st.floats(0, 50)),
    budgets=arrays(np.float64, (3, 6, 2), elements=st.floats(0, 100)),
)
def test_regret_only_rises_and_every_band_stays_at_or_above_zero(
    conv: np.ndarray, expected: np.ndarray, budgets: np.ndarray
) -> None:
    fake = SimpleNamespace(
        experiment=SimpleNamespace(name="x", plot_seed=0),
        policies=("oracle", "a", "b"),
        kinds={"oracle": "oracle", "a": "thompson", "b": "even"},
        daily_conversions=conv,
        daily_expected=expected,
        plot_budgets=budgets,
    )
    curves: dict[str, Any] = summary_curves(cast(ExperimentResult, fake))
    for c in curves["regret"].values():
        assert all(b >= a - 1e-9 for a, b in pairwise(c["mean"]))
    for group in ("regret", "cumulative_conversions"):
        for c in curves[group].values():
            assert min(c["low"]) >= 0
            assert all(
                lo <= m + 1e-9 <= hi + 2e-9
                for lo, m, hi in zip(c["low"], c["mean"], c["high"], strict=True)
            )
    for shares in curves["shares"].values():
        sums = np.asarray(shares).sum(axis=1)
        assert all(math.isclose(s, 1.0, abs_tol=1e-3) or s == 0 for s in sums)


def test_band_of_one_seed_is_the_curve_itself() -> None:
    out = band(np.array([[1.0], [3.0]]))
    assert out == {"mean": [1.0, 3.0], "low": [1.0, 3.0], "high": [1.0, 3.0]}
