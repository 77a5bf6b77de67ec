"""Per-change writes of the job store: the write-ahead mark, the answer, the settlement.

Each change of a run is recorded ``pending`` when the run begins. Before it is sent it is
marked attempted (:meth:`StoreChanges.mark_attempted`); the platform's answer makes it
``applied`` or ``failed`` (:meth:`StoreChanges.record_change_result`). On resume after a
crash, :meth:`StoreChanges.settle_pending` decides the pending ones from the live state
(budgets in currency per day). Every write needs the run's account locked and the run
unfinished.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from allocator.errors import StateError
from allocator.job.connection import StoreConnection
from allocator.job.queries import change_from_row
from allocator.job.records import Change, ChangeState, Settlement

__all__ = ["StoreChanges"]

_NEXT_SENT = "(SELECT COALESCE(MAX(sent_order), 0) + 1 FROM changes)"
"""SQL for the next send's position (the store's sends are numbered 1, 2, ... in order)."""


class StoreChanges(StoreConnection):
    """The change-level writes of :class:`~allocator.job.store.Store` (which subclasses it)."""

    def _change_row(self, change_id: int) -> sqlite3.Row:
        row = self._conn.execute(
            "SELECT c.*, r.account, r.finished FROM changes c JOIN runs r ON r.id = c.run_id "
            "WHERE c.id = ?",
            (change_id,),
        ).fetchone()
        if row is None:
            raise StateError(f"no change with id {change_id} in the store {self.path}")
        self._require_lock(row["account"])
        if row["finished"] is not None:
            raise StateError(f"change {change_id} belongs to run {row['run_id']}, finished")
        return row  # type: ignore[no-any-return]

    def mark_attempted(self, change_id: int) -> Change:
        """Record that a pending change is about to be sent (call BEFORE sending).

        The change takes the next send position (``sent_order``): the history lists
        applied changes in the order they were sent, as the platform applied them.

        Raises:
            StateError: the change is not pending, its run is finished, or not locked.
        """
        with self._tx() as tx:
            row = self._change_row(change_id)
            if row["state"] != ChangeState.PENDING:
                raise StateError(f"change {change_id} is {row['state']}, not pending")
            tx.execute(
                f"UPDATE changes SET attempted_at = ?, sent_order = {_NEXT_SENT} WHERE id = ?",
                (self._now(), change_id),
            )
        return self.change(change_id)

    def record_change_result(
        self, change_id: int, ok: bool, request_id: str | None = None, error: str | None = None
    ) -> Change:
        """Record the platform's answer to a pending change: ``applied`` or ``failed``.

        Recording the same answer twice is allowed (a retried record after a crash);
        changing a settled answer is not.

        Args:
            change_id: the change.
            ok: the platform confirmed it.
            request_id: the platform's request id (refused if it contains a token).
            error: why it failed; required when not ``ok`` (tokens redacted).

        Raises:
            StateError: contradicts an earlier answer, the run is finished, or not locked.
        """
        if ok and error is not None:
            raise ValueError("a successful change carries no error")
        if not ok and not error:
            raise ValueError("a failed change needs an error text")
        self._guard.refuse("request_id", request_id)
        error = self._guard.redact(error)
        target = ChangeState.APPLIED if ok else ChangeState.FAILED
        with self._tx() as tx:
            row = self._change_row(change_id)
            if row["state"] == target and row["request_id"] == request_id:
                return change_from_row(row)
            if row["state"] != ChangeState.PENDING:
                raise StateError(
                    f"change {change_id} is already {row['state']}; cannot record it {target}"
                )
            now = self._now()
            tx.execute(
                "UPDATE changes SET state = ?, request_id = ?, error = ?, "
                "attempted_at = COALESCE(attempted_at, ?), applied_at = ? WHERE id = ?",
                (target.value, request_id, error, now, now if ok else None, change_id),
            )
        return self.change(change_id)

    def settle_pending(
        self, run_id: int, live_state: Mapping[str, tuple[float, bool]]
    ) -> Settlement:
        """Settle pending changes against the platform's live state (resume after a crash).

        A pending change whose target the live ad group already shows becomes ``applied``
        if it was attempted (the send landed before the crash) or ``skipped`` if it never
        was (someone else made it; it is not ours to claim). The rest stay pending, to be
        sent again; ad groups missing from ``live_state`` stay pending too.

        Args:
            run_id: the run being resumed.
            live_state: ``adgroup_id -> (daily budget in currency per day, enabled)``.

        Raises:
            StateError: the run is finished or not locked.
        """
        applied, skipped, pending = [], [], []
        with self._tx() as tx:
            run = self._run_row(run_id)
            self._require_lock(run["account"])
            if run["finished"] is not None:
                raise StateError(f"run {run_id} is finished; nothing to settle")
            now = self._now()
            for change in self.pending_changes(run_id):
                live = live_state.get(change.adgroup_id)
                if live is None or not change.reached(*live):
                    pending.append(change)
                elif change.attempted_at is not None:
                    tx.execute(
                        "UPDATE changes SET state = 'applied', applied_at = ? WHERE id = ?",
                        (now, change.id),
                    )
                    applied.append(change.id)
                else:
                    tx.execute(
                        "UPDATE changes SET state = 'skipped', error = ? WHERE id = ?",
                        ("already at target when the run resumed; not sent", change.id),
                    )
                    skipped.append(change.id)
        return Settlement(
            applied=tuple(self.change(i) for i in applied),
            skipped=tuple(self.change(i) for i in skipped),
            pending=tuple(pending),
        )
