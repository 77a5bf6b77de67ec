"""A small in-process fake of the Marketing API subset, for httpx.MockTransport.

It checks what the client sends (token header, JSON-string query parameters, page sizes,
30-day report windows, batch sizes, cents, minimum budget), keeps a little account state,
records every request and every applied write, and injects faults from per-path queues.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from allocator.platform.tiktok import Secret, TikTokClient, TikTokConfig

TOKEN = "tok-6f1c9e2d-very-secret-4d2a"
ADVERTISER = "7000000000001"
PREFIX = "/open_api/v1.3"

FAULTS = (
    "http429",
    "40100",
    "40132",
    "61000",
    "http500",
    "http503",
    "50000",
    "50002",
    "60001",
    "connect_error",
    "connect_timeout",
    "read_timeout",
    "dropped",
    "applied_then_read_timeout",
    "applied_then_dropped",
    "applied_then_50002",
    "bad_token",
    "40002",
    "40001",
)


class FakeClock:
    """Monotonic time that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(float(seconds))
        self.now += float(seconds)


def envelope(
    code: int = 0, message: str = "OK", data: Any = None, rid: str = "rid"
) -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": rid, "data": data or {}}


def adgroup_row(
    gid: str,
    *,
    budget: Any = "50.00",
    mode: str = "BUDGET_MODE_DAY",
    status: str = "ENABLE",
    name: str = "hook-a",
    created: str = "2026-10-01 08:30:00",
) -> dict[str, Any]:
    return {
        "adgroup_id": gid,
        "campaign_id": "1700000000000",
        "adgroup_name": name,
        "budget": budget,
        "budget_mode": mode,
        "operation_status": status,
        "secondary_status": "ADGROUP_STATUS_DELIVERY_OK",
        "create_time": created,
    }


def ad_row(
    ad_id: str,
    gid: str,
    identity_type: str = "CUSTOMIZED_USER",
    identity_id: str | None = "brand-identity",
    item_id: str | None = None,
    secondary: str = "AD_STATUS_DELIVERY_OK",
) -> dict[str, Any]:
    return {
        "ad_id": ad_id,
        "adgroup_id": gid,
        "ad_name": f"ad {ad_id}",
        "identity_type": identity_type,
        "identity_id": identity_id,
        "tiktok_item_id": item_id,
        "operation_status": "ENABLE",
        "secondary_status": secondary,
    }


def post_payload(
    item_id: str, name: str, *, status: str = "AUTHORIZED", end: str = "2026-12-31 00:00:00"
) -> dict[str, Any]:
    return {
        "item_info": {"item_id": item_id, "item_type": "VIDEO", "status": "ok", "text": "hi"},
        "user_info": {
            "identity_id": f"id-{name}",
            "identity_type": "AUTH_CODE",
            "tiktok_name": name,
        },
        "auth_info": {
            "ad_auth_status": status,
            "auth_start_time": "2026-10-01 00:00:00",
            "auth_end_time": end,
            "invite_start_time": "2026-09-30 00:00:00",
        },
    }


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    body: Any
    headers: dict[str, str]
    timeout: Any


@dataclass
class FakeTikTok:
    adgroups: dict[str, dict[str, Any]] = field(default_factory=dict)
    ads: list[dict[str, Any]] = field(default_factory=list)
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)  # auth_code -> payload
    report_rows: list[dict[str, Any]] = field(default_factory=list)
    faults: dict[str, list[str]] = field(default_factory=dict)
    status_reject: dict[str, str] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    applied: list[tuple[str, str, Any]] = field(default_factory=list)
    token: str = TOKEN
    min_budget: float = 20.0
    max_batch: int = 20
    retry_after: str | None = None

    # -- wiring -----------------------------------------------------------------

    def client(self, clock: FakeClock | None = None, **config: Any) -> TikTokClient:
        import random

        clock = clock or FakeClock()
        http = httpx.Client(transport=httpx.MockTransport(self.handler))
        cfg = TikTokConfig(advertiser_id=ADVERTISER, base_url="http://fake.test", **config)
        return TikTokClient(
            http, cfg, Secret(TOKEN), sleep=clock.sleep, clock=clock, rng=random.Random(7)
        )

    def inject(self, path: str, *faults: str) -> None:
        self.faults.setdefault(path, []).extend(faults)

    def calls(self, path: str, method: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if r.path == path and method in (None, r.method)]

    # -- the handler --------------------------------------------------------------

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix(PREFIX)
        params = dict(request.url.params)
        body = json.loads(request.content) if request.content else None
        self.requests.append(
            Recorded(
                request.method,
                path,
                params,
                body,
                dict(request.headers),
                request.extensions.get("timeout"),
            )
        )
        queue = self.faults.get(path) or []
        fault = queue.pop(0) if queue else None
        given = request.headers.get("Access-Token")
        if fault == "bad_token" or given != self.token:
            return httpx.Response(
                200, json=envelope(40105, f"Access token {given} is invalid", rid="r-auth")
            )
        pre = self._pre_fault(fault, request)
        if pre is not None:
            return pre
        response = self._route(request.method, path, params, body)
        if fault == "applied_then_read_timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if fault == "applied_then_dropped":
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        if fault == "applied_then_50002":
            return httpx.Response(200, json=envelope(50002, "system timeout", rid="r-50002"))
        return response

    def _pre_fault(self, fault: str | None, request: httpx.Request) -> httpx.Response | None:
        if fault is None or fault.startswith("applied_then"):
            return None
        if fault == "http429":
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return httpx.Response(429, text="Too Many Requests", headers=headers)
        if fault in ("http500", "http503"):
            return httpx.Response(int(fault[4:]), text="upstream error")
        if fault.isdigit():
            return httpx.Response(
                200, json=envelope(int(fault), f"fault {fault}", rid=f"r-{fault}")
            )
        if fault == "connect_error":
            raise httpx.ConnectError("connection refused", request=request)
        if fault == "connect_timeout":
            raise httpx.ConnectTimeout("connect timed out", request=request)
        if fault == "read_timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if fault == "dropped":
            raise httpx.RemoteProtocolError("Server disconnected", request=request)
        raise AssertionError(f"unknown fault {fault}")

    def _route(self, method: str, path: str, params: dict[str, str], body: Any) -> httpx.Response:
        routes = {
            ("GET", "/adgroup/get/"): self._get_adgroups,
            ("GET", "/ad/get/"): self._get_ads,
            ("GET", "/report/integrated/get/"): self._report,
            ("GET", "/tt_video/list/"): self._tt_list,
            ("GET", "/tt_video/info/"): self._tt_info,
            ("POST", "/adgroup/budget/update/"): self._budget_update,
            ("POST", "/adgroup/update/"): self._adgroup_update,
            ("POST", "/adgroup/status/update/"): self._status_update,
            ("POST", "/tt_video/authorize/"): self._authorize,
        }
        handler = routes.get((method, path))
        if handler is None:
            return httpx.Response(404, json=envelope(40400, "route not found"))
        if method == "GET":
            assert params["advertiser_id"] == ADVERTISER
            return httpx.Response(200, json=handler(params))
        assert body["advertiser_id"] == ADVERTISER
        return httpx.Response(200, json=handler(body))

    @staticmethod
    def _page(rows: list[Any], params: dict[str, str], max_size: int = 1000) -> dict[str, Any]:
        page, size = int(params.get("page", 1)), int(params.get("page_size", 10))
        assert 1 <= size <= max_size, size
        chunk = rows[(page - 1) * size : page * size]
        total_page = max(1, -(-len(rows) // size))
        info = {
            "page": page,
            "page_size": size,
            "total_number": len(rows),
            "total_page": total_page,
        }
        return envelope(data={"list": chunk, "page_info": info})

    def _get_adgroups(self, params: dict[str, str]) -> dict[str, Any]:
        fields = json.loads(params["fields"])
        assert isinstance(fields, list)
        assert "budget" in fields
        filtering = json.loads(params.get("filtering", "{}"))
        rows = list(self.adgroups.values())
        if "adgroup_ids" in filtering:
            assert len(filtering["adgroup_ids"]) <= 100
            rows = [r for r in rows if str(r["adgroup_id"]) in filtering["adgroup_ids"]]
        if "campaign_ids" in filtering:
            rows = [r for r in rows if r["campaign_id"] in filtering["campaign_ids"]]
        return self._page(rows, params)

    def _get_ads(self, params: dict[str, str]) -> dict[str, Any]:
        filtering = json.loads(params["filtering"])
        ids = filtering["adgroup_ids"]
        assert len(ids) <= 100
        return self._page([a for a in self.ads if str(a["adgroup_id"]) in ids], params)

    def _report(self, params: dict[str, str]) -> dict[str, Any]:
        assert params["report_type"] == "BASIC"
        level = params["data_level"]
        dims = json.loads(params["dimensions"])
        assert dims[1] == "stat_time_day"
        json.loads(params["metrics"])
        start, end = (
            date.fromisoformat(params["start_date"]),
            date.fromisoformat(params["end_date"]),
        )
        if (end - start).days + 1 > 30 or end < start:
            return envelope(40002, "date range exceeds 30 days")
        rows = [
            r
            for r in self.report_rows
            if r["level"] == level
            and start <= date.fromisoformat(r["row"]["dimensions"]["stat_time_day"][:10]) <= end
        ]
        return self._page([r["row"] for r in rows], params)

    def _tt_list(self, params: dict[str, str]) -> dict[str, Any]:
        return self._page(list(self.posts.values()), params, max_size=50)

    def _tt_info(self, params: dict[str, str]) -> dict[str, Any]:
        post = self.posts.get(params["auth_code"])
        return envelope(data=post) if post else envelope(40002, "auth_code not found")

    def _check_budget(self, gid: str, budget: Any) -> str | None:
        if gid not in self.adgroups:
            return f"adgroup {gid} not found"
        if not isinstance(budget, int | float) or budget < self.min_budget:
            return f"budget {budget} below the minimum"
        if round(budget * 100) != budget * 100 and abs(round(budget * 100) - budget * 100) > 1e-6:
            return f"budget {budget} has more than two decimals"
        return None

    def _budget_update(self, body: dict[str, Any]) -> dict[str, Any]:
        items = body["budget"]
        if not 1 <= len(items) <= self.max_batch:
            return envelope(40061, "invalid batch size")
        for item in items:
            problem = self._check_budget(item["adgroup_id"], item["budget"])
            if problem:
                return envelope(40002, problem)
        for item in items:
            self.adgroups[item["adgroup_id"]]["budget"] = f"{item['budget']:.2f}"
            self.applied.append(("budget", item["adgroup_id"], item["budget"]))
        return envelope()

    def _adgroup_update(self, body: dict[str, Any]) -> dict[str, Any]:
        problem = self._check_budget(body["adgroup_id"], body["budget"])
        if problem:
            return envelope(40002, problem)
        self.adgroups[body["adgroup_id"]]["budget"] = body["budget"]
        self.applied.append(("budget", body["adgroup_id"], body["budget"]))
        return envelope(data={"adgroup_id": body["adgroup_id"]})

    def _status_update(self, body: dict[str, Any]) -> dict[str, Any]:
        assert body["allow_partial_success"] is True
        assert body["operation_status"] in ("ENABLE", "DISABLE")
        ids = body["adgroup_ids"]
        if not 1 <= len(ids) <= self.max_batch:
            return envelope(40061, "invalid batch size")
        errors = []
        done = []
        for gid in ids:
            reason = self.status_reject.get(gid) or (None if gid in self.adgroups else "not found")
            if reason:
                errors.append({"adgroup_id": gid, "error_message": reason})
                continue
            self.adgroups[gid]["operation_status"] = body["operation_status"]
            self.applied.append(("status", gid, body["operation_status"]))
            done.append(gid)
        data = {"adgroup_ids": done, "status": body["operation_status"], "error_list": errors}
        return envelope(20001 if errors else 0, "partial" if errors else "OK", data=data)

    def _authorize(self, body: dict[str, Any]) -> dict[str, Any]:
        code = body["auth_code"]
        if code.startswith("bad"):
            return envelope(40002, "invalid auth code")
        item = f"item-{code}"
        self.posts[code] = post_payload(item, f"creator-{code}")
        self.applied.append(("authorize", code, item))
        return envelope(data={"item_id": item})


def standard_account() -> FakeTikTok:
    """Three ad groups: a creator Spark Ad, a dark post, the brand's own Spark Ad."""
    fake = FakeTikTok()
    fake.adgroups = {
        "101": adgroup_row("101", budget="50.00", name="creator-hook"),
        "102": adgroup_row("102", budget=35, name="dark-offer", status="DISABLE"),
        "103": adgroup_row("103", budget=20.5, name="brand-post", created="2026-11-02 00:00:00"),
    }
    fake.ads = [
        ad_row("201", "101", "AUTH_CODE", "id-alice", "9001"),
        ad_row("202", "102", "CUSTOMIZED_USER", "brand-identity"),
        ad_row("203", "103", "TT_USER", "brand-tt", "9003"),
    ]
    fake.posts = {"code-a": post_payload("9001", "alice", end="2026-12-15 12:00:00")}
    return fake
