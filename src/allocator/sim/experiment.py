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
per combination, named ``kind[key=value,...]`` (or ``name[...]`` when ``name`` is set).
Parameters that are themselves lists (``weights`` of ``fixed``, ``posterior.lag_pmf``) take
a grid as a list of lists. The oracle always runs (it defines regret); list it only to
be explicit. The ``thompson`` policy's ``[posterior]``, ``[decisions]`` and
``[guardrails]`` tables are the job config's sections (:mod:`allocator.config`), key for
key, so a setting found in simulation is pasted into the job unchanged.

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
import itertools
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from allocator.config import (
    DecisionsConfig,
    GuardrailsConfig,
    PosteriorConfig,
    linear_if_unset,
)
from allocator.core.engine import EngineParams
from allocator.errors import ConfigError
from allocator.sim.bandits import UCB1, EpsilonGreedy, Greedy
from allocator.sim.oracle import Oracle
from allocator.sim.policy import Policy
from allocator.sim.rules import Rules
from allocator.sim.scenario import Scenario
from allocator.sim.splits import EvenSplit, FixedSplit
from allocator.sim.thompson import ThompsonPolicy

__all__ = [
    "ENGINE_KINDS",
    "EpsilonGreedyConfig",
    "EvenConfig",
    "ExperimentConfig",
    "FixedConfig",
    "GreedyConfig",
    "OracleConfig",
    "PolicyConfig",
    "RulesConfig",
    "ThompsonConfig",
    "UCB1Config",
    "expand_grid",
    "load_experiment",
]

NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
Label = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s/\\]+$")]

ENGINE_KINDS: frozenset[str] = frozenset({"thompson"})
"""Policy kinds that run the engine (compared against the baselines in summaries)."""

_LIST_VALUED = frozenset({"weights", "lag_pmf"})
"""Parameters whose value is itself a list: a grid over them is a list of lists."""
_SECTIONS = frozenset({"posterior", "decisions", "guardrails"})


def _cross(key: str, reason: str) -> PydanticCustomError:
    """An error that names its own dotted key (mapped by :func:`_explain`)."""
    return PydanticCustomError("cross_field", "{reason}", {"key": key, "reason": reason})


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _PolicyBase(_Strict):
    name: Label | None = None

    @property
    def label(self) -> str:
        """The policy's name in results: ``name``, else the kind."""
        kind: str = getattr(self, "kind")  # noqa: B009 - every subclass declares it
        return self.name or kind


class EvenConfig(_PolicyBase):
    """``kind = "even"``: :class:`~allocator.sim.policies.EvenSplit`."""

    kind: Literal["even"]

    def build(self) -> Policy:
        """The policy object."""
        return EvenSplit()


class FixedConfig(_PolicyBase):
    """``kind = "fixed"``: :class:`~allocator.sim.policies.FixedSplit` (one weight per arm)."""

    kind: Literal["fixed"]
    weights: tuple[NonNegative, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _some_weight(self) -> Self:
        if sum(self.weights) <= 0:
            raise ValueError("weights must not all be 0")
        return self

    def build(self) -> Policy:
        """The policy object."""
        return FixedSplit(np.asarray(self.weights, dtype=float))


class GreedyConfig(_PolicyBase):
    """``kind = "greedy"``: :class:`~allocator.sim.policies.Greedy`."""

    kind: Literal["greedy"]
    min_test_multiple: NonNegative = 2.0

    def build(self) -> Policy:
        """The policy object."""
        return Greedy(min_test_multiple=self.min_test_multiple)


class EpsilonGreedyConfig(_PolicyBase):
    """``kind = "epsilon_greedy"``: :class:`~allocator.sim.policies.EpsilonGreedy`."""

    kind: Literal["epsilon_greedy"]
    epsilon: float = Field(default=0.1, ge=0.0, lt=1.0)
    min_test_multiple: NonNegative = 2.0

    def build(self) -> Policy:
        """The policy object."""
        return EpsilonGreedy(epsilon=self.epsilon, min_test_multiple=self.min_test_multiple)


class UCB1Config(_PolicyBase):
    """``kind = "ucb1"``: :class:`~allocator.sim.policies.UCB1`."""

    kind: Literal["ucb1"]
    n_slots: int = Field(default=10, ge=1, le=1000)
    c: NonNegative = 1.0

    def build(self) -> Policy:
        """The policy object."""
        return UCB1(n_slots=self.n_slots, c=self.c)


class RulesConfig(_PolicyBase):
    """``kind = "rules"``: :class:`~allocator.sim.policies.Rules` (ad manager rules).

    Attributes:
        pause_cpa_multiple: pause when CPA > this x target CPA ...
        min_spend_multiple: ... once lifetime spend >= this x target CPA.
        step: relative budget raise (CPA below target) or cut (above), per day.
        lookback_days: days of reported data the rules read.
        respect_authorization: leave arms with a lapsed authorization out.
    """

    kind: Literal["rules"]
    pause_cpa_multiple: Positive = 2.0
    min_spend_multiple: NonNegative = 3.0
    step: float = Field(default=0.2, ge=0.0, lt=1.0)
    lookback_days: int = Field(default=7, ge=1, le=366)
    respect_authorization: bool = False

    def build(self) -> Policy:
        """The policy object."""
        return Rules(
            pause_cpa_multiple=self.pause_cpa_multiple,
            min_spend_multiple=self.min_spend_multiple,
            step=self.step,
            lookback_days=self.lookback_days,
            respect_authorization=self.respect_authorization,
        )


class OracleConfig(_PolicyBase):
    """``kind = "oracle"``: :class:`~allocator.sim.policies.Oracle` (always run)."""

    kind: Literal["oracle"]

    def build(self) -> Policy:
        """The policy object."""
        return Oracle()


class ThompsonConfig(_PolicyBase):
    """``kind = "thompson"``: the engine (:class:`~allocator.sim.thompson.ThompsonPolicy`).

    Attributes:
        n_draws: posterior draws per decision (the job's ``[engine] n_draws``).
        lookback_days: days of history the engine reads (the job's ``[engine]``).
        half_saturation_spend: the job's ``[engine] half_saturation_spend`` (unset =
            linear response).
        posterior: the job's ``[posterior]`` section.
        decisions: the job's ``[decisions]`` section.
        guardrails: the job's ``[guardrails]`` section (its ``platform_min_budget`` is
            raised to the scenario's when lower).
    """

    kind: Literal["thompson"]
    n_draws: int = Field(default=1000, ge=10, le=100_000)
    lookback_days: int = Field(default=60, ge=1, le=366)
    half_saturation_spend: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    posterior: PosteriorConfig = Field(default_factory=PosteriorConfig)
    decisions: DecisionsConfig = Field(default_factory=DecisionsConfig)
    guardrails: GuardrailsConfig = Field(default_factory=GuardrailsConfig)

    def engine_params(self) -> EngineParams:
        """The core :class:`~allocator.core.engine.EngineParams`."""
        return EngineParams(
            posterior=self.posterior.params(),
            decisions=self.decisions.params(),
            guardrails=self.guardrails.params(),
            n_draws=self.n_draws,
            half_saturation_spend=linear_if_unset(self.half_saturation_spend),
        )

    def build(self) -> Policy:
        """The policy object."""
        return ThompsonPolicy(self.engine_params(), self.lookback_days, name=self.label)


PolicyConfig = Annotated[
    ThompsonConfig
    | EvenConfig
    | FixedConfig
    | GreedyConfig
    | EpsilonGreedyConfig
    | UCB1Config
    | RulesConfig
    | OracleConfig,
    Field(discriminator="kind"),
]
"""One policy variant, picked by ``kind``."""

_POLICY_ADAPTER: TypeAdapter[PolicyConfig] = TypeAdapter(PolicyConfig)
_SCENARIO_ADAPTER: TypeAdapter[Scenario] = TypeAdapter(Scenario)
_SCENARIO_FIELDS = tuple(f.name for f in dataclasses.fields(Scenario))
_KINDS = ("thompson", "even", "fixed", "greedy", "epsilon_greedy", "ucb1", "rules", "oracle")


# ------------------------------------------------------------------------ grids
def _is_grid(key: str, value: object) -> bool:
    if not isinstance(value, list):
        return False
    if key in _LIST_VALUED:  # a grid over a list-valued parameter is a list of lists
        return bool(value) and all(isinstance(v, list) for v in value)
    return True


def _grid_axes(raw: Mapping[str, Any]) -> list[tuple[tuple[str, ...], list[Any]]]:
    """``(path, values)`` of every grid in one policy table (top level and sections)."""
    axes: list[tuple[tuple[str, ...], list[Any]]] = []
    for key, value in raw.items():
        if key in _SECTIONS and isinstance(value, Mapping):
            axes += [((key, k), v) for k, v in value.items() if _is_grid(k, v)]
        elif _is_grid(key, value):
            axes.append(((key,), value))
    return axes


def _format_value(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ";".join(_format_value(v) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def expand_grid(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Expand one ``[[policies]]`` table into its variants (raw dicts, named).

    Args:
        raw: the table as read from TOML.

    Returns:
        One dict per combination of grid values (one dict without grids), each with
        ``name`` set to ``base[key=value,...]`` when there is a grid (``base`` = the
        table's ``name`` or ``kind``).

    Raises:
        PydanticCustomError: a grid is empty (names the grid's key).
    """
    axes = _grid_axes(raw)
    for path, values in axes:
        if not values:
            raise _cross(".".join(path), "a grid needs at least one value")
    if not axes:
        return [dict(raw)]
    base = str(raw.get("name") or raw.get("kind", "policy"))
    variants = []
    for combo in itertools.product(*(values for _, values in axes)):
        variant = {k: dict(v) if k in _SECTIONS and isinstance(v, Mapping) else v
                   for k, v in raw.items()}  # fmt: skip
        for (path, _), value in zip(axes, combo, strict=True):
            if len(path) == 1:
                variant[path[0]] = value
            else:
                variant[path[0]][path[1]] = value
        tags = ",".join(
            f"{path[-1]}={_format_value(v)}" for (path, _), v in zip(axes, combo, strict=True)
        )
        variant["name"] = f"{base}[{tags}]"
        variants.append(variant)
    return variants


def _validate_policies(raw: object) -> list[BaseModel]:
    if not isinstance(raw, list) or not raw:
        raise _cross("policies", "needs at least one [[policies]] table")
    models: list[BaseModel] = []
    for i, table in enumerate(raw):
        where = f"policies[{i}]"
        if isinstance(table, BaseModel):  # already validated (built in Python)
            models.append(table)
            continue
        if not isinstance(table, Mapping):
            raise _cross(where, "must be a table with a kind")
        if table.get("kind") not in _KINDS:
            raise _cross(f"{where}.kind", "must be one of " + ", ".join(map(repr, _KINDS)))
        try:
            variants = expand_grid(table)
        except PydanticCustomError as exc:
            raise _cross(f"{where}.{(exc.context or {})['key']}", exc.message()) from None
        for variant in variants:
            try:
                models.append(_POLICY_ADAPTER.validate_python(variant))
            except ValidationError as exc:
                key, reason = _explain(_first(exc), variant, _policy_model(table))
                head, _, rest = key.partition(".")
                key = rest if head in _KINDS else key
                raise _cross(f"{where}.{key}" if key else where, reason) from None
    return models


def _policy_model(table: Mapping[str, Any]) -> type[BaseModel] | None:
    models: dict[str, type[BaseModel]] = {
        "thompson": ThompsonConfig, "even": EvenConfig, "fixed": FixedConfig,
        "greedy": GreedyConfig, "epsilon_greedy": EpsilonGreedyConfig, "ucb1": UCB1Config,
        "rules": RulesConfig, "oracle": OracleConfig,
    }  # fmt: skip
    return models.get(str(table.get("kind")))


# --------------------------------------------------------------------- scenario
def _validate_scenario(raw: object, overrides: Mapping[str, Any]) -> Scenario:
    if isinstance(raw, Scenario):
        raw = dataclasses.asdict(raw)
    if not isinstance(raw, Mapping):
        raise _cross("scenario", "must be a table or the path of a scenario TOML file")
    for key in raw:
        if key not in _SCENARIO_FIELDS:
            close = difflib.get_close_matches(str(key), _SCENARIO_FIELDS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise _cross(f"scenario.{key}", f"unknown key{hint}")
    data = dict(raw)
    for key, value in overrides.items():
        if value is not None:
            if key in raw and raw[key] != value:
                raise _cross(f"scenario.{key}", f"conflicts with the top-level {key} = {value}")
            data[key] = value
    try:
        return _SCENARIO_ADAPTER.validate_python(data)
    except ValidationError as exc:
        key, reason = _explain(_first(exc), data, None)
        raise _cross(f"scenario.{key}", reason) from None
    except ConfigError as exc:
        raise _cross(f"scenario.{exc.key}" if exc.key else "scenario", exc.reason) from None


# ------------------------------------------------------------------- experiment
class ExperimentConfig(_Strict):
    """A whole experiment file.

    Attributes:
        name: the study's name (the ``scenario`` column of the results).
        description: free text, copied into the summary.
        scenario: the scenario, with the top-level horizon and budget applied.
        seeds: replications (independent worlds) per policy, >= 1.
        seed: base seed of the experiment (see
            :class:`~allocator.sim.environment.ReplicationBlock`).
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
                raise _cross(f"policies[{i}].name", f"policy name {label!r} is used twice")
        if self.plot_seed >= self.seeds:
            raise _cross("plot_seed", f"must be below seeds ({self.seeds})")
        budget = self.scenario.daily_budget
        for i, p in enumerate(self.policies):
            if isinstance(p, ThompsonConfig):
                for key in ("test_budget", "new_arm_budget"):
                    value = getattr(p.guardrails, key)
                    if value is not None and value > budget:
                        raise _cross(
                            f"policies[{i}].guardrails.{key}",
                            f"{value:g} exceeds the daily budget {budget:g}",
                        )
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


# ----------------------------------------------------------------------- loading
def _first(exc: ValidationError) -> ErrorDetails:
    errors = exc.errors(include_url=False, include_input=False)
    errors.sort(key=lambda e: e["type"] != "extra_forbidden")  # a typo explains the rest
    return errors[0]


def _dotted(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


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
        prefix = _dotted(loc)
        return (f"{prefix}.{key}" if prefix else key), str(ctx["reason"])
    if error["type"] == "missing":
        return _dotted(loc), "required key is missing"
    if error["type"] == "extra_forbidden":
        holder = model
        for part in loc[:-1]:
            if holder is None or isinstance(part, int) or part in _KINDS:
                continue
            field = holder.model_fields.get(str(part))
            nested = field.annotation if field is not None else None
            holder = nested if isinstance(nested, type) and issubclass(nested, BaseModel) else None
        names = list(holder.model_fields) if holder is not None else []
        close = difflib.get_close_matches(str(loc[-1]), names, n=1)
        return _dotted(loc), "unknown key" + (f"; did you mean {close[0]!r}?" if close else "")
    return _dotted(loc), error["msg"]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("file not found", path=path) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the file ({exc.__class__.__name__})", path=path) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=path) from exc


def _scenario_file(value: str, base: Path, overrides: Mapping[str, Any]) -> Scenario:
    """A scenario TOML file (top-level keys are Scenario fields); errors name that file."""
    path = Path(value).expanduser()
    path = path if path.is_absolute() else (base / path)
    data = _read_toml(path)
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
    data = _read_toml(path)
    data.setdefault("name", path.stem)
    if isinstance(data.get("scenario"), str):
        overrides = {k: data.get(k) for k in ("horizon_days", "daily_budget")}
        data["scenario"] = _scenario_file(data["scenario"], path.parent, overrides)
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        key, reason = _explain(_first(exc), data)
        raise ConfigError(reason, path=path, key=key) from None
