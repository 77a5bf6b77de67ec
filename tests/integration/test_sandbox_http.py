"""The sandbox over real HTTP on 127.0.0.1: server started by the test session."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from allocator.platform.sandbox import DEFAULT_ADVERTISER_ID, create_sandbox, serve_in_thread

ADV = DEFAULT_ADVERTISER_ID
GROUP = "1810000000000000001"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    api = create_sandbox(seed=21, today=date(2025, 6, 2), rate_limit_per_second=1000)
    with serve_in_thread(api) as url:
        yield url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=base_url, headers={"Access-Token": "sandbox-token"}, timeout=2.0
    ) as client:
        client.post("/_sandbox/reset")
        yield client


def test_the_server_binds_loopback(base_url: str) -> None:
    assert base_url.startswith("http://127.0.0.1:")


def test_list_ad_groups(http: httpx.Client) -> None:
    answer = http.get(
        "/open_api/v1.3/adgroup/get/",
        params={"advertiser_id": ADV, "page_size": 1000, "fields": '["adgroup_id","budget"]'},
    )
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    body = answer.json()
    assert body["code"] == 0
    assert len(body["data"]["list"]) == 12


def test_daily_report(http: httpx.Client) -> None:
    params = {
        "advertiser_id": ADV,
        "report_type": "BASIC",
        "data_level": "AUCTION_ADGROUP",
        "dimensions": json.dumps(["adgroup_id", "stat_time_day"]),
        "metrics": json.dumps(["spend", "conversion"]),
        "start_date": "2025-05-20",
        "end_date": "2025-06-01",
        "page_size": 1000,
    }
    body = http.get("/open_api/v1.3/report/integrated/get/", params=params).json()
    assert body["code"] == 0
    assert body["data"]["page_info"]["total_number"] == len(body["data"]["list"]) > 100
    assert all(isinstance(r["metrics"]["spend"], str) for r in body["data"]["list"])


def test_budget_update_shows_in_the_edit_log(http: httpx.Client) -> None:
    body = http.post(
        "/open_api/v1.3/adgroup/budget/update/",
        json={"advertiser_id": ADV, "budget": [{"adgroup_id": GROUP, "budget": 123.45}]},
    ).json()
    assert body["code"] == 0
    edits = http.get("/_sandbox/edits").json()["data"]["edits"]
    assert [(e["adgroup_id"], e["from"], e["to"], e["request_id"]) for e in edits] == [
        (GROUP, 80.0, 123.45, body["request_id"])
    ]


def test_dropped_connection_and_real_timeout(http: httpx.Client) -> None:
    rules = [
        {"path": "/adgroup/get/", "kind": "drop", "count": 1},
        {"path": "/adgroup/budget/update/", "kind": "slow", "delay_s": 5.0, "count": 1},
    ]
    assert http.post("/_sandbox/faults", json={"rules": rules}).json()["code"] == 0
    with pytest.raises(httpx.RemoteProtocolError):
        http.get("/open_api/v1.3/adgroup/get/", params={"advertiser_id": ADV})
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        http.post(
            "/open_api/v1.3/adgroup/budget/update/",
            json={"advertiser_id": ADV, "budget": [{"adgroup_id": GROUP, "budget": 70}]},
            timeout=0.3,
        )
    assert time.monotonic() - started < 2.0
    edits = http.get("/_sandbox/edits").json()["data"]["edits"]
    assert [e["to"] for e in edits] == [70.0]  # the slow write landed all the same
    assert (
        http.get("/open_api/v1.3/adgroup/get/", params={"advertiser_id": ADV}).json()["code"] == 0
    )


def test_http_429_over_the_wire(http: httpx.Client) -> None:
    http.post("/_sandbox/faults", json={"rules": [{"path": "*", "kind": "http_429", "count": 1}]})
    answer = http.get("/open_api/v1.3/ad/get/", params={"advertiser_id": ADV})
    assert answer.status_code == 429
    assert answer.json()["code"] == 40100


def test_cli_serves_prints_the_url_and_stops_on_sigterm() -> None:
    command = [
        sys.executable,
        "-m",
        "allocator",
        "sandbox",
        "serve",
        "--port",
        "0",
        "--seed",
        "3",
        "--token",
        "cli-token",
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            answer = httpx.get(
                f"{url}/open_api/v1.3/adgroup/get/",
                params={"advertiser_id": ADV},
                headers={"Access-Token": "cli-token"},
                timeout=5.0,
            )
            assert answer.json()["code"] == 0
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=10)
            assert proc.returncode == 0
            assert "stopped" in err
            assert "cli-token" not in err
        finally:
            if proc.poll() is None:
                proc.kill()
