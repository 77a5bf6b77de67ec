"""Read-only queries over the job store: runs, changes, history, stage memory, records."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from allocator.core.arms import AuthStatus, Stage
from allocator.errors import StateError
from allocator.job.records import (
    AlertRecord,
    AuthorizationSeen,
    Change,
    ChangeKind,
    ChangeState,
    DecisionRecord,
    Disposition,
    Outcome,
    Run,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["StoreQueries", "change_from_row", "record_from_row"]

R = TypeVar("R", bound="DataclassInstance")

_STAGE_MEMORY = (Outcome.APPLIED.value, Outcome.PARTIAL.value, Outcome.NOOP.value)
_LABELS = {s.label: s for s in Stage}


def record_from_row(cls: type[R], row: sqlite3.Row, **converted: Any) -> R:
    """A store record from a row: each field from its like-named column.

    ``converted`` gives the fields whose column value needs turning into the field's type,
    and those without a column.
    """
    names = [f.name for f in fields(cls)]
    return cls(**{n: converted[n] if n in converted else row[n] for n in names})


def change_from_row(row: sqlite3.Row) -> Change:
    """A ``changes`` row as a :class:`Change`."""
    return record_from_row(
        Change, row, kind=ChangeKind(row["kind"]), state=ChangeState(row["state"])
    )


class StoreQueries:
    """The read side of :class:`~allocator.job.store.Store` (which subclasses it).

    Args:
        conn: an open connection at the latest schema, rows as :class:`sqlite3.Row`.
        path: the database file (for messages).
    """

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    def _run_row(self, run_id: int) -> sqlite3.Row:
        row = self._conn.execute(
            "SELECT r.*, p.plan_json FROM runs r JOIN plans p ON p.run_id = r.id WHERE r.id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            raise StateError(f"no run with id {run_id} in the store {self.path}")
        return row  # type: ignore[no-any-return]

    def _run(self, row: sqlite3.Row, disposition: Disposition = Disposition.LOADED) -> Run:
        pending: tuple[Change, ...] = ()
        if disposition in (Disposition.NEW, Disposition.RESUMED):
            pending = tuple(self.pending_changes(row["id"]))
        return record_from_row(
            Run,
            row,
            dry_run=bool(row["dry_run"]),
            outcome=None if row["outcome"] is None else Outcome(row["outcome"]),
            plan=json.loads(row["plan_json"]),
            disposition=disposition,
            pending=pending,
        )

    def get_run(self, run_id: int) -> Run:
        """The run with ``run_id``.

        Raises:
            StateError: no such run.
        """
        return self._run(self._run_row(run_id))

    def runs(self, account: str) -> list[Run]:
        """Every run of ``account``, oldest first."""
        ids = self._conn.execute("SELECT id FROM runs WHERE account = ? ORDER BY id", (account,))
        return [self.get_run(row["id"]) for row in ids.fetchall()]

    def change(self, change_id: int) -> Change:
        """The change with ``change_id``."""
        row = self._conn.execute("SELECT * FROM changes WHERE id = ?", (change_id,)).fetchone()
        if row is None:
            raise StateError(f"no change with id {change_id} in the store {self.path}")
        return change_from_row(row)

    def changes(self, run_id: int) -> list[Change]:
        """Every change of the run, in apply order."""
        rows = self._conn.execute("SELECT * FROM changes WHERE run_id = ? ORDER BY seq", (run_id,))
        return [change_from_row(row) for row in rows]

    def pending_changes(self, run_id: int) -> list[Change]:
        """The run's pending changes, in apply order."""
        rows = self._conn.execute(
            "SELECT * FROM changes WHERE run_id = ? AND state = 'pending' ORDER BY seq", (run_id,)
        )
        return [change_from_row(row) for row in rows]

    def history(self, account: str) -> list[Change]:
        """Every applied change of the account, in the order they were sent.

        Run by run (runs of an account never overlap: the lock), and within a run in
        the order the changes were last sent (``sent_order``, set by
        :meth:`~allocator.job.changes.StoreChanges.mark_attempted`): a change resumed
        after a crash and sent again comes after the ones that landed before the crash,
        as on the platform's own log of edits. Changes never marked as sent (stores from
        before the order was kept) come first in apply order (``seq``).
        """
        rows = self._conn.execute(
            "SELECT c.* FROM changes c JOIN runs r ON r.id = c.run_id "
            "WHERE r.account = ? AND c.state = 'applied' ORDER BY r.id, c.sent_order, c.seq",
            (account,),
        )
        return [change_from_row(row) for row in rows]

    def last_stages(self, account: str) -> dict[str, Stage]:
        """Each ad group's stage from the latest run that took effect (the engine's memory).

        Runs that took effect are non-dry runs finished ``applied``, ``partial`` or
        ``noop``; an ad group missing from the latest such run keeps its earlier stage.
        """
        rows = self._conn.execute(
            "SELECT d.adgroup_id, d.stage FROM decisions d JOIN runs r ON r.id = d.run_id "
            "WHERE r.account = ? AND r.dry_run = 0 AND r.outcome IN (?, ?, ?) ORDER BY r.id",
            (account, *_STAGE_MEMORY),
        )
        return {row["adgroup_id"]: _LABELS[row["stage"]] for row in rows}

    def decisions(self, run_id: int) -> list[DecisionRecord]:
        """The run's per-arm decisions, in plan order."""
        rows = self._conn.execute(
            "SELECT * FROM decisions WHERE run_id = ? ORDER BY rowid", (run_id,)
        )
        return [record_from_row(DecisionRecord, r, stage=_LABELS[r["stage"]]) for r in rows]

    def alerts(self, run_id: int) -> list[AlertRecord]:
        """The run's alerts, in the order raised."""
        rows = self._conn.execute("SELECT * FROM alerts WHERE run_id = ? ORDER BY id", (run_id,))
        return [record_from_row(AlertRecord, r) for r in rows]

    def authorizations(self, account: str) -> list[AuthorizationSeen]:
        """Every authorization sighting for the account, oldest first."""
        rows = self._conn.execute(
            "SELECT a.* FROM authorizations a JOIN runs r ON r.id = a.run_id "
            "WHERE r.account = ? ORDER BY a.id",
            (account,),
        )
        return [record_from_row(AuthorizationSeen, r, status=AuthStatus(r["status"])) for r in rows]
