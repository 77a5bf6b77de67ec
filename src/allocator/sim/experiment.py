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
import difflib
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from allocator.config_base import (
    Positive,
    StrictModel,
    cross_field_error,
    dotted_key,
    nested_model,
    ranked_errors,
    read_toml,
)
from allocator.errors import ConfigError
from allocator.sim.grid import expand_grid
from allocator.sim.policy_configs import (
    KIND_TO_POLICY_CONFIG,
    POLICY_KINDS,
    Label,
    OracleConfig,
    PolicyConfig,
    ThompsonConfig,
)
from allocator.sim.scenario import Scenario

__all__ = ["ExperimentConfig", "load_experiment"]

_POLICY_ADAPTER: TypeAdapter[PolicyConfig] = TypeAdapter(PolicyConfig)
_SCENARIO_ADAPTER: TypeAdapter[Scenario] = TypeAdapter(Scenario)
_SCENARIO_FIELDS = tuple(f.name for f in dataclasses.fields(Scenario))


# --------------------------------------------------------------------- policies
def _validate_policies(raw: object) -> list[BaseModel]:
    if not isinstance(raw, list) or not raw:
        raise cross_field_error("policies", "needs at least one [[policies]] table")
    models: list[BaseModel] = []
    for i, table in enumerate(raw):
        if isinstance(table, BaseModel):  # already validated (built in Python)
            models.append(table)
        else:
            models += _validate_policy_table(f"policies[{i}]", table)
    return models


def _validate_policy_table(where: str, table: object) -> list[BaseModel]:
    """The variants of one ``[[policies]]`` table; errors name keys below ``where``."""
    if not isinstance(table, Mapping):
        raise cross_field_error(where, "must be a table with a kind")
    if table.get("kind") not in POLICY_KINDS:
        raise cross_field_error(
            f"{where}.kind", "must be one of " + ", ".join(map(repr, POLICY_KINDS))
        )
    try:
        variants = expand_grid(table)
    except PydanticCustomError as exc:
        raise cross_field_error(f"{where}.{(exc.context or {})['key']}", exc.message()) from None
    models: list[BaseModel] = []
    for variant in variants:
        try:
            models.append(_POLICY_ADAPTER.validate_python(variant))
        except ValidationError as exc:
            model = KIND_TO_POLICY_CONFIG.get(str(table.get("kind")))
            key, reason = _explain(ranked_errors(exc)[0], variant, model)
            head, _, rest = key.partition(".")
            key = rest if head in POLICY_KINDS else key
            raise cross_field_error(f"{where}.{key}" if key else where, reason) from None
    return models


# --------------------------------------------------------------------- scenario
def _reject_unknown_scenario_keys(raw: Mapping[str, Any]) -> None:
    for key in raw:
        if key not in _SCENARIO_FIELDS:
            close = difflib.get_close_matches(str(key), _SCENARIO_FIELDS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise cross_field_error(f"scenario.{key}", f"unknown key{hint}")


def _validate_scenario(raw: object, overrides: Mapping[str, Any]) -> Scenario:
    if isinstance(raw, Scenario):
        raw = dataclasses.asdict(raw)
    if not isinstance(raw, Mapping):
        raise cross_field_error("scenario", "must be a table or the path of a scenario TOML file")
    _reject_unknown_scenario_keys(raw)
    data = dict(raw)
    for key, value in overrides.items():
        if value is not None:
            if key in raw and raw[key] != value:
                raise cross_field_error(
                    f"scenario.{key}", f"conflicts with the top-level {key} = {value}"
                )
            data[key] = value
    try:
        return _SCENARIO_ADAPTER.validate_python(data)
    except ValidationError as exc:
        key, reason = _explain(ranked_errors(exc)[0], data, None)
        raise cross_field_error(f"scenario.{key}", reason) from None
    except ConfigError as exc:
        key = f"scenario.{exc.key}" if exc.key else "scenario"
        raise cross_field_error(key, exc.reason) from None


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
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        if "policies" in data:
            data["policies"] = _validate_policies(data["policies"])
        if "scenario" in data:
            overrides = {k: data.get(k) for k in ("horizon_days", "daily_budget")}
            data["scenario"] = _validate_scenario(data["scenario"], overrides)
        return data

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
def _explain(
    error: ErrorDetails, data: object, model: type[BaseModel] | None = ExperimentConfig
) -> tuple[str, str]:
    """``(dotted key, reason)`` of one pydantic error, never echoing the input value."""
    loc = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    if error["type"] == "cross_field":
        key = str(ctx["key"])
        if loc and key.split(".", 1)[0] == loc[-1]:  # the section's own rules name it
            loc = loc[:-1]
        prefix = dotted_key(loc)
        return (f"{prefix}.{key}" if prefix else key), str(ctx["reason"])
    if error["type"] == "missing":
        return dotted_key(loc), "required key is missing"
    if error["type"] == "extra_forbidden":
        path = [str(p) for p in loc[:-1] if not isinstance(p, int) and p not in POLICY_KINDS]
        holder = nested_model(model, path) if model is not None else None
        names = list(holder.model_fields) if holder is not None else []
        close = difflib.get_close_matches(str(loc[-1]), names, n=1)
        return dotted_key(loc), "unknown key" + (f"; did you mean {close[0]!r}?" if close else "")
    return dotted_key(loc), error["msg"]


def _scenario_file(value: str, base: Path, overrides: Mapping[str, Any]) -> Scenario:
    """A scenario TOML file (top-level keys are Scenario fields); errors name that file."""
    path = Path(value).expanduser()
    path = path if path.is_absolute() else (base / path)
    data = read_toml(path)
    try:
        return _validate_scenario(data, overrides)
    except PydanticCustomError as exc:
        key = str((exc.context or {}).get("key", "scenario")).removeprefix("scenario.")
        raise ConfigError(exc.message(), path=path, key=key) from None


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment TOML file.

    Args:
        path: the file; a scenario path inside it is relative to the file's directory.
            ``name`` defaults to the file's stem.

    Returns:
        The validated, frozen :class:`ExperimentConfig`.

    Raises:
        ConfigError: the file (or the scenario file it names) is missing or not valid
            TOML, or a key is unknown, missing or invalid; ``key`` is the dotted key.
    """
    path = Path(path)
    data = read_toml(path)
    data.setdefault("name", path.stem)
    if isinstance(data.get("scenario"), str):
        overrides = {k: data.get(k) for k in ("horizon_days", "daily_budget")}
        data["scenario"] = _scenario_file(data["scenario"], path.parent, overrides)
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        key, reason = _explain(ranked_errors(exc)[0], data)
        raise ConfigError(reason, path=path, key=key) from None
