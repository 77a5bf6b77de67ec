"""allocator: Thompson-sampling budget allocation and creative testing for TikTok ads.

The front door (see the README's "Python API"):

* :func:`plan`: plan a day's budgets from a job config and an account's records;
* :func:`simulate`: run a simulation experiment, giving a :class:`SimulationResult`;
* :func:`load_job_config`, :func:`load_experiment`: read and validate the TOML files;
* :func:`step`, :class:`EngineParams`, :class:`Target`: one pure engine step over arrays,
  for those who compose their own loop;
* the records the engine reads (:class:`AdGroup`, :class:`Observation`, ...) and the
  errors it raises (:class:`AllocatorError` and its children).

``import allocator`` stays light (numpy, pandas, scipy and pydantic are not imported):
every name but the errors and ``__version__`` is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from allocator.errors import AllocatorError, ApiError, ConfigError, DataError

if TYPE_CHECKING:
    from allocator.api import SimulationResult, plan, simulate
    from allocator.config import JobConfig, load_job_config
    from allocator.core.arms import (
        AdGroup,
        AdGroupStatus,
        ArmState,
        Authorization,
        AuthStatus,
        History,
        Kind,
        Objective,
        Observation,
        Portfolio,
        Stage,
    )
    from allocator.core.engine import EngineParams, step
    from allocator.core.target import Target
    from allocator.plans import Plan
    from allocator.sim.experiment import ExperimentConfig, load_experiment

__version__ = "0.1.0"

__all__ = [
    "AdGroup",
    "AdGroupStatus",
    "AllocatorError",
    "ApiError",
    "ArmState",
    "AuthStatus",
    "Authorization",
    "ConfigError",
    "DataError",
    "EngineParams",
    "ExperimentConfig",
    "History",
    "JobConfig",
    "Kind",
    "Objective",
    "Observation",
    "Plan",
    "Portfolio",
    "SimulationResult",
    "Stage",
    "Target",
    "__version__",
    "load_experiment",
    "load_job_config",
    "plan",
    "simulate",
    "step",
]

_LAZY = {
    "AdGroup": "allocator.core.arms",
    "AdGroupStatus": "allocator.core.arms",
    "ArmState": "allocator.core.arms",
    "Authorization": "allocator.core.arms",
    "AuthStatus": "allocator.core.arms",
    "History": "allocator.core.arms",
    "Kind": "allocator.core.arms",
    "Objective": "allocator.core.arms",
    "Observation": "allocator.core.arms",
    "Portfolio": "allocator.core.arms",
    "Stage": "allocator.core.arms",
    "EngineParams": "allocator.core.engine",
    "ExperimentConfig": "allocator.sim.experiment",
    "JobConfig": "allocator.config",
    "Plan": "allocator.plans",
    "SimulationResult": "allocator.api",
    "Target": "allocator.core.target",
    "load_experiment": "allocator.sim.experiment",
    "load_job_config": "allocator.config",
    "plan": "allocator.api",
    "simulate": "allocator.api",
    "step": "allocator.core.engine",
}


def __getattr__(name: str) -> Any:
    """Import a heavy public name on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'allocator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
