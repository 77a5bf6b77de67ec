"""Ad platforms: the :class:`AdPlatform` protocol and its implementations.

``allocator.platform.tiktok`` holds the TikTok Marketing API client; it is imported on
demand so that using the protocol does not pull in ``httpx``.
"""

from __future__ import annotations

from allocator.platform.base import (
    AdPlatform,
    BudgetChange,
    ChangeResult,
    InvalidChangeError,
    StatusChange,
    UnsupportedAdGroupError,
)

__all__ = [
    "AdPlatform",
    "BudgetChange",
    "ChangeResult",
    "InvalidChangeError",
    "StatusChange",
    "UnsupportedAdGroupError",
]
