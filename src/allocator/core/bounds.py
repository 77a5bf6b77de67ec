"""Bounds of the core's settings dataclasses, written once, on their fields.

A bounded field carries ``annotated_types`` metadata on its type::

    p_best_to_scale: Probability = 0.95        # Annotated[float, Gt(0), Lt(1)]

Two readers honour the same metadata, so a bound is never restated:

* :func:`check_bounds`, called by the dataclass's ``__post_init__``, when the settings are
  built in Python (tests, simulations, the backtests);
* pydantic, when the config layer validates the dataclass straight from a TOML table
  (:mod:`allocator.engine_config`), so a bad key is reported with pydantic's wording.

A rule that ties two fields together raises :class:`FieldError` from ``__post_init__``,
naming the field to blame; the config layer reports it on that key. Messages never quote
the value (config values may sit next to secrets).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Annotated, Any, Union

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen, Predicate

__all__ = [
    "FieldError",
    "Finite",
    "NonNegative",
    "Positive",
    "Probability",
    "check_bounds",
]

Finite = Predicate(math.isfinite)
"""Refuses ``inf`` and ``NaN`` (pydantic: "Predicate 'isfinite' failed")."""

Probability = Annotated[float, Gt(0.0), Lt(1.0)]
"""A probability strictly inside (0, 1)."""

Positive = Annotated[float, Gt(0.0), Finite]
"""A finite number > 0."""

NonNegative = Annotated[float, Ge(0.0), Finite]
"""A finite number >= 0."""


class FieldError(ValueError):
    """A settings field out of its domain.

    Attributes:
        field: the dataclass field to blame (the TOML key in its table).
        reason: what is wrong, without the value.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field} {reason}")

    def __reduce__(self) -> tuple[type[FieldError], tuple[str, str]]:
        """Pickle by the two fields, so the error crosses process pools intact."""
        return FieldError, (self.field, self.reason)


def _metadata(hint: object) -> tuple[object, ...]:
    """The ``Annotated`` metadata of ``hint``, looking inside ``X | None``."""
    if typing.get_origin(hint) is Annotated:
        return tuple(getattr(hint, "__metadata__", ()))
    if typing.get_origin(hint) in (Union, types.UnionType):
        for arg in typing.get_args(hint):
            found = _metadata(arg)
            if found:
                return found
    return ()


_Bounds = tuple[tuple[str, tuple[object, ...]], ...]
_BOUNDS: dict[type, _Bounds] = {}


def _bounds(cls: type) -> _Bounds:
    """``(field name, metadata)`` of every bounded field of dataclass ``cls`` (cached)."""
    if cls not in _BOUNDS:
        hints = typing.get_type_hints(cls, include_extras=True)
        found = ((f.name, _metadata(hints[f.name])) for f in dataclasses.fields(cls))
        _BOUNDS[cls] = tuple((name, meta) for name, meta in found if meta)
    return _BOUNDS[cls]


def _violation(value: Any, bound: object) -> str | None:
    """Why ``value`` breaks ``bound`` (``None`` when it holds). NaN breaks every order."""
    if isinstance(bound, Gt):
        return None if value > bound.gt else f"must be > {bound.gt}"
    if isinstance(bound, Ge):
        return None if value >= bound.ge else f"must be >= {bound.ge}"
    if isinstance(bound, Lt):
        return None if value < bound.lt else f"must be < {bound.lt}"
    if isinstance(bound, Le):
        return None if value <= bound.le else f"must be <= {bound.le}"
    if isinstance(bound, MinLen):
        return None if len(value) >= bound.min_length else f"needs >= {bound.min_length} entries"
    if isinstance(bound, MaxLen):
        return None if len(value) <= bound.max_length else f"takes <= {bound.max_length} entries"
    if isinstance(bound, Predicate):
        return None if bound.func(value) else "must be a finite number"
    return None


def check_bounds(settings: object) -> None:
    """Enforce the ``annotated_types`` bounds declared on a dataclass's fields.

    ``None`` passes (optional fields); element bounds inside tuples are left to the
    dataclass's own checks.

    Raises:
        FieldError: the first field out of bounds, in field order.
    """
    for name, bounds in _bounds(type(settings)):
        value = getattr(settings, name)
        if value is None:
            continue
        for bound in bounds:
            reason = _violation(value, bound)
            if reason is not None:
                raise FieldError(name, reason)
