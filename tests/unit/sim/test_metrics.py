from __future__ import annotations

import numpy as np
import pytest

from allocator.core.arms import Stage
from allocator.sim.environment import Environment
from allocator.sim.metrics import (
    RESULT_COLUMNS,
    MetricsAccumulator,
    compare_to_oracle,
)
from allocator.sim.oracle import Oracle
from allocator.sim.policy import PolicyContext
from allocator.sim.rules import Rules
from allocator.sim.scenario import Scenario
from allocator.sim.splits import EvenSplit
from allocator.sim.truth import DayReport


def report(day: int, budget: object, conv: object, **kw: object) -> DayReport:
    b = np.array(budget)
    c = np.array(conv)
    fields: dict[str, object] = {
        "day": day,
        "budget": b,
        "enabled": b > 0,
        "spend": b * 0.9,
        "impressions": b * 100,
        "clicks": b,
        "conversions": c,
        "value": c * 40.0,
        "expected_conversions": c + 0.5,
        "stranded": np.zeros_like(b),
        "available": np.ones_like(b),
        "best": np.array([[True, False, False]] * b.shape[0]),
    }
    fields.update(kw)
    return DayReport(**fields)  # type: ignore[arg-type]


def test_totals_cpa_roas_and_edits_per_replication() -> None:
    acc = MetricsAccumulator(n_runs=2, n_arms=3)
    acc.update(report(0, [[100, 100, 0], [50, 50, 50]], [[2, 1, 0], [0, 0, 0]]))
    acc.update(report(1, [[120, 100, 0], [50, 50, 50]], [[3, 1, 0], [0, 0, 0]]))
    acc.update(report(2, [[120, 0, 80], [50, 50, 50]], [[3, 0, 1], [0, 0, 0]]))
    m = acc.finalize()
    np.testing.assert_allclose(m.conversions, [11, 0])
    np.testing.assert_allclose(m.spend, [0.9 * 620, 0.9 * 450])
    assert m.cpa[0] == pytest.approx(0.9 * 620 / 11)
    assert np.isnan(m.cpa[1])
    np.testing.assert_allclose(m.roas, [40 * 11 / (0.9 * 620), 0.0])
    np.testing.assert_allclose(m.budget_edits, [3, 0])  # day1: arm0; day2: arms 1 and 2
    np.testing.assert_allclose(m.expected_conversions, [11 + 0.5 * 9, 0.5 * 9])
    assert np.isnan(m.regret).all()
    assert np.isnan(m.oracle_ratio).all()
    assert m.daily_conversions.shape == (3, 2)
    assert set(m.columns()) == set(RESULT_COLUMNS)


def test_wasted_spend_counts_arms_that_were_never_best() -> None:
    acc = MetricsAccumulator(n_runs=1, n_arms=3)
    best0 = np.array([[True, False, False]])
    best1 = np.array([[False, True, False]])
    acc.update(report(0, [[100, 100, 100]], [[1, 1, 1]], best=best0))
    acc.update(report(1, [[100, 100, 100]], [[1, 1, 1]], best=best1))
    assert acc.finalize().wasted_spend[0] == pytest.approx(2 * 90.0)


def test_days_to_scale_best_uses_the_policy_stages_or_nan() -> None:
    acc = MetricsAccumulator(n_runs=2, n_arms=3)
    testing = np.full((2, 3), int(Stage.TESTING))
    scaled = testing.copy()
    scaled[0, 0] = int(Stage.SCALING)  # replication 0 scales its true best (arm 0)
    scaled[1, 2] = int(Stage.SCALING)  # replication 1 scales another arm
    budget = [[100, 100, 100]] * 2
    for day, stages in enumerate([testing, testing, scaled, scaled]):
        acc.update(report(day, budget, [[0, 0, 0]] * 2), stages)
    m = acc.finalize()
    assert m.days_to_scale_best[0] == 2
    assert np.isnan(m.days_to_scale_best[1])
    no_stages = MetricsAccumulator(n_runs=2, n_arms=3)
    no_stages.update(report(0, budget, [[0, 0, 0]] * 2))
    assert np.isnan(no_stages.finalize().days_to_scale_best).all()


def test_stranded_spend_and_the_oracle_comparison() -> None:
    policy, oracle = MetricsAccumulator(1, 3), MetricsAccumulator(1, 3)
    stranded = np.array([[0.0, 0.0, 100.0]])
    policy.update(report(0, [[100, 100, 100]], [[1, 1, 0]], stranded=stranded))
    oracle.update(report(0, [[150, 150, 0]], [[3, 2, 0]]))
    p, o = policy.finalize(), oracle.finalize()
    assert p.stranded_spend[0] == 100.0
    compared = compare_to_oracle(p, o)
    assert compared.regret[0] == pytest.approx(6.5 - 3.5)  # expected = conversions + 0.5
    assert compared.oracle_ratio[0] == pytest.approx(3.5 / 6.5)
    assert compare_to_oracle(o, o).regret[0] == 0
    assert compare_to_oracle(o, o).oracle_ratio[0] == 1
    two_runs = MetricsAccumulator(2, 3)
    two_runs.update(report(0, [[1, 1, 1]] * 2, [[0, 0, 0]] * 2))
    with pytest.raises(ValueError, match="different replications"):
        compare_to_oracle(p, two_runs.finalize())


def test_finalize_without_days_and_mismatched_shapes_are_errors() -> None:
    with pytest.raises(ValueError, match="no day"):
        MetricsAccumulator(1, 3).finalize()
    with pytest.raises(ValueError, match="shape"):
        MetricsAccumulator(1, 4).update(report(0, [[1, 1, 1]], [[0, 0, 0]]))


def test_end_to_end_rules_strand_more_than_the_oracle_and_regret_is_positive() -> None:
    s = Scenario(n_arms=6, n_creators=3, daily_budget=600.0, auth_duration_days=(7, 365),
                 auth_duration_probs=(0.5, 0.5), horizon_days=20)  # fmt: skip
    results = {}
    for policy in (Oracle(), Rules(), EvenSplit()):
        env = Environment.reset(s, 100, np.random.default_rng(3))
        policy.reset(PolicyContext(100, 6, 600.0, 20.0, 25.0, truth=env.truth))
        acc = MetricsAccumulator(100, 6)
        rng = np.random.default_rng(4)
        for day in range(20):
            budgets, enabled = policy.act(*env.observe(), day, rng)
            acc.update(env.advance_day(budgets, enabled), policy.stages())
        results[policy.name] = acc.finalize()
    rules = compare_to_oracle(results["rules"], results["oracle"])
    even = compare_to_oracle(results["even"], results["oracle"])
    assert rules.stranded_spend.mean() > 10 * max(results["oracle"].stranded_spend.mean(), 1.0)
    assert rules.regret.mean() > 0
    assert even.regret.mean() > 0
    assert even.oracle_ratio.mean() < 1.0
    assert rules.oracle_ratio.mean() < 1.0
