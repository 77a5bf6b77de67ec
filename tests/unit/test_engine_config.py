"""The engine-settings schema: the core dataclasses are the TOML tables, bounds live once."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from allocator.config import EngineSection, JobConfig
from allocator.core.bounds import FieldError
from allocator.core.decisions import DecisionParams
from allocator.core.engine import EngineParams
from allocator.core.evidence import PosteriorParams
from allocator.core.guardrail_params import GuardrailParams
from allocator.engine_config import EngineSampling, EngineSections
from allocator.sim.policy_configs import ThompsonConfig

SECTIONS: dict[str, type] = {
    "posterior": PosteriorParams,
    "decisions": DecisionParams,
    "guardrails": GuardrailParams,
}

CONFIG_RULES = {
    "min_remaining_days",
    "renew_warning_days",
    "learning_days",
    "learning_max_days",
    "test_budget",
    "new_arm_budget",
}
"""Fields a config file also ties to another (the core tolerates the breach)."""

FLOAT_FIELDS = sorted(
    (section, f.name)
    for section, cls in SECTIONS.items()
    for f in dataclasses.fields(cls)
    if f.name not in CONFIG_RULES and isinstance(f.default, float)
)


def _thompson(section: str, values: dict[str, Any]) -> ThompsonConfig:
    return ThompsonConfig.model_validate({"kind": "thompson", section: values})


def test_the_tables_are_the_core_dataclasses_in_the_job_and_the_policy() -> None:
    for section, cls in SECTIONS.items():
        assert JobConfig.model_fields[section].annotation is cls
        assert ThompsonConfig.model_fields[section].annotation is cls
    assert issubclass(EngineSection, EngineSampling)
    assert issubclass(ThompsonConfig, EngineSampling)
    assert set(EngineSampling.model_fields) <= set(ThompsonConfig.model_fields)
    assert set(EngineSampling.model_fields) <= set(EngineSection.model_fields)


def test_engine_params_is_written_once() -> None:
    for model in (JobConfig, ThompsonConfig):
        assert "engine_params" not in vars(model)
        assert model.engine_params is EngineSections.engine_params


@pytest.mark.parametrize(("section", "cls"), list(SECTIONS.items()))
def test_every_dataclass_field_is_a_key_of_both_configs(section: str, cls: type) -> None:
    defaults = cls()
    for field in dataclasses.fields(cls):
        value = getattr(defaults, field.name)
        policy = _thompson(section, {} if value is None else {field.name: value})
        assert getattr(policy, section) == defaults
    with pytest.raises(pydantic.ValidationError):
        _thompson(section, {"no_such_key": 1.0})


def test_defaults_are_the_cores() -> None:
    core = EngineParams()
    assert ThompsonConfig(kind="thompson").engine_params() == core
    assert EngineSection().n_draws == core.n_draws
    assert EngineSection().half_saturation_spend == core.half_saturation_spend == 1000.0


@given(
    field=st.sampled_from(FLOAT_FIELDS),
    value=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([0.0, 1.0, -0.0, 1e-9, 1 - 1e-9, 0.5, 2.0, 1e6]),
    ),
)
def test_a_value_passes_the_config_exactly_when_it_passes_the_core(
    field: tuple[str, str], value: float
) -> None:
    section, name = field
    try:
        SECTIONS[section](**{name: value})
        core_ok = True
    except FieldError:
        core_ok = False
    try:
        _thompson(section, {name: value})
        config_ok = True
    except pydantic.ValidationError:
        config_ok = False
    assert core_ok == config_ok


@given(st.integers(min_value=-5, max_value=200_000))
def test_draw_bounds_are_the_cores(n_draws: int) -> None:
    try:
        EngineParams(n_draws=n_draws)
        core_ok = True
    except FieldError:
        core_ok = False
    try:
        ThompsonConfig(kind="thompson", n_draws=n_draws)
        config_ok = True
    except pydantic.ValidationError:
        config_ok = False
    assert core_ok == config_ok


def test_cross_field_rules_of_the_core_name_their_field() -> None:
    with pytest.raises(FieldError) as info:
        PosteriorParams(prior_strength=0.4)
    assert info.value.field == "value_shape"
    with pytest.raises(FieldError) as info:
        PosteriorParams(lag_pmf=(0.5, 0.4))
    assert info.value.field == "lag_pmf"
    assert PosteriorParams(lag_pmf=[0.5, 0.5]).lag.pmf.tolist() == [0.5, 0.5]  # type: ignore[arg-type]


def test_field_error_survives_pickling_across_processes() -> None:
    # A worker's bad-settings error must reach the parent intact, not as a broken pool.
    error = pickle.loads(pickle.dumps(FieldError("max_step_up", "must be a finite number")))
    assert isinstance(error, FieldError)
    assert (error.field, error.reason) == ("max_step_up", "must be a finite number")
    assert str(error) == "max_step_up must be a finite number"
