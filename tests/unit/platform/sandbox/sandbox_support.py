from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import httpx

from allocator.platform.sandbox import (
    DEFAULT_ADVERTISER_ID,
    DEFAULT_TOKEN,
    SandboxApi,
    SandboxTransport,
    create_sandbox,
)

TODAY = date(2025, 6, 2)
ADV = DEFAULT_ADVERTISER_ID
SPARK_EXPIRING = "1810000000000000002"  # authorization ends in 3 days
SPARK_REVOKED = "1810000000000000007"
TOTAL_MODE = "1810000000000000011"
CBO = "1810000000000000012"
DAY_GROUP = "1810000000000000001"


class FakeClock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Sleeps:
    """Records the waits the transport asked for instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class Sandbox:
    """An in-process sandbox with a client and JSON helpers."""

    def __init__(self, api: SandboxApi, clock: FakeClock, sleeps: Sleeps) -> None:
        self.api = api
        self.clock = clock
        self.sleeps = sleeps
        self.http = httpx.Client(
            transport=SandboxTransport(api, sleep=sleeps),
            base_url="http://sandbox",
            headers={"Access-Token": DEFAULT_TOKEN},
            timeout=httpx.Timeout(5.0),
        )

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        query = {"advertiser_id": ADV, **params}
        for key, value in query.items():
            if isinstance(value, list | dict):
                query[key] = json.dumps(value)
        response = self.http.get(f"/open_api/v1.3{path}", params=query)
        return dict(response.json())

    def post(self, path: str, **body: Any) -> dict[str, Any]:
        response = self.http.post(f"/open_api/v1.3{path}", json={"advertiser_id": ADV, **body})
        return dict(response.json())

    def control(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = self.http.request(method, f"/_sandbox{path}", json=body)
        return dict(response.json())

    def edits(self) -> list[dict[str, Any]]:
        return list(self.control("GET", "/edits")["data"]["edits"])


def make_sandbox(seed: int = 7, **kwargs: Any) -> Sandbox:
    clock = FakeClock()
    sleeps = Sleeps()
    api = create_sandbox(
        seed=seed,
        today=TODAY,
        clock=clock,
        now=lambda: datetime(2025, 6, 2, 9, 30, tzinfo=UTC),
        **kwargs,
    )
    return Sandbox(api, clock, sleeps)
