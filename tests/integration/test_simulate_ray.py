from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from allocator.sim.executors import LocalExecutor, RayExecutor
from allocator.sim.experiment import ExperimentConfig
from allocator.sim.runner import run_experiment

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_same_numbers_on_ray_and_on_local_processes(local_ray: None) -> None:
    exp = ExperimentConfig.model_validate(
        {
            "name": "ray",
            "seeds": 6,
            "block_size": 2,
            "horizon_days": 8,
            "daily_budget": 300.0,
            "scenario": {"n_arms": 4, "n_creators": 2},
            "policies": [{"kind": "thompson", "n_draws": 50}, {"kind": "rules"}],
        }
    )
    on_ray = run_experiment(exp, executor=RayExecutor(workers=2))
    assert ray.is_initialized()  # an instance it did not start is left running
    serial = run_experiment(exp, executor=LocalExecutor(1))
    two = run_experiment(exp, executor=LocalExecutor(2))
    pd.testing.assert_frame_equal(on_ray.frame, serial.frame)
    pd.testing.assert_frame_equal(two.frame, serial.frame)
    np.testing.assert_array_equal(on_ray.daily_expected, serial.daily_expected)
    np.testing.assert_array_equal(on_ray.plot_budgets, serial.plot_budgets)
