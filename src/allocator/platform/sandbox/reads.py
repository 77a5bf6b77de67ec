"""The sandbox's read endpoints, objects rendered with the platform's field names.

Endpoints: ``/adgroup/get/``, ``/ad/get/``, ``/tt_video/list/``, ``/tt_video/info/``.
Each handler takes the account and the query parameters (``dict[str, str]``) and
returns the envelope's ``data``; parameter errors raise ``RuleViolation`` (40002). Deleted objects
are left out unless ``filtering.secondary_status`` (or ``primary_status``) asks for them
(``*_STATUS_ALL``), as on the platform. The report lives in :mod:`.report`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from allocator.platform.sandbox.account import RuleViolation, SandboxAccount
from allocator.platform.sandbox.objects import (
    BUDGET_MODE_TOTAL,
    TIME_FORMAT,
    Ad,
    AdGroup,
    SparkPost,
)
from allocator.platform.sandbox.params import (
    PARAM_ERROR,
    id_list,
    int_param,
    json_param,
    page_info,
    required,
)

__all__ = [
    "ADGROUP_FIELDS",
    "AD_FIELDS",
    "ad_get",
    "ad_json",
    "adgroup_get",
    "adgroup_json",
    "post_json",
    "tt_video_info",
    "tt_video_list",
]

MAX_FILTER_IDS = 100
MAX_PAGE_SIZE = 1000
MAX_VIDEO_PAGE_SIZE = 50


def adgroup_json(account: SandboxAccount, group: AdGroup) -> dict[str, Any]:
    """An ad group as ``/adgroup/get/`` lists it (budget is 0 under CBO)."""
    campaign = account.campaigns[group.campaign_id]
    cbo = campaign.budget_optimize_on
    end = group.schedule_end_time
    return {
        "advertiser_id": account.advertiser_id,
        "campaign_id": group.campaign_id,
        "campaign_name": campaign.campaign_name,
        "adgroup_id": group.adgroup_id,
        "adgroup_name": group.adgroup_name,
        "budget": 0.0 if cbo else group.budget,
        "budget_mode": group.budget_mode,
        "scheduled_budget": 0.0,
        "operation_status": group.operation_status,
        "secondary_status": account.adgroup_secondary_status(group),
        "optimization_goal": "CONVERT",
        "optimization_event": "SHOPPING",
        "billing_event": "OCPM",
        "bid_type": "BID_TYPE_NO_BID",
        "pacing": "PACING_MODE_SMOOTH",
        "skip_learning_phase": False,
        "placement_type": "PLACEMENT_TYPE_NORMAL",
        "placements": ["PLACEMENT_TIKTOK"],
        "schedule_type": "SCHEDULE_START_END"
        if group.budget_mode == BUDGET_MODE_TOTAL
        else "SCHEDULE_FROM_NOW",
        "schedule_start_time": group.schedule_start_time.strftime(TIME_FORMAT),
        "schedule_end_time": None if end is None else end.strftime(TIME_FORMAT),
        "create_time": group.create_time.strftime(TIME_FORMAT),
        "modify_time": group.modify_time.strftime(TIME_FORMAT),
    }


def ad_json(account: SandboxAccount, ad: Ad) -> dict[str, Any]:
    """An ad as ``/ad/get/`` lists it (Spark: ``tiktok_item_id`` set, ``video_id`` null)."""
    group = account.adgroups[ad.adgroup_id]
    return {
        "advertiser_id": account.advertiser_id,
        "campaign_id": group.campaign_id,
        "adgroup_id": ad.adgroup_id,
        "adgroup_name": group.adgroup_name,
        "ad_id": ad.ad_id,
        "ad_name": ad.ad_name,
        "ad_format": "SINGLE_VIDEO",
        "identity_type": ad.identity_type,
        "identity_id": ad.identity_id,
        "tiktok_item_id": ad.tiktok_item_id,
        "video_id": ad.video_id,
        "operation_status": ad.operation_status,
        "secondary_status": account.ad_secondary_status(ad),
        "create_time": ad.create_time.strftime(TIME_FORMAT),
        "modify_time": ad.create_time.strftime(TIME_FORMAT),
    }


ADGROUP_FIELDS = frozenset(
    {
        "advertiser_id",
        "campaign_id",
        "campaign_name",
        "adgroup_id",
        "adgroup_name",
        "budget",
        "budget_mode",
        "scheduled_budget",
        "operation_status",
        "secondary_status",
        "optimization_goal",
        "optimization_event",
        "billing_event",
        "bid_type",
        "pacing",
        "skip_learning_phase",
        "placement_type",
        "placements",
        "schedule_type",
        "schedule_start_time",
        "schedule_end_time",
        "create_time",
        "modify_time",
    }
)
"""Fields ``/adgroup/get/`` can return (the ``fields`` parameter picks among them)."""

AD_FIELDS = frozenset(
    {
        "advertiser_id",
        "campaign_id",
        "adgroup_id",
        "adgroup_name",
        "ad_id",
        "ad_name",
        "ad_format",
        "identity_type",
        "identity_id",
        "tiktok_item_id",
        "video_id",
        "operation_status",
        "secondary_status",
        "create_time",
        "modify_time",
    }
)
"""Fields ``/ad/get/`` can return."""


def post_json(
    account: SandboxAccount, post: SparkPost, auth_code: str | None = None
) -> dict[str, Any]:
    """A Spark post as ``/tt_video/info/`` and ``/tt_video/list/`` return it (UTC times).

    ``auth_info.ad_auth_status`` is ``AUTHORIZED``, ``EXPIRED`` or ``REVOKED`` (the
    platform's values are not documented; see the reference, section 6), or ``PENDING``
    when asked about a code issued but not yet applied.
    """
    pending = auth_code is not None and auth_code in account.pending_codes
    return {
        "item_info": {
            "item_id": post.item_id,
            "auth_code": auth_code if pending else post.auth_code,
            "item_type": "VIDEO",
            "status": "ITEM_STATUS_PUBLIC",
            "text": post.text,
        },
        "user_info": {
            "identity_id": post.identity_id,
            "identity_type": "AUTH_CODE",
            "tiktok_name": post.tiktok_name,
        },
        "auth_info": {
            "ad_auth_status": "PENDING" if pending else post.status,
            "auth_start_time": post.auth_start_time.strftime(TIME_FORMAT),
            "auth_end_time": post.auth_end_time.strftime(TIME_FORMAT),
            "invite_start_time": post.invite_start_time.strftime(TIME_FORMAT),
        },
        "video_info": {"video_id": f"v{post.item_id}", "duration": 21.5, "format": "mp4"},
    }


def _pick_fields(params: dict[str, str], allowed: frozenset[str]) -> list[str] | None:
    fields = json_param(params, "fields", list)
    if fields is None:
        return None
    unknown = [f for f in fields if f not in allowed]
    if unknown:
        raise RuleViolation(PARAM_ERROR, f"fields: Invalid field name(s) {unknown}.")
    return [str(f) for f in fields]


def _paginate(
    params: dict[str, str], rows: Sequence[dict[str, Any]], max_size: int, default: int
) -> dict[str, Any]:
    page = int_param(params, "page", 1, 1, 10**9)
    page_size = int_param(params, "page_size", default, 1, max_size)
    chunk = rows[(page - 1) * page_size : page * page_size]
    return {"list": list(chunk), "page_info": page_info(page, page_size, len(rows))}


def _status_filter(filtering: dict[str, Any], prefix: str) -> Callable[[bool, str], bool]:
    """A predicate over (deleted, secondary_status) from the status filters.

    Deleted objects are kept only for ``primary_status`` ``STATUS_ALL``/``STATUS_DELETE``
    or ``secondary_status`` ``<PREFIX>_STATUS_ALL``/``<PREFIX>_STATUS_DELETE``.
    """
    primary = filtering.get("primary_status", "STATUS_NOT_DELETE")
    secondary = filtering.get("secondary_status", f"{prefix}_STATUS_NOT_DELETE")
    if primary not in ("STATUS_ALL", "STATUS_NOT_DELETE", "STATUS_DELETE"):
        raise RuleViolation(PARAM_ERROR, f"filtering.primary_status: {primary!r} is not supported")
    wide = (f"{prefix}_STATUS_ALL", f"{prefix}_STATUS_NOT_DELETE")
    with_deleted = primary != "STATUS_NOT_DELETE" or secondary in (
        f"{prefix}_STATUS_ALL",
        f"{prefix}_STATUS_DELETE",
    )

    def keep(deleted: bool, status: str) -> bool:
        if deleted and not with_deleted:
            return False
        if primary == "STATUS_DELETE" and not deleted:
            return False
        return secondary in wide or status == secondary

    return keep


def _filtering(params: dict[str, str], allowed: set[str]) -> dict[str, Any]:
    filtering: dict[str, Any] = json_param(params, "filtering", dict) or {}
    unknown = sorted(set(filtering) - allowed)
    if unknown:
        raise RuleViolation(PARAM_ERROR, f"filtering: Unknown field(s) {unknown}.")
    for key in allowed:
        if key.endswith("_ids") and key in filtering:
            filtering[key] = set(id_list(filtering[key], f"filtering.{key}", MAX_FILTER_IDS))
    return filtering


_Entry = tuple[dict[str, str], bool, str, Callable[[], dict[str, Any]]]


def _select(
    params: dict[str, str],
    filtering: dict[str, Any],
    prefix: str,
    fields: list[str] | None,
    entries: Sequence[_Entry],
) -> dict[str, Any]:
    """Filter ``(ids, deleted, secondary_status, render)`` entries, pick fields, paginate."""
    keep = _status_filter(filtering, prefix)
    rows = []
    for ids, deleted, status, render in entries:
        if any(key in filtering and value not in filtering[key] for key, value in ids.items()):
            continue
        if keep(deleted, status):
            row = render()
            rows.append(row if fields is None else {f: row[f] for f in fields})
    return _paginate(params, rows, MAX_PAGE_SIZE, 10)


def adgroup_get(account: SandboxAccount, params: dict[str, str]) -> dict[str, Any]:
    """``GET /adgroup/get/``: ad groups, filtered and paginated (page_size <= 1000)."""
    fields = _pick_fields(params, ADGROUP_FIELDS)
    filtering = _filtering(
        params,
        {"adgroup_ids", "campaign_ids", "adgroup_name", "primary_status", "secondary_status"},
    )
    name = str(filtering.get("adgroup_name", ""))
    entries = [
        (
            {"adgroup_ids": g.adgroup_id, "campaign_ids": g.campaign_id},
            g.deleted,
            account.adgroup_secondary_status(g),
            partial(adgroup_json, account, g),
        )
        for g in sorted(account.adgroups.values(), key=lambda g: g.adgroup_id)
        if name in g.adgroup_name
    ]
    return _select(params, filtering, "ADGROUP", fields, entries)


def ad_get(account: SandboxAccount, params: dict[str, str]) -> dict[str, Any]:
    """``GET /ad/get/``: ads, filtered and paginated (page_size <= 1000)."""
    fields = _pick_fields(params, AD_FIELDS)
    filtering = _filtering(
        params, {"ad_ids", "adgroup_ids", "campaign_ids", "primary_status", "secondary_status"}
    )
    entries = [
        (
            {
                "ad_ids": ad.ad_id,
                "adgroup_ids": ad.adgroup_id,
                "campaign_ids": account.adgroups[ad.adgroup_id].campaign_id,
            },
            account.adgroups[ad.adgroup_id].deleted,
            account.ad_secondary_status(ad),
            partial(ad_json, account, ad),
        )
        for ad in sorted(account.ads.values(), key=lambda a: a.ad_id)
    ]
    return _select(params, filtering, "AD", fields, entries)


def tt_video_list(account: SandboxAccount, params: dict[str, str]) -> dict[str, Any]:
    """``GET /tt_video/list/``: posts bound to the account (page_size 1-50, default 20)."""
    item_types = json_param(params, "item_types", list) or ["VIDEO", "CAROUSEL"]
    if not set(item_types) <= {"VIDEO", "CAROUSEL"}:
        raise RuleViolation(PARAM_ERROR, "item_types: must be VIDEO and/or CAROUSEL.")
    keyword = params.get("keyword", "")
    rows = [
        post_json(account, post)
        for post in sorted(account.posts.values(), key=lambda p: p.item_id)
        if post.bound
        and "VIDEO" in item_types
        and (not keyword or keyword == post.item_id or keyword.lower() in post.text.lower())
    ]
    return _paginate(params, rows, MAX_VIDEO_PAGE_SIZE, 20)


def tt_video_info(account: SandboxAccount, params: dict[str, str]) -> dict[str, Any]:
    """``GET /tt_video/info/``: one post by auth code (current or issued, not yet applied)."""
    auth_code = str(required(params, "auth_code"))
    if auth_code in account.pending_codes:
        item_id, _days = account.pending_codes[auth_code]
        return post_json(account, account.posts[item_id], auth_code)
    post = account.post_by_code(auth_code)
    if post is None or not post.bound:
        raise RuleViolation(PARAM_ERROR, "auth_code: the auth code is invalid or has expired.")
    return post_json(account, post)
