"""The classic Bernoulli bandit benchmark (Chapelle & Li 2011), vectorized over seeds.

Environment
-----------
``K = 10`` arms with success probabilities ``mu``: the best at ``0.5``, the nine others at
``0.5 - gap`` (``gap`` 0.1 or 0.02 in the paper). One pull per step; the reward of arm
``a`` at step ``t`` of seed ``s`` is ``U_s[t] < mu[a]`` where ``U_s`` is the seed's own
stream of uniforms. Regret is the *pseudo-regret* ``sum_t (mu* - mu[a_t])``, in units of
expected successes lost against always pulling the best arm.

Policies
--------
* **Thompson sampling** runs the core's own Beta-Bernoulli code: one
  :class:`~allocator.core.families.BetaPosterior` of shape ``(B, K)`` for a block of
  ``B`` seeds, starting at ``Beta(1, 1)``; each step
  :func:`~allocator.core.families.thompson_choice` (one posterior draw per seed, argmax,
  uniform tie-breaking) picks the arms and
  :meth:`~allocator.core.families.BetaPosterior.observe` records the rewards.
  There is no second implementation of Beta-Bernoulli Thompson sampling here.
* **UCB1** (Auer, Cesa-Bianchi & Fischer 2002): pull each arm once, then the arm with the
  largest ``mean + alpha * sqrt(2 ln t / n)`` (``t`` pulls so far, ``n`` the arm's),
  ``alpha = 1``; ties go to the lowest index, exactly as MABWiser's ``UCB1`` breaks them,
  so both follow the same path on the same reward stream.

Seeding
-------
The environment of seed ``s`` (its uniforms ``U_s``) is drawn from
``numpy.random.default_rng(SeedSequence(base_seed, spawn_key=(0, s)))``, one double per
step; it does not depend on the gap, the policy, the block or the chunk size, so every
policy (and MABWiser) meets the same rewards on seed ``s`` (common random numbers: paired
differences between policies are sharp). Thompson sampling draws its posterior samples
from one generator per block of seeds (numpy's Beta sampler consumes a variable number of
bits per element, so vectorizing over seeds needs one generator per batch): block ``i``
holds seeds ``i * block_size .. (i + 1) * block_size - 1`` and uses
``SeedSequence(base_seed, spawn_key=(1, i))``. A seed's Thompson path therefore depends on
``(base_seed, block_size, s)`` only; a partial last block runs at full size and is
truncated (as :func:`allocator.sim.replication.replication_blocks` does).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core.families import BetaPosterior, thompson_choice

__all__ = [
    "BEST_MEAN",
    "CHUNK",
    "N_ARMS",
    "BernoulliBandit",
    "Method",
    "RegretCurves",
    "bernoulli_kl",
    "checkpoints",
    "lai_robbins_constant",
    "reward_stream",
    "seed_blocks",
    "simulate",
    "simulate_block",
]

N_ARMS = 10
BEST_MEAN = 0.5
CHUNK = 4096
"""Steps per chunk of reward uniforms drawn at once (does not change any number)."""


class Method(StrEnum):
    """A policy this module simulates."""

    THOMPSON = "thompson"
    UCB1 = "ucb1"


@dataclass(frozen=True, slots=True)
class BernoulliBandit:
    """One best arm at ``best_mean`` and ``n_arms - 1`` arms ``gap`` below it.

    Attributes:
        gap: difference in success probability between the best arm and the others.
        n_arms: ``K``.
        best_mean: success probability of the best arm (arm 0).
    """

    gap: float
    n_arms: int = N_ARMS
    best_mean: float = BEST_MEAN

    def __post_init__(self) -> None:
        if not 0.0 < self.gap <= self.best_mean < 1.0:
            raise ValueError(f"need 0 < gap <= best_mean < 1, got {self.gap}, {self.best_mean}")
        if self.n_arms < 2:
            raise ValueError(f"need n_arms >= 2, got {self.n_arms}")

    @property
    def means(self) -> FloatArray:
        """Success probabilities ``(K,)``; arm 0 is the best."""
        mu = np.full(self.n_arms, self.best_mean - self.gap)
        mu[0] = self.best_mean
        return mu

    @property
    def gaps(self) -> FloatArray:
        """Per-pull regret of each arm ``(K,)``: ``mu* - mu``."""
        return self.best_mean - self.means


def bernoulli_kl(p: float | FloatArray, q: float | FloatArray) -> FloatArray:
    """Kullback-Leibler divergence ``KL(Bern(p) || Bern(q))`` in nats, elementwise."""
    p_, q_ = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    return np.asarray(p_ * np.log(p_ / q_) + (1 - p_) * np.log((1 - p_) / (1 - q_)))


def lai_robbins_constant(bandit: BernoulliBandit) -> float:
    """Lai-Robbins constant ``sum_{i suboptimal} gap_i / KL(mu_i, mu*)``.

    Any consistent policy's regret grows at least as this constant times ``ln T``, so per
    tenfold ``T`` it grows by at least this constant times ``ln 10`` (102.9 for gap 0.1,
    517.9 for gap 0.02 in the 10-arm benchmark).
    """
    mu = bandit.means
    sub = mu < bandit.best_mean
    return float(np.sum(bandit.gaps[sub] / bernoulli_kl(mu[sub], bandit.best_mean)))


def reward_stream(base_seed: int, seed: int) -> np.random.Generator:
    """The environment generator of seed ``seed``: one uniform per step (see module doc)."""
    return np.random.default_rng(np.random.SeedSequence(base_seed, spawn_key=(0, seed)))


def _policy_rng(base_seed: int, block_index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(base_seed, spawn_key=(1, block_index)))


def checkpoints(horizon: int, n_points: int = 120) -> IntArray:
    """Steps ``t`` at which regret is recorded, ``(P,)`` increasing.

    Log-spaced from 1, always with every power of ten up to ``horizon`` and ``horizon``.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    grid = np.geomspace(1, horizon, n_points).round().astype(np.int64)
    decades = 10 ** np.arange(int(math.log10(horizon)) + 1, dtype=np.int64)
    return np.unique(np.concatenate([grid, decades, [horizon]]))


@dataclass(frozen=True, slots=True)
class RegretCurves:
    """Cumulative pseudo-regret per seed at the recorded steps.

    Attributes:
        steps: ``(P,)`` step counts ``t`` (regret after ``t`` pulls).
        regret: ``(n_seeds, P)`` cumulative regret, expected successes lost.
        seeds: ``(n_seeds,)`` the seeds.
    """

    steps: IntArray
    regret: FloatArray
    seeds: IntArray

    def at(self, t: int) -> FloatArray:
        """Regret of every seed after ``t`` pulls, ``(n_seeds,)``."""
        hit = np.flatnonzero(self.steps == t)
        if hit.size == 0:
            raise KeyError(f"step {t} was not recorded")
        out: FloatArray = self.regret[:, hit[0]]
        return out


class _Learner(Protocol):
    def choose(self, t: int) -> IntArray: ...

    def learn(self, arm: IntArray, reward: BoolArray) -> None: ...


class _Thompson:
    """The core's Beta-Bernoulli posterior and Thompson choice, nothing else."""

    def __init__(self, n_seeds: int, n_arms: int, rng: np.random.Generator) -> None:
        self.post = BetaPosterior.uniform((n_seeds,), n_arms)
        self.rng = rng

    def choose(self, t: int) -> IntArray:
        return thompson_choice(self.post, self.rng)

    def learn(self, arm: IntArray, reward: BoolArray) -> None:
        self.post.observe_in_place(arm, reward)  # the posterior's arrays are ours


class _UCB1:
    """UCB1 over a batch of seeds, ``(B, K)`` sums and counts."""

    def __init__(self, n_seeds: int, n_arms: int, alpha: float = 1.0) -> None:
        self.sums = np.zeros((n_seeds, n_arms))
        self.counts = np.zeros((n_seeds, n_arms))
        self.rows = np.arange(n_seeds)
        self.alpha = alpha

    def choose(self, t: int) -> IntArray:
        n_arms = self.counts.shape[1]
        if t < n_arms:  # initialisation: each arm once, in order
            return np.full(self.rows.size, t, dtype=np.int64)
        bonus = self.alpha * np.sqrt(2.0 * math.log(t) / self.counts)
        return np.asarray(np.argmax(self.sums / self.counts + bonus, axis=1), dtype=np.int64)

    def learn(self, arm: IntArray, reward: BoolArray) -> None:
        self.sums[self.rows, arm] += reward
        self.counts[self.rows, arm] += 1.0


def simulate_block(
    method: Method, bandit: BernoulliBandit, seeds: IntArray, horizon: int, base_seed: int,
    block_index: int, steps: IntArray | None = None,
) -> RegretCurves:  # fmt: skip
    """Simulate one block of seeds for ``horizon`` pulls each, all seeds at once.

    Args:
        method: Thompson sampling (the core's code) or UCB1.
        bandit: the environment.
        seeds: ``(B,)`` seeds of the block; each has its own reward stream.
        horizon: pulls per seed ``T``.
        base_seed: the experiment's seed.
        block_index: keys the block's policy generator (Thompson draws).
        steps: recorded steps (default :func:`checkpoints`), each in ``1..horizon``.

    Returns:
        The block's regret curves.
    """
    steps = checkpoints(horizon) if steps is None else np.asarray(steps, dtype=np.int64)
    if steps.size and not (steps.min() >= 1 and steps.max() <= horizon):
        raise ValueError(f"recorded steps must lie in 1..{horizon}")
    n, mu, gaps = seeds.size, bandit.means, bandit.gaps
    learner: _Learner = (
        _Thompson(n, bandit.n_arms, _policy_rng(base_seed, block_index))
        if method is Method.THOMPSON
        else _UCB1(n, bandit.n_arms)
    )
    streams = [reward_stream(base_seed, int(s)) for s in seeds]
    regret = np.zeros((n, steps.size))
    # running[0] is the regret before the chunk, running[1 + i] after its step i: filled
    # by one sequential accumulate per chunk, the same additions in the same order as
    # adding each step's gap as it comes (numbers identical), without a per-step add
    running, cum = np.zeros((CHUNK + 1, n)), np.zeros((1, n))
    pulled = np.zeros((CHUNK, n), dtype=np.int64)
    for start in range(0, horizon, CHUNK):
        stop = min(start + CHUNK, horizon)
        uniforms = np.stack([g.random(stop - start) for g in streams], axis=1)
        for t in range(start, stop):
            arm = learner.choose(t)
            learner.learn(arm, uniforms[t - start] < mu[arm])  # bool: counts as 1.0 / 0.0
            pulled[t - start] = arm
        size = stop - start
        np.add.accumulate(
            np.concatenate([cum, gaps[pulled[:size]]]), axis=0, out=running[: size + 1]
        )
        cum = running[size : size + 1].copy()
        here = (steps > start) & (steps <= stop)
        regret[:, here] = running[steps[here] - start].T
    return RegretCurves(steps=steps, regret=regret, seeds=np.asarray(seeds, dtype=np.int64))


def seed_blocks(n_seeds: int, block_size: int) -> Iterator[tuple[int, IntArray]]:
    """``(block_index, seeds)`` covering ``0..n_seeds - 1``; the last block at full size."""
    if n_seeds < 1 or block_size < 1:
        raise ValueError("need n_seeds >= 1 and block_size >= 1")
    for i in range(-(-n_seeds // block_size)):
        yield i, np.arange(i * block_size, (i + 1) * block_size, dtype=np.int64)


def simulate(
    method: Method, bandit: BernoulliBandit, n_seeds: int, horizon: int, *, base_seed: int = 0,
    block_size: int = 20, steps: IntArray | None = None,
) -> RegretCurves:  # fmt: skip
    """Regret curves of seeds ``0..n_seeds - 1`` (blocks of ``block_size``, see module doc).

    Returns:
        ``RegretCurves`` with ``regret`` of shape ``(n_seeds, P)``.
    """
    parts = [
        simulate_block(method, bandit, seeds, horizon, base_seed, i, steps)
        for i, seeds in seed_blocks(n_seeds, block_size)
    ]
    return RegretCurves(
        steps=parts[0].steps,
        regret=np.concatenate([p.regret for p in parts])[:n_seeds],
        seeds=np.arange(n_seeds, dtype=np.int64),
    )


if __name__ == "__main__":
    import sys

    from allocator.sim.bernoulli_study import main

    sys.exit(main())
