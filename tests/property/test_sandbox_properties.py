"""Invariants of the sandbox's platform rules and pagination."""

from __future__ import annotations

import json
import math
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.platform.sandbox import DEFAULT_ADVERTISER_ID, SandboxApi, create_sandbox

API = create_sandbox(seed=1, today=date(2025, 6, 2), rate_limit_per_second=10**9)
HEADERS = {"Access-Token": "sandbox-token"}
GROUP = "1810000000000000001"


def call(api: SandboxApi, method: str, path: str, query: str = "", body: object = None) -> dict:
    raw = b"" if body is None else json.dumps(body).encode()
    return dict(api.handle(method, path, query, HEADERS, raw).json())


def current_budget(api: SandboxApi) -> float:
    return api.account.adgroups[GROUP].budget


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.floats(min_value=-1e6, max_value=1e7, allow_nan=False),
        st.decimals(min_value=0, max_value=100_000, places=2).map(float),
        st.integers(min_value=-10, max_value=10**6),
    )
)
def test_a_budget_is_accepted_exactly_when_above_twenty_with_cents(amount: float) -> None:
    before = current_budget(API)
    body = call(
        API,
        "POST",
        "/open_api/v1.3/adgroup/budget/update/",
        body={
            "advertiser_id": DEFAULT_ADVERTISER_ID,
            "budget": [{"adgroup_id": GROUP, "budget": amount}],
        },
    )
    cents = float(amount) * 100  # whole cents, up to float noise (1e-6 of a cent)
    valid = math.isfinite(amount) and amount > 20 and abs(cents - round(cents)) <= 1e-6
    assert (body["code"] == 0) == valid
    assert current_budget(API) == (round(float(amount), 2) if valid else before)


@settings(max_examples=60, deadline=None)
@given(
    page_size=st.integers(min_value=1, max_value=15), fields=st.sampled_from([None, ["adgroup_id"]])
)
def test_pages_concatenate_to_the_whole_list(page_size: int, fields: list[str] | None) -> None:
    def page(n: int, size: int) -> dict:
        query = f"advertiser_id={DEFAULT_ADVERTISER_ID}&page={n}&page_size={size}"
        if fields is not None:
            query += "&fields=" + json.dumps(fields)
        return dict(call(API, "GET", "/open_api/v1.3/ad/get/", query)["data"])

    whole = page(1, 1000)["list"]
    first = page(1, page_size)
    total_page = first["page_info"]["total_page"]
    assert total_page == math.ceil(len(whole) / page_size)
    rows = [row for n in range(1, total_page + 1) for row in page(n, page_size)["list"]]
    assert rows == whole
