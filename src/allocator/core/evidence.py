"""Evidence of each arm: discounted, lag-corrected sufficient statistics of its history.

For daily rows ``d`` of an arm (conversions ``y`` reported so far, spend ``s``, reported
value ``v``, currency) the evidence is::

    conversions = sum_d w_d * y_d
    exposure    = sum_d w_d * c(age_d) * s_d
    value       = sum_d w_d * v_d

with ``w = 0.5 ** (age / half_life)`` a time discount (old days count less, so creative
fatigue shows) and ``c`` the lag correction of :class:`~allocator.core.lag.LagModel`.
Also here: :class:`PosteriorParams`, the settings of the reward posterior (discount,
lag, pooling, value shape), which every stage of the fit reads.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Annotated

import numpy as np
from annotated_types import Gt, MaxLen, MinLen

from allocator._types import FloatArray
from allocator.core.arms import History
from allocator.core.bounds import FieldError, NonNegative, Positive, check_bounds
from allocator.core.lag import LagModel

__all__ = [
    "Evidence",
    "PosteriorParams",
    "discounted_evidence",
    "exposure_weight",
    "fatigue_evidence",
]


@dataclass(frozen=True)
class PosteriorParams:
    """Settings of the reward posterior (TOML table ``[posterior]``).

    Attributes:
        half_life_days: time discount ``w = 0.5 ** (age / half_life)``; ``inf`` disables.
        prior_strength: the pooled prior is worth this many conversions of evidence.
        lag_pmf: share of a day's eventual conversions reported 0, 1, ... days later
            (sums to 1; its length is the attribution window); ``None`` = the default
            (:data:`~allocator.core.lag.DEFAULT_LAG_PMF`). :attr:`lag` is its model.
        pool_by_creator: pool by (kind, creator) under kind; False pools by kind only.
        value_shape: shape ``kappa`` of the per-conversion value distribution (ROAS);
            ``value_shape * prior_strength`` must exceed 1 so the mean value exists.
    """

    half_life_days: Annotated[float, Gt(0.0)] = 14.0
    prior_strength: Positive = 2.0
    lag_pmf: Annotated[tuple[NonNegative, ...], MinLen(1), MaxLen(90)] | None = None
    pool_by_creator: bool = True
    value_shape: Positive = 2.0

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.lag_pmf is not None:
            pmf = tuple(float(p) for p in self.lag_pmf)
            object.__setattr__(self, "lag_pmf", pmf)
            if not math.isclose(math.fsum(pmf), 1.0, abs_tol=1e-6):
                raise FieldError("lag_pmf", f"must sum to 1 (sums to {math.fsum(pmf):.6g})")
            try:
                self.lag  # noqa: B018 - builds and checks the model once
            except ValueError:
                raise FieldError("lag_pmf", "entries must be finite and >= 0") from None
        if self.value_shape * self.prior_strength <= 1:
            raise FieldError(
                "value_shape",
                "x prior_strength must exceed 1 (else the prior mean value per conversion "
                "is infinite)",
            )

    @functools.cached_property
    def lag(self) -> LagModel:
        """The conversion-lag model of ``lag_pmf``."""
        if self.lag_pmf is None:
            return LagModel.default()
        return LagModel(np.array(self.lag_pmf, dtype=np.float64))


@dataclass(frozen=True, slots=True)
class Evidence:
    """Per-arm sufficient statistics, all of shape ``(..., K)``.

    Attributes:
        conversions: discounted reported conversions ``sum w * y``.
        exposure: discounted lag-corrected spend ``sum w * c(age) * s``, currency.
        value: discounted reported conversion value ``sum w * v``, currency.
        spend_total: undiscounted spend, currency (for minimum-evidence rules).
        conversions_total: undiscounted reported conversions.
    """

    conversions: FloatArray
    exposure: FloatArray
    value: FloatArray
    spend_total: FloatArray
    conversions_total: FloatArray


def _discount(age_days: FloatArray, half_life_days: float) -> FloatArray:
    return np.power(0.5, np.asarray(age_days, dtype=np.float64) / half_life_days)


def _evidence(
    history: History, lag: LagModel, weight: FloatArray, spend_scale: FloatArray | None = None
) -> Evidence:
    age = np.asarray(history.age_days, dtype=np.float64)
    if age.size and not np.all(age >= 1.0):
        raise ValueError(f"history.age_days must all be >= 1 (1 = yesterday), min {age.min()}")
    exposure_weight = weight * lag.reported_fraction(age)
    spend = history.spend if spend_scale is None else history.spend * spend_scale
    return Evidence(
        conversions=history.conversions @ weight,
        exposure=spend @ exposure_weight,
        value=history.value @ weight,
        spend_total=history.spend.sum(axis=-1),
        conversions_total=history.conversions.sum(axis=-1),
    )


def exposure_weight(history: History, params: PosteriorParams) -> FloatArray:
    """Weight of each day's spend in the exposure, ``(D,)``: discount x reported fraction."""
    age = np.asarray(history.age_days, dtype=np.float64)
    weight: FloatArray = _discount(age, params.half_life_days) * params.lag.reported_fraction(age)
    return weight


def discounted_evidence(
    history: History, params: PosteriorParams, spend_scale: FloatArray | None = None
) -> Evidence:
    """Discounted, lag-corrected sufficient statistics of a history.

    Args:
        history: rows of shape ``(..., K, D)``; ``age_days`` ``(D,)``, all >= 1.
        params: half-life and lag model.
        spend_scale: per day, its rate over the rate the posterior is about ``(..., K, D)``
            (the fatigue forecast's :func:`allocator.core.fatigue_curve.forecast_factors`);
            each day's spend counts this many times in the exposure. None: 1.

    Returns:
        :class:`Evidence` of shape ``(..., K)``.
    """
    weight = _discount(history.age_days, params.half_life_days)
    return _evidence(history, params.lag, weight, spend_scale)


def fatigue_evidence(
    history: History, params: PosteriorParams, recent_half_life_days: float
) -> tuple[Evidence, Evidence]:
    """Evidence split into a recent and an earlier part, on disjoint days, for fatigue.

    The recent part holds the days up to ``2 * recent_half_life_days`` old, weighted
    ``0.5 ** (age / recent_half_life_days)``; the earlier part holds the older days with
    the usual weight ``0.5 ** (age / params.half_life_days)``. Disjoint days make the two
    posteriors independent, and a step change shows almost undiluted (a halving one
    week ago measures as a ratio of about 0.52; overlapping exponential windows would
    show about 0.69 and hide a 30 % threshold).

    Returns:
        ``(recent, earlier)``, each of shape ``(..., K)``.
    """
    if not recent_half_life_days > 0:
        raise ValueError(f"recent_half_life_days must be > 0, got {recent_half_life_days}")
    age = np.asarray(history.age_days, dtype=np.float64)
    is_recent = age <= 2.0 * recent_half_life_days
    recent_w = np.where(is_recent, _discount(age, recent_half_life_days), 0.0)
    earlier_w = np.where(is_recent, 0.0, _discount(age, params.half_life_days))
    return _evidence(history, params.lag, recent_w), _evidence(history, params.lag, earlier_w)
