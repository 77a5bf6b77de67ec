"""Whatever budgets the engine produces, the TikTok client either sends values the platform
accepts (cents, within the minimum and maximum, batches within the limit, each ad group
once) or refuses with a clear error before sending anything."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import httpx
import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from allocator.platform import BudgetChange, InvalidChangeError, StatusChange
from allocator.platform.tiktok import Secret, TikTokClient, TikTokConfig

TOKEN = "tok-property-secret"

budgets = st.one_of(
    st.floats(min_value=19.9, max_value=5_000.0),  # plausible engine output, many decimals
    st.floats(min_value=19.99, max_value=20.01),  # around the minimum
    st.floats(allow_nan=True, allow_infinity=True),  # anything at all
    st.integers(min_value=-10, max_value=10**7).map(float),
)
changes_lists = st.lists(
    st.tuples(st.integers(min_value=1, max_value=10**15).map(str), budgets),
    max_size=150,
    unique_by=lambda pair: pair[0],
)


def _client(bodies: list[dict[str, Any]], **config: Any) -> TikTokClient:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        ids = [i["adgroup_id"] for i in body.get("budget", [])] or body.get("adgroup_ids", [])
        data = {"adgroup_ids": ids, "error_list": []}
        return httpx.Response(
            200, json={"code": 0, "message": "OK", "request_id": "r", "data": data}
        )

    http = httpx.Client(transport=httpx.MockTransport(handler))
    return TikTokClient(http, TikTokConfig("7000000000001", **config), Secret(TOKEN))


@settings(max_examples=150, deadline=None)
@given(
    pairs=changes_lists,
    min_budget=st.sampled_from([20.0, 5.0, 50.0, 0.5]),
    max_budget=st.sampled_from([1_000.0, 1_000_000.0]),
    batch_size=st.integers(min_value=1, max_value=25),
)
def test_budgets_are_sent_acceptable_or_refused_before_sending(
    pairs: list[tuple[str, float]], min_budget: float, max_budget: float, batch_size: int
) -> None:
    bodies: list[dict[str, Any]] = []
    client = _client(
        bodies, min_budget=min_budget, max_budget=max_budget, budget_batch_size=batch_size
    )
    changes = [BudgetChange(gid, budget) for gid, budget in pairs]
    try:
        results = client.update_budgets(changes)
    except InvalidChangeError as exc:
        assert bodies == [], "refused after sending"
        bad = dict(pairs)[exc.adgroup_id] if exc.adgroup_id else None
        assert bad is not None
        assert not math.isfinite(bad) or not min_budget <= bad <= max_budget
        return
    assert all(math.isfinite(b) and min_budget - 0.005 <= b <= max_budget + 0.005 for _, b in pairs)
    assert [r.adgroup_id for r in results] == [gid for gid, _ in pairs]
    assert all(r.ok for r in results)
    sent = [item for body in bodies for item in body["budget"]]
    assert all(1 <= len(body["budget"]) <= batch_size for body in bodies)
    assert [item["adgroup_id"] for item in sent] == [gid for gid, _ in pairs]  # each once
    for item, (_, wanted) in zip(sent, pairs, strict=True):
        value = item["budget"]
        assert isinstance(value, float)
        assert math.isfinite(value)
        exponent = Decimal(repr(value)).as_tuple().exponent
        assert isinstance(exponent, int)
        assert exponent >= -2  # whole cents
        assert min_budget <= value <= max_budget
        assert abs(value - wanted) <= 0.005 + 1e-9 * max(1.0, abs(wanted))


@settings(max_examples=100, deadline=None)
@given(
    flags=st.lists(
        st.tuples(st.integers(min_value=1, max_value=10**12).map(str), st.booleans()),
        max_size=90,
        unique_by=lambda pair: pair[0],
    ),
    batch_size=st.integers(min_value=1, max_value=30),
)
def test_status_changes_are_batched_within_the_limit_each_once(
    flags: list[tuple[str, bool]], batch_size: int
) -> None:
    bodies: list[dict[str, Any]] = []
    client = _client(bodies, status_batch_size=batch_size)
    results = client.update_statuses([StatusChange(gid, on) for gid, on in flags])
    assert [r.adgroup_id for r in results] == [gid for gid, _ in flags]
    assert all(r.ok for r in results)
    assert all(1 <= len(b["adgroup_ids"]) <= batch_size for b in bodies)
    sent = {gid: b["operation_status"] for b in bodies for gid in b["adgroup_ids"]}
    assert sum(len(b["adgroup_ids"]) for b in bodies) == len(flags)
    assert sent == {gid: ("ENABLE" if on else "DISABLE") for gid, on in flags}


@pytest.mark.parametrize("n", [0, 1, 20, 21, 400])
def test_batch_count_is_the_ceiling_of_changes_over_the_batch_size(n: int) -> None:
    bodies: list[dict[str, Any]] = []
    _client(bodies).update_budgets([BudgetChange(str(i + 1), 30.0) for i in range(n)])
    assert len(bodies) == math.ceil(n / 20)
