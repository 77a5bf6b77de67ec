"""Settings of the TikTok client: account, base URL, limits, timeouts, retry policies."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import httpx

from allocator.errors import ConfigError
from allocator.platform.tiktok._retry import READ_RETRY, WRITE_RETRY, RetryPolicy

__all__ = [
    "API_PREFIX",
    "BUDGET_BATCH_SIZE",
    "PRODUCTION_BASE_URL",
    "SANDBOX_BASE_URL",
    "STATUS_BATCH_SIZE",
    "BudgetPath",
    "TikTokConfig",
    "ValueMetric",
]

PRODUCTION_BASE_URL = "https://business-api.tiktok.com"
"""TikTok's production host; the client adds :data:`API_PREFIX`."""
SANDBOX_BASE_URL = "https://sandbox-ads.tiktok.com"
"""TikTok's own sandbox host; the local emulator is ``http://127.0.0.1:PORT``."""
API_PREFIX = "/open_api/v1.3/"
"""Path of the Business API v1.3 under a host."""

BUDGET_BATCH_SIZE = 20
"""Ad groups per ``/adgroup/budget/update/`` call. The platform's maximum is not
documented; 20 matches its documented limit for the other batch writes (ad and campaign
status updates take 1-20 ids)."""
STATUS_BATCH_SIZE = 20
"""Ad groups per ``/adgroup/status/update/`` call (limit undocumented; see above)."""
PAGE_SIZE = 1000
"""Rows per page of ``/adgroup/get/``, ``/ad/get/`` and ``/report/integrated/get/`` (max)."""
POST_PAGE_SIZE = 50
"""Rows per page of ``/tt_video/list/`` (1-50)."""
FILTER_IDS_MAX = 100
"""Ids per ``filtering.adgroup_ids`` / ``campaign_ids`` list."""
REPORT_DAYS_MAX = 30
"""Days per report request with the ``stat_time_day`` dimension."""
AUTHORIZE_BATCH_MAX = 20
"""Authorization codes per :meth:`TikTokClient.authorize_posts` call."""


class BudgetPath(StrEnum):
    """How budgets are written."""

    BATCH = "adgroup_budget_update"
    """``POST /adgroup/budget/update/``, up to ``budget_batch_size`` ad groups per call."""
    SINGLE = "adgroup_update"
    """``POST /adgroup/update/``, one ad group per call (the official SDK's path)."""


class ValueMetric(StrEnum):
    """The report metric read as conversion value (currency)."""

    WEBSITE = "total_complete_payment_rate"
    """Total value of website purchases (despite its name, an amount, not a rate)."""
    APP = "total_purchase_value"
    """Total value of in-app purchases."""


def _default_timeout() -> httpx.Timeout:
    return httpx.Timeout(connect=5.0, read=30.0, write=10.0, pool=5.0)


@dataclass(frozen=True, slots=True)
class TikTokConfig:
    """Everything the client needs besides the HTTP client and the token.

    Attributes:
        advertiser_id: the ad account (digits).
        base_url: API host (:data:`PRODUCTION_BASE_URL`, :data:`SANDBOX_BASE_URL`, the
            local emulator ``http://127.0.0.1:PORT``), or a full root ending in
            :data:`API_PREFIX`; see :attr:`api_root`.
        campaign_ids: manage only ad groups of these campaigns (empty: the whole account).
        value_metric: report metric read as conversion value; ``None`` reads no value.
        budget_path: which endpoint writes budgets.
        min_budget: smallest daily budget the platform accepts for an ad group, currency
            per day (TikTok: 20 in USD accounts; set it for other currencies).
        max_budget: largest daily budget the client will send, currency per day (a
            guard against runaway values).
        budget_batch_size: ad groups per budget call (1-100).
        status_batch_size: ad groups per status call (1-100).
        max_sends: times one intended change may be sent after ambiguous failures, each
            resend preceded by a read-back that shows it is not yet in effect.
        skip_unsupported: leave ad groups allocator cannot manage (campaign budget
            optimisation, non-daily budget, not exactly one ad) out of
            :meth:`~TikTokClient.list_adgroups` with a warning naming each, and refuse
            changes to them; False raises :class:`UnsupportedAdGroupError` instead.
        timeout: httpx timeouts, seconds: connect 5, read 30 (reports can be slow),
            write 10, pool 5.
        read_retry: retry policy of reads.
        write_retry: retry policy of writes that provably did not apply.
    """

    advertiser_id: str
    base_url: str = PRODUCTION_BASE_URL
    campaign_ids: tuple[str, ...] = ()
    value_metric: ValueMetric | None = ValueMetric.WEBSITE
    budget_path: BudgetPath = BudgetPath.BATCH
    min_budget: float = 20.01
    max_budget: float = 1_000_000.0
    budget_batch_size: int = BUDGET_BATCH_SIZE
    status_batch_size: int = STATUS_BATCH_SIZE
    max_sends: int = 3
    skip_unsupported: bool = True
    timeout: httpx.Timeout = field(default_factory=_default_timeout)
    read_retry: RetryPolicy = READ_RETRY
    write_retry: RetryPolicy = WRITE_RETRY

    def __post_init__(self) -> None:
        if not self.advertiser_id.isdigit():
            raise ConfigError("advertiser_id must be the account's digits", key="advertiser_id")
        if not self.base_url.startswith(("https://", "http://")):
            raise ConfigError("base_url must be an http(s) URL", key="base_url")
        if any(c.isspace() for c in self.base_url) or "?" in self.base_url:
            raise ConfigError("base_url must be a plain URL", key="base_url")
        if len(self.campaign_ids) > FILTER_IDS_MAX:
            raise ConfigError(f"at most {FILTER_IDS_MAX} campaign ids", key="campaign_ids")
        if not (math.isfinite(self.min_budget) and 0 < self.min_budget <= self.max_budget):
            raise ConfigError("need 0 < min_budget <= max_budget", key="min_budget")
        if not math.isfinite(self.max_budget):
            raise ConfigError("max_budget must be finite", key="max_budget")
        for key in ("budget_batch_size", "status_batch_size"):
            if not 1 <= getattr(self, key) <= FILTER_IDS_MAX:
                raise ConfigError(f"must be within 1..{FILTER_IDS_MAX}", key=key)
        if self.max_sends < 1:
            raise ConfigError("must be >= 1", key="max_sends")

    @property
    def api_root(self) -> str:
        """``base_url`` with :data:`API_PREFIX` appended unless already there."""
        root = self.base_url.rstrip("/")
        if root.endswith(API_PREFIX.rstrip("/")):
            return root + "/"
        return root + API_PREFIX
