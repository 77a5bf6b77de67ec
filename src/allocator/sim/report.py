"""The output folder of an experiment: results table, summary and plots.

:func:`write_outputs` writes, into ``DIR`` (the results contract of DESIGN.md):

* ``results.csv`` (and ``results.parquet`` when pyarrow is importable): one row per
  (scenario, policy, seed) with :data:`~allocator.sim.runner.ID_COLUMNS` and
  :data:`~allocator.sim.metrics.RESULT_COLUMNS`;
* ``summary.md``: mean and 95% interval (Student t) per policy and metric, the ratio to
  the oracle, and each engine policy against each baseline (ratio of mean conversions and
  of mean spend, with a paired bootstrap 95% interval over seeds);
* ``cumulative_conversions.png``, ``budget_shares.png`` (with a legend of the arms),
  ``regret.png`` (a cumulative shortfall: it can only rise), from the curves of
  :mod:`allocator.sim.curves`, which are also kept as ``curves.json`` for the HTML report;
  day axes have whole-day ticks, bands are clipped at zero.

Plots use matplotlib's non-interactive Agg backend; nothing here is imported by the
simulation itself.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from allocator._types import FloatArray
from allocator.sim.curves import summary_curves, write_curves
from allocator.sim.policy_configs import ENGINE_KINDS
from allocator.sim.runner import ExperimentResult

__all__ = [
    "PLOTS",
    "Interval",
    "mean_interval",
    "paired_ratio",
    "summary_markdown",
    "write_outputs",
]

PLOTS: tuple[str, ...] = ("cumulative_conversions.png", "budget_shares.png", "regret.png")
"""Plot files written by :func:`write_outputs`."""

_N_BOOT = 2000
_SUMMARY_METRICS: tuple[tuple[str, str], ...] = (
    ("conversions", "conversions"),
    ("spend", "spend"),
    ("cpa", "CPA"),
    ("oracle_ratio", "ratio to oracle"),
    ("regret", "regret (conv.)"),
    ("wasted_spend", "spend on never-best arms"),
    ("stranded_spend", "stranded spend"),
    ("budget_edits", "budget edits"),
    ("days_to_scale_best", "days to scale best"),
)
_SIGNED = frozenset({"regret"})
"""Metrics that can be negative; the others' intervals are clipped at zero."""


@dataclass(frozen=True, slots=True)
class Interval:
    """A mean (or ratio) with its 95% interval and the number of values behind it."""

    mean: float
    low: float
    high: float
    n: int

    def format(self, digits: int = 1) -> str:
        """``mean [low, high]`` (``n/a`` without values)."""
        if self.n == 0 or not math.isfinite(self.mean):
            return "n/a"
        return f"{self.mean:,.{digits}f} [{self.low:,.{digits}f}, {self.high:,.{digits}f}]"


def mean_interval(values: FloatArray, level: float = 0.95, floor: float | None = None) -> Interval:
    """Mean and Student-t interval of the finite values (NaN ones are left out).

    ``floor`` is a bound the quantity cannot cross (0 for spend or counts): the interval's
    low end is clipped at it, so it never claims values the quantity cannot take.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, mean, mean, 1)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    low = mean - half if floor is None else max(mean - half, floor)
    return Interval(mean, low, mean + half, n)


def paired_ratio(num: FloatArray, den: FloatArray, seed: int = 0) -> Interval:
    """``mean(num) / mean(den)`` over paired seeds, with a bootstrap 95% interval.

    Args:
        num: one value per seed, ``(R,)``.
        den: the paired values, ``(R,)``.
        seed: seed of the resampling (the interval is reproducible).
    """
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    ok = np.isfinite(num) & np.isfinite(den)
    num, den = num[ok], den[ok]
    if num.size == 0 or den.sum() <= 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    ratio = float(num.sum() / den.sum())
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, num.size, size=(_N_BOOT, num.size))
    boot = num[idx].sum(axis=1) / np.maximum(den[idx].sum(axis=1), 1e-300)
    low, high = np.quantile(boot, [0.025, 0.975])
    return Interval(ratio, float(low), float(high), int(num.size))


def _summary_table(result: ExperimentResult) -> list[str]:
    header = "| metric | " + " | ".join(f"`{p}`" for p in result.policies) + " |"
    lines = [header, "|---" * (len(result.policies) + 1) + "|"]
    by = {p: g for p, g in result.frame.groupby("policy", sort=False)}
    for column, label in _SUMMARY_METRICS:
        digits = 3 if column == "oracle_ratio" else (2 if column == "cpa" else 1)
        floor = None if column in _SIGNED else 0.0
        cells = [
            mean_interval(by[p][column].to_numpy(), floor=floor).format(digits)
            for p in result.policies
        ]
        if column == "days_to_scale_best":
            n = len(by[result.policies[0]])
            cells = [
                f"{c} (n={mean_interval(by[p][column].to_numpy()).n}/{n})" if c != "n/a" else c
                for c, p in zip(cells, result.policies, strict=True)
            ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _comparisons(result: ExperimentResult) -> list[str]:
    frame = result.frame
    engines = [p for p in result.policies if result.kinds[p] in ENGINE_KINDS]
    others = [p for p in result.policies[1:] if result.kinds[p] not in ENGINE_KINDS]
    if not engines or not others:
        return []
    lines = [
        "| engine | baseline | conversions ratio [95%] | spend ratio [95%] |",
        "|---|---|---|---|",
    ]
    # the oracle's rows: what perfect knowledge gains over each baseline (the ceiling)
    oracle = result.policies[0]
    rows = [(engine, f"`{engine}`") for engine in engines] + [(oracle, f"`{oracle}` (ceiling)")]
    for i, (policy, label) in enumerate(rows):
        mine = frame[frame.policy == policy].sort_values("seed")
        for j, other in enumerate(others):
            theirs = frame[frame.policy == other].sort_values("seed")
            seed = 1000 * i + j
            conv = paired_ratio(mine.conversions.to_numpy(), theirs.conversions.to_numpy(), seed)
            spend = paired_ratio(mine.spend.to_numpy(), theirs.spend.to_numpy(), seed)
            lines.append(f"| {label} | `{other}` | {conv.format(3)} | {spend.format(3)} |")
    return lines


def summary_markdown(result: ExperimentResult) -> str:
    """The text of ``summary.md``."""
    e = result.experiment
    s = e.scenario
    lines = [
        f"# Simulation summary: {e.name}",
        "",
        *([e.description.strip(), ""] if e.description.strip() else []),
        f"- seeds: {e.seeds} (base seed {e.seed}, blocks of {e.block_size}); "
        f"horizon {s.horizon_days} days; daily budget {s.daily_budget:g}; "
        f"{s.n_arms} arms; target CPA {s.target_cpa:g}",
        f"- config hash `{e.config_hash()}`",
        "",
        "Means over seeds with 95% intervals (Student t). Conversions and spend are true "
        "totals over the run; the ratio to the oracle and regret use expected conversions "
        "given the budgets set, paired seed by seed with the oracle on the same worlds.",
        "",
        *_summary_table(result),
    ]
    comparisons = _comparisons(result)
    if comparisons:
        lines += [
            "",
            "## Engine against the baselines",
            "",
            "Ratio of mean totals over the same seeds (1.10 = 10% more), 95% paired "
            f"bootstrap interval ({_N_BOOT} resamples). The oracle's rows are the "
            "ceiling: what knowing the true curves (a per-day optimum) gains over that baseline.",
            "",
            *comparisons,
        ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- plots
def _whole_days(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _plot_bands(
    curves: dict[str, dict[str, list[float]]], path: Path, labels: tuple[str, str], ref: str | None
) -> None:
    """One line per policy: its mean curve over seeds with the 95% band (clipped at zero).

    ``labels`` is ``(y label, title)``; ``ref`` the policy drawn dashed black (the oracle).
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for policy, curve in curves.items():
        days = np.arange(1, len(curve["mean"]) + 1)
        style: dict[str, Any] = {"linestyle": "--", "color": "black"} if policy == ref else {}
        (line,) = ax.plot(days, curve["mean"], label=policy, **style)
        ax.fill_between(days, curve["low"], curve["high"], alpha=0.15, color=line.get_color())
    ax.set(xlabel="day", ylabel=labels[0], title=labels[1])
    ax.set_ylim(bottom=0)
    _whole_days(ax)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_cumulative(result: ExperimentResult, curves: dict[str, Any], path: Path) -> None:
    title = f"{result.experiment.name}: cumulative conversions vs the oracle"
    labels = ("cumulative conversions (mean over seeds)", title)
    _plot_bands(curves["cumulative_conversions"], path, labels, ref=result.policies[0])


def _plot_regret(result: ExperimentResult, curves: dict[str, Any], path: Path) -> None:
    title = f"{result.experiment.name}: regret against the oracle"
    labels = ("cumulative regret (expected conversions short of the oracle)", title)
    _plot_bands(curves["regret"], path, labels, ref=None)


def _plot_shares(result: ExperimentResult, curves: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    shares = {p: np.asarray(v) for p, v in curves["shares"].items()}  # (T, K) each
    n_policies = len(shares)
    n_days, n_arms = next(iter(shares.values())).shape
    n_cols = min(3, n_policies)
    n_rows = -(-n_policies // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.5 * n_cols, 3.2 * n_rows + 0.8),
                             sharex=True, sharey=True, squeeze=False)  # fmt: skip
    days = np.arange(1, n_days + 1)
    colors = plt.get_cmap("tab20")(np.linspace(0, 1, max(n_arms, 2)))
    arms = [f"arm {k + 1}" for k in range(n_arms)]
    for i, ax in enumerate(axes.ravel()):
        if i >= n_policies:
            ax.set_visible(False)
            continue
        policy = result.policies[i]
        ax.stackplot(days, shares[policy].T, colors=colors[:n_arms], linewidth=0, labels=arms)
        ax.set_title(policy, fontsize="small")
        ax.set_ylim(0, 1)
        _whole_days(ax)
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncols=min(n_arms, 10), fontsize="small",
               frameon=False)  # fmt: skip
    fig.suptitle(f"{result.experiment.name}: daily budget shares per arm, "
                 f"seed {result.experiment.plot_seed}")  # fmt: skip
    fig.supxlabel("day", y=0.06)
    fig.supylabel("share of the daily budget")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_outputs(result: ExperimentResult, out_dir: Path) -> list[Path]:
    """Write the results table, the summary and the plots; return the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "results.csv"]
    result.frame.to_csv(written[0], index=False)
    if importlib.util.find_spec("pyarrow") is not None:
        written.append(out_dir / "results.parquet")
        result.frame.to_parquet(written[-1], index=False)
    written.append(out_dir / "summary.md")
    written[-1].write_text(summary_markdown(result), encoding="utf-8")
    curves = summary_curves(result)
    written.append(write_curves(curves, out_dir))
    for name, plot in zip(PLOTS, (_plot_cumulative, _plot_shares, _plot_regret), strict=True):
        written.append(out_dir / name)
        plot(result, curves, written[-1])
    return written
