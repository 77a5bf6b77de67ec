"""The history backtest end to end (``allocator backtest history``) and its outputs.

:func:`run_history_backtest` reads a job config's ``files`` platform, replays the engine's
decisions day by day (:func:`~allocator.backtest.history.replay_decisions`), fits a
scenario to the history (:func:`~allocator.backtest.fit.fit_scenario`) and estimates what
each policy would have earned on worlds drawn from it
(:func:`~allocator.backtest.estimate.estimate_policies`). :func:`write_outputs` writes:

* ``summary.md``: the estimates per policy with intervals, next to the actual outcome,
  the fitted arms and the recommended-versus-actual budgets on the last day;
* ``decisions.csv`` (:data:`~allocator.backtest.history.DECISION_COLUMNS`),
  ``estimates.csv`` (:data:`~allocator.backtest.estimate.ESTIMATE_COLUMNS`) and
  ``arms.csv`` (the fit per ad group);
* ``shares.png`` (recommended versus actual budget shares over time) and
  ``estimates.png`` (conversions and CPA per policy with intervals).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from allocator.backtest.estimate import (
    ActualOutcome,
    actual_outcome,
    estimate_policies,
    history_policies,
    layout_from_records,
    summarize,
)
from allocator.backtest.fit import FitParams, LagCheck, fit_scenario, lag_check
from allocator.backtest.history import Panel, Replay, panel_from_records, replay_decisions
from allocator.backtest.reported import Thinning
from allocator.backtest.scenario_fit import ScenarioFit
from allocator.backtest.worlds import Layout
from allocator.config import FilesPlatform, JobConfig
from allocator.core.arms import AdGroup, Observation
from allocator.data.observations import load_files
from allocator.errors import ConfigError, DataError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["HistoryBacktest", "run_history_backtest", "summary_markdown", "write_outputs"]


@dataclass(frozen=True)
class HistoryBacktest:
    """Everything the history backtest found.

    Attributes:
        account: account name.
        currency: account currency.
        export_date: the day the export was taken (the last planning day).
        decisions: day-by-day decisions (``decisions.csv``).
        arms: the fit per ad group (``arms.csv``).
        estimates: per-policy estimates (``estimates.csv``).
        actual: what the logged allocation earned.
        lag: the incomplete days against the lag model.
        fit: the fitted scenario.
        level: interval coverage.
        thinning: how reported conversions were rebuilt.
    """

    account: str
    currency: str
    export_date: date
    decisions: pd.DataFrame
    arms: pd.DataFrame
    estimates: pd.DataFrame
    actual: ActualOutcome
    lag: LagCheck
    fit: ScenarioFit
    level: float
    thinning: Thinning

    def to_json_dict(self) -> dict[str, Any]:
        """Estimates, actual outcome and fit as plain JSON values."""
        return {
            "account": self.account,
            "export_date": self.export_date.isoformat(),
            "level": self.level,
            "actual": {
                "spend": round(self.actual.spend, 2),
                "conversions_reported": self.actual.conversions_reported,
                "conversions_completed": round(self.actual.conversions_completed, 2),
                "cpa": round(self.actual.cpa, 4),
            },
            "estimates": _records(self.estimates),
            "arms": _records(self.arms),
        }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in r.items()} for r in clean.to_dict(orient="records")]


def _arm_frame(ids: tuple[str, ...], fit: ScenarioFit, level: float) -> pd.DataFrame:
    mean, low, high = fit.rate_summary(level)
    left, left_low, left_high = fit.fatigue_summary(level)
    return pd.DataFrame(
        {
            "adgroup_id": list(ids),
            "spend": np.round(fit.spend, 2),
            "conversions": fit.conversions,
            "rate_mean": mean,
            "rate_low": low,
            "rate_high": high,
            "cpa_mean": np.round(1.0 / mean, 2),
            "cpa_low": np.round(1.0 / high, 2),
            "cpa_high": np.round(1.0 / low, 2),
            "fatigued": left_high < 0.99,
            "rate_left_mean": np.round(left, 3),
            "rate_left_low": np.round(left_low, 3),
            "rate_left_high": np.round(left_high, 3),
        }
    )


def run_history_backtest(
    config: JobConfig,
    *,
    today: date,
    n_worlds: int = 200,
    export_date: date | None = None,
    thinning: Thinning = "expected",
    level: float = 0.9,
) -> HistoryBacktest:
    """Replay, fit and estimate on the config's ``files`` platform.

    Args:
        config: a job config whose ``[platform]`` is ``files``.
        today: the real current date in the account's time zone (later rows are errors).
        n_worlds: worlds drawn from the fit.
        export_date: the day the export was taken (default: the day after its last row).
        thinning: how conversions as reported on each day are rebuilt.
        level: interval coverage.

    Raises:
        ConfigError: the platform is not ``files``.
        DataError: invalid files, or rows dated on or after ``export_date``.
    """
    adgroups, observations, panel, export = _read_history(config, today, export_date)
    params, seed = config.engine_params(), config.engine.seed
    decisions = replay_decisions(
        adgroups,
        observations,
        config.portfolio(),
        params,
        Replay(export, config.account.timezone, config.engine.lookback_days, thinning),
        seed=seed,
    )
    ages = panel.age_days(export)
    fit = fit_scenario(
        panel.spend, panel.impressions, panel.clicks, panel.conversions, panel.value, ages,
        FitParams(lag=params.posterior.lag),
    )  # fmt: skip
    layout = _layout(config, adgroups, panel, params.guardrails.platform_min_budget)
    policies = history_policies(params, config.engine.lookback_days, layout)
    metrics = estimate_policies(fit, layout, policies, n_worlds=n_worlds, seed=seed)
    return HistoryBacktest(
        account=config.account.name,
        currency=config.account.currency,
        export_date=export,
        decisions=decisions,
        arms=_arm_frame(panel.adgroup_ids, fit, level),
        estimates=summarize(metrics, level),
        actual=actual_outcome(panel, export, params.posterior.lag),
        lag=lag_check(fit, panel.spend, panel.conversions, ages),
        fit=fit,
        level=level,
        thinning=thinning,
    )


def _read_history(
    config: JobConfig, today: date, export_date: date | None
) -> tuple[list[AdGroup], list[Observation], Panel, date]:
    """The ``files`` platform's records, their panel and the export date.

    Raises:
        ConfigError: the platform is not ``files``.
        DataError: invalid files, or rows dated on or after ``export_date``.
    """
    platform = config.platform
    if not isinstance(platform, FilesPlatform):
        raise ConfigError(
            f"the history backtest reads the 'files' platform, not {platform.kind!r}",
            key="platform.kind",
        )
    adgroups, observations = load_files(platform.adgroups, platform.observations, today=today)
    panel = panel_from_records(adgroups, observations)
    export = panel.dates[-1] + timedelta(days=1) if export_date is None else export_date
    if export <= panel.dates[-1]:
        raise DataError(f"--export-date {export} is not after the last row ({panel.dates[-1]})")
    return adgroups, observations, panel, export


def _layout(
    config: JobConfig, adgroups: Sequence[AdGroup], panel: Panel, platform_min_budget: float
) -> Layout:
    """The account's layout for the policies: launches, authorizations, logged budgets."""
    return layout_from_records(
        adgroups,
        panel,
        daily_budget=config.account.daily_budget,
        platform_min_budget=platform_min_budget,
        target_cpa=config.account.target_cpa or 1.0 / config.portfolio().daily_budget,
        timezone=config.account.timezone,
    )


# ---------------------------------------------------------------------- summary
def _estimate_lines(result: HistoryBacktest) -> list[str]:
    cur, pct = result.currency, f"{result.level:.0%}"
    a = result.actual
    lines = [
        f"| policy | conversions ({pct} interval) | CPA {cur} ({pct} interval) "
        f"| vs logged, paired ({pct} interval) | spend {cur} |",
        "|---|---|---|---|---|",
    ]
    lines.extend(
        f"| {r.policy} | {r.conversions:.0f} [{r.conversions_low:.0f}, "
        f"{r.conversions_high:.0f}] | {r.cpa:.2f} [{r.cpa_low:.2f}, {r.cpa_high:.2f}] "
        f"| {r.vs_logged:+.0f} [{r.vs_logged_low:+.0f}, {r.vs_logged_high:+.0f}] "
        f"| {r.spend:,.0f} |"
        for r in result.estimates.itertuples(index=False)
    )
    lines.append(
        f"| **actual (logged, as exported)** | {a.conversions_completed:.0f} "
        f"({a.conversions_reported:.0f} reported) | {a.cpa:.2f} | | {a.spend:,.0f} |"
    )
    return lines


def _fit_lines(result: HistoryBacktest) -> list[str]:
    """The fitted scenario: saturation, the lag check and the per-ad-group table."""
    lag, fit = result.lag, result.fit
    h_note = "fitted from the CPM slope" if bool(fit.half_saturation_fitted) else "default"
    lines = [
        f"Half-saturation spend {float(fit.half_saturation):.0f} {result.currency}/day "
        f"({h_note}); lag model from the config. Incomplete days: {lag.reported:.0f} "
        f"conversions reported vs {lag.expected:.1f} expected (ratio {lag.ratio:.2f}, "
        f"90% interval [{lag.ratio_low:.2f}, {lag.ratio_high:.2f}]).",
        "Fatigue: the share of each ad group's starting rate left after its impressions in "
        "the history (1 = none; floor and half-life pooled across the ad groups).",
        "",
        "| ad group | spend | conversions | CPA at start (interval) "
        "| rate left at the end (interval) |",
        "|---|---|---|---|---|",
    ]
    for r in result.arms.itertuples(index=False):
        fat = f"{r.rate_left_mean:.2f} [{r.rate_left_low:.2f}, {r.rate_left_high:.2f}]"
        lines.append(
            f"| {r.adgroup_id} | {r.spend:,.0f} | {r.conversions:.0f} | {r.cpa_mean:.2f} "
            f"[{r.cpa_low:.2f}, {r.cpa_high:.2f}] | {fat} |"
        )
    return lines


def _decision_lines(result: HistoryBacktest) -> list[str]:
    """The engine's recommendations on the export date next to the actual budgets."""
    last = result.decisions[result.decisions["date"] == result.export_date.isoformat()]
    lines = [
        f"## What the engine would have done (conversions thinned: {result.thinning})",
        "",
        f"Decided each morning from the data available then; on {result.export_date}:",
        "",
        "| ad group | recommended | stage | actual budget |",
        "|---|---|---|---|",
    ]
    lines.extend(
        f"| {r.adgroup_id} | {r.recommended_budget:.2f} | {r.stage} | {r.actual_budget:.2f} |"
        for r in last.itertuples(index=False)
    )
    return lines


def summary_markdown(result: HistoryBacktest) -> str:
    """The ``summary.md`` text."""
    a = result.actual
    n_worlds = int(result.estimates["n_worlds"].iloc[0]) if len(result.estimates) else 0
    lines = [
        f"# History backtest: {result.account}",
        "",
        f"Export {a.first_day} .. {a.last_day}, taken on {result.export_date}; "
        f"{len(result.arms)} ad groups.",
        "",
        "## What it would have earned",
        "",
        f"Each policy ran on {n_worlds} worlds drawn from the scenario fitted to the history "
        "(same worlds and noise for every policy); conversions are expected conversions over "
        "the history's days, lag-free. Intervals are equal-tailed over the worlds (parameter "
        "uncertainty and delivery noise). *actual* is what the logged allocation earned "
        "(reported conversions completed with the lag model).",
        "",
        *_estimate_lines(result),
        "",
        "## The fitted scenario",
        "",
        *_fit_lines(result),
        "",
        *_decision_lines(result),
        "",
        "Files: decisions.csv, estimates.csv, arms.csv, shares.png, estimates.png.",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------ plots
def _save_figure(fig: Figure, path: Path) -> None:
    """Lay out, write and close a figure (both plots share the size and resolution)."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_shares(decisions: pd.DataFrame, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), sharey=True)
    for ax, column, title in (
        (axes[0], "recommended_budget", "engine (recommended)"),
        (axes[1], "actual_budget", "actual (spend; logged budget on the export day)"),
    ):
        table = decisions.pivot(index="date", columns="adgroup_id", values=column)
        shares = table.div(table.sum(axis=1).replace(0.0, np.nan), axis=0).fillna(0.0)
        x = pd.to_datetime(shares.index)
        colors = plt.get_cmap("tab20")(np.linspace(0, 1, max(shares.shape[1], 2)))
        ax.stackplot(x, shares.to_numpy().T, labels=[str(c) for c in shares.columns], colors=colors)
        ax.set_title(title)
        ax.set_ylim(0, 1)
        ax.tick_params(axis="x", rotation=45)
    axes[0].set_ylabel("share of the day's budget")
    axes[1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7)
    _save_figure(fig, path)


def _plot_estimates(result: HistoryBacktest, path: Path) -> None:
    import matplotlib.pyplot as plt

    est = result.estimates
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    y = np.arange(len(est))
    for ax, key, label in ((axes[0], "conversions", "conversions"), (axes[1], "cpa", "CPA")):
        mid = est[key].to_numpy()
        err = np.vstack([mid - est[f"{key}_low"].to_numpy(), est[f"{key}_high"].to_numpy() - mid])
        ax.errorbar(mid, y, xerr=err, fmt="o", capsize=4)
        actual = result.actual.conversions_completed if key == "conversions" else result.actual.cpa
        ax.axvline(actual, color="grey", linestyle="--", label="actual (logged)")
        ax.set_yticks(y, est["policy"].tolist())
        ax.set_xlabel(f"{label} ({result.level:.0%} interval)")
        ax.legend(fontsize=8)
    _save_figure(fig, path)


def write_outputs(result: HistoryBacktest, out_dir: Path) -> list[Path]:
    """Write summary.md, the CSV files and the plots into ``out_dir``; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        name: out_dir / name
        for name in ("summary.md", "decisions.csv", "estimates.csv", "arms.csv")
    }
    paths["summary.md"].write_text(summary_markdown(result), encoding="utf-8")
    result.decisions.to_csv(paths["decisions.csv"], index=False)
    result.estimates.to_csv(paths["estimates.csv"], index=False)
    result.arms.to_csv(paths["arms.csv"], index=False)
    shares, estimates = out_dir / "shares.png", out_dir / "estimates.png"
    _plot_shares(result.decisions, shares)
    _plot_estimates(result, estimates)
    return [*paths.values(), shares, estimates]
