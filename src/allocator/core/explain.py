"""Human text of the decisions: one line per arm with its stage, reason, metric and alerts."""

from __future__ import annotations

import math

from allocator.core.alerts import alert_labels
from allocator.core.arms import Objective
from allocator.core.decisions import Decisions, Reason
from allocator.core.target import Target

__all__ = ["explain"]


def _num(x: float, fmt: str = ".2f") -> str:
    return format(x, fmt) if math.isfinite(x) else "n/a"


def _metric(d: Decisions, i: int | tuple[int, ...], currency: str, target: Target) -> str:
    pct = f"{100 * d.interval:g}%"
    interval = d.intervals()
    if target.objective is Objective.CPA:
        low, high = float(interval.cpa_low[i]), float(interval.cpa_high[i])
        return (
            f"CPA {_num(float(d.cpa_mean[i]))} {currency} ({pct} {_num(low)}-{_num(high)}) "
            f"vs target {_num(target.target_cpa or math.nan)}"
        )
    low, high = float(interval.roas_low[i]), float(interval.roas_high[i])
    return (
        f"ROAS {_num(float(d.roas_mean[i]))} ({pct} {_num(low)}-{_num(high)}) "
        f"vs target {_num(target.target_roas or math.nan)}"
    )


def explain(
    decisions: Decisions, index: int | tuple[int, ...], currency: str, target: Target
) -> str:
    """One-line human reason for one arm.

    Args:
        decisions: the decisions, ``(..., K)``.
        index: the arm, as an index into the ``(..., K)`` arrays (an int when unbatched).
        currency: account currency code, e.g. ``"USD"``.
        target: the target the decisions were made against.

    Returns:
        e.g. ``"scaling: P(best) 0.97 after 42 conversions; CPA 18.20 USD (90%
        15.10-22.40) vs target 25.00"``.
    """
    d, i = decisions, index
    parts = [_reason_text(d, i, currency), _metric(d, i, currency, target)]
    labels = alert_labels(int(d.alerts[i]), float(d.auth_days_left[i]))
    if labels:
        parts.append("alerts: " + ", ".join(labels))
    return "; ".join(parts)


def _reason_text(d: Decisions, i: int | tuple[int, ...], currency: str) -> str:
    """The stage and why, for arm ``i`` (its :class:`~allocator.core.decisions.Reason`)."""
    p, conv = float(d.p_best[i]), float(d.conversions[i])
    spend, days = float(d.spend[i]), float(d.auth_days_left[i])
    texts = {
        Reason.TESTING_NEEDS_EVIDENCE: f"testing: {conv:.0f} conversions so far, P(best) {p:.2f}",
        Reason.TESTING_UNDECIDED: (
            f"testing: P(best) {p:.2f} after {conv:.0f} conversions, no clear winner or loser"
        ),
        Reason.TESTING_RENEWED: "testing: authorization renewed, testing again",
        Reason.SCALING_P_BEST: f"scaling: P(best) {p:.2f} after {conv:.0f} conversions",
        Reason.SCALING_VALUE_REMAINING: (
            f"scaling: value remaining {float(d.value_remaining[i]):.1%} "
            f"after {conv:.0f} conversions"
        ),
        Reason.SCALING_KEPT: f"scaling: kept, P(best) {p:.2f}",
        Reason.SCALING_FATIGUED: (
            f"scaling: recent rate down (P {float(d.p_fatigue[i]):.2f}), not yet a loser"
        ),
        Reason.RESTING_LOSER: (
            f"resting: P(best) {p:.3f} after {spend:.2f} {currency} spent; returns when the "
            "running creatives fall to its level"
        ),
        Reason.RESTING_KEPT: "resting: still below the running creatives",
        Reason.TESTING_REVIVED: "testing: back from rest, the running creatives fell to its level",
        Reason.PAUSED_KILL: (
            f"paused: P(below kill threshold) {float(d.p_kill[i]):.2f} "
            f"after {spend:.2f} {currency} spent"
        ),
        Reason.PAUSED_FATIGUED: (
            f"paused: fatigued (P {float(d.p_fatigue[i]):.2f}) and P(best) {p:.3f}"
        ),
        Reason.PAUSED_KEPT: "paused: stays paused until a person re-enables it",
        Reason.RESTING_FATIGUED: (
            f"resting: fatigued (P {float(d.p_fatigue[i]):.2f}) and P(best) {p:.3f}; "
            "returns when the running creatives fall to its level or money is left over"
        ),
        Reason.TESTING_RESERVE: (
            "testing: back from rest to spend budget the running creatives cannot absorb"
        ),
        Reason.BLOCKED_LAPSED: "blocked: authorization expired, revoked or post deleted",
        Reason.BLOCKED_EXPIRING: f"blocked: authorization lapses in {days:.1f} days",
    }
    return texts[Reason(int(d.reason[i]))]
