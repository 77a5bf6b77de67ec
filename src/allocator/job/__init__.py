"""The scheduled rebalancing job: its SQLite store, idempotency and the account lock.

``store`` records runs, plans, intended changes and their results, decisions, alerts and
authorizations, building on ``connection`` (opening, locks, transactions), ``changes``
(per-change writes and settlement) and ``queries`` (the read side); ``lock`` keeps one
applier per account; ``migrations`` holds the schema; ``records`` the typed values the
store returns; ``secrets`` keeps access tokens out of it.

``rebalance`` is the job's entry point: ``platforms`` opens and reads the platform (the
API, or the read-only files export), ``planning`` plans a day from records, ``reconcile``
records a dry run or applies under the lock, ``apply`` sends the changes write-ahead,
``results`` holds what a run returns (the command line renders it) and ``log_setup``
routes a run's logs; ``demo`` runs the job on the local sandbox.
"""

from __future__ import annotations

from allocator.job.lock import AccountLock, LockHolder, lock_path
from allocator.job.migrations import LATEST_VERSION
from allocator.job.records import (
    AlertRecord,
    AuthorizationSeen,
    Cadence,
    Change,
    ChangeKind,
    ChangeState,
    DecisionRecord,
    Disposition,
    Outcome,
    Run,
    Settlement,
    period_key,
)
from allocator.job.secrets import REDACTED
from allocator.job.store import Store

__all__ = [
    "LATEST_VERSION",
    "REDACTED",
    "AccountLock",
    "AlertRecord",
    "AuthorizationSeen",
    "Cadence",
    "Change",
    "ChangeKind",
    "ChangeState",
    "DecisionRecord",
    "Disposition",
    "LockHolder",
    "Outcome",
    "Run",
    "Settlement",
    "Store",
    "lock_path",
    "period_key",
]
