"""CSV tables as string cells, and the vectorized row/column checks run over them.

:func:`read_table` reads a file of the contract (or a data frame with its columns, taken as
the CSV text it would be written as) as stripped string cells, checks its header and
remembers the physical line of each record (the header is line 1; quoted cells may span
lines). A :class:`Checker` turns every validation rule into a boolean mask over the rows and
raises one :class:`~allocator.errors.DataError` for the first failing cell in file order
(line, then column), naming file, line and column; nothing partial is returned on error.
Suspicious but legal rows give one :class:`DataWarning` per rule, naming the first such line
and how many rows match.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.errors import DataError

__all__ = [
    "FRAME_PATH",
    "MAX_CELL",
    "Checker",
    "DataWarning",
    "Source",
    "Table",
    "number_text",
    "quote_cell",
    "read_table",
]

_DATE_RE = r"\d{4}-\d{2}-\d{2}"

FRAME_PATH = Path("<DataFrame>")
"""What errors and warnings name as the file when the records came as a data frame."""
_PARSER_LINE_RE = re.compile(r"line (\d+)")

MAX_CELL = 1e12
"""No money or count cell of an input file is plausibly larger (float sanity: ``1e308``)."""


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
class Table:
    """A CSV file as stripped string cells, with the physical line of each row."""

    path: Path
    frame: pd.DataFrame
    lines: IntArray


Source = str | Path | pd.DataFrame
"""Records of the contract: a CSV file, or a data frame with the file's columns."""


def read_table(source: Source, required: Sequence[str], optional: Sequence[str]) -> Table:
    """Read ``source`` as strings; check the header; drop blank lines; keep line numbers.

    A data frame is read as the CSV text it would be written as (``frame.to_csv``, no
    index) and named :data:`FRAME_PATH` in errors; its row ``i`` is line ``i + 2``.
    Columns beyond ``required`` and ``optional`` are ignored with a :class:`DataWarning`
    attributed to the caller of the function that called this one.
    """
    if isinstance(source, pd.DataFrame):
        path = FRAME_PATH
        header, frame = _parse_csv(io.StringIO(source.to_csv(index=False)), path)
    else:
        path = Path(source)
        header, frame = _load_csv(path)
    names = [name.strip() for name in (header or [])]
    _check_header(path, names, required, optional)
    frame.columns = pd.Index(names)
    frame = frame.apply(lambda col: col.str.strip())
    lines = _record_lines(frame)
    blank = (frame == "").all(axis=1).to_numpy()
    return Table(path, frame.loc[~blank].reset_index(drop=True), lines[~blank])


def _load_csv(path: Path) -> tuple[list[str] | None, pd.DataFrame]:
    """The raw header row (``None`` for an empty file) and every cell as a string."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return _parse_csv(handle, path)
    except FileNotFoundError as exc:
        raise DataError("file not found", path=path) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason})", path=path) from exc


def _parse_csv(handle: TextIO, path: Path) -> tuple[list[str] | None, pd.DataFrame]:
    """The raw header row and every cell of the CSV text in ``handle`` as a string."""
    try:
        header = next(csv.reader(handle), None)
        handle.seek(0)
        frame = pd.read_csv(
            handle, dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False
        )
    except pd.errors.EmptyDataError as exc:
        raise DataError("file is empty; a header line is required", path=path) from exc
    except pd.errors.ParserError as exc:
        match = _PARSER_LINE_RE.search(str(exc))
        line = int(match.group(1)) if match else None
        raise DataError("row has more fields than the header", path=path, line=line) from exc
    return header, frame


def _check_header(
    path: Path, names: list[str], required: Sequence[str], optional: Sequence[str]
) -> None:
    """Reject repeated or missing columns; warn about unused ones."""
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
            stacklevel=4,
        )


def _record_lines(frame: pd.DataFrame) -> IntArray:
    """Physical line of each record: header is line 1; quoted cells may span lines."""
    newlines = frame.apply(lambda col: col.str.count("\n")).sum(axis=1).to_numpy(np.int64)
    return (
        2 + np.arange(len(frame), dtype=np.int64) + np.concatenate(([0], np.cumsum(newlines)))[:-1]
    )


# --------------------------------------------------------------------------- cell text


def quote_cell(cell: object) -> str:
    """A cell for an error message: quoted and shortened."""
    text = str(cell)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def number_text(x: float) -> str:
    """Shortest text that reads back as exactly ``x`` (whole numbers without ``.0``)."""
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 2**53 else repr(x)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- checking


class Checker:
    """Collects vectorized rule violations; raises the first in file order."""

    def __init__(self, table: Table) -> None:
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
            return f"{quote_cell(text)} is not {kind}"

        self.check(~empty & ~finite, column, not_finite)
        self.check(finite & (values < 0), column, lambda i: f"{quote_cell(raw.iat[i])} is negative")
        self.check(
            finite & (values > MAX_CELL),
            column,
            lambda i: f"{quote_cell(raw.iat[i])} is beyond any plausible amount (> {MAX_CELL:g})",
        )
        if integer:
            whole = finite & (values == np.floor(values))
            self.check(
                finite & ~whole, column, lambda i: f"{quote_cell(raw.iat[i])} is not a whole number"
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
            lambda i: f"{quote_cell(raw.iat[i])} is not a date (expected YYYY-MM-DD)",
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
                f"unknown {column} {quote_cell(raw.iat[i])} (expected one of {', '.join(options)})"
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
