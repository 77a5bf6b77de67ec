"""The replay method (Li et al., 2011) for uniformly random logs.

A policy that picks one action per row is evaluated by keeping the logged rows whose action
equals the policy's choice (at the logged position) and averaging their rewards; with a
uniform logging policy per position, that average is unbiased. Fixed policies are given as
an array of choices or a function of the row indices (:func:`replay`); adaptive policies,
such as the engine's Thompson policy, implement :class:`ReplayPolicy` and are replayed in
log order, learning only from matched rows (:func:`replay_adaptive`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.backtest.ope import Estimate, clt_estimate
from allocator.core.families import BetaPosterior, thompson_choice
from allocator.errors import DataError, InsufficientDataError

__all__ = ["ReplayPolicy", "ThompsonReplay", "replay", "replay_adaptive"]


class ReplayPolicy(Protocol):
    """An adaptive policy replayed on logs (e.g. the engine's Thompson policy)."""

    def choose(self, rows: IntArray, rng: np.random.Generator) -> IntArray:
        """Action indices the policy would show for logged rows ``rows``, shape ``(m,)``."""
        ...

    def update(self, rows: IntArray, actions: IntArray, rewards: FloatArray) -> None:
        """Learn from the matched rows (logged action equals the policy's choice)."""
        ...


class ThompsonReplay:
    """The engine's Bernoulli Thompson sampler as a :class:`ReplayPolicy`.

    One ``Beta(1, 1)`` posterior per (position, action), the core's
    :class:`~allocator.core.families.BetaPosterior` and
    :func:`~allocator.core.families.thompson_choice`: each row gets one posterior draw per
    action at its position and shows the argmax (ties broken uniformly); matched rows
    update the posterior of their position. Rows are indexed into ``position_index``.

    Args:
        n_actions: number of actions (items).
        position_index: position index ``0..P-1`` of every logged row, shape ``(n,)``.
    """

    def __init__(self, n_actions: int, position_index: IntArray) -> None:
        if n_actions < 1:
            raise ValueError(f"n_actions must be >= 1, got {n_actions}")
        self.position_index = np.asarray(position_index, dtype=np.int64)
        n_positions = int(self.position_index.max(initial=-1)) + 1
        self.posterior = BetaPosterior.uniform((max(n_positions, 1),), n_actions)

    def choose(self, rows: IntArray, rng: np.random.Generator) -> IntArray:
        """Thompson choice per row from the posterior of the row's position, ``(m,)``."""
        pos = self.position_index[rows]
        per_row = BetaPosterior(self.posterior.alpha[pos], self.posterior.beta[pos])
        return thompson_choice(per_row, rng)

    def update(self, rows: IntArray, actions: IntArray, rewards: FloatArray) -> None:
        """Add the matched rows' rewards (successes) and failures to their position."""
        pos = self.position_index[rows]
        r = np.asarray(rewards, dtype=np.float64)
        np.add.at(self.posterior.alpha, (pos, actions), r)
        np.add.at(self.posterior.beta, (pos, actions), 1.0 - r)


def _check_uniform(propensity: FloatArray | None, position: IntArray | None) -> None:
    if propensity is None:
        return
    key = np.zeros(propensity.shape, dtype=np.int64) if position is None else position
    order = np.argsort(key, kind="stable")
    k, pr = key[order], propensity[order]
    same = k[1:] == k[:-1]
    if np.any(same & ~np.isclose(pr[1:], pr[:-1], rtol=1e-6, atol=0.0)):
        raise DataError(
            "replay needs uniformly random logs: propensities differ within a position",
            column="propensity",
        )


def _replay_estimate(reward: FloatArray, matched: BoolArray, level: float) -> Estimate:
    kept = reward[matched]
    m = int(kept.shape[0])
    if m < 2:
        raise InsufficientDataError(f"replay matched {m} rows; at least 2 are needed")
    result = clt_estimate(kept, np.asarray(kept.mean()), level)
    return Estimate(
        "replay",
        float(result.estimate),
        float(result.ci_low),
        float(result.ci_high),
        float(result.std_error),
        m,
        "clt",
    )


def replay(
    logged_action: IntArray,
    reward: FloatArray,
    choices: IntArray | Callable[[IntArray], IntArray],
    *,
    position: IntArray | None = None,
    propensity: FloatArray | None = None,
    level: float = 0.95,
) -> Estimate:
    """Replay estimate of a fixed policy on uniformly random logs (Li et al., 2011).

    Keeps the rows whose logged action equals the policy's choice (at the logged position)
    and averages their rewards; unbiased when the logging policy is uniform per position.

    Args:
        logged_action: logged action indices, shape ``(n,)``.
        reward: rewards, shape ``(n,)``.
        choices: the policy's action per row, shape ``(n,)``, or a function of the row
            indices ``arange(n)`` returning it.
        position: logged position indices, shape ``(n,)``, used to check uniformity.
        propensity: logging propensities, shape ``(n,)``; when given they must be constant
            within each position.
        level: interval coverage.

    Returns:
        The mean reward over matched rows with a CLT interval; ``n`` is the matched count.
    """
    _check_uniform(propensity, position)
    rows = np.arange(logged_action.shape[0], dtype=np.int64)
    chosen = choices(rows) if callable(choices) else choices
    return _replay_estimate(reward, np.asarray(chosen) == logged_action, level)


def replay_adaptive(
    logged_action: IntArray,
    reward: FloatArray,
    policy: ReplayPolicy,
    *,
    rng: np.random.Generator,
    batch_size: int = 1,
    position: IntArray | None = None,
    propensity: FloatArray | None = None,
    level: float = 0.95,
) -> Estimate:
    """Replay an adaptive policy in log order, in batches of ``batch_size`` rows.

    The policy chooses for a whole batch at once (as the engine decides once per day), then
    learns from the batch's matched rows only; no data after a batch informs its choices.

    Args:
        logged_action: logged action indices, shape ``(n,)``, in log (time) order.
        reward: rewards, shape ``(n,)``.
        policy: the policy to replay.
        rng: random generator passed to the policy.
        batch_size: rows decided together before the policy is updated.
        position: logged position indices, shape ``(n,)``, used to check uniformity.
        propensity: logging propensities; when given, must be constant within each position.
        level: interval coverage.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    _check_uniform(propensity, position)
    n = logged_action.shape[0]
    matched = np.zeros(n, dtype=np.bool_)
    for start in range(0, n, batch_size):
        rows = np.arange(start, min(start + batch_size, n), dtype=np.int64)
        hit = np.asarray(policy.choose(rows, rng)) == logged_action[rows]
        matched[rows] = hit
        policy.update(rows[hit], logged_action[rows[hit]], reward[rows[hit]])
    return _replay_estimate(reward, matched, level)
