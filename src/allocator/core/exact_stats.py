"""Exact per-arm summaries of the conjugate posteriors: CPA, ROAS, target and kill odds.

CPA and ROAS intervals, P(meets target), P(kill) and the fatigue test are exact functions
of the gamma posteriors (regularised incomplete gamma and beta functions), vectorised
over arms ``K`` and any leading batch axes. CPA is currency per conversion, ROAS value
per currency.

Fatigue: the recent posterior (half-life ``half_life_days``) against the earlier one
(see :func:`allocator.core.evidence.fatigue_evidence`);
``P(lambda_recent < (1 - drop) * lambda_earlier)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from allocator._types import FloatArray
from allocator.core.arms import History, Objective
from allocator.core.evidence import fatigue_evidence
from allocator.core.families import GammaPosterior, ValuePosterior
from allocator.core.posterior import ArmModel, update
from allocator.core.target import Target

__all__ = [
    "ExactStats",
    "Intervals",
    "PosteriorSummaries",
    "exact_stats",
    "fatigue_test",
    "intervals",
]


@dataclass(frozen=True, slots=True)
class PosteriorSummaries:
    """The exact CPA and ROAS summaries the decisions rest on; every field ``(..., K)``.

    Shared by :class:`ExactStats` and :class:`~allocator.core.decisions.Decisions`.

    Attributes:
        cpa_mean: posterior mean CPA, currency per conversion (``inf`` if undefined).
        roas_mean: posterior mean ROAS, value per currency (NaN for the CPA objective).
        p_meets_target: P(CPA <= target CPA) or P(ROAS >= target ROAS).
        p_kill: P(CPA > kill multiple x target) or P(ROAS < target / kill multiple).
    """

    cpa_mean: FloatArray
    roas_mean: FloatArray
    p_meets_target: FloatArray
    p_kill: FloatArray


@dataclass(frozen=True, slots=True)
class ExactStats(PosteriorSummaries):
    """Analytic summaries per arm, ``(..., K)``.

    Attributes:
        stop_unit: the spend unit of the stop rules: the target CPA, or for ROAS the
            break-even CPA, currency.
    """

    stop_unit: FloatArray


@dataclass(frozen=True, slots=True)
class Intervals:
    """Central posterior intervals per arm, ``(..., K)``.

    Attributes:
        cpa_low: lower end of the CPA interval, currency per conversion.
        cpa_high: upper end.
        roas_low: lower end of the ROAS interval, value per currency (NaN for CPA).
        roas_high: upper end (NaN for CPA).
    """

    cpa_low: FloatArray
    cpa_high: FloatArray
    roas_low: FloatArray
    roas_high: FloatArray


def exact_stats(model: ArmModel, target: Target, kill_multiple: float | FloatArray) -> ExactStats:
    """Analytic CPA/ROAS summaries of the conjugate posteriors, ``(..., K)``.

    Args:
        model: the fitted posterior, ``(..., K)``; a ROAS target needs its value model.
        target: objective and target.
        kill_multiple: CPA above this multiple of the target (ROAS: below target /
            multiple) is a kill; a scalar, or one multiple per arm ``(..., K)``.

    Raises:
        ValueError: a ROAS target with a model fitted without a value model.
    """
    a, b = model.rate.shape, model.rate.rate
    with np.errstate(divide="ignore"):
        cpa_mean = np.where(a > 1.0, b / np.maximum(a - 1.0, 1e-300), np.inf)
    if target.objective is Objective.CPA:
        assert target.target_cpa is not None
        t = target.target_cpa
        return ExactStats(
            cpa_mean,
            np.full(a.shape, np.nan),
            p_meets_target=special.gammaincc(a, b / t),
            p_kill=special.gammainc(a, b / (kill_multiple * t)),
            stop_unit=np.full(a.shape, t),
        )
    value, target_roas = _roas_model(model, target.target_roas)
    av, scale = value.shape, value.value_shape * value.rate / b
    return ExactStats(
        cpa_mean,
        np.where(av > 1.0, scale * a / np.maximum(av - 1.0, 1e-300), np.inf),
        p_meets_target=1.0 - _roas_below(target_roas, a, av, scale),
        p_kill=_roas_below(target_roas / kill_multiple, a, av, scale),
        stop_unit=value.mean() / target_roas,
    )


def intervals(model: ArmModel, objective: Objective, interval: float) -> Intervals:
    """Central ``interval`` posterior intervals of CPA and (for ROAS) ROAS, ``(..., K)``.

    Exact quantiles of the conjugate posteriors (inverse regularised incomplete gamma
    and beta functions). Only reports read them, so :class:`~allocator.core.decisions.
    Decisions` computes them when first read (the simulator's steps never do).
    """
    a, b = model.rate.shape, model.rate.rate
    tail = (1.0 - interval) / 2.0
    with np.errstate(divide="ignore"):
        cpa_low = b / special.gammaincinv(a, 1.0 - tail)
        cpa_high = b / special.gammaincinv(a, tail)
    if objective is Objective.CPA:
        nan = np.full(a.shape, np.nan)
        return Intervals(cpa_low, cpa_high, nan, nan.copy())
    value, _ = _roas_model(model, 1.0)
    av, scale = value.shape, value.value_shape * value.rate / b

    def quantile(q: float) -> FloatArray:
        x = special.betaincinv(a, av, q)
        with np.errstate(divide="ignore"):
            out: FloatArray = scale * x / (1.0 - x)
        return out

    return Intervals(cpa_low, cpa_high, quantile(tail), quantile(1.0 - tail))


def _roas_model(model: ArmModel, target_roas: float | None) -> tuple[ValuePosterior, float]:
    """The value model and the ROAS target, or a clear error when either is missing."""
    if model.value is None or target_roas is None:
        raise ValueError("a ROAS target needs a model fitted for ROAS (with a value model)")
    return model.value, target_roas


def _roas_below(
    roas: float | FloatArray, a: FloatArray, av: FloatArray, scale: FloatArray
) -> FloatArray:
    """P(ROAS < roas), exact.

    ROAS = s G1 / G2 with G1 ~ Gamma(a), G2 ~ Gamma(av), and G1 / (G1 + G2) ~ Beta(a, av).
    """
    ratio = roas / scale
    out: FloatArray = special.betainc(a, av, ratio / (1.0 + ratio))
    return out


def fatigue_test(
    model: ArmModel, history: History, drop: float, half_life_days: float
) -> tuple[FloatArray, GammaPosterior]:
    """P(recent rate < (1 - drop) x earlier rate), ``(..., K)``, exact (beta function).

    Also returns the recent posterior (half-life ``half_life_days``, days), which judges
    whether a fatigued arm still pays.
    """
    recent_ev, earlier_ev = fatigue_evidence(history, model.params, half_life_days)
    recent, earlier = update(model.prior, recent_ev), update(model.prior, earlier_ev)
    ratio = (1.0 - drop) * recent.rate / earlier.rate
    out: FloatArray = special.betainc(recent.shape, earlier.shape, ratio / (1.0 + ratio))
    return out, recent
