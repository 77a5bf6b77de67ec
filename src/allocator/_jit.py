"""Compiled kernels: numba's ``njit`` with the settings every kernel of the package shares.

A kernel is a plain Python function over arrays and scalars that numba compiles to
machine code on its first call (nopython mode, so nothing falls back to the interpreter)
and caches on disk beside the module (or in the user's cache directory where that is
read only), so later processes load it instead of compiling again. ``error_model =
"numpy"`` gives IEEE results for a float division by zero (``inf`` or ``nan``, as numpy
does) instead of raising. No ``fastmath``: every operation rounds as written, so a kernel
gives the same bits on every run, worker and executor.

Kernels stay for the few loops whose numpy form costs tens of array calls per row (the
water-filling's level, the value-remaining order statistic); they take arrays and
return arrays like the rest of :mod:`allocator.core`. ``kernel.py_func`` is the same
function uncompiled, for tests that check a kernel's logic line by line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

__all__ = ["kernel"]

F = TypeVar("F", bound=Callable[..., Any])


def kernel(function: F) -> F:
    """``function`` compiled by numba on first call (nopython, cached, IEEE division)."""
    compiled = numba.njit(cache=True, nogil=True, error_model="numpy")(function)
    return cast(F, compiled)
