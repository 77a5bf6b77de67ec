from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.errors import ConfigError
from allocator.sim.executors import LocalExecutor, make_executor
from allocator.sim.experiment import ExperimentConfig
from allocator.sim.metrics import RESULT_COLUMNS
from allocator.sim.replication import ReplicationBlock
from allocator.sim.runner import (
    ID_COLUMNS,
    BlockResult,
    block_path,
    load_block,
    policy_rng,
    run_experiment,
    save_block,
    simulate_block,
)


def experiment(**kw: object) -> ExperimentConfig:
    data: dict[str, object] = {
        "name": "unit",
        "seeds": 5,
        "block_size": 2,
        "horizon_days": 8,
        "daily_budget": 300.0,
        "plot_seed": 3,
        "scenario": {
            "n_arms": 4,
            "n_creators": 2,
            "auth_duration_days": [7, 365],
            "auth_duration_probs": [0.5, 0.5],
        },
        "policies": [{"kind": "thompson", "n_draws": 50}, {"kind": "rules"}, {"kind": "even"}],
    }
    data.update(kw)
    return ExperimentConfig.model_validate(data)


class Recorder:
    """An executor that runs blocks in order and remembers which."""

    def __init__(self) -> None:
        self.ran: list[int] = []

    def __call__(self, run, blocks):  # type: ignore[no-untyped-def]
        for block in blocks:
            self.ran.append(block.index)
            yield run(block)


def test_a_block_runs_the_oracle_first_and_every_policy_on_the_same_worlds() -> None:
    exp = experiment()
    result = simulate_block(exp, ReplicationBlock(base_seed=0, index=1, size=2, keep=2))
    assert result.policies == ("oracle", "thompson", "rules", "even")
    assert result.metrics.shape == (4, len(RESULT_COLUMNS), 2)
    assert result.daily_expected.shape == (4, 8, 2)
    np.testing.assert_array_equal(result.replications, [2, 3])
    ratio = result.metrics[:, RESULT_COLUMNS.index("oracle_ratio"), :]
    np.testing.assert_allclose(ratio[0], 1.0)
    assert np.all(ratio[1:] > 0)
    assert result.plot_budgets.shape == (4, 8, 4)  # replication 3 is in this block
    assert np.all(result.plot_budgets.sum(axis=-1) <= 300.0 + 1e-6)
    other = simulate_block(exp, ReplicationBlock(base_seed=0, index=0, size=2, keep=2))
    assert other.plot_budgets.shape == (4, 0, 4)


def test_a_partial_last_block_keeps_only_its_replications() -> None:
    result = simulate_block(experiment(), ReplicationBlock(base_seed=0, index=2, size=2, keep=1))
    np.testing.assert_array_equal(result.replications, [4])
    assert result.metrics.shape[-1] == 1
    assert result.daily_conversions.shape == (4, 8, 1)


def test_the_frame_has_the_contract_columns_one_row_per_policy_and_seed() -> None:
    result = run_experiment(experiment())
    frame = result.frame
    assert list(frame.columns) == [*ID_COLUMNS, *RESULT_COLUMNS]
    assert len(frame) == 4 * 5
    assert set(frame.policy) == {"oracle", "thompson", "rules", "even"}
    assert sorted(frame[frame.policy == "rules"].seed) == [0, 1, 2, 3, 4]
    assert (frame.scenario == "unit").all()
    assert result.daily_conversions.shape == (4, 8, 5)
    assert result.plot_budgets.shape == (4, 8, 4)
    assert result.kinds == {
        "oracle": "oracle",
        "thompson": "thompson",
        "rules": "rules",
        "even": "even",
    }
    oracle = frame[frame.policy == "oracle"]
    assert (oracle.regret == 0).all()
    assert frame.stranded_spend.ge(0).all()


def test_adding_a_policy_changes_no_other_policys_numbers() -> None:
    small = run_experiment(experiment(policies=[{"kind": "thompson", "n_draws": 50}]))
    large = run_experiment(experiment())
    for policy in ("oracle", "thompson"):
        a = small.frame[small.frame.policy == policy].reset_index(drop=True)
        b = large.frame[large.frame.policy == policy].reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)


def test_policy_generators_differ_by_policy_and_block() -> None:
    block = ReplicationBlock(base_seed=7, index=0, size=2, keep=2)
    other = ReplicationBlock(base_seed=7, index=1, size=2, keep=2)
    draws = {policy_rng(b, n).random() for b in (block, other) for n in ("a", "b")}
    assert len(draws) == 4
    assert policy_rng(block, "a").random() == policy_rng(block, "a").random()


def test_results_do_not_depend_on_the_number_of_local_workers() -> None:
    exp = experiment()
    one = run_experiment(exp, executor=LocalExecutor(1))
    two = run_experiment(exp, executor=LocalExecutor(2))
    pd.testing.assert_frame_equal(one.frame, two.frame)
    np.testing.assert_array_equal(one.daily_expected, two.daily_expected)
    np.testing.assert_array_equal(one.plot_budgets, two.plot_budgets)


def test_an_interrupted_run_resumes_without_redoing_finished_blocks(tmp_path: Path) -> None:
    exp = experiment()
    full = run_experiment(exp, out_dir=tmp_path)
    assert sorted(p.name for p in (tmp_path / "blocks").iterdir()) == [
        "block-000000.npz",
        "block-000001.npz",
        "block-000002.npz",
    ]
    block_path(tmp_path, 1).unlink()  # as if the run stopped before block 1 was saved
    recorder = Recorder()
    progress: list[tuple[int, int]] = []
    resumed = run_experiment(
        exp, out_dir=tmp_path, executor=recorder, on_block=lambda d, t: progress.append((d, t))
    )
    assert recorder.ran == [1]
    assert resumed.n_loaded == 2
    assert progress == [(2, 3), (3, 3)]
    pd.testing.assert_frame_equal(full.frame, resumed.frame)
    again = Recorder()
    run_experiment(exp, out_dir=tmp_path, executor=again)
    assert again.ran == []


def test_blocks_from_another_config_are_simulated_again(tmp_path: Path) -> None:
    run_experiment(experiment(), out_dir=tmp_path)
    recorder = Recorder()
    changed = experiment(policies=[{"kind": "rules", "step": 0.3}])
    run_experiment(changed, out_dir=tmp_path, executor=recorder)
    assert recorder.ran == [0, 1, 2]
    stored = load_block(block_path(tmp_path, 0), changed.config_hash())
    assert stored is not None
    assert stored.policies == ("oracle", "rules")


def test_blocks_round_trip_and_are_written_atomically(tmp_path: Path) -> None:
    exp = experiment()
    result = simulate_block(exp, ReplicationBlock(base_seed=0, index=1, size=2, keep=2))
    path = save_block(tmp_path, result)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    loaded = load_block(path, exp.config_hash())
    assert isinstance(loaded, BlockResult)
    assert loaded.policies == result.policies
    for name in ("replications", "metrics", "daily_conversions", "daily_expected", "plot_budgets"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(result, name))
    assert load_block(path, "another-hash") is None
    path.write_bytes(b"truncated")
    assert load_block(path, exp.config_hash()) is None
    assert load_block(tmp_path / "missing.npz", exp.config_hash()) is None


def test_a_failing_block_leaves_no_partial_file(tmp_path: Path) -> None:
    def broken(run, blocks) -> Iterator[BlockResult]:  # type: ignore[no-untyped-def]
        yield run(blocks[0])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_experiment(experiment(), out_dir=tmp_path, executor=broken)
    assert [p.name for p in (tmp_path / "blocks").iterdir()] == ["block-000000.npz"]


def test_executor_choice_is_validated() -> None:
    assert isinstance(make_executor("local", 2), LocalExecutor)
    with pytest.raises(ConfigError, match="unknown executor"):
        make_executor("slurm")
    with pytest.raises(ConfigError, match="ray executor"):
        make_executor("local", address="auto")
    with pytest.raises(ConfigError, match=">= 1"):
        LocalExecutor(0)
