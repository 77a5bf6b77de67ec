"""HTTP to the Marketing API: the token header, JSON-string query parameters, the envelope.

This is the one place where ``httpx.HTTPError`` becomes :class:`ApiTransportError` and
where a response becomes either an :class:`Envelope` or a typed
:class:`~allocator.errors.ApiStatusError`.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from tenacity import RetryCallState

from allocator.errors import (
    ApiStatusError,
    ApiTransportError,
    AuthError,
    RateLimitedError,
    ServerError,
)
from allocator.platform.tiktok._retry import RetryPolicy, run_with_retry
from allocator.platform.tiktok._secret import Secret

__all__ = ["Envelope", "Transport", "error_for_code"]

log = logging.getLogger("allocator.platform.tiktok")

JsonObject = dict[str, Any]

OK_CODES = frozenset({0, 20001})
"""``0`` is OK; ``20001`` is partial OK (per-item failures are in ``data``)."""
RATE_LIMIT_CODES = frozenset({40100, 40132, 61000})
SERVER_CODES = frozenset({50000, 50002, 60001})
AUTH_CODES = frozenset({40102, 40104, 40105})


@dataclass(frozen=True, slots=True)
class Envelope:
    """A successful answer: the envelope's ``data``, ``request_id`` and ``code``."""

    data: JsonObject
    request_id: str | None
    code: int


def error_for_code(code: int) -> type[ApiStatusError]:
    """The exception class for a non-OK envelope ``code``."""
    if code in RATE_LIMIT_CODES:
        return RateLimitedError
    if code in SERVER_CODES:
        return ServerError
    if code in AUTH_CODES:
        return AuthError
    return ApiStatusError


def encode_params(params: Mapping[str, object]) -> dict[str, str]:
    """Query parameters as the API wants them: lists and objects as compact JSON strings."""
    encoded: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple | dict):
            encoded[key] = json.dumps(value, separators=(",", ":"))
        elif isinstance(value, bool):
            encoded[key] = "true" if value else "false"
        else:
            encoded[key] = str(value)
    return encoded


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


class Transport:
    """Sends requests with the ``Access-Token`` header and checks every answer.

    Args:
        http: the injected client (its base URL and default headers are not used).
        base_url: API root ending in ``/open_api/v1.3/``.
        token: the access token, sent only in the ``Access-Token`` header.
        timeout: connect/read/write/pool timeouts applied to every request.
        sleep: waits between retries (``time.sleep`` in production, a fake in tests).
        clock: monotonic seconds, for the retry time budget.
        rng: source of retry jitter.
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        base_url: str,
        token: Secret,
        timeout: httpx.Timeout,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        rng: random.Random,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/") + "/"
        self._token = token
        self._timeout = timeout
        self._sleep = sleep
        self._clock = clock
        self._rng = rng

    def __repr__(self) -> str:
        return f"Transport(base_url={self._base_url!r}, token={self._token!r})"

    def request_once(
        self,
        method: Literal["GET", "POST"],
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        body: Mapping[str, object] | None = None,
    ) -> Envelope:
        """One request, one answer: an :class:`Envelope` or a typed error.

        Raises:
            ApiTransportError: no usable HTTP answer (the ``httpx`` error is the cause).
            ApiStatusError: the platform answered with an error (a subclass says which).
        """
        url = self._base_url + path.lstrip("/")
        headers = {"Access-Token": self._token.reveal()}
        try:
            response = self._http.request(
                method,
                url,
                params=encode_params(params or {}),
                json=dict(body) if body is not None else None,
                headers=headers,
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            detail = self._token.scrub(str(exc)) or "no detail"
            raise ApiTransportError(f"{method} {path}: {type(exc).__name__}: {detail}") from exc
        return self._check(method, path, response)

    def request(
        self,
        method: Literal["GET", "POST"],
        path: str,
        *,
        policy: RetryPolicy,
        retry_on: Callable[[BaseException], bool],
        params: Mapping[str, object] | None = None,
        body: Mapping[str, object] | None = None,
    ) -> Envelope:
        """:meth:`request_once`, retried per ``policy`` on errors ``retry_on`` accepts."""

        def before_sleep(state: RetryCallState) -> None:
            outcome = state.outcome
            exc = outcome.exception() if outcome is not None else None
            log.warning(
                "retrying %s %s after %s (attempt %d of %d) in %.2f s",
                method,
                path,
                _describe(exc),
                state.attempt_number,
                policy.max_attempts,
                state.upcoming_sleep,
            )

        return run_with_retry(
            lambda: self.request_once(method, path, params=params, body=body),
            policy=policy,
            retry_on=retry_on,
            sleep=self._sleep,
            clock=self._clock,
            rng=self._rng,
            before_sleep=before_sleep,
        )

    def _check(self, method: str, path: str, response: httpx.Response) -> Envelope:
        status = response.status_code
        envelope = _json_object(response)
        message = self._token.scrub(str(envelope.get("message") or "")) or f"HTTP {status}"
        request_id, code = _request_id_and_code(envelope)
        where = f"{method} {path}: {message}"
        _raise_for_http_status(where, response, code, request_id)
        if code is None:
            raise ApiStatusError(
                f"{method} {path}: the answer is not a JSON envelope (HTTP {status})",
                code=status,
                request_id=request_id,
                http_status=status,
            )
        if code not in OK_CODES:
            cls = error_for_code(code)
            raise cls(where, code=code, request_id=request_id, http_status=status)
        data = envelope.get("data")
        if status >= 400 or not isinstance(data, dict | None):
            raise ApiStatusError(
                f"{method} {path}: malformed answer (HTTP {status}, data not an object)",
                code=code,
                request_id=request_id,
                http_status=status,
            )
        log.debug("%s %s -> code %d request_id=%s", method, path, code, request_id)
        return Envelope(data=data or {}, request_id=request_id, code=code)


def _json_object(response: httpx.Response) -> JsonObject:
    """The answer's body as a JSON object; ``{}`` when it is not JSON or not an object."""
    try:
        body: object = response.json()
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {}


def _request_id_and_code(envelope: JsonObject) -> tuple[str | None, int | None]:
    """The envelope's ``request_id`` (``None`` if absent or empty) and integer ``code``."""
    rid = envelope.get("request_id")
    request_id = str(rid) if rid not in (None, "") else None
    raw_code = envelope.get("code")
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
    return request_id, code


def _raise_for_http_status(
    where: str, response: httpx.Response, code: int | None, request_id: str | None
) -> None:
    """Raise for HTTP 429, 5xx, and a 401 without an envelope code."""
    status = response.status_code
    if status == 429:
        raise RateLimitedError(
            where,
            code=code if code not in (None, 0) else 429,
            request_id=request_id,
            http_status=status,
            retry_after=_retry_after(response),
        )
    if status >= 500:
        raise ServerError(where, code=code or status, request_id=request_id, http_status=status)
    if code is None and status == 401:
        raise AuthError(where, code=status, request_id=request_id, http_status=status)


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, ApiStatusError):
        return f"{type(exc).__name__} code={exc.code} request_id={exc.request_id}"
    return type(exc).__name__
