"""Pooled priors: each arm's prior built from its neighbours' evidence (empirical Bayes).

Rate prior
----------
A new arm starts from what its neighbours show, with the weight of ``n0 =
prior_strength`` conversions: ``Gamma(n0, n0 / r)`` where ``r`` is a shrinkage estimate
built top-down, each level shrinking towards its parent with ``n0`` pseudo-conversions::

    r_global = (Y_g + n0) / (E_g + n0 / r_0)          r_0 = prior_rate (the target)
    r_kind   = (Y_k + n0) / (E_k + n0 / r_global)     kind = spark | dark
    r_cell   = (Y_c + n0) / (E_c + n0 / r_kind)       cell = (kind, creator)

``Y`` and ``E`` are discounted conversions and lag-corrected exposure summed over the
arms of the group outside the arm's own subgroup at the next level (the global level
pools the other kind, the kind level the kind's other creators, the cell the creator's
other ads of that kind). An arm's own data never enters its prior, and every other arm's
data enters it exactly once, at the finest level the two share: counting a neighbour at
several levels would let a data-poor neighbour's prior outgrow the arm whose conversions
built it, so that more conversions could lower the arm's P(best). With no data anywhere
every prior is ``Gamma(n0, n0 / r_0)``: weak and centred on the target rate.

Value prior
-----------
The prior on value per conversion (ROAS) pools the same way, on the mean value per
conversion ``m = (V + n0 * m_parent) / (N + n0)`` (see :mod:`allocator.core.posterior`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from allocator._types import FloatArray, IntArray
from allocator.core.arms import ArmState
from allocator.core.evidence import Evidence, PosteriorParams
from allocator.core.families import GammaPosterior, ValuePosterior

__all__ = ["pooled_prior", "pooled_value_prior"]


class _Groups:
    """Per-batch-row group sums by integer code, for all arms at once (np.bincount)."""

    def __init__(self, codes: IntArray, n_groups: int) -> None:
        self.shape = codes.shape
        k = codes.shape[-1] if codes.ndim else 1
        rows = codes.size // k if k else 0
        offsets = n_groups * np.arange(rows, dtype=np.int64)[:, None]
        self.flat = (codes.reshape(rows, k) + offsets).ravel()
        self.size = rows * n_groups

    def total(self, values: FloatArray) -> FloatArray:
        """Sum of ``values`` over each arm's group, broadcast back to ``(..., K)``."""
        weights = (
            values if values.shape == self.shape else np.broadcast_to(values, self.shape)
        ).ravel()
        sums = np.bincount(self.flat, weights=weights, minlength=self.size).astype(
            np.float64, copy=False
        )
        out: FloatArray = sums[self.flat].reshape(self.shape)
        return out


def _group_codes(arms: ArmState, shape: tuple[int, ...], by_creator: bool) -> list[_Groups]:
    kind = np.broadcast_to(np.asarray(arms.is_spark, dtype=np.int64), shape)
    levels = [_Groups(np.zeros(shape, dtype=np.int64), 1), _Groups(kind, 2)]
    if by_creator:
        creator = np.broadcast_to(np.asarray(arms.creator, dtype=np.int64), shape)
        if creator.size and creator.min() < 0:
            raise ValueError("creator codes must be >= 0")
        n_creators = int(creator.max()) + 1 if creator.size else 1
        levels.append(_Groups(2 * creator + kind, 2 * n_creators))
    return levels


def _leave_one_out(groups: _Groups, own: FloatArray) -> FloatArray:
    return np.maximum(groups.total(own) - own, 0.0)


def _pooled_sums(levels: list[_Groups], values: FloatArray) -> list[FloatArray]:
    """Sum of ``values`` over the arms each level pools for each arm, ``(..., K)`` each.

    A level pools the arms of the arm's group outside its own subgroup at the next level
    (the finest level: the other arms of its group), so every other arm's data enters an
    arm's prior exactly once, at the finest level the two share.
    """
    others = [_leave_one_out(groups, values) for groups in levels]
    return [
        np.maximum(sums - others[level + 1] if level + 1 < len(levels) else sums, 0.0)
        for level, sums in enumerate(others)
    ]


def _batch_center(center: float | FloatArray, name: str) -> FloatArray:
    c = np.asarray(center, dtype=np.float64)
    if not (np.all(np.isfinite(c)) and np.all(c > 0)):
        raise ValueError(f"{name} must be positive and finite")
    return c[..., None] if c.ndim else c


def _pooled_pairs(
    arms: ArmState, params: PosteriorParams, top: FloatArray, bottom: FloatArray
) -> Iterator[tuple[FloatArray, FloatArray]]:
    """Leave-one-out sums of ``top`` and ``bottom`` ``(..., K)`` per pooling level.

    Outermost level first: kind, then (kind, creator) when ``pool_by_creator``.
    """
    levels = _group_codes(arms, top.shape, params.pool_by_creator)
    return zip(_pooled_sums(levels, top), _pooled_sums(levels, bottom), strict=True)


def pooled_prior(
    evidence: Evidence, arms: ArmState, params: PosteriorParams, prior_rate: float | FloatArray
) -> GammaPosterior:
    """Empirical-Bayes Gamma prior per arm, pooled by kind and by (kind, creator).

    Args:
        evidence: ``(..., K)`` discounted evidence of every arm.
        arms: ``(..., K)`` kinds and creator codes.
        params: ``prior_strength`` (``n0``) and ``pool_by_creator``.
        prior_rate: conversions per currency the prior centres on where the portfolio has
            no data (``Target.reward_threshold()`` for CPA); scalar or ``(...)``.

    Returns:
        ``Gamma(n0, n0 / r)`` per arm, ``r`` the leave-one-out shrinkage estimate of the
        module docstring.
    """
    n0 = params.prior_strength
    rate = _batch_center(prior_rate, "prior_rate")
    for conv, expo in _pooled_pairs(arms, params, evidence.conversions, evidence.exposure):
        rate = (conv + n0) / (expo + n0 / rate)
    shape = np.full(evidence.exposure.shape, n0)
    return GammaPosterior(shape=shape, rate=n0 / np.broadcast_to(rate, shape.shape))


def pooled_value_prior(
    evidence: Evidence, arms: ArmState, params: PosteriorParams, prior_value: float | FloatArray
) -> ValuePosterior:
    """Empirical-Bayes prior on value per conversion, pooled like :func:`pooled_prior`.

    Args:
        evidence: ``(..., K)``.
        arms: ``(..., K)``.
        params: ``prior_strength`` and ``value_shape``.
        prior_value: currency per conversion where nothing is known; scalar or ``(...)``.

    Returns:
        Prior worth ``prior_strength`` conversions, mean value ``m`` per arm where
        ``m = (V + n0 * m_parent) / (N + n0)`` over the other arms of each group.
    """
    n0, kappa = params.prior_strength, params.value_shape
    mean = _batch_center(prior_value, "prior_value")
    for value, conv in _pooled_pairs(arms, params, evidence.value, evidence.conversions):
        mean = (value + n0 * mean) / (conv + n0)
    shape = np.full(evidence.exposure.shape, kappa * n0)
    rate = np.broadcast_to(n0 * mean * (kappa * n0 - 1.0) / (kappa * n0), shape.shape)
    return ValuePosterior(shape=shape, rate=np.array(rate), value_shape=kappa)
