"""``python -m allocator.bench sim``: simulator throughput of the engine policy vs its floor.

Simulates the engine (:class:`~allocator.sim.thompson.ThompsonPolicy`, one
:func:`~allocator.core.engine.step` per simulated day on the whole batch) on ``K = 20``
arms, ``R = 1,000`` replications (blocks of :data:`BLOCK` as the runner does), 60 days,
and times it beside the *floor*: drawing the same posterior samples alone, one
``(B, S, K)`` Gamma array per block and day, which no implementation of Thompson sampling
can avoid. The two are timed interleaved, the floor's draw right before each simulated
day (:func:`simulate_paired`, through the day loop's ``before_day`` hook), so load from
other work on the shared machine hits both alike instead of only the run that happened
to overlap it. It prints arm-days per second and the ratio (target: <= 2), then the
figures as one JSON line. ``--quick`` uses 200
replications and 20 days.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from allocator.bench import print_report
from allocator.core.engine import EngineParams
from allocator.sim.day_loop import simulate_policy
from allocator.sim.environment import Environment
from allocator.sim.replication import ReplicationBlock, replication_blocks
from allocator.sim.scenario import Scenario
from allocator.sim.thompson import ThompsonPolicy

__all__ = ["BLOCK", "N_ARMS", "N_DRAWS", "run", "simulate_engine", "simulate_paired"]

N_ARMS = 20
N_DRAWS = 1000
BLOCK = 100


def _simulate_block(
    scenario: Scenario,
    block: ReplicationBlock,
    params: EngineParams,
    before_day: Callable[[int], None] | None = None,
) -> None:
    """Simulate the engine policy on one block (metrics computed, then dropped)."""
    env = Environment.reset(scenario, block.size, block.env_rng())
    simulate_policy(env, ThompsonPolicy(params), block.policy_rng(), before_day=before_day)


def simulate_engine(scenario: Scenario, n_runs: int, seed: int, n_draws: int) -> float:
    """Simulate the engine policy block by block; return the wall time in seconds."""
    params = EngineParams(n_draws=n_draws)
    start = time.perf_counter()
    for block in replication_blocks(seed, n_runs, min(BLOCK, n_runs)):
        _simulate_block(scenario, block, params)
    return time.perf_counter() - start


class _Floor:
    """The sampling floor: one ``(B, S, K)`` Gamma draw per call, its time summed.

    Shapes 2 to 60 conversions, rates at the target CPA, from its own generator.
    """

    def __init__(self, scenario: Scenario, size: int, seed: int, n_draws: int) -> None:
        self._rng = np.random.default_rng(seed)
        self._shape = self._rng.uniform(2.0, 60.0, (size, 1, scenario.n_arms))
        self._scale = 1.0 / (self._shape * scenario.target_cpa)
        self._size = (size, n_draws, scenario.n_arms)
        self.seconds = 0.0

    def __call__(self, day: int) -> None:
        start = time.perf_counter()
        self._rng.gamma(self._shape, self._scale, size=self._size)
        self.seconds += time.perf_counter() - start


def simulate_paired(
    scenario: Scenario, n_runs: int, seed: int, n_draws: int
) -> tuple[float, float]:
    """The engine simulation and its sampling floor, timed day by day, interleaved.

    Runs exactly what :func:`simulate_engine` runs (block set-up, every simulated day,
    metrics, finalisation: all counted as simulation time) and, right before each
    simulated day, the floor's draw (:class:`_Floor`), counted as floor time only.

    Returns:
        ``(simulation seconds, floor seconds)``.
    """
    params = EngineParams(n_draws=n_draws)
    size = min(BLOCK, n_runs)
    floor = _Floor(scenario, size, seed, n_draws)
    start = time.perf_counter()
    for block in replication_blocks(seed, n_runs, size):
        _simulate_block(scenario, block, params, before_day=floor)
    return time.perf_counter() - start - floor.seconds, floor.seconds


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
