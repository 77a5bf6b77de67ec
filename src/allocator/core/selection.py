"""Branch-free selection primitives of the compiled kernels (:mod:`allocator._jit`).

On random data a comparison that decides which way the code jumps is mispredicted about
half the time; these decide where a value goes instead. ``keep_beyond`` narrows the
candidate breakpoints of a monotone piecewise-linear total (the water-filling's level,
the guardrail projection's level) to one side of a pivot; ``kth_largest`` is an exact
quickselect (the value-remaining quantile).
"""

from __future__ import annotations

from allocator._jit import kernel
from allocator._types import FloatArray

__all__ = ["keep_beyond", "kth_largest"]


@kernel
def keep_beyond(points: FloatArray, n: int, pivot: float, above: bool) -> int:
    """Keeps the values of ``points[:n]`` beyond ``pivot`` at the front, in order.

    Strictly above it when ``above``, else strictly below; no branches. Returns how many.
    """
    kept = 0
    for i in range(n):
        x = points[i]
        points[kept] = x
        kept += (x > pivot) if above else (x < pivot)
    return kept


@kernel
def kth_largest(values: FloatArray, n: int, k: int) -> float:
    """The ``k``-th largest of ``values[:n]`` (``1 <= k <= n``, no NaN), which it reorders.

    Quickselect with branch-free partitions (a comparison decides where a value goes, not
    which way the code jumps: on random data a jump would be mispredicted half the
    time): each round moves the values above the pivot to the front, then the values
    equal to it, so ties end a round instead of slowing it.
    """
    want = k - 1  # position in descending order
    lo, hi = 0, n
    while hi - lo > 1:
        a, b, c = values[lo], values[(lo + hi) // 2], values[hi - 1]
        pivot = max(min(a, b), min(max(a, b), c))  # the median of three, a value present
        above = _move_front(values, lo, hi, pivot, True)
        if want < above:
            hi = above
            continue
        equal = _move_front(values, above, hi, pivot, False)
        if want < equal:
            return float(pivot)
        lo = equal
    return float(values[lo])


@kernel
def _move_front(values: FloatArray, lo: int, hi: int, pivot: float, above: bool) -> int:
    """Moves the values of ``values[lo:hi]`` above ``pivot`` to the front, branch-free.

    With ``above`` False, the values equal to it. Returns where the rest begins.
    """
    store = lo
    for i in range(lo, hi):
        x = values[i]
        values[i] = values[store]
        values[store] = x
        store += (x > pivot) if above else (x == pivot)
    return store
