"""Typed records of what the API returns, and the tolerant parsing they need.

The API sends ids as strings or numbers, metrics as strings ("20.00"), numbers, or "-"
for "nothing to report", and times as "YYYY-MM-DD HH:MM:SS" (UTC for authorizations,
the advertiser's time zone for reports). Everything here accepts each form and raises
:class:`~allocator.errors.DataError` naming the endpoint and field otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

from allocator.core.arms import Authorization, AuthStatus
from allocator.errors import DataError

__all__ = [
    "SPARK_IDENTITY_TYPES",
    "AdGroupInfo",
    "AdInfo",
    "AuthorizedPost",
    "auth_status_from_platform",
    "parse_amount",
    "parse_count",
    "parse_day",
    "parse_id",
    "parse_utc",
    "to_cents",
]

SPARK_IDENTITY_TYPES = frozenset({"AUTH_CODE", "TT_USER", "BC_AUTH_TT"})
"""Identity types of Spark Ads (a TikTok post); ``CUSTOMIZED_USER`` is a dark post."""
DARK_IDENTITY_TYPE = "CUSTOMIZED_USER"

_EMPTY = (None, "", "-", "--")
_CENT = Decimal("0.01")
_WIDE = Context(prec=400)  # holds any float (up to 1.8e308) to the cent


def parse_id(value: object, *, where: str, field: str) -> str:
    """An id sent as a string or an integer, as a string."""
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
        raise DataError(f"missing or malformed id {value!r}", path=where, column=field)
    return str(value).strip()


def parse_amount(value: object, *, where: str, field: str) -> float:
    """A non-negative finite number sent as a number or a string; "-" or empty is 0."""
    if value in _EMPTY:
        return 0.0
    if isinstance(value, bool):
        raise DataError(f"not a number: {value!r}", path=where, column=field)
    try:
        number = float(value.replace(",", "")) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataError(f"not a number: {value!r}", path=where, column=field) from None
    if not math.isfinite(number) or number < 0:
        raise DataError(f"not a finite non-negative number: {value!r}", path=where, column=field)
    return number


def parse_count(value: object, *, where: str, field: str) -> int:
    """A non-negative whole count ("1200", 1200, "1,200.0"); "-" or empty is 0."""
    number = parse_amount(value, where=where, field=field)
    if not number.is_integer():
        raise DataError(f"not a whole count: {value!r}", path=where, column=field)
    return int(number)


def parse_day(value: object, *, where: str, field: str) -> date:
    """A day from "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS"."""
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise DataError(f"not a date: {value!r}", path=where, column=field) from None


def parse_utc(value: object, *, where: str, field: str) -> datetime | None:
    """A UTC time from "YYYY-MM-DD HH:MM:SS" (or ISO 8601); ``None`` when empty."""
    if value in _EMPTY:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise DataError(f"not a time: {value!r}", path=where, column=field) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def to_cents(value: float | str | Decimal) -> Decimal:
    """``value`` rounded half-up to cents (from its shortest decimal form, not binary).

    Raises:
        ValueError: ``value`` is not a finite number.
    """
    try:
        exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not exact.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return exact.quantize(_CENT, rounding=ROUND_HALF_UP, context=_WIDE)


def auth_status_from_platform(raw: str | None) -> AuthStatus:
    """Map ``auth_info.ad_auth_status`` (values not documented) onto :class:`AuthStatus`.

    Lapsed states are recognised by their words (revoked, cancelled, unauthorized,
    invalid, expired, deleted); anything else counts as active, so an unknown value with
    a past ``auth_end_time`` still reads as lapsed through the expiry time.
    """
    text = (raw or "").upper()
    if any(word in text for word in ("REVOK", "CANCEL", "UNAUTH", "INVALID")):
        return AuthStatus.REVOKED
    if "EXPIR" in text:
        return AuthStatus.EXPIRED
    if "DELET" in text:
        return AuthStatus.DELETED
    return AuthStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class AdGroupInfo:
    """An ad group as ``/adgroup/get/`` reports it (budget in currency per day for DAY mode).

    ``create_time`` is the raw "YYYY-MM-DD HH:MM:SS" string, or ``None``.
    """

    adgroup_id: str
    campaign_id: str | None
    name: str
    budget: float
    budget_mode: str
    operation_status: str
    secondary_status: str | None
    create_time: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any], *, where: str) -> AdGroupInfo:
        """Parse one ``data.list`` row."""
        campaign = row.get("campaign_id")
        return cls(
            adgroup_id=parse_id(row.get("adgroup_id"), where=where, field="adgroup_id"),
            campaign_id=None if campaign in _EMPTY else str(campaign),
            name=str(row.get("adgroup_name") or ""),
            budget=parse_amount(row.get("budget"), where=where, field="budget"),
            budget_mode=str(row.get("budget_mode") or ""),
            operation_status=str(row.get("operation_status") or ""),
            secondary_status=_opt_str(row.get("secondary_status")),
            create_time=_opt_str(row.get("create_time")),
        )

    def unsupported_reason(self) -> str | None:
        """Why allocator cannot manage this ad group's budget, or ``None`` if it can."""
        if self.budget_mode == "BUDGET_MODE_DAY":
            return None
        if self.budget_mode == "BUDGET_MODE_INFINITE" and self.budget == 0:
            return (
                "campaign budget optimisation is on (budget_mode BUDGET_MODE_INFINITE, "
                "budget 0): the campaign holds the budget, not the ad group"
            )
        return f"budget_mode {self.budget_mode or 'missing'} is not a daily budget"


@dataclass(frozen=True, slots=True)
class AdInfo:
    """An ad as ``/ad/get/`` reports it: its ad group and the post or identity behind it."""

    ad_id: str
    adgroup_id: str
    name: str
    identity_type: str | None
    identity_id: str | None
    tiktok_item_id: str | None
    operation_status: str
    secondary_status: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any], *, where: str) -> AdInfo:
        """Parse one ``data.list`` row."""
        return cls(
            ad_id=parse_id(row.get("ad_id"), where=where, field="ad_id"),
            adgroup_id=parse_id(row.get("adgroup_id"), where=where, field="adgroup_id"),
            name=str(row.get("ad_name") or ""),
            identity_type=_opt_str(row.get("identity_type")),
            identity_id=_opt_str(row.get("identity_id")),
            tiktok_item_id=_opt_str(row.get("tiktok_item_id")),
            operation_status=str(row.get("operation_status") or ""),
            secondary_status=_opt_str(row.get("secondary_status")),
        )


@dataclass(frozen=True, slots=True)
class AuthorizedPost:
    """A Spark post bound to the advertiser (``/tt_video/info/``, ``/tt_video/list/``).

    Times are UTC. ``platform_status`` is ``auth_info.ad_auth_status`` as sent.
    """

    item_id: str
    identity_id: str | None
    identity_type: str | None
    tiktok_name: str | None
    platform_status: str | None
    auth_start: datetime | None
    auth_end: datetime | None

    @classmethod
    def from_payload(cls, payload: dict[str, Any], *, where: str) -> AuthorizedPost:
        """Parse ``{item_info, user_info, auth_info}``."""
        item = _obj(payload.get("item_info"))
        user = _obj(payload.get("user_info"))
        auth = _obj(payload.get("auth_info"))
        return cls(
            item_id=parse_id(item.get("item_id"), where=where, field="item_info.item_id"),
            identity_id=_opt_str(user.get("identity_id")),
            identity_type=_opt_str(user.get("identity_type")),
            tiktok_name=_opt_str(user.get("tiktok_name")),
            platform_status=_opt_str(auth.get("ad_auth_status")),
            auth_start=parse_utc(auth.get("auth_start_time"), where=where, field="auth_start_time"),
            auth_end=parse_utc(auth.get("auth_end_time"), where=where, field="auth_end_time"),
        )

    @property
    def authorization(self) -> Authorization:
        """The engine's view: status from ``ad_auth_status``, expiry from ``auth_end_time``."""
        return Authorization(
            status=auth_status_from_platform(self.platform_status), expires_at=self.auth_end
        )


def _opt_str(value: object) -> str | None:
    return None if value in _EMPTY else str(value)


def _obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
