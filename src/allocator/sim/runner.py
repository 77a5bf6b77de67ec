"""Run an experiment: every policy on the same worlds, block by block, resumable.

The work is cut into :class:`~allocator.sim.replication.ReplicationBlock` s (fixed-size
blocks of replications, each with its own seeds). :func:`simulate_block` runs every
policy of the experiment, the oracle first, on the same block: each policy faces a fresh
environment reset from the block's environment generator, so all policies see the same
worlds (common random numbers: true rates, curves, launch days, expiries), and regret is
paired replication by replication. A policy's own randomness comes from a generator
seeded by ``(base seed, block, policy name)``, so adding or removing a policy never
changes another's numbers.

:func:`run_experiment` hands the blocks to an executor (local processes or Ray; see
:mod:`allocator.sim.executors`), stores each finished block atomically under
``out_dir/blocks/`` and, when run again on the same folder, loads the blocks whose
config hash matches instead of simulating them again (an interrupted run resumes).
Because a block's numbers depend only on the config and the block's index, the results
are identical on every executor and worker count.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from allocator._types import FloatArray, IntArray
from allocator.sim.day_loop import named_rng, simulate_policy
from allocator.sim.environment import Environment
from allocator.sim.experiment import ExperimentConfig
from allocator.sim.metrics import RESULT_COLUMNS, PolicyMetrics, compare_to_oracle
from allocator.sim.policy_configs import OracleConfig, PolicyConfig
from allocator.sim.replication import ReplicationBlock, replication_blocks
from allocator.sim.truth import DayReport

__all__ = [
    "ID_COLUMNS",
    "BlockResult",
    "DailySeries",
    "ExperimentResult",
    "block_path",
    "load_block",
    "policy_rng",
    "run_experiment",
    "save_block",
    "simulate_block",
]

ID_COLUMNS: tuple[str, ...] = ("scenario", "policy", "seed")
"""Identifying columns of ``results.csv``; ``seed`` is the replication number."""

BlockRunner = Callable[[ReplicationBlock], "BlockResult"]
Executor = Callable[[BlockRunner, list[ReplicationBlock]], Iterator["BlockResult"]]


@dataclass(frozen=True)
class DailySeries:
    """Every policy's day-by-day outcomes, ``P`` policies by ``T`` days.

    The last axis of the first two runs over replications: a block's ``N``, or all ``R``.

    Attributes:
        daily_conversions: true conversions per day, ``(P, T, N)``.
        daily_expected: expected conversions per day given the budgets, ``(P, T, N)``.
        plot_budgets: daily budgets of replication ``experiment.plot_seed``, currency per
            day, ``(P, T, K)``; empty ``(P, 0, K)`` in a block that does not hold it.
    """

    daily_conversions: FloatArray
    daily_expected: FloatArray
    plot_budgets: FloatArray


@dataclass(frozen=True)
class BlockResult(DailySeries):
    """Every policy's outcomes on one block of replications (with its daily series).

    Attributes:
        index: the block's number.
        config_hash: :meth:`ExperimentConfig.config_hash` of the experiment.
        policies: policy names, the oracle first, ``P`` of them.
        replications: global replication numbers kept from the block, ``(N,)``.
        metrics: :data:`RESULT_COLUMNS` per policy and replication, ``(P, C, N)``.
    """

    index: int
    config_hash: str
    policies: tuple[str, ...]
    replications: IntArray
    metrics: FloatArray


@dataclass(frozen=True)
class ExperimentResult(DailySeries):
    """The whole experiment, blocks concatenated in replication order.

    Its daily series run over all ``R`` replications.

    Attributes:
        experiment: the config.
        frame: one row per (policy, replication): :data:`ID_COLUMNS` then
            :data:`RESULT_COLUMNS`.
        policies: policy names, the oracle first.
        kinds: policy kind per name.
        n_loaded: blocks loaded from a previous run instead of simulated.
    """

    experiment: ExperimentConfig
    frame: pd.DataFrame
    policies: tuple[str, ...]
    kinds: dict[str, str]
    n_loaded: int


def policy_rng(block: ReplicationBlock, name: str) -> np.random.Generator:
    """The generator of one policy's own randomness on one block.

    Seeded from ``(base seed, block index, 1, crc32(name))``: independent of the other
    policies, of their order in the file and of the executor.
    """
    return named_rng(block.base_seed, name, block.index)


def _run_policy(
    experiment: ExperimentConfig, config: PolicyConfig, block: ReplicationBlock
) -> tuple[PolicyMetrics, FloatArray]:
    """Simulate one policy on one block; returns its metrics and all daily budgets."""
    scenario = experiment.scenario
    if isinstance(config, OracleConfig):  # the ceiling does not pay the learning phase
        scenario = dataclasses.replace(scenario, learning_penalty=0.0)
    env = Environment.reset(scenario, block.size, block.env_rng())
    budgets = np.zeros((scenario.horizon_days, block.size, scenario.n_arms))

    def keep_budgets(day: int, report: DayReport) -> None:
        budgets[day] = report.budget

    policy = config.build()
    rng = policy_rng(block, config.label)
    return simulate_policy(env, policy, rng, on_day=keep_budgets), budgets


def simulate_block(experiment: ExperimentConfig, block: ReplicationBlock) -> BlockResult:
    """Run every policy (oracle first) on one block of replications.

    Args:
        experiment: the config.
        block: the block (a partial last block is simulated at full size, then cut).

    Returns:
        The block's outcomes for the ``block.keep`` replications that belong to the
        experiment.
    """
    configs = experiment.run_policies()
    keep = slice(0, block.keep)
    plot = experiment.plot_seed - block.index * block.size
    in_block = 0 <= plot < block.keep
    metrics, conversions, expected, plots = [], [], [], []
    oracle = None
    for config in configs:
        result, budgets = _run_policy(experiment, config, block)
        oracle = result if oracle is None else oracle
        result = compare_to_oracle(result, oracle)
        columns = result.columns()
        metrics.append(np.stack([columns[c][keep] for c in RESULT_COLUMNS]))
        conversions.append(result.daily_conversions[:, keep])
        expected.append(result.daily_expected[:, keep])
        plots.append(budgets[:, plot, :] if in_block else budgets[:0, 0, :])
    return BlockResult(
        index=block.index,
        config_hash=experiment.config_hash(),
        policies=tuple(c.label for c in configs),
        replications=np.asarray(block.replications, dtype=np.int64),
        metrics=np.stack(metrics),
        daily_conversions=np.stack(conversions),
        daily_expected=np.stack(expected),
        plot_budgets=np.stack(plots),
    )


# ----------------------------------------------------------------------- storage
_STORED_ARRAYS = ("replications", "metrics", "daily_conversions", "daily_expected", "plot_budgets")
"""The :class:`BlockResult` fields a stored block holds as arrays, in file order."""


def block_path(out_dir: Path, index: int) -> Path:
    """Where block ``index`` is stored."""
    return out_dir / "blocks" / f"block-{index:06d}.npz"


def save_block(out_dir: Path, result: BlockResult) -> Path:
    """Write a block atomically (temporary file, then rename); returns its path."""
    path = block_path(out_dir, result.index)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = json.dumps(
        {"index": result.index, "config_hash": result.config_hash, "policies": result.policies}
    )
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            arrays = {name: getattr(result, name) for name in _STORED_ARRAYS}
            np.savez(handle, meta=np.array(meta), **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_block(path: Path, config_hash: str) -> BlockResult | None:
    """A stored block, or None when missing, unreadable or from another config."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("config_hash") != config_hash:
                return None
            return BlockResult(
                index=int(meta["index"]),
                config_hash=config_hash,
                policies=tuple(meta["policies"]),
                **{name: data[name] for name in _STORED_ARRAYS},
            )
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None


# -------------------------------------------------------------------------- run
def _serial(run: BlockRunner, blocks: list[ReplicationBlock]) -> Iterator[BlockResult]:
    return (run(block) for block in blocks)


def run_experiment(
    experiment: ExperimentConfig,
    *,
    out_dir: Path | None = None,
    executor: Executor | None = None,
    on_block: Callable[[int, int], None] | None = None,
) -> ExperimentResult:
    """Simulate (or resume) an experiment and gather its results.

    Args:
        experiment: the config.
        out_dir: folder for the per-block files (``out_dir/blocks``); ``None`` keeps
            everything in memory (no resume).
        executor: maps the block runner over blocks, yielding results in any order
            (:mod:`allocator.sim.executors`); default: in this process, in order.
        on_block: called with ``(blocks done, blocks total)`` after each block.

    Returns:
        The gathered :class:`ExperimentResult`.
    """
    blocks = list(replication_blocks(experiment.seed, experiment.seeds, experiment.block_size))
    digest = experiment.config_hash()
    done: dict[int, BlockResult] = {}
    if out_dir is not None:
        for block in blocks:
            stored = load_block(block_path(out_dir, block.index), digest)
            if stored is not None:
                done[block.index] = stored
    n_loaded = len(done)
    if on_block is not None:
        on_block(len(done), len(blocks))
    todo = [b for b in blocks if b.index not in done]
    run = partial(simulate_block, experiment)
    for result in (executor or _serial)(run, todo) if todo else ():
        if out_dir is not None:
            save_block(out_dir, result)
        done[result.index] = result
        if on_block is not None:
            on_block(len(done), len(blocks))
    return _gather(experiment, [done[b.index] for b in blocks], n_loaded)


def _gather(
    experiment: ExperimentConfig, results: Iterable[BlockResult], n_loaded: int
) -> ExperimentResult:
    results = list(results)
    configs = experiment.run_policies()
    policies = tuple(c.label for c in configs)
    metrics = np.concatenate([r.metrics for r in results], axis=-1)  # (P, C, R)
    replications = np.concatenate([r.replications for r in results])
    n_policies, _, n_reps = metrics.shape
    frame = pd.DataFrame(
        {
            "scenario": np.repeat(experiment.name, n_policies * n_reps),
            "policy": np.repeat(np.asarray(policies), n_reps),
            "seed": np.tile(replications, n_policies),
            **{c: metrics[:, j, :].ravel() for j, c in enumerate(RESULT_COLUMNS)},
        }
    )
    plot = next((r.plot_budgets for r in results if r.plot_budgets.shape[1] > 0), None)
    shape = (n_policies, experiment.scenario.horizon_days, experiment.scenario.n_arms)
    return ExperimentResult(
        experiment=experiment,
        frame=frame,
        policies=policies,
        kinds={c.label: c.kind for c in configs},
        daily_conversions=np.concatenate([r.daily_conversions for r in results], axis=-1),
        daily_expected=np.concatenate([r.daily_expected for r in results], axis=-1),
        plot_budgets=plot if plot is not None else np.zeros(shape),
        n_loaded=n_loaded,
    )
