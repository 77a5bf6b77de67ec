"""Thompson allocation of a daily budget over posterior reward draws.

For every posterior draw the engine takes the best allocation of the budget *under that
draw*: with a linear reward (conversions = rate x spend) that is the greedy fill, every
eligible arm first gets its floor, then the rest of the budget goes to arms in order of
their sampled reward, each up to its cap. Averaging these per-draw optima over the draws
is probability matching generalized to budgets with floors and caps.

Speed: sorting every draw costs ``O(S K log K)``. Only the first few arms of each draw's
ranking can receive money beyond their floor: if the ``m`` smallest positive rooms
(cap minus floor) already add up to the money left after floors, no draw can pay an arm
ranked below ``m``. So the engine selects the top ``m + 1`` arms per draw with
:func:`numpy.argpartition` (linear time), orders only those, and falls back to a full sort
when ``m`` is large or a tie straddles the cut. In the usual case ``m = 1`` (caps far
above the money left) only each draw's best arm with room is needed: one argmax over
all arms (a second, masked search for the draws whose best arm has no room), a tie
check over cache-sized blocks and a weighted count. The result is exact either way.

Ties: arms whose sampled rewards are exactly equal in a draw share that draw's money in
proportion to their room, so the result does not depend on the order of the arms.

The guardrail projection that turns this wish into platform budgets lives in
:mod:`allocator.core.guardrails` (settings in :mod:`allocator.core.guardrail_params`)
and is re-exported here.
"""

from __future__ import annotations

import numpy as np

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core.guardrail_params import GuardrailParams, in_learning
from allocator.core.guardrails import Binding, Infeasibility, Projection, project

__all__ = [
    "Binding",
    "GuardrailParams",
    "Infeasibility",
    "Projection",
    "in_learning",
    "project",
    "thompson_allocate",
]

# Use the partial selection while the kept prefix is at most this share of the arms.
_PARTIAL_SHARE = 0.25
# Draws per working block of the one-arm-per-draw fast path (256 KiB of float64).
_BLOCK = 1 << 15
_MIN_BLOCK_DRAWS = 8


def thompson_allocate(
    draws: FloatArray,
    floors: FloatArray | float,
    caps: FloatArray | float,
    total: FloatArray | float,
    *,
    top_hint: IntArray | None = None,
) -> FloatArray:
    """Average over posterior draws of the best budget split under each draw.

    Per draw: every arm gets its floor, then the money left goes to arms in decreasing
    order of sampled reward, each up to its cap (greedy is optimal for a linear reward).
    Arms with cap 0 get nothing. Floors above caps are lowered to the caps. When the
    floors alone exceed ``total`` they are scaled down proportionally (the guardrail
    projection reports what cannot be honoured); when the caps add up to less than
    ``total`` every arm ends at its cap and the result sums to ``sum(caps)``.

    Args:
        draws: sampled rewards, shape ``(..., S, K)`` (conversions or value per currency
            unit); only their order within a draw matters. Must be finite.
        floors: minimum budget per arm, currency per day, shape ``(..., K)`` or
            broadcastable to it (e.g. the exploration floor of testing arms).
        caps: maximum budget per arm, currency per day, shape ``(..., K)``, >= 0.
        total: daily budget to split, currency per day, scalar or shape ``(...)``.
        top_hint: ``numpy.argmax(draws, axis=-1)``, shape ``(..., S)``, when the caller
            already has it (the engine shares it with the decisions); it only saves time.

    Returns:
        Expected budget per arm, currency per day, shape ``(..., K)``; sums to
        ``min(total, sum(caps))`` over the last axis and lies within ``[0, caps]``.

    Raises:
        ValueError: on mismatched shapes, negative floors, caps or total, or non-finite
            inputs.
    """
    draws = np.asarray(draws, dtype=np.float64)
    if draws.ndim < 2:
        raise ValueError(f"draws must have shape (..., S, K), got {draws.shape}")
    *batch, n_draws, n_arms = draws.shape
    batch_shape = tuple(batch)
    floors_b, caps_b, total_b = broadcast_bounds(floors, caps, total, batch_shape, n_arms)
    if not np.isfinite(draws.sum()) and not np.isfinite(draws).all():
        raise ValueError("draws must be finite")
    if n_draws == 0 or n_arms == 0:
        raise ValueError(f"draws need at least one draw and one arm, got {draws.shape}")

    n_rows = int(np.prod(batch_shape, dtype=np.int64))
    draws3 = draws.reshape(n_rows, n_draws, n_arms)
    floors2 = np.minimum(floors_b, caps_b).reshape(n_rows, n_arms)
    caps2 = caps_b.reshape(n_rows, n_arms)
    total1 = total_b.reshape(n_rows)

    floor_sum = floors2.sum(axis=-1)
    over = floor_sum > total1
    scale = np.where(over, total1 / np.where(over, floor_sum, 1.0), 1.0)
    floors2 = floors2 * scale[:, None]
    remaining = np.maximum(total1 - floors2.sum(axis=-1), 0.0)
    room = np.maximum(caps2 - floors2, 0.0)

    hint = None if top_hint is None else np.asarray(top_hint).reshape(n_rows, n_draws)
    extra = _greedy_extra(draws3, room, remaining, hint)
    return (floors2 + extra).reshape(*batch_shape, n_arms)


def broadcast_bounds(
    floors: FloatArray | float,
    caps: FloatArray | float,
    total: FloatArray | float,
    batch_shape: tuple[int, ...],
    n_arms: int,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Broadcast and check floors ``(..., K)``, caps ``(..., K)`` and total ``(...)``.

    Shared by the linear fill here and the saturating one in :mod:`allocator.core.response`.
    """
    arm_shape = (*batch_shape, n_arms)
    try:
        floors_b = _broadcast(np.asarray(floors, dtype=np.float64), arm_shape)
        caps_b = _broadcast(np.asarray(caps, dtype=np.float64), arm_shape)
        total_b = _broadcast(np.asarray(total, dtype=np.float64), batch_shape)
    except ValueError as exc:
        raise ValueError(
            f"floors, caps and total must broadcast to {arm_shape} / {batch_shape}: {exc}"
        ) from exc
    for name, values in (("floors", floors_b), ("caps", caps_b), ("total", total_b)):
        if values.size and not (values.min() >= 0.0 and values.max() < np.inf):  # NaN fails
            raise ValueError(f"{name} must be finite and >= 0")
    return floors_b, caps_b, total_b


def _broadcast(values: FloatArray, shape: tuple[int, ...]) -> FloatArray:
    """``numpy.broadcast_to``, without its cost where ``values`` has the shape already."""
    if values.shape == shape:
        return values
    out: FloatArray = np.broadcast_to(values, shape)
    return out


def _greedy_extra(
    draws: FloatArray, room: FloatArray, remaining: FloatArray, top_hint: IntArray | None = None
) -> FloatArray:
    """Mean over draws of the money each arm gets beyond its floor.

    Per draw the greedy fill pays every arm ranked above the *marginal* arm (the one
    where the running sum of rooms reaches ``remaining``) its full room and the
    marginal arm the rest; arms tied with the marginal arm share the rest in proportion
    to their room.

    Args:
        draws: sampled rewards, shape ``(B, S, K)``.
        room: cap minus floor per arm, currency per day, shape ``(B, K)``.
        remaining: money left after the floors, currency per day, shape ``(B,)``.
        top_hint: ``argmax`` of ``draws`` over the last axis, ``(B, S)``, if already known
            (not modified).

    Returns:
        Shape ``(B, K)``: the average extra budget per arm.
    """
    saturated = room.sum(axis=-1) <= remaining  # every arm ends at its cap
    need = np.where(saturated | (remaining <= 0.0), 0, _arms_needed(room, remaining))
    n_keep = int(need.max(initial=0))
    if n_keep == 0:
        return np.where(saturated[:, None], room, 0.0)

    positive = room > 0.0
    if n_keep == 1:  # the usual case (caps far above the money left): one arm per draw
        top = _top_arm(draws, positive, top_hint)
        if top is not None:
            if positive.any(axis=-1).all():
                return np.where(saturated[:, None], room, _top_arm_extra(top, room, remaining))
            if room.shape[-1] >= 2:  # rows without room: the tied-share arithmetic below
                return np.where(saturated[:, None], room, _top_arm_shared(top, room, remaining))
    extra = _prefix_extra(draws, room, remaining, positive, n_keep)
    return np.where(saturated[:, None], room, extra)


def _prefix_extra(
    draws: FloatArray, room: FloatArray, remaining: FloatArray, positive: BoolArray, n_keep: int
) -> FloatArray:
    """:func:`_greedy_extra`'s general fill over each draw's top ``n_keep`` arms with room.

    Finds each draw's marginal arm along the ranking by sampled reward; without ties at
    the marginal arm, the arms above it get their room and the marginal arm the rest
    (:func:`_untied_extra`), else the tied arms share the rest (:func:`_tied_share`).
    Shapes as in :func:`_greedy_extra`; ``positive`` = ``room > 0`` ``(B, K)``.
    Saturated rows come out arbitrary; the caller replaces them.
    """
    keys = draws if positive.all() else np.where(positive[:, None, :], draws, -np.inf)
    order = _top_order(keys, n_keep)
    n_rows, _, n_arms = keys.shape
    flat_order = order + (np.arange(n_rows) * n_arms)[:, None, None]
    cum = np.cumsum(room.ravel()[flat_order], axis=-1)
    marginal = (cum < remaining[:, None, None]).sum(axis=-1, keepdims=True)
    marginal = np.minimum(marginal, order.shape[-1] - 1)
    cut = np.take_along_axis(keys, np.take_along_axis(order, marginal, axis=-1), axis=-1)
    previous = np.take_along_axis(order, np.maximum(marginal - 1, 0), axis=-1)
    clear_above = (marginal == 0) | (np.take_along_axis(keys, previous, axis=-1) > cut)
    at_or_above = keys >= cut
    only_marginal = at_or_above.sum(axis=-1, keepdims=True) == marginal + 1
    if (clear_above & only_marginal).all():  # no arm ties with the marginal one
        return _untied_extra(room, remaining, flat_order, cum, marginal, at_or_above)
    above = keys > cut
    share: FloatArray = room * above.mean(axis=-2) + _tied_share(
        at_or_above & ~above, above, room, remaining
    )
    return share


def _untied_extra(
    room: FloatArray,
    remaining: FloatArray,
    flat_order: IntArray,
    cum: FloatArray,
    marginal: IntArray,
    at_or_above: BoolArray,
) -> FloatArray:
    """Mean extra money ``(B, K)`` when no arm ties with any draw's marginal arm.

    Every arm at or above the marginal one gets its full room, plus, for the marginal
    arm, the signed difference between the money left for it and its room.

    Args:
        room: cap minus floor per arm, currency per day, ``(B, K)``.
        remaining: money left after the floors, currency per day, ``(B,)``.
        flat_order: each draw's ranked arms as flat ``(B * K)`` indices, ``(B, S, n)``.
        cum: running sum of the ranked arms' rooms, ``(B, S, n)``.
        marginal: position of each draw's marginal arm in the ranking, ``(B, S, 1)``.
        at_or_above: arms ranked at or above the marginal arm, ``(B, S, K)``.
    """
    n_rows, n_draws, _ = flat_order.shape
    n_arms = room.shape[-1]
    room_sorted = room.ravel()[flat_order]
    before = np.take_along_axis(cum - room_sorted, marginal, axis=-1)[..., 0]
    arm = np.take_along_axis(flat_order, marginal, axis=-1)[..., 0]  # (B, S)
    money = np.maximum(remaining[:, None] - before, 0.0)  # <= room of the marginal arm
    fix = np.bincount(
        arm.ravel(),
        weights=(money - room.ravel()[arm]).ravel() / n_draws,
        minlength=n_rows * n_arms,
    )
    extra: FloatArray = room * at_or_above.mean(axis=-2) + fix.reshape(n_rows, n_arms)
    return extra


def _top_arm(
    draws: FloatArray, positive: BoolArray, top_hint: IntArray | None = None
) -> IntArray | None:
    """Each draw's best arm among those with room, ``(B, S)``; None if any draw has a tie.

    One argmax over all arms (or ``top_hint``, that argmax computed by the caller)
    answers every draw whose overall best arm has room; only the other draws are searched
    again with the arms without room masked. The tie check then compares each draw with
    its best arm's reward over blocks of about :data:`_BLOCK` rewards, so no ``(B, S, K)``
    temporary is allocated. Rows where no arm has room are left out of the tie check (their
    entry is arbitrary: every such row is saturated, see :func:`_greedy_extra`).
    """
    n_rows, n_draws, n_arms = draws.shape
    has_room: BoolArray = np.asarray(positive.any(axis=-1))
    if not has_room.any():
        return None
    top: IntArray = np.argmax(draws, axis=-1) if top_hint is None else top_hint.copy()
    masked = not bool(positive.all())
    if masked:
        rows, where = np.nonzero(~np.take_along_axis(positive, top, axis=-1))
        step = max(1, _BLOCK // n_arms)
        for start in range(0, rows.size, step):
            r, d = rows[start : start + step], where[start : start + step]
            top[r, d] = np.argmax(np.where(positive[r], draws[r, d], -np.inf), axis=-1)
    at = top.ravel() + np.arange(0, n_rows * n_draws * n_arms, n_arms)  # flat (B * S)
    cut = np.ravel(draws)[at].reshape(n_rows, n_draws, 1)  # draws[b, s, top[b, s]]
    span = max(_BLOCK // n_arms, _MIN_BLOCK_DRAWS)
    depth = max(1, _BLOCK // (n_draws * n_arms)) if span >= n_draws else 1
    for r0 in range(0, n_rows, depth):
        block_rows = slice(r0, r0 + depth)
        n_live = int(np.count_nonzero(has_room[block_rows]))
        if n_live == 0:
            continue
        for s0 in range(0, n_draws, span):
            at_top = draws[block_rows, s0 : s0 + span] >= cut[block_rows, s0 : s0 + span]
            if masked:
                at_top &= positive[block_rows, None, :]  # rows without room count 0
            # each draw counts its own best arm (finite draws), so more means a tie
            if np.count_nonzero(at_top) != n_live * at_top.shape[1]:
                return None
    return top


def _top_arm_extra(top: IntArray, room: FloatArray, remaining: FloatArray) -> FloatArray:
    """Mean extra money when each draw's best arm ``top`` ``(B, S)`` takes all that is left.

    The best arm gets ``remaining`` (room permitting, see :func:`_greedy_extra`), written
    as its full room plus the signed difference, summed in draw order.
    """
    n_rows, n_draws = top.shape
    n_arms = room.shape[-1]
    arm = top + (np.arange(n_rows) * n_arms)[:, None]  # (B, S) flat arm index
    flat = arm.ravel()
    wins = np.bincount(flat, minlength=n_rows * n_arms).reshape(n_rows, n_arms)
    money = np.broadcast_to(remaining[:, None], arm.shape)
    fix = np.bincount(
        flat, weights=(money - room.ravel()[arm]).ravel() / n_draws, minlength=n_rows * n_arms
    )
    extra: FloatArray = room * (wins / n_draws) + fix.reshape(n_rows, n_arms)
    return extra


def _top_arm_shared(top: IntArray, room: FloatArray, remaining: FloatArray) -> FloatArray:
    """:func:`_tied_share` when each draw's only tied arm is its best arm ``top`` ``(B, S)``.

    The general fill's arithmetic, operation for operation, without its ``(B, S, K)``
    temporaries: no arm ranks above the best one, the best arm's group room is its own
    room, and the per-arm sum over draws runs in draw order (as the ``einsum`` does), so
    the result is bit-identical to ``room * above.mean(axis=-2) + _tied_share(...)``.
    Rows where no arm has room come out arbitrary (finite); the caller replaces them.
    """
    n_rows, n_draws = top.shape
    n_arms = room.shape[-1]
    arm = top + (np.arange(n_rows) * n_arms)[:, None]  # (B, S) flat arm index
    group_room = room.ravel()[arm]
    money = np.clip(remaining[:, None] - 0.0, 0.0, group_room)
    per_room = money / np.where(group_room > 0.0, group_room, 1.0)
    summed = np.bincount(arm.ravel(), weights=per_room.ravel(), minlength=n_rows * n_arms)
    share = room * summed.reshape(n_rows, n_arms) / float(n_draws)
    extra: FloatArray = room * 0.0 + share
    return extra


def _tied_share(
    tied: BoolArray, above: BoolArray, room: FloatArray, remaining: FloatArray
) -> FloatArray:
    """Mean money of the arms tied with each draw's marginal arm, shape ``(B, K)``.

    Args:
        tied: arms whose key equals the marginal arm's, shape ``(B, S, K)``.
        above: arms ranked strictly above it, shape ``(B, S, K)``.
        room: cap minus floor, currency per day, shape ``(B, K)``.
        remaining: money left after floors, shape ``(B,)``.
    """
    above_room = np.einsum("bsk,bk->bs", above.astype(np.float64), room)
    group_room = np.einsum("bsk,bk->bs", tied.astype(np.float64), room)
    money = np.clip(remaining[:, None] - above_room, 0.0, group_room)
    per_room = money / np.where(group_room > 0.0, group_room, 1.0)  # (B, S)
    share: FloatArray = room * np.einsum("bsk,bs->bk", tied.astype(np.float64), per_room)
    return share / float(tied.shape[-2])


def _arms_needed(room: FloatArray, remaining: FloatArray) -> IntArray:
    """Per row, how many top-ranked arms can possibly receive money, shape ``(B,)``.

    The ``m`` smallest positive rooms adding up to ``remaining`` bound every draw's
    greedy fill to its first ``m`` arms.
    """
    ascending = np.sort(np.where(room > 0.0, room, np.inf), axis=-1)
    short = np.cumsum(ascending, axis=-1) < remaining[:, None]
    needed: IntArray = np.minimum(short.sum(axis=-1) + 1, room.shape[-1])
    return needed


def _top_order(keys: FloatArray, n_keep: int) -> IntArray:
    """Indices of each draw's arms in decreasing key order, at least the first ``n_keep``.

    Returns shape ``(B, S, n)`` with ``n_keep <= n <= K``: the top ``n_keep`` arms by
    partial selection when that is a small share of the arms, else all arms sorted.
    Ties are in arbitrary order (the caller treats tied arms alike).
    """
    n_arms = keys.shape[-1]
    if n_keep == 1:  # the usual case (caps far above the money left): a plain argmax
        best: IntArray = np.argmax(keys, axis=-1)[..., None].astype(np.int64, copy=False)
        return best
    if n_keep <= _PARTIAL_SHARE * n_arms:
        top = np.argpartition(keys, n_arms - n_keep, axis=-1)[..., n_arms - n_keep :]
        top_keys = np.take_along_axis(keys, top, axis=-1)
        order = np.take_along_axis(top, np.argsort(top_keys, axis=-1)[..., ::-1], axis=-1)
    else:
        order = np.argsort(keys, axis=-1)[..., ::-1]
    return order.astype(np.int64, copy=False)
