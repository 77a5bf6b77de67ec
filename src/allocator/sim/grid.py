"""Parameter grids of an experiment's ``[[policies]]`` tables.

A list where a parameter takes a number is a grid: :func:`expand_grid` turns one table
into one variant per combination of values, named ``kind[key=value,...]`` (or
``name[...]`` when ``name`` is set). Parameters that are themselves lists (``weights`` of
``fixed``, ``posterior.lag_pmf``) take a grid as a list of lists. Grids may sit at the
table's top level or inside its ``posterior``, ``decisions`` and ``guardrails`` sections.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from allocator.config_base import cross_field_error

__all__ = ["expand_grid"]

_LIST_VALUED = frozenset({"weights", "lag_pmf"})
"""Parameters whose value is itself a list: a grid over them is a list of lists."""

_SECTIONS = frozenset({"posterior", "decisions", "guardrails"})
"""The engine sections a policy table may hold (grids inside them are expanded too)."""

_Axis = tuple[tuple[str, ...], list[Any]]
"""One grid: the key's path in the table (``(key,)`` or ``(section, key)``), its values."""


def _is_grid(key: str, value: object) -> bool:
    if not isinstance(value, list):
        return False
    if key in _LIST_VALUED:  # a grid over a list-valued parameter is a list of lists
        return bool(value) and all(isinstance(v, list) for v in value)
    return True


def _grid_axes(raw: Mapping[str, Any]) -> list[_Axis]:
    """``(path, values)`` of every grid in one policy table (top level and sections)."""
    axes: list[_Axis] = []
    for key, value in raw.items():
        if key in _SECTIONS and isinstance(value, Mapping):
            axes += [((key, k), v) for k, v in value.items() if _is_grid(k, v)]
        elif _is_grid(key, value):
            axes.append(((key,), value))
    return axes


def _format_value(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ";".join(_format_value(v) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _variant(
    raw: Mapping[str, Any], base: str, axes: list[_Axis], combo: tuple[Any, ...]
) -> dict[str, Any]:
    """The table with one value of each grid put in, named ``base[key=value,...]``."""
    variant = {k: dict(v) if k in _SECTIONS and isinstance(v, Mapping) else v
               for k, v in raw.items()}  # fmt: skip
    for (path, _), value in zip(axes, combo, strict=True):
        if len(path) == 1:
            variant[path[0]] = value
        else:
            variant[path[0]][path[1]] = value
    tags = ",".join(
        f"{path[-1]}={_format_value(v)}" for (path, _), v in zip(axes, combo, strict=True)
    )
    variant["name"] = f"{base}[{tags}]"
    return variant


def expand_grid(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Expand one ``[[policies]]`` table into its variants (raw dicts, named).

    Args:
        raw: the table as read from TOML.

    Returns:
        One dict per combination of grid values (one dict without grids), each with
        ``name`` set to ``base[key=value,...]`` when there is a grid (``base`` = the
        table's ``name`` or ``kind``).

    Raises:
        PydanticCustomError: a grid is empty (names the grid's key).
    """
    axes = _grid_axes(raw)
    for path, values in axes:
        if not values:
            raise cross_field_error(".".join(path), "a grid needs at least one value")
    if not axes:
        return [dict(raw)]
    base = str(raw.get("name") or raw.get("kind", "policy"))
    combos = itertools.product(*(values for _, values in axes))
    return [_variant(raw, base, axes, combo) for combo in combos]
