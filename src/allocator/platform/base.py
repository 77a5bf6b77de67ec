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
from allocator.errors import AllocatorError, ConfigError

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


class UnsupportedAdGroupError(ConfigError):
    """Ad groups allocator refuses to manage; fix the account or narrow the scope.

    Reasons: campaign budget optimisation, a non-daily budget mode, not exactly one ad,
    an unknown identity type.

    Attributes:
        adgroup_ids: the offending ad groups, in platform order.
        reasons: one reason per id, same order.
    """

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.adgroup_ids = tuple(adgroup_id for adgroup_id, _ in problems)
        self.reasons = tuple(reason for _, reason in problems)
        listed = "; ".join(f"ad group {gid}: {why}" for gid, why in problems)
        super().__init__(f"cannot manage {len(problems)} ad group(s): {listed}")


class InvalidChangeError(AllocatorError):
    """A requested change breaks the platform's rules; nothing was sent.

    Attributes:
        adgroup_id: the ad group the change was for, when there is one.
        reason: what is wrong.
    """

    def __init__(self, reason: str, *, adgroup_id: str | None = None) -> None:
        self.adgroup_id = adgroup_id
        self.reason = reason
        super().__init__(f"ad group {adgroup_id}: {reason}" if adgroup_id else reason)
