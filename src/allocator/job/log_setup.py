"""Logging setup for one job run: ``allocator`` logs on a stream, the token scrubbed.

As JSON lines (one object per record: time, level, logger, message) at INFO and up, or
as plain ``allocator: LEVEL: message`` lines at WARNING and up. Either way the access
token is scrubbed from every message before it is written.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TextIO

from allocator.platform.tiktok import Secret

__all__ = ["route_logs"]


def _scrub(secret: Secret | None, text: str) -> str:
    return text if secret is None else secret.scrub(text)


class _JsonLines(logging.Formatter):
    """One JSON object per record: time, level, logger, message (token scrubbed)."""

    def __init__(self, secret: Secret | None) -> None:
        super().__init__()
        self._secret = secret

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": _scrub(self._secret, record.getMessage()),
            }
        )


class _Plain(logging.Formatter):
    def __init__(self, secret: Secret | None) -> None:
        super().__init__("allocator: %(levelname)s: %(message)s")
        self._secret = secret

    def format(self, record: logging.LogRecord) -> str:
        return _scrub(self._secret, super().format(record))


@contextlib.contextmanager
def route_logs(stream: TextIO, as_json: bool, secret: Secret | None) -> Iterator[None]:
    """Route ``allocator`` logs to ``stream`` for the run (JSON lines at INFO on request).

    ``secret`` (the access token, ``None`` on a platform without one) is scrubbed from
    every message.
    """
    logger = logging.getLogger("allocator")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_JsonLines(secret) if as_json else _Plain(secret))
    handler.setLevel(logging.INFO if as_json else logging.WARNING)
    old_level = logger.level
    logger.addHandler(handler)
    if as_json and logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
