"""Retry policy: which failures are retried, how long to wait, when to give up.

Reads retry throttling (:class:`RateLimitedError`), platform failures
(:class:`ServerError`) and network failures (:class:`ApiTransportError` from a timeout or
a broken connection). Writes retry only what provably was not applied: throttling answers
and connections that never reached the server. Everything else (parameter, permission and
token errors) is raised at once.

The wait before retry ``n`` (1-based) is ``min(max_wait, initial_wait * 2**(n-1))`` plus a
uniform jitter in ``[0, jitter)`` seconds, raised to the platform's ``Retry-After`` when it
sent one. A retry is skipped (the last error raised) when it would start after
``total_seconds`` from the first attempt, or after ``max_attempts`` attempts.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

import httpx
from annotated_types import Ge
from tenacity import RetryCallState, Retrying, retry_if_exception
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from allocator.core.bounds import check_bounds
from allocator.errors import ApiTransportError, RateLimitedError, ServerError

__all__ = [
    "READ_RETRY",
    "WRITE_RETRY",
    "RetryPolicy",
    "is_ambiguous_write_failure",
    "is_not_applied",
    "is_retryable_read",
    "run_with_retry",
]

T = TypeVar("T")

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""httpx failures raised before any byte of the request reached the server."""

_TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
"""httpx failures worth repeating (others, like an unsupported URL scheme, are bugs)."""


_Seconds = Annotated[float, Ge(0.0)]
"""A wait or a time budget, seconds (>= 0)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter inside a bounded total time (seconds).

    The bounds are on the fields (:func:`~allocator.core.bounds.check_bounds`).

    Attributes:
        max_attempts: attempts in all, the first included (>= 1).
        initial_wait: wait before the first retry, seconds.
        max_wait: cap of the exponential part of one wait, seconds.
        jitter: upper bound of the uniform random addition to each wait, seconds.
        total_seconds: no retry starts later than this after the first attempt.
    """

    max_attempts: Annotated[int, Ge(1)] = 6
    initial_wait: _Seconds = 0.5
    max_wait: _Seconds = 8.0
    jitter: _Seconds = 0.5
    total_seconds: _Seconds = 60.0

    def __post_init__(self) -> None:
        check_bounds(self)

    def backoff(self, retry_number: int) -> float:
        """The wait before retry ``retry_number`` (1-based), without jitter, seconds."""
        exponent = min(retry_number - 1, 62)
        return float(min(self.max_wait, self.initial_wait * 2.0**exponent))


READ_RETRY = RetryPolicy()
"""Reads: up to 6 attempts, waits 0.5, 1, 2, 4, 8 s (+ up to 0.5 s jitter), within 60 s."""

WRITE_RETRY = RetryPolicy(max_attempts=4, total_seconds=30.0)
"""Writes (only failures that provably did not apply): up to 4 attempts within 30 s."""


def _transport_cause(exc: BaseException) -> BaseException | None:
    return exc.__cause__ if isinstance(exc, ApiTransportError) else None


def is_retryable_read(exc: BaseException) -> bool:
    """Throttling, platform failures and transient network failures."""
    if isinstance(exc, RateLimitedError | ServerError):
        return True
    return isinstance(_transport_cause(exc), _TRANSIENT)


def is_not_applied(exc: BaseException) -> bool:
    """The failed write provably changed nothing: throttled, or never reached the server."""
    if isinstance(exc, RateLimitedError):
        return True
    return isinstance(_transport_cause(exc), _NOT_SENT)


def is_ambiguous_write_failure(exc: BaseException) -> bool:
    """The write may or may not have been applied (platform failure, timeout, drop)."""
    if isinstance(exc, ServerError):
        return True
    return is_retryable_read(exc) and not is_not_applied(exc)


class _BudgetStop(stop_base):
    """Stop after ``max_attempts`` or when the next attempt would start past the budget."""

    def __init__(self, policy: RetryPolicy, clock: Callable[[], float]) -> None:
        self._policy = policy
        self._clock = clock
        self._start = clock()

    def __call__(self, retry_state: RetryCallState) -> bool:
        if retry_state.attempt_number >= self._policy.max_attempts:
            return True
        elapsed = self._clock() - self._start
        return elapsed + retry_state.upcoming_sleep > self._policy.total_seconds


class _BackoffWait(wait_base):
    """Exponential backoff plus jitter from an injected generator, honouring Retry-After."""

    def __init__(self, policy: RetryPolicy, rng: random.Random) -> None:
        self._policy = policy
        self._rng = rng

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = self._policy.backoff(retry_state.attempt_number)
        wait += self._rng.uniform(0.0, self._policy.jitter)
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            wait = max(wait, exc.retry_after)
        return wait


def run_with_retry(
    attempt: Callable[[], T],
    *,
    policy: RetryPolicy,
    retry_on: Callable[[BaseException], bool],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    rng: random.Random,
    before_sleep: Callable[[RetryCallState], None] | None = None,
) -> T:
    """Call ``attempt`` until it returns, retrying errors ``retry_on`` accepts.

    Raises:
        The last error, unchanged, once it is not retryable or the policy is spent.
    """
    retrying = Retrying(
        sleep=sleep,
        stop=_BudgetStop(policy, clock),
        wait=_BackoffWait(policy, rng),
        retry=retry_if_exception(retry_on),
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(attempt)
