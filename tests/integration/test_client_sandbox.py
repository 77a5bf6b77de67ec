"""The TikTok client against the sandbox over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest

from allocator.core.arms import AuthStatus, Kind
from allocator.errors import ApiTransportError, AuthError
from allocator.platform.base import (
    BudgetChange,
    InvalidChangeError,
    StatusChange,
    UnsupportedAdGroupError,
)
from allocator.platform.sandbox import (
    DEFAULT_ADVERTISER_ID,
    DEFAULT_NEW_AUTH_CODE,
    create_sandbox,
    serve_in_thread,
)
from allocator.platform.tiktok import (
    BudgetPath,
    ReportLevel,
    RetryPolicy,
    Secret,
    TikTokClient,
    TikTokConfig,
)

TODAY = date(2025, 6, 2)
GROUP, EXPIRING, REVOKED = "1810000000000000001", "1810000000000000002", "1810000000000000007"
TOTAL_MODE, CBO = "1810000000000000011", "1810000000000000012"
FAST = RetryPolicy(max_attempts=3, initial_wait=0.0, max_wait=0.0, jitter=0.0, total_seconds=5)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    api = create_sandbox(seed=5, today=TODAY, rate_limit_per_second=10_000)
    with serve_in_thread(api) as url:
        yield url


@pytest.fixture
def control(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, headers={"Access-Token": "sandbox-token"}) as http:
        http.post("/_sandbox/reset")
        yield http


_OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def make_client(base_url: str, token: str = "sandbox-token", **config: object) -> TikTokClient:
    settings = TikTokConfig(
        advertiser_id=DEFAULT_ADVERTISER_ID,
        base_url=base_url,
        timeout=httpx.Timeout(1.0),
        read_retry=FAST,
        write_retry=FAST,
        **config,  # type: ignore[arg-type]
    )
    _OPEN.append(httpx.Client())
    return TikTokClient(_OPEN[-1], settings, Secret(token), sleep=lambda _: None)


def edits(control: httpx.Client) -> list[dict[str, object]]:
    return list(control.get("/_sandbox/edits").json()["data"]["edits"])


def test_list_adgroups_refuses_cbo_and_lifetime_budgets(
    base_url: str, control: httpx.Client
) -> None:
    client = make_client(base_url)
    groups = {g.adgroup_id: g for g in client.list_adgroups()}
    assert len(groups) == 10
    assert set(client.unsupported) == {TOTAL_MODE, CBO}
    assert groups[GROUP].kind is Kind.SPARK
    assert groups[GROUP].budget == 80.0
    assert groups[REVOKED].authorization.status is AuthStatus.REVOKED
    expiring = groups[EXPIRING].authorization
    assert expiring.expires_at is not None
    assert expiring.expires_at.date() == TODAY + timedelta(days=3)
    assert sum(g.kind is Kind.DARK for g in groups.values()) == 2
    with pytest.raises(UnsupportedAdGroupError):
        make_client(base_url, skip_unsupported=False).list_adgroups()


def test_ads_and_posts(base_url: str, control: httpx.Client) -> None:
    client = make_client(base_url)
    ads = client.get_ads([GROUP, "1810000000000000009"])
    assert len(ads) == 2
    posts = client.list_authorized_posts()
    assert len(posts) == 8
    info = client.get_post_info(DEFAULT_NEW_AUTH_CODE)
    assert info is not None


def test_observations_over_more_than_thirty_days_are_chunked(
    base_url: str, control: httpx.Client
) -> None:
    control.post("/_sandbox/advance", json={"days": 20})
    client = make_client(base_url)
    start, end = TODAY - timedelta(days=30), TODAY + timedelta(days=19)
    rows = client.fetch_observations(start, end)
    mine = sorted(r.date for r in rows if r.adgroup_id == GROUP)
    assert mine[0] == start
    assert mine[-1] == end
    assert len(mine) == 50
    assert all(r.spend >= 0 and r.conversions >= 0 for r in rows)


def test_ad_level_report(base_url: str, control: httpx.Client) -> None:
    rows = make_client(base_url).fetch_report(
        TODAY - timedelta(days=3), TODAY - timedelta(days=1), level=ReportLevel.AD
    )
    assert rows
    assert all(r.entity_id.startswith("182") for r in rows)
    assert all(r.video_watched_6s <= r.video_watched_2s for r in rows)


@pytest.mark.parametrize("path", [BudgetPath.BATCH, BudgetPath.SINGLE])
def test_budget_updates_land_once(base_url: str, control: httpx.Client, path: BudgetPath) -> None:
    client = make_client(base_url, budget_path=path)
    client.list_adgroups()
    results = client.update_budgets([BudgetChange(GROUP, 91.239), BudgetChange(EXPIRING, 45)])
    assert all(r.ok for r in results)
    log = edits(control)
    assert [(e["adgroup_id"], e["to"]) for e in log] == [(GROUP, 91.24), (EXPIRING, 45.0)]


def test_more_than_a_batch_of_changes_is_split(base_url: str, control: httpx.Client) -> None:
    client = make_client(base_url, budget_batch_size=3)
    groups = [g.adgroup_id for g in client.list_adgroups()]
    results = client.update_budgets([BudgetChange(g, 33.0) for g in groups])
    assert all(r.ok for r in results)
    assert len({e["request_id"] for e in edits(control)}) == 4  # 10 changes, batches of 3


def test_status_updates(base_url: str, control: httpx.Client) -> None:
    client = make_client(base_url)
    client.list_adgroups()
    results = client.update_statuses([StatusChange(GROUP, False), StatusChange(EXPIRING, False)])
    assert all(r.ok for r in results)
    assert [e["to"] for e in edits(control)] == ["DISABLE", "DISABLE"]


def test_authorize_a_new_code(base_url: str, control: httpx.Client) -> None:
    results = make_client(base_url).authorize_posts([DEFAULT_NEW_AUTH_CODE])
    assert [r.ok for r in results] == [True]
    state = control.get("/_sandbox/state").json()["data"]
    assert state["pending_codes"] == []


def test_a_budget_at_exactly_the_minimum_is_refused_by_the_platform_rule(
    base_url: str, control: httpx.Client
) -> None:
    # the client's default minimum (20.01) matches the platform rule: 20.00 never leaves,
    # and a client configured below the rule is refused by the sandbox itself.
    with pytest.raises(InvalidChangeError):
        make_client(base_url).update_budgets([BudgetChange(GROUP, 20.0)])
    lax = make_client(base_url, min_budget=20.0)
    lax.list_adgroups()
    results = lax.update_budgets([BudgetChange(GROUP, 20.0)])
    assert not results[0].ok
    assert edits(control) == []


def test_a_wrong_token_is_an_auth_error(base_url: str, control: httpx.Client) -> None:
    with pytest.raises(AuthError):
        make_client(base_url, token="nope").get_adgroups()


def test_apply_then_drop_is_not_applied_twice(base_url: str, control: httpx.Client) -> None:
    rule = {"path": "/adgroup/budget/update/", "kind": "apply_then_drop", "count": 1}
    control.post("/_sandbox/faults", json={"rules": [rule]})
    client = make_client(base_url)
    client.list_adgroups()
    results = client.update_budgets([BudgetChange(GROUP, 77.0)])
    assert results[0].ok
    assert [e["to"] for e in edits(control)] == [77.0]


def test_slow_write_past_the_timeout_is_not_applied_twice(
    base_url: str, control: httpx.Client
) -> None:
    rule = {"path": "/adgroup/budget/update/", "kind": "slow", "delay_s": 3.0, "count": 1}
    control.post("/_sandbox/faults", json={"rules": [rule]})
    client = make_client(base_url)
    client.list_adgroups()
    results = client.update_budgets([BudgetChange(GROUP, 66.0)])
    assert results[0].ok
    assert [e["to"] for e in edits(control)] == [66.0]


@pytest.mark.parametrize("kind", ["http_429", "server_error", "system_timeout", "rate_limit"])
def test_transient_read_faults_are_retried(base_url: str, control: httpx.Client, kind: str) -> None:
    rule = {"path": "/adgroup/get/", "kind": kind, "count": 2}
    control.post("/_sandbox/faults", json={"rules": [rule]})
    assert len(make_client(base_url).get_adgroups()) == 12


def test_reads_that_always_drop_end_in_a_transport_error(
    base_url: str, control: httpx.Client
) -> None:
    control.post("/_sandbox/faults", json={"rules": [{"path": "/adgroup/get/", "kind": "drop"}]})
    with pytest.raises(ApiTransportError):
        make_client(base_url).get_adgroups()
