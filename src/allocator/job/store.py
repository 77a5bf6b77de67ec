"""The job's state in SQLite: runs, plans, changes and their results; idempotency; locks.

The reconciler's protocol (each step is one transaction)::

    with store.lock(account, owner=...):                     # one applier per account
        run = store.begin_run(account, period, config_hash, plan)
        if run.is_noop: report "already done"; stop
        if run.disposition is Disposition.RESUMED:
            store.settle_pending(run.id, live_state)         # re-read the platform first
        for change in store.pending_changes(run.id):
            store.mark_attempted(change.id)                  # write-ahead, BEFORE sending
            result = platform.apply([change.as_platform_change()])[0]
            store.record_change_result(change.id, result.ok, result.request_id, result.error)
        store.finish_run(run.id, outcome)

Changes are recorded ``pending`` when the run begins and marked attempted before each
send, so a crash anywhere leaves the truth recoverable: a pending change never attempted
was never sent; one attempted may or may not have landed, and :meth:`Store.settle_pending`
decides it from the live state on the next invocation.

**Idempotency.** A period (see :func:`~allocator.job.records.period_key`) is done once a
non-dry run for it finished ``applied`` or ``noop``; :meth:`Store.begin_run` with the same
inputs fingerprint (account, period, config hash and optional inputs hash) then returns
that run marked ``NOOP``. The plan itself is deliberately not part of the fingerprint: it
is computed from the live budgets, which the finished run has just changed, so a re-plan
of the same inputs differs from the original and would defeat the check. New inputs (a
changed config, or new data when the caller passes ``inputs_hash``) start a new run, as
does a period whose last run ended ``partial``, ``failed`` or ``interrupted``.

**Secrets.** The store is given the access token(s) at open and never writes them:
identifiers and the plan (anything a caller controls and can fix) are *refused* with
:class:`~allocator.errors.StateError` when they contain a token; free text that comes from
outside (the platform's error messages, alert messages) is *redacted* to ``***``, because
refusing would lose the record of a change that did happen.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from allocator.core.arms import AdGroup
from allocator.errors import StateError
from allocator.job.lock import AccountLock, default_owner, lock_path
from allocator.job.migrations import migrate, schema_version
from allocator.job.queries import StoreQueries, change_from_row
from allocator.job.records import (
    Change,
    ChangeState,
    Disposition,
    Outcome,
    Run,
    Settlement,
    intended_changes,
    parse_plan,
)
from allocator.job.secrets import Revealable, SecretGuard

__all__ = ["Store"]

_DONE = (Outcome.APPLIED.value, Outcome.NOOP.value)


def _fingerprint(account: str, period: str, config_hash: str, inputs_hash: str | None) -> str:
    payload = json.dumps([account, period, config_hash, inputs_hash])
    return hashlib.sha256(payload.encode()).hexdigest()


class Store(StoreQueries):
    """The job's SQLite store. Open with :meth:`open`; close (or use as a context manager).

    Args:
        conn: an autocommit connection at the latest schema (use :meth:`open`).
        path: the database file.
        guard: the secrets filter.
        clock: UTC clock for timestamps.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        guard: SecretGuard,
        clock: Callable[[], datetime],
    ) -> None:
        super().__init__(conn, path)
        self._guard = guard
        self._clock = clock
        self._locks: dict[str, AccountLock] = {}

    # ------------------------------------------------------------------ open / close

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        secrets: Iterable[str | Revealable] = (),
        clock: Callable[[], datetime] | None = None,
        busy_timeout: float = 10.0,
    ) -> Self:
        """Open (creating and migrating as needed) the store at ``path``.

        Args:
            path: the SQLite file (its directory is created if missing).
            secrets: access tokens (strings or objects with ``reveal()``) never to store.
            clock: UTC clock for timestamps (default: the system clock).
            busy_timeout: seconds to wait for another process's write transaction.

        Raises:
            StateError: the file is not a SQLite database or not an allocator store, or its
                schema is newer than this code.
            ConfigError: a secret is too short to guard.
        """
        guard = SecretGuard(secrets)
        db = Path(path).expanduser().resolve()
        db.parent.mkdir(parents=True, exist_ok=True)
        clock = clock or (lambda: datetime.now(UTC))
        conn = sqlite3.connect(db, isolation_level=None, timeout=busy_timeout)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn, now=clock().astimezone(UTC).isoformat(timespec="microseconds"))
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StateError(f"{db}: cannot use as the job store ({exc})") from exc
        except StateError as exc:
            conn.close()
            raise StateError(f"{db}: {exc}") from exc
        return cls(conn, db, guard, clock)

    @property
    def schema_version(self) -> int:
        """The database's schema version (the latest once open)."""
        return schema_version(self._conn)

    def close(self) -> None:
        """Release held locks and close the connection."""
        for lock in list(self._locks.values()):
            lock.release()
        self._locks.clear()
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---------------------------------------------------------------------- locking

    @contextmanager
    def lock(self, account: str, *, owner: str | None = None, wait: float = 0.0) -> Iterator[None]:
        """Hold the account's apply lock for the ``with`` block (see :mod:`.lock`).

        Args:
            account: the account.
            owner: name shown to a refused invocation (default ``pid N@host``).
            wait: seconds to keep retrying while another invocation holds it.

        Raises:
            StateError: the lock is held elsewhere; the message names the holder.
        """
        name = owner or default_owner()
        self._guard.refuse("account", account)  # it names the lock file
        self._guard.refuse("the lock owner", name)
        if account in self._locks:
            raise StateError(f"account {account!r} is already locked by this store")
        held = AccountLock(
            lock_path(self.path, account), account, owner=name, wait=wait, clock=self._clock
        )
        held.acquire()
        self._locks[account] = held
        try:
            yield
        finally:
            del self._locks[account]
            held.release()

    def _require_lock(self, account: str) -> str:
        held = self._locks.get(account)
        if held is None or not held.held:
            raise StateError(
                f"account {account!r} is not locked: call this inside store.lock({account!r})"
            )
        return held.owner

    # ------------------------------------------------------------------ transactions

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="microseconds")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # ----------------------------------------------------------------- begin a run

    def begin_run(
        self,
        account: str,
        period: str,
        config_hash: str,
        plan: Mapping[str, Any],
        *,
        inputs_hash: str | None = None,
        dry_run: bool = False,
    ) -> Run:
        """Record a run for ``(account, period)``, or find the one to resume or report.

        With ``dry_run`` the plan is recorded as a finished ``planned`` run whose changes
        are ``skipped`` (no lock needed, no effect on idempotency). Otherwise, under
        :meth:`lock`: an unfinished run for the period is returned ``RESUMED`` (with its
        old plan: finish what was started; ``config_hash`` tells whether the config has
        changed since); else a run finished ``applied``/``noop`` with the same
        fingerprint is returned ``NOOP``; else a new run is recorded with every change
        ``pending`` (in the safe order of
        :func:`~allocator.job.records.intended_changes`).

        Args:
            account: account name.
            period: period key (:func:`~allocator.job.records.period_key`).
            config_hash: hash of the job config.
            plan: the Plan JSON object (``run_id`` is set by the store).
            inputs_hash: optional hash of the input data, part of the fingerprint.
            dry_run: record a plan-only run.

        Raises:
            StateError: the plan is invalid or contains an access token, or the account is
                not locked (apply runs).
        """
        for name, value in (("account", account), ("period", period)):
            self._guard.refuse(name, value)
        self._guard.refuse("config_hash", config_hash)
        self._guard.refuse("inputs_hash", inputs_hash)
        self._guard.refuse_json("the plan", plan)
        parsed = parse_plan(plan)
        fingerprint = _fingerprint(account, period, config_hash, inputs_hash)
        owner = None if dry_run else self._require_lock(account)
        with self._tx() as tx:
            if not dry_run:
                found = self._existing(tx, account, period, fingerprint)
                if found is not None:
                    return self._run(*found)
            now = self._now()
            cur = tx.execute(
                "INSERT INTO runs (account, period, config_hash, fingerprint, dry_run, started, "
                "finished, outcome, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (account, period, config_hash, fingerprint, int(dry_run), now,
                 now if dry_run else None, Outcome.PLANNED.value if dry_run else None, owner),
            )  # fmt: skip
            run_id = int(cur.lastrowid or 0)
            text = json.dumps({**plan, "run_id": run_id}, ensure_ascii=False, allow_nan=False)
            self._guard.refuse("the plan", text)
            tx.execute("INSERT INTO plans (run_id, plan_json) VALUES (?, ?)", (run_id, text))
            self._insert_plan_rows(tx, run_id, parsed.adgroups, parsed.alerts, dry_run)
        return self._run(self._run_row(run_id), Disposition.NEW)

    def _existing(
        self, tx: sqlite3.Connection, account: str, period: str, fingerprint: str
    ) -> tuple[sqlite3.Row, Disposition] | None:
        open_run = tx.execute(
            "SELECT id FROM runs WHERE account = ? AND period = ? AND finished IS NULL",
            (account, period),
        ).fetchone()
        if open_run is not None:
            return self._run_row(open_run["id"]), Disposition.RESUMED
        done = tx.execute(
            "SELECT id FROM runs WHERE account = ? AND period = ? AND fingerprint = ? "
            "AND dry_run = 0 AND outcome IN (?, ?) ORDER BY id DESC LIMIT 1",
            (account, period, fingerprint, *_DONE),
        ).fetchone()
        if done is not None:
            return self._run_row(done["id"]), Disposition.NOOP
        return None

    def _insert_plan_rows(
        self,
        tx: sqlite3.Connection,
        run_id: int,
        adgroups: Iterable[Any],
        alerts: Iterable[Any],
        dry_run: bool,
    ) -> None:
        rows = list(adgroups)
        state, error = ("skipped", "dry run: not applied") if dry_run else ("pending", None)
        tx.executemany(
            "INSERT INTO changes (run_id, seq, adgroup_id, kind, from_value, to_value, state, "
            "error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (run_id, seq, adgroup_id, kind.value, old, new, state, error)
                for seq, (adgroup_id, kind, old, new) in enumerate(intended_changes(rows), 1)
            ],
        )
        tx.executemany(
            "INSERT INTO decisions (run_id, adgroup_id, stage, p_best, cpa_mean, cpa_low, "
            "cpa_high, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (run_id, r.adgroup_id, r.stage.label, r.p_best, r.cpa_mean, r.cpa_low,
                 r.cpa_high, r.reason)
                for r in rows
            ],
        )  # fmt: skip
        tx.executemany(
            "INSERT INTO alerts (run_id, kind, adgroup_id, message) VALUES (?, ?, ?, ?)",
            [(run_id, a.kind, a.adgroup_id, a.message) for a in alerts],
        )

    # ------------------------------------------------------------- change results

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

        Raises:
            StateError: the change is not pending, its run is finished, or not locked.
        """
        with self._tx() as tx:
            row = self._change_row(change_id)
            if row["state"] != ChangeState.PENDING:
                raise StateError(f"change {change_id} is {row['state']}, not pending")
            tx.execute("UPDATE changes SET attempted_at = ? WHERE id = ?", (self._now(), change_id))
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

    # ------------------------------------------------------------------ finish a run

    def finish_run(self, run_id: int, outcome: Outcome | str) -> Run:
        """End a run with ``outcome``, checked against its changes.

        ``applied`` needs every change settled and none failed; ``partial`` needs at least
        one applied and one failed; ``noop`` needs nothing applied or failed; none of
        these allows a pending change (settle or record it first). ``failed`` and
        ``interrupted`` mark never-attempted pending changes ``skipped``; attempted ones
        stay ``pending``: whether they landed is unknown, and the next run re-reads the
        live state rather than trusting either guess.

        Raises:
            StateError: the outcome contradicts the changes, the run is finished or a dry
                run, or the account is not locked.
        """
        outcome = Outcome(outcome)
        with self._tx() as tx:
            run = self._run_row(run_id)
            self._require_lock(run["account"])
            if run["finished"] is not None:
                raise StateError(f"run {run_id} is already finished ({run['outcome']})")
            counts = {s: 0 for s in ChangeState}
            for row in tx.execute(
                "SELECT state, COUNT(*) AS n FROM changes WHERE run_id = ? GROUP BY state",
                (run_id,),
            ):
                counts[ChangeState(row["state"])] = row["n"]
            self._check_outcome(run_id, outcome, counts)
            if outcome in (Outcome.FAILED, Outcome.INTERRUPTED):
                tx.execute(
                    "UPDATE changes SET state = 'skipped', error = ? "
                    "WHERE run_id = ? AND state = 'pending' AND attempted_at IS NULL",
                    (f"not sent: the run ended {outcome.value}", run_id),
                )
            tx.execute(
                "UPDATE runs SET finished = ?, outcome = ? WHERE id = ?",
                (self._now(), outcome.value, run_id),
            )
        return self.get_run(run_id)

    @staticmethod
    def _check_outcome(run_id: int, outcome: Outcome, counts: Mapping[ChangeState, int]) -> None:
        n_pending, n_applied = counts[ChangeState.PENDING], counts[ChangeState.APPLIED]
        n_failed = counts[ChangeState.FAILED]
        rules: dict[Outcome, tuple[bool, str]] = {
            Outcome.PLANNED: (False, "only dry runs are 'planned'"),
            Outcome.APPLIED: (n_failed == 0, f"{n_failed} change(s) failed"),
            Outcome.PARTIAL: (
                n_applied > 0 and n_failed > 0,
                f"partial needs applied and failed changes ({n_applied} applied, "
                f"{n_failed} failed)",
            ),
            Outcome.NOOP: (n_applied + n_failed == 0, "changes were sent"),
        }
        ok, why = rules.get(outcome, (True, ""))
        if outcome in (Outcome.APPLIED, Outcome.PARTIAL, Outcome.NOOP) and n_pending:
            ok, why = False, f"{n_pending} change(s) still pending: settle or record them"
        if not ok:
            raise StateError(f"cannot finish run {run_id} as {outcome.value}: {why}")

    # --------------------------------------------------------------- other records

    def add_alert(self, run_id: int, kind: str, adgroup_id: str | None, message: str) -> None:
        """Record an alert raised while applying (message tokens redacted)."""
        self._guard.refuse("alert kind", kind)
        self._guard.refuse("adgroup_id", adgroup_id)
        with self._tx() as tx:
            self._run_row(run_id)
            tx.execute(
                "INSERT INTO alerts (run_id, kind, adgroup_id, message) VALUES (?, ?, ?, ?)",
                (run_id, kind, adgroup_id, self._guard.redact(message)),
            )

    def record_authorizations(self, run_id: int, adgroups: Iterable[AdGroup]) -> int:
        """Record the Spark authorization of each ad group as seen now; returns the count."""
        now = self._now()
        rows = [
            (
                run_id,
                self._guard.refuse("adgroup_id", g.adgroup_id),
                self._guard.refuse("post_id", g.post_id),
                g.authorization.status.value,
                None
                if g.authorization.expires_at is None
                else g.authorization.expires_at.isoformat(),
                now,
            )
            for g in adgroups
        ]
        with self._tx() as tx:
            self._run_row(run_id)
            tx.executemany(
                "INSERT INTO authorizations (run_id, adgroup_id, post_id, status, expires_at, "
                "seen_at) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)
