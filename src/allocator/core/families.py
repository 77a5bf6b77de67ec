"""Posterior families over per-arm rates: their means, their draws, Thompson choice.

Every family holds arrays of shape ``(..., K)`` (any leading batch axes, the arm last)
and draws ``(..., S, K)`` with ``S`` draws per arm:

* :class:`GammaPosterior`: the rate ``lambda``, conversions per currency unit;
* :class:`ValuePosterior`: value per conversion, currency (ROAS objective);
* :class:`BetaPosterior`: a success rate per trial (the Bernoulli simulator, replay).

How the reward posteriors are fitted from a history is in :mod:`allocator.core.posterior`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from allocator._types import BoolArray, FloatArray, IntArray

__all__ = [
    "BetaPosterior",
    "GammaPosterior",
    "Posterior",
    "ValuePosterior",
    "thompson_choice",
]


def _draw_shape(params: FloatArray, n_draws: int) -> tuple[int, ...]:
    if n_draws < 1:
        raise ValueError(f"n_draws must be >= 1, got {n_draws}")
    return (*params.shape[:-1], n_draws, params.shape[-1])


class Posterior(Protocol):
    """A posterior family over per-arm rates: its mean and its draws."""

    def mean(self) -> FloatArray:
        """Posterior mean, ``(..., K)``."""
        ...

    def sample(self, rng: np.random.Generator, n_draws: int) -> FloatArray:
        """Draws of shape ``(..., S, K)`` with ``S = n_draws``."""
        ...


@dataclass(frozen=True, slots=True)
class GammaPosterior:
    """``lambda ~ Gamma(shape, rate)``, conversions per currency unit.

    Attributes:
        shape: ``(..., K)``, in conversions.
        rate: ``(..., K)``, in currency.
    """

    shape: FloatArray
    rate: FloatArray

    def mean(self) -> FloatArray:
        """Posterior mean of lambda, conversions per currency, ``(..., K)``."""
        return self.shape / self.rate

    def sample(self, rng: np.random.Generator, n_draws: int) -> FloatArray:
        """Draws of lambda, ``(..., S, K)``."""
        size = _draw_shape(self.shape, n_draws)
        return rng.gamma(self.shape[..., None, :], 1.0 / self.rate[..., None, :], size=size)

    def take(self, index: IntArray) -> GammaPosterior:
        """Arms reordered or selected along the last axis."""
        return GammaPosterior(self.shape[..., index], self.rate[..., index])


@dataclass(frozen=True, slots=True)
class ValuePosterior:
    """Value per conversion ``m = kappa / beta`` with ``beta ~ Gamma(shape, rate)``.

    Attributes:
        shape: ``(..., K)``.
        rate: ``(..., K)``, currency.
        value_shape: ``kappa``, shape of one conversion's value distribution.
    """

    shape: FloatArray
    rate: FloatArray
    value_shape: float

    def mean(self) -> FloatArray:
        """Posterior mean value per conversion, currency, ``(..., K)`` (inf if undefined)."""
        with np.errstate(divide="ignore"):
            mean = self.value_shape * self.rate / (self.shape - 1.0)
        return np.where(self.shape > 1.0, mean, np.inf)

    def sample(self, rng: np.random.Generator, n_draws: int) -> FloatArray:
        """Draws of value per conversion, currency, ``(..., S, K)``."""
        size = _draw_shape(self.shape, n_draws)
        draws = rng.standard_gamma(self.shape[..., None, :], size=size)
        np.divide(self.value_shape * self.rate[..., None, :], draws, out=draws)
        return draws


@dataclass(frozen=True, slots=True)
class BetaPosterior:
    """Beta-Bernoulli posterior of a success rate per trial (impression, click or pull).

    Attributes:
        alpha: ``(..., K)``, prior + successes.
        beta: ``(..., K)``, prior + failures.
    """

    alpha: FloatArray
    beta: FloatArray

    @classmethod
    def uniform(cls, batch_shape: tuple[int, ...], n_arms: int) -> BetaPosterior:
        """The ``Beta(1, 1)`` prior for every arm, ``(*batch_shape, K)``."""
        ones = np.ones((*batch_shape, n_arms))
        return cls(ones, ones.copy())

    def mean(self) -> FloatArray:
        """Posterior mean success rate, ``(..., K)``."""
        return self.alpha / (self.alpha + self.beta)

    def sample(self, rng: np.random.Generator, n_draws: int) -> FloatArray:
        """Draws of the success rate, ``(..., S, K)``."""
        size = _draw_shape(self.alpha, n_draws)
        return rng.beta(self.alpha[..., None, :], self.beta[..., None, :], size=size)

    def update(self, successes: FloatArray, trials: FloatArray) -> BetaPosterior:
        """Conjugate update with counts of shape ``(..., K)`` (successes <= trials)."""
        return BetaPosterior(self.alpha + successes, self.beta + (trials - successes))

    def observe(self, arm: IntArray, reward: FloatArray | BoolArray) -> BetaPosterior:
        """One pull per batch row: arm ``arm[...]`` paid ``reward[...]`` in [0, 1].

        Args:
            arm: ``(...)`` index of the pulled arm in each batch row.
            reward: ``(...)`` observed reward (0/1, or a fraction).

        Returns:
            The updated posterior; O(batch x K) array arithmetic, no loops.
        """
        hit = np.arange(self.alpha.shape[-1]) == np.asarray(arm)[..., None]
        r = np.asarray(reward, dtype=np.float64)[..., None]
        return BetaPosterior(self.alpha + hit * r, self.beta + hit * (1.0 - r))

    def observe_in_place(self, arm: IntArray, reward: FloatArray | BoolArray) -> None:
        """:meth:`observe` written into this posterior's own arrays (a simulator's loop).

        Bit-identical to ``observe`` (adding ``r`` and ``1 - r`` to the pulled arm is what
        adding ``hit * r`` does; the other arms add zero), without allocating ``(..., K)``
        arrays each step. The caller must own ``alpha`` and ``beta`` (e.g. from
        :meth:`uniform`), C-contiguous and not shared.

        Args:
            arm: ``(...)`` index of the pulled arm in each batch row.
            reward: ``(...)`` observed reward (0/1, or a fraction); a boolean reward
                counts as 1.0 / 0.0.
        """
        if not (self.alpha.flags.c_contiguous and self.beta.flags.c_contiguous):
            raise ValueError("observe_in_place needs C-contiguous alpha and beta arrays")
        n_arms = self.alpha.shape[-1]
        arm = np.asarray(arm)
        flat = arm.ravel() + np.arange(0, arm.size * n_arms, n_arms)
        hits: npt.NDArray[Any] = np.asarray(reward).ravel()
        misses = np.logical_not(hits) if hits.dtype == np.bool_ else 1.0 - hits
        alpha, beta = self.alpha.reshape(-1), self.beta.reshape(-1)  # views of our arrays
        alpha[flat] += hits
        beta[flat] += misses


def thompson_choice(post: Posterior, rng: np.random.Generator) -> IntArray:
    """One Thompson-sampling choice per batch row, ties broken uniformly at random.

    Returns:
        ``(...)`` arm indices: argmax over ``K`` of one posterior draw per arm.
    """
    draw = post.sample(rng, 1)[..., 0, :]
    top = draw.max(axis=-1, keepdims=True)
    best = np.argmax(draw, axis=-1)
    # one count over the whole batch: a row has at most K - 1 arms strictly below its
    # maximum, exactly K - 1 when no arm ties it (a NaN row has none), so the total
    # reaches best.size * (K - 1) only when no row is tied
    if np.count_nonzero(draw < top) == best.size * (draw.shape[-1] - 1):
        return np.asarray(best, dtype=np.int64)
    is_max = draw == top
    tied = np.count_nonzero(is_max, axis=-1) > 1
    if np.any(tied):  # exactly equal draws (e.g. zeros): pick uniformly among them
        noise = np.where(is_max, rng.random(draw.shape), -1.0)
        best = np.where(tied, np.argmax(noise, axis=-1), best)
    return np.asarray(best, dtype=np.int64)
