"""Account specs: the account a sandbox starts with (its scenario), from TOML or the default.

A scenario file (``allocator sandbox serve --scenario FILE``) is TOML validated by the
pydantic models below and read by :func:`allocator.toml_loader.load_toml`; unknown keys
are errors (one :class:`~allocator.errors.ConfigError` listing every problem with its
line and dotted key). Without a file, :func:`default_scenario` is a DTC
skincare account: 12 ad groups over 3 campaigns, Spark posts from five creators and dark
posts, one authorization expiring in 3 days, one revoked 4 days ago, one ad group under
campaign budget optimisation (budget 0, ``BUDGET_MODE_INFINITE``) and one with
``BUDGET_MODE_TOTAL``, both of which clients must refuse to manage.

:func:`~allocator.platform.sandbox.build.build_account` turns a scenario into a live
account with its history delivered.

Example::

    history_days = 30
    today = "2025-06-01"

    [advertiser]
    advertiser_id = "7000000000000000001"

    [api]
    tokens = ["my-token"]

    [simulator]              # any allocator.sim.scenario.Scenario field except the
    cpm = 9.0                # per-arm ones (n_arms, is_spark, creator, launch_day, ...)

    [[campaigns]]
    campaign_id = "1800000000000000001"
    name = "Creators"

    [[adgroups]]
    adgroup_id = "1810000000000000001"
    campaign_id = "1800000000000000001"
    name = "Mia - serum routine"
    kind = "spark"
    creator = "glowwithmia"
    budget = 80.0
    auth_days_left = 3
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from allocator.config_base import StrictModel, cross_field_error
from allocator.errors import ConfigError
from allocator.platform.sandbox.api import DEFAULT_ADVERTISER_ID, DEFAULT_TOKEN, ApiSettings
from allocator.sim.scenario import Scenario
from allocator.toml_loader import load_toml

__all__ = [
    "DEFAULT_NEW_AUTH_CODE",
    "AdGroupSpec",
    "CampaignSpec",
    "SandboxScenario",
    "default_scenario",
    "load_scenario",
]

_PER_ARM = {"n_arms", "n_initial_arms", "is_spark", "creator", "launch_day", "start_weekday"}
_SIM_FIELDS = {f.name for f in dataclasses.fields(Scenario)} - _PER_ARM


class AdvertiserSpec(StrictModel):
    """``[advertiser]``: identity of the emulated account."""

    advertiser_id: str = Field(default=DEFAULT_ADVERTISER_ID, pattern=r"^\d{1,20}$")
    name: str = "Glow Lab Skincare (sandbox)"
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")


class ApiSpec(StrictModel):
    """``[api]``: tokens, rate limit, batch size and the budget minimum."""

    tokens: tuple[str, ...] = Field(default=(DEFAULT_TOKEN,), min_length=1)
    control_tokens: tuple[str, ...] = ()
    rate_limit_per_second: int = Field(default=20, ge=1)
    max_batch: int = Field(default=20, ge=1, le=1000)
    min_daily_budget: float = Field(default=20.0, ge=0.0)

    def settings(self) -> ApiSettings:
        """The API settings these keys describe."""
        return ApiSettings(
            tokens=frozenset(self.tokens),
            control_tokens=frozenset(self.control_tokens),
            rate_limit_per_second=self.rate_limit_per_second,
            max_batch=self.max_batch,
        )


class CampaignSpec(StrictModel):
    """``[[campaigns]]``: ``budget_optimize_on`` puts its ad groups under CBO."""

    campaign_id: str = Field(pattern=r"^\d{1,20}$")
    name: str
    budget_optimize_on: bool = False
    budget: float = Field(default=0.0, ge=0.0)
    budget_mode: Literal["BUDGET_MODE_INFINITE", "BUDGET_MODE_DAY", "BUDGET_MODE_TOTAL"] = (
        "BUDGET_MODE_INFINITE"
    )
    status: Literal["ENABLE", "DISABLE"] = "ENABLE"


class AdGroupSpec(StrictModel):
    """``[[adgroups]]``: one ad group with one ad (a Spark post or a dark post).

    Attributes:
        budget: daily budget (``BUDGET_MODE_DAY``) or total budget (``BUDGET_MODE_TOTAL``),
            currency; ignored under CBO (reported as 0).
        launched_days_ago: days of history the ad group has (at most ``history_days``).
        total_days: scheduled days of a ``BUDGET_MODE_TOTAL`` ad group.
        auth_days_left: Spark only: days the authorization still runs from ``today``.
        revoked_days_ago: Spark only: the creator revoked the code this many days ago.
    """

    adgroup_id: str = Field(pattern=r"^\d{1,20}$")
    campaign_id: str = Field(pattern=r"^\d{1,20}$")
    name: str
    kind: Literal["spark", "dark"]
    creator: str = Field(min_length=1)
    budget: float = Field(default=50.0, ge=0.0)
    budget_mode: Literal["BUDGET_MODE_DAY", "BUDGET_MODE_TOTAL", "BUDGET_MODE_INFINITE"] = (
        "BUDGET_MODE_DAY"
    )
    status: Literal["ENABLE", "DISABLE", "FROZEN"] = "ENABLE"
    launched_days_ago: int | None = Field(default=None, ge=0)
    total_days: int = Field(default=60, ge=1)
    auth_days_left: int = 30
    revoked_days_ago: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _spark_only(self) -> AdGroupSpec:
        if self.kind == "dark" and self.revoked_days_ago is not None:
            raise ValueError("revoked_days_ago applies to spark ad groups only")
        return self

    def launch_offset(self, history_days: int) -> int:
        """Day index (from the history's start) the ad group launched."""
        ago = history_days if self.launched_days_ago is None else self.launched_days_ago
        return history_days - ago


class NewPostSpec(StrictModel):
    """``[[new_posts]]``: a creator's post with a code issued but not yet applied."""

    item_id: str = Field(pattern=r"^\d{1,20}$")
    creator: str = Field(min_length=1)
    text: str = "new post"
    auth_code: str = Field(min_length=1)
    days: int = Field(default=30, ge=1, le=365)


class SandboxScenario(StrictModel):
    """A whole sandbox scenario (the TOML file's top level)."""

    seed: int = Field(default=0, ge=0)
    today: date | None = None
    history_days: int = Field(default=30, ge=0, le=365)
    advertiser: AdvertiserSpec = AdvertiserSpec()
    api: ApiSpec = ApiSpec()
    simulator: dict[str, Any] = Field(default_factory=dict)
    campaigns: tuple[CampaignSpec, ...] = Field(min_length=1)
    adgroups: tuple[AdGroupSpec, ...] = Field(min_length=1)
    new_posts: tuple[NewPostSpec, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> SandboxScenario:
        unknown = sorted(set(self.simulator) - _SIM_FIELDS)
        if unknown:
            raise cross_field_error(
                f"simulator.{unknown[0]}", "unknown key, or a per-arm one (set by the ad groups)"
            )
        campaigns = {c.campaign_id for c in self.campaigns}
        if len(campaigns) != len(self.campaigns):
            raise cross_field_error("campaigns", "campaign ids must be unique")
        seen: set[str] = set()
        for i, group in enumerate(self.adgroups):
            if group.adgroup_id in seen:
                raise cross_field_error(f"adgroups[{i}].adgroup_id", "ad group ids must be unique")
            seen.add(group.adgroup_id)
            if group.campaign_id not in campaigns:
                raise cross_field_error(f"adgroups[{i}].campaign_id", "names no campaign above")
            if (group.launched_days_ago or 0) > self.history_days:
                raise cross_field_error(
                    f"adgroups[{i}].launched_days_ago", "launched before the history starts"
                )
        return self

    def simulator_scenario(self, start: date) -> Scenario:
        """The environment's scenario: one arm per ad group, in ad group order."""
        launch = [g.launch_offset(self.history_days) for g in self.adgroups]
        creators = sorted({g.creator for g in self.adgroups})
        defaults = {
            "revocation_rate_per_day": 0.0,
            "horizon_days": max(self.history_days, 1) + 60,
        }
        try:
            return Scenario(
                **{**defaults, **self.simulator},
                n_arms=len(self.adgroups),
                n_creators=len(creators),
                is_spark=tuple(g.kind == "spark" for g in self.adgroups),
                creator=tuple(creators.index(g.creator) for g in self.adgroups),
                launch_day=tuple(launch),
                start_weekday=start.weekday(),
            )
        except TypeError as exc:
            raise ConfigError(f"invalid simulator settings: {exc}", key="simulator") from exc


def load_scenario(path: str | Path) -> SandboxScenario:
    """Read and validate a TOML scenario.

    Raises:
        ConfigError: the file is unreadable or not TOML, or keys are unknown, missing or
            invalid: one error lists them all, with line and dotted key.
    """
    return load_toml(path, SandboxScenario)


DEFAULT_NEW_AUTH_CODE = "sandbox-new-code-0001"
"""An auth code of the default scenario ready for ``/tt_video/authorize/``."""

_CREATORS = ("glowwithmia", "dermdaniel", "skinbyaya", "theroutinelab", "priya.glows")
_CAMPAIGN_IDS = ("1800000000000000001", "1800000000000000002", "1800000000000000003")


def default_scenario(seed: int = 0, today: date | None = None) -> SandboxScenario:
    """The default DTC account (see the module docstring)."""
    return SandboxScenario(
        seed=seed,
        today=today,
        campaigns=_default_campaigns(),
        adgroups=tuple(AdGroupSpec.model_validate(g) for g in _default_adgroups()),
        new_posts=(
            NewPostSpec(
                item_id="7300000000000000099",
                creator="skinbyaya",
                text="Aya - night routine",
                auth_code=DEFAULT_NEW_AUTH_CODE,
            ),
        ),
    )


def _default_campaigns() -> tuple[CampaignSpec, ...]:
    """Spark creators, dark-post concept tests, and one campaign under CBO."""
    spark, dark, cbo = _CAMPAIGN_IDS
    return (
        CampaignSpec(campaign_id=spark, name="Spark - creators"),
        CampaignSpec(campaign_id=dark, name="Dark - concept tests"),
        CampaignSpec(
            campaign_id=cbo,
            name="CBO - evergreen",
            budget_optimize_on=True,
            budget=60.0,
            budget_mode="BUDGET_MODE_DAY",
        ),
    )


def _default_adgroups() -> list[dict[str, Any]]:
    """The 12 ad groups' keys: 8 Spark, then 4 dark (the last two lifetime and CBO)."""
    groups = _spark_groups(_CAMPAIGN_IDS[0]) + _dark_groups(_CAMPAIGN_IDS[1])
    groups[-1].update(
        {
            "campaign_id": _CAMPAIGN_IDS[2],
            "name": "CBO - evergreen",
            "budget": 0.0,
            "budget_mode": "BUDGET_MODE_INFINITE",
        }
    )
    groups[-2].update(
        {
            "name": "Dark - founder-story (lifetime)",
            "budget": 1200.0,
            "budget_mode": "BUDGET_MODE_TOTAL",
            "total_days": 60,
        }
    )
    for n, group in enumerate(groups, start=1):
        group["adgroup_id"] = f"18100000000000000{n:02d}"
    return groups


def _spark_groups(campaign_id: str) -> list[dict[str, Any]]:
    """Spark: five creators, three with a second post; one revoked, one launched late."""
    groups: list[dict[str, Any]] = [
        {
            "campaign_id": campaign_id,
            "name": f"Spark - {_CREATORS[i % 5]} - post {i // 5 + 1}",
            "kind": "spark",
            "creator": _CREATORS[i % 5],
            "budget": (80.0, 60.0, 50.0, 45.0, 40.0, 35.0, 30.0, 30.0)[i],
            "auth_days_left": (50, 3, 25, 340, 20, 45, 12, 60)[i],
        }
        for i in range(8)
    ]
    groups[6]["revoked_days_ago"] = 4
    groups[7]["launched_days_ago"] = 10
    return groups


def _dark_groups(campaign_id: str) -> list[dict[str, Any]]:
    """Dark posts from the brand, one per hook."""
    return [
        {
            "campaign_id": campaign_id,
            "name": f"Dark - {hook}",
            "kind": "dark",
            "creator": "brand",
            "budget": (50.0, 40.0, 35.0, 30.0)[j],
        }
        for j, hook in enumerate(("problem-solution", "ugc-unboxing", "founder-story", "offer-15"))
    ]
