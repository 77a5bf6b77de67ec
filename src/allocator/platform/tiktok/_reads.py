"""Reads: ad groups, ads, authorized Spark posts, daily reports; all paginated and retried."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, Literal

from allocator.core.arms import (
    AdGroup,
    AdGroupStatus,
    Authorization,
    AuthStatus,
    Kind,
    Observation,
)
from allocator.errors import DataError
from allocator.platform.tiktok._config import (
    FILTER_IDS_MAX,
    PAGE_SIZE,
    POST_PAGE_SIZE,
    REPORT_DAYS_MAX,
    TikTokConfig,
)
from allocator.platform.tiktok._records import (
    DARK_IDENTITY_TYPE,
    SPARK_IDENTITY_TYPES,
    AdGroupInfo,
    AdInfo,
    AuthorizedPost,
    parse_amount,
    parse_count,
    parse_day,
    parse_id,
)
from allocator.platform.tiktok._retry import RetryPolicy, is_retryable_read
from allocator.platform.tiktok._transport import Envelope, Transport

__all__ = ["AdvertiserEndpoints", "Reader", "ReportLevel", "ReportRow", "date_windows"]

log = logging.getLogger("allocator.platform.tiktok")

ADGROUP_FIELDS = (
    "adgroup_id",
    "campaign_id",
    "adgroup_name",
    "budget",
    "budget_mode",
    "operation_status",
    "secondary_status",
    "create_time",
)
AD_FIELDS = (
    "ad_id",
    "adgroup_id",
    "ad_name",
    "identity_type",
    "identity_id",
    "tiktok_item_id",
    "operation_status",
    "secondary_status",
)
BASE_METRICS = (
    "spend",
    "impressions",
    "clicks",
    "conversion",
    "video_watched_2s",
    "video_watched_6s",
)
_MAX_PAGES = 10_000
_LOST_AUTH = {
    "AD_STATUS_CREATOR_AUTHORIZATION_REVOKED": AuthStatus.REVOKED,
    "AD_STATUS_ASSET_AUTHORIZATION_LOST": AuthStatus.EXPIRED,
}


class ReportLevel(StrEnum):
    """``data_level`` of a BASIC report: one row per ad group or per ad, per day."""

    ADGROUP = "AUCTION_ADGROUP"
    AD = "AUCTION_AD"

    @property
    def id_dimension(self) -> str:
        """The id dimension of this level (``adgroup_id`` or ``ad_id``)."""
        return "adgroup_id" if self is ReportLevel.ADGROUP else "ad_id"


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One entity's delivery on one day (advertiser time zone).

    Attributes:
        day: the report day.
        level: ad group or ad rows.
        entity_id: the ``adgroup_id`` or ``ad_id``.
        spend: currency spent.
        impressions: impressions.
        clicks: clicks.
        conversions: optimisation events reported so far (``conversion``).
        value: conversion value in currency, ``None`` when no value metric is configured.
        video_watched_2s: plays of at least 2 seconds.
        video_watched_6s: plays of at least 6 seconds.
    """

    day: date
    level: ReportLevel
    entity_id: str
    spend: float
    impressions: int
    clicks: int
    conversions: float
    value: float | None
    video_watched_2s: int
    video_watched_6s: int

    def to_observation(self, adgroup_id: str | None = None) -> Observation:
        """The engine's row; ``adgroup_id`` defaults to the entity (ad group rows)."""
        return Observation(
            date=self.day,
            adgroup_id=adgroup_id or self.entity_id,
            spend=self.spend,
            impressions=self.impressions,
            clicks=self.clicks,
            conversions=self.conversions,
            value=self.value,
        )


def date_windows(
    start: date, end: date, days: int = REPORT_DAYS_MAX
) -> Iterator[tuple[date, date]]:
    """Consecutive inclusive windows of at most ``days`` days covering ``start``..``end``."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    while start <= end:
        stop = min(end, start + timedelta(days=days - 1))
        yield start, stop
        start = stop + timedelta(days=1)


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class AdvertiserEndpoints:
    """The reader's and the writer's base: retried calls for the configured advertiser.

    The advertiser id is added to every query (GET) or body (POST).
    """

    def __init__(self, transport: Transport, config: TikTokConfig) -> None:
        self._transport = transport
        self._config = config

    def _call(
        self,
        method: Literal["GET", "POST"],
        path: str,
        payload: Mapping[str, object],
        policy: RetryPolicy,
        retry_on: Callable[[BaseException], bool],
    ) -> Envelope:
        scoped = {"advertiser_id": self._config.advertiser_id, **payload}
        params, body = (scoped, None) if method == "GET" else (None, scoped)
        return self._transport.request(
            method, path, params=params, body=body, policy=policy, retry_on=retry_on
        )


class Reader(AdvertiserEndpoints):
    """All GET endpoints, over a :class:`Transport`, with the read retry policy."""

    def get(self, path: str, params: Mapping[str, object]) -> Envelope:
        """One retried GET with the advertiser id added."""
        return self._call("GET", path, params, self._config.read_retry, is_retryable_read)

    def paginate(
        self, path: str, params: Mapping[str, object], *, page_size: int = PAGE_SIZE
    ) -> list[dict[str, Any]]:
        """Every ``data.list`` row over all pages (``page_info.total_page``)."""
        rows: list[dict[str, Any]] = []
        for page in range(1, _MAX_PAGES + 1):
            data = self.get(path, {**params, "page": page, "page_size": page_size}).data
            batch = data.get("list") or []
            if not isinstance(batch, list) or not all(isinstance(r, dict) for r in batch):
                raise DataError("data.list is not a list of objects", path=path, column="list")
            rows.extend(batch)
            info = data.get("page_info") or {}
            total = parse_count(info.get("total_page", page), where=path, field="total_page")
            if page >= total or not batch:
                return rows
        raise DataError(f"more than {_MAX_PAGES} pages", path=path, column="page_info")

    def adgroup_infos(self, adgroup_ids: Sequence[str] = ()) -> list[AdGroupInfo]:
        """Ad groups of the configured scope, or exactly ``adgroup_ids`` when given."""
        path = "/adgroup/get/"
        if adgroup_ids:
            filters: list[dict[str, list[str]]] = [
                {"adgroup_ids": list(chunk)} for chunk in _chunks(adgroup_ids, FILTER_IDS_MAX)
            ]
        else:
            scope = list(self._config.campaign_ids)
            filters = [{"campaign_ids": scope}] if scope else [{}]
        return [
            AdGroupInfo.from_row(row, where=path)
            for filtering in filters
            for row in self.paginate(
                path, {"fields": list(ADGROUP_FIELDS), "filtering": filtering or None}
            )
        ]

    def ad_infos(self, adgroup_ids: Sequence[str]) -> list[AdInfo]:
        """Ads of the given ad groups (deleted ads excluded, as the API does by default)."""
        path = "/ad/get/"
        return [
            AdInfo.from_row(row, where=path)
            for chunk in _chunks(adgroup_ids, FILTER_IDS_MAX)
            for row in self.paginate(
                path, {"fields": list(AD_FIELDS), "filtering": {"adgroup_ids": list(chunk)}}
            )
        ]

    def authorized_posts(self) -> list[AuthorizedPost]:
        """Every Spark post bound to the advertiser (``/tt_video/list/``)."""
        path = "/tt_video/list/"
        rows = self.paginate(path, {}, page_size=POST_PAGE_SIZE)
        return [AuthorizedPost.from_payload(row, where=path) for row in rows]

    def post_info(self, auth_code: str) -> AuthorizedPost:
        """The post and authorization behind one creator code (``/tt_video/info/``)."""
        path = "/tt_video/info/"
        return AuthorizedPost.from_payload(
            self.get(path, {"auth_code": auth_code}).data, where=path
        )

    def report(self, start: date, end: date, level: ReportLevel) -> list[ReportRow]:
        """Daily BASIC report rows for ``start``..``end``, in 30-day requests."""
        path = "/report/integrated/get/"
        metric = self._config.value_metric
        metrics = [*BASE_METRICS, *([metric.value] if metric else [])]
        rows: list[ReportRow] = []
        for lo, hi in date_windows(start, end):
            params = {
                "report_type": "BASIC",
                "data_level": level.value,
                "dimensions": [level.id_dimension, "stat_time_day"],
                "metrics": metrics,
                "start_date": lo.isoformat(),
                "end_date": hi.isoformat(),
            }
            rows.extend(self._report_row(r, level) for r in self.paginate(path, params))
        return rows

    def _report_row(self, row: dict[str, Any], level: ReportLevel) -> ReportRow:
        where = "/report/integrated/get/"
        dims = row.get("dimensions") or {}
        values = row.get("metrics") or {}
        if not isinstance(dims, dict) or not isinstance(values, dict):
            raise DataError("row without dimensions/metrics objects", path=where, column="list")
        metric = self._config.value_metric
        entity = parse_id(dims.get(level.id_dimension), where=where, field=level.id_dimension)

        def amount(name: str) -> float:
            return parse_amount(values.get(name), where=where, field=f"{entity}.{name}")

        def count(name: str) -> int:
            return parse_count(values.get(name), where=where, field=f"{entity}.{name}")

        return ReportRow(
            day=parse_day(dims.get("stat_time_day"), where=where, field="stat_time_day"),
            level=level,
            entity_id=entity,
            spend=amount("spend"),
            impressions=count("impressions"),
            clicks=count("clicks"),
            conversions=amount("conversion"),
            value=amount(metric.value) if metric else None,
            video_watched_2s=count("video_watched_2s"),
            video_watched_6s=count("video_watched_6s"),
        )

    def adgroups(self) -> tuple[list[AdGroup], list[tuple[str, str]]]:
        """The scope's ad groups as engine records, and those allocator cannot manage.

        Returns:
            ``(managed, unsupported)``: records of the manageable ad groups, and
            ``(adgroup_id, reason)`` for each ad group with a non-daily budget (campaign
            budget optimisation included), not exactly one ad, or an unknown identity.
        """
        infos = self.adgroup_infos()
        ads_by_group: dict[str, list[AdInfo]] = {g.adgroup_id: [] for g in infos}
        for ad in self.ad_infos([g.adgroup_id for g in infos]):
            ads_by_group.setdefault(ad.adgroup_id, []).append(ad)
        unsupported: list[tuple[str, str]] = []
        managed: list[tuple[AdGroupInfo, AdInfo]] = []
        for group in infos:
            ads = ads_by_group[group.adgroup_id]
            why = group.unsupported_reason()
            if why is None and len(ads) != 1:
                why = f"holds {len(ads)} ads; allocator needs exactly one"
            if why is None:
                why = _ad_problem(ads[0])
            if why is None:
                managed.append((group, ads[0]))
            else:
                unsupported.append((group.adgroup_id, why))
        needs_posts = any(ad.identity_type == "AUTH_CODE" for _, ad in managed)
        posts = {p.item_id: p for p in self.authorized_posts()} if needs_posts else {}
        return [_adgroup(g, ad, posts) for g, ad in managed], unsupported


def _ad_problem(ad: AdInfo) -> str | None:
    if ad.identity_type == DARK_IDENTITY_TYPE:
        return None
    if ad.identity_type not in SPARK_IDENTITY_TYPES:
        return f"ad {ad.ad_id} has unknown identity_type {ad.identity_type!r}"
    if ad.tiktok_item_id is None:
        return f"Spark ad {ad.ad_id} has no tiktok_item_id"
    return None


def _adgroup(group: AdGroupInfo, ad: AdInfo, posts: Mapping[str, AuthorizedPost]) -> AdGroup:
    spark = ad.identity_type in SPARK_IDENTITY_TYPES
    post = posts.get(ad.tiktok_item_id) if spark and ad.tiktok_item_id else None
    launch = parse_day(group.create_time, where="/adgroup/get/", field="create_time")
    return AdGroup(
        adgroup_id=group.adgroup_id,
        kind=Kind.SPARK if spark else Kind.DARK,
        creator=(post.tiktok_name if post else None) or ad.identity_id or "unknown",
        concept=group.name,
        budget=group.budget,
        status=AdGroupStatus.ENABLE
        if group.operation_status == "ENABLE"
        else AdGroupStatus.DISABLE,
        post_id=ad.tiktok_item_id if spark else None,
        authorization=_authorization(ad, post) if spark else Authorization(),
        launch_date=launch if group.create_time else None,
        name=group.name or ad.name or None,
    )


def _authorization(ad: AdInfo, post: AuthorizedPost | None) -> Authorization:
    if post is not None:
        auth = post.authorization
    elif ad.identity_type == "AUTH_CODE":
        log.warning(
            "ad %s: post %s is not among the advertiser's authorized posts; treating its "
            "authorization as expired",
            ad.ad_id,
            ad.tiktok_item_id,
        )
        auth = Authorization(status=AuthStatus.EXPIRED)
    else:  # the advertiser's own or Business Center account: no creator code to lapse
        auth = Authorization(status=AuthStatus.ACTIVE)
    lost = _LOST_AUTH.get(ad.secondary_status or "")
    if lost is not None and not auth.lapsed:
        return Authorization(status=lost, expires_at=auth.expires_at)
    return auth
