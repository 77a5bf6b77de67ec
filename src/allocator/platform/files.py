"""The ``files`` platform: an account exported as two CSV files, read-only.

:class:`FileAdPlatform` is an :class:`~allocator.platform.base.AdPlatform` over validated
records: the ad groups and the daily observations of the contract in DESIGN.md, read with
:func:`~allocator.data.observations.load_files` (or given as records). It answers reads
from those records and refuses every write with
:class:`~allocator.errors.InvalidChangeError`: a plan made from files is shown, never
applied. Budgets are currency per day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from allocator.core.arms import AdGroup, Observation
from allocator.errors import InvalidChangeError
from allocator.platform.base import BudgetChange, ChangeResult, StatusChange

if TYPE_CHECKING:
    from allocator.data.plausibility import Plausibility
    from allocator.data.table import Source

__all__ = ["FileAdPlatform"]

_READ_ONLY = "the 'files' platform is read-only: plans made from files are never applied"


@dataclass(frozen=True, slots=True)
class FileAdPlatform:
    """A read-only platform over an account's exported records.

    Attributes:
        adgroups: the account's ad groups, in file order.
        observations: their daily observations, in file order.
    """

    adgroups: tuple[AdGroup, ...]
    observations: tuple[Observation, ...]

    @classmethod
    def from_files(
        cls,
        adgroups: Source,
        observations: Source,
        *,
        today: date,
        bounds: Plausibility | None = None,
    ) -> FileAdPlatform:
        """Read and validate both CSV files or data frames (rows after ``today`` are an error).

        ``bounds`` are the account's plausibility bounds (default: the ones always held).

        Raises:
            DataError: the first invalid cell, naming file, line and column.
        """
        from allocator.data.observations import load_files

        groups, rows = load_files(adgroups, observations, today=today, bounds=bounds)
        return cls(tuple(groups), tuple(rows))

    def list_adgroups(self) -> list[AdGroup]:
        """Every ad group of the export."""
        return list(self.adgroups)

    def fetch_observations(self, start: date, end: date) -> list[Observation]:
        """The exported rows dated ``start``..``end`` inclusive, in file order."""
        return [o for o in self.observations if start <= o.date <= end]

    def update_budgets(self, changes: Sequence[BudgetChange]) -> list[ChangeResult]:
        """Refused: the export cannot be written.

        Raises:
            InvalidChangeError: always; nothing is sent.
        """
        raise InvalidChangeError(_READ_ONLY, adgroup_id=_first_id(changes))

    def update_statuses(self, changes: Sequence[StatusChange]) -> list[ChangeResult]:
        """Refused: the export cannot be written.

        Raises:
            InvalidChangeError: always; nothing is sent.
        """
        raise InvalidChangeError(_READ_ONLY, adgroup_id=_first_id(changes))


def _first_id(changes: Sequence[BudgetChange] | Sequence[StatusChange]) -> str | None:
    return changes[0].adgroup_id if changes else None
