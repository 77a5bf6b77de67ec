"""One applier per account: an exclusive ``flock`` on a lock file next to the store.

Why ``flock`` and not a lease row in SQLite:

* **The kernel releases it when the process dies**, however it dies (SIGKILL, OOM kill,
  power of the container pulled), with no heartbeat to keep and no expiry to tune. A
  crashed run never holds the lock past its own death.
* **A live holder never loses it.** A lease with an expiry can lapse while its holder is
  merely slow (stopped by SIGSTOP, swapped out, stuck in a long API retry); a second
  invocation then takes over and both apply. Telling a dead holder from a slow one needs
  the pid check, which only works on the same host and is fooled by pid reuse.
* **No clocks involved**, so clock jumps cannot hand the lock out twice.

The cost: ``flock`` is per host (and unreliable on network filesystems), which is also
true of SQLite's own locking, so it adds no constraint the store does not already have;
keep the store on a local disk or a ``ReadWriteOnce`` volume. ``flock`` locks belong to
the open file description: two :class:`AccountLock` objects in one process exclude each
other too, and the descriptor is close-on-exec so helper processes do not inherit it.

The lock file is never deleted (deleting it would let a waiter lock the old inode while a
newcomer locks a new file). On acquiring, the holder writes who it is into the file
(owner, pid, hostname, acquired_at) so a refused invocation can name it; the content is
information only, the ``flock`` is the lock. Taking the lock and writing the name, and
failing to take it and reading the name, each happen under a short exclusive ``flock`` on
a companion ``.guard`` file, so a refused invocation never reads a half-written name or
the previous holder's (a race the two-process test caught).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from allocator.errors import StateError

__all__ = ["AccountLock", "LockHolder", "Scoped", "default_owner", "lock_path", "read_holder"]

_FLAGS = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
_GUARD_WAIT = 2.0  # seconds


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds (or last held) an account lock.

    Attributes:
        owner: free-form name the holder gave (e.g. ``cron@host``).
        pid: the holder's process id.
        hostname: the holder's host.
        acquired_at: ISO-8601 UTC time the lock was taken.
    """

    owner: str
    pid: int
    hostname: str
    acquired_at: str

    def describe(self) -> str:
        """One-line description for error messages."""
        return f"{self.owner!r} (pid {self.pid} on {self.hostname}, since {self.acquired_at})"


def default_owner() -> str:
    """``pid N@host``: an owner name that identifies this process."""
    return f"pid {os.getpid()}@{socket.gethostname()}"


def lock_path(db_path: Path, account: str) -> Path:
    """The lock file for ``account``, next to the store file ``db_path``.

    The name carries a readable slug of the account and a hash of its exact name, so two
    accounts never share a lock file even when their slugs collide.
    """
    slug = re.sub(r"[^A-Za-z0-9_.-]", "_", account)[:40]
    digest = hashlib.sha256(account.encode()).hexdigest()[:12]
    return db_path.with_name(f"{db_path.name}.lock-{slug}-{digest}")


def read_holder(path: Path) -> LockHolder | None:
    """The holder recorded in a lock file, or ``None`` if absent, empty or unreadable."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return LockHolder(
            owner=str(raw["owner"]),
            pid=int(raw["pid"]),
            hostname=str(raw["hostname"]),
            acquired_at=str(raw["acquired_at"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


class Scoped:
    """A resource held for a ``with`` block.

    Entering calls :meth:`_begin`; leaving, normally or by an exception (which
    propagates), calls :meth:`_end`.
    """

    def _begin(self) -> None:
        """Take the resource on entering (by default it is taken already)."""

    def _end(self) -> None:
        """Give the resource back on leaving."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._end()


class AccountLock(Scoped):
    """Exclusive lock on one account; a context manager.

    ``with AccountLock(path, "acme", owner="cron"):`` holds the lock for the block.
    Acquisition does not block unless ``wait`` is positive; a lock held elsewhere raises
    :class:`~allocator.errors.StateError` naming the holder.

    Args:
        path: the lock file (see :func:`lock_path`); created if missing.
        account: the account it guards (for messages).
        owner: the name recorded for other invocations to see.
        wait: seconds to keep retrying before giving up (0: try once).
        poll: seconds between retries while waiting.
        clock: UTC clock for ``acquired_at`` (tests inject one).
    """

    def __init__(
        self,
        path: Path,
        account: str,
        *,
        owner: str,
        wait: float = 0.0,
        poll: float = 0.05,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if wait < 0 or poll <= 0:
            raise ValueError("wait must be >= 0 and poll > 0 seconds")
        self.path = path
        self.account = account
        self.owner = owner
        self._wait = wait
        self._poll = poll
        self._clock = clock or (lambda: datetime.now(UTC))
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> LockHolder:
        """Take the lock and record this holder in the lock file.

        Returns:
            The holder record written.

        Raises:
            StateError: another holder has it (after ``wait`` seconds), or this object
                already holds it.
        """
        if self._fd is not None:
            raise StateError(f"the lock on account {self.account!r} is already held by this object")
        fd = os.open(self.path, _FLAGS, 0o600)
        deadline = time.monotonic() + self._wait
        while True:
            with self._guarded():
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = read_holder(self.path)
                else:
                    return self._record(fd)
            if time.monotonic() >= deadline:
                os.close(fd)
                raise StateError(self._busy_message(holder))
            time.sleep(self._poll)

    def _record(self, fd: int) -> LockHolder:
        holder = LockHolder(
            owner=self.owner,
            pid=os.getpid(),
            hostname=socket.gethostname(),
            acquired_at=self._clock().astimezone(UTC).isoformat(timespec="seconds"),
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(holder)).encode(), 0)
        self._fd = fd
        return holder

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        """Exclusive for a few system calls: take-and-write versus fail-and-read.

        Best effort: after ``_GUARD_WAIT`` seconds (a holder stopped mid-write) it goes on
        unguarded; the worst case is then a refusal that cannot name the holder.
        """
        guard = os.open(self.path.with_name(self.path.name + ".guard"), _FLAGS, 0o600)
        try:
            deadline = time.monotonic() + _GUARD_WAIT
            while True:
                try:
                    fcntl.flock(guard, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        break
                    time.sleep(0.001)
            yield
        finally:
            os.close(guard)

    def release(self) -> None:
        """Release the lock (a no-op if not held)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the last descriptor drops the flock

    def _busy_message(self, holder: LockHolder | None) -> str:
        who = holder.describe() if holder else "another process (not yet recorded)"
        waited = f" after waiting {self._wait:g} s" if self._wait else ""
        return (
            f"account {self.account!r} is locked by {who}{waited}; "
            f"another rebalance is running (lock file {self.path})"
        )

    def _begin(self) -> None:
        self.acquire()

    def _end(self) -> None:
        self.release()
