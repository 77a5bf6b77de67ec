"""Logged bandit feedback: loading and validation of the generic and Open Bandit layouts.

Generic layout (CSV, header on line 1): ``action``, ``reward``, ``propensity`` (the logging
policy's probability of the logged action at the logged position, in ``(0, 1]``), optional
``position``; every other column is kept as context. Open Bandit Dataset layout: ``item_id``
-> action, ``click`` (0/1) -> reward, ``propensity_score`` -> propensity, ``position``; the
unnamed index column is dropped and the user features are kept as context.

Errors name the file, the 1-based file line (the header is line 1; one line per record) and
the file's column name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from allocator._types import FloatArray, IntArray
from allocator.errors import DataError

__all__ = [
    "BanditLogs",
    "LogFormat",
    "StrArray",
    "label_values",
    "logs_from_frame",
    "raise_first",
    "read_csv_file",
    "read_logs",
]

StrArray = npt.NDArray[np.str_]
_RowError = Callable[[int], DataError]
_ReasonError = Callable[[str, int], DataError]
_ColumnError = Callable[[str, int, str], DataError]  # (reason, row, logical column)


class LogFormat(StrEnum):
    """Layout of a log file."""

    GENERIC = "generic"
    OBD = "obd"


_COLUMNS: dict[LogFormat, dict[str, str]] = {
    LogFormat.GENERIC: {
        "action": "action",
        "reward": "reward",
        "propensity": "propensity",
        "position": "position",
    },
    LogFormat.OBD: {
        "action": "item_id",
        "reward": "click",
        "propensity": "propensity_score",
        "position": "position",
    },
}
_OPTIONAL = frozenset({"position"})
_DROPPED = {LogFormat.GENERIC: frozenset[str](), LogFormat.OBD: frozenset({"Unnamed: 0"})}


@dataclass(frozen=True)
class BanditLogs:
    """Validated logged rows, one entry per row (shape ``(n,)``).

    Attributes:
        action: action labels as written in the file.
        reward: rewards (clicks or conversions per row).
        propensity: logging probability of the logged (action, position), in ``(0, 1]``.
        position: position labels, or ``None`` when the file has no position column.
        line: 1-based file line of each row.
        context: the remaining columns, one row per logged row.
        path: the file read, when there is one.
        columns: logical name (``action``, ``reward``, ``propensity``, ``position``) -> the
            file's column name, for error messages.
    """

    action: StrArray
    reward: FloatArray
    propensity: FloatArray
    position: StrArray | None
    line: IntArray
    context: pd.DataFrame
    path: Path | None = None
    columns: Mapping[str, str] = field(default_factory=lambda: dict(_COLUMNS[LogFormat.GENERIC]))

    @property
    def n_rows(self) -> int:
        """Number of logged rows."""
        return int(self.action.shape[0])

    def error(self, reason: str, *, row: int | None = None, column: str | None = None) -> DataError:
        """A :class:`DataError` naming this file, row ``row`` (0-based) and logical column."""
        line = None if row is None else int(self.line[row])
        name = None if column is None else self.columns.get(column, column)
        return DataError(reason, path=self.path, line=line, column=name)


def read_logs(path: str | Path, *, log_format: LogFormat | str = LogFormat.GENERIC) -> BanditLogs:
    """Read and validate a log file.

    Args:
        path: CSV file.
        log_format: ``generic`` or ``obd``.

    Raises:
        DataError: unreadable file, missing column, or a bad value (naming line and column).
    """
    fmt = LogFormat(log_format)
    path = Path(path)
    cols = _COLUMNS[fmt]
    frame = read_csv_file(path, label_columns=(cols["action"], cols["position"]))
    return logs_from_frame(frame, log_format=fmt, path=path)


def read_csv_file(path: Path, *, label_columns: Sequence[str]) -> pd.DataFrame:
    """Read a CSV with ``label_columns`` as text; blank lines kept so row ``i`` is line ``i + 2``.

    Raises:
        DataError: the file is missing or not a readable CSV.
    """
    try:
        return pd.read_csv(path, dtype=dict.fromkeys(label_columns, str), skip_blank_lines=False)
    except FileNotFoundError as exc:
        raise DataError("no such file", path=path) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"not a readable CSV file ({exc})", path=path) from exc


def logs_from_frame(
    frame: pd.DataFrame,
    *,
    log_format: LogFormat | str = LogFormat.GENERIC,
    path: str | Path | None = None,
    first_line: int = 2,
) -> BanditLogs:
    """Validate a frame laid out as a log file (row ``i`` is file line ``first_line + i``).

    Raises:
        DataError: missing column or bad value, naming the line and the file's column.
    """
    fmt = LogFormat(log_format)
    cols = _COLUMNS[fmt]
    where = None if path is None else Path(path)
    _require_columns(frame, cols, where)
    line = np.arange(first_line, first_line + len(frame), dtype=np.int64)

    def fail(reason: str, row: int, logical: str) -> DataError:
        return DataError(reason, path=where, line=int(line[row]), column=cols[logical])

    action = label_values(frame[cols["action"]], lambda r: fail("missing action", r, "action"))
    position = None
    if cols["position"] in frame.columns:
        position = label_values(
            frame[cols["position"]], lambda r: fail("missing position", r, "position")
        )
    reward = _rewards(frame[cols["reward"]], fmt, fail)
    propensity = _propensities(frame[cols["propensity"]], fail)
    known = set(cols.values()) | _DROPPED[fmt]
    context = frame[[c for c in frame.columns if c not in known]].reset_index(drop=True)
    return BanditLogs(
        action=action,
        reward=reward,
        propensity=propensity,
        position=position,
        line=line,
        context=context,
        path=where,
        columns=dict(cols),
    )


def _require_columns(frame: pd.DataFrame, cols: Mapping[str, str], where: Path | None) -> None:
    """Raise at the first required column missing from ``frame``, or when it has no rows."""
    for logical, name in cols.items():
        if logical not in _OPTIONAL and name not in frame.columns:
            raise DataError(f"missing column {name!r}", path=where, column=name)
    if len(frame) == 0:
        raise DataError("no logged rows", path=where)


def _rewards(column: pd.Series, fmt: LogFormat, fail: _ColumnError) -> FloatArray:
    """Finite rewards; clicks of the Open Bandit layout must be 0 or 1."""
    reward = _numbers(column, lambda reason, r: fail(reason, r, "reward"))
    if fmt is LogFormat.OBD:
        raise_first(
            ~np.isin(reward, (0.0, 1.0)), lambda r: fail("click must be 0 or 1", r, "reward")
        )
    return reward


def _propensities(column: pd.Series, fail: _ColumnError) -> FloatArray:
    """Logging propensities, each in ``(0, 1]``."""
    propensity = _numbers(column, lambda reason, r: fail(reason, r, "propensity"))
    raise_first(
        (propensity <= 0.0) | (propensity > 1.0),
        lambda r: fail(f"propensity must be in (0, 1], got {propensity[r]!r}", r, "propensity"),
    )
    return propensity


def raise_first(bad: npt.NDArray[np.bool_], make: _RowError) -> None:
    """Raise ``make(row)`` for the first row where ``bad`` holds, if any."""
    if np.any(bad):
        raise make(int(np.argmax(bad)))


def label_values(column: pd.Series, missing: _RowError) -> StrArray:
    """Stripped text labels; raises ``missing(row)`` at the first empty one."""
    values = column.astype("string").str.strip()
    empty = (values.isna() | (values == "")).to_numpy(dtype=np.bool_)
    raise_first(empty, missing)
    return np.asarray(values.to_numpy(dtype=str), dtype=np.str_)


def _numbers(column: pd.Series, fail: _ReasonError) -> FloatArray:
    raw_missing = column.isna().to_numpy(dtype=np.bool_)
    raise_first(raw_missing, lambda r: fail("missing value", r))
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    raise_first(~np.isfinite(values), lambda r: fail(f"not a finite number: {column.iloc[r]!r}", r))
    return values
