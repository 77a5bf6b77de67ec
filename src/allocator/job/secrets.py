"""Keeping access tokens out of the job store: refuse identifiers, redact free text.

Policy (see :mod:`allocator.job.store`): a value the caller controls and can fix (ids,
hashes, the plan) is refused with :class:`~allocator.errors.StateError` if it contains a
token; free text that comes from outside (platform error messages, alert messages) is
redacted, so the record of what happened is kept without the secret. Matching is by
substring, so tokens must be at least :data:`MIN_SECRET_LENGTH` characters (real TikTok
tokens are 40) to avoid masking ordinary text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from allocator.errors import ConfigError, StateError

__all__ = ["MIN_SECRET_LENGTH", "REDACTED", "Revealable", "SecretGuard"]

REDACTED = "***"
"""What a redacted access token reads as."""

MIN_SECRET_LENGTH = 8
"""Shorter secrets cannot be searched for in text without false hits; they are refused."""


class Revealable(Protocol):
    """A masked secret (e.g. the TikTok client's ``Secret``)."""

    def reveal(self) -> str:
        """The secret value."""
        ...


class SecretGuard:
    """Refuses or redacts any text containing one of the secrets.

    Args:
        secrets: the access tokens, as strings or :class:`Revealable` objects.

    Raises:
        ConfigError: a secret is shorter than :data:`MIN_SECRET_LENGTH`.
    """

    def __init__(self, secrets: Iterable[str | Revealable]) -> None:
        values = {s if isinstance(s, str) else s.reveal() for s in secrets}
        if any(len(v) < MIN_SECRET_LENGTH for v in values):
            raise ConfigError(
                f"the access token is shorter than {MIN_SECRET_LENGTH} characters; "
                "the store cannot keep it out of what it records"
            )
        self._secrets = sorted(values, key=len, reverse=True)

    def refuse(self, name: str, value: str | None) -> str | None:
        """``value`` unchanged; StateError naming ``name`` if it contains a secret."""
        if value is not None and any(s in value for s in self._secrets):
            raise StateError(f"refusing to store {name}: it contains the access token")
        return value

    def refuse_json(self, name: str, value: Any) -> None:
        """Like :meth:`refuse` over every key and string value of a JSON-like object."""
        if isinstance(value, str):
            self.refuse(name, value)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                self.refuse(name, str(key))
                self.refuse_json(name, item)
        elif isinstance(value, list | tuple):
            for item in value:
                self.refuse_json(name, item)

    def redact(self, value: str | None) -> str | None:
        """``value`` with every secret replaced by :data:`REDACTED`, until none is left."""
        if value is None:
            return None
        # Each replacement shortens the text (secrets are longer than the mask): ends.
        while any(s in value for s in self._secrets):
            for secret in self._secrets:
                value = value.replace(secret, REDACTED)
        return value
