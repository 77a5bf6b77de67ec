"""Study (e): the Bernoulli benchmark of Chapelle & Li 2011 beside MABWiser and UCB1.

``python -m allocator.sim.bernoulli --out simulations/e_bernoulli --seeds 20 --horizon
100000 --workers 2`` simulates, for gaps 0.1 and 0.02, the engine's Thompson sampling and
UCB1 vectorized over seeds (:mod:`allocator.sim.bernoulli`), then MABWiser's
``ThompsonSampling`` and ``UCB1(alpha=1)`` one pull per step (``predict`` then
``partial_fit`` of that single pull) on the same per-seed reward streams, and writes
``results.csv`` (regret of every policy and seed at each power of ten), ``summary.md`` and
``regret.png``. MABWiser runs are cached per (policy, gap, seed) under ``OUT/mabwiser/``
so an interrupted run resumes; they run in ``--workers`` processes.

MABWiser's Thompson sampling starts from ``fit`` on no data (``Beta(1, 1)`` for every arm,
as the engine); its UCB1 needs every arm pulled once before its index means anything (an
arm never fitted has expectation 0 and would never be chosen), so it is ``fit`` on the
first ``K`` pulls, arms ``0..K-1`` in order, exactly as this package's UCB1 starts.
MABWiser's own generator is seeded ``SeedSequence(base_seed, spawn_key=(2, seed))``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from allocator._types import FloatArray, IntArray
from allocator.sim.bernoulli import (
    BernoulliBandit,
    Method,
    RegretCurves,
    checkpoints,
    lai_robbins_constant,
    reward_stream,
    simulate,
)

__all__ = [
    "GAPS",
    "POLICIES",
    "StudyResult",
    "mabwiser_regret",
    "main",
    "run_study",
    "write_outputs",
]

GAPS = (0.1, 0.02)
POLICIES = ("thompson", "mabwiser_ts", "ucb1", "mabwiser_ucb1")
"""Column order: the engine's Thompson sampling, MABWiser's, this package's UCB1, MABWiser's."""


def mabwiser_regret(
    method: Method, bandit: BernoulliBandit, seed: int, horizon: int, base_seed: int,
    steps: IntArray,
) -> FloatArray:  # fmt: skip
    """MABWiser one pull per step on seed ``seed``'s reward stream; regret at ``steps``.

    Returns:
        ``(P,)`` cumulative pseudo-regret after each recorded step.

    Raises:
        ModuleNotFoundError: when the optional ``bench`` extra (mabwiser) is not installed.
    """
    from mabwiser.mab import MAB, LearningPolicy

    k, mu, gaps = bandit.n_arms, bandit.means, bandit.gaps
    uniforms = reward_stream(base_seed, seed).random(horizon)
    mab_seed = int(np.random.SeedSequence(base_seed, spawn_key=(2, seed)).generate_state(1)[0])
    arms = list(range(k))
    pulled: list[int] = []
    if method is Method.THOMPSON:
        mab = MAB(arms, LearningPolicy.ThompsonSampling(), seed=mab_seed)
        mab.fit(np.array([], dtype=np.int64), np.array([], dtype=np.int64))
    else:
        first = min(k, horizon)
        mab = MAB(arms, LearningPolicy.UCB1(alpha=1.0), seed=mab_seed)
        mab.fit(np.arange(first), (uniforms[:first] < mu[:first]).astype(np.int64))
        pulled = list(range(first))
    for t in range(len(pulled), horizon):
        arm = int(mab.predict())
        mab.partial_fit([arm], [int(uniforms[t] < mu[arm])])
        pulled.append(arm)
    cum = np.cumsum(gaps[np.asarray(pulled, dtype=np.int64)])
    out: FloatArray = cum[steps - 1]
    return out


@dataclass(frozen=True, slots=True)
class _PeerTask:
    method: Method
    gap: float
    seed: int
    horizon: int
    base_seed: int
    path: Path


def _run_peer(task: _PeerTask) -> tuple[_PeerTask, float]:
    steps = checkpoints(task.horizon)
    start = time.perf_counter()
    regret = mabwiser_regret(
        task.method, BernoulliBandit(task.gap), task.seed, task.horizon, task.base_seed, steps
    )
    seconds = time.perf_counter() - start
    task.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = task.path.with_suffix(".tmp.npz")
    np.savez(tmp, steps=steps, regret=regret, seconds=seconds)
    tmp.replace(task.path)
    return task, seconds


@dataclass(frozen=True, slots=True)
class StudyResult:
    """Everything the summary needs.

    Attributes:
        curves: ``(gap, policy) -> RegretCurves``.
        seconds: ``(gap, policy) -> wall time of the simulation``, seconds (MABWiser: sum
            over seeds of single-process run times).
        horizon: pulls per seed.
        base_seed: the experiment's seed.
        block_size: seeds per Thompson block.
    """

    curves: dict[tuple[float, str], RegretCurves]
    seconds: dict[tuple[float, str], float]
    horizon: int
    base_seed: int
    block_size: int


def _peer_path(out: Path, policy: str, gap: float, seed: int, horizon: int, base: int) -> Path:
    return out / "mabwiser" / f"{policy}-gap{gap:g}-T{horizon}-base{base}-seed{seed}.npz"


def _report(done: Iterable[tuple[_PeerTask, float]], n_todo: int) -> None:
    for i, (task, took) in enumerate(done, start=1):
        print(f"[{i}/{n_todo}] mabwiser {task.method.value} gap {task.gap:g} seed "
              f"{task.seed}: {took:.1f} s", file=sys.stderr, flush=True)  # fmt: skip


def _run_peers(
    out: Path, n_seeds: int, horizon: int, base_seed: int, workers: int
) -> tuple[dict[tuple[float, str], RegretCurves], dict[tuple[float, str], float]]:
    tasks = [
        _PeerTask(
            method, gap, s, horizon, base_seed, _peer_path(out, policy, gap, s, horizon, base_seed)
        )
        for gap in GAPS
        for policy, method in (("mabwiser_ts", Method.THOMPSON), ("mabwiser_ucb1", Method.UCB1))
        for s in range(n_seeds)
    ]
    todo = [t for t in tasks if not t.path.exists()]
    if workers == 1:  # in this process: no pool to start
        _report(map(_run_peer, todo), len(todo))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            _report(pool.map(_run_peer, todo), len(todo))
    curves: dict[tuple[float, str], RegretCurves] = {}
    seconds: dict[tuple[float, str], float] = {}
    for gap in GAPS:
        for policy in ("mabwiser_ts", "mabwiser_ucb1"):
            loaded = [np.load(_peer_path(out, policy, gap, s, horizon, base_seed))
                      for s in range(n_seeds)]  # fmt: skip
            curves[gap, policy] = RegretCurves(
                steps=loaded[0]["steps"],
                regret=np.stack([f["regret"] for f in loaded]),
                seeds=np.arange(n_seeds, dtype=np.int64),
            )
            seconds[gap, policy] = float(sum(float(f["seconds"]) for f in loaded))
    return curves, seconds


def run_study(
    out: Path, *, n_seeds: int, horizon: int, base_seed: int = 0, block_size: int = 20,
    peer_seeds: int | None = None, workers: int = 1,
) -> StudyResult:  # fmt: skip
    """Simulate every policy on both gaps (MABWiser on ``peer_seeds``, default all seeds)."""
    curves: dict[tuple[float, str], RegretCurves] = {}
    seconds: dict[tuple[float, str], float] = {}
    for gap in GAPS:
        for policy, method in (("thompson", Method.THOMPSON), ("ucb1", Method.UCB1)):
            start = time.perf_counter()
            curves[gap, policy] = simulate(method, BernoulliBandit(gap), n_seeds, horizon,
                                           base_seed=base_seed, block_size=block_size)  # fmt: skip
            seconds[gap, policy] = time.perf_counter() - start
    if peer_seeds != 0:
        n_peer = n_seeds if peer_seeds is None else peer_seeds
        peer_curves, peer_seconds = _run_peers(out, n_peer, horizon, base_seed, workers)
        curves.update(peer_curves)
        seconds.update(peer_seconds)
    return StudyResult(curves, seconds, horizon, base_seed, block_size)


def _decades(horizon: int) -> list[int]:
    return [10**e for e in range(2, 10) if 10**e <= horizon]


def _mean_se(x: FloatArray) -> tuple[float, float]:
    se = float(np.std(x, ddof=1) / np.sqrt(x.size)) if x.size > 1 else float("nan")
    return float(np.mean(x)), se


def _fmt(x: FloatArray) -> str:
    mean, se = _mean_se(x)
    return f"{mean:,.1f} ± {se:,.1f}"


def _summary_lines(result: StudyResult, command: str) -> list[str]:
    decades = _decades(result.horizon)
    lines = [
        "# Study (e): Bernoulli bandit of Chapelle & Li (2011)",
        "",
        f"10 arms, best mean 0.5, nine at 0.5 - gap; one pull per step; horizon "
        f"{result.horizon:,}; base seed {result.base_seed}; Thompson blocks of "
        f"{result.block_size} seeds. Regret = cumulative pseudo-regret (expected successes "
        "lost), mean ± standard error over seeds. Every policy meets the same reward "
        "stream on a given seed. Wall time: the engine's Thompson sampling and UCB1 simulate "
        "all seeds at once in one process; MABWiser's is the sum of its one-seed runs "
        "(one process each, one pull per step).",
        "",
        f"Reproduce: `{command}`",
        "",
    ]
    for gap in GAPS:
        bandit = BernoulliBandit(gap)
        bound = lai_robbins_constant(bandit) * np.log(10.0)
        lines += [f"## gap {gap:g}", "", "| policy | seeds | "
                  + " | ".join(f"R({t:,})" for t in decades)
                  + " | growth per tenfold T (last decade) | wall time (s) |",
                  "|---" * (len(decades) + 4) + "|"]  # fmt: skip
        for policy in POLICIES:
            if (gap, policy) not in result.curves:
                continue
            c = result.curves[gap, policy]
            growth = c.at(decades[-1]) - c.at(decades[-2]) if len(decades) > 1 else c.at(10)
            lines.append(f"| `{policy}` | {c.seeds.size} | "
                         + " | ".join(_fmt(c.at(t)) for t in decades)
                         + f" | {_fmt(growth)} | {result.seconds[gap, policy]:,.1f} |")  # fmt: skip
        lines += ["", f"Lai-Robbins constant x ln 10 (the least any consistent policy's "
                  f"regret grows per tenfold T, asymptotically): **{bound:.1f}**.", ""]  # fmt: skip
        lines += [*_comparison_lines(result, gap, decades), ""]
    return lines


def _comparison_lines(result: StudyResult, gap: float, decades: Sequence[int]) -> list[str]:
    ts = result.curves[gap, "thompson"]
    lines = ["| comparison | T | difference of means ± SE | z |", "|---|---|---|---|"]
    for other in ("mabwiser_ts", "ucb1"):
        if (gap, other) not in result.curves:
            continue
        oc = result.curves[gap, other]
        for t in decades[-2:]:
            (m1, s1), (m2, s2) = _mean_se(ts.at(t)), _mean_se(oc.at(t))
            se = float(np.hypot(s1, s2))
            lines.append(f"| `thompson` - `{other}` | {t:,} | {m1 - m2:,.1f} ± {se:,.1f} | "
                         f"{(m1 - m2) / se:+.2f} |")  # fmt: skip
    return lines


def _plot(result: StudyResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(GAPS), figsize=(11, 4.2), constrained_layout=True)
    for ax, gap in zip(axes, GAPS, strict=True):
        for policy in POLICIES:
            if (gap, policy) not in result.curves:
                continue
            c = result.curves[gap, policy]
            mean = c.regret.mean(axis=0)
            se = c.regret.std(axis=0, ddof=1) / np.sqrt(c.seeds.size)
            ls = "--" if policy.startswith("mabwiser") else "-"
            ax.plot(c.steps, mean, ls, label=f"{policy} ({c.seeds.size} seeds)")
            ax.fill_between(c.steps, mean - 2 * se, mean + 2 * se, alpha=0.2)
        ts = result.curves[gap, "thompson"]
        t0 = max(1, 10 ** int(np.log10(result.horizon)) // 10)  # start of the last decade
        anchor = float(ts.at(t0).mean())
        grid = ts.steps[ts.steps >= t0]
        slope = lai_robbins_constant(BernoulliBandit(gap))
        ax.plot(
            grid,
            anchor + slope * np.log(grid / t0),
            ":k",
            label="Lai-Robbins slope (from engine TS)",
        )
        ax.set_xscale("log")
        ax.set_xlabel("pulls T")
        ax.set_ylabel("cumulative regret")
        ax.set_title(f"10 arms, gap {gap:g} (mean ± 2 SE)")
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(result: StudyResult, out: Path, command: str) -> None:
    """Write ``results.csv``, ``summary.md`` and ``regret.png`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    decades = [10, *_decades(result.horizon)]
    with (out / "results.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["gap", "policy", "seed", *(f"regret_{t}" for t in decades)])
        for (gap, policy), c in sorted(result.curves.items()):
            for i, seed in enumerate(c.seeds):
                row: list[Any] = [f"{gap:g}", policy, int(seed)]
                writer.writerow(row + [f"{c.at(t)[i]:.2f}" for t in decades])
    (out / "summary.md").write_text("\n".join(_summary_lines(result, command)) + "\n")
    _plot(result, out / "regret.png")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m allocator.sim.bernoulli``: run study (e) and write its outputs."""
    parser = argparse.ArgumentParser(prog="python -m allocator.sim.bernoulli",
                                     description=__doc__.split("\n\n")[0])  # fmt: skip
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--horizon", type=int, default=100_000)
    parser.add_argument("--base-seed", type=int, default=0)
    parser.add_argument("--block-size", type=int, default=20)
    parser.add_argument("--peer-seeds", type=int, default=None,
                        help="seeds for MABWiser (default: --seeds; 0 skips MABWiser)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=1, help="processes for MABWiser runs")
    args = parser.parse_args(argv)
    if args.seeds < 2 or args.horizon < 100 or args.workers < 1:
        parser.error("need --seeds >= 2, --horizon >= 100 and --workers >= 1")
    start = time.perf_counter()
    result = run_study(args.out, n_seeds=args.seeds, horizon=args.horizon,
                       base_seed=args.base_seed, block_size=args.block_size,
                       peer_seeds=args.peer_seeds, workers=args.workers)  # fmt: skip
    shown = " ".join(sys.argv[1:]) if argv is None else " ".join(argv)
    write_outputs(result, args.out, f"python -m allocator.sim.bernoulli {shown}")
    print(f"wrote {args.out} in {time.perf_counter() - start:,.0f} s", file=sys.stderr)
    return 0
