"""The one TOML loader: read a config file, validate it, report every problem at once.

:func:`load_toml` reads a file with :mod:`tomllib`, validates it with a pydantic model
and turns *all* validation errors into one :class:`~allocator.errors.ConfigError`: each
problem names the file, the line (where the key, or its table, is written), the dotted
key and the reason, ranked in file order (keys missing from the file last, since a
misspelt key usually explains a missing one). The job config, the simulation experiments
and the sandbox's account specs all load through it.

Values are never echoed (a config file may sit next to a secret): reasons come from
pydantic without its input, from the models' own rules (which name keys, not values), and
the error is never chained to pydantic's, whose text would quote the input.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from allocator.core.bounds import FieldError
from allocator.errors import ConfigError
from allocator.toml_lines import Loc, dotted_key, key_lines, line_of, parse_key

__all__ = ["load_toml", "read_toml"]

M = TypeVar("M", bound=BaseModel)

_SECRET_KEY = re.compile(r"token|secret|password|api_key|apikey|credential", re.IGNORECASE)
_UNKNOWN = frozenset({"extra_forbidden", "unexpected_keyword_argument"})
_MISSING = frozenset({"missing", "missing_argument"})

Prepare = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns the file's table into the model's input (defaults from the path, includes)."""
Relocate = Callable[[Loc], Loc]
"""Maps an error's location in the model's input back to a key of the file."""


def read_toml(path: Path) -> tuple[str, dict[str, Any]]:
    """The text of the TOML file at ``path`` and its table.

    Raises:
        ConfigError: the file is missing or unreadable, or is not valid TOML (the reason
            and ``line`` name the line).
    """
    try:
        text = path.read_text(encoding="utf-8")
        return text, tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError("file not found", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the file ({exc.__class__.__name__})", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"at line (\d+)", str(exc))
        line = int(where.group(1)) if where else None
        raise ConfigError(f"invalid TOML: {exc}", path=path, line=line) from None


def load_toml(
    path: str | Path,
    model: type[M],
    *,
    context: dict[str, Any] | None = None,
    prepare: Prepare | None = None,
    relocate: Relocate | None = None,
) -> M:
    """Read and validate a TOML config file.

    Args:
        path: the file.
        model: the pydantic model of the whole file.
        context: pydantic validation context (e.g. the directory relative paths start in).
        prepare: turns the file's table into the model's input.
        relocate: maps a location in the model's input back to a key of the file (when
            ``prepare`` moved things).

    Returns:
        The validated model.

    Raises:
        ConfigError: the file is unreadable or not TOML, or has invalid, missing or
            unknown keys; every problem is listed (:attr:`ConfigError.problems`).
    """
    path = Path(path)
    text, data = read_toml(path)
    if prepare is not None:
        data = prepare(data)
    lines = key_lines(text)
    try:
        validated = model.model_validate(data, context=context)
        found = _quoted_numbers(data, validated)
        if not found:
            return validated
    except ValidationError as exc:
        errors = _telling(exc.errors(include_url=False, include_input=False))
        found = [_explain(e, model) for e in errors]
    except ConfigError as exc:  # a dataclass's own check, raised past pydantic
        found = [(parse_key(exc.key or ""), exc.reason)]
    move = relocate or (lambda loc: loc)
    raise _one_error(path, lines, [(move(loc), reason) for loc, reason in found]) from None


def _quoted_numbers(data: object, validated: object, loc: Loc = ()) -> list[tuple[Loc, str]]:
    """Keys written as text (``daily_budget = "300"``) whose validated value is a number.

    pydantic's lax mode turns ``"300"`` into ``300.0``; a config must say what it means,
    so a quoted number or boolean is refused (strict numbers), naming the key.
    """
    if isinstance(data, dict):
        items: list[tuple[str | int, object]] = list(data.items())
    elif isinstance(data, list):
        items = list(enumerate(data))
    else:
        if isinstance(data, str) and type(validated) in (int, float, bool):
            kind = "true or false" if type(validated) is bool else "a number"
            return [(loc, f"must be {kind}, not text in quotes (write it without quotes)")]
        return []
    found: list[tuple[Loc, str]] = []
    for part, value in items:
        try:
            inner = _child(validated, part)
        except (AttributeError, IndexError, KeyError, TypeError):
            continue
        found += _quoted_numbers(value, inner, (*loc, part))
    return found


def _child(validated: object, part: str | int) -> object:
    """The validated value under ``part`` (an item, or a model's or dataclass's field)."""
    if isinstance(validated, dict | list | tuple):
        return validated[part]  # type: ignore[index]
    return getattr(validated, str(part))


def _telling(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Without a list's "too short" when its items have errors (pydantic drops bad items)."""
    deeper = {tuple(e["loc"][:k]) for e in errors for k in range(1, len(e["loc"]))}
    return [e for e in errors if not (e["type"] == "too_short" and tuple(e["loc"]) in deeper)]


def _one_error(path: Path, lines: dict[Loc, int], found: list[tuple[Loc, str]]) -> ConfigError:
    """One error listing every distinct problem, in file order, missing keys last."""
    problems: dict[tuple[Loc, str], int | None] = {}
    for loc, reason in found:
        problems.setdefault((loc, reason), lines.get(loc, line_of(lines, loc)))
    order = sorted(
        problems.items(),
        key=lambda item: (item[0][0] not in lines and _is_missing(item[0][1]), item[1] or 0),
    )
    errors = [
        ConfigError(reason, path=path, key=dotted_key(loc) or None, line=line)
        for (loc, reason), line in order
    ]
    first = errors[0]
    return ConfigError(
        first.reason, path=path, key=first.key, line=first.line, more=tuple(errors[1:])
    )


def _is_missing(reason: str) -> bool:
    return reason == "required key is missing"


def _explain(error: ErrorDetails, root: type) -> tuple[Loc, str]:
    """``(key path, reason)`` of one pydantic error, never echoing the input value."""
    loc, hint = _walk(root, tuple(error["loc"]))
    kind, ctx = error["type"], error.get("ctx") or {}
    cause = ctx.get("error")
    if kind == "cross_field":
        return (*loc, *parse_key(str(ctx["key"]))), str(ctx["reason"])
    if isinstance(cause, FieldError):
        return (*loc, cause.field), cause.reason
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = ", ".join(repr(tag) for tag in _members(hint))
        return (*loc, "kind"), f"must be one of {tags}"
    if kind in _MISSING:
        return loc, "required key is missing"
    if kind in _UNKNOWN:
        return loc, _unknown_key(loc, _walk(root, tuple(error["loc"])[:-1])[1])
    if kind == "predicate_failed" and "isfinite" in error["msg"]:
        return loc, "Input should be a finite number"
    return loc, error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _unknown_key(loc: Loc, holder: object) -> str:
    """Why the key at ``loc`` is refused: a secret, or unknown (with a close match)."""
    name = str(loc[-1])
    if _SECRET_KEY.search(name):
        return (
            "secrets are never config values: put the token in the environment variable "
            "named by token_env (or a file named by token_file)"
        )
    close = difflib.get_close_matches(name, list(_fields(holder)), n=1)
    return "unknown key" + (f"; did you mean {close[0]!r}?" if close else "")


def _walk(root: type, loc: Loc) -> tuple[Loc, object]:
    """``loc`` without the union tags pydantic puts in it, and the type it reaches.

    A tagged union's member is picked by the tag that follows it in ``loc``
    (``platform.files.adgroups`` -> ``platform.adgroups`` in :class:`FilesPlatform`).
    """
    kept: list[str | int] = []
    hint: object = root
    for part in loc:
        hint = _bare(hint)
        members = _members(hint)
        if part in members:
            hint = members[part]
            continue
        kept.append(part)
        if isinstance(part, int):
            args = typing.get_args(hint)
            hint = args[0] if args else None
        else:
            hint = _fields(_bare(hint)).get(part)
    return tuple(kept), _bare(hint)


def _bare(hint: object) -> object:
    """``hint`` without ``Annotated`` and without ``| None``."""
    while typing.get_origin(hint) is Annotated:
        hint = typing.get_args(hint)[0]
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return _bare(args[0])
    return hint


def _members(hint: object) -> dict[object, object]:
    """``{kind: model}`` of a tagged union (empty for any other type)."""
    if typing.get_origin(hint) not in (Union, types.UnionType):
        return {}
    found = {}
    for member in map(_bare, typing.get_args(hint)):
        field = member.model_fields.get("kind") if _is_model(member) else None  # type: ignore[attr-defined]
        for tag in typing.get_args(field.annotation) if field is not None else ():
            found[tag] = member
    return found


def _is_model(hint: object) -> bool:
    return isinstance(hint, type) and issubclass(hint, BaseModel)


def _fields(hint: object) -> dict[str, object]:
    """Field name -> type of a model or a dataclass (empty for anything else)."""
    if _is_model(hint):
        return {k: f.annotation for k, f in hint.model_fields.items()}  # type: ignore[attr-defined]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        types_of = typing.get_type_hints(hint, include_extras=True)
        return {f.name: types_of[f.name] for f in dataclasses.fields(hint) if f.init}
    return {}
