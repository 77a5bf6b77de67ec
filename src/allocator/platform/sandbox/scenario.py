"""Sandbox scenarios: the account a sandbox starts with, from TOML or the default.

A scenario file (``allocator sandbox serve --scenario FILE``) is TOML validated by the
pydantic models below; unknown keys are errors (:class:`~allocator.errors.ConfigError`
naming the file and the dotted key). Without a file, :func:`default_scenario` is a DTC
skincare account: 12 ad groups over 3 campaigns, Spark posts from five creators and dark
posts, one authorization expiring in 3 days, one revoked 4 days ago, one ad group under
campaign budget optimisation (budget 0, ``BUDGET_MODE_INFINITE``) and one with
``BUDGET_MODE_TOTAL``, both of which clients must refuse to manage.

Building (:func:`build_account`) draws the environment's world from the seed, creates the
objects, and simulates ``history_days`` days with the configured budgets so reports have
data; ``today`` (default: the current UTC date) is the first day not yet delivered.

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
import tomllib
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from allocator.errors import ConfigError
from allocator.platform.sandbox.account import (
    AUTH_AUTHORIZED,
    AUTH_REVOKED,
    Ad,
    AdGroup,
    Campaign,
    SandboxAccount,
    SparkPost,
)
from allocator.platform.sandbox.api import DEFAULT_ADVERTISER_ID, DEFAULT_TOKEN, ApiSettings
from allocator.platform.sandbox.delivery import EnvironmentDelivery
from allocator.sim.environment import Environment
from allocator.sim.scenario import Scenario

__all__ = [
    "DEFAULT_NEW_AUTH_CODE",
    "AdGroupSpec",
    "CampaignSpec",
    "SandboxScenario",
    "build_account",
    "default_scenario",
    "load_scenario",
]

_PER_ARM = {"n_arms", "n_initial_arms", "is_spark", "creator", "launch_day", "start_weekday"}
_SIM_FIELDS = {f.name for f in dataclasses.fields(Scenario)} - _PER_ARM


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AdvertiserSpec(_Strict):
    """``[advertiser]``: identity of the emulated account."""

    advertiser_id: str = Field(default=DEFAULT_ADVERTISER_ID, pattern=r"^\d{1,20}$")
    name: str = "Glow Lab Skincare (sandbox)"
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")


class ApiSpec(_Strict):
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


class CampaignSpec(_Strict):
    """``[[campaigns]]``: ``budget_optimize_on`` puts its ad groups under CBO."""

    campaign_id: str = Field(pattern=r"^\d{1,20}$")
    name: str
    budget_optimize_on: bool = False
    budget: float = Field(default=0.0, ge=0.0)
    budget_mode: Literal["BUDGET_MODE_INFINITE", "BUDGET_MODE_DAY", "BUDGET_MODE_TOTAL"] = (
        "BUDGET_MODE_INFINITE"
    )
    status: Literal["ENABLE", "DISABLE"] = "ENABLE"


class AdGroupSpec(_Strict):
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


class NewPostSpec(_Strict):
    """``[[new_posts]]``: a creator's post with a code issued but not yet applied."""

    item_id: str = Field(pattern=r"^\d{1,20}$")
    creator: str = Field(min_length=1)
    text: str = "new post"
    auth_code: str = Field(min_length=1)
    days: int = Field(default=30, ge=1, le=365)


class SandboxScenario(_Strict):
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
            raise ValueError(f"simulator: unknown or per-arm key(s) {unknown}")
        campaigns = {c.campaign_id for c in self.campaigns}
        ids = [g.adgroup_id for g in self.adgroups]
        if len(set(ids)) != len(ids) or len(campaigns) != len(self.campaigns):
            raise ValueError("campaign and ad group ids must be unique")
        for group in self.adgroups:
            if group.campaign_id not in campaigns:
                raise ValueError(f"ad group {group.adgroup_id} names unknown campaign")
            if (group.launched_days_ago or 0) > self.history_days:
                raise ValueError(f"ad group {group.adgroup_id}: launched before the history")
        return self

    def simulator_scenario(self, start: date) -> Scenario:
        """The environment's scenario: one arm per ad group, in ad group order."""
        launch = [_launch_offset(g, self.history_days) for g in self.adgroups]
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
    """Read and validate a TOML scenario; errors name the file and the dotted key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the scenario: {exc.strerror}", path=path) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=path) from exc
    try:
        return SandboxScenario.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or None
        raise ConfigError(first["msg"], path=path, key=key) from exc


DEFAULT_NEW_AUTH_CODE = "sandbox-new-code-0001"
"""An auth code of the default scenario ready for ``/tt_video/authorize/``."""

_CREATORS = ("glowwithmia", "dermdaniel", "skinbyaya", "theroutinelab", "priya.glows")


def default_scenario(seed: int = 0, today: date | None = None) -> SandboxScenario:
    """The default DTC account (see the module docstring)."""
    camp = ("1800000000000000001", "1800000000000000002", "1800000000000000003")
    groups: list[dict[str, Any]] = [  # Spark: five creators, three with a second post
        {
            "campaign_id": camp[0],
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
    for j, hook in enumerate(("problem-solution", "ugc-unboxing", "founder-story", "offer-15")):
        groups.append(
            {
                "campaign_id": camp[1],
                "name": f"Dark - {hook}",
                "kind": "dark",
                "creator": "brand",
                "budget": (50.0, 40.0, 35.0, 30.0)[j],
            }
        )
    groups[-1].update(
        {
            "campaign_id": camp[2],
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
    return SandboxScenario(
        seed=seed,
        today=today,
        campaigns=(
            CampaignSpec(campaign_id=camp[0], name="Spark - creators"),
            CampaignSpec(campaign_id=camp[1], name="Dark - concept tests"),
            CampaignSpec(
                campaign_id=camp[2],
                name="CBO - evergreen",
                budget_optimize_on=True,
                budget=60.0,
                budget_mode="BUDGET_MODE_DAY",
            ),
        ),
        adgroups=tuple(AdGroupSpec.model_validate(g) for g in groups),
        new_posts=(
            NewPostSpec(
                item_id="7300000000000000099",
                creator="skinbyaya",
                text="Aya - night routine",
                auth_code=DEFAULT_NEW_AUTH_CODE,
            ),
        ),
    )


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _launch_offset(group: AdGroupSpec, history_days: int) -> int:
    """Day index (from the history's start) the ad group launched."""
    ago = history_days if group.launched_days_ago is None else group.launched_days_ago
    return history_days - ago


def build_account(
    scenario: SandboxScenario,
    *,
    seed: int | None = None,
    now: Callable[[], datetime] | None = None,
) -> SandboxAccount:
    """Create the account, draw its world and simulate its history.

    Args:
        scenario: the validated scenario.
        seed: overrides ``scenario.seed`` (the CLI's ``--seed``).
        now: wall clock ``() -> datetime`` (UTC) for edit times; default the real clock.

    Returns:
        The account at ``today`` with ``history_days`` days delivered.
    """
    today = scenario.today or datetime.now(UTC).date()
    start = today - timedelta(days=scenario.history_days)
    rng = np.random.default_rng(scenario.seed if seed is None else seed)
    env = Environment.reset(scenario.simulator_scenario(start), 1, rng)
    campaigns = [
        Campaign(
            c.campaign_id,
            c.name,
            c.budget,
            c.budget_mode,
            c.budget_optimize_on,
            c.status,
            _midnight(start),
        )
        for c in scenario.campaigns
    ]
    cbo = {c.campaign_id for c in scenario.campaigns if c.budget_optimize_on}
    creators = sorted(
        {g.creator for g in scenario.adgroups} | {p.creator for p in scenario.new_posts}
    )
    adgroups, ads, posts = [], [], []
    for arm, g in enumerate(scenario.adgroups):
        created = _midnight(start + timedelta(days=_launch_offset(g, scenario.history_days)))
        mode = "BUDGET_MODE_INFINITE" if g.campaign_id in cbo else g.budget_mode
        end = created + timedelta(days=g.total_days) if mode == "BUDGET_MODE_TOTAL" else None
        budget = 0.0 if g.campaign_id in cbo else g.budget
        adgroups.append(
            AdGroup(
                g.adgroup_id,
                g.campaign_id,
                g.name,
                budget,
                mode,
                g.status,
                arm,
                created,
                created,
                created,
                end,
            )
        )
        ad_id, name = f"182{g.adgroup_id[3:]}", f"{g.name} - ad"
        if g.kind == "dark":
            identity = str(7_100_000_000_000_000_000 + arm)
            video_id = f"v10{g.adgroup_id[3:]}"
            ads.append(
                Ad(
                    ad_id,
                    g.adgroup_id,
                    name,
                    "CUSTOMIZED_USER",
                    identity,
                    None,
                    video_id,
                    "ENABLE",
                    created,
                )
            )
            continue
        post = _post(
            f"730{g.adgroup_id[3:]}",
            g.creator,
            creators,
            g.name,
            created,
            _midnight(today + timedelta(days=g.auth_days_left)),
        )
        posts.append(post)
        ads.append(
            Ad(
                ad_id,
                g.adgroup_id,
                name,
                "AUTH_CODE",
                post.identity_id,
                post.item_id,
                None,
                "ENABLE",
                created,
            )
        )
    unbound = [
        _post(
            p.item_id, p.creator, creators, p.text, _midnight(today), _midnight(today), p.auth_code
        )
        for p in scenario.new_posts
    ]
    account = SandboxAccount(
        advertiser_id=scenario.advertiser.advertiser_id,
        advertiser_name=scenario.advertiser.name,
        currency=scenario.advertiser.currency,
        today=start,
        campaigns=campaigns,
        adgroups=adgroups,
        ads=ads,
        posts=posts + unbound,
        model=EnvironmentDelivery(env),
        min_daily_budget=scenario.api.min_daily_budget,
        **({} if now is None else {"now": now}),
    )
    for spec, post in zip(scenario.new_posts, unbound, strict=True):
        post.bound = False
        account.pending_codes[post.auth_code] = (post.item_id, spec.days)
    _simulate_history(account, scenario, today)
    return account


def _post(
    item_id: str,
    creator: str,
    creators: list[str],
    text: str,
    start: datetime,
    end: datetime,
    auth_code: str | None = None,
) -> SparkPost:
    return SparkPost(
        item_id=item_id,
        auth_code=auth_code or f"sandbox-auth-{item_id}",
        identity_id=str(6_900_000_000_000_000_000 + creators.index(creator)),
        tiktok_name=creator,
        text=f"{text} #skincare",
        status=AUTH_AUTHORIZED,
        auth_start_time=start,
        auth_end_time=end,
        invite_start_time=start - timedelta(days=2),
    )


def _simulate_history(account: SandboxAccount, scenario: SandboxScenario, today: date) -> None:
    """Deliver the history days; a revoked post delivers until its revocation day."""
    revoke_on = {
        f"730{g.adgroup_id[3:]}": today - timedelta(days=g.revoked_days_ago)
        for g in scenario.adgroups
        if g.revoked_days_ago is not None
    }
    while True:
        for item_id, day in revoke_on.items():
            if account.today >= day:
                account.posts[item_id].status = AUTH_REVOKED
        if account.today >= today:
            break
        account.advance(1)
