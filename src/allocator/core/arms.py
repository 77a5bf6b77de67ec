"""Domain types of the engine: ad groups (arms), daily observations, the portfolio.

Two representations live here:

* record types (:class:`AdGroup`, :class:`Observation`, :class:`Portfolio`) that the
  platform and data layers build from files or API answers, one object per thing;
* array types (:class:`ArmState`, :class:`History`) that the math takes: a struct of
  numpy arrays whose trailing axis is the arm (``K``) and, for history, the day (``D``),
  with any number of leading batch axes (simulation replications).

Units: budgets and spend are currency per day in the account currency; rates are
conversions per currency unit; ``value`` is conversion value in the account currency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import IntEnum, StrEnum

import numpy as np

from allocator._types import BoolArray, FloatArray, IntArray

__all__ = [
    "AdGroup",
    "AdGroupStatus",
    "ArmState",
    "AuthStatus",
    "Authorization",
    "History",
    "Kind",
    "Objective",
    "Observation",
    "Portfolio",
    "Stage",
]


class Kind(StrEnum):
    """How the creative runs: a boosted creator/brand post, or a standard in-feed ad."""

    SPARK = "spark"
    DARK = "dark"


class AuthStatus(StrEnum):
    """State of a Spark Ad's authorization code (``none`` for dark posts)."""

    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    DELETED = "deleted"
    NONE = "none"


class AdGroupStatus(StrEnum):
    """Operation status of an ad group as the engine plans it."""

    ENABLE = "enable"
    DISABLE = "disable"


class Objective(StrEnum):
    """What the portfolio optimises: conversions per spend, or value per spend."""

    CPA = "cpa"
    ROAS = "roas"


class Stage(IntEnum):
    """Lifecycle stage of an arm; integer codes so arrays of stages stay numeric."""

    TESTING = 0
    SCALING = 1
    PAUSED = 2  # stopped for good: killed, fatigued, or paused by a person
    BLOCKED = 3
    RESTING = 4  # paused by the engine as a loser; returns when the running arms fall to it

    @property
    def label(self) -> str:
        """Lower-case name used in plans and reports (``testing``, ``scaling``...)."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Authorization:
    """A Spark Ad authorization: its status and, when known, its expiry (UTC)."""

    status: AuthStatus = AuthStatus.NONE
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            object.__setattr__(self, "expires_at", self.expires_at.replace(tzinfo=UTC))

    @property
    def lapsed(self) -> bool:
        """True when the post can no longer deliver (expired, revoked or deleted)."""
        return self.status in (AuthStatus.EXPIRED, AuthStatus.REVOKED, AuthStatus.DELETED)

    def days_remaining(self, as_of: datetime) -> float:
        """Days until expiry as of ``as_of``: ``inf`` with no expiry, <= 0 once lapsed."""
        if self.lapsed:
            return 0.0
        if self.expires_at is None:
            return math.inf
        if as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=UTC)
        return (self.expires_at - as_of).total_seconds() / 86_400.0


@dataclass(frozen=True, slots=True)
class AdGroup:
    """One ad group holding one creative: the engine's arm.

    Attributes:
        adgroup_id: platform id (string).
        kind: ``spark`` or ``dark``.
        creator: creator handle (or the brand's own account) the post belongs to.
        concept: concept or hook tag, free text.
        post_id: the TikTok post (item) id for Spark Ads; ``None`` for dark posts.
        authorization: Spark authorization; ``AuthStatus.NONE`` for dark posts.
        budget: current daily budget, currency per day.
        status: current operation status.
        launch_date: first day the ad group delivered, if known.
        last_edit_date: day of the last large budget edit (restarts learning), if known.
        stage: stage the engine assigned on its previous run, if known.
        name: a short human name (the ad's or the ad group's name), if the platform or the
            export gives one.
    """

    adgroup_id: str
    kind: Kind
    creator: str
    concept: str
    budget: float
    status: AdGroupStatus
    post_id: str | None = None
    authorization: Authorization = field(default_factory=Authorization)
    launch_date: date | None = None
    last_edit_date: date | None = None
    stage: Stage | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """One ad group's reported delivery for one day (account time zone).

    ``conversions`` are as reported so far: recent days are still incomplete because
    conversions are attributed with a lag. ``value`` is conversion value in currency,
    or ``None`` when not reported.
    """

    date: date
    adgroup_id: str
    spend: float
    impressions: int
    clicks: int
    conversions: float
    value: float | None = None


@dataclass(frozen=True, slots=True)
class Portfolio:
    """The account-level frame: currency, total daily budget and objective."""

    currency: str
    daily_budget: float
    objective: Objective = Objective.CPA
    target_cpa: float | None = None
    target_roas: float | None = None

    def __post_init__(self) -> None:
        if not self.daily_budget > 0:
            raise ValueError("daily_budget must be positive")
        if self.objective is Objective.CPA and not (self.target_cpa and self.target_cpa > 0):
            raise ValueError("objective 'cpa' needs a positive target_cpa")
        if self.objective is Objective.ROAS and not (self.target_roas and self.target_roas > 0):
            raise ValueError("objective 'roas' needs a positive target_roas")


@dataclass(frozen=True, slots=True)
class ArmState:
    """Per-arm state as arrays of shape ``(..., K)``; leading axes are batch axes.

    Attributes:
        is_spark: True for Spark Ads, False for dark posts.
        creator: integer creator code (0..n_creators-1), for pooling.
        budget: current daily budget, currency per day (0 for arms not delivering).
        enabled: current operation status is ``enable``.
        auth_days_left: days until the authorization lapses as of the planning day;
            ``inf`` when none is needed, <= 0 once lapsed (expired, revoked, deleted).
        days_since_launch: whole days since first delivery (``inf`` if unknown and old).
        days_since_edit: days since the last large budget edit (``inf`` if none).
        prev_stage: :class:`Stage` code from the previous run (``TESTING`` if new).
    """

    is_spark: BoolArray
    creator: IntArray
    budget: FloatArray
    enabled: BoolArray
    auth_days_left: FloatArray
    days_since_launch: FloatArray
    days_since_edit: FloatArray
    prev_stage: IntArray

    @property
    def n_arms(self) -> int:
        """Number of arms ``K`` (the trailing axis)."""
        return int(self.budget.shape[-1])

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Leading batch axes (empty for a single portfolio)."""
        return tuple(self.budget.shape[:-1])


@dataclass(frozen=True, slots=True)
class History:
    """Daily observations as dense arrays of shape ``(..., K, D)``.

    Column ``d`` is the day ``age_days[d]`` days before the planning day (age 1 =
    yesterday, the most recent day that can hold data). Missing rows are zeros with
    ``observed`` False.

    Attributes:
        spend: currency spent per arm and day.
        conversions: conversions reported so far per arm and day (incomplete for recent days).
        value: conversion value reported so far, currency.
        impressions: impressions per arm and day.
        observed: True where the platform reported a row.
        age_days: shape ``(D,)``, age of each column in days (>= 1).
    """

    spend: FloatArray
    conversions: FloatArray
    value: FloatArray
    impressions: FloatArray
    observed: BoolArray
    age_days: FloatArray

    @property
    def n_days(self) -> int:
        """Number of day columns ``D``."""
        return int(self.age_days.shape[0])

    @classmethod
    def empty(cls, batch_shape: tuple[int, ...], n_arms: int) -> History:
        """A history with no days (every arm starts from its prior)."""
        zeros = np.zeros((*batch_shape, n_arms, 0))
        return cls(
            spend=zeros,
            conversions=zeros.copy(),
            value=zeros.copy(),
            impressions=zeros.copy(),
            observed=np.zeros(zeros.shape, dtype=bool),
            age_days=np.zeros(0),
        )
