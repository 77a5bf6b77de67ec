"""The :class:`AdPlatform` protocol the rebalancing job and the sandbox share.

A platform lists the ad groups it manages as :class:`~allocator.core.arms.AdGroup`
records, reports daily delivery as :class:`~allocator.core.arms.Observation` rows, and
applies budget and status changes, answering each intended change with exactly one
:class:`ChangeResult` (in the order the changes were given).

Units: budgets are currency per day in the account currency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol, runtime_checkable

from allocator.core.arms import AdGroup, Observation
from allocator.errors import InvalidChangeError, UnsupportedAdGroupError

__all__ = [
    "AdPlatform",
    "BudgetChange",
    "ChangeResult",
    "InvalidChangeError",
    "StatusChange",
    "UnsupportedAdGroupError",
]


@dataclass(frozen=True, slots=True)
class BudgetChange:
    """Set one ad group's daily budget.

    Attributes:
        adgroup_id: platform id of the ad group.
        budget: the new daily budget, currency per day (the client rounds to cents).
    """

    adgroup_id: str
    budget: float


@dataclass(frozen=True, slots=True)
class StatusChange:
    """Enable or disable one ad group.

    Attributes:
        adgroup_id: platform id of the ad group.
        enable: True to enable delivery, False to disable (pause) it.
    """

    adgroup_id: str
    enable: bool


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """The platform's answer to one intended change.

    ``ok`` is True only when the platform confirmed the change, either in its response or,
    after an ambiguous failure, by reading the ad group back. ``error`` says why not
    otherwise (never contains an access token).

    Attributes:
        adgroup_id: the ad group the change was for.
        ok: the change is in effect.
        request_id: the platform's ``request_id`` of the request that decided the outcome.
        error: why the change is not known to be in effect; ``None`` when ``ok``.
    """

    adgroup_id: str
    ok: bool
    request_id: str | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if self.ok and self.error is not None:
            raise ValueError("a successful ChangeResult carries no error")
        if not self.ok and not self.error:
            raise ValueError("a failed ChangeResult must say why in 'error'")


@runtime_checkable
class AdPlatform(Protocol):
    """What the job needs from an ad platform (TikTok, the local sandbox, files)."""

    def list_adgroups(self) -> list[AdGroup]:
        """Every managed ad group with its creative, authorization, budget and status."""
        ...

    def fetch_observations(self, start: date, end: date) -> list[Observation]:
        """Daily delivery per ad group for ``start``..``end`` inclusive (account time zone)."""
        ...

    def update_budgets(self, changes: Sequence[BudgetChange]) -> list[ChangeResult]:
        """Apply daily budgets; one result per change, in order.

        Raises:
            InvalidChangeError: a change breaks the platform's rules; nothing was sent.
        """
        ...

    def update_statuses(self, changes: Sequence[StatusChange]) -> list[ChangeResult]:
        """Enable or disable ad groups; one result per change, in order.

        Raises:
            InvalidChangeError: a change is malformed; nothing was sent.
        """
        ...
