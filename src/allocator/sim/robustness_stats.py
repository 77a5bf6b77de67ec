"""Statistics and the summary table of the robustness suite.

Every figure is computed from the suite's ``results.csv`` frame: one row per (cell,
policy, seed) with ``expected_conversions`` (the pseudo-regret basis, see
:mod:`allocator.sim.metrics`), ``oracle_ratio``, ``underspend`` and
``last_third_expected`` (expected conversions over the last third of the horizon).

* A policy's ratio to the ceiling in a cell: the mean over seeds of ``oracle_ratio``,
  with a normal 95 % interval (``1.96`` standard errors).
* Paired ratios (engine / best baseline, engine / plain TS, engine / even over the last
  third): the ratio of the sums of expected conversions over the same seeds (the same
  worlds), with a 95 % percentile bootstrap interval that resamples seeds (pairs kept
  together). The *best baseline* of a cell is the non-engine policy with the highest
  mean expected conversions in that cell (chosen on the same seeds, which favours the
  baseline slightly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator._types import FloatArray

__all__ = ["Comparison", "compare", "mean_ci", "paired_ratio", "summary_markdown"]

N_BOOT = 2000
"""Bootstrap resamples per paired interval."""


def mean_ci(x: FloatArray) -> tuple[float, float]:
    """``(mean, half-width)`` of a normal 95 % interval over the values ``x`` ``(n,)``."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    half = 1.96 * x.std(ddof=1) / np.sqrt(x.size) if x.size > 1 else float("nan")
    return float(x.mean()), float(half)


def paired_ratio(
    num: FloatArray, den: FloatArray, rng: np.random.Generator, n_boot: int = N_BOOT
) -> tuple[float, float, float]:
    """``sum(num) / sum(den)`` with a paired 95 % percentile bootstrap over seeds.

    Args:
        num: ``(n,)`` per-seed values of the numerator policy.
        den: ``(n,)`` the denominator policy on the same seeds.
        rng: generator of the resampling.
        n_boot: resamples.

    Returns:
        ``(ratio, low, high)``.
    """
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    if num.shape != den.shape or num.size == 0 or den.sum() <= 0:
        return float("nan"), float("nan"), float("nan")
    index = rng.integers(0, num.size, size=(n_boot, num.size))
    boot = num[index].sum(axis=1) / np.maximum(den[index].sum(axis=1), 1e-300)
    low, high = np.quantile(boot, [0.025, 0.975])
    return float(num.sum() / den.sum()), float(low), float(high)


@dataclass(frozen=True)
class Comparison:
    """One engine variant against the baselines in one cell.

    Attributes:
        cell: the cell's name.
        engine: the engine variant's policy name.
        best_baseline: the best baseline's name in the cell.
        vs_best: ``(ratio, low, high)`` engine / best baseline.
        vs_plain: ``(ratio, low, high)`` engine / plain TS (NaN if not run).
        last_third_vs_even: ``(ratio, low, high)`` over the last third of the horizon.
    """

    cell: str
    engine: str
    best_baseline: str
    vs_best: tuple[float, float, float]
    vs_plain: tuple[float, float, float]
    last_third_vs_even: tuple[float, float, float]


def _by_seed(frame: pd.DataFrame, policy: str, column: str) -> FloatArray:
    rows = frame[frame["policy"] == policy].sort_values("seed")
    values: FloatArray = rows[column].to_numpy(dtype=float)
    return values


_NAN3 = (float("nan"), float("nan"), float("nan"))


def _paired(
    rows: pd.DataFrame, num: str, den: str, column: str, rng: np.random.Generator
) -> tuple[float, float, float]:
    """Paired ratio of policy ``num`` to ``den`` on ``column`` within one cell's rows."""
    present = set(rows["policy"])
    if not den or num not in present or den not in present:
        return _NAN3
    return paired_ratio(_by_seed(rows, num, column), _by_seed(rows, den, column), rng)


def compare(
    frame: pd.DataFrame, engines: Sequence[str], baselines: Sequence[str], seed: int = 0
) -> list[Comparison]:
    """Paired comparisons of every engine variant in every cell of ``frame``."""
    rng = np.random.default_rng(seed)
    out: list[Comparison] = []
    conv, last = "expected_conversions", "last_third_expected"
    for cell, rows in frame.groupby("scenario", sort=False):
        base = rows[rows["policy"].isin(list(baselines))]
        means = base.groupby("policy")[conv].mean()
        best = str(means.idxmax()) if len(means) else ""
        out.extend(
            Comparison(
                cell=str(cell),
                engine=engine,
                best_baseline=best,
                vs_best=_paired(rows, engine, best, conv, rng),
                vs_plain=_paired(rows, engine, "plain_ts", conv, rng),
                last_third_vs_even=_paired(rows, engine, "even", last, rng),
            )
            for engine in engines
            if engine in set(rows["policy"])
        )
    return out


def _fmt_ci(mean: float, half: float) -> str:
    return f"{mean:.3f} ± {half:.3f}" if np.isfinite(half) else f"{mean:.3f}"


def _fmt_ratio(r: tuple[float, float, float]) -> str:
    return f"{r[0]:.3f} [{r[1]:.3f}, {r[2]:.3f}]" if np.isfinite(r[0]) else "-"


def ratio_table(frame: pd.DataFrame, policies: Sequence[str]) -> str:
    """Markdown: each cell's mean ratio to the ceiling per policy, ± 95 % half-width."""
    head = "| cell | " + " | ".join(policies) + " |"
    lines = [head, "|" + "---|" * (len(policies) + 1)]
    for cell, rows in frame.groupby("scenario", sort=False):
        cols = [_fmt_ci(*mean_ci(_by_seed(rows, p, "oracle_ratio"))) for p in policies]
        lines.append(f"| {cell} | " + " | ".join(cols) + " |")
    return "\n".join(lines)


def comparison_table(frame: pd.DataFrame, comparisons: Sequence[Comparison]) -> str:
    """Markdown: per cell and engine variant, the paired ratios and the underspend."""
    lines = [
        "| cell | engine | engine / best baseline [95 %] | best baseline | "
        "engine / plain TS [95 %] | last third: engine / even [95 %] | engine underspend |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in comparisons:
        rows = frame[frame["scenario"] == c.cell]
        under = float(np.nanmean(_by_seed(rows, c.engine, "underspend")))
        lines.append(
            f"| {c.cell} | {c.engine} | {_fmt_ratio(c.vs_best)} | {c.best_baseline} | "
            f"{_fmt_ratio(c.vs_plain)} | {_fmt_ratio(c.last_third_vs_even)} | {under:.2%} |"
        )
    return "\n".join(lines)


def penalty_table(frame: pd.DataFrame, policies: Sequence[str]) -> str:
    """Markdown: mean ratio to the ceiling per penalty, averaged over families.

    Each world's mean over seeds is averaged within its family, then over families.
    """
    means = frame.groupby(["learning_penalty", "family", "world", "policy"])["oracle_ratio"].mean()
    per_family = means.groupby(["learning_penalty", "family", "policy"]).mean()
    overall = per_family.groupby(["learning_penalty", "policy"]).mean().unstack("policy")
    lines = ["| learning penalty | " + " | ".join(policies) + " |"]
    lines.append("|" + "---|" * (len(policies) + 1))
    for penalty, row in overall.iterrows():
        cols = [f"{row.get(p, float('nan')):.3f}" for p in policies]
        lines.append(f"| {float(str(penalty)):.2f} | " + " | ".join(cols) + " |")
    return "\n".join(lines)


def _family_average(frame: pd.DataFrame, policy: str, penalty: float) -> float:
    rows = frame[(frame["policy"] == policy) & np.isclose(frame["learning_penalty"], penalty)]
    per_world = rows.groupby(["family", "world"])["oracle_ratio"].mean()
    return float(per_world.groupby("family").mean().mean())


def targets_table(
    frame: pd.DataFrame, engines: Sequence[str], comparisons: Sequence[Comparison]
) -> str:
    """Markdown: issue 11's "done when" bars, met or not, per engine variant."""
    lines = [
        "| bar (issue 11) | " + " | ".join(engines) + " |",
        "|" + "---|" * (len(engines) + 1),
    ]
    rows: dict[str, list[str]] = {
        "cells with engine / best baseline lower bound >= 0.98": [],
        "suite mean engine / plain TS >= 1.03": [],
        "family-average ratio at penalty 0 >= 0.93": [],
        "family-average ratio at penalty 0.15 >= 0.90": [],
        "cells with mean underspend < 1 %": [],
    }
    for engine in engines:
        mine = [c for c in comparisons if c.engine == engine]
        ok = sum(c.vs_best[1] >= 0.98 for c in mine)
        rows["cells with engine / best baseline lower bound >= 0.98"].append(f"{ok} / {len(mine)}")
        plain = float(np.nanmean([c.vs_plain[0] for c in mine]))
        rows["suite mean engine / plain TS >= 1.03"].append(f"{plain:.3f}")
        rows["family-average ratio at penalty 0 >= 0.93"].append(
            f"{_family_average(frame, engine, 0.0):.3f}"
        )
        rows["family-average ratio at penalty 0.15 >= 0.90"].append(
            f"{_family_average(frame, engine, 0.15):.3f}"
        )
        under = frame[frame["policy"] == engine].groupby("scenario")["underspend"].mean()
        rows["cells with mean underspend < 1 %"].append(
            f"{int((under < 0.01).sum())} / {len(under)}"
        )
    lines += [f"| {bar} | " + " | ".join(values) + " |" for bar, values in rows.items()]
    return "\n".join(lines)


def family_table(frame: pd.DataFrame, engines: Sequence[str], seed: int = 1) -> str:
    """Markdown: per family, engine / even over the last third, pooled over its cells.

    Pairs are (cell, seed) rows of the same world; the interval resamples them.
    """
    rng = np.random.default_rng(seed)
    lines = ["| family | " + " | ".join(engines) + " |", "|" + "---|" * (len(engines) + 1)]
    for family, rows in frame.groupby("family", sort=False):
        even = rows[rows["policy"] == "even"].sort_values(["scenario", "seed"])
        cols = []
        for engine in engines:
            eng = rows[rows["policy"] == engine].sort_values(["scenario", "seed"])
            num = eng["last_third_expected"].to_numpy(dtype=float)
            den = even["last_third_expected"].to_numpy(dtype=float)
            cols.append(_fmt_ratio(paired_ratio(num, den, rng)))
        lines.append(f"| {family} | " + " | ".join(cols) + " |")
    return "\n".join(lines)


def summary_markdown(
    frame: pd.DataFrame,
    policies: Sequence[str],
    engines: Sequence[str],
    comparisons: Sequence[Comparison],
    header: str,
) -> str:
    """The whole ``summary.md``."""
    underspend = frame.groupby("policy")["underspend"].mean().reindex(list(policies))
    suite_vs_plain = {
        e: float(np.nanmean([c.vs_plain[0] for c in comparisons if c.engine == e])) for e in engines
    }
    parts = [
        header,
        "## Issue 11's bars",
        targets_table(frame, engines, comparisons),
        "## Mean ratio to the ceiling, averaged over families",
        penalty_table(frame, policies),
        "Suite average of the paired engine / plain TS ratio: "
        + ", ".join(f"{e}: {v:.3f}" for e, v in suite_vs_plain.items())
        + ".",
        "Mean underspend (share of the budget left unplanned while an acceptable "
        "creative could have taken it): "
        + ", ".join(f"{p}: {v:.2%}" for p, v in underspend.items())
        + ".",
        "## Last third of the horizon: engine / even per family (all penalties pooled)",
        family_table(frame, engines),
        "## Ratio to the ceiling per cell (mean over seeds ± 95 % half-width)",
        ratio_table(frame, policies),
        "## Engine against the baselines, paired on the same worlds",
        comparison_table(frame, comparisons),
    ]
    return "\n\n".join(parts) + "\n"
