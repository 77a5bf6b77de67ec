"""The curves of an experiment, summarised over seeds: what the plots and the HTML show.

:func:`summary_curves` turns an :class:`~allocator.sim.runner.ExperimentResult`'s daily
arrays into per-policy mean curves with 95% bands, and :func:`write_curves` keeps them in
the results folder as ``curves.json`` so that a report can be made from the folder alone
(``allocator report --simulation DIR``).

* cumulative conversions, per policy (the oracle first);
* cumulative regret against the oracle: each day's shortfall of expected conversions,
  ``max(0, oracle - policy)``, summed; it can only rise (a day on which a policy's
  expected conversions exceed the per-day oracle's is a day without regret, not
  negative regret);
* the daily budget shares per arm of the plot seed.

Bands are the mean ± 1.96 standard errors over seeds, clipped at zero: every curve here
is a count that cannot be negative.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from allocator._types import FloatArray
from allocator.sim.runner import ExperimentResult

__all__ = ["CURVES_FILE", "band", "read_curves", "summary_curves", "write_curves"]

CURVES_FILE = "curves.json"
"""The file :func:`write_curves` writes into the results folder."""


def band(curve: FloatArray) -> dict[str, list[float]]:
    """Mean over seeds of ``(T, R)`` curves and its 95% band, clipped at zero, per day."""
    mean = curve.mean(axis=1)
    n = curve.shape[1]
    half = 1.96 * curve.std(axis=1, ddof=1) / math.sqrt(n) if n > 1 else np.zeros_like(mean)
    return {
        "mean": np.round(mean, 3).tolist(),
        "low": np.round(np.maximum(mean - half, 0.0), 3).tolist(),
        "high": np.round(mean + half, 3).tolist(),
    }


def summary_curves(result: ExperimentResult) -> dict[str, Any]:
    """The curves as plain data (see the module docstring), ready for JSON."""
    oracle = result.daily_expected[0]
    shortfall = np.maximum(oracle[None] - result.daily_expected, 0.0)  # (P, T, R)
    budgets = result.plot_budgets  # (P, T, K)
    total = budgets.sum(axis=2, keepdims=True)
    shares = np.divide(budgets, total, out=np.zeros_like(budgets), where=total > 0)
    return {
        "name": result.experiment.name,
        "policies": list(result.policies),
        "kinds": dict(result.kinds),
        "plot_seed": result.experiment.plot_seed,
        "days": int(result.daily_conversions.shape[1]),
        "cumulative_conversions": {
            p: band(np.cumsum(result.daily_conversions[i], axis=0))
            for i, p in enumerate(result.policies)
        },
        "regret": {
            p: band(np.cumsum(shortfall[i], axis=0)) for i, p in enumerate(result.policies) if i > 0
        },
        "shares": {p: np.round(shares[i], 4).tolist() for i, p in enumerate(result.policies)},
    }


def write_curves(curves: dict[str, Any], out_dir: Path) -> Path:
    """Write :func:`summary_curves`'s ``curves`` as ``curves.json`` into ``out_dir``."""
    path = out_dir / CURVES_FILE
    path.write_text(json.dumps(curves), encoding="utf-8")
    return path


def read_curves(out_dir: Path) -> dict[str, Any] | None:
    """The folder's ``curves.json``, or ``None`` when the folder has none (older runs)."""
    path = out_dir / CURVES_FILE
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
