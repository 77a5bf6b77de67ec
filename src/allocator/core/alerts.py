"""Per-arm alerts: authorization expiring or lapsed, creative fatigued, data missing.

Each arm carries a bit set of :class:`Alert` flags (``(..., K)`` integers, see
:func:`alerts`); :func:`alert_labels` words one arm's set for a person.
"""

from __future__ import annotations

import math
from enum import IntFlag

import numpy as np

from allocator._types import BoolArray, IntArray
from allocator.core.arms import ArmState, History, Stage

__all__ = ["Alert", "alert_labels", "alerts"]


class Alert(IntFlag):
    """Alert bit flags per arm (combine with ``|``)."""

    AUTH_EXPIRING = 1
    AUTH_LAPSED = 2
    FATIGUED = 4
    DATA_MISSING = 8


def alerts(
    arms: ArmState, history: History, fatigued: BoolArray, renew_warning_days: float
) -> IntArray:
    """:class:`Alert` bit flags per arm, ``(..., K)``.

    Args:
        arms: arm state ``(..., K)`` (authorization, previous stage, budget, launch).
        history: ``(..., K, D)``; an arm that should have spent and reported nothing
            for yesterday (age 1 day) is missing data.
        fatigued: the fatigue test's verdict per arm, ``(..., K)``.
        renew_warning_days: alert when the authorization lapses within this, days.
    """
    days = arms.auth_days_left
    lapsed = ~(days > 0.0)
    prev = np.asarray(arms.prev_stage)
    live = ~lapsed & (prev != Stage.PAUSED) & (prev != Stage.RESTING)
    expiring = (days > 0.0) & (days <= renew_warning_days)
    missing = (
        arms.enabled
        & (arms.budget > 0.0)
        & (arms.days_since_launch >= 2.0)
        & ~lapsed
        & ~_observed_yesterday(history)
    )
    flags = (
        expiring * int(Alert.AUTH_EXPIRING)
        + lapsed * int(Alert.AUTH_LAPSED)
        + (fatigued & live) * int(Alert.FATIGUED)
        + missing * int(Alert.DATA_MISSING)
    )
    return np.asarray(flags, dtype=np.int64)


def _observed_yesterday(history: History) -> BoolArray:
    yesterday = np.asarray(history.age_days) == 1.0
    return np.asarray(history.observed[..., yesterday].any(axis=-1), dtype=np.bool_)


def alert_labels(flags: int, auth_days_left: float = math.inf) -> list[str]:
    """Human labels of an alert bit set (for one arm)."""
    labels: list[str] = []
    if flags & Alert.AUTH_EXPIRING:
        labels.append(f"authorization expires in {auth_days_left:.1f} days: renew it")
    if flags & Alert.AUTH_LAPSED:
        labels.append("authorization lapsed (expired, revoked or post deleted)")
    if flags & Alert.FATIGUED:
        labels.append("creative fatigued")
    if flags & Alert.DATA_MISSING:
        labels.append("no data reported for yesterday")
    return labels
