"""The sandbox account's objects: campaigns, ad groups, ads, Spark posts and edit records.

Plain mutable records the :class:`~allocator.platform.sandbox.account.SandboxAccount`
holds and changes, plus the platform's enum strings they carry (budget modes, operation
statuses, authorization statuses). Budgets are currency (per day for
``BUDGET_MODE_DAY``, in all for ``BUDGET_MODE_TOTAL``); times are timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time
from typing import Any

__all__ = [
    "AUTH_AUTHORIZED",
    "AUTH_EXPIRED",
    "AUTH_REVOKED",
    "BUDGET_MODE_DAY",
    "BUDGET_MODE_INFINITE",
    "BUDGET_MODE_TOTAL",
    "STATUS_DELETE",
    "STATUS_DISABLE",
    "STATUS_ENABLE",
    "STATUS_FROZEN",
    "TIME_FORMAT",
    "AccountObjects",
    "Ad",
    "AdGroup",
    "Campaign",
    "EditRecord",
    "SparkPost",
    "record_json",
]

BUDGET_MODE_DAY = "BUDGET_MODE_DAY"
BUDGET_MODE_TOTAL = "BUDGET_MODE_TOTAL"
BUDGET_MODE_INFINITE = "BUDGET_MODE_INFINITE"
STATUS_ENABLE, STATUS_DISABLE, STATUS_DELETE, STATUS_FROZEN = (
    "ENABLE",
    "DISABLE",
    "DELETE",
    "FROZEN",
)
AUTH_AUTHORIZED, AUTH_EXPIRED, AUTH_REVOKED = "AUTHORIZED", "EXPIRED", "REVOKED"

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
"""The platform's datetime strings (UTC, no zone suffix)."""


@dataclass(slots=True)
class Campaign:
    """A campaign; with ``budget_optimize_on`` its ad groups share ``budget`` (CBO)."""

    campaign_id: str
    campaign_name: str
    budget: float
    budget_mode: str
    budget_optimize_on: bool
    operation_status: str
    create_time: datetime


@dataclass(slots=True)
class AdGroup:
    """An ad group: one arm of the delivery model (``arm``), one ad."""

    adgroup_id: str
    campaign_id: str
    adgroup_name: str
    budget: float
    budget_mode: str
    operation_status: str
    arm: int
    create_time: datetime
    modify_time: datetime
    schedule_start_time: datetime
    schedule_end_time: datetime | None = None
    deleted: bool = False


@dataclass(slots=True)
class Ad:
    """An ad: a Spark post (``identity_type`` ``AUTH_CODE``) or a dark post."""

    ad_id: str
    adgroup_id: str
    ad_name: str
    identity_type: str
    identity_id: str
    tiktok_item_id: str | None
    video_id: str | None
    operation_status: str
    create_time: datetime


@dataclass(slots=True)
class SparkPost:
    """A creator's post bound (or about to be bound) to the account with an auth code.

    ``status`` is ``AUTHORIZED``, ``EXPIRED`` or ``REVOKED``; ``bound`` is False until
    ``/tt_video/authorize/`` applied a code for it.
    """

    item_id: str
    auth_code: str
    identity_id: str
    tiktok_name: str
    text: str
    status: str
    auth_start_time: datetime
    auth_end_time: datetime
    invite_start_time: datetime
    bound: bool = True

    def active_on(self, day: date) -> bool:
        """True when the post may deliver on ``day`` (authorized at the day's start)."""
        start = datetime.combine(day, time(), tzinfo=UTC)
        return self.bound and self.status == AUTH_AUTHORIZED and self.auth_end_time > start


@dataclass(frozen=True, slots=True)
class AccountObjects:
    """The objects an account starts with; ``adgroups[i].arm`` index the delivery arms."""

    campaigns: Iterable[Campaign]
    adgroups: Iterable[AdGroup]
    ads: Iterable[Ad]
    posts: Iterable[SparkPost]


@dataclass(frozen=True, slots=True)
class EditRecord:
    """One applied write to an ad group, as the sandbox recorded it.

    ``changed`` is False when the write set the value it already had (still applied:
    a duplicate send shows up here).
    """

    seq: int
    time: str
    sim_date: str
    adgroup_id: str
    field: str
    from_value: float | str
    to_value: float | str
    changed: bool
    request_id: str
    endpoint: str

    def to_json(self) -> dict[str, Any]:
        """JSON object with keys ``seq, time, sim_date, adgroup_id, field, from, to, ...``."""
        return record_json(self, rename={"from_value": "from", "to_value": "to"})


def record_json(
    record: Any, names: Sequence[str] | None = None, rename: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A record's fields as JSON values, datetimes as :data:`TIME_FORMAT` text.

    Args:
        record: a dataclass instance.
        names: the fields to show, in this order (default: all, in field order).
        rename: JSON key per field where it differs from the field's name.
    """
    shown = [f.name for f in fields(record)] if names is None else names
    keys = rename or {}
    return {keys.get(name, name): _json_value(getattr(record, name)) for name in shown}


def _json_value(value: object) -> object:
    return value.strftime(TIME_FORMAT) if isinstance(value, datetime) else value
