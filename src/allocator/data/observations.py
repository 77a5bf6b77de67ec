"""The observations file of the ``files`` platform: read and validate it, write it back.

Columns (the contract in DESIGN.md): ``date,adgroup_id,spend,impressions,clicks,conversions``
plus the optional ``value`` (conversion value, currency); one row per ad group and day, with
spend in currency. :func:`load_files` reads the ad groups file and this file together, so
that every observation names a known ad group.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from allocator._types import FloatArray
from allocator.core.arms import AdGroup, Observation
from allocator.data.adgroups import read_adgroups
from allocator.data.plausibility import (
    Plausibility,
    check_observation_rows,
    require_value_column,
)
from allocator.data.table import Checker, Source, number_text, quote_cell, read_table

__all__ = [
    "OBSERVATION_COLUMNS",
    "OBSERVATION_OPTIONAL_COLUMNS",
    "load_files",
    "read_observations",
    "write_observations",
]

OBSERVATION_COLUMNS = ("date", "adgroup_id", "spend", "impressions", "clicks", "conversions")
OBSERVATION_OPTIONAL_COLUMNS = ("value",)


@dataclass(frozen=True, slots=True)
class _ObservationCells:
    """The checked columns of an observations file, one entry per data row."""

    day: np.ndarray
    ids: pd.Series
    spend: FloatArray
    impressions: FloatArray
    clicks: FloatArray
    conversions: FloatArray
    value: FloatArray

    def records(self) -> list[Observation]:
        """One :class:`Observation` per row, in file order (only once every check passed)."""
        days: list[date] = self.day.astype(object).tolist()
        values = [None if np.isnan(v) else float(v) for v in self.value]
        return [
            Observation(
                date=d,
                adgroup_id=str(a),
                spend=float(s),
                impressions=int(im),
                clicks=int(cl),
                conversions=float(cv),
                value=v,
            )
            for d, a, s, im, cl, cv, v in zip(
                days,
                self.ids,
                self.spend,
                self.impressions,
                self.clicks,
                self.conversions,
                values,
                strict=True,
            )
        ]


def read_observations(
    path: Source,
    *,
    today: date,
    known_ids: Collection[str] | None = None,
    bounds: Plausibility | None = None,
) -> list[Observation]:
    """Read and validate a daily observations CSV file.

    Args:
        path: the file, or a data frame with its columns (see :data:`OBSERVATION_COLUMNS`;
            optional ``value``).
        today: the real current date in the account time zone; later rows are an error.
        known_ids: the ad group ids of the account; rows for other ids are an error
            (``None`` skips that check).
        bounds: plausibility bounds (default: only the ones that always hold:
            conversions within impressions, every number below ``MAX_CELL``).

    Returns:
        One :class:`Observation` per row, in file order (spend and value in currency).

    Raises:
        DataError: the first invalid cell in file order, with path, line and column.
    """
    table = read_table(path, OBSERVATION_COLUMNS, OBSERVATION_OPTIONAL_COLUMNS)
    ck = Checker(table)
    bounds = bounds or Plausibility()
    require_value_column(ck, bounds)
    c = _check_observations(ck, today, known_ids)
    cells = (c.spend, c.impressions, c.clicks, c.conversions)
    check_observation_rows(ck, cells, bounds)
    ck.raise_first()
    ck.warn(
        (c.spend > 0) & (c.impressions == 0),
        "impressions",
        lambda i: f"spend {c.spend[i]:.2f} with 0 impressions for ad group {c.ids.iat[i]!r}",
    )
    ck.warn(
        c.clicks > c.impressions,
        "clicks",
        lambda i: (
            f"{c.clicks[i]:.0f} clicks above {c.impressions[i]:.0f} impressions "
            f"for ad group {c.ids.iat[i]!r}"
        ),
    )
    ck.warn(
        c.conversions > c.clicks,
        "conversions",
        lambda i: (
            f"{c.conversions[i]:g} conversions above {c.clicks[i]:.0f} clicks "
            f"for ad group {c.ids.iat[i]!r} (view-through attribution?)"
        ),
    )
    return c.records()


def _check_observations(
    ck: Checker, today: date, known_ids: Collection[str] | None
) -> _ObservationCells:
    """Run every rule on the observation columns (violations stay recorded in ``ck``)."""
    day = ck.dates("date", required=True)
    ck.check(
        day > np.datetime64(today, "D"),
        "date",
        lambda i: f"{day[i]} is after today ({today}); observations cannot be from the future",
    )
    ids = ck.nonempty("adgroup_id")
    if known_ids is not None:
        unknown = ~ids.isin(list(known_ids)).to_numpy() & (ids != "").to_numpy()
        ck.check(
            unknown,
            "adgroup_id",
            lambda i: f"unknown ad group {quote_cell(ids.iat[i])} (not in the ad groups file)",
        )
    ck.unique(["date", "adgroup_id"], "(date, adgroup_id)")
    has_value = "value" in ck.table.frame.columns
    return _ObservationCells(
        day=day,
        ids=ids,
        spend=ck.numbers("spend"),
        impressions=ck.numbers("impressions", integer=True),
        clicks=ck.numbers("clicks", integer=True),
        conversions=ck.numbers("conversions"),
        value=ck.numbers("value", required=False) if has_value else np.full(len(ids), np.nan),
    )


def load_files(
    adgroups_path: Source,
    observations_path: Source,
    *,
    today: date,
    bounds: Plausibility | None = None,
) -> tuple[list[AdGroup], list[Observation]]:
    """Read both files of the ``files`` platform; observations must name known ad groups.

    Args:
        adgroups_path: the ad groups CSV file (or a data frame with its columns).
        observations_path: the observations CSV file (or a data frame with its columns).
        today: the real current date in the account time zone.
        bounds: plausibility bounds of both files (see :class:`Plausibility`).

    Returns:
        ``(adgroups, observations)`` in file order.

    Raises:
        DataError: the first invalid cell (the ad groups file is checked first).
    """
    adgroups = read_adgroups(adgroups_path, bounds=bounds)
    known = {ag.adgroup_id for ag in adgroups}
    rows = read_observations(observations_path, today=today, known_ids=known, bounds=bounds)
    return adgroups, rows


def write_observations(observations: Iterable[Observation], path: str | Path) -> None:
    """Write observations as a CSV file that :func:`read_observations` reads back unchanged."""
    rows = [
        {
            "date": o.date.isoformat(),
            "adgroup_id": o.adgroup_id,
            "spend": number_text(o.spend),
            "impressions": str(int(o.impressions)),
            "clicks": str(int(o.clicks)),
            "conversions": number_text(o.conversions),
            "value": "" if o.value is None else number_text(o.value),
        }
        for o in observations
    ]
    columns = [*OBSERVATION_COLUMNS, *OBSERVATION_OPTIONAL_COLUMNS]
    pd.DataFrame(rows, columns=columns, dtype=str).to_csv(path, index=False)
