"""Read-only queries over the job store: runs, changes, history, stage memory, records."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

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

__all__ = ["StoreQueries", "change_from_row"]

_STAGE_MEMORY = (Outcome.APPLIED.value, Outcome.PARTIAL.value, Outcome.NOOP.value)
_LABELS = {s.label: s for s in Stage}


def change_from_row(row: sqlite3.Row) -> Change:
    """A ``changes`` row as a :class:`Change`."""
    return Change(
        id=row["id"],
        run_id=row["run_id"],
        seq=row["seq"],
        adgroup_id=row["adgroup_id"],
        kind=ChangeKind(row["kind"]),
        from_value=row["from_value"],
        to_value=row["to_value"],
        state=ChangeState(row["state"]),
        request_id=row["request_id"],
        error=row["error"],
        attempted_at=row["attempted_at"],
        applied_at=row["applied_at"],
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
        return Run(
            id=row["id"],
            account=row["account"],
            period=row["period"],
            config_hash=row["config_hash"],
            fingerprint=row["fingerprint"],
            owner=row["owner"],
            dry_run=bool(row["dry_run"]),
            started=row["started"],
            finished=row["finished"],
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

        The order is run by run, and within a run the apply order (``seq``); it matches
        the platform's own log of edits as long as changes are sent in ``seq`` order.
        """
        rows = self._conn.execute(
            "SELECT c.* FROM changes c JOIN runs r ON r.id = c.run_id "
            "WHERE r.account = ? AND c.state = 'applied' ORDER BY r.id, c.seq",
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
        return [
            DecisionRecord(
                run_id=r["run_id"], adgroup_id=r["adgroup_id"], stage=_LABELS[r["stage"]],
                p_best=r["p_best"], cpa_mean=r["cpa_mean"], cpa_low=r["cpa_low"],
                cpa_high=r["cpa_high"], reason=r["reason"],
            )
            for r in rows
        ]  # fmt: skip

    def alerts(self, run_id: int) -> list[AlertRecord]:
        """The run's alerts, in the order raised."""
        rows = self._conn.execute("SELECT * FROM alerts WHERE run_id = ? ORDER BY id", (run_id,))
        return [AlertRecord(r["run_id"], r["kind"], r["adgroup_id"], r["message"]) for r in rows]

    def authorizations(self, account: str) -> list[AuthorizationSeen]:
        """Every authorization sighting for the account, oldest first."""
        rows = self._conn.execute(
            "SELECT a.* FROM authorizations a JOIN runs r ON r.id = a.run_id "
            "WHERE r.account = ? ORDER BY a.id",
            (account,),
        )
        return [
            AuthorizationSeen(
                run_id=r["run_id"], adgroup_id=r["adgroup_id"], post_id=r["post_id"],
                status=AuthStatus(r["status"]), expires_at=r["expires_at"], seen_at=r["seen_at"],
            )
            for r in rows
        ]  # fmt: skip
