"""``python -m allocator.bench engine``: one decide+allocate step vs. its sampling floor.

For K arms and S = 1000 posterior draws, it times one full :func:`allocator.core.engine.step`
(posterior fit, draws, decisions, Thompson allocation, guardrail projection) beside the
time of drawing the ``S x K`` Gamma samples alone, the floor no implementation can beat,
and prints their ratio. Targets (issue 2): ratio <= 2 for K >= 100; K = 10,000 under 1 s.
"""

from __future__ import annotations

import numpy as np

from allocator.bench import print_report, timeit_pair
from allocator.core.arms import ArmState, History, Objective
from allocator.core.engine import EngineParams, step
from allocator.core.target import Target

__all__ = ["run", "synthetic_portfolio"]

N_DRAWS = 1000
SIZES = (10, 100, 1_000, 10_000)


def synthetic_portfolio(
    n_arms: int, n_days: int, rng: np.random.Generator
) -> tuple[ArmState, History, float]:
    """A realistic portfolio of ``n_arms`` with ``n_days`` of history; returns the budget too."""
    budget_total = 50.0 * n_arms
    budget = np.full(n_arms, 50.0)
    cpa = rng.lognormal(np.log(25.0), 0.3, n_arms)
    spend = budget[:, None] * rng.uniform(0.8, 1.0, (n_arms, n_days))
    conversions = rng.poisson(spend / cpa[:, None]).astype(np.float64)
    arms = ArmState(
        is_spark=rng.random(n_arms) < 0.5,
        creator=rng.integers(0, max(1, n_arms // 4), n_arms),
        budget=budget,
        enabled=np.ones(n_arms, dtype=bool),
        auth_days_left=np.where(rng.random(n_arms) < 0.5, np.inf, rng.uniform(0, 60, n_arms)),
        days_since_launch=np.full(n_arms, float(n_days)),
        days_since_edit=np.full(n_arms, np.inf),
        prev_stage=np.zeros(n_arms, dtype=np.int64),
    )
    history = History(
        spend=spend,
        conversions=conversions,
        value=conversions * 45.0,
        impressions=spend * 100.0,
        observed=np.ones_like(spend, dtype=bool),
        age_days=np.arange(n_days, 0, -1, dtype=np.float64),
    )
    return arms, history, budget_total


def measure(n_arms: int, *, repeats: int, seed: int) -> tuple[float, float, float]:
    """Seconds of one engine step, of the bare Gamma draws, and their ratio (medians).

    The two are timed alternately (:func:`allocator.bench.timeit_pair`), so both see the
    same machine load.
    """
    rng = np.random.default_rng(seed)
    arms, history, total = synthetic_portfolio(n_arms, 30, rng)
    target = Target(Objective.CPA, target_cpa=25.0)
    params = EngineParams(n_draws=N_DRAWS)
    shape = rng.uniform(5, 50, n_arms)
    scale = 1.0 / (shape * 25.0)
    return timeit_pair(
        lambda: step(arms, history, target, total, params, rng),
        lambda: rng.gamma(shape, scale, size=(N_DRAWS, n_arms)),
        repeats=repeats,
    )


def run(*, quick: bool = False, seed: int = 0) -> None:
    """Time the engine step and the sampling floor for each K; print table and JSON."""
    sizes = SIZES[:2] if quick else SIZES
    repeats = 3 if quick else 15
    rows = []
    figures: dict[str, float] = {}
    for n_arms in sizes:
        full, floor, ratio = measure(n_arms, repeats=repeats, seed=seed)
        rows.append((n_arms, N_DRAWS, floor * 1e3, full * 1e3, ratio))
        figures[f"k{n_arms}_step_s"] = round(full, 6)
        figures[f"k{n_arms}_floor_s"] = round(floor, 6)
        figures[f"k{n_arms}_ratio"] = round(ratio, 3)
    print_report(
        "engine step (posterior + decisions + allocation + guardrails) vs Gamma sampling floor",
        ("K", "S", "floor ms", "step ms", "ratio"),
        rows,
        figures,
    )
