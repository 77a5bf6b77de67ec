"""Per-arm alerts: authorization expiring or lapsed, creative fatigued, data missing.

Each arm carries a bit set of :class:`Alert` flags (``(..., K)`` integers, see
:func:`alerts`). Their wording lives here and only here: :func:`alert_labels` gives the
short labels an arm's reason ends with, :func:`alert_messages` the plan's alerts (a kind
and a message saying what to do).
"""

from __future__ import annotations

import math
from enum import IntFlag

import numpy as np

from allocator._types import BoolArray, IntArray
from allocator.core.arms import ArmState, History, Stage

__all__ = ["ALERT_KINDS", "Alert", "alert_labels", "alert_messages", "alerts"]

# Plain int codes for array work (numpy converts an IntEnum member slowly).
_PAUSED, _RESTING = int(Stage.PAUSED), int(Stage.RESTING)


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
    live = ~lapsed & (prev != _PAUSED) & (prev != _RESTING)
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


ALERT_KINDS: dict[Alert, str] = {
    Alert.AUTH_EXPIRING: "auth_expiring",
    Alert.AUTH_LAPSED: "auth_lapsed",
    Alert.FATIGUED: "fatigued",
    Alert.DATA_MISSING: "data_missing",
}
"""The ``kind`` of each alert in the plan JSON, in reporting order."""


def alert_labels(flags: int, auth_days_left: float = math.inf) -> list[str]:
    """Short labels of an alert bit set (for one arm), as its reason ends with them."""
    labels = {
        Alert.AUTH_EXPIRING: f"authorization expires in {auth_days_left:.1f} days: renew it",
        Alert.AUTH_LAPSED: "authorization lapsed (expired, revoked or post deleted)",
        Alert.FATIGUED: "creative fatigued",
        Alert.DATA_MISSING: "no data reported for yesterday",
    }
    return [labels[flag] for flag in ALERT_KINDS if flags & flag]


def alert_messages(flags: int, auth_days_left: float, p_fatigue: float) -> list[tuple[str, str]]:
    """``(kind, message)`` of each alert of a bit set (for one arm), in reporting order.

    Args:
        flags: the arm's :class:`Alert` bit set.
        auth_days_left: days until its authorization lapses.
        p_fatigue: the fatigue test's probability that its rate went down.
    """
    messages = {
        Alert.AUTH_EXPIRING: (
            f"authorization expires in {auth_days_left:.1f} days: ask the creator to renew"
        ),
        Alert.AUTH_LAPSED: "authorization expired, revoked or post deleted: the ad cannot deliver",
        Alert.FATIGUED: f"creative fatigued: recent conversion rate down (P {p_fatigue:.2f})",
        Alert.DATA_MISSING: "no data reported for yesterday although the ad group was running",
    }
    return [(kind, messages[flag]) for flag, kind in ALERT_KINDS.items() if flags & flag]
