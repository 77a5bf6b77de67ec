"""Writes that are applied at most once per intended change.

Every change is validated before anything is sent (ids, cents, platform minimum). A
batch is then sent with :data:`~allocator.platform.tiktok._retry.is_not_applied` retries
only (throttled, or never reached the server). After an ambiguous failure (a 5xx or
``50000``-class answer, a read timeout, a connection dropped after sending) the ad groups
are read back, changes already in effect are reported as applied, and only the others
are sent again, at most ``max_sends`` times in all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from allocator.errors import ApiError, ApiStatusError, AuthError
from allocator.platform.base import BudgetChange, ChangeResult, InvalidChangeError, StatusChange
from allocator.platform.tiktok._config import BudgetPath, TikTokConfig
from allocator.platform.tiktok._reads import AdvertiserEndpoints, Reader
from allocator.platform.tiktok._records import to_cents
from allocator.platform.tiktok._retry import is_ambiguous_write_failure, is_not_applied
from allocator.platform.tiktok._transport import Envelope, Transport

__all__ = ["Intent", "Writer", "validate_budgets", "validate_statuses"]

log = logging.getLogger("allocator.platform.tiktok")

Value = Decimal | str | bool


@dataclass(frozen=True, slots=True)
class Intent:
    """One validated change: ``key`` (an ad group id) should end up at ``value``."""

    key: str
    value: Value


SendFn = Callable[[Sequence[Intent]], dict[str, ChangeResult]]
ReadBackFn = Callable[[Sequence[Intent]], dict[str, Value]]


def _check_ids(ids: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for key in ids:
        if not isinstance(key, str) or not key.strip():
            raise InvalidChangeError(f"{what} has an empty or non-string ad group id {key!r}")
        if key in seen:
            raise InvalidChangeError(f"{what} lists this ad group twice", adgroup_id=key)
        seen.add(key)


def validate_budgets(changes: Sequence[BudgetChange], config: TikTokConfig) -> list[Intent]:
    """Budgets rounded half-up to cents, each within ``[min_budget, max_budget]``.

    Raises:
        InvalidChangeError: a budget is not finite, below the minimum after rounding, or
            above the maximum; or an id is empty or repeated. Nothing is sent then.
    """
    _check_ids([c.adgroup_id for c in changes], "the budget change list")
    low, high = to_cents(config.min_budget), to_cents(config.max_budget)
    intents: list[Intent] = []
    for change in changes:
        try:
            cents = to_cents(float(change.budget))
        except (TypeError, ValueError) as exc:
            raise InvalidChangeError(f"budget {exc}", adgroup_id=change.adgroup_id) from None
        if not low <= cents <= high:
            raise InvalidChangeError(
                f"budget {change.budget!r} rounds to {cents}, outside the accepted "
                f"{low}..{high} per day",
                adgroup_id=change.adgroup_id,
            )
        intents.append(Intent(change.adgroup_id, cents))
    return intents


def validate_statuses(changes: Sequence[StatusChange]) -> list[Intent]:
    """Status changes as ``ENABLE`` / ``DISABLE`` intents.

    Raises:
        InvalidChangeError: an id is empty or repeated. Nothing is sent then.
    """
    _check_ids([c.adgroup_id for c in changes], "the status change list")
    return [Intent(c.adgroup_id, "ENABLE" if c.enable else "DISABLE") for c in changes]


def _chunks(items: Sequence[Intent], size: int) -> Iterator[Sequence[Intent]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _failed(batch: Sequence[Intent], request_id: str | None, error: str) -> dict[str, ChangeResult]:
    return {i.key: ChangeResult(i.key, ok=False, request_id=request_id, error=error) for i in batch}


def _rejected_whole(exc: ApiStatusError, batch: Sequence[Intent]) -> bool:
    """A multi-change batch refused for a parameter reason, worth retrying one by one.

    Not throttling, not a platform failure, not the token (those raise before this).
    """
    return len(batch) > 1 and not is_ambiguous_write_failure(exc) and not is_not_applied(exc)


def _request_id(exc: BaseException) -> str | None:
    return exc.request_id if isinstance(exc, ApiStatusError) else None


def per_item_results(
    batch: Sequence[Intent], envelope: Envelope, *, listed_key: str | None
) -> dict[str, ChangeResult]:
    """Per-id outcome of an accepted batch: ``data.error_list`` entries failed, the rest ok.

    With ``listed_key`` (``adgroup_ids`` for status updates), an id the answer lists in
    neither that list nor ``error_list`` is reported as not confirmed.
    """
    data = envelope.data
    rejected: dict[str, str] = {}
    for entry in data.get("error_list") or []:
        if isinstance(entry, dict) and entry.get("adgroup_id") is not None:
            message = str(entry.get("error_message") or "rejected")
            rejected[str(entry["adgroup_id"])] = message
    listed = data.get(listed_key) if listed_key else None
    confirmed = {str(x) for x in listed} if isinstance(listed, list) else None
    rid = envelope.request_id
    results: dict[str, ChangeResult] = {}
    for intent in batch:
        if intent.key in rejected:
            error: str | None = f"rejected by the platform: {rejected[intent.key]}"
        elif confirmed is not None and intent.key not in confirmed:
            error = "the platform's answer does not confirm this ad group"
        else:
            error = None
        results[intent.key] = ChangeResult(intent.key, error is None, rid, error)
    return results


class Writer(AdvertiserEndpoints):
    """POST endpoints: budgets, statuses; each change applied at most once."""

    def __init__(self, transport: Transport, reader: Reader, config: TikTokConfig) -> None:
        super().__init__(transport, config)
        self._reader = reader

    def post(self, path: str, body: Mapping[str, object]) -> Envelope:
        """One POST with the advertiser id, retried only while provably not applied."""
        return self._call("POST", path, body, self._config.write_retry, is_not_applied)

    def budgets(self, changes: Sequence[BudgetChange]) -> list[ChangeResult]:
        """Validate all, then send in batches (or one by one on the single path)."""
        intents = validate_budgets(changes, self._config)
        single = self._config.budget_path is BudgetPath.SINGLE
        size = 1 if single else self._config.budget_batch_size
        send = self._send_budget_single if single else self._send_budget_batch
        return self.apply(intents, size, send, self._read_budgets)

    def statuses(self, changes: Sequence[StatusChange]) -> list[ChangeResult]:
        """Validate all, then send ENABLE and DISABLE batches with partial success on."""
        intents = validate_statuses(changes)
        results: dict[str, ChangeResult] = {}
        for status in ("ENABLE", "DISABLE"):
            group = [i for i in intents if i.value == status]
            for r in self.apply(
                group, self._config.status_batch_size, self._send_status, self._read_statuses
            ):
                results[r.adgroup_id] = r
        return [results[i.key] for i in intents]

    def apply(
        self, intents: Sequence[Intent], batch_size: int, send: SendFn, read_back: ReadBackFn
    ) -> list[ChangeResult]:
        """Send ``intents`` in batches; one result per intent, in order.

        Raises:
            AuthError: the token was refused; batches before this one may be applied.
        """
        results: dict[str, ChangeResult] = {}
        for batch in _chunks(intents, batch_size):
            results.update(self._apply_batch(batch, send, read_back))
        return [results[i.key] for i in intents]

    def _apply_batch(
        self, batch: Sequence[Intent], send: SendFn, read_back: ReadBackFn
    ) -> dict[str, ChangeResult]:
        results: dict[str, ChangeResult] = {}
        pending = list(batch)
        failure: ApiError = ApiError("nothing sent")
        for n_sent in range(1, self._config.max_sends + 1):
            try:
                results.update(send(pending))
                return results
            except AuthError:
                raise
            except ApiError as exc:
                settled = self._settle_unambiguous(exc, pending, send, read_back)
                if settled is not None:
                    results.update(settled)
                    return results
                failure = exc
            settled, pending = self._read_back_after(pending, failure, read_back, n_sent)
            results.update(settled)
            if not pending:
                return results
        error = (
            f"not applied after {self._config.max_sends} sends (checked by read-back): {failure}"
        )
        results.update(_failed(pending, _request_id(failure), error))
        return results

    def _settle_unambiguous(
        self, exc: ApiError, pending: Sequence[Intent], send: SendFn, read_back: ReadBackFn
    ) -> dict[str, ChangeResult] | None:
        """Results for a send whose failure leaves no doubt; ``None`` when it is ambiguous.

        A batch rejected as a whole is retried one by one; any other unambiguous failure
        fails every change of the batch.
        """
        if isinstance(exc, ApiStatusError) and _rejected_whole(exc, pending):
            return self._one_by_one(pending, send, read_back, exc)
        if not is_ambiguous_write_failure(exc):
            prefix = "not applied: " if is_not_applied(exc) else ""
            return _failed(pending, _request_id(exc), f"{prefix}{exc}")
        return None

    def _read_back_after(
        self, pending: Sequence[Intent], failure: ApiError, read_back: ReadBackFn, n_sent: int
    ) -> tuple[dict[str, ChangeResult], list[Intent]]:
        """After an ambiguous failure: results of the changes settled, and those to resend.

        Changes the read-back finds in effect are applied; when the read-back itself
        fails, every change is failed with its outcome unknown and none is resent.
        """
        try:
            current = read_back(pending)
        except AuthError:
            raise
        except ApiError as read_exc:
            error = f"outcome unknown: {failure}; reading the ad group back failed: {read_exc}"
            return _failed(pending, _request_id(failure), error), []
        rid = _request_id(failure)
        done = [i for i in pending if current.get(i.key) == i.value]
        settled = {i.key: ChangeResult(i.key, ok=True, request_id=rid) for i in done}
        rest = [i for i in pending if current.get(i.key) != i.value]
        log.warning(
            "ambiguous write failure (%s); read-back: %d of %d in effect, %d to resend "
            "(send %d of %d)",
            type(failure).__name__,
            len(done),
            len(done) + len(rest),
            len(rest) if n_sent < self._config.max_sends else 0,
            n_sent,
            self._config.max_sends,
        )
        return settled, rest

    def _one_by_one(
        self, batch: Sequence[Intent], send: SendFn, read_back: ReadBackFn, exc: ApiStatusError
    ) -> dict[str, ChangeResult]:
        """Send each change of a batch rejected as a whole on its own.

        One bad id rejects the whole batch, so the batch is read back first and every
        change not yet in effect is then sent alone: one bad ad group does not hold back
        the others, and nothing is applied twice.
        """
        log.warning(
            "batch of %d rejected (code %d); sending its changes one by one", len(batch), exc.code
        )
        try:
            current = read_back(batch)
        except AuthError:
            raise
        except ApiError as read_exc:
            error = f"{exc}; reading the ad groups back failed: {read_exc}"
            return _failed(batch, exc.request_id, error)
        results: dict[str, ChangeResult] = {}
        for intent in batch:
            if current.get(intent.key) == intent.value:
                results[intent.key] = ChangeResult(intent.key, ok=True, request_id=exc.request_id)
            else:
                results.update(self._apply_batch([intent], send, read_back))
        return results

    def _send_budget_batch(self, batch: Sequence[Intent]) -> dict[str, ChangeResult]:
        items = [{"adgroup_id": i.key, "budget": _number(i.value)} for i in batch]
        envelope = self.post("/adgroup/budget/update/", {"budget": items})
        return per_item_results(batch, envelope, listed_key=None)

    def _send_budget_single(self, batch: Sequence[Intent]) -> dict[str, ChangeResult]:
        (intent,) = batch
        body = {"adgroup_id": intent.key, "budget": _number(intent.value)}
        envelope = self.post("/adgroup/update/", body)
        return per_item_results(batch, envelope, listed_key=None)

    def _send_status(self, batch: Sequence[Intent]) -> dict[str, ChangeResult]:
        body: dict[str, Any] = {
            "adgroup_ids": [i.key for i in batch],
            "operation_status": batch[0].value,
            "allow_partial_success": True,
        }
        envelope = self.post("/adgroup/status/update/", body)
        return per_item_results(batch, envelope, listed_key="adgroup_ids")

    def _read_budgets(self, batch: Sequence[Intent]) -> dict[str, Value]:
        infos = self._reader.adgroup_infos([i.key for i in batch])
        return {g.adgroup_id: to_cents(g.budget) for g in infos}

    def _read_statuses(self, batch: Sequence[Intent]) -> dict[str, Value]:
        infos = self._reader.adgroup_infos([i.key for i in batch])
        return {g.adgroup_id: g.operation_status for g in infos}


def _number(value: Value) -> float:
    """A cents :class:`Decimal` as the JSON number the API takes (exact up to 15 digits)."""
    if not isinstance(value, Decimal):
        raise TypeError(f"expected a Decimal budget, got {value!r}")
    return float(value)
