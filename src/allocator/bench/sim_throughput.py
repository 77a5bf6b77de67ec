"""``python -m allocator.bench sim``: simulator throughput of the engine policy vs its floor.

Simulates the engine (:class:`~allocator.sim.thompson.ThompsonPolicy`, one
:func:`~allocator.core.engine.step` per simulated day on the whole batch) on ``K = 20``
arms, ``R = 1,000`` replications (blocks of :data:`BLOCK` as the runner does), 60 days,
and times it beside the *floor*: drawing the same posterior samples alone, one
``(B, S, K)`` Gamma array per block and day, which no implementation of Thompson sampling
can avoid. The two are timed interleaved, the floor's draw right before each simulated
day (:func:`simulate_paired`), so load from other work on the shared machine hits both
alike instead of only the run that happened to overlap it. It prints arm-days per second
and the ratio (target: <= 2), then the figures as one JSON line. ``--quick`` uses 200
replications and 20 days.
"""

from __future__ import annotations

import time

import numpy as np

from allocator.bench import print_report
from allocator.core.engine import EngineParams
from allocator.sim.environment import Environment
from allocator.sim.metrics import MetricsAccumulator
from allocator.sim.policy import PolicyContext
from allocator.sim.replication import replication_blocks
from allocator.sim.scenario import Scenario
from allocator.sim.thompson import ThompsonPolicy

__all__ = ["BLOCK", "N_ARMS", "N_DRAWS", "run", "simulate_engine", "simulate_paired"]

N_ARMS = 20
N_DRAWS = 1000
BLOCK = 100


def simulate_engine(scenario: Scenario, n_runs: int, seed: int, n_draws: int) -> float:
    """Simulate the engine policy block by block; return the wall time in seconds."""
    params = EngineParams(n_draws=n_draws)
    start = time.perf_counter()
    for block in replication_blocks(seed, n_runs, min(BLOCK, n_runs)):
        env = Environment.reset(scenario, block.size, block.env_rng())
        policy = ThompsonPolicy(params)
        policy.reset(PolicyContext(block.size, scenario.n_arms, scenario.daily_budget,
                                   scenario.platform_min_budget, scenario.target_cpa))  # fmt: skip
        acc = MetricsAccumulator(block.size, scenario.n_arms)
        rng = block.policy_rng()
        for day in range(scenario.horizon_days):
            budgets, enabled = policy.act(*env.observe(), day, rng)
            acc.update(env.advance_day(budgets, enabled), policy.stages())
        acc.finalize()
    return time.perf_counter() - start


def simulate_paired(
    scenario: Scenario, n_runs: int, seed: int, n_draws: int
) -> tuple[float, float]:
    """The engine simulation and its sampling floor, timed day by day, interleaved.

    Runs exactly what :func:`simulate_engine` runs (block set-up, every simulated day,
    metrics, finalisation: all counted as simulation time) and, right before each
    simulated day, the floor's draw: one ``(B, S, K)`` Gamma array from its own generator
    (shapes 2 to 60 conversions, rates at the target CPA), counted as floor time.

    Returns:
        ``(simulation seconds, floor seconds)``.
    """
    params = EngineParams(n_draws=n_draws)
    size = min(BLOCK, n_runs)
    floor_rng = np.random.default_rng(seed)
    shape = floor_rng.uniform(2.0, 60.0, (size, 1, scenario.n_arms))
    scale = 1.0 / (shape * scenario.target_cpa)
    draw_shape = (size, n_draws, scenario.n_arms)
    sim = floor = 0.0
    clock = time.perf_counter
    for block in replication_blocks(seed, n_runs, size):
        start = clock()
        env = Environment.reset(scenario, block.size, block.env_rng())
        policy = ThompsonPolicy(params)
        policy.reset(PolicyContext(block.size, scenario.n_arms, scenario.daily_budget,
                                   scenario.platform_min_budget, scenario.target_cpa))  # fmt: skip
        acc = MetricsAccumulator(block.size, scenario.n_arms)
        rng = block.policy_rng()
        sim += clock() - start
        for day in range(scenario.horizon_days):
            start = clock()
            floor_rng.gamma(shape, scale, size=draw_shape)
            middle = clock()
            budgets, enabled = policy.act(*env.observe(), day, rng)
            acc.update(env.advance_day(budgets, enabled), policy.stages())
            end = clock()
            floor += middle - start
            sim += end - middle
        start = clock()
        acc.finalize()
        sim += clock() - start
    return sim, floor


def run(*, quick: bool = False, seed: int = 0) -> None:
    """Time the engine's simulation and its sampling floor; print table and JSON."""
    n_runs, n_days = (200, 20) if quick else (1000, 60)
    scenario = Scenario(n_arms=N_ARMS, n_creators=5, daily_budget=2000.0, horizon_days=n_days)
    # one full run (about a minute), floor and simulation interleaved day by day
    sim, floor = simulate_paired(scenario, n_runs, seed, N_DRAWS)
    arm_days = float(n_runs * n_days * N_ARMS)
    ratio = sim / floor
    rows = [
        ("engine simulation", N_ARMS, n_runs, n_days, N_DRAWS, sim, arm_days / sim),
        ("posterior draws only", N_ARMS, n_runs, n_days, N_DRAWS, floor, arm_days / floor),
    ]
    print_report(
        f"simulator throughput, engine policy vs its sampling floor (ratio {ratio:.2f}, "
        "target <= 2)",
        ("what", "K", "R", "days", "S", "seconds", "arm-days/s"),
        rows,
        {
            "n_arms": N_ARMS,
            "n_runs": n_runs,
            "n_days": n_days,
            "n_draws": N_DRAWS,
            "sim_s": round(sim, 3),
            "floor_s": round(floor, 3),
            "ratio": round(ratio, 3),
            "arm_days_per_s": round(arm_days / sim, 1),
        },
    )
