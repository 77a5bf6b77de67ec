from __future__ import annotations

import dataclasses

import pydantic
import pytest

from allocator.core.decisions import DecisionParams
from allocator.core.evidence import PosteriorParams
from allocator.core.guardrail_params import GuardrailParams
from allocator.core.lag import DEFAULT_LAG_PMF
from allocator.engine_config import DecisionsConfig, GuardrailsConfig, PosteriorConfig


@pytest.mark.parametrize(
    ("section", "core"),
    [(DecisionsConfig, DecisionParams), (GuardrailsConfig, GuardrailParams)],
)
def test_sections_mirror_the_core_dataclasses(
    section: type[pydantic.BaseModel], core: type
) -> None:
    assert section().model_dump() == dataclasses.asdict(core())


def test_posterior_section_mirrors_posterior_params() -> None:
    core = PosteriorParams()
    section = PosteriorConfig()
    fields = {f.name for f in dataclasses.fields(core)} - {"lag"} | {"lag_pmf"}
    assert set(PosteriorConfig.model_fields) == fields
    assert section.params() == core
    assert PosteriorConfig(lag_pmf=DEFAULT_LAG_PMF).params() == core
