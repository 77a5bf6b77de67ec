"""Request parameter parsing for the sandbox, with the platform's error code (40002).

GET endpoints take query parameters, some of them JSON strings (``fields``,
``filtering``, ``dimensions``, ``metrics``); POST endpoints take a JSON object body.
Every parse error raises :class:`~allocator.platform.sandbox.account.RuleViolation` with
code 40002 and a message naming the parameter, as the platform does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import parse_qs

from allocator.platform.sandbox.account import RuleViolation

__all__ = [
    "bool_param",
    "date_param",
    "id_list",
    "int_param",
    "json_param",
    "page_info",
    "parse_body",
    "parse_query",
    "required",
]

PARAM_ERROR = 40002


def parse_query(query: str) -> dict[str, str]:
    """Query string to a dict (last value wins for repeated names)."""
    parsed = parse_qs(query, keep_blank_values=True)
    return {name: values[-1] for name, values in parsed.items()}


def parse_body(body: bytes) -> dict[str, Any]:
    """A POST body as a JSON object (an empty body is ``{}``)."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise RuleViolation(PARAM_ERROR, "request body is not valid JSON") from exc
    if not isinstance(value, dict):
        raise RuleViolation(PARAM_ERROR, "request body must be a JSON object")
    return value


def required(params: Mapping[str, Any], name: str) -> Any:
    """A required parameter's value (missing or empty: 40002)."""
    value = params.get(name)
    if value is None or value == "":
        raise RuleViolation(PARAM_ERROR, f"{name}: Missing data for required field.")
    return value


def json_param(params: Mapping[str, str], name: str, kind: type) -> Any:
    """A JSON-string query parameter decoded to ``kind`` (``list`` or ``dict``), or None."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RuleViolation(PARAM_ERROR, f"{name}: Not a valid JSON string.") from exc
    if not isinstance(value, kind):
        raise RuleViolation(PARAM_ERROR, f"{name}: must be a JSON {kind.__name__}.")
    return value


def int_param(params: Mapping[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    """An integer parameter within ``[lo, hi]`` (default when absent)."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        raise RuleViolation(PARAM_ERROR, f"{name}: Not a valid integer.")
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise RuleViolation(PARAM_ERROR, f"{name}: Not a valid integer.") from exc
    if not lo <= value <= hi:
        raise RuleViolation(PARAM_ERROR, f"{name}: Must be between {lo} and {hi}.")
    return value


def bool_param(params: Mapping[str, Any], name: str) -> bool:
    """A boolean parameter: JSON ``true``/``false`` or the strings ``true``/``false``."""
    raw = params.get(name, False)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise RuleViolation(PARAM_ERROR, f"{name}: Not a valid boolean.")


def date_param(params: Mapping[str, str], name: str) -> date:
    """A required ``YYYY-MM-DD`` date parameter."""
    raw = required(params, name)
    try:
        return date.fromisoformat(str(raw))
    except ValueError as exc:
        raise RuleViolation(PARAM_ERROR, f"{name}: Not a valid date, expected YYYY-MM-DD.") from exc


def id_list(value: Any, name: str, limit: int, code: int = PARAM_ERROR) -> list[str]:
    """A list of ids (strings or integers) as strings, at most ``limit`` long.

    Args:
        value: the decoded JSON value.
        name: parameter name, for the message.
        limit: maximum number of ids; above it the error carries ``code``.
        code: the envelope code for too many ids (40011 for write batches).
    """
    if not isinstance(value, list) or not all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in value
    ):
        raise RuleViolation(PARAM_ERROR, f"{name}: must be a list of ids.")
    if len(value) > limit:
        raise RuleViolation(code, f"{name}: Too many ids, at most {limit} allowed.")
    return [str(v) for v in value]


def page_info(page: int, page_size: int, total: int) -> dict[str, int]:
    """The platform's ``page_info`` object."""
    return {
        "page": page,
        "page_size": page_size,
        "total_number": total,
        "total_page": math.ceil(total / page_size),
    }
