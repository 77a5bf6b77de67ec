"""Building blocks of the TOML config files (the job's and the simulation experiments').

The strict base model (frozen, unknown keys are errors), the bounded number types the
sections share, and the pieces that turn a problem into one
:class:`~allocator.errors.ConfigError` naming the file, the dotted key and the reason:
reading the TOML file, ranking pydantic's errors, spelling a location as a dotted key and
finding the model that holds a key (for "did you mean" hints).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from allocator.errors import ConfigError

__all__ = [
    "NonNegative",
    "Positive",
    "Probability",
    "StrictModel",
    "cross_field_error",
    "dotted_key",
    "nested_model",
    "ranked_errors",
    "read_toml",
]

Probability = Annotated[float, Field(gt=0.0, lt=1.0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]


class StrictModel(BaseModel):
    """Base of every config model: frozen, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def cross_field_error(key: str, reason: str) -> PydanticCustomError:
    """A cross-field error that still names the offending dotted key."""
    return PydanticCustomError("cross_field", "{reason}", {"key": key, "reason": reason})


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML file at ``path`` as a dict.

    Raises:
        ConfigError: the file is missing or unreadable, or is not valid TOML (the reason
            names line and column).
    """
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("file not found", path=path) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the file ({exc.__class__.__name__})", path=path) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=path) from exc


def ranked_errors(exc: ValidationError) -> list[ErrorDetails]:
    """A validation error's details without input values, unknown keys first.

    An unknown key usually explains a "missing" one (a typo), so it is reported first.
    """
    errors = exc.errors(include_url=False, include_input=False)
    errors.sort(key=lambda e: e["type"] != "extra_forbidden")
    return errors


def dotted_key(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a dotted key: ``policies[1].guardrails.step``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def nested_model(model: type[BaseModel], path: Iterable[str]) -> type[BaseModel] | None:
    """The model class reached from ``model`` through the fields named by ``path``.

    Returns:
        ``None`` when a name is not a field of the model reached so far, or its field
        is not itself a model.
    """
    for part in path:
        field = model.model_fields.get(part)
        nested = field.annotation if field is not None else None
        if not (isinstance(nested, type) and issubclass(nested, BaseModel)):
            return None
        model = nested
    return model
