"""Request handling for the sandbox: one pure entry point for HTTP and in-process use.

:meth:`SandboxApi.handle` takes a request as plain values (method, path, raw query
string, headers, body bytes) and returns a :class:`SandboxResponse`; the HTTP server
(:mod:`.server`) and the httpx transport (:mod:`.transport`) both call it, so unit tests
run in-process and integration tests over real HTTP hit the same code.

Emulated API (under ``/open_api/v1.3``): GET ``/adgroup/get/``, ``/ad/get/``,
``/report/integrated/get/``, ``/tt_video/list/``, ``/tt_video/info/``; POST
``/tt_video/authorize/``, ``/adgroup/budget/update/``, ``/adgroup/status/update/``,
``/adgroup/update/``. Every answer is the platform's envelope
``{"code", "message", "request_id", "data"}``; errors come as HTTP 200 with a non-zero
``code``, as on the platform (HTTP 429 and 5xx only from injected faults; HTTP 404 with
code 40400 for an unknown path).

Order of checks: route, token (40104 empty, 40105 unknown), rate limit (40100 above
``rate_limit_per_second`` requests in any one-second window, per token), injected fault,
``advertiser_id`` (40002 missing, 40001 another advertiser), then the endpoint's rules.

Control API (under ``/_sandbox/``, see :mod:`.control`): never rate limited nor faulted;
it needs an ``Access-Token`` from ``control_tokens`` (by default the API tokens).

Tokens are compared and never logged or echoed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from allocator.platform.sandbox import control
from allocator.platform.sandbox.account import RuleViolation, SandboxAccount
from allocator.platform.sandbox.faults import PRE_KINDS, Fault, FaultInjector, FaultKind
from allocator.platform.sandbox.integrated_report import report_integrated_get
from allocator.platform.sandbox.params import PARAM_ERROR, parse_body, parse_query, required
from allocator.platform.sandbox.reads import ad_get, adgroup_get, tt_video_info, tt_video_list
from allocator.platform.sandbox.writes import (
    WriteContext,
    adgroup_budget_update,
    adgroup_status_update,
    adgroup_update,
    tt_video_authorize,
)

__all__ = [
    "API_PREFIX",
    "CONTROL_PREFIX",
    "DEFAULT_ADVERTISER_ID",
    "DEFAULT_TOKEN",
    "ApiSettings",
    "SandboxApi",
    "SandboxResponse",
]

API_PREFIX = "/open_api/v1.3"
CONTROL_PREFIX = "/_sandbox"
DEFAULT_TOKEN = "sandbox-token"
"""Access token the sandbox accepts when none is configured."""
DEFAULT_ADVERTISER_ID = "7000000000000000001"
"""Advertiser id of the default scenario."""

log = logging.getLogger(__name__)

Reader = Callable[[SandboxAccount, dict[str, str]], dict[str, Any]]
Writer = Callable[[SandboxAccount, dict[str, Any], WriteContext], dict[str, Any]]

READS: dict[str, Reader] = {
    "/adgroup/get/": adgroup_get,
    "/ad/get/": ad_get,
    "/report/integrated/get/": report_integrated_get,
    "/tt_video/list/": tt_video_list,
    "/tt_video/info/": tt_video_info,
}
WRITES: dict[str, Writer] = {
    "/adgroup/budget/update/": adgroup_budget_update,
    "/adgroup/status/update/": adgroup_status_update,
    "/adgroup/update/": adgroup_update,
    "/tt_video/authorize/": tt_video_authorize,
}


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """Who may call the sandbox and how often.

    Attributes:
        tokens: access tokens the emulated API accepts.
        control_tokens: tokens for ``/_sandbox/``; empty means the API tokens.
        rate_limit_per_second: requests per token in any one-second window before 40100.
        max_batch: largest batch for budget and status updates.
    """

    tokens: frozenset[str] = field(default=frozenset({DEFAULT_TOKEN}), repr=False)
    control_tokens: frozenset[str] = field(default=frozenset(), repr=False)
    rate_limit_per_second: int = 20
    max_batch: int = 20


@dataclass(frozen=True, slots=True)
class SandboxResponse:
    """An answer, plus the transport-level behaviour an injected fault asks for.

    Attributes:
        status: HTTP status.
        headers: response headers.
        body: response body (JSON bytes).
        delay_s: hold the answer this long before sending it (``slow`` fault).
        drop: close the connection without answering (``drop``, ``apply_then_drop``).
    """

    status: int
    headers: dict[str, str]
    body: bytes
    delay_s: float = 0.0
    drop: bool = False

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


class _Failure(Exception):
    def __init__(self, code: int, message: str, http_status: int = 200) -> None:
        super().__init__(message)
        self.code, self.message, self.http_status = code, message, http_status


class SandboxApi:
    """The sandbox's request handler over a simulated account.

    Args:
        account_factory: builds the account (called now and on ``/_sandbox/reset``).
        settings: tokens, rate limit, batch size.
        seed: seed for request ids and fault injection.
        clock: monotonic seconds, for the rate limit (inject a fake one in tests).
    """

    def __init__(
        self,
        account_factory: Callable[[], SandboxAccount],
        settings: ApiSettings | None = None,
        *,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or ApiSettings()
        self._factory = account_factory
        self._seed = seed
        self._clock = clock
        self._lock = threading.RLock()
        self.faults = FaultInjector(seed)
        self.account = account_factory()
        self._calls: dict[str, deque[float]] = {}
        self._seq = 0
        self._ids = np.random.default_rng(seed)

    def reset(self) -> None:
        """Rebuild the account from its factory; clear faults, rate counters and ids."""
        with self._lock:
            self.account = self._factory()
            self.faults = FaultInjector(self._seed)
            self._calls.clear()
            self._seq = 0
            self._ids = np.random.default_rng(self._seed)

    def handle(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> SandboxResponse:
        """Answer one request.

        Args:
            method: HTTP method (``GET``, ``POST``, ``DELETE``).
            path: URL path, e.g. ``/open_api/v1.3/adgroup/get/``.
            query: raw query string (without ``?``).
            headers: request headers (any case).
            body: request body bytes.
        """
        lowered = {k.lower(): v for k, v in headers.items()}
        token = lowered.get("access-token", "")
        with self._lock:
            request_id = self._next_request_id()
            if path.startswith(CONTROL_PREFIX + "/"):
                return self._control(method, path, query, token, body, request_id)
            return self._api(method, path, query, token, body, request_id)

    # ---- emulated API -----------------------------------------------------------------

    def _api(
        self, method: str, path: str, query: str, token: str, body: bytes, request_id: str
    ) -> SandboxResponse:
        sub = path[len(API_PREFIX) :] if path.startswith(API_PREFIX + "/") else None
        fault: Fault | None = None
        try:
            if sub is None or (method, sub) not in _ROUTES:
                raise _Failure(40400, f"route {method} {path} not found", 404)
            self._authenticate(token, self.settings.tokens)
            self._throttle(token)
            fault = self.faults.choose(method, sub)
            if fault is not None and fault.kind in PRE_KINDS:
                return self._pre_fault(fault, request_id)
            with self.account.lock:
                data = self._dispatch(method, sub, query, body, request_id, fault)
            response = _envelope(0, "OK", request_id, data)
        except _Failure as exc:
            response = _envelope(exc.code, exc.message, request_id, {}, exc.http_status)
        except RuleViolation as exc:
            response = _envelope(exc.code, exc.message, request_id, {})
        log.info("sandbox %s %s -> %s %s", method, path, response.status, request_id)
        if fault is not None and fault.kind is FaultKind.SLOW:
            return replace(response, delay_s=fault.rule.delay_s)
        if fault is not None and fault.kind is FaultKind.APPLY_THEN_DROP:
            return replace(response, drop=True)
        return response

    def _authenticate(self, token: str, allowed: frozenset[str]) -> None:
        if not token:
            raise _Failure(40104, "Access token is empty. Please provide Access-Token header.")
        if token not in allowed:
            raise _Failure(40105, "Access token is invalid or has been revoked.")

    def _throttle(self, token: str) -> None:
        now = self._clock()
        calls = self._calls.setdefault(token, deque())
        while calls and calls[0] <= now - 1.0:
            calls.popleft()
        if len(calls) >= self.settings.rate_limit_per_second:
            raise _Failure(40100, "Too many requests: the request frequency is too high.")
        calls.append(now)

    def _pre_fault(self, fault: Fault, request_id: str) -> SandboxResponse:
        log.info("sandbox injected fault %s (%s)", fault.kind.value, request_id)
        kind = fault.kind
        if kind is FaultKind.DROP:
            return SandboxResponse(0, {}, b"", drop=True)
        if kind is FaultKind.HTTP_429:
            response = _envelope(40100, "Too many requests (injected)", request_id, {}, 429)
            return replace(response, headers={**response.headers, "Retry-After": "1"})
        if kind is FaultKind.SERVER_ERROR:
            return _envelope(50000, "System error (injected)", request_id, {}, fault.rule.status)
        if kind is FaultKind.SYSTEM_TIMEOUT:
            return _envelope(50002, "System timeout, please retry (injected)", request_id, {})
        return _envelope(40100, "Too many requests: too frequent (injected)", request_id, {})

    def _dispatch(
        self,
        method: str,
        sub: str,
        query: str,
        body: bytes,
        request_id: str,
        fault: Fault | None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = parse_query(query) if method == "GET" else parse_body(body)
        advertiser_id = str(required(params, "advertiser_id"))
        if advertiser_id != self.account.advertiser_id:
            raise _Failure(40001, f"No permission to operate advertiser {advertiser_id}.")
        if method == "GET":
            return READS[sub](self.account, params)
        partial = fault is not None and fault.kind is FaultKind.PARTIAL_BATCH

        def reject(ids: list[str]) -> set[str]:
            return self.faults.rejected(fault, ids) if partial and fault is not None else set()

        ctx = WriteContext(request_id, API_PREFIX + sub, self.settings.max_batch, reject)
        return WRITES[sub](self.account, params, ctx)

    # ---- control API ------------------------------------------------------------------

    def _control(
        self, method: str, path: str, query: str, token: str, body: bytes, request_id: str
    ) -> SandboxResponse:
        allowed = self.settings.control_tokens or self.settings.tokens
        try:
            self._authenticate(token, allowed)
            data = control.dispatch(self, method, path[len(CONTROL_PREFIX) :], query, body)
        except control.NotFound as exc:
            return _envelope(40400, str(exc), request_id, {}, 404)
        except _Failure as exc:
            return _envelope(exc.code, exc.message, request_id, {}, exc.http_status)
        except RuleViolation as exc:
            return _envelope(exc.code, exc.message, request_id, {})
        except ValueError as exc:  # pydantic.ValidationError is a ValueError
            return _envelope(PARAM_ERROR, str(exc), request_id, {})
        log.info("sandbox control %s %s (%s)", method, path, request_id)
        return _envelope(0, "OK", request_id, data)

    def _next_request_id(self) -> str:
        self._seq += 1
        stamp = self.account.today.strftime("%Y%m%d")
        return f"{stamp}{self._seq:08d}{int(self._ids.integers(0, 2**48)):012X}"


_ROUTES = {("GET", p) for p in READS} | {("POST", p) for p in WRITES}


def _envelope(
    code: int, message: str, request_id: str, data: dict[str, Any], status: int = 200
) -> SandboxResponse:
    payload = {"code": code, "message": message, "request_id": request_id, "data": data}
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "X-Tt-Logid": request_id}
    return SandboxResponse(status, headers, body)
