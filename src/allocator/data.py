"""Input files of the ``files`` platform: read, validate, and turn into core arrays.

Two CSV files describe an account (the contract in DESIGN.md):

* ad groups: ``adgroup_id,kind,creator,concept,post_id,auth_status,auth_expires_at,budget,
  status`` plus the optional ``launch_date``, ``last_edit_date`` (``YYYY-MM-DD``) and
  ``stage`` (the engine's stage from its previous run);
* observations: ``date,adgroup_id,spend,impressions,clicks,conversions`` plus the optional
  ``value`` (conversion value, currency).

Validation is vectorized with pandas: every rule yields a boolean mask over the rows and the
first failing cell in file order (line, then column) becomes one :class:`DataError` naming
file, 1-based line (the header is line 1) and column. Nothing partial is returned on error.
Suspicious but legal rows (spend with zero impressions, conversions above clicks) give one
:class:`DataWarning` per rule, naming the first such line and how many rows match.

Conventions: enum cells are case-insensitive; empty ``auth_status`` means ``none``;
``auth_expires_at`` is ISO 8601 (a date or a date-time; without a UTC offset it is UTC, a bare
date is 00:00 UTC that day); columns beyond the contract are ignored with a warning.
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core.arms import (
    AdGroup,
    AdGroupStatus,
    ArmState,
    Authorization,
    AuthStatus,
    History,
    Kind,
    Observation,
    Stage,
)
from allocator.errors import DataError

__all__ = [
    "ADGROUP_COLUMNS",
    "ADGROUP_OPTIONAL_COLUMNS",
    "OBSERVATION_COLUMNS",
    "OBSERVATION_OPTIONAL_COLUMNS",
    "DataWarning",
    "EngineInputs",
    "load_files",
    "read_adgroups",
    "read_observations",
    "to_arrays",
    "write_adgroups",
    "write_observations",
]

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
ADGROUP_OPTIONAL_COLUMNS = ("launch_date", "last_edit_date", "stage")
OBSERVATION_COLUMNS = ("date", "adgroup_id", "spend", "impressions", "clicks", "conversions")
OBSERVATION_OPTIONAL_COLUMNS = ("value",)

_DATE_RE = r"\d{4}-\d{2}-\d{2}"
_PARSER_LINE_RE = re.compile(r"line (\d+)")


class DataWarning(UserWarning):
    """Suspicious but legal input data (the run continues).

    Attributes:
        path: the file, when the data came from one.
        line: 1-based line of the first matching row (header = line 1), when known.
        column: the column concerned, when one is.
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
        self.column = column


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class _Table:
    """A CSV file as stripped string cells, with the physical line of each row."""

    path: Path
    frame: pd.DataFrame
    lines: IntArray


def _read_table(path: Path, required: Sequence[str], optional: Sequence[str]) -> _Table:
    """Read ``path`` as strings; check the header; drop blank lines; keep line numbers."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), None)
            handle.seek(0)
            frame = pd.read_csv(
                handle,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
            )
    except FileNotFoundError as exc:
        raise DataError("file not found", path=path) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason})", path=path) from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError("file is empty; a header line is required", path=path) from exc
    except pd.errors.ParserError as exc:
        match = _PARSER_LINE_RE.search(str(exc))
        line = int(match.group(1)) if match else None
        raise DataError("row has more fields than the header", path=path, line=line) from exc
    names = [name.strip() for name in (header or [])]
    for position, name in enumerate(names):
        if name in names[:position]:
            raise DataError("column appears twice in the header", path=path, line=1, column=name)
    missing = [name for name in required if name not in names]
    if missing:
        raise DataError("required column is missing", path=path, line=1, column=missing[0])
    unused = [name for name in names if name not in (*required, *optional)]
    if unused:
        warnings.warn(
            DataWarning(f"{path}: columns {unused} are not used and were ignored", path=path),
            stacklevel=3,
        )
    frame.columns = pd.Index(names)
    frame = frame.apply(lambda col: col.str.strip())
    # Physical line of each record: header is line 1; quoted cells may span lines.
    newlines = frame.apply(lambda col: col.str.count("\n")).sum(axis=1).to_numpy(np.int64)
    lines = (
        2 + np.arange(len(frame), dtype=np.int64) + np.concatenate(([0], np.cumsum(newlines)))[:-1]
    )
    blank = (frame == "").all(axis=1).to_numpy()
    return _Table(path, frame.loc[~blank].reset_index(drop=True), lines[~blank])


def _cell(cell: object) -> str:
    """A cell for an error message: quoted and shortened."""
    text = str(cell)
    return repr(text if len(text) <= 40 else text[:37] + "...")


class _Checker:
    """Collects vectorized rule violations; raises the first in file order."""

    def __init__(self, table: _Table) -> None:
        self.table = table
        self.order = {name: i for i, name in enumerate(table.frame.columns)}
        self.first: tuple[int, int, str, Callable[[int], str]] | None = None

    def check(self, mask: BoolArray | pd.Series, column: str, reason: Callable[[int], str]) -> None:
        """Record that rows where ``mask`` holds violate a rule on ``column``."""
        hits = np.flatnonzero(np.asarray(mask, dtype=bool))
        if hits.size == 0:
            return
        candidate = (int(hits[0]), self.order.get(column, -1), column, reason)
        if self.first is None or candidate[:2] < self.first[:2]:
            self.first = candidate

    def raise_first(self) -> None:
        """Raise :class:`DataError` for the earliest violation, if any."""
        if self.first is not None:
            row, _, column, reason = self.first
            line = int(self.table.lines[row])
            raise DataError(reason(row), path=self.table.path, line=line, column=column)

    def warn(self, mask: BoolArray, column: str, what: Callable[[int], str]) -> None:
        """One :class:`DataWarning` naming the first row where ``mask`` holds."""
        hits = np.flatnonzero(mask)
        if hits.size:
            line = int(self.table.lines[hits[0]])
            more = f" ({hits.size} rows like this)" if hits.size > 1 else ""
            message = f"{self.table.path}, line {line}: {what(int(hits[0]))}{more}"
            warnings.warn(
                DataWarning(message, path=self.table.path, line=line, column=column),
                stacklevel=3,
            )

    def raw(self, column: str) -> pd.Series:
        """The stripped string cells of ``column``."""
        return self.table.frame[column]

    def nonempty(self, column: str, hint: str = "") -> pd.Series:
        """The cells of a column where every row needs a value."""
        raw = self.raw(column)
        self.check((raw == "").to_numpy(), column, lambda i: f"is empty{hint}")
        return raw

    def optional_dates(self, column: str) -> list[date | None]:
        """An optional ``YYYY-MM-DD`` column (absent or empty cells are ``None``)."""
        if column not in self.table.frame.columns:
            return [None] * len(self.table.frame)
        return [
            None if np.isnat(v) else v.astype(object) for v in self.dates(column, required=False)
        ]

    def numbers(self, column: str, *, integer: bool = False, required: bool = True) -> FloatArray:
        """Parse a numeric column: finite, >= 0, whole if ``integer``; NaN where empty."""
        raw = self.raw(column)
        values = pd.to_numeric(raw, errors="coerce").to_numpy(np.float64)
        empty = (raw == "").to_numpy()
        finite = np.isfinite(values)
        if required:
            self.check(empty, column, lambda i: "is empty; a number is required")

        def not_finite(i: int) -> str:
            text = str(raw.iat[i])
            kind = "a finite number" if _is_float(text) else "a number"
            return f"{_cell(text)} is not {kind}"

        self.check(~empty & ~finite, column, not_finite)
        self.check(finite & (values < 0), column, lambda i: f"{_cell(raw.iat[i])} is negative")
        if integer:
            whole = finite & (values == np.floor(values))
            self.check(
                finite & ~whole, column, lambda i: f"{_cell(raw.iat[i])} is not a whole number"
            )
        return values

    def dates(self, column: str, *, required: bool) -> np.ndarray:
        """Parse ``YYYY-MM-DD`` cells into ``datetime64[D]`` (NaT where empty)."""
        raw = self.raw(column)
        empty = (raw == "").to_numpy()
        shaped = raw.str.fullmatch(_DATE_RE).to_numpy(dtype=bool)
        parsed = pd.to_datetime(raw.where(shaped, ""), format="%Y-%m-%d", errors="coerce")
        values = parsed.to_numpy(dtype="datetime64[D]")
        if required:
            self.check(empty, column, lambda i: "is empty; a date YYYY-MM-DD is required")
        self.check(
            ~empty & np.isnat(values),
            column,
            lambda i: f"{_cell(raw.iat[i])} is not a date (expected YYYY-MM-DD)",
        )
        return values

    def choice(
        self, column: str, allowed: Iterable[str], *, default: str | None, optional: bool = False
    ) -> pd.Series:
        """Lower-cased enum cells; empty cells become ``default`` (or are an error).

        An ``optional`` column may be absent from the file: every row is then ``default``.
        """
        options = list(allowed)
        if optional and column not in self.table.frame.columns:
            return pd.Series([default] * len(self.table.frame), dtype=object)
        raw = self.raw(column)
        values = raw.str.lower()
        empty = (raw == "").to_numpy()
        if default is None:
            self.check(empty, column, lambda i: f"is empty; expected one of {', '.join(options)}")
        else:
            values = values.where(~empty, default)
        unknown = ~values.isin(options).to_numpy() & ~empty
        self.check(
            unknown,
            column,
            lambda i: (
                f"unknown {column} {_cell(raw.iat[i])} (expected one of {', '.join(options)})"
            ),
        )
        return values

    def unique(self, columns: list[str], what: str) -> None:
        """Rows repeating an earlier row's ``columns`` are an error naming the earlier line."""
        frame = self.table.frame[columns]
        dup = frame.duplicated(keep="first").to_numpy()

        def reason(i: int) -> str:
            same = (frame == frame.iloc[i]).all(axis=1).to_numpy()
            first = int(self.table.lines[np.flatnonzero(same)[0]])
            return f"duplicate {what} (first on line {first})"

        self.check(dup, columns[-1], reason)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_adgroups(path: str | Path) -> list[AdGroup]:
    """Read and validate an ad groups CSV file.

    Args:
        path: the file (columns: see :data:`ADGROUP_COLUMNS`, :data:`ADGROUP_OPTIONAL_COLUMNS`).

    Returns:
        One :class:`AdGroup` per row, in file order; budgets in currency per day.

    Raises:
        DataError: the first invalid cell in file order, with path, line and column.
    """
    table = _read_table(Path(path), ADGROUP_COLUMNS, ADGROUP_OPTIONAL_COLUMNS)
    ck = _Checker(table)
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
    ck.raise_first()
    ck.warn(
        spark
        & (auth == AuthStatus.ACTIVE).to_numpy()
        & np.array([e is None for e in expiry], dtype=bool),
        "auth_expires_at",
        lambda i: (
            f"Spark ad group {ids.iat[i]!r} has no auth_expires_at; "
            "its authorization is treated as never expiring"
        ),
    )
    columns = (ids, kind, creator, ck.raw("concept"), budget, status, post, auth, expiry)
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
        )
        for (a, k, c, con, b, s, p, au, e), lau, ed, st in zip(
            zip(*columns, strict=True), launch, edited, stage, strict=True
        )
    ]


def _authorization_columns(
    ck: _Checker, spark: BoolArray, dark: BoolArray
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
        lambda i: f"{_cell(raw.iat[i])} is not an ISO 8601 date or date-time",
    )
    ck.check(
        dark & given,
        "auth_expires_at",
        lambda i: "dark posts have no authorization expiry; leave it empty",
    )
    return auth, [None if pd.isna(t) else t.to_pydatetime() for t in expires]


def read_observations(
    path: str | Path, *, today: date, known_ids: Collection[str] | None = None
) -> list[Observation]:
    """Read and validate a daily observations CSV file.

    Args:
        path: the file (columns: see :data:`OBSERVATION_COLUMNS`; optional ``value``).
        today: the real current date in the account time zone; later rows are an error.
        known_ids: the ad group ids of the account; rows for other ids are an error
            (``None`` skips that check).

    Returns:
        One :class:`Observation` per row, in file order (spend and value in currency).

    Raises:
        DataError: the first invalid cell in file order, with path, line and column.
    """
    table = _read_table(Path(path), OBSERVATION_COLUMNS, OBSERVATION_OPTIONAL_COLUMNS)
    ck = _Checker(table)
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
            lambda i: f"unknown ad group {_cell(ids.iat[i])} (not in the ad groups file)",
        )
    ck.unique(["date", "adgroup_id"], "(date, adgroup_id)")
    spend = ck.numbers("spend")
    impressions = ck.numbers("impressions", integer=True)
    clicks = ck.numbers("clicks", integer=True)
    conversions = ck.numbers("conversions")
    has_value = "value" in table.frame.columns
    value = ck.numbers("value", required=False) if has_value else np.full(len(ids), np.nan)
    ck.raise_first()
    ck.warn(
        (spend > 0) & (impressions == 0),
        "impressions",
        lambda i: f"spend {spend[i]:.2f} with 0 impressions for ad group {ids.iat[i]!r}",
    )
    ck.warn(
        clicks > impressions,
        "clicks",
        lambda i: (
            f"{clicks[i]:.0f} clicks above {impressions[i]:.0f} impressions "
            f"for ad group {ids.iat[i]!r}"
        ),
    )
    ck.warn(
        conversions > clicks,
        "conversions",
        lambda i: (
            f"{conversions[i]:g} conversions above {clicks[i]:.0f} clicks "
            f"for ad group {ids.iat[i]!r} (view-through attribution?)"
        ),
    )
    days: list[date] = day.astype(object).tolist()
    values = [None if np.isnan(v) else float(v) for v in value]
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
            days, ids, spend, impressions, clicks, conversions, values, strict=True
        )
    ]


def load_files(
    adgroups_path: str | Path, observations_path: str | Path, *, today: date
) -> tuple[list[AdGroup], list[Observation]]:
    """Read both files of the ``files`` platform; observations must name known ad groups.

    Args:
        adgroups_path: the ad groups CSV file.
        observations_path: the observations CSV file.
        today: the real current date in the account time zone.

    Returns:
        ``(adgroups, observations)`` in file order.

    Raises:
        DataError: the first invalid cell (the ad groups file is checked first).
    """
    adgroups = read_adgroups(adgroups_path)
    known = {ag.adgroup_id for ag in adgroups}
    return adgroups, read_observations(observations_path, today=today, known_ids=known)


# --------------------------------------------------------------------------- writing


def _date_text(day: date | None) -> str:
    return "" if day is None else day.isoformat()


def _number_text(x: float) -> str:
    """Shortest text that reads back as exactly ``x`` (whole numbers without ``.0``)."""
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 2**53 else repr(x)


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
            "budget": _number_text(ag.budget),
            "status": ag.status.value,
            "launch_date": _date_text(ag.launch_date),
            "last_edit_date": _date_text(ag.last_edit_date),
            "stage": "" if ag.stage is None else ag.stage.label,
        }
        for ag in adgroups
    ]
    columns = [*ADGROUP_COLUMNS, *ADGROUP_OPTIONAL_COLUMNS]
    pd.DataFrame(rows, columns=columns, dtype=str).to_csv(path, index=False)


def write_observations(observations: Iterable[Observation], path: str | Path) -> None:
    """Write observations as a CSV file that :func:`read_observations` reads back unchanged."""
    rows = [
        {
            "date": o.date.isoformat(),
            "adgroup_id": o.adgroup_id,
            "spend": _number_text(o.spend),
            "impressions": str(int(o.impressions)),
            "clicks": str(int(o.clicks)),
            "conversions": _number_text(o.conversions),
            "value": "" if o.value is None else _number_text(o.value),
        }
        for o in observations
    ]
    columns = [*OBSERVATION_COLUMNS, *OBSERVATION_OPTIONAL_COLUMNS]
    pd.DataFrame(rows, columns=columns, dtype=str).to_csv(path, index=False)


# --------------------------------------------------------------------------- arrays


@dataclass(frozen=True, slots=True)
class EngineInputs:
    """The core arrays for one planning date, with the labels to map results back.

    Attributes:
        arms: per-arm state, arrays of shape ``(K,)``, in ad group order.
        history: daily observations, arrays of shape ``(K, D)``; columns run oldest first,
            so ``history.age_days`` is ``[D, D-1, ..., 1]`` (1 = the day before ``as_of``).
        adgroup_ids: ``K`` ad group ids; index ``k`` is arm ``k``.
        creators: creator names; ``arms.creator == c`` means ``creators[c]``.
        dates: ``D`` calendar dates of the history columns (``as_of - age_days``).
        as_of: the planning date.
    """

    arms: ArmState
    history: History
    adgroup_ids: tuple[str, ...]
    creators: tuple[str, ...]
    dates: tuple[date, ...]
    as_of: date


def _check_objects(
    adgroups: Sequence[AdGroup], observations: Sequence[Observation], today: date
) -> dict[str, int]:
    """Index ad groups by id; reject duplicates, unknown ids and future rows."""
    index: dict[str, int] = {}
    for k, ag in enumerate(adgroups):
        if ag.adgroup_id in index:
            raise DataError(f"duplicate ad group {ag.adgroup_id!r}", column="adgroup_id")
        index[ag.adgroup_id] = k
    seen: set[tuple[date, str]] = set()
    for o in observations:
        if o.adgroup_id not in index:
            raise DataError(
                f"observation for unknown ad group {o.adgroup_id!r}", column="adgroup_id"
            )
        if o.date > today:
            raise DataError(f"observation dated {o.date} is after today ({today})", column="date")
        key = (o.date, o.adgroup_id)
        if key in seen:
            raise DataError(
                f"duplicate observation for {o.adgroup_id!r} on {o.date}", column="date"
            )
        seen.add(key)
    return index


def _arm_state(
    adgroups: Sequence[AdGroup], first_delivery: FloatArray, as_of: date, timezone: str
) -> tuple[ArmState, tuple[str, ...]]:
    """Per-arm arrays ``(K,)`` as of ``as_of`` 00:00 in ``timezone``."""
    start = datetime.combine(as_of, time(), tzinfo=ZoneInfo(timezone))
    enabled = np.array([ag.status is AdGroupStatus.ENABLE for ag in adgroups], dtype=bool)
    codes, creators = pd.factorize(pd.Series([ag.creator for ag in adgroups], dtype=object))
    launch = np.array(
        [np.nan if ag.launch_date is None else (as_of - ag.launch_date).days for ag in adgroups],
        dtype=np.float64,
    )
    # an explicit launch_date after as_of stays negative: the engine gives it no budget
    launch = np.where(np.isnan(launch), np.maximum(first_delivery, 0.0), launch)
    edited = [ag.last_edit_date for ag in adgroups]
    prev = [
        ag.stage if ag.stage is not None else (Stage.TESTING if on else Stage.PAUSED)
        for ag, on in zip(adgroups, enabled, strict=True)
    ]
    arms = ArmState(
        is_spark=np.array([ag.kind is Kind.SPARK for ag in adgroups], dtype=bool),
        creator=np.asarray(codes, dtype=np.int64),
        budget=np.where(enabled, [float(ag.budget) for ag in adgroups], 0.0).astype(np.float64),
        enabled=enabled,
        auth_days_left=np.array(
            [ag.authorization.days_remaining(start) for ag in adgroups], dtype=np.float64
        ),
        days_since_launch=launch,
        days_since_edit=np.array(
            [np.inf if d is None else max((as_of - d).days, 0) for d in edited], dtype=np.float64
        ),
        prev_stage=np.array([int(s) for s in prev], dtype=np.int64),
    )
    return arms, tuple(str(c) for c in creators)


def to_arrays(
    adgroups: Sequence[AdGroup],
    observations: Sequence[Observation],
    *,
    as_of: date,
    today: date,
    timezone: str = "UTC",
    lookback_days: int = 60,
) -> EngineInputs:
    """Turn validated records into the core arrays for planning day ``as_of``.

    Only observations dated before ``as_of`` and at most ``lookback_days`` days before it
    are used; rows dated on or after ``as_of`` are left out with a :class:`DataWarning`.
    ``D`` is the number of days from the oldest used row to ``as_of - 1`` (0 without rows).
    Conversions are kept as reported: the posterior corrects recent, incomplete days with
    its lag model using ``history.age_days``.

    Arm fields: ``budget`` is the current daily budget (0 for disabled ad groups);
    ``auth_days_left`` is measured from ``as_of`` 00:00 in ``timezone``; ``days_since_launch``
    from ``launch_date`` (negative for an ad group scheduled after ``as_of``: not launched,
    no budget), else from the first day with spend before ``as_of`` (0 if none);
    ``prev_stage`` is the recorded stage, else ``PAUSED`` for disabled and ``TESTING`` for
    enabled ad groups; creators are coded ``0..n-1`` in order of first appearance.

    Args:
        adgroups: the account's ad groups (``K`` arms, in this order).
        observations: daily rows for those ad groups, any order.
        as_of: the planning date (the job runs at its start).
        today: the real current date; rows dated later are an error.
        timezone: the account's IANA time zone.
        lookback_days: the most days of history used (>= 1).

    Returns:
        :class:`EngineInputs` with ``arms`` ``(K,)`` and ``history`` ``(K, D)``.

    Raises:
        DataError: duplicate ad groups, observations for unknown ad groups, duplicate
            ``(date, adgroup_id)`` rows, or rows dated after ``today``.
        ValueError: ``lookback_days`` < 1.
    """
    if lookback_days < 1:
        raise ValueError(f"lookback_days must be >= 1, got {lookback_days}")
    index = _check_objects(adgroups, observations, today)
    n_arms, n_obs = len(adgroups), len(observations)
    arm = np.fromiter((index[o.adgroup_id] for o in observations), np.int64, n_obs)
    age = as_of.toordinal() - np.fromiter(
        (o.date.toordinal() for o in observations), np.int64, n_obs
    )
    spend = np.fromiter((o.spend for o in observations), np.float64, n_obs)
    late = age <= 0
    if late.any():
        newest = as_of + timedelta(days=int(-age.min()))
        warnings.warn(
            DataWarning(
                f"{int(late.sum())} observation rows dated on or after the planning date "
                f"{as_of} (up to {newest}) are left out"
            ),
            stacklevel=2,
        )
    first_delivery = np.full(n_arms, np.nan)
    delivered = ~late & (spend > 0)
    np.fmax.at(first_delivery, arm[delivered], age[delivered].astype(np.float64))
    first_delivery = np.nan_to_num(first_delivery, nan=0.0)
    arms, creators = _arm_state(adgroups, first_delivery, as_of, timezone)
    used = ~late & (age <= lookback_days)
    n_days = int(age[used].max()) if used.any() else 0
    col = n_days - age[used]
    shape = (n_arms, n_days)
    arrays = {name: np.zeros(shape) for name in ("spend", "conversions", "value", "impressions")}
    picked = [o for o, u in zip(observations, used, strict=True) if u]
    rows = arm[used]
    arrays["spend"][rows, col] = spend[used]
    arrays["conversions"][rows, col] = [o.conversions for o in picked]
    arrays["value"][rows, col] = [0.0 if o.value is None else o.value for o in picked]
    arrays["impressions"][rows, col] = [float(o.impressions) for o in picked]
    observed = np.zeros(shape, dtype=bool)
    observed[rows, col] = True
    ages = np.arange(n_days, 0, -1, dtype=np.float64)
    history = History(observed=observed, age_days=ages, **arrays)
    dates = tuple(as_of - timedelta(days=int(a)) for a in ages)
    ids = tuple(ag.adgroup_id for ag in adgroups)
    return EngineInputs(arms, history, ids, creators, dates, as_of)
