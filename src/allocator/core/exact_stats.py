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
from allocator.core.families import GammaPosterior
from allocator.core.posterior import ArmModel, update
from allocator.core.target import Target

__all__ = ["ExactStats", "PosteriorSummaries", "exact_stats", "fatigue_test"]


@dataclass(frozen=True, slots=True)
class PosteriorSummaries:
    """The exact CPA and ROAS summaries of each arm; every field has shape ``(..., K)``.

    Shared by :class:`ExactStats` and :class:`~allocator.core.decisions.Decisions`.

    Attributes:
        cpa_mean: posterior mean CPA, currency per conversion (``inf`` if undefined).
        cpa_low: lower end of the central CPA interval, currency.
        cpa_high: upper end, currency.
        roas_mean: posterior mean ROAS, value per currency (NaN for the CPA objective).
        roas_low: lower end of the ROAS interval (NaN for CPA).
        roas_high: upper end of the ROAS interval (NaN for CPA).
        p_meets_target: P(CPA <= target CPA) or P(ROAS >= target ROAS).
        p_kill: P(CPA > kill multiple x target) or P(ROAS < target / kill multiple).
    """

    cpa_mean: FloatArray
    cpa_low: FloatArray
    cpa_high: FloatArray
    roas_mean: FloatArray
    roas_low: FloatArray
    roas_high: FloatArray
    p_meets_target: FloatArray
    p_kill: FloatArray


@dataclass(frozen=True, slots=True)
class ExactStats(PosteriorSummaries):
    """Analytic summaries per arm (the interval is the one asked for), ``(..., K)``.

    Attributes:
        stop_unit: the spend unit of the stop rules: the target CPA, or for ROAS the
            break-even CPA, currency.
    """

    stop_unit: FloatArray


def exact_stats(
    model: ArmModel, target: Target, interval: float, kill_multiple: float | FloatArray
) -> ExactStats:
    """Analytic CPA/ROAS summaries of the conjugate posteriors, ``(..., K)``.

    Args:
        model: the fitted posterior, ``(..., K)``; a ROAS target needs its value model.
        target: objective and target.
        interval: central probability of the CPA and ROAS intervals, in (0, 1).
        kill_multiple: CPA above this multiple of the target (ROAS: below target /
            multiple) is a kill; a scalar, or one multiple per arm ``(..., K)``.

    Raises:
        ValueError: a ROAS target with a model fitted without a value model.
    """
    a, b = model.rate.shape, model.rate.rate
    tail = (1.0 - interval) / 2.0
    with np.errstate(divide="ignore"):
        cpa_mean = np.where(a > 1.0, b / np.maximum(a - 1.0, 1e-300), np.inf)
        cpa_low = b / special.gammaincinv(a, 1.0 - tail)
        cpa_high = b / special.gammaincinv(a, tail)
    cpa = (cpa_mean, cpa_low, cpa_high)
    if target.objective is Objective.CPA:
        assert target.target_cpa is not None
        t = target.target_cpa
        nan = np.full(a.shape, np.nan)
        return ExactStats(
            *cpa,
            nan,
            nan.copy(),
            nan.copy(),
            p_meets_target=special.gammaincc(a, b / t),
            p_kill=special.gammainc(a, b / (kill_multiple * t)),
            stop_unit=np.full(a.shape, t),
        )
    return _roas_stats(model, target, cpa, tail, kill_multiple)


def _roas_stats(
    model: ArmModel,
    target: Target,
    cpa: tuple[FloatArray, FloatArray, FloatArray],
    tail: float,
    kill_multiple: float | FloatArray,
) -> ExactStats:
    """:func:`exact_stats` for a ROAS target; ``cpa`` = the CPA mean, low and high."""
    if model.value is None or target.target_roas is None:
        raise ValueError("a ROAS target needs a model fitted for ROAS (with a value model)")
    a, b = model.rate.shape, model.rate.rate
    # ROAS = s * G1 / G2 with G1 ~ Gamma(a), G2 ~ Gamma(av): G1 / (G1 + G2) ~ Beta(a, av).
    av, scale = model.value.shape, model.value.value_shape * model.value.rate / b

    def below(roas: float | FloatArray) -> FloatArray:
        ratio = roas / scale
        out: FloatArray = special.betainc(a, av, ratio / (1.0 + ratio))
        return out

    def quantile(q: float) -> FloatArray:
        x = special.betaincinv(a, av, q)
        with np.errstate(divide="ignore"):
            out: FloatArray = scale * x / (1.0 - x)
        return out

    roas_mean = np.where(av > 1.0, scale * a / np.maximum(av - 1.0, 1e-300), np.inf)
    return ExactStats(
        *cpa,
        roas_mean,
        quantile(tail),
        quantile(1.0 - tail),
        p_meets_target=1.0 - below(target.target_roas),
        p_kill=below(target.target_roas / kill_multiple),
        stop_unit=model.value.mean() / target.target_roas,
    )


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
