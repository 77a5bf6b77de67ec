"""Fault injection for the sandbox: rules that make chosen requests fail on purpose.

A :class:`FaultRule` names an endpoint path pattern (``fnmatch`` syntax, matched against
the path after ``/open_api/v1.3``, e.g. ``/adgroup/budget/update/`` or ``/adgroup/*``),
a :class:`FaultKind`, and when it fires: with a ``probability`` per matching request, on
the next ``count`` matching requests, or both (each match fires with the probability until
``count`` faults have fired); with neither, on every matching request. ``after`` lets that
many matching requests through first. Rules are tried in order; the first that fires wins.
Draws come from one seeded :class:`numpy.random.Generator`, so a given seed and request
sequence always fails the same way.

Fault kinds and what a client sees:

===================  ========================================================  =========
kind                 answer                                                    applied?
===================  ========================================================  =========
``http_429``         HTTP 429, envelope code 40100                             no
``rate_limit``       HTTP 200, envelope code 40100 ("too frequent")            no
``server_error``     HTTP ``status`` (default 503), envelope code 50000        no
``system_timeout``   HTTP 200, envelope code 50002                             no
``slow``             the normal answer, sent after ``delay_s`` seconds         yes
``drop``             the connection closes without an answer                   no
``partial_batch``    writes: some ids rejected (``data.error_list``)           the rest
``apply_then_drop``  the request is performed, then the connection closes      yes
===================  ========================================================  =========

``slow`` with ``delay_s`` above the client's read timeout is a timeout on the client's
side, and for a write it sets the same trap as ``apply_then_drop``: the change landed.
``partial_batch`` on a request without ``allow_partial_success`` rejects the whole batch
(code 40002, nothing applied), as the platform does with an invalid id; on a read it has
no effect.
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["PRE_KINDS", "Fault", "FaultInjector", "FaultKind", "FaultRule"]


class FaultKind(StrEnum):
    """What an injected fault does (see the module docstring for the exact answers)."""

    HTTP_429 = "http_429"
    RATE_LIMIT = "rate_limit"
    SERVER_ERROR = "server_error"
    SYSTEM_TIMEOUT = "system_timeout"
    SLOW = "slow"
    DROP = "drop"
    PARTIAL_BATCH = "partial_batch"
    APPLY_THEN_DROP = "apply_then_drop"


PRE_KINDS = frozenset(
    {
        FaultKind.HTTP_429,
        FaultKind.RATE_LIMIT,
        FaultKind.SERVER_ERROR,
        FaultKind.SYSTEM_TIMEOUT,
        FaultKind.DROP,
    }
)
"""Kinds that answer instead of the endpoint: the request is not processed."""


class FaultRule(BaseModel):
    """One fault-injection rule.

    Attributes:
        path: ``fnmatch`` pattern over the API path after ``/open_api/v1.3``.
        method: ``GET`` or ``POST`` to restrict the rule, or ``None`` for both.
        kind: what the fault does.
        probability: chance that a matching request fails, in [0, 1] (``None``: always).
        count: stop after this many faults have fired (``None``: never stop).
        after: let this many matching requests through before the rule may fire.
        delay_s: for ``slow``: seconds to hold the answer.
        status: for ``server_error``: the HTTP status (500-599).
        reject_fraction: for ``partial_batch``: chance each id of a batch is rejected;
            at least one id is always rejected.
        reject_ids: for ``partial_batch``: reject these ids when present (overrides
            ``reject_fraction``; the first id of the batch when none is present).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(min_length=1)
    method: str | None = Field(default=None, pattern="^(GET|POST)$")
    kind: FaultKind
    probability: float | None = Field(default=None, ge=0.0, le=1.0)
    count: int | None = Field(default=None, ge=1)
    after: int = Field(default=0, ge=0)
    delay_s: float = Field(default=0.0, ge=0.0, le=600.0)
    status: int = Field(default=503, ge=500, le=599)
    reject_fraction: float = Field(default=0.5, gt=0.0, le=1.0)
    reject_ids: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _slow_needs_delay(self) -> FaultRule:
        if self.kind is FaultKind.SLOW and self.delay_s <= 0.0:
            raise ValueError("a 'slow' fault needs delay_s > 0")
        return self

    def matches(self, method: str, path: str) -> bool:
        """Whether the rule applies to a request (``path`` after ``/open_api/v1.3``)."""
        if self.method is not None and self.method != method:
            return False
        return fnmatch.fnmatchcase(path, self.path)


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault chosen for one request: the rule that fired and its position."""

    rule: FaultRule
    index: int

    @property
    def kind(self) -> FaultKind:
        """The fault's kind."""
        return self.rule.kind


class FaultInjector:
    """Holds the active rules and decides, per request, whether one fires.

    Thread-safe: the HTTP server calls it from several threads.

    Args:
        seed: seed of the generator behind probabilities and partial-batch choices.
    """

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._rules: list[FaultRule] = []
        self._seen: list[int] = []
        self._fired: list[int] = []
        self._rng = np.random.default_rng(seed)

    def set_rules(self, rules: list[FaultRule], *, seed: int | None = None) -> None:
        """Replace every rule (an empty list switches injection off); counters restart.

        Args:
            rules: the new rules, tried in order.
            seed: reseed the generator (default: the injector's seed), so setting the same
                rules and seed again gives the same faults for the same requests.
        """
        with self._lock:
            self._rules = list(rules)
            self._seen = [0] * len(rules)
            self._fired = [0] * len(rules)
            self._seed = self._seed if seed is None else seed
            self._rng = np.random.default_rng(self._seed)

    def choose(self, method: str, path: str) -> Fault | None:
        """The fault for this request, or ``None`` (draws only for matching rules)."""
        with self._lock:
            for index, rule in enumerate(self._rules):
                if not rule.matches(method, path):
                    continue
                self._seen[index] += 1
                if self._seen[index] <= rule.after:
                    continue
                if rule.count is not None and self._fired[index] >= rule.count:
                    continue
                if rule.probability is not None and not self._rng.random() < rule.probability:
                    continue
                self._fired[index] += 1
                return Fault(rule=rule, index=index)
        return None

    def rejected(self, fault: Fault, ids: list[str]) -> set[str]:
        """For a ``partial_batch`` fault: which of ``ids`` to reject (never empty if ids).

        Args:
            fault: the fault chosen for the request.
            ids: the ids of the batch, in request order.
        """
        if not ids:
            return set()
        rule = fault.rule
        if rule.reject_ids:
            chosen = {i for i in ids if i in rule.reject_ids}
            return chosen or {ids[0]}
        with self._lock:
            hits = self._rng.random(len(ids)) < rule.reject_fraction
            if not hits.any():
                hits[int(self._rng.integers(len(ids)))] = True
        return {i for i, hit in zip(ids, hits, strict=True) if hit}

    def describe(self) -> dict[str, Any]:
        """The rules, each with how many requests it matched and how many faults it fired."""
        with self._lock:
            return {
                "seed": self._seed,
                "rules": [
                    {**rule.model_dump(mode="json"), "matched": seen, "fired": fired}
                    for rule, seen, fired in zip(self._rules, self._seen, self._fired, strict=True)
                ],
            }
