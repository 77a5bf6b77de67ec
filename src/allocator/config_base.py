"""Building blocks of the config models (the job's, the experiments', the sandbox's).

The strict base model (frozen, unknown keys are errors), the bounded number types the
models share (the core's own, from :mod:`allocator.core.bounds`, so a bound is written
once) and the error a cross-field rule raises to name the key it blames. Files are read
by :mod:`allocator.toml_loader`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

from allocator.core.bounds import NonNegative, Positive, Probability

__all__ = [
    "NonNegative",
    "Positive",
    "Probability",
    "StrictModel",
    "cross_field_error",
]


class StrictModel(BaseModel):
    """Base of every config model: frozen, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def cross_field_error(key: str, reason: str) -> PydanticCustomError:
    """A rule's error that names the key it blames.

    Args:
        key: dotted key relative to the model that raises it (``target_cpa`` in
            ``[account]``'s own rule, ``guardrails.test_budget`` in a whole file's).
        reason: what is wrong, without the value.
    """
    return PydanticCustomError("cross_field", "{reason}", {"key": key, "reason": reason})
