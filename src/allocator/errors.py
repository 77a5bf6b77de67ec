"""The exception tree of allocator.

Every error allocator raises on purpose derives from :class:`AllocatorError`::

    AllocatorError
    ├── ConfigError                 a config file or key is wrong (exit code 2)
    │   └── UnsupportedAdGroupError ad groups allocator refuses to manage (CBO, not one ad)
    ├── DataError                   an input file, row or column is wrong (exit code 2)
    │   └── InsufficientDataError   valid, but too little of it to act on
    ├── InvalidChangeError          a change breaks the platform's rules; nothing was sent
    ├── StateError                  the job's store or lock refuses (stale plan, concurrent run)
    │   └── StaleDataError          the newest observation is too old to plan from (exit code 1)
    └── ApiError                    the ad platform did not do what was asked
        ├── ApiTransportError       no HTTP answer (timeout, refused, dropped connection)
        └── ApiStatusError          an answer with a non-zero ``code`` or an HTTP error status
            ├── RateLimitedError    throttled (40100, 40132, 61000, HTTP 429); retryable
            ├── ServerError         platform-side failure (5xx, 50000, 50002, 60001); retryable
            └── AuthError           token missing, expired or invalid (40102, 40104, 40105)

Context is carried in keyword-only attributes (``path``, ``line``, ``column``, ``key``,
``code``, ``request_id``) so callers and the CLI can report precisely (``ConfigError`` and
``DataError`` share a private base that keeps ``reason``, ``path`` and ``line``). Messages
never contain access tokens. The command line (:func:`allocator.cli.main`) ends with exit code 2
on a ``ConfigError`` or ``DataError`` (and on a ``ValueError`` from the core's argument
checks), 1 on any other ``AllocatorError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "AllocatorError",
    "ApiError",
    "ApiStatusError",
    "ApiTransportError",
    "AuthError",
    "ConfigError",
    "DataError",
    "InsufficientDataError",
    "InvalidChangeError",
    "RateLimitedError",
    "ServerError",
    "StaleDataError",
    "StateError",
    "UnsupportedAdGroupError",
]


class AllocatorError(Exception):
    """Root of every error allocator raises on purpose."""


def _where(
    path: str | Path | None, line: int | None, column: str | None = None, key: str | None = None
) -> str:
    parts: list[str] = []
    if path is not None:
        parts.append(str(path))
    if line is not None:
        parts.append(f"line {line}")
    if column is not None:
        parts.append(f"column {column!r}")
    if key is not None:
        parts.append(f"key {key!r}")
    return ", ".join(parts)


def _located(where: str, reason: str) -> str:
    return f"{where}: {reason}" if where else reason


class _LocatedError(AllocatorError):
    """Base of the errors about a place in an input (:class:`ConfigError`, :class:`DataError`).

    It keeps the reason, file and line and writes the one-line message ``where: reason``
    (plus :meth:`_also`); a subclass sets its own attributes before calling ``__init__``.

    Attributes:
        reason: what is wrong, without the location.
        path: the file, when known.
        line: 1-based line in the file, when known.
    """

    def __init__(
        self, reason: str, where: str, *, path: str | Path | None, line: int | None
    ) -> None:
        self.reason = reason
        self.path = None if path is None else Path(path)
        self.line = line
        super().__init__(_located(where, reason) + self._also())

    def _also(self) -> str:
        """What the message adds after the location and reason (nothing here)."""
        return ""


class ConfigError(_LocatedError):
    """A configuration file or one of its keys is invalid.

    One error reports every problem found in a file: ``reason``, ``key`` and ``line``
    describe the first (the most telling), ``more`` the others, in file order; the message
    lists them all on one line.

    Attributes:
        path: the config file, when known.
        key: dotted key path inside the file (``account.daily_budget``), when known.
        reason: what is wrong, without the location.
        line: 1-based line of the key (or of its table) in the file, when known.
        more: the file's other problems, each a :class:`ConfigError`.
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str | Path | None = None,
        key: str | None = None,
        line: int | None = None,
        more: tuple[ConfigError, ...] = (),
    ) -> None:
        self.key = key
        self.more = more
        where = _where(path or None, line or None, key=key or None)
        super().__init__(reason, where, path=path, line=line)

    def _also(self) -> str:
        """The other problems: one line still (the command line's contract), all on it."""
        if not self.more:
            return ""
        rest = " | ".join(p.located(same_file=p.path == self.path) for p in self.more)
        return f" [and {len(self.more)} more: {rest}]"

    def located(self, *, same_file: bool = False) -> str:
        """``path, line N, key 'k': reason`` (without the path when ``same_file``)."""
        path = None if same_file else self.path
        return _located(_where(path, self.line, key=self.key), self.reason)

    @property
    def problems(self) -> tuple[ConfigError, ...]:
        """Every problem, this one first."""
        return (self, *self.more)


class UnsupportedAdGroupError(ConfigError):
    """Ad groups allocator refuses to manage; fix the account or narrow the scope.

    Reasons: campaign budget optimisation, a non-daily budget mode, not exactly one ad,
    an unknown identity type.

    Attributes:
        adgroup_ids: the offending ad groups, in platform order.
        reasons: one reason per id, same order.
    """

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.adgroup_ids = tuple(adgroup_id for adgroup_id, _ in problems)
        self.reasons = tuple(reason for _, reason in problems)
        listed = "; ".join(f"ad group {gid}: {why}" for gid, why in problems)
        super().__init__(f"cannot manage {len(problems)} ad group(s): {listed}")


class DataError(_LocatedError):
    """An input file, row or column is invalid; nothing is planned from it.

    Attributes:
        path: the file, when known.
        line: 1-based line number in the file (the header is line 1), when known.
        column: the column name, when known.
        reason: what is wrong, without the location.
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.column = column
        super().__init__(reason, _where(path, line, column), path=path, line=line)


class InsufficientDataError(DataError):
    """The data is valid but too thin to support the requested computation."""


class InvalidChangeError(AllocatorError):
    """A requested change breaks the platform's rules; nothing was sent.

    Attributes:
        adgroup_id: the ad group the change was for, when there is one.
        reason: what is wrong.
    """

    def __init__(self, reason: str, *, adgroup_id: str | None = None) -> None:
        self.adgroup_id = adgroup_id
        self.reason = reason
        super().__init__(f"ad group {adgroup_id}: {reason}" if adgroup_id else reason)


class StateError(AllocatorError):
    """The job's recorded state forbids the action (stale plan, lock held, kill switch)."""


class StaleDataError(StateError):
    """The newest observation is older than ``[job] max_data_age_days`` allows.

    The job refuses to plan budgets from old evidence (``--allow-stale-data`` overrides).

    Attributes:
        newest: ISO date of the newest observation before the planning day, or ``None``.
        age_days: days between it and the planning day.
    """

    def __init__(self, reason: str, *, newest: str | None, age_days: int) -> None:
        self.newest = newest
        self.age_days = age_days
        super().__init__(reason)


class ApiError(AllocatorError):
    """The ad platform did not do what was asked."""


class ApiTransportError(ApiError):
    """No usable HTTP answer: timeout, refused or dropped connection."""


class ApiStatusError(ApiError):
    """The platform answered with an error.

    Attributes:
        code: the envelope's ``code`` (or the HTTP status when the body had none).
        api_message: the envelope's ``message``.
        request_id: the envelope's ``request_id``, for the platform's support.
        http_status: the HTTP status code.
    """

    def __init__(
        self,
        api_message: str,
        *,
        code: int,
        request_id: str | None = None,
        http_status: int | None = None,
    ) -> None:
        self.code = code
        self.api_message = api_message
        self.request_id = request_id
        self.http_status = http_status
        rid = f" request_id={request_id}" if request_id else ""
        super().__init__(f"API error {code}: {api_message}{rid}")


class RateLimitedError(ApiStatusError):
    """Throttled by the platform; safe to retry after ``retry_after`` seconds if given."""

    def __init__(
        self,
        api_message: str,
        *,
        code: int,
        request_id: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(api_message, code=code, request_id=request_id, http_status=http_status)
        self.retry_after = retry_after


class ServerError(ApiStatusError):
    """A platform-side failure (5xx, 50000, 50002, 60001); safe to retry."""


class AuthError(ApiStatusError):
    """The access token is missing, expired or invalid; never retried."""
