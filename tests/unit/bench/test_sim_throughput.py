from __future__ import annotations

import json

import pytest

import allocator.bench.sim_throughput as sim_bench
from allocator.sim.scenario import Scenario


def test_simulate_engine_times_a_whole_run() -> None:
    scenario = Scenario(n_arms=3, n_creators=1, daily_budget=200.0, horizon_days=3)
    assert sim_bench.simulate_engine(scenario, n_runs=4, seed=0, n_draws=20) > 0


def test_the_report_ends_with_one_json_line_of_figures(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sim_bench, "N_DRAWS", 20)
    sim_bench.run(quick=True, seed=1)
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures["n_arms"] == 20
    assert figures["n_draws"] == 20
    assert figures["sim_s"] > 0
    assert figures["floor_s"] > 0
    assert figures["ratio"] > 1.0  # the simulation includes the sampling it is compared to
    assert figures["arm_days_per_s"] > 0
    assert "engine simulation" in lines[2]


def test_paired_timing_runs_the_simulation_and_its_floor() -> None:
    scenario = Scenario(n_arms=3, n_creators=1, daily_budget=200.0, horizon_days=3)
    sim, floor = sim_bench.simulate_paired(scenario, n_runs=4, seed=0, n_draws=20)
    assert sim > 0.0
    assert floor > 0.0
