"""``python -m allocator.bench bernoulli``: simulated pulls per second, engine vs MABWiser.

On the 10-arm Bernoulli benchmark (gap 0.1, :mod:`allocator.sim.bernoulli`) it times the
engine's Thompson sampling (the core's ``BetaPosterior`` and ``thompson_choice``,
vectorized over a batch of seeds: one ``(B, K)`` posterior, one draw per seed and step)
for several batch sizes ``B``, and MABWiser's ``ThompsonSampling`` one pull per step
(``predict`` then ``partial_fit``) on the same environment, which runs one seed at a time.
Both include drawing the rewards and booking the regret. It prints pulls per second,
seconds per decision and the ratio to MABWiser (target: >= 100 when vectorized over
seeds), then the figures as one JSON line. ``--quick`` uses shorter horizons.
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np

from allocator.bench import print_report, timeit
from allocator.sim.bernoulli import BernoulliBandit, Method, checkpoints, simulate
from allocator.sim.bernoulli_study import mabwiser_regret

__all__ = ["BATCHES", "run"]

BATCHES = (20, 100, 1000)
"""Seeds simulated at once by the engine (20 = study (e))."""


def _engine_pulls_per_s(bandit: BernoulliBandit, n_seeds: int, horizon: int, seed: int,
                        repeats: int) -> float:  # fmt: skip
    def go() -> None:
        simulate(Method.THOMPSON, bandit, n_seeds, horizon, base_seed=seed, block_size=n_seeds,
                 steps=np.array([horizon]))  # fmt: skip

    return n_seeds * horizon / timeit(go, repeats=repeats, warmup=1)


def _mabwiser_pulls_per_s(bandit: BernoulliBandit, horizon: int, seed: int) -> float:
    steps = checkpoints(horizon)
    times = []
    for s in range(3):  # three seeds, each a fresh MAB: the median of three runs
        start = time.perf_counter()
        mabwiser_regret(Method.THOMPSON, bandit, s, horizon, seed, steps)
        times.append(time.perf_counter() - start)
    return horizon / float(np.median(times))


def run(*, quick: bool = False, seed: int = 0) -> None:
    """Time both and print the table and the JSON figures."""
    bandit = BernoulliBandit(0.1)
    horizon, peer_horizon, repeats = (300, 300, 1) if quick else (3000, 5000, 3)
    batches = BATCHES[:2] if quick else BATCHES
    engine = {b: _engine_pulls_per_s(bandit, b, horizon, seed, repeats) for b in batches}
    has_peer = importlib.util.find_spec("mabwiser") is not None
    peer = _mabwiser_pulls_per_s(bandit, peer_horizon, seed) if has_peer else float("nan")
    rows = [(f"engine TS, {b} seeds at once", b, horizon, v, 1e6 / v, v / peer)
            for b, v in engine.items()]  # fmt: skip
    rows.append(("MABWiser TS, one seed", 1, peer_horizon, peer, 1e6 / peer, 1.0))
    best = max(batches)
    ratio = engine[best] / peer
    title = (f"Bernoulli bandit (K = 10, gap 0.1): simulated pulls per second, engine vs "
             f"MABWiser (ratio at {best} seeds {ratio:.0f}x, target >= 100x)")  # fmt: skip
    if not has_peer:
        title += "; mabwiser not installed (pip install 'allocator[bench]'): no peer figures"
    print_report(
        title,
        ("what", "seeds", "T", "pulls/s", "us/pull", "x MABWiser"),
        rows,
        {
            "n_arms": bandit.n_arms,
            "horizon": horizon,
            "engine_pulls_per_s": {str(b): round(v, 1) for b, v in engine.items()},
            "mabwiser_pulls_per_s": round(peer, 1) if has_peer else None,
            "ratio": {str(b): round(v / peer, 2) for b, v in engine.items()} if has_peer else None,
        },
    )
