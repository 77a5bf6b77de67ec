"""The scheduled rebalancing job: its SQLite store, idempotency and the account lock.

``store`` records runs, plans, intended changes and their results, decisions, alerts and
authorizations; ``lock`` keeps one applier per account; ``migrations`` holds the schema;
``records`` the typed values the store returns; ``queries`` its read side; ``secrets``
keeps access tokens out of it.
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
