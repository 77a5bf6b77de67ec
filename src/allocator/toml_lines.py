"""Where each key of a TOML file is written: its line number, for error messages.

:mod:`tomllib` returns values without positions, so :func:`key_lines` scans the text
once: table headers (``[a.b]``, ``[[policies]]`` counted per array), ``key = value``
lines (dotted and quoted keys too), skipping comments, multi-line arrays and multi-line
strings. Keys inside inline tables are not indexed; :func:`line_of` then answers with the
nearest enclosing key that is. The scan assumes a file :mod:`tomllib` already accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["Loc", "dotted_key", "key_lines", "line_of", "parse_key"]

Loc = tuple[str | int, ...]
"""A key's path: table and key names, and 0-based indices into arrays."""

_BARE_OR_QUOTED = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([A-Za-z0-9_-]+))\s*')
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_key(text: str) -> Loc:
    """A dotted key such as ``policies[1].guardrails.max_step_up`` as a :data:`Loc`."""
    return tuple(int(i) if i else name for name, i in _PART.findall(text))


def dotted_key(loc: Loc) -> str:
    """The inverse of :func:`parse_key`: ``("policies", 1, "name")`` -> ``policies[1].name``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _toml_key(text: str) -> tuple[str, ...] | None:
    """The parts of a TOML key (``a."b.c".d``), or ``None`` when ``text`` is not one."""
    parts: list[str] = []
    pos = 0
    while True:
        match = _BARE_OR_QUOTED.match(text, pos)
        if match is None:
            return None
        parts.append(next(g for g in match.groups() if g is not None))
        pos = match.end()
        if pos == len(text):
            return tuple(parts)
        if text[pos] != ".":
            return None
        pos += 1


def _code(line: str) -> tuple[str, int]:
    """The line without its comment, and its bracket balance, outside strings."""
    depth, quote, out = 0, "", []
    for i, char in enumerate(line):
        if quote:
            if char == quote and line[i - 1] != "\\":
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            break
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        out.append(char)
    return "".join(out).strip(), depth


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(line number, code)`` of each line that starts a header or a key."""
    depth, fence = 0, ""
    for number, line in enumerate(text.splitlines(), start=1):
        if fence:  # inside a multi-line string
            fence = "" if line.count(fence) % 2 else fence
            continue
        if depth > 0:  # inside a multi-line array or inline table
            depth += _code(line)[1]
            continue
        code, balance = _code(line)
        if not code:
            continue
        yield number, code
        opened = next((f for f in ('"""', "'''") if code.count(f) % 2), "")
        fence, depth = opened, (0 if code.startswith("[") else max(balance, 0))


def key_lines(text: str) -> dict[Loc, int]:
    """The line (1-based) of every table and key of a TOML document.

    Returns:
        ``{loc: line}``; an array of tables gets its index (``("policies", 1)``) and the
        array's own path maps to its first header.
    """
    lines: dict[Loc, int] = {}
    table: Loc = ()
    count: dict[Loc, int] = {}  # arrays of tables: index of the last one opened

    def resolve(path: tuple[str, ...]) -> Loc:
        """A header's path with the current index of each array of tables it crosses."""
        loc: Loc = ()
        for part in path:
            loc = (*loc, part)
            if loc in count:
                loc = (*loc, count[loc])
        return loc

    for number, code in _logical_lines(text):
        if code.startswith("[["):
            path = _toml_key(code[2 : code.find("]]")]) or ()
            array = (*resolve(path[:-1]), *path[-1:])
            count[array] = count.get(array, -1) + 1
            table = (*array, count[array])
        elif code.startswith("["):
            table = resolve(_toml_key(code[1 : code.find("]")]) or ())
        else:
            key = _toml_key(code.partition("=")[0])
            if key is not None:
                loc = (*table, *key)
                for k in range(len(table) + 1, len(loc) + 1):
                    lines.setdefault(loc[:k], number)
            continue
        for k in range(1, len(table) + 1):
            lines.setdefault(table[:k], number)
    return lines


def line_of(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of ``loc``, else of its nearest enclosing key or table, else ``None``."""
    for k in range(len(loc), 0, -1):
        if loc[:k] in lines:
            return lines[loc[:k]]
    return None
