"""The target policy of off-policy evaluation: probabilities per (action, position).

CSV layout (header on line 1): ``action,position,probability``; one row per (action,
position) pair, pairs left out have probability 0, and the probabilities of each position
sum to 1. The set of actions listed (even with probability 0) is the set of known actions:
logs showing any other action are rejected. The ``position`` column may be left out for
logs without positions (one implicit position).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from allocator._types import FloatArray, IntArray
from allocator.backtest.logged_feedback import (
    BanditLogs,
    StrArray,
    label_values,
    raise_first,
    read_csv_file,
)
from allocator.backtest.ope import AlignedLogs
from allocator.errors import DataError

__all__ = [
    "SUM_TOLERANCE",
    "TargetPolicy",
    "align_logs",
    "load_target_policy",
    "sort_labels",
    "target_policy_from_logs",
    "write_target_policy",
]

SUM_TOLERANCE = 1e-6
"""How far a position's probabilities may sum from 1."""
_NO_POSITION = ""


@dataclass(frozen=True)
class TargetPolicy:
    """Action probabilities per position.

    Attributes:
        actions: action labels, length ``A``.
        positions: position labels, length ``P`` (``("",)`` when the policy has no positions).
        probability: ``pi_e(a | p)``, shape ``(A, P)``; each column sums to 1.
    """

    actions: tuple[str, ...]
    positions: tuple[str, ...]
    probability: FloatArray

    @property
    def has_positions(self) -> bool:
        """Whether the policy distinguishes positions."""
        return self.positions != (_NO_POSITION,)


def sort_labels(labels: Sequence[str]) -> tuple[str, ...]:
    """Labels in natural order: integers numerically first, then the rest as text."""
    unique = {str(label) for label in labels}
    return tuple(sorted(unique, key=lambda s: (0, int(s), s) if _is_int(s) else (1, 0, s)))


def _index_of(labels: Sequence[str], values: StrArray) -> IntArray:
    """Position of each value in ``labels``, -1 where absent; shape of ``values``."""
    return np.asarray(pd.Index(labels).get_indexer(pd.Index(values)), dtype=np.int64)


def _lookup(logs: BanditLogs, labels: Sequence[str], values: StrArray, column: str) -> IntArray:
    """Indices of ``values`` in ``labels``; a DataError at the first unknown one."""
    index = _index_of(labels, values)
    raise_first(
        index < 0,
        lambda r: logs.error(f"unknown {column} {str(values[r])!r}", row=r, column=column),
    )
    return index


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def load_target_policy(path: str | Path) -> TargetPolicy:
    """Read and validate a target-policy CSV.

    Raises:
        DataError: missing column or value, probability outside ``[0, 1]``, a repeated
            (action, position) pair, or a position whose probabilities do not sum to 1.
    """
    path = Path(path)
    frame = read_csv_file(path, label_columns=("action", "position"))
    for name in ("action", "probability"):
        if name not in frame.columns:
            raise DataError(f"missing column {name!r}", path=path, column=name)
    if len(frame) == 0:
        raise DataError("no rows", path=path)
    action, position, prob = _policy_rows(frame, path)
    return _policy_table(action, position, prob, path)


def _policy_rows(frame: pd.DataFrame, path: Path) -> tuple[StrArray, StrArray, FloatArray]:
    """Validated ``(action, position, probability)`` per row of a target-policy file.

    Raises:
        DataError: a missing label, a probability outside ``[0, 1]`` or a repeated pair,
            naming the file line.
    """
    line = np.arange(2, 2 + len(frame))

    def fail(column: str, reason: Callable[[int], str]) -> Callable[[int], DataError]:
        return lambda r: DataError(reason(r), path=path, line=int(line[r]), column=column)

    action = label_values(frame["action"], fail("action", lambda _: "missing value"))
    position = (
        label_values(frame["position"], fail("position", lambda _: "missing value"))
        if "position" in frame.columns
        else np.full(len(frame), _NO_POSITION, dtype=np.str_)
    )
    raw = frame["probability"]
    prob = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    raise_first(
        ~np.isfinite(prob) | (prob < 0.0) | (prob > 1.0),
        fail("probability", lambda r: f"probability must be in [0, 1], got {raw.iloc[r]!r}"),
    )
    pairs = pd.Series(action).str.cat(pd.Series(position), sep="\x00")
    raise_first(
        pairs.duplicated().to_numpy(dtype=np.bool_),
        fail("action", lambda r: f"repeated pair ({str(action[r])!r}, {str(position[r])!r})"),
    )
    return action, position, prob


def _policy_table(
    action: StrArray, position: StrArray, prob: FloatArray, path: Path
) -> TargetPolicy:
    """The ``(A, P)`` probability table of validated rows; pairs left out get 0.

    Raises:
        DataError: a position whose probabilities do not sum to 1.
    """
    actions, positions = sort_labels(list(action)), sort_labels(list(position))
    table = np.zeros((len(actions), len(positions)))
    a_idx = _index_of(actions, action)
    p_idx = _index_of(positions, position)
    table[a_idx, p_idx] = prob
    sums = table.sum(axis=0)
    off = np.abs(sums - 1.0) > SUM_TOLERANCE
    if np.any(off):
        j = int(np.argmax(off))
        raise DataError(
            f"probabilities of position {positions[j]!r} sum to {sums[j]:.9g}, not 1",
            path=path,
            column="probability",
        )
    return TargetPolicy(actions, positions, table)


def target_policy_from_logs(
    logs: BanditLogs, *, actions: Sequence[str] | None = None
) -> TargetPolicy:
    """The policy that shows each action at each position as often as the logs did.

    ``pi(a | p)`` = (rows showing ``a`` at ``p``) / (rows at ``p``).

    Args:
        logs: the logs of the policy to represent (e.g. the OBD ``bts`` logs).
        actions: the full set of known actions (e.g. every item of the campaign), so that
            actions the logs never showed get probability 0; default: the logged actions.

    Raises:
        DataError: a logged action is not in ``actions``.
    """
    labels = sort_labels(list(logs.action) if actions is None else [str(a) for a in actions])
    a_idx = _lookup(logs, labels, logs.action, "action")
    if logs.position is None:
        positions: tuple[str, ...] = (_NO_POSITION,)
        p_idx = np.zeros(logs.n_rows, dtype=np.int64)
    else:
        positions = sort_labels(list(logs.position))
        p_idx = _index_of(positions, logs.position)
    counts = np.zeros((len(labels), len(positions)))
    np.add.at(counts, (a_idx, p_idx), 1.0)
    return TargetPolicy(labels, positions, counts / counts.sum(axis=0, keepdims=True))


def write_target_policy(policy: TargetPolicy, path: str | Path) -> None:
    """Write ``policy`` as CSV, one row per (action, position), zeros included."""
    a, p = np.meshgrid(
        np.arange(len(policy.actions)), np.arange(len(policy.positions)), indexing="ij"
    )
    frame = pd.DataFrame(
        {
            "action": np.asarray(policy.actions)[a.ravel()],
            "position": np.asarray(policy.positions)[p.ravel()],
            "probability": policy.probability.ravel(),
        }
    )
    if not policy.has_positions:
        frame = frame.drop(columns="position")
    frame.to_csv(path, index=False, float_format="%.12g")


def align_logs(logs: BanditLogs, policy: TargetPolicy) -> AlignedLogs:
    """Map log labels to the policy's action and position indices.

    Raises:
        DataError: a logged action or position the policy does not know, naming the row.
    """
    a_idx = _lookup(logs, policy.actions, logs.action, "action")
    if logs.position is None:
        if policy.has_positions and len(policy.positions) > 1:
            raise logs.error(
                "the logs have no position column but the target policy has "
                f"{len(policy.positions)} positions",
                column="position",
            )
        p_idx = np.zeros(logs.n_rows, dtype=np.int64)
    else:
        if not policy.has_positions:
            raise logs.error("the target policy has no positions", column="position")
        p_idx = _lookup(logs, policy.positions, logs.position, "position")
    return AlignedLogs(
        action=a_idx.astype(np.int64),
        position=np.asarray(p_idx, dtype=np.int64),
        reward=logs.reward,
        propensity=logs.propensity,
        target=policy.probability,
    )
