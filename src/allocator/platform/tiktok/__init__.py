"""TikTok Marketing API (Business API v1.3) client.

Pieces: ``_secret`` (the masked token), ``_retry`` (policy and tenacity wiring),
``_transport`` (HTTP, envelope, the one place ``httpx`` errors are mapped), ``_records``
(typed API records, tolerant parsing), ``_reads`` (paginated GETs, reports),
``_writes`` (validated, at-most-once POSTs), ``client`` (the :class:`TikTokClient`).
"""

from __future__ import annotations

from allocator.platform.tiktok._config import (
    API_PREFIX,
    BUDGET_BATCH_SIZE,
    PRODUCTION_BASE_URL,
    SANDBOX_BASE_URL,
    STATUS_BATCH_SIZE,
    BudgetPath,
    TikTokConfig,
    ValueMetric,
)
from allocator.platform.tiktok._reads import ReportLevel, ReportRow, date_windows
from allocator.platform.tiktok._records import AdGroupInfo, AdInfo, AuthorizedPost, to_cents
from allocator.platform.tiktok._retry import READ_RETRY, WRITE_RETRY, RetryPolicy
from allocator.platform.tiktok._secret import DEFAULT_TOKEN_ENV, Secret, load_token
from allocator.platform.tiktok._transport import error_for_code
from allocator.platform.tiktok.client import AuthorizeResult, TikTokClient

__all__ = [
    "API_PREFIX",
    "BUDGET_BATCH_SIZE",
    "DEFAULT_TOKEN_ENV",
    "PRODUCTION_BASE_URL",
    "READ_RETRY",
    "SANDBOX_BASE_URL",
    "STATUS_BATCH_SIZE",
    "WRITE_RETRY",
    "AdGroupInfo",
    "AdInfo",
    "AuthorizeResult",
    "AuthorizedPost",
    "BudgetPath",
    "ReportLevel",
    "ReportRow",
    "RetryPolicy",
    "Secret",
    "TikTokClient",
    "TikTokConfig",
    "ValueMetric",
    "date_windows",
    "error_for_code",
    "load_token",
    "to_cents",
]
