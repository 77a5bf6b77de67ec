"""The TikTok Marketing API (Business API v1.3) client: an :class:`AdPlatform`."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import httpx

from allocator.core.arms import AdGroup, Observation
from allocator.errors import ApiStatusError, AuthError
from allocator.platform.base import (
    BudgetChange,
    ChangeResult,
    InvalidChangeError,
    StatusChange,
    UnsupportedAdGroupError,
)
from allocator.platform.tiktok._config import AUTHORIZE_BATCH_MAX, TikTokConfig
from allocator.platform.tiktok._reads import Reader, ReportLevel, ReportRow
from allocator.platform.tiktok._records import AdGroupInfo, AdInfo, AuthorizedPost
from allocator.platform.tiktok._retry import is_retryable_read
from allocator.platform.tiktok._secret import Secret
from allocator.platform.tiktok._transport import Transport
from allocator.platform.tiktok._writes import Intent, Value, Writer, per_item_results

__all__ = ["AuthorizeResult", "TikTokClient"]

log = logging.getLogger("allocator.platform.tiktok")


@dataclass(frozen=True, slots=True)
class AuthorizeResult:
    """Outcome of binding one creator authorization code (codes are never echoed).

    Attributes:
        position: index of the code in the list given to :meth:`TikTokClient.authorize_posts`.
        ok: the code is bound to the advertiser.
        request_id: the platform's ``request_id`` of the deciding request.
        error: why not, when not ``ok``.
    """

    position: int
    ok: bool
    request_id: str | None = None
    error: str | None = None


class TikTokClient:
    """Typed client of the Marketing API over an injected synchronous ``httpx.Client``.

    Args:
        http: the HTTP client (tests pass one over ``httpx.MockTransport``); its base URL
            and headers are not used, ``config.base_url`` and ``config.timeout`` are.
        config: account, base URL, limits, timeouts and retry policies.
        token: the access token, sent only in the ``Access-Token`` header.
        sleep: waits between retries, seconds (``time.sleep``; a fake in tests).
        clock: monotonic seconds for the retry time budget (``time.monotonic``).
        rng: jitter source (a fresh ``random.Random``; seed it in tests).
    """

    def __init__(
        self,
        http: httpx.Client,
        config: TikTokConfig,
        token: Secret,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._transport = Transport(
            http,
            base_url=config.api_root,
            token=token,
            timeout=config.timeout,
            sleep=sleep,
            clock=clock,
            rng=rng or random.Random(),
        )
        self._reader = Reader(self._transport, config)
        self._writer = Writer(self._transport, self._reader, config)
        self._unsupported: dict[str, str] = {}

    def __repr__(self) -> str:
        return (
            f"TikTokClient(advertiser_id={self.config.advertiser_id!r}, "
            f"base_url={self.config.base_url!r}, token=Secret('***'))"
        )

    # -- AdPlatform -------------------------------------------------------------------

    def list_adgroups(self) -> list[AdGroup]:
        """Managed ad groups (``config.campaign_ids`` or the whole account) as records.

        Ad groups under campaign budget optimisation, with a non-daily budget mode, not
        holding exactly one ad, or with an unknown identity type are refused: left out
        with a warning naming each (``config.skip_unsupported``, the default), and
        listed by :attr:`unsupported`; changes to them raise before sending.

        Raises:
            UnsupportedAdGroupError: with ``skip_unsupported=False``, naming every such
                ad group and why.
        """
        managed, unsupported = self._reader.adgroups()
        self._unsupported = dict(unsupported)
        if unsupported and not self.config.skip_unsupported:
            raise UnsupportedAdGroupError(unsupported)
        for adgroup_id, reason in unsupported:
            log.warning("not managing ad group %s: %s", adgroup_id, reason)
        return managed

    @property
    def unsupported(self) -> dict[str, str]:
        """Ad groups the last :meth:`list_adgroups` refused to manage: id -> reason."""
        return dict(self._unsupported)

    def _refuse_unsupported(self, adgroup_ids: Sequence[str]) -> None:
        problems = [(i, self._unsupported[i]) for i in adgroup_ids if i in self._unsupported]
        if problems:
            raise UnsupportedAdGroupError(problems)

    def fetch_observations(self, start: date, end: date) -> list[Observation]:
        """Daily ad group rows for ``start``..``end`` inclusive (advertiser time zone).

        With ``config.campaign_ids`` set, only rows of those campaigns' ad groups.
        """
        rows = self.fetch_report(start, end)
        if self.config.campaign_ids:
            scope = {g.adgroup_id for g in self._reader.adgroup_infos()}
            rows = [row for row in rows if row.entity_id in scope]
        return [row.to_observation() for row in rows]

    def update_budgets(self, changes: Sequence[BudgetChange]) -> list[ChangeResult]:
        """Set daily budgets (currency per day), each applied at most once.

        Raises:
            InvalidChangeError: a budget is not finite, rounds below ``config.min_budget``
                or above ``config.max_budget``, or an id is empty or repeated; nothing sent.
            UnsupportedAdGroupError: a change is for an ad group :meth:`list_adgroups`
                refused to manage; nothing sent.
            AuthError: the token was refused.
        """
        self._refuse_unsupported([c.adgroup_id for c in changes])
        return self._writer.budgets(changes)

    def update_statuses(self, changes: Sequence[StatusChange]) -> list[ChangeResult]:
        """Enable or disable ad groups (partial success on; rejections per ad group).

        Raises:
            InvalidChangeError: an id is empty or repeated; nothing sent.
            UnsupportedAdGroupError: a change is for an ad group :meth:`list_adgroups`
                refused to manage; nothing sent.
            AuthError: the token was refused.
        """
        self._refuse_unsupported([c.adgroup_id for c in changes])
        return self._writer.statuses(changes)

    # -- further reads ----------------------------------------------------------------

    def fetch_report(
        self, start: date, end: date, *, level: ReportLevel = ReportLevel.ADGROUP
    ) -> list[ReportRow]:
        """BASIC daily report rows (with 2 s / 6 s video views) in 30-day requests."""
        return self._reader.report(start, end, level)

    def get_adgroups(self, adgroup_ids: Sequence[str] = ()) -> list[AdGroupInfo]:
        """Ad groups as the API reports them: the scope, or exactly ``adgroup_ids``."""
        return self._reader.adgroup_infos(adgroup_ids)

    def get_ads(self, adgroup_ids: Sequence[str]) -> list[AdInfo]:
        """Ads of the given ad groups."""
        return self._reader.ad_infos(adgroup_ids)

    def list_authorized_posts(self) -> list[AuthorizedPost]:
        """Every Spark post bound to the advertiser, with its authorization window."""
        return self._reader.authorized_posts()

    def get_post_info(self, auth_code: str) -> AuthorizedPost:
        """The post, creator and authorization window behind one creator code."""
        return self._reader.post_info(auth_code)

    # -- Spark authorization ------------------------------------------------------------

    def authorize_posts(self, auth_codes: Sequence[str]) -> list[AuthorizeResult]:
        """Bind up to 20 creator authorization codes, one ``/tt_video/authorize/`` each.

        After an ambiguous failure a code is looked up with ``/tt_video/info/`` and sent
        again only if it is not bound yet.

        Raises:
            InvalidChangeError: more than 20 codes, or an empty or repeated code.
            AuthError: the token was refused.
        """
        if len(auth_codes) > AUTHORIZE_BATCH_MAX:
            raise InvalidChangeError(
                f"{len(auth_codes)} authorization codes; at most {AUTHORIZE_BATCH_MAX} at a time"
            )
        for i, code in enumerate(auth_codes):
            if not isinstance(code, str) or not code.strip():
                raise InvalidChangeError(f"authorization code #{i} is empty")
        if len(set(auth_codes)) != len(auth_codes):
            raise InvalidChangeError("an authorization code is listed twice")
        intents = [Intent(code, True) for code in auth_codes]
        results = self._writer.apply(intents, 1, self._send_authorize, self._read_authorized)
        return [AuthorizeResult(i, r.ok, r.request_id, r.error) for i, r in enumerate(results)]

    def _send_authorize(self, batch: Sequence[Intent]) -> dict[str, ChangeResult]:
        (intent,) = batch
        envelope = self._writer.post("/tt_video/authorize/", {"auth_code": intent.key})
        return per_item_results(batch, envelope, listed_key=None)

    def _read_authorized(self, batch: Sequence[Intent]) -> dict[str, Value]:
        bound: dict[str, Value] = {}
        for intent in batch:
            try:
                post = self._reader.post_info(intent.key)
            except AuthError:
                raise
            except ApiStatusError as exc:
                if is_retryable_read(exc):  # no answer about the code: outcome unknown
                    raise
                continue  # the platform does not know the code as bound
            if not post.authorization.lapsed:
                bound[intent.key] = True
        return bound
