"""A local emulation of the TikTok Marketing API subset allocator uses, with faults.

The sandbox speaks the platform's paths, fields and envelopes under ``/open_api/v1.3``
(see :mod:`.api`), backed by a simulated account whose delivery comes from the
simulator's environment (:mod:`.delivery`), plus a control API under ``/_sandbox/``
(:mod:`.control`) to advance time, revoke or expire authorizations, inject faults
(:mod:`.faults`) and read the record of applied edits.

Defaults: token :data:`DEFAULT_TOKEN` (``"sandbox-token"``), advertiser
:data:`DEFAULT_ADVERTISER_ID` (``"7000000000000000001"``), ad group daily budgets must
exceed 20.00, batches of at most 20, 20 requests per second per token.

Use it in process (``httpx.Client(transport=SandboxTransport(api))``), over HTTP in a
test (``with serve_in_thread(api) as base_url``) or from the command line
(``allocator sandbox serve``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime

from allocator.platform.sandbox.account_spec import (
    DEFAULT_NEW_AUTH_CODE,
    SandboxScenario,
    default_scenario,
    load_scenario,
)
from allocator.platform.sandbox.api import (
    DEFAULT_ADVERTISER_ID,
    DEFAULT_TOKEN,
    ApiSettings,
    SandboxApi,
    SandboxResponse,
)
from allocator.platform.sandbox.build import build_account
from allocator.platform.sandbox.faults import FaultKind, FaultRule
from allocator.platform.sandbox.server import SandboxServer, serve_in_thread
from allocator.platform.sandbox.transport import SandboxTransport

__all__ = [
    "DEFAULT_ADVERTISER_ID",
    "DEFAULT_NEW_AUTH_CODE",
    "DEFAULT_TOKEN",
    "ApiSettings",
    "FaultKind",
    "FaultRule",
    "SandboxApi",
    "SandboxResponse",
    "SandboxScenario",
    "SandboxServer",
    "SandboxTransport",
    "build_account",
    "create_sandbox",
    "default_scenario",
    "load_scenario",
    "serve_in_thread",
]


def create_sandbox(
    scenario: SandboxScenario | None = None,
    *,
    seed: int | None = None,
    today: date | None = None,
    tokens: tuple[str, ...] | None = None,
    rate_limit_per_second: int | None = None,
    now: Callable[[], datetime] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> SandboxApi:
    """A ready sandbox: the scenario's account (default: :func:`default_scenario`).

    Args:
        scenario: the account to emulate.
        seed: overrides the scenario's seed (world, noise, request ids, faults).
        today: overrides the scenario's ``today`` (default: the current UTC date).
        tokens: overrides the accepted access tokens.
        rate_limit_per_second: overrides the per-token rate limit.
        now: wall clock for edit times (UTC).
        clock: monotonic clock for the rate limit.
    """
    base = scenario or default_scenario()
    updates: dict[str, object] = {}
    if seed is not None:
        updates["seed"] = seed
    if today is not None:
        updates["today"] = today
    api_updates: dict[str, object] = {}
    if tokens is not None:
        api_updates["tokens"] = tuple(tokens)
    if rate_limit_per_second is not None:
        api_updates["rate_limit_per_second"] = rate_limit_per_second
    if api_updates:
        updates["api"] = base.api.model_validate({**base.api.model_dump(), **api_updates})
    final = SandboxScenario.model_validate({**base.model_dump(), **updates})
    if final.today is None:  # pin the day so /_sandbox/reset rebuilds the same account
        final = final.model_copy(update={"today": datetime.now(UTC).date()})
    return SandboxApi(
        lambda: build_account(final, now=now),
        final.api.settings(),
        seed=final.seed,
        clock=clock,
    )
