"""The sandbox's simulated ad account: rules, daily delivery and the edit log.

One :class:`SandboxAccount` holds an advertiser's campaigns, ad groups (one ad each: the
engine's arms), ads (Spark posts or dark posts), the Spark posts' authorizations (the
records are in :mod:`.objects`), the simulated calendar and a ledger of reported delivery
per ad group and day (:mod:`.ledger`). Delivery comes from a pluggable
:class:`~allocator.platform.sandbox.delivery_ledger.DeliveryModel` advanced one day at a time; the
account decides which ad groups may deliver (status, deleted, authorization) and with
what daily budget.

Simulated time: :attr:`SandboxAccount.today` is the day in progress; reports hold data for
the days before it. :meth:`SandboxAccount.advance` delivers ``today`` with the budgets and
statuses in force, then moves to the next day and expires lapsed authorizations.

Platform rules the account enforces (each breach raises :class:`RuleViolation` with the
platform's code): the ad group daily budget must **exceed** ``min_daily_budget`` (20.00
by default, the platform's "more than $20"), with at most two decimals; only
``BUDGET_MODE_DAY`` ad groups outside campaign budget optimisation take budget edits;
deleted ad groups cannot be changed; ``FROZEN`` ad groups cannot be enabled.

Not thread-safe on its own: the API layer holds :attr:`SandboxAccount.lock` around calls.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from allocator._types import BoolArray, FloatArray
from allocator.platform.sandbox.delivery_ledger import DeliveryModel, Ledger
from allocator.platform.sandbox.objects import (
    AUTH_AUTHORIZED,
    AUTH_EXPIRED,
    AUTH_REVOKED,
    BUDGET_MODE_DAY,
    BUDGET_MODE_INFINITE,
    BUDGET_MODE_TOTAL,
    STATUS_DELETE,
    STATUS_DISABLE,
    STATUS_ENABLE,
    STATUS_FROZEN,
    AccountObjects,
    Ad,
    AdGroup,
    EditRecord,
    SparkPost,
)

__all__ = ["RuleViolation", "SandboxAccount"]


class RuleViolation(Exception):
    """A request breaks a platform rule; ``code`` is the envelope code to answer with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SandboxAccount:
    """The simulated advertiser account behind the sandbox API.

    Args:
        advertiser_id: the advertiser id clients must send.
        advertiser_name: display name.
        currency: account currency (ISO code).
        today: the simulated day in progress.
        objects: the account's campaigns, ad groups, ads and posts; ``adgroups[i].arm``
            index the delivery model's arms.
        model: the delivery dynamics (one replication, ``K`` arms).
        min_daily_budget: an ad group daily budget must exceed this, currency per day.
        now: wall clock (UTC) for edit times and the time of day of ``modify_time``.
    """

    def __init__(
        self,
        *,
        advertiser_id: str,
        advertiser_name: str,
        currency: str,
        today: date,
        objects: AccountObjects,
        model: DeliveryModel,
        min_daily_budget: float = 20.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.lock = threading.RLock()
        self.advertiser_id = advertiser_id
        self.advertiser_name = advertiser_name
        self.currency = currency
        self.today = today
        self.campaigns = {c.campaign_id: c for c in objects.campaigns}
        self.adgroups = {g.adgroup_id: g for g in objects.adgroups}
        self.ads = {a.ad_id: a for a in objects.ads}
        self.posts = {p.item_id: p for p in objects.posts}
        self.pending_codes: dict[str, tuple[str, int]] = {}
        self._issued = 0
        self.model = model
        self.min_daily_budget = min_daily_budget
        self.edits: list[EditRecord] = []
        self._now = now
        self.ledger = Ledger(start=today, n_arms=model.n_arms)
        self._check_wiring()

    def _check_wiring(self) -> None:
        arms = sorted(g.arm for g in self.adgroups.values())
        if arms != list(range(self.model.n_arms)):
            raise ValueError(f"ad group arms {arms} must be 0..{self.model.n_arms - 1}, one each")
        for ad in self.ads.values():
            if ad.adgroup_id not in self.adgroups:
                raise ValueError(f"ad {ad.ad_id} names unknown ad group {ad.adgroup_id}")
            if ad.tiktok_item_id is not None and ad.tiktok_item_id not in self.posts:
                raise ValueError(f"ad {ad.ad_id} names unknown post {ad.tiktok_item_id}")
        for group in self.adgroups.values():
            if group.campaign_id not in self.campaigns:
                raise ValueError(f"ad group {group.adgroup_id} names unknown campaign")

    # ---- time -------------------------------------------------------------------------

    def sim_now(self) -> datetime:
        """The simulated instant: ``today`` at the wall clock's time of day (UTC)."""
        return datetime.combine(self.today, self._now().time().replace(microsecond=0), UTC)

    def advance(self, days: int = 1) -> None:
        """Deliver ``days`` days one at a time with the budgets and statuses in force."""
        for _ in range(days):
            budgets, enabled = self.delivery_inputs()
            self.ledger.append(self.model.advance_day(budgets, enabled))
            self.today += timedelta(days=1)
            self._expire_lapsed()

    def _expire_lapsed(self) -> None:
        start = datetime.combine(self.today, time(), tzinfo=UTC)
        for post in self.posts.values():
            if post.bound and post.status == AUTH_AUTHORIZED and post.auth_end_time <= start:
                post.status = AUTH_EXPIRED

    def delivery_inputs(self) -> tuple[FloatArray, BoolArray]:
        """Effective daily budget (currency per day) and delivery flag per arm, ``(K,)``.

        ``BUDGET_MODE_TOTAL`` spreads the total over the scheduled days; ad groups under
        campaign budget optimisation share the campaign's daily budget evenly.
        """
        n_arms = self.model.n_arms
        budgets = np.zeros(n_arms)
        enabled = np.zeros(n_arms, dtype=bool)
        for group in self.adgroups.values():
            enabled[group.arm] = self.delivers(group)
        for group in self.adgroups.values():
            budgets[group.arm] = self._effective_budget(group, enabled)
        return budgets, enabled

    def _effective_budget(self, group: AdGroup, enabled: BoolArray) -> float:
        campaign = self.campaigns[group.campaign_id]
        if campaign.budget_optimize_on:
            sharing = [
                g.arm for g in self.adgroups.values() if g.campaign_id == campaign.campaign_id
            ]
            n_live = int(enabled[sharing].sum())
            return campaign.budget / n_live if n_live else 0.0
        if group.budget_mode == BUDGET_MODE_TOTAL:
            end = group.schedule_end_time or group.schedule_start_time
            n_days = max((end.date() - group.schedule_start_time.date()).days, 1)
            return group.budget / n_days
        return group.budget

    def delivers(self, group: AdGroup) -> bool:
        """Whether the ad group may deliver today (status, campaign, authorization)."""
        campaign = self.campaigns[group.campaign_id]
        if group.deleted or group.operation_status != STATUS_ENABLE:
            return False
        if campaign.operation_status != STATUS_ENABLE:
            return False
        post = self.post_of(group)
        return post is None or post.active_on(self.today)

    # ---- lookups ----------------------------------------------------------------------

    def ad_of(self, group: AdGroup) -> Ad | None:
        """The ad group's ad (one per ad group), if any."""
        return next((a for a in self.ads.values() if a.adgroup_id == group.adgroup_id), None)

    def post_of(self, group: AdGroup) -> SparkPost | None:
        """The Spark post behind the ad group's ad, or ``None`` for a dark post."""
        ad = self.ad_of(group)
        if ad is None or ad.tiktok_item_id is None:
            return None
        return self.posts[ad.tiktok_item_id]

    def post_by_code(self, auth_code: str) -> SparkPost | None:
        """The post whose current auth code is ``auth_code``."""
        return next((p for p in self.posts.values() if p.auth_code == auth_code), None)

    def adgroup_secondary_status(self, group: AdGroup) -> str:
        """The platform's ``secondary_status`` for an ad group."""
        post = self.post_of(group)
        if group.deleted:
            return "ADGROUP_STATUS_DELETE"
        if group.operation_status == STATUS_FROZEN:
            return "ADGROUP_STATUS_FROZEN"
        if group.operation_status == STATUS_DISABLE:
            return "ADGROUP_STATUS_DISABLE"
        if self.campaigns[group.campaign_id].operation_status != STATUS_ENABLE:
            return "ADGROUP_STATUS_CAMPAIGN_DISABLE"
        if post is not None and not post.active_on(self.today):
            return "ADGROUP_STATUS_ASSET_AUTHORIZATION_LOST"
        return "ADGROUP_STATUS_DELIVERY_OK"

    def ad_secondary_status(self, ad: Ad) -> str:
        """The platform's ``secondary_status`` for an ad."""
        group = self.adgroups[ad.adgroup_id]
        post = None if ad.tiktok_item_id is None else self.posts[ad.tiktok_item_id]
        if group.deleted:
            return "AD_STATUS_DELETE"
        if post is not None and post.status == AUTH_REVOKED:
            return "AD_STATUS_CREATOR_AUTHORIZATION_REVOKED"
        if post is not None and not post.active_on(self.today):
            return "AD_STATUS_ASSET_AUTHORIZATION_LOST"
        if ad.operation_status != STATUS_ENABLE:
            return "AD_STATUS_DISABLE"
        if group.operation_status != STATUS_ENABLE:
            return "AD_STATUS_ADGROUP_DISABLE"
        return "AD_STATUS_DELIVERY_OK"

    # ---- rules and writes -------------------------------------------------------------

    def editable_group(self, adgroup_id: str) -> AdGroup:
        """The ad group, or :class:`RuleViolation` (40002 malformed, 40007 unknown, deleted)."""
        if not adgroup_id.isdigit():
            raise RuleViolation(40002, f"adgroup_id {adgroup_id!r} is not a valid id")
        group = self.adgroups.get(adgroup_id)
        if group is None:
            raise RuleViolation(40007, f"adgroup {adgroup_id} does not exist")
        if group.deleted:
            raise RuleViolation(40002, f"adgroup {adgroup_id} is deleted and cannot be modified")
        return group

    def check_budget(self, adgroup_id: str, budget: object) -> tuple[AdGroup, float]:
        """Validate a daily budget edit; return the ad group and the budget (currency/day)."""
        group = self.editable_group(adgroup_id)
        if isinstance(budget, bool) or not isinstance(budget, int | float):
            raise RuleViolation(40002, f"budget for adgroup {adgroup_id} must be a number")
        value = float(budget)
        if not math.isfinite(value) or abs(value * 100 - round(value * 100)) > 1e-6:
            raise RuleViolation(40002, f"budget {budget} has more than two decimal places")
        campaign = self.campaigns[group.campaign_id]
        if campaign.budget_optimize_on or group.budget_mode == BUDGET_MODE_INFINITE:
            raise RuleViolation(
                40002,
                f"adgroup {adgroup_id} is under campaign budget optimization; "
                "its budget cannot be set",
            )
        if group.budget_mode != BUDGET_MODE_DAY:
            raise RuleViolation(
                40002,
                f"adgroup {adgroup_id} has budget_mode {group.budget_mode}; "
                "only BUDGET_MODE_DAY budgets can be updated here",
            )
        if not value > self.min_daily_budget:
            raise RuleViolation(
                40002,
                f"budget {value:.2f} for adgroup {adgroup_id} is too low: the daily budget "
                f"must be greater than {self.min_daily_budget:.2f} {self.currency}",
            )
        return group, round(value, 2)

    def check_status(self, adgroup_id: str, status: str) -> AdGroup:
        """Validate a status edit (``ENABLE``, ``DISABLE`` or ``DELETE``)."""
        group = self.editable_group(adgroup_id)
        if status == STATUS_ENABLE and group.operation_status == STATUS_FROZEN:
            raise RuleViolation(40002, f"adgroup {adgroup_id} is FROZEN and cannot be enabled")
        return group

    def set_budget(self, group: AdGroup, budget: float, *, request_id: str, endpoint: str) -> None:
        """Apply a validated daily budget and record the edit."""
        before = group.budget
        group.budget = budget
        group.modify_time = self.sim_now()
        self._record(group, "budget", before, budget, request_id, endpoint)

    def set_status(self, group: AdGroup, status: str, *, request_id: str, endpoint: str) -> None:
        """Apply a validated status (``DELETE`` marks the ad group deleted) and record it."""
        before = "DELETE" if group.deleted else group.operation_status
        if status == STATUS_DELETE:
            group.deleted = True
            group.operation_status = STATUS_DISABLE
        else:
            group.operation_status = status
        group.modify_time = self.sim_now()
        self._record(group, "operation_status", before, status, request_id, endpoint)

    def _record(
        self,
        group: AdGroup,
        name: str,
        before: float | str,
        after: float | str,
        request_id: str,
        endpoint: str,
    ) -> None:
        self.edits.append(
            EditRecord(
                seq=len(self.edits) + 1,
                time=self._now().astimezone(UTC).isoformat(timespec="milliseconds"),
                sim_date=self.today.isoformat(),
                adgroup_id=group.adgroup_id,
                field=name,
                from_value=before,
                to_value=after,
                changed=before != after,
                request_id=request_id,
                endpoint=endpoint,
            )
        )

    # ---- authorizations ---------------------------------------------------------------

    def revoke(self, key: str) -> SparkPost:
        """Revoke a post's authorization (by auth code or item id); delivery stops at once."""
        post = self._find_post(key)
        post.status = AUTH_REVOKED
        return post

    def expire(self, key: str) -> SparkPost:
        """Expire a post's authorization now (by auth code or item id)."""
        post = self._find_post(key)
        post.status = AUTH_EXPIRED
        post.auth_end_time = min(post.auth_end_time, self.sim_now())
        return post

    def issue_code(self, item_id: str, days: int, code: str | None = None) -> str:
        """Register a new auth code the creator issued for ``item_id``, valid ``days``.

        Args:
            item_id: the post (or its current auth code).
            days: validity once applied, days.
            code: the code; by default ``sandbox-code-<item_id>-<n>``.
        """
        post = self._find_post(item_id)
        self._issued += 1
        code = code or f"sandbox-code-{post.item_id}-{self._issued}"
        if code in self.pending_codes or self.post_by_code(code) is not None:
            raise RuleViolation(40002, "that auth code is already in use")
        self.pending_codes[code] = (post.item_id, days)
        return code

    def authorize(self, auth_code: str) -> SparkPost:
        """Apply an auth code (``/tt_video/authorize/``): bind or renew its post."""
        if auth_code in self.pending_codes:
            item_id, days = self.pending_codes.pop(auth_code)
            post = self.posts[item_id]
            now = self.sim_now()
            post.auth_code = auth_code
            post.status = AUTH_AUTHORIZED
            post.auth_start_time = now
            post.auth_end_time = now + timedelta(days=days)
            post.bound = True
            return post
        known = self.post_by_code(auth_code)
        if known is not None and known.bound:
            raise RuleViolation(40002, "the auth code has already been applied to this account")
        raise RuleViolation(40002, "the auth code is invalid or has expired")

    def _find_post(self, key: str) -> SparkPost:
        post: SparkPost | None = self.posts.get(key) or self.post_by_code(key)
        if post is None:
            raise RuleViolation(40007, "no post with that auth code or item id")
        return post
