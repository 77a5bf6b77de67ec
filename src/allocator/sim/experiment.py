"""Experiment configs: one TOML file describes a whole simulation study.

A file names the scenario (an inline ``[scenario]`` table, or ``scenario = "path.toml"``
whose top-level keys are the scenario's), the number of seeds (replications), the
horizon and the budget, and the policies, each with optional parameter grids::

    name = "spark_vs_dark"
    seeds = 200
    horizon_days = 60
    daily_budget = 1000.0

    [scenario]
    n_arms = 12
    spark_share = 0.5

    [[policies]]
    kind = "thompson"
    [policies.guardrails]
    max_step_up = [0.5, 1.0]          # a grid: two variants

    [[policies]]
    kind = "rules"
    pause_cpa_multiple = [1.5, 2.0]   # two more

A list where the parameter takes a number is a grid: the entry expands into one variant
per combination, named ``kind[key=value,...]`` (or ``name[...]`` when ``name`` is set;
see :mod:`allocator.sim.grid`). Parameters that are themselves lists (``weights`` of
``fixed``, ``posterior.lag_pmf``) take a grid as a list of lists. The oracle always runs
(it defines regret); list it only to be explicit. The policies' models are in
:mod:`allocator.sim.policy_configs`; the ``thompson`` policy's ``[posterior]``,
``[decisions]`` and ``[guardrails]`` tables are the job config's sections
(:mod:`allocator.engine_config`), key for key, so a setting found in simulation is pasted
into the job unchanged.

Scenario keys map 1:1 onto :class:`~allocator.sim.scenario.Scenario` fields; the
top-level ``horizon_days`` and ``daily_budget`` override the scenario's. Unknown keys
anywhere are errors: :func:`load_experiment` raises one
:class:`~allocator.errors.ConfigError` naming the file, the dotted key
(``policies[1].pause_cpa_multiple``, ``scenario.n_arms``) and the reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from pydantic import (
    Field,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from allocator.config_base import Positive, StrictModel, cross_field_error
from allocator.errors import ConfigError
from allocator.sim.grid import expand_grid
from allocator.sim.policy_configs import Label, OracleConfig, PolicyConfig, ThompsonConfig
from allocator.sim.scenario import Scenario
from allocator.toml_lines import Loc
from allocator.toml_loader import load_toml

__all__ = ["ExperimentConfig", "load_experiment"]

_OVERRIDES = ("horizon_days", "daily_budget")
"""Top-level keys that override the scenario's."""


# --------------------------------------------------------------------- policies
def _expand_policies(raw: object) -> list[object]:
    """The ``[[policies]]`` tables with their grids expanded into variants, in order."""
    if not isinstance(raw, list | tuple) or not raw:
        raise cross_field_error("policies", "needs at least one [[policies]] table")
    variants: list[object] = []
    for i, table in enumerate(raw):
        if not isinstance(table, Mapping):  # a model built in Python, or an error for later
            variants.append(table)
            continue
        try:
            variants += expand_grid(table)
        except PydanticCustomError as exc:
            key = (exc.context or {}).get("key", "")
            raise cross_field_error(f"policies[{i}].{key}", exc.message()) from None
    return variants


def _variant_owners(raw: object) -> list[int]:
    """For each policy variant, the index of the ``[[policies]]`` table it came from."""
    owners: list[int] = []
    for i, table in enumerate(raw if isinstance(raw, list) else []):
        try:
            n = len(expand_grid(table)) if isinstance(table, Mapping) else 1
        except PydanticCustomError:
            n = 1
        owners += [i] * n
    return owners


# --------------------------------------------------------------------- scenario
def _with_overrides(raw: object, overrides: Mapping[str, Any]) -> object:
    """The scenario table with the top-level ``horizon_days``/``daily_budget`` put in."""
    if isinstance(raw, Scenario):
        raw = dataclasses.asdict(raw)
    if not isinstance(raw, Mapping):
        return raw
    data = dict(raw)
    for key, value in overrides.items():
        if value is not None:
            if key in raw and raw[key] != value:
                raise cross_field_error(
                    f"scenario.{key}", f"conflicts with the top-level {key} = {value}"
                )
            data[key] = value
    return data


def _scenario_checked(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    """A :class:`Scenario`'s own checks raise ``ConfigError``: report them on its key."""
    try:
        return handler(value)
    except ConfigError as exc:
        raise cross_field_error(exc.key or "", exc.reason) from None


# ------------------------------------------------------------------- experiment
class ExperimentConfig(StrictModel):
    """A whole experiment file.

    Attributes:
        name: the study's name (the ``scenario`` column of the results).
        description: free text, copied into the summary.
        scenario: the scenario, with the top-level horizon and budget applied.
        seeds: replications (independent worlds) per policy, >= 1.
        seed: base seed of the experiment (see
            :class:`~allocator.sim.replication.ReplicationBlock`).
        block_size: replications per block: the unit of work, of resuming and of
            randomness (changing it changes the numbers).
        horizon_days: days simulated (overrides ``scenario.horizon_days``).
        daily_budget: total budget, currency per day (overrides the scenario's).
        plot_seed: the replication whose daily budget shares are plotted.
        policies: the policy variants after grid expansion, in file order.
    """

    name: Label
    description: str = ""
    scenario: Scenario
    seeds: int = Field(ge=1, le=10_000_000)
    seed: int = Field(default=0, ge=0)
    block_size: int = Field(default=25, ge=1, le=100_000)
    horizon_days: int | None = Field(default=None, ge=1, le=3650)
    daily_budget: Positive | None = None
    plot_seed: int = Field(default=0, ge=0)
    policies: tuple[PolicyConfig, ...]

    @model_validator(mode="before")
    @classmethod
    def _expand(cls, data: Any) -> Any:
        """Expand the policies' grids; put the top-level overrides into the scenario."""
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        if "policies" in data:
            data["policies"] = _expand_policies(data["policies"])
        if "scenario" in data:
            overrides = {k: data.get(k) for k in _OVERRIDES}
            data["scenario"] = _with_overrides(data["scenario"], overrides)
        return data

    @field_validator("scenario", mode="wrap")
    @classmethod
    def _scenario_checks(cls, value: object, handler: ValidatorFunctionWrapHandler) -> object:
        return _scenario_checked(value, handler)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        labels = [p.label for p in self.policies]
        for i, label in enumerate(labels):
            if label in labels[:i]:
                raise cross_field_error(
                    f"policies[{i}].name", f"policy name {label!r} is used twice"
                )
        if self.plot_seed >= self.seeds:
            raise cross_field_error("plot_seed", f"must be below seeds ({self.seeds})")
        for i, p in enumerate(self.policies):
            if isinstance(p, ThompsonConfig):
                _arm_budgets_fit(f"policies[{i}]", p, self.scenario.daily_budget)
        return self

    def run_policies(self) -> tuple[PolicyConfig, ...]:
        """The policies to run: the oracle first (added if absent), then the file's."""
        if any(isinstance(p, OracleConfig) for p in self.policies):
            oracles = tuple(p for p in self.policies if isinstance(p, OracleConfig))
            return oracles[:1] + tuple(p for p in self.policies if p is not oracles[0])
        return (OracleConfig(kind="oracle"), *self.policies)

    @property
    def oracle_label(self) -> str:
        """Name of the oracle in the results."""
        return self.run_policies()[0].label

    def config_hash(self) -> str:
        """Hex digest identifying everything that determines the numbers."""
        payload = json.dumps(self.model_dump(exclude={"description"}), sort_keys=True, default=repr)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _arm_budgets_fit(where: str, policy: ThompsonConfig, budget: float) -> None:
    """A test or new-arm budget must not exceed the daily ``budget``."""
    for key in ("test_budget", "new_arm_budget"):
        value = getattr(policy.guardrails, key)
        if value is not None and value > budget:
            raise cross_field_error(
                f"{where}.guardrails.{key}",
                f"{value:g} exceeds the daily budget {budget:g}",
            )


# ----------------------------------------------------------------------- loading
class _ScenarioFile(StrictModel):
    """A scenario TOML file (its top-level keys are the scenario's), as one model."""

    scenario: Scenario

    @field_validator("scenario", mode="wrap")
    @classmethod
    def _scenario_checks(cls, value: object, handler: ValidatorFunctionWrapHandler) -> object:
        return _scenario_checked(value, handler)


def _scenario_file(value: str, base: Path, overrides: Mapping[str, Any]) -> Scenario:
    """A scenario TOML file with the experiment's overrides; errors name that file."""
    path = Path(value).expanduser()
    path = path if path.is_absolute() else (base / path)

    def prepare(data: dict[str, Any]) -> dict[str, Any]:
        try:
            return {"scenario": _with_overrides(data, overrides)}
        except PydanticCustomError as exc:  # a conflict with the experiment's top-level keys
            key = str((exc.context or {}).get("key", "")).removeprefix("scenario.")
            raise ConfigError(exc.message(), path=path, key=key) from None

    loaded = load_toml(path, _ScenarioFile, prepare=prepare, relocate=lambda loc: loc[1:])
    return loaded.scenario


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment TOML file.

    Args:
        path: the file; a scenario path inside it is relative to the file's directory.
            ``name`` defaults to the file's stem.

    Returns:
        The validated, frozen :class:`ExperimentConfig`.

    Raises:
        ConfigError: the file (or the scenario file it names) is missing or not valid
            TOML, or keys are unknown, missing or invalid: one error lists them all, each
            with its line and dotted key (``policies[1].guardrails.max_step_up``).
    """
    path = Path(path)
    owners: list[int] = []

    def prepare(data: dict[str, Any]) -> dict[str, Any]:
        data.setdefault("name", path.stem)
        owners.extend(_variant_owners(data.get("policies")))
        if isinstance(data.get("scenario"), str):
            overrides = {k: data.get(k) for k in _OVERRIDES}
            data["scenario"] = _scenario_file(data["scenario"], path.parent, overrides)
        return data

    def to_table(loc: Loc) -> Loc:
        """``policies[j]`` of a grid variant -> ``policies[i]`` of its table."""
        j = loc[1] if len(loc) > 1 and loc[0] == "policies" else None
        if isinstance(j, int) and j < len(owners):
            return ("policies", owners[j], *loc[2:])
        return loc

    return load_toml(path, ExperimentConfig, prepare=prepare, relocate=to_table)
