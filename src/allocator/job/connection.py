"""The job store's connection: opening the SQLite file, account locks and transactions.

:class:`StoreConnection` opens (creating and migrating as needed) the database in WAL
mode with full syncs and foreign keys, holds the per-account apply locks of
:mod:`.lock`, and runs each write as one ``BEGIN IMMEDIATE`` transaction. Timestamps are
UTC ISO-8601 strings with microseconds, read from the injected clock. The write protocol
itself lives in :class:`~allocator.job.store.Store`, which builds on this class.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from allocator.errors import StateError
from allocator.job.lock import AccountLock, Scoped, default_owner, lock_path
from allocator.job.migrations import migrate, schema_version
from allocator.job.queries import StoreQueries
from allocator.job.secrets import Revealable, SecretGuard

__all__ = ["StoreConnection"]


class StoreConnection(StoreQueries, Scoped):
    """An open job store: its connection, secrets filter, clock and held locks.

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

    def _end(self) -> None:
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
