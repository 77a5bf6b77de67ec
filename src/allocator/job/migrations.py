"""The job store's schema, as an ordered list of migrations.

The schema is defined *only* by :data:`MIGRATIONS`: a fresh database runs all of them, an
older one runs the ones it lacks, so there is one source of truth and no drift between a
"current schema" and the upgrade path. Each database records the migrations it has in
``schema_version`` (one row per applied migration). :func:`migrate` applies every missing
migration inside one ``BEGIN IMMEDIATE`` transaction (SQLite DDL is transactional), so a
crash mid-upgrade leaves the database at its old version and two processes opening the
same fresh file do not both migrate it. A database at a version newer than this code is
refused with :class:`~allocator.errors.StateError` rather than written to.

Rules for adding a migration: append, never edit a released one; keep each statement a
single SQL statement (``sqlite3`` runs them one by one inside the transaction; its
``executescript`` would commit first). Tables are ``STRICT``: a value of the wrong type
is an error at insert, not a surprise at read.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from allocator.errors import StateError

__all__ = ["LATEST_VERSION", "MIGRATIONS", "Migration", "migrate", "schema_version"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step.

    Attributes:
        version: the version the database is at after this step (1, 2, ...).
        description: what the step does, recorded in ``schema_version``.
        statements: single SQL statements, run in order.
    """

    version: int
    description: str
    statements: tuple[str, ...]


_V1 = Migration(
    1,
    "runs, plans and the intended changes with their results",
    (
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            account TEXT NOT NULL,
            period TEXT NOT NULL,
            config_hash TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            dry_run INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
            started TEXT NOT NULL,
            finished TEXT,
            outcome TEXT CHECK (outcome IN
                ('planned', 'applied', 'partial', 'failed', 'noop', 'interrupted')),
            CHECK ((finished IS NULL) = (outcome IS NULL))
        ) STRICT""",
        # At most one unfinished run per account and period: the resume point.
        "CREATE UNIQUE INDEX runs_one_open ON runs (account, period) WHERE finished IS NULL",
        """CREATE TABLE plans (
            run_id INTEGER PRIMARY KEY REFERENCES runs (id),
            plan_json TEXT NOT NULL
        ) STRICT""",
        """CREATE TABLE changes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id INTEGER NOT NULL REFERENCES runs (id),
            seq INTEGER NOT NULL,
            adgroup_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('budget', 'status')),
            from_value TEXT NOT NULL,
            to_value TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'applied', 'failed', 'skipped')),
            request_id TEXT,
            error TEXT,
            attempted_at TEXT,
            applied_at TEXT,
            UNIQUE (run_id, seq),
            CHECK ((state = 'applied') = (applied_at IS NOT NULL)),
            CHECK (state NOT IN ('failed', 'skipped') OR error IS NOT NULL),
            CHECK (kind != 'status' OR (from_value IN ('enable', 'disable')
                                        AND to_value IN ('enable', 'disable')))
        ) STRICT""",
    ),
)

_V2 = Migration(
    2,
    "decisions and posterior summaries per arm, authorizations seen, alerts",
    (
        """CREATE TABLE decisions (
            run_id INTEGER NOT NULL REFERENCES runs (id),
            adgroup_id TEXT NOT NULL,
            stage TEXT NOT NULL CHECK (stage IN ('testing', 'scaling', 'paused', 'blocked')),
            p_best REAL CHECK (p_best BETWEEN 0 AND 1),
            cpa_mean REAL,
            cpa_low REAL,
            cpa_high REAL,
            reason TEXT NOT NULL,
            PRIMARY KEY (run_id, adgroup_id)
        ) STRICT""",
        """CREATE TABLE authorizations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id INTEGER NOT NULL REFERENCES runs (id),
            adgroup_id TEXT NOT NULL,
            post_id TEXT,
            status TEXT NOT NULL,
            expires_at TEXT,
            seen_at TEXT NOT NULL
        ) STRICT""",
        """CREATE TABLE alerts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id INTEGER NOT NULL REFERENCES runs (id),
            kind TEXT NOT NULL,
            adgroup_id TEXT,
            message TEXT NOT NULL
        ) STRICT""",
    ),
)

_V3 = Migration(
    3,
    "record which lock owner ran each run; indexes for history and resume",
    (
        "ALTER TABLE runs ADD COLUMN owner TEXT",
        "CREATE INDEX runs_by_account ON runs (account, id)",
        "CREATE INDEX changes_by_run_state ON changes (run_id, state)",
    ),
)

_V4 = Migration(
    4,
    "decisions may record the resting stage (a loser the engine may bring back)",
    (
        """CREATE TABLE decisions_v4 (
            run_id INTEGER NOT NULL REFERENCES runs (id),
            adgroup_id TEXT NOT NULL,
            stage TEXT NOT NULL
                CHECK (stage IN ('testing', 'scaling', 'paused', 'blocked', 'resting')),
            p_best REAL CHECK (p_best BETWEEN 0 AND 1),
            cpa_mean REAL,
            cpa_low REAL,
            cpa_high REAL,
            reason TEXT NOT NULL,
            PRIMARY KEY (run_id, adgroup_id)
        ) STRICT""",
        "INSERT INTO decisions_v4 SELECT run_id, adgroup_id, stage, p_best, cpa_mean, cpa_low, "
        "cpa_high, reason FROM decisions ORDER BY rowid",  # keeps plan order (rowid)
        "DROP TABLE decisions",
        "ALTER TABLE decisions_v4 RENAME TO decisions",
    ),
)

_V5 = Migration(
    5,
    "the order changes were sent in, so the history follows the platform's edit log",
    ("ALTER TABLE changes ADD COLUMN sent_order INTEGER",),
)

MIGRATIONS: tuple[Migration, ...] = (_V1, _V2, _V3, _V4, _V5)
"""Every migration, in order; ``MIGRATIONS[i].version == i + 1``."""

LATEST_VERSION: int = MIGRATIONS[-1].version
"""The schema version this code reads and writes."""

_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL
) STRICT"""


def schema_version(conn: sqlite3.Connection) -> int:
    """The version recorded in the database: 0 for a database without the table.

    Raises:
        StateError: the file holds tables but no ``schema_version``: not an allocator store.
    """
    tables = {
        str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    if "schema_version" not in tables:
        foreign = tables - {"sqlite_sequence"}
        if foreign:
            raise StateError(
                "not an allocator store: it has tables "
                f"({', '.join(sorted(foreign))}) but no schema_version"
            )
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return 0 if row is None or row[0] is None else int(row[0])


def migrate(conn: sqlite3.Connection, *, now: str, target: int = LATEST_VERSION) -> int:
    """Bring the database up to ``target`` in one transaction.

    Args:
        conn: a connection in autocommit mode (``isolation_level=None``).
        now: ISO-8601 timestamp recorded as each migration's ``applied_at``.
        target: version to stop at (tests build older databases with it).

    Returns:
        The version the database is at afterwards.

    Raises:
        StateError: the database is newer than this code, or is not an allocator store.
    """
    if not 0 <= target <= LATEST_VERSION:
        raise ValueError(f"target version {target} is not in 0..{LATEST_VERSION}")
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = schema_version(conn)
        if current > LATEST_VERSION:
            raise StateError(
                f"the store is at schema version {current}, newer than this allocator "
                f"understands ({LATEST_VERSION}); upgrade allocator, or point the job at "
                "another store"
            )
        if current < target:
            conn.execute(_VERSION_TABLE)
        for step in MIGRATIONS[current:target]:
            for statement in step.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (step.version, step.description, now),
            )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return max(current, target)
