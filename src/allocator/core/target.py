"""The portfolio's goal: a target CPA or a target ROAS, and the reward level it implies."""

from __future__ import annotations

import math
from dataclasses import dataclass

from allocator.core.arms import Objective, Portfolio

__all__ = ["Target"]


@dataclass(frozen=True, slots=True)
class Target:
    """What a good arm must achieve.

    Attributes:
        objective: ``Objective.CPA`` (conversions per spend) or ``Objective.ROAS`` (value
            per spend).
        target_cpa: currency per conversion; required (> 0) when the objective is CPA.
        target_roas: conversion value per currency spent; required (> 0) for ROAS.
    """

    objective: Objective
    target_cpa: float | None = None
    target_roas: float | None = None

    def __post_init__(self) -> None:
        for name in ("target_cpa", "target_roas"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")
        if self.objective is Objective.CPA and self.target_cpa is None:
            raise ValueError("objective 'cpa' needs target_cpa")
        if self.objective is Objective.ROAS and self.target_roas is None:
            raise ValueError("objective 'roas' needs target_roas")

    @classmethod
    def from_portfolio(cls, portfolio: Portfolio) -> Target:
        """The target of a portfolio (objective and its target value)."""
        return cls(portfolio.objective, portfolio.target_cpa, portfolio.target_roas)

    def reward_threshold(self) -> float:
        """The reward an arm must reach, in reward units.

        Returns:
            For CPA, ``1 / target_cpa`` in conversions per currency unit; for ROAS,
            ``target_roas`` in value per currency unit.
        """
        if self.objective is Objective.CPA:
            assert self.target_cpa is not None  # checked in __post_init__
            return 1.0 / self.target_cpa
        assert self.target_roas is not None
        return self.target_roas
