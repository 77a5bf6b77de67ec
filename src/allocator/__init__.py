"""allocator: Thompson-sampling budget allocation and creative testing for TikTok ads."""

from __future__ import annotations

from allocator.core.arms import (
    AdGroup,
    AdGroupStatus,
    ArmState,
    Authorization,
    AuthStatus,
    History,
    Kind,
    Objective,
    Observation,
    Portfolio,
    Stage,
)
from allocator.errors import (
    AllocatorError,
    ApiError,
    ConfigError,
    DataError,
)

__version__ = "0.1.0"

__all__ = [
    "AdGroup",
    "AdGroupStatus",
    "AllocatorError",
    "ApiError",
    "ArmState",
    "AuthStatus",
    "Authorization",
    "ConfigError",
    "DataError",
    "History",
    "Kind",
    "Objective",
    "Observation",
    "Portfolio",
    "Stage",
    "__version__",
]
