"""The worlds of the robustness suite: six families of accounts, crossed with penalties.

Each family varies one thing real TikTok accounts differ in, from a common base account,
and is built from what sources say about real accounts, not from the engine's defaults
(sources in ``simulations/robustness/README.md``; the short form is in each
:class:`World`'s ``source``):

========================  ===============================================================
family                    worlds
========================  ===============================================================
``budget``                ``thin`` (12 creatives on 400 USD/day, ~33 each, near the 20 USD
                          minimum) and ``rich`` (6 on 3,000, 500 each: enough for the 50
                          conversions a week TikTok's learning phase asks for)
``creatives``             ``few`` (4 live + 2 arrivals: the 3-5 creatives TikTok advises
                          testing) and ``many`` (12 live + 12 arrivals, one every 2 days:
                          the 5-15 creators of an always-on program)
``fatigue``               ``fast`` (burn-out in 7-14 days, floor 0.1), ``fast_floor`` (same
                          speed, floor 0.5) and ``long`` (slow decay, floor 0.5)
``saturation``            ``strong`` (half-saturation 300 USD/day) and ``weak`` (5,000)
``spark``                 ``short_codes`` (all Spark, 7- and 30-day codes, 1 %/day
                          revocations, new codes every 3 days)
``misspecified``          ``slow_lag`` (40 % of conversions reported the same day, a long
                          tail, a strong weekend) and ``fast_lag`` (90 % the same day, a
                          weekday dip): the world's lag and weekday pattern differ from
                          the engine's defaults
========================  ===============================================================

Every world runs 42 days (six weeks: long enough for two burn-outs of a fast creative),
target CPA 25 USD, and is crossed with ``learning_penalty`` 0, 0.15 and 0.30 (the 15-35 %
reset cost quoted in issue 11; an assumption, TikTok publishes no figure).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["BASE", "PENALTIES", "WORLDS", "Cell", "World", "cells"]

PENALTIES: tuple[float, ...] = (0.0, 0.15, 0.30)
"""Learning penalties every world is crossed with."""

BASE: dict[str, Any] = {
    "horizon_days": 42,
    "daily_budget": 1500.0,
    "target_cpa": 25.0,
    "n_arms": 10,
    "n_initial_arms": 8,
    "arrival_interval_days": 7.0,
    "n_creators": 5,
    "spark_share": 0.5,
    "auth_duration_days": [7, 30, 60, 365],
    "auth_duration_probs": [0.1, 0.4, 0.3, 0.2],
    "learning_days": 7,
    "learning_conversions": 50.0,
    "learning_edit_fraction": 0.5,
}
"""The base account: a mid-size DTC account, 1,500 USD/day over 10 creatives."""


@dataclass(frozen=True)
class World:
    """One world of a family: scenario keys over :data:`BASE`.

    Attributes:
        family: the family's name.
        name: the world's name within the family.
        keys: scenario keys that differ from :data:`BASE`.
        source: where the magnitudes come from (short form).
    """

    family: str
    name: str
    keys: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def label(self) -> str:
        """``family-name``."""
        return f"{self.family}-{self.name}"

    def scenario(self, penalty: float) -> dict[str, Any]:
        """The scenario table of this world at ``penalty``."""
        return {**BASE, **self.keys, "learning_penalty": penalty}


_FAST_FATIGUE = 150_000.0  # ~190 USD/day at a 9 USD CPM halves the CTR in ~7 days

WORLDS: tuple[World, ...] = (
    World(
        "budget",
        "thin",
        {"daily_budget": 400.0, "n_arms": 12, "n_initial_arms": 12},
        "TikTok ad group minimum 20 USD/day; small accounts test many creatives at it",
    ),
    World(
        "budget",
        "rich",
        {"daily_budget": 3000.0, "n_arms": 6, "n_initial_arms": 6},
        "TikTok learning phase: ~50 conversions in 7 days, i.e. >= 180 USD/day at 25 USD",
    ),
    World(
        "creatives",
        "few",
        {"n_arms": 6, "n_initial_arms": 4, "n_creators": 3, "arrival_interval_days": 10.0},
        "test 3-5 creatives in parallel (DESIGN.md, TikTok creative guidance)",
    ),
    World(
        "creatives",
        "many",
        {
            "n_arms": 24,
            "n_initial_arms": 12,
            "n_creators": 12,
            "arrival_interval_days": 2.0,
            "daily_budget": 2000.0,
        },
        "always-on creator programs: 5-15 creators, a new creative every few days",
    ),
    World(
        "fatigue",
        "fast",
        {
            "fatigue_half_impressions": _FAST_FATIGUE,
            "fatigue_floor": 0.1,
            "arrival_interval_days": 4.0,
            "n_arms": 14,
        },
        "winning creatives burn out in 7-14 days; TikTok advises refreshing weekly",
    ),
    World(
        "fatigue",
        "fast_floor",
        {
            "fatigue_half_impressions": _FAST_FATIGUE,
            "fatigue_floor": 0.5,
            "arrival_interval_days": 4.0,
            "n_arms": 14,
        },
        "as fast, but half of the CTR never fatigues (evergreen offers)",
    ),
    World(
        "fatigue",
        "long",
        {"fatigue_half_impressions": 2_000_000.0, "fatigue_floor": 0.5},
        "long-lived creatives (half-life of months at these budgets)",
    ),
    World(
        "saturation",
        "strong",
        {"saturation_spend": 300.0},
        "narrow audiences: CPA doubles by ~300 USD/day (assumption, a CPA spread)",
    ),
    World(
        "saturation",
        "weak",
        {"saturation_spend": 5000.0},
        "broad audiences: nearly linear response at these budgets (assumption)",
    ),
    World(
        "spark",
        "short_codes",
        {
            "spark_share": 1.0,
            "auth_duration_days": [7, 30],
            "auth_duration_probs": [0.5, 0.5],
            "revocation_rate_per_day": 0.01,
            "n_arms": 16,
            "arrival_interval_days": 3.0,
        },
        "Spark codes last 7/30/60/365 days and creators can revoke them at any time",
    ),
    World(
        "misspecified",
        "slow_lag",
        {
            "lag_pmf": [0.40, 0.20, 0.12, 0.10, 0.08, 0.06, 0.04],
            "weekday_multipliers": [0.85, 0.9, 0.95, 1.0, 1.05, 1.15, 1.1],
        },
        "7-day click attribution with considered purchases; strong weekend (assumption)",
    ),
    World(
        "misspecified",
        "fast_lag",
        {
            "lag_pmf": [0.90, 0.10],
            "weekday_multipliers": [1.1, 1.1, 1.05, 1.0, 0.95, 0.9, 0.9],
        },
        "impulse purchases reported by conversion time; weekday audience (assumption)",
    ),
)
"""Every world of the suite, grouped by family."""


@dataclass(frozen=True)
class Cell:
    """One cell of the suite: a world at one learning penalty."""

    world: World
    penalty: float

    @property
    def name(self) -> str:
        """``family-world-pNN`` (the ``scenario`` column of the results)."""
        return f"{self.world.label}-p{round(100 * self.penalty):02d}"


def cells(
    families: tuple[str, ...] | None = None, penalties: tuple[float, ...] = PENALTIES
) -> list[Cell]:
    """The suite's cells, optionally restricted to some families and penalties."""
    worlds = [w for w in WORLDS if families is None or w.family in families]
    return [Cell(w, p) for w in worlds for p in penalties]
