"""The ad groups file of the ``files`` platform: read and validate it, write it back.

Columns (the contract in DESIGN.md): ``adgroup_id,kind,creator,concept,post_id,auth_status,
auth_expires_at,budget,status`` plus the optional ``launch_date``, ``last_edit_date``
(``YYYY-MM-DD``), ``stage`` (the engine's stage from its previous run) and ``ad_name`` /
``adgroup_name`` (a short display name; plans fall back to ``creator · concept``). Budgets
are in currency per day.

Conventions: enum cells are case-insensitive; empty ``auth_status`` means ``none``;
``auth_expires_at`` is ISO 8601 (a date or a date-time; without a UTC offset it is UTC, a bare
date is 00:00 UTC that day); a Spark ad needs a post id and an authorization status, a dark
post has neither status nor expiry; columns beyond the contract are ignored with a warning.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from allocator._types import BoolArray, FloatArray
from allocator.core.arms import (
    AdGroup,
    AdGroupStatus,
    Authorization,
    AuthStatus,
    Kind,
    Stage,
)
from allocator.data.plausibility import Plausibility, check_budgets
from allocator.data.table import Checker, Source, number_text, quote_cell, read_table

__all__ = ["ADGROUP_COLUMNS", "ADGROUP_OPTIONAL_COLUMNS", "read_adgroups", "write_adgroups"]

ADGROUP_COLUMNS = (
    "adgroup_id",
    "kind",
    "creator",
    "concept",
    "post_id",
    "auth_status",
    "auth_expires_at",
    "budget",
    "status",
)
ADGROUP_OPTIONAL_COLUMNS = (
    "launch_date",
    "last_edit_date",
    "stage",
    "ad_name",
    "adgroup_name",
)
"""Optional columns; ``adgroup_name`` (else ``ad_name``) gives a short display name."""


@dataclass(frozen=True, slots=True)
class _AdGroupCells:
    """The checked columns of an ad groups file, one entry per data row."""

    ids: pd.Series
    kind: pd.Series
    spark: BoolArray
    creator: pd.Series
    concept: pd.Series
    post: pd.Series
    auth: pd.Series
    expiry: list[datetime | None]
    budget: FloatArray
    status: pd.Series
    launch: list[date | None]
    edited: list[date | None]
    stage: pd.Series
    names: list[str | None]

    def records(self) -> list[AdGroup]:
        """One :class:`AdGroup` per row, in file order (only once every check passed)."""
        columns = (
            self.ids,
            self.kind,
            self.creator,
            self.concept,
            self.budget,
            self.status,
            self.post,
            self.auth,
            self.expiry,
        )
        return [
            AdGroup(
                adgroup_id=str(a),
                kind=Kind(k),
                creator=str(c),
                concept=str(con),
                budget=float(b),
                status=AdGroupStatus(s),
                post_id=str(p) or None,
                authorization=Authorization(AuthStatus(au), e),
                launch_date=lau,
                last_edit_date=ed,
                stage=Stage[st.upper()] if st else None,
                name=nm,
            )
            for (a, k, c, con, b, s, p, au, e), (lau, ed, st, nm) in zip(
                zip(*columns, strict=True),
                zip(self.launch, self.edited, self.stage, self.names, strict=True),
                strict=True,
            )
        ]


def read_adgroups(path: Source, *, bounds: Plausibility | None = None) -> list[AdGroup]:
    """Read and validate an ad groups CSV file.

    Args:
        path: the file, or a data frame with its columns (see :data:`ADGROUP_COLUMNS`,
            :data:`ADGROUP_OPTIONAL_COLUMNS`).
        bounds: plausibility bounds (``max_spend`` caps each budget); default none.

    Returns:
        One :class:`AdGroup` per row, in file order; budgets in currency per day.

    Raises:
        DataError: the first invalid cell in file order, with path, line and column.
    """
    table = read_table(path, ADGROUP_COLUMNS, ADGROUP_OPTIONAL_COLUMNS)
    ck = Checker(table)
    cells = _check_adgroups(ck)
    check_budgets(ck, cells.budget, bounds or Plausibility())
    ck.raise_first()
    ck.warn(
        cells.spark
        & (cells.auth == AuthStatus.ACTIVE).to_numpy()
        & np.array([e is None for e in cells.expiry], dtype=bool),
        "auth_expires_at",
        lambda i: (
            f"Spark ad group {cells.ids.iat[i]!r} has no auth_expires_at; "
            "its authorization is treated as never expiring"
        ),
    )
    return cells.records()


def _check_adgroups(ck: Checker) -> _AdGroupCells:
    """Run every rule on the ad group columns (violations stay recorded in ``ck``)."""
    ids = ck.nonempty("adgroup_id")
    ck.unique(["adgroup_id"], "adgroup_id")
    kind = ck.choice("kind", [k.value for k in Kind], default=None)
    creator = ck.nonempty("creator", " (use the brand's handle for its own posts)")
    spark = (kind == Kind.SPARK).to_numpy()
    post = ck.raw("post_id")
    ck.check(
        spark & (post == "").to_numpy(),
        "post_id",
        lambda i: "is empty; a Spark ad needs its post id",
    )
    auth, expiry = _authorization_columns(ck, spark, (kind == Kind.DARK).to_numpy())
    budget = ck.numbers("budget")
    status = ck.choice("status", [s.value for s in AdGroupStatus], default=None)
    launch, edited = ck.optional_dates("launch_date"), ck.optional_dates("last_edit_date")
    stage = ck.choice("stage", [s.label for s in Stage], default="", optional=True)
    return _AdGroupCells(
        ids=ids,
        kind=kind,
        spark=spark,
        creator=creator,
        concept=ck.raw("concept"),
        post=post,
        auth=auth,
        expiry=expiry,
        budget=budget,
        status=status,
        launch=launch,
        edited=edited,
        stage=stage,
        names=_names(ck),
    )


def _names(ck: Checker) -> list[str | None]:
    """Each row's display name: ``adgroup_name``, else ``ad_name``, else ``None``."""
    frame = ck.table.frame
    empty = pd.Series([""] * len(frame), index=frame.index, dtype=object)
    ad = frame["ad_name"] if "ad_name" in frame.columns else empty
    group = frame["adgroup_name"] if "adgroup_name" in frame.columns else empty
    return [g or a or None for a, g in zip(ad, group, strict=True)]


def _authorization_columns(
    ck: Checker, spark: BoolArray, dark: BoolArray
) -> tuple[pd.Series, list[datetime | None]]:
    """Check ``auth_status`` and ``auth_expires_at`` against the kind; parse the expiry."""
    auth = ck.choice("auth_status", [a.value for a in AuthStatus], default=AuthStatus.NONE.value)
    no_auth = (auth == AuthStatus.NONE).to_numpy()
    ck.check(
        spark & no_auth,
        "auth_status",
        lambda i: (
            "a Spark ad needs an authorization status (active, expired, revoked or "
            "deleted), not none"
        ),
    )
    ck.check(
        dark & ~no_auth,
        "auth_status",
        lambda i: "dark posts have no authorization; leave it empty or write none",
    )
    raw = ck.raw("auth_expires_at")
    expires = pd.to_datetime(raw, format="ISO8601", utc=True, errors="coerce")
    given = (raw != "").to_numpy()
    ck.check(
        given & expires.isna().to_numpy(),
        "auth_expires_at",
        lambda i: f"{quote_cell(raw.iat[i])} is not an ISO 8601 date or date-time",
    )
    ck.check(
        dark & given,
        "auth_expires_at",
        lambda i: "dark posts have no authorization expiry; leave it empty",
    )
    return auth, [None if pd.isna(t) else t.to_pydatetime() for t in expires]


def _date_text(day: date | None) -> str:
    return "" if day is None else day.isoformat()


def write_adgroups(adgroups: Iterable[AdGroup], path: str | Path) -> None:
    """Write ad groups as a CSV file that :func:`read_adgroups` reads back unchanged."""
    rows = [
        {
            "adgroup_id": ag.adgroup_id,
            "kind": ag.kind.value,
            "creator": ag.creator,
            "concept": ag.concept,
            "post_id": ag.post_id or "",
            "auth_status": ag.authorization.status.value,
            "auth_expires_at": (
                ""
                if ag.authorization.expires_at is None
                else ag.authorization.expires_at.astimezone(UTC).isoformat()
            ),
            "budget": number_text(ag.budget),
            "status": ag.status.value,
            "launch_date": _date_text(ag.launch_date),
            "last_edit_date": _date_text(ag.last_edit_date),
            "stage": "" if ag.stage is None else ag.stage.label,
            "ad_name": "",
            "adgroup_name": ag.name or "",
        }
        for ag in adgroups
    ]
    columns = [*ADGROUP_COLUMNS, *ADGROUP_OPTIONAL_COLUMNS]
    pd.DataFrame(rows, columns=columns, dtype=str).to_csv(path, index=False)
