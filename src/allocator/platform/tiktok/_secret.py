"""The access token: loaded from the environment or a file, masked everywhere it prints."""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from pathlib import Path
from typing import final

from allocator.errors import ConfigError

__all__ = ["DEFAULT_TOKEN_ENV", "Secret", "load_token"]

DEFAULT_TOKEN_ENV = "TIKTOK_ACCESS_TOKEN"
"""Environment variable the access token is read from unless configured otherwise."""

_MASK = "***"


@final
class Secret:
    """A string that never shows itself: ``repr``, ``str`` and formatting print ``***``.

    Call :meth:`reveal` only where the value must leave the process (the ``Access-Token``
    request header).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value or value != value.strip() or "\n" in value:
            raise ConfigError("access token is empty or has surrounding whitespace")
        self._value = value

    def reveal(self) -> str:
        """The secret value itself."""
        return self._value

    def scrub(self, text: str) -> str:
        """``text`` with every occurrence of the secret replaced by ``***``."""
        return text.replace(self._value, _MASK)

    def __repr__(self) -> str:
        return f"Secret({_MASK!r})"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, format_spec: str) -> str:
        return format(_MASK, format_spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> str:
        raise TypeError("a Secret cannot be pickled")


def load_token(
    env_var: str = DEFAULT_TOKEN_ENV,
    *,
    file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Secret:
    """Read the access token from ``file`` when given, else from ``env_var``.

    Args:
        env_var: name of the environment variable holding the token.
        file: a file holding only the token (surrounding whitespace is stripped).
        environ: the environment to read (default ``os.environ``), for tests.

    Raises:
        ConfigError: the file is missing or empty, or the variable is unset or empty.
            The message names the variable or file, never the value.
    """
    if file is not None:
        path = Path(file)
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the access token file: {exc.strerror}", path=path
            ) from None
        if not text:
            raise ConfigError("the access token file is empty", path=path)
        return Secret(text)
    env = os.environ if environ is None else environ
    value = env.get(env_var, "").strip()
    if not value:
        raise ConfigError(f"environment variable {env_var} is not set or empty", key=env_var)
    return Secret(value)
