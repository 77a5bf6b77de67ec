"""Tune the suite's baselines on held-out worlds, never on the reported ones.

::

    python -m allocator.sim.robustness_tune --out simulations/robustness [--seeds 10] [--workers 2]

Runs a grid of each tunable baseline (the ``rules`` thresholds and steps, the discount of
``discounted_ts``, the window of ``sliding_ts``) on every cell of the suite with base seed
:data:`~allocator.sim.robustness.TUNING_SEED` (worlds disjoint from the reported
:data:`~allocator.sim.robustness.SUITE_SEED`), ranks each kind's variants by their mean
ratio to the ceiling averaged over cells, and writes the ranking to ``OUT/tuning.md``.
The winners are pasted into :data:`~allocator.sim.robustness.TUNED_POLICIES` by hand (so
the reported suite never depends on a tuning run it did not record).
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.sim.robustness import TUNING_SEED, run_suite
from allocator.sim.robustness_worlds import cells

__all__ = ["GRID", "main", "rank"]


def _rules_grid() -> list[dict[str, Any]]:
    values = itertools.product((2.0, 3.0, 4.0, 6.0), (3.0, 6.0), (0.05, 0.1, 0.2), (3, 7))
    return [
        {
            "kind": "rules",
            "name": f"rules[pause={p},min={m},step={s},lookback={k}]",
            "pause_cpa_multiple": p,
            "min_spend_multiple": m,
            "step": s,
            "lookback_days": k,
        }
        for p, m, s, k in values
    ]


GRID: tuple[dict[str, Any], ...] = (
    *_rules_grid(),
    *(
        {"kind": "discounted_ts", "name": f"discounted_ts[discount={g}]", "discount": g}
        for g in (0.9, 0.95, 0.98, 0.99)
    ),
    *(
        {"kind": "sliding_ts", "name": f"sliding_ts[window_days={w}]", "window_days": w}
        for w in (14, 21, 28, 42)
    ),
    *(
        {"kind": "raw_ucb", "name": f"raw_ucb[c={c},n_slots={n}]", "c": c, "n_slots": n}
        for c, n in itertools.product((0.5, 1.0, 2.0, 4.0, 8.0, 16.0), (10, 20))
    ),
)
"""The variants tried (names carry their parameters)."""


def rank(frame: pd.DataFrame) -> pd.DataFrame:
    """Variants ranked within their kind by the mean over cells of the mean ratio."""
    per_cell = frame.groupby(["kind", "policy", "scenario"])["oracle_ratio"].mean()
    score = per_cell.groupby(["kind", "policy"]).agg(["mean", "min"]).reset_index()
    score = score[score["kind"] != "oracle"]
    return score.sort_values(["kind", "mean"], ascending=[True, False], ignore_index=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the grid on held-out worlds and write ``OUT/tuning.md``."""
    parser = argparse.ArgumentParser(prog="python -m allocator.sim.robustness_tune")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--kinds", default=None, help="comma-separated kinds to tune")
    args = parser.parse_args(argv)
    kinds = set(args.kinds.split(",")) if args.kinds else None
    grid = [g for g in GRID if kinds is None or g["kind"] in kinds]
    frame = run_suite(cells(), args.seeds, grid, None, args.workers, TUNING_SEED)
    ranking = rank(frame)
    lines = [
        "# Baselines tuned on held-out worlds",
        "",
        f"Base seed {TUNING_SEED} (the reported suite uses other worlds), {args.seeds} seeds "
        "per cell, every cell of the suite. Score: mean over cells of the mean ratio to the "
        "ceiling (`min`: the worst cell). Best first within each kind.",
        "",
        "| kind | variant | mean | min |",
        "|---|---|---|---|",
        *(
            f"| {r.kind} | `{r.policy}` | {r.mean:.4f} | {r.min:.4f} |"
            for r in ranking.itertuples()
        ),
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    name = "tuning.md" if kinds is None else f"tuning-{'-'.join(sorted(kinds))}.md"
    (args.out / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
