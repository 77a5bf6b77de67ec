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
from collections.abc import Iterable, Mapping, Sequence

from allocator.core.arms import AdGroup
from allocator.errors import StateError
from allocator.job.changes import StoreChanges
from allocator.job.records import (
    ChangeState,
    Disposition,
    Outcome,
    Run,
    check_plan,
    intended_changes,
    recorded_plan,
)
from allocator.plans import Plan, PlanAlert, PlannedAdGroup

__all__ = ["Store"]

_DONE = (Outcome.APPLIED.value, Outcome.NOOP.value)


def _fingerprint(account: str, period: str, config_hash: str, inputs_hash: str | None) -> str:
    payload = json.dumps([account, period, config_hash, inputs_hash])
    return hashlib.sha256(payload.encode()).hexdigest()


class Store(StoreChanges):
    """The job's SQLite store. Open with :meth:`open`; close (or use as a context manager).

    Opening, locks and transactions come from
    :class:`~allocator.job.connection.StoreConnection`, the per-change writes from
    :class:`~allocator.job.changes.StoreChanges` and the reads from
    :class:`~allocator.job.queries.StoreQueries`; this class begins and finishes runs
    and records alerts and authorizations.
    """

    # ----------------------------------------------------------------- begin a run

    def begin_run(
        self,
        account: str,
        period: str,
        config_hash: str,
        plan: Plan,
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
            plan: the plan; recorded as its JSON (:func:`~allocator.job.records.recorded_plan`)
                with ``run_id`` set to the store's run id.
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
        check_plan(plan)
        data = recorded_plan(plan)
        self._guard.refuse_json("the plan", data)
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
            text = json.dumps({**data, "run_id": run_id}, ensure_ascii=False, allow_nan=False)
            self._guard.refuse("the plan", text)
            tx.execute("INSERT INTO plans (run_id, plan_json) VALUES (?, ?)", (run_id, text))
            self._insert_plan_rows(tx, run_id, plan.adgroups, plan.alerts, dry_run)
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
        adgroups: Sequence[PlannedAdGroup],
        alerts: Sequence[PlanAlert],
        dry_run: bool,
    ) -> None:
        rows = adgroups
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
                (run_id, r.adgroup_id, r.stage, r.p_best, r.cpa_mean, r.cpa_low,
                 r.cpa_high, r.reason)
                for r in rows
            ],
        )  # fmt: skip
        tx.executemany(
            "INSERT INTO alerts (run_id, kind, adgroup_id, message) VALUES (?, ?, ?, ?)",
            [(run_id, a.kind, a.adgroup_id, a.message) for a in alerts],
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
