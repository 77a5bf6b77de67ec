"""The sandbox's write endpoints: budgets, statuses and Spark authorization.

``POST /adgroup/budget/update/`` and ``POST /adgroup/status/update/`` take batches of at
most :attr:`WriteContext.max_batch` ad groups (20 by default; the platform's limit is not
documented, 20 is its limit for ad and campaign status batches). A batch is all or
nothing unless ``allow_partial_success`` is true: then the valid items are applied, the
answer's code is 0 and ``data.error_list`` lists ``{adgroup_id, error_message}`` for the
rest. ``POST /adgroup/update/`` edits one ad group's daily budget (and name).
``POST /tt_video/authorize/`` applies a creator's auth code.

Every applied item is recorded in the account's edit log with the request id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from allocator.platform.sandbox.account import RuleViolation, SandboxAccount
from allocator.platform.sandbox.objects import (
    STATUS_DELETE,
    STATUS_DISABLE,
    STATUS_ENABLE,
    AdGroup,
)
from allocator.platform.sandbox.params import PARAM_ERROR, bool_param, id_list, required
from allocator.platform.sandbox.reads import adgroup_json

__all__ = [
    "WriteContext",
    "adgroup_budget_update",
    "adgroup_status_update",
    "adgroup_update",
    "tt_video_authorize",
]

INVALID_BATCH_SIZE = 40061
TOO_MANY_IDS = 40011
NOT_IN_SANDBOX = 40009
INJECTED_ERROR = "Internal service error, please retry later (injected by the sandbox)"


@dataclass(frozen=True, slots=True)
class WriteContext:
    """What a write handler needs besides the account and body.

    Attributes:
        request_id: the request's id, recorded with each edit.
        endpoint: the API path, recorded with each edit.
        max_batch: largest accepted batch.
        reject: picks the ids an injected ``partial_batch`` fault rejects (``set()``
            when no such fault fired).
    """

    request_id: str
    endpoint: str
    max_batch: int
    reject: Callable[[list[str]], set[str]]


def _settle(
    items: list[tuple[str, Callable[[], Any]]],
    ctx: WriteContext,
    partial: bool,
) -> tuple[list[tuple[str, Any]], list[dict[str, str]]]:
    """Validate every item; raise on the first error unless ``partial``.

    Args:
        items: (adgroup_id, validator) pairs; a validator raises ``RuleViolation``.
        ctx: the write context (for injected rejections).
        partial: the request's ``allow_partial_success``.

    Returns:
        (adgroup_id, validated value) to apply, and the ``error_list`` entries.
    """
    injected = ctx.reject([adgroup_id for adgroup_id, _ in items])
    good: list[tuple[str, Any]] = []
    errors: list[dict[str, str]] = []
    for adgroup_id, validate in items:
        try:
            if adgroup_id in injected:
                raise RuleViolation(PARAM_ERROR, f"adgroup {adgroup_id}: {INJECTED_ERROR}")
            good.append((adgroup_id, validate()))
        except RuleViolation as exc:
            if not partial:
                raise
            errors.append({"adgroup_id": adgroup_id, "error_message": exc.message})
    return good, errors


def _batch(body: dict[str, Any], name: str, ctx: WriteContext, code: int) -> list[Any]:
    value = required(body, name)
    if not isinstance(value, list) or not value:
        raise RuleViolation(PARAM_ERROR, f"{name}: must be a non-empty list")
    if len(value) > ctx.max_batch:
        raise RuleViolation(
            code, f"{name}: at most {ctx.max_batch} items per request, got {len(value)}"
        )
    return value


def _run_batch(
    items: list[tuple[str, Callable[[], Any]]],
    ctx: WriteContext,
    allow_partial: bool,
    apply: Callable[[Any], None],
) -> dict[str, Any]:
    """Validate, then apply the valid items; ``data`` with ``adgroup_ids`` (and errors)."""
    ids = [adgroup_id for adgroup_id, _ in items]
    if len(set(ids)) != len(ids):
        raise RuleViolation(PARAM_ERROR, "an adgroup_id appears twice in one request")
    good, errors = _settle(items, ctx, allow_partial)
    for _adgroup_id, checked in good:
        apply(checked)
    data: dict[str, Any] = {"adgroup_ids": [adgroup_id for adgroup_id, _ in good]}
    if allow_partial:
        data["error_list"] = errors
    return data


def _apply_budget(account: SandboxAccount, ctx: WriteContext) -> Callable[[Any], None]:
    def apply(checked: tuple[AdGroup, float]) -> None:
        group, amount = checked
        account.set_budget(group, amount, request_id=ctx.request_id, endpoint=ctx.endpoint)

    return apply


def adgroup_budget_update(
    account: SandboxAccount, body: dict[str, Any], ctx: WriteContext
) -> dict[str, Any]:
    """``POST /adgroup/budget/update/``: ``budget: [{adgroup_id, budget}]``, batched."""
    for unsupported in ("scheduled_budget", "schedule_budget"):
        if unsupported in body:
            raise RuleViolation(NOT_IN_SANDBOX, f"{unsupported} is not supported in sandbox")
    entries = _batch(body, "budget", ctx, INVALID_BATCH_SIZE)
    allow_partial = bool_param(body, "allow_partial_success")
    items: list[tuple[str, Callable[[], Any]]] = []
    for entry in entries:
        if not isinstance(entry, dict) or "adgroup_id" not in entry or "budget" not in entry:
            raise RuleViolation(PARAM_ERROR, "budget: each item needs adgroup_id and budget")
        adgroup_id = id_list([entry["adgroup_id"]], "budget.adgroup_id", 1)[0]
        amount = entry["budget"]
        items.append((adgroup_id, partial(account.check_budget, adgroup_id, amount)))
    return _run_batch(items, ctx, allow_partial, _apply_budget(account, ctx))


def adgroup_status_update(
    account: SandboxAccount, body: dict[str, Any], ctx: WriteContext
) -> dict[str, Any]:
    """``POST /adgroup/status/update/``: ENABLE, DISABLE or DELETE a batch of ad groups."""
    ids = id_list(_batch(body, "adgroup_ids", ctx, TOO_MANY_IDS), "adgroup_ids", ctx.max_batch)
    status = required(body, "operation_status")
    if status not in (STATUS_ENABLE, STATUS_DISABLE, STATUS_DELETE):
        raise RuleViolation(PARAM_ERROR, f"operation_status: invalid value {status!r}")
    allow_partial = bool_param(body, "allow_partial_success")
    items: list[tuple[str, Callable[[], Any]]] = [
        (adgroup_id, partial(account.check_status, adgroup_id, status)) for adgroup_id in ids
    ]

    def apply(group: AdGroup) -> None:
        account.set_status(group, status, request_id=ctx.request_id, endpoint=ctx.endpoint)

    return {**_run_batch(items, ctx, allow_partial, apply), "status": status}


def adgroup_update(
    account: SandboxAccount, body: dict[str, Any], ctx: WriteContext
) -> dict[str, Any]:
    """``POST /adgroup/update/``: one ad group's ``budget`` (and ``adgroup_name``)."""
    supported = {"advertiser_id", "adgroup_id", "budget", "adgroup_name"}
    extra = sorted(set(body) - supported)
    if extra:
        raise RuleViolation(NOT_IN_SANDBOX, f"fields {extra} are not supported in sandbox")
    adgroup_id = id_list([required(body, "adgroup_id")], "adgroup_id", 1)[0]
    if ctx.reject([adgroup_id]):
        raise RuleViolation(PARAM_ERROR, f"adgroup {adgroup_id}: {INJECTED_ERROR}")
    group = account.editable_group(adgroup_id)
    name = body.get("adgroup_name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise RuleViolation(PARAM_ERROR, "adgroup_name: must be a non-empty string")
    if "budget" in body:
        group, amount = account.check_budget(adgroup_id, body["budget"])
        account.set_budget(group, amount, request_id=ctx.request_id, endpoint=ctx.endpoint)
    if name is not None:
        group.adgroup_name = name
    return adgroup_json(account, group)


def tt_video_authorize(
    account: SandboxAccount, body: dict[str, Any], ctx: WriteContext
) -> dict[str, Any]:
    """``POST /tt_video/authorize/``: bind (or renew) a post with a creator's auth code."""
    del ctx
    auth_code = required(body, "auth_code")
    if not isinstance(auth_code, str):
        raise RuleViolation(PARAM_ERROR, "auth_code: must be a string")
    if body.get("original_post_auth_code"):
        raise RuleViolation(NOT_IN_SANDBOX, "original_post_auth_code is not supported in sandbox")
    post = account.authorize(auth_code)
    return {"identity_id": post.identity_id, "item_id": post.item_id}
