"""Off-policy estimators of a target policy's expected reward per logged row.

Everything here is array math (numpy only, an explicit ``numpy.random.Generator``), no I/O.
Arrays of per-row quantities have shape ``(..., n)``: ``n`` logged rows, optionally behind
leading batch axes (independent replications, e.g. seeds), and every estimator returns one
value per batch element, shape ``(...)``.

Estimand (the "independent" position convention of the Open Bandit Pipeline): each logged
row is one decision at its logged position. With ``pi_e(a | p)`` the target policy's
probability of showing action ``a`` at position ``p`` and ``pi_b`` the logging propensity of
the logged (action, position), the importance weight of row ``i`` is
``w_i = pi_e(a_i | p_i) / pi_b_i`` and the value is the expected reward per row (a CTR for
click logs) had the target policy filled the logged positions.

* IPS: ``mean(w_i r_i)``.
* SNIPS: ``sum(w_i r_i) / sum(w_i)``.
* DR: ``mean(sum_a pi_e(a | p_i) q(a, p_i) + w_i (r_i - q(a_i, p_i)))`` with ``q`` the
  cross-fitted reward model of :func:`~allocator.backtest.reward_model.fit_reward_model`.

Intervals: ``clt`` is the analytic normal interval on the per-row terms (for SNIPS the
delta-method influence terms ``w_i (r_i - V) / mean(w)``); ``bootstrap`` is the percentile
interval of a nonparametric bootstrap over rows (the reward model held fixed, as the Open
Bandit Pipeline does), drawn in one vectorized step per chunk of resamples.

The replay method for uniformly random logs lives in :mod:`allocator.backtest.replay`.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np

from allocator._types import FloatArray, IntArray
from allocator.backtest.reward_model import assign_folds, dr_reward_terms, fit_reward_model
from allocator.errors import InsufficientDataError

__all__ = [
    "ESTIMATORS",
    "AlignedLogs",
    "BatchEstimate",
    "Estimate",
    "IntervalMethod",
    "bootstrap_means",
    "clt_estimate",
    "doubly_robust",
    "evaluate",
    "importance_weights",
    "ips",
    "snips",
]

IntervalMethod = Literal["clt", "bootstrap"]
ESTIMATORS: tuple[str, ...] = ("ips", "snips", "dr")
_BOOTSTRAP_CHUNK_CELLS = 4_000_000
"""Upper bound on resamples x distinct rows drawn at once by :func:`bootstrap_means`."""


@dataclass(frozen=True)
class Estimate:
    """One estimator's value with its interval.

    Attributes:
        name: estimator name (``ips``, ``snips``, ``dr``, ``replay``).
        estimate: expected reward per row (a CTR for click logs).
        ci_low: lower end of the interval, same unit.
        ci_high: upper end of the interval, same unit.
        std_error: standard error (CLT) or bootstrap standard deviation, same unit.
        n: number of rows the estimate uses (matched rows for replay).
        method: how the interval was obtained (``clt`` or ``bootstrap``).
    """

    name: str
    estimate: float
    ci_low: float
    ci_high: float
    std_error: float
    n: int
    method: IntervalMethod

    def to_dict(self) -> dict[str, float | int | str]:
        """JSON-ready fields (the ``backtest ope --json`` contract plus extras)."""
        return {
            "estimate": self.estimate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "n": self.n,
            "std_error": self.std_error,
            "ci_method": self.method,
        }


@dataclass(frozen=True)
class BatchEstimate:
    """Estimates over leading batch axes, each array of shape ``(...)``; CLT intervals."""

    estimate: FloatArray
    std_error: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    n: int


@dataclass(frozen=True)
class AlignedLogs:
    """Logged rows as indices into a target policy's actions and positions.

    Attributes:
        action: logged action index, shape ``(n,)``, in ``[0, A)``.
        position: logged position index, shape ``(n,)``, in ``[0, P)``.
        reward: observed reward, shape ``(n,)``.
        propensity: logging probability of the logged (action, position), shape ``(n,)``.
        target: target probabilities ``pi_e(a | p)``, shape ``(A, P)``, columns sum to 1.
    """

    action: IntArray
    position: IntArray
    reward: FloatArray
    propensity: FloatArray
    target: FloatArray

    @property
    def weight(self) -> FloatArray:
        """Importance weights ``pi_e(a_i | p_i) / pi_b_i``, shape ``(n,)``."""
        return importance_weights(self.target[self.action, self.position], self.propensity)


def _z(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return NormalDist().inv_cdf(0.5 + level / 2.0)


def clt_estimate(terms: FloatArray, estimate: FloatArray, level: float) -> BatchEstimate:
    """Normal interval ``estimate +- z sd(terms) / sqrt(n)`` from per-row terms ``(..., n)``."""
    n = terms.shape[-1]
    se = terms.std(axis=-1, ddof=1) / np.sqrt(n) if n > 1 else np.full(estimate.shape, np.nan)
    half = _z(level) * se
    return BatchEstimate(estimate, se, estimate - half, estimate + half, n)


def importance_weights(target_probability: FloatArray, propensity: FloatArray) -> FloatArray:
    """Importance weights ``pi_e / pi_b`` per row, shape ``(..., n)`` (propensities > 0)."""
    return np.asarray(target_probability / propensity, dtype=np.float64)


def ips(reward: FloatArray, weight: FloatArray, *, level: float = 0.95) -> BatchEstimate:
    """Inverse propensity scoring: ``mean(w r)`` with a CLT interval.

    Args:
        reward: rewards, shape ``(..., n)``.
        weight: importance weights, shape ``(..., n)``.
        level: interval coverage (0.95 for a 95% interval).
    """
    terms = weight * reward
    return clt_estimate(terms, terms.mean(axis=-1), level)


def snips(reward: FloatArray, weight: FloatArray, *, level: float = 0.95) -> BatchEstimate:
    """Self-normalized IPS: ``sum(w r) / sum(w)``, delta-method CLT interval.

    NaN where every weight is zero (the target never shows a logged action).

    Args:
        reward: rewards, shape ``(..., n)``.
        weight: importance weights, shape ``(..., n)``.
        level: interval coverage.
    """
    # SNIPS is invariant to scaling the weights: dividing by the largest one first keeps
    # tiny (even subnormal) weights from underflowing to a zero mean
    top = weight.max(axis=-1, keepdims=True)
    scaled = weight / np.where(top > 0, top, 1.0)
    mean_w = scaled.mean(axis=-1)
    safe = np.where(mean_w > 0, mean_w, 1.0)
    value = np.where(mean_w > 0, (scaled * reward).mean(axis=-1) / safe, np.nan)
    influence = scaled * (reward - value[..., None]) / safe[..., None]
    return clt_estimate(influence, value, level)


def doubly_robust(
    reward: FloatArray,
    weight: FloatArray,
    q_logged: FloatArray,
    q_target: FloatArray,
    *,
    level: float = 0.95,
) -> BatchEstimate:
    """Doubly robust: ``mean(q_target + w (r - q_logged))`` with a CLT interval.

    Args:
        reward: rewards, shape ``(..., n)``.
        weight: importance weights, shape ``(..., n)``.
        q_logged: modelled reward of the logged (action, position), shape ``(..., n)``.
        q_target: modelled reward of the target at the logged position,
            ``sum_a pi_e(a | p_i) q(a, p_i)``, shape ``(..., n)``.
        level: interval coverage.
    """
    terms = q_target + weight * (reward - q_logged)
    return clt_estimate(terms, terms.mean(axis=-1), level)


def bootstrap_means(columns: FloatArray, rng: np.random.Generator, n_boot: int) -> FloatArray:
    """Column means of ``n_boot`` nonparametric bootstrap resamples of the rows.

    Resampling rows with replacement only changes how many times each distinct row is drawn,
    so rows are grouped by value and the counts are drawn from one multinomial per resample
    (same distribution as drawing indices, far cheaper when few distinct rows exist, as with
    click logs); resamples are drawn in chunks, with no Python loop per resample.

    Args:
        columns: per-row values, shape ``(n, c)``.
        rng: random generator.
        n_boot: number of resamples.

    Returns:
        Means per resample, shape ``(n_boot, c)``.
    """
    n = columns.shape[0]
    distinct, counts = np.unique(columns, axis=0, return_counts=True)
    share = counts / n
    chunk = max(1, _BOOTSTRAP_CHUNK_CELLS // max(len(distinct), 1))
    out = np.empty((n_boot, columns.shape[1]))
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        draws = rng.multinomial(n, share, size=size)
        out[start : start + size] = draws @ distinct / n
    return out


def _from_bootstrap(name: str, value: float, boot: FloatArray, n: int, level: float) -> Estimate:
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.nanpercentile(boot, [tail, 100.0 - tail])
    return Estimate(name, value, float(low), float(high), float(np.nanstd(boot)), n, "bootstrap")


def _from_batch(name: str, result: BatchEstimate) -> Estimate:
    return Estimate(
        name,
        float(result.estimate),
        float(result.ci_low),
        float(result.ci_high),
        float(result.std_error),
        result.n,
        "clt",
    )


def evaluate(
    logs: AlignedLogs,
    *,
    rng: np.random.Generator,
    interval: IntervalMethod = "clt",
    n_boot: int = 2000,
    n_folds: int = 5,
    level: float = 0.95,
) -> dict[str, Estimate]:
    """IPS, SNIPS and DR estimates of the target policy's expected reward per row.

    Args:
        logs: aligned logged rows and the target policy.
        rng: drives the DR folds and, for ``interval="bootstrap"``, the resamples.
        interval: ``clt`` (analytic) or ``bootstrap`` (percentile, ``n_boot`` resamples).
        n_boot: bootstrap resamples.
        n_folds: cross-fitting folds of the DR reward model.
        level: interval coverage.

    Returns:
        ``{"ips": ..., "snips": ..., "dr": ...}``.

    Raises:
        InsufficientDataError: fewer than two rows, or no row the target could show.
    """
    n = logs.action.shape[0]
    if n < 2:
        raise InsufficientDataError(f"off-policy evaluation needs at least 2 rows, got {n}")
    weight = logs.weight
    if not np.any(weight > 0):
        raise InsufficientDataError(
            "the target policy gives probability 0 to every logged (action, position)"
        )
    q_logged, q_target = _reward_model_terms(logs, rng, n_folds)
    results = {
        "ips": ips(logs.reward, weight, level=level),
        "snips": snips(logs.reward, weight, level=level),
        "dr": doubly_robust(logs.reward, weight, q_logged, q_target, level=level),
    }
    if interval == "clt":
        return {name: _from_batch(name, r) for name, r in results.items()}
    dr_terms = q_target + weight * (logs.reward - q_logged)
    boots = _bootstrap_draws(weight * logs.reward, weight, dr_terms, rng, n_boot)
    return {
        name: _from_bootstrap(name, float(results[name].estimate), boots[name], n, level)
        for name in ESTIMATORS
    }


def _reward_model_terms(
    logs: AlignedLogs, rng: np.random.Generator, n_folds: int
) -> tuple[FloatArray, FloatArray]:
    """DR's ``(q_logged, q_target)`` per row from a reward model cross-fitted on ``logs``."""
    n = logs.action.shape[0]
    n_actions, n_positions = logs.target.shape
    folds = min(n_folds, n)
    fold = assign_folds((n,), folds, rng)
    model = fit_reward_model(
        logs.action,
        logs.position,
        logs.reward,
        fold,
        n_actions=n_actions,
        n_positions=n_positions,
        n_folds=folds,
    )
    return dr_reward_terms(model, logs.target, logs.action, logs.position, fold)


def _bootstrap_draws(
    weighted_reward: FloatArray,
    weight: FloatArray,
    dr_terms: FloatArray,
    rng: np.random.Generator,
    n_boot: int,
) -> dict[str, FloatArray]:
    """Each estimator's value on ``n_boot`` resamples of the rows (the reward model fixed).

    SNIPS is the ratio of the resampled means of ``w r`` and ``w`` (NaN where the
    resample's weights are all zero).
    """
    boot = bootstrap_means(np.column_stack([weighted_reward, weight, dr_terms]), rng, n_boot)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot_snips = np.where(boot[:, 1] > 0, boot[:, 0] / boot[:, 1], np.nan)
    return {"ips": boot[:, 0], "snips": boot_snips, "dr": boot[:, 2]}
