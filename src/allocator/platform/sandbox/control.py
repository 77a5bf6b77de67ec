"""The sandbox's control API under ``/_sandbox/``: time, authorizations, faults, records.

Same envelope as the emulated API; needs an ``Access-Token`` from the control tokens.

================================================  ==========================================
request                                           effect / ``data``
================================================  ==========================================
``GET /_sandbox/state``                           advertiser, today, campaigns, ad groups,
                                                  ads, authorizations, pending codes
``GET /_sandbox/edits[?since=SEQ]``               ``{"edits": [...]}``: applied budget and
                                                  status writes after ``SEQ``
``POST /_sandbox/advance {"days": n}``            deliver ``n`` days (1-366); new ``today``
``POST /_sandbox/authorizations/revoke {"key"}``  revoke a post (auth code or item id)
``POST /_sandbox/authorizations/expire {"key"}``  expire a post now
``POST /_sandbox/authorizations/issue``           ``{"item_id", "days"=30, "auth_code"?}``:
                                                  a new code for ``/tt_video/authorize/``
``GET /_sandbox/faults``                          rules with matched / fired counts
``POST /_sandbox/faults {"rules", "seed"?}``      replace the fault rules
``DELETE /_sandbox/faults``                       switch fault injection off
``POST /_sandbox/reset``                          rebuild the account from its scenario
================================================  ==========================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from allocator.config_base import StrictModel
from allocator.platform.sandbox.account import SandboxAccount
from allocator.platform.sandbox.faults import FaultRule
from allocator.platform.sandbox.objects import AdGroup, record_json
from allocator.platform.sandbox.params import int_param, parse_body, parse_query
from allocator.platform.sandbox.reads import ad_json, adgroup_json

if TYPE_CHECKING:
    from allocator.platform.sandbox.api import SandboxApi

__all__ = ["NotFound", "dispatch", "state_json"]


class NotFound(LookupError):
    """No control endpoint at that method and path."""


class AdvanceBody(StrictModel):
    """``POST /_sandbox/advance``."""

    days: int = Field(default=1, ge=1, le=366)


class AuthKeyBody(StrictModel):
    """``POST /_sandbox/authorizations/{revoke,expire}``: an auth code or item id."""

    key: str = Field(min_length=1)


class IssueBody(StrictModel):
    """``POST /_sandbox/authorizations/issue``."""

    item_id: str = Field(min_length=1)
    days: int = Field(default=30, ge=1, le=365)
    auth_code: str | None = Field(default=None, min_length=1)


class FaultsBody(StrictModel):
    """``POST /_sandbox/faults``."""

    rules: list[FaultRule]
    seed: int | None = None


def state_json(account: SandboxAccount) -> dict[str, Any]:
    """The account as JSON: what ``GET /_sandbox/state`` returns."""
    return {
        "advertiser": {
            "advertiser_id": account.advertiser_id,
            "name": account.advertiser_name,
            "currency": account.currency,
        },
        "today": account.today.isoformat(),
        "history_start": account.ledger.start.isoformat(),
        "min_daily_budget": account.min_daily_budget,
        "campaigns": [record_json(c, _CAMPAIGN_FIELDS) for c in account.campaigns.values()],
        "adgroups": [
            _adgroup_state(account, g)
            for g in sorted(account.adgroups.values(), key=lambda g: g.adgroup_id)
        ],
        "ads": [ad_json(account, a) for a in sorted(account.ads.values(), key=lambda a: a.ad_id)],
        "authorizations": [record_json(p, _AUTHORIZATION_FIELDS) for p in account.posts.values()],
        "pending_codes": [
            {"auth_code": code, "item_id": item_id, "days": days}
            for code, (item_id, days) in account.pending_codes.items()
        ],
        "n_edits": len(account.edits),
    }


_CAMPAIGN_FIELDS = (
    "campaign_id",
    "campaign_name",
    "budget",
    "budget_mode",
    "budget_optimize_on",
    "operation_status",
)
_AUTHORIZATION_FIELDS = (
    "item_id",
    "auth_code",
    "identity_id",
    "tiktok_name",
    "status",
    "bound",
    "auth_start_time",
    "auth_end_time",
)


def _adgroup_state(account: SandboxAccount, g: AdGroup) -> dict[str, Any]:
    """The ad group as ``/adgroup/get/`` shows it, with its arm and delivery flags."""
    return {
        **adgroup_json(account, g),
        "arm": g.arm,
        "deleted": g.deleted,
        "delivering": account.delivers(g),
    }


def dispatch(api: SandboxApi, method: str, path: str, query: str, body: bytes) -> dict[str, Any]:
    """Run one control request; ``path`` is after ``/_sandbox``. Raises :class:`NotFound`."""
    account = api.account
    with account.lock:
        if (method, path) == ("GET", "/state"):
            return state_json(account)
        if (method, path) == ("GET", "/edits"):
            since = int_param(parse_query(query), "since", 0, 0, 10**9)
            return {"edits": [e.to_json() for e in account.edits if e.seq > since]}
        if (method, path) == ("POST", "/advance"):
            account.advance(AdvanceBody.model_validate(parse_body(body)).days)
            return {"today": account.today.isoformat()}
        if (method, path) == ("POST", "/authorizations/revoke"):
            post = account.revoke(AuthKeyBody.model_validate(parse_body(body)).key)
            return {"item_id": post.item_id, "status": post.status}
        if (method, path) == ("POST", "/authorizations/expire"):
            post = account.expire(AuthKeyBody.model_validate(parse_body(body)).key)
            return {"item_id": post.item_id, "status": post.status}
        if (method, path) == ("POST", "/authorizations/issue"):
            issue = IssueBody.model_validate(parse_body(body))
            return {"auth_code": account.issue_code(issue.item_id, issue.days, issue.auth_code)}
    if (method, path) == ("GET", "/faults"):
        return api.faults.describe()
    if (method, path) == ("POST", "/faults"):
        faults = FaultsBody.model_validate(parse_body(body))
        api.faults.set_rules(faults.rules, seed=faults.seed)
        return api.faults.describe()
    if (method, path) == ("DELETE", "/faults"):
        api.faults.set_rules([])
        return api.faults.describe()
    if (method, path) == ("POST", "/reset"):
        api.reset()
        return {"today": api.account.today.isoformat()}
    raise NotFound(f"control route {method} /_sandbox{path} not found")
