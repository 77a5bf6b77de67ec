"""``GET /report/integrated/get/`` for the sandbox: BASIC reports per ad group or ad.

Supported: ``report_type=BASIC``, ``service_type=AUCTION``, ``data_level`` in
``AUCTION_ADGROUP`` / ``AUCTION_AD``, ``dimensions`` ``["adgroup_id"]`` or
``["ad_id"]``, optionally with ``"stat_time_day"``; ``start_date``/``end_date``
(inclusive, at most 30 days with ``stat_time_day`` and 365 without) or
``query_lifetime=true``; ``filtering`` as the platform's list of
``{field_name, filter_type: "IN", filter_value: "<JSON list>"}`` over ``adgroup_ids``,
``ad_ids``, ``campaign_ids`` and ``ad_status`` / ``adgroup_status`` (``STATUS_ALL``
includes deleted objects); ``page``/``page_size`` (<= 1000).

Rows are ``{"dimensions": {...}, "metrics": {...}}`` with every metric a string like the
platform sends them ("20.00" for currency and ratios, "123" for counts); day keys are
``"YYYY-MM-DD 00:00:00"``. Rows whose spend, impressions, clicks and conversions are all
zero are left out, as the platform leaves out days without delivery. The sandbox reports
its conversions under both the website (``complete_payment``,
``total_complete_payment_rate``) and the app purchase (``purchase``,
``total_purchase_value``) metrics, and as ``conversion`` / ``result``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import numpy as np

from allocator._types import FloatArray
from allocator.platform.sandbox.account import RuleViolation, SandboxAccount
from allocator.platform.sandbox.params import (
    PARAM_ERROR,
    bool_param,
    date_param,
    id_list,
    int_param,
    json_param,
    page_info,
    required,
)

__all__ = ["METRICS", "report_integrated_get"]

NOT_IN_SANDBOX = 40009
MAX_DAILY_SPAN = 30
MAX_SPAN = 365
MAX_PAGE_SIZE = 1000

Base = dict[str, FloatArray]


def _ratio(num: FloatArray, den: FloatArray, scale: float = 1.0) -> FloatArray:
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num * scale, den, out=out, where=den > 0)
    return out


_MONEY: dict[str, Callable[[Base], FloatArray]] = {
    "spend": lambda b: b["spend"],
    "cpc": lambda b: _ratio(b["spend"], b["clicks"]),
    "cpm": lambda b: _ratio(b["spend"], b["impressions"], 1000.0),
    "cost_per_conversion": lambda b: _ratio(b["spend"], b["conversions"]),
    "cost_per_result": lambda b: _ratio(b["spend"], b["conversions"]),
    "cost_per_complete_payment": lambda b: _ratio(b["spend"], b["conversions"]),
    "total_complete_payment_rate": lambda b: b["value"],
    "value_per_complete_payment": lambda b: _ratio(b["value"], b["conversions"]),
    "total_purchase_value": lambda b: b["value"],
    "ctr": lambda b: _ratio(b["clicks"], b["impressions"], 100.0),
    "conversion_rate": lambda b: _ratio(b["conversions"], b["clicks"], 100.0),
    "complete_payment_roas": lambda b: _ratio(b["value"], b["spend"]),
}
_COUNTS: dict[str, Callable[[Base], FloatArray]] = {
    "impressions": lambda b: b["impressions"],
    "clicks": lambda b: b["clicks"],
    "conversion": lambda b: b["conversions"],
    "result": lambda b: b["conversions"],
    "real_time_conversion": lambda b: b["conversions"],
    "complete_payment": lambda b: b["conversions"],
    "purchase": lambda b: b["conversions"],
    "video_watched_2s": lambda b: b["video_watched_2s"],
    "video_watched_6s": lambda b: b["video_watched_6s"],
}
_ATTRIBUTES = ("adgroup_name", "campaign_id", "campaign_name", "adgroup_id", "ad_name")

METRICS = frozenset(_MONEY) | frozenset(_COUNTS) | frozenset(_ATTRIBUTES)
"""Metric names the sandbox reports."""


def _check_shape(params: dict[str, str]) -> tuple[str, bool]:
    """Validate type, level and dimensions; return the id dimension and whether daily."""
    report_type = required(params, "report_type")
    if report_type in ("AUDIENCE", "PLAYABLE_MATERIAL", "CATALOG", "BC", "TT_SHOP"):
        raise RuleViolation(
            NOT_IN_SANDBOX, f"report_type {report_type} is not supported in sandbox"
        )
    if report_type != "BASIC":
        raise RuleViolation(PARAM_ERROR, f"report_type: invalid value {report_type!r}")
    if params.get("service_type", "AUCTION") != "AUCTION":
        raise RuleViolation(NOT_IN_SANDBOX, "only service_type AUCTION is supported in sandbox")
    level = required(params, "data_level")
    id_dim = {"AUCTION_ADGROUP": "adgroup_id", "AUCTION_AD": "ad_id"}.get(level)
    if id_dim is None:
        code = NOT_IN_SANDBOX if level.startswith("AUCTION_") else PARAM_ERROR
        raise RuleViolation(code, f"data_level {level!r} is not supported in sandbox")
    dims = json_param(params, "dimensions", list)
    if dims is None:
        raise RuleViolation(PARAM_ERROR, "dimensions: Missing data for required field.")
    if "stat_time_hour" in dims:
        raise RuleViolation(NOT_IN_SANDBOX, "stat_time_hour is not supported in sandbox")
    if id_dim not in dims or not set(dims) <= {id_dim, "stat_time_day"}:
        raise RuleViolation(
            PARAM_ERROR,
            f"dimensions: {dims} is invalid for {level}; use [{id_dim!r}, 'stat_time_day']",
        )
    return id_dim, "stat_time_day" in dims


def _date_window(params: dict[str, str], account: SandboxAccount, daily: bool) -> tuple[date, date]:
    if bool_param(params, "query_lifetime"):
        if daily:
            raise RuleViolation(PARAM_ERROR, "query_lifetime cannot be used with stat_time_day")
        return account.ledger.start, account.today - timedelta(days=1)
    start, end = date_param(params, "start_date"), date_param(params, "end_date")
    if end < start:
        raise RuleViolation(PARAM_ERROR, "end_date must not be earlier than start_date")
    span = (end - start).days + 1
    limit = MAX_DAILY_SPAN if daily else MAX_SPAN
    if span > limit:
        raise RuleViolation(
            PARAM_ERROR,
            f"the time span is {span} days; at most {limit} days are allowed "
            f"{'with stat_time_day' if daily else 'per request'}",
        )
    return start, end


def _object_filter(params: dict[str, str]) -> tuple[dict[str, set[str]], bool]:
    """``filtering`` as {field: allowed ids}, and whether deleted objects are included."""
    raw = json_param(params, "filtering", list) or []
    by_field: dict[str, set[str]] = {}
    with_deleted = False
    for item in raw:
        if not isinstance(item, dict) or item.get("filter_type", "IN") != "IN":
            raise RuleViolation(PARAM_ERROR, "filtering: each filter needs filter_type IN here")
        name = item.get("field_name")
        if "filter_value" not in item:
            raise RuleViolation(PARAM_ERROR, "filtering: filter_value is required")
        values = item["filter_value"]
        if isinstance(values, str):  # the platform's form: a JSON string inside the JSON
            values = json_param({"filter_value": values}, "filter_value", list)
        if name in ("adgroup_ids", "ad_ids", "campaign_ids"):
            by_field[name] = set(id_list(values, f"filtering.{name}", MAX_PAGE_SIZE))
        elif name in ("ad_status", "adgroup_status", "campaign_status"):
            with_deleted = with_deleted or "STATUS_ALL" in values or "STATUS_DELETE" in values
        else:
            raise RuleViolation(PARAM_ERROR, f"filtering: field_name {name!r} is not supported")
    return by_field, with_deleted


def _objects(
    account: SandboxAccount, id_dim: str, by_field: dict[str, set[str]], with_deleted: bool
) -> list[tuple[str, dict[str, str], int]]:
    """(id, attributes, arm) of the objects in the report, sorted by id."""
    out = []
    for group in account.adgroups.values():
        if group.deleted and not with_deleted:
            continue
        campaign = account.campaigns[group.campaign_id]
        attrs = {
            "adgroup_id": group.adgroup_id,
            "adgroup_name": group.adgroup_name,
            "campaign_id": campaign.campaign_id,
            "campaign_name": campaign.campaign_name,
        }
        ads = [a for a in account.ads.values() if a.adgroup_id == group.adgroup_id]
        entries = (
            [(group.adgroup_id, attrs)]
            if id_dim == "adgroup_id"
            else [(a.ad_id, {**attrs, "ad_id": a.ad_id, "ad_name": a.ad_name}) for a in ads]
        )
        for obj_id, obj_attrs in entries:
            if any(obj_attrs.get(key[:-1], None) not in ids for key, ids in by_field.items()):
                continue
            out.append((obj_id, obj_attrs, group.arm))
    return sorted(out, key=lambda entry: entry[0])


def _format(metrics: list[str], base: Base, attrs: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Metric dicts (strings) for each row; ``base`` arrays have shape ``(n_rows,)``."""
    columns: dict[str, list[str]] = {}
    for name in metrics:
        if name in _MONEY:
            columns[name] = [f"{v:.2f}" for v in _MONEY[name](base)]
        elif name in _COUNTS:
            columns[name] = [f"{v:.0f}" for v in np.rint(_COUNTS[name](base))]
        else:
            columns[name] = [row.get(name, "") for row in attrs]
    return [{name: columns[name][i] for name in metrics} for i in range(len(attrs))]


def report_integrated_get(account: SandboxAccount, params: dict[str, str]) -> dict[str, Any]:
    """``GET /report/integrated/get/``: the BASIC report described in the module docstring."""
    required(params, "advertiser_id")
    id_dim, daily = _check_shape(params)
    metrics = json_param(params, "metrics", list) or ["spend", "impressions"]
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise RuleViolation(PARAM_ERROR, f"metrics: Invalid metric name(s) {unknown}.")
    start, end = _date_window(params, account, daily)
    page = int_param(params, "page", 1, 1, 10**9)
    page_size = int_param(params, "page_size", 10, 1, MAX_PAGE_SIZE)
    by_field, with_deleted = _object_filter(params)
    objects = _objects(account, id_dim, by_field, with_deleted)
    days, data = account.ledger.window(start, end)
    arms = np.array([arm for _, _, arm in objects], dtype=np.int64)
    keys: list[tuple[tuple[str, dict[str, str], int], date | None]]
    if daily:  # rows: object-major, then day
        base = {k: v[arms].reshape(-1) for k, v in data.items()}
        keys = [(o, d) for o in objects for d in days]
    else:
        base = {k: v[arms].sum(axis=1) for k, v in data.items()}
        keys = [(o, None) for o in objects]
    if not keys:
        return {"list": [], "page_info": page_info(page, page_size, 0)}
    live = (base["spend"] > 0) | (base["impressions"] > 0) | (base["clicks"] > 0)
    live |= base["conversions"] > 0
    rows_idx = np.flatnonzero(live)
    total = len(rows_idx)
    chosen = rows_idx[(page - 1) * page_size : page * page_size]
    page_base = {k: v[chosen] for k, v in base.items()}
    page_keys = [keys[i] for i in chosen]
    formatted = _format([str(m) for m in metrics], page_base, [obj[1] for obj, _ in page_keys])
    rows = []
    for (obj, day), values in zip(page_keys, formatted, strict=True):
        dims = {id_dim: obj[0]}
        if day is not None:
            dims["stat_time_day"] = f"{day.isoformat()} 00:00:00"
        rows.append({"dimensions": dims, "metrics": values})
    return {"list": rows, "page_info": page_info(page, page_size, total)}
