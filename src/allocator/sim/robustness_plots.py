"""Plots of the robustness suite (matplotlib, Agg backend), from its results frame.

* ``ratio_heatmap.png``: mean ratio to the ceiling, cells x policies.
* ``engine_vs_best.png``: the paired ratio engine / best baseline per cell with its 95 %
  interval, and the 0.98 bar of issue 11.
* ``penalty_lines.png``: mean ratio to the ceiling averaged over families, per learning
  penalty, one line per policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.sim.robustness_stats import Comparison

__all__ = ["write_plots"]


def _heatmap(frame: pd.DataFrame, policies: Sequence[str], path: Path) -> None:
    import matplotlib.pyplot as plt

    table = (
        frame.groupby(["scenario", "policy"], sort=False)["oracle_ratio"]
        .mean()
        .unstack("policy")
        .reindex(columns=list(policies))
    )
    table = table.reindex(list(dict.fromkeys(frame["scenario"])))
    fig, ax = plt.subplots(figsize=(1.2 * len(policies) + 3, 0.28 * len(table) + 1.5))
    image = ax.imshow(table.to_numpy(), aspect="auto", cmap="viridis", vmin=0.4, vmax=1.0)
    ax.set_xticks(range(len(policies)), list(policies), rotation=30, ha="right")
    ax.set_yticks(range(len(table)), list(table.index), fontsize=7)
    for (i, j), value in np.ndenumerate(table.to_numpy()):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6, color="white")
    fig.colorbar(image, ax=ax, label="ratio to the ceiling (oracle, no learning penalty)")
    ax.set_title("Mean ratio to the ceiling per cell")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _forest(comparisons: Sequence[Comparison], path: Path) -> None:
    import matplotlib.pyplot as plt

    engines = list(dict.fromkeys(c.engine for c in comparisons))
    cells = list(dict.fromkeys(c.cell for c in comparisons))
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(cells) + 1.5))
    for k, engine in enumerate(engines):
        rows = [c for c in comparisons if c.engine == engine]
        y = np.array([cells.index(c.cell) for c in rows]) + 0.15 * k
        mid = np.array([c.vs_best[0] for c in rows])
        err = np.array([[c.vs_best[0] - c.vs_best[1], c.vs_best[2] - c.vs_best[0]] for c in rows])
        ax.errorbar(mid, y, xerr=err.T, fmt="o", ms=3, capsize=2, label=engine)
    ax.axvline(1.0, color="grey", lw=0.8)
    ax.axvline(0.98, color="red", lw=0.8, ls="--", label="0.98 (issue 11 bar)")
    ax.set_yticks(range(len(cells)), cells, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("engine / best baseline (paired, 95 % bootstrap interval)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _penalty_lines(frame: pd.DataFrame, policies: Sequence[str], path: Path) -> None:
    import matplotlib.pyplot as plt

    means = frame.groupby(["learning_penalty", "family", "world", "policy"])["oracle_ratio"].mean()
    per_family = means.groupby(["learning_penalty", "family", "policy"]).mean()
    overall = per_family.groupby(["learning_penalty", "policy"]).mean().unstack("policy")
    fig, ax = plt.subplots(figsize=(6, 4))
    for policy in policies:
        if policy in overall:
            ax.plot(overall.index, overall[policy], marker="o", label=policy)
    ax.set_xlabel("learning penalty (share of conversions lost while learning)")
    ax.set_ylabel("ratio to the ceiling, mean over families")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_plots(
    frame: pd.DataFrame, policies: Sequence[str], comparisons: Sequence[Comparison], out: Path
) -> list[Path]:
    """Write the suite's three PNGs under ``out``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    paths = [out / "ratio_heatmap.png", out / "engine_vs_best.png", out / "penalty_lines.png"]
    _heatmap(frame, policies, paths[0])
    _forest(comparisons, paths[1])
    _penalty_lines(frame, policies, paths[2])
    return paths
