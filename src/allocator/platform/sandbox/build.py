"""Building a sandbox account from a scenario: the world, the objects, the history.

:func:`build_account` draws the environment's world from the seed, creates the objects
(ad group ``k`` of the scenario is the delivery model's arm ``k``; each gets one ad, a
dark post or a Spark post with its authorization), and simulates ``history_days`` days
with the configured budgets so reports have data; ``today`` (default: the current UTC
date) is the first day not yet delivered. Object ids derive from the ad group id (ad
``182...``, post ``730...``, video ``v10...``); every time is a UTC midnight.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from allocator.platform.sandbox.account import SandboxAccount
from allocator.platform.sandbox.account_spec import AdGroupSpec, SandboxScenario
from allocator.platform.sandbox.delivery import EnvironmentDelivery
from allocator.platform.sandbox.objects import (
    AUTH_AUTHORIZED,
    AUTH_REVOKED,
    AccountObjects,
    Ad,
    AdGroup,
    Campaign,
    SparkPost,
)
from allocator.sim.environment import Environment

__all__ = ["build_account"]


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
    creators = sorted(
        {g.creator for g in scenario.adgroups} | {p.creator for p in scenario.new_posts}
    )
    adgroups, ads, posts = _arms(scenario, start, today, creators)
    unbound = _new_posts(scenario, today, creators)
    account = SandboxAccount(
        advertiser_id=scenario.advertiser.advertiser_id,
        advertiser_name=scenario.advertiser.name,
        currency=scenario.advertiser.currency,
        today=start,
        objects=AccountObjects(_campaigns(scenario, start), adgroups, ads, posts + unbound),
        model=EnvironmentDelivery(env),
        min_daily_budget=scenario.api.min_daily_budget,
        **({} if now is None else {"now": now}),
    )
    for spec, post in zip(scenario.new_posts, unbound, strict=True):
        post.bound = False
        account.pending_codes[post.auth_code] = (post.item_id, spec.days)
    _simulate_history(account, scenario, today)
    return account


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _campaigns(scenario: SandboxScenario, start: date) -> list[Campaign]:
    """The scenario's campaigns, all created at the history's start."""
    return [
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


def _arms(
    scenario: SandboxScenario, start: date, today: date, creators: list[str]
) -> tuple[list[AdGroup], list[Ad], list[SparkPost]]:
    """The ad groups in arm order, their ads, and the Spark posts behind the Spark ads."""
    cbo = {c.campaign_id for c in scenario.campaigns if c.budget_optimize_on}
    adgroups: list[AdGroup] = []
    ads: list[Ad] = []
    posts: list[SparkPost] = []
    for arm, g in enumerate(scenario.adgroups):
        created = _midnight(start + timedelta(days=g.launch_offset(scenario.history_days)))
        adgroups.append(_adgroup(g, arm, created, under_cbo=g.campaign_id in cbo))
        if g.kind == "dark":
            identity = str(7_100_000_000_000_000_000 + arm)
            ads.append(_ad(g, created, "CUSTOMIZED_USER", identity, None, f"v10{g.adgroup_id[3:]}"))
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
        ads.append(_ad(g, created, "AUTH_CODE", post.identity_id, post.item_id, None))
    return adgroups, ads, posts


def _new_posts(scenario: SandboxScenario, today: date, creators: list[str]) -> list[SparkPost]:
    """The ``[[new_posts]]``, with the codes the scenario issued for them."""
    return [
        _post(
            p.item_id, p.creator, creators, p.text, _midnight(today), _midnight(today), p.auth_code
        )
        for p in scenario.new_posts
    ]


def _adgroup(g: AdGroupSpec, arm: int, created: datetime, *, under_cbo: bool) -> AdGroup:
    """Arm ``arm``'s ad group; under CBO its budget is 0 and its mode infinite."""
    mode = "BUDGET_MODE_INFINITE" if under_cbo else g.budget_mode
    end = created + timedelta(days=g.total_days) if mode == "BUDGET_MODE_TOTAL" else None
    budget = 0.0 if under_cbo else g.budget
    return AdGroup(
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


def _ad(
    g: AdGroupSpec,
    created: datetime,
    identity_type: str,
    identity_id: str,
    item_id: str | None,
    video_id: str | None,
) -> Ad:
    """The ad group's one ad: a Spark post (``item_id``) or a dark post (``video_id``)."""
    return Ad(
        f"182{g.adgroup_id[3:]}",
        g.adgroup_id,
        f"{g.name} - ad",
        identity_type,
        identity_id,
        item_id,
        video_id,
        "ENABLE",
        created,
    )


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
