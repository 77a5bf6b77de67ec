"""``allocator backtest``: evaluate policies on logged history.

``allocator backtest ope --logs FILE --target FILE [--format generic|obd] [--json] [--seed N]``
prints the IPS, SNIPS and doubly robust estimates of the target policy's expected reward per
row (CTR for click logs), each with a 95% interval. ``--target thompson`` instead replays
the engine's Bernoulli Thompson sampler on uniformly random logs (the replay method of Li
et al., 2011), deciding ``--batch-size`` rows at a time and learning only from matched rows;
it prints the ``replay`` estimate with its 95% interval.

``allocator backtest history --config FILE [--out DIR] [--seeds N] [--json]`` replays the
engine day by day on the config's ``files`` platform export, fits a scenario to it and
estimates what the engine and the baselines would have earned next to what the logged
allocation earned (see :mod:`allocator.backtest.history_report`).
"""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from allocator.backtest.history_report import run_history_backtest, write_outputs
from allocator.backtest.logged_feedback import LogFormat, read_logs
from allocator.backtest.ope import ESTIMATORS, Estimate, IntervalMethod, evaluate
from allocator.backtest.replay import ThompsonReplay, replay_adaptive
from allocator.backtest.reported import Thinning
from allocator.backtest.target_policy import align_logs, load_target_policy
from allocator.config import load_job_config
from allocator.errors import ConfigError
from allocator.job.planning import account_today

__all__ = ["Interval", "ThinningMode", "format_table", "history", "register"]

_LABELS = {"ips": "IPS", "snips": "SNIPS", "dr": "DR"}


class Interval(StrEnum):
    """How the 95% intervals are computed."""

    CLT = "clt"
    BOOTSTRAP = "bootstrap"


def format_table(results: dict[str, Estimate]) -> str:
    """Readable table of estimates: one line per estimator."""
    header = f"{'estimator':<10} {'estimate':>10} {'95% interval':>25} {'std err':>10} {'n':>8}"
    lines = [header, "-" * len(header)]
    for name in ESTIMATORS:
        r = results[name]
        interval = f"[{r.ci_low:.6f}, {r.ci_high:.6f}]"
        lines.append(
            f"{_LABELS[name]:<10} {r.estimate:>10.6f} {interval:>25} {r.std_error:>10.6f} {r.n:>8d}"
        )
    lines.append(f"intervals: {results[ESTIMATORS[0]].method}")
    return "\n".join(lines)


def ope(
    logs: Annotated[Path, typer.Option("--logs", help="Logged rows (CSV).", show_default=False)],
    target: Annotated[
        Path,
        typer.Option(
            "--target",
            help="Target policy CSV (action,position,probability), or 'thompson' to replay "
            "the engine's Thompson sampler on uniformly random logs.",
            show_default=False,
        ),
    ],
    log_format: Annotated[
        LogFormat, typer.Option("--format", help="Log file layout.")
    ] = LogFormat.GENERIC,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the DR folds and bootstrap resamples.")
    ] = 0,
    ci: Annotated[
        Interval, typer.Option("--ci", help="clt (analytic) or bootstrap (percentile).")
    ] = Interval.CLT,
    n_boot: Annotated[int, typer.Option("--n-boot", min=100, help="Bootstrap resamples.")] = 2000,
    batch_size: Annotated[
        int,
        typer.Option("--batch-size", min=1, help="Rows decided together (--target thompson)."),
    ] = 100,
) -> None:
    """Off-policy estimates (IPS, SNIPS, DR) of a target policy's reward per logged row."""
    method: IntervalMethod = "clt" if ci is Interval.CLT else "bootstrap"
    if str(target) == "thompson" and not target.exists():
        estimate = replay_thompson(logs, log_format, seed=seed, batch_size=batch_size)
        if as_json:
            typer.echo(json.dumps({"replay": estimate.to_dict()}))
        else:
            interval = f"[{estimate.ci_low:.6f}, {estimate.ci_high:.6f}]"
            typer.echo(
                f"replay (engine Thompson sampling): {estimate.estimate:.6f} "
                f"95% {interval}, {estimate.n} matched rows"
            )
        return
    policy = load_target_policy(target)
    aligned = align_logs(read_logs(logs, log_format=log_format), policy)
    results = evaluate(aligned, rng=np.random.default_rng(seed), interval=method, n_boot=n_boot)
    if as_json:
        typer.echo(json.dumps({name: results[name].to_dict() for name in ESTIMATORS}))
    else:
        typer.echo(format_table(results))


def replay_thompson(logs: Path, log_format: LogFormat, *, seed: int, batch_size: int) -> Estimate:
    """Replay the engine's Thompson sampler on uniformly random logs, in log order."""
    bandit = read_logs(logs, log_format=log_format)
    bad = np.flatnonzero((bandit.reward < 0) | (bandit.reward > 1))
    if bad.size:
        raise bandit.error(
            "the Thompson replay models Bernoulli rewards: rewards must be in [0, 1]",
            row=int(bad[0]),
            column="reward",
        )
    actions, action_index = np.unique(bandit.action, return_inverse=True)
    position = bandit.position
    if position is None:
        position_index = np.zeros(bandit.n_rows, dtype=np.int64)
    else:
        position_index = np.unique(position, return_inverse=True)[1].astype(np.int64)
    policy = ThompsonReplay(int(actions.size), position_index)
    return replay_adaptive(
        action_index.astype(np.int64),
        bandit.reward,
        policy,
        rng=np.random.default_rng(seed),
        batch_size=batch_size,
        position=position_index,
        propensity=bandit.propensity,
    )


class ThinningMode(StrEnum):
    """How conversions as reported on each past day are rebuilt from the export."""

    EXPECTED = "expected"
    SAMPLED = "sampled"


def history(
    config: Annotated[
        Path, typer.Option("--config", help="Job config (files platform).", show_default=False)
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for summary.md, CSV and PNG files.")
    ] = None,
    seeds: Annotated[
        int, typer.Option("--seeds", min=1, help="Worlds drawn from the fitted scenario.")
    ] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    export_date: Annotated[
        str | None,
        typer.Option(
            "--export-date", help="Day the export was taken (default: after its last row)."
        ),
    ] = None,
    thinning: Annotated[
        ThinningMode, typer.Option("--thinning", help="expected or sampled reported counts.")
    ] = ThinningMode.EXPECTED,
) -> None:
    """Replay the engine on an account's own history and estimate what it would have earned."""
    job = load_job_config(config)
    export = None
    if export_date is not None:
        try:
            export = date.fromisoformat(export_date)
        except ValueError:
            raise ConfigError(
                f"--export-date must be a date YYYY-MM-DD, got {export_date!r}"
            ) from None
    mode: Thinning = "sampled" if thinning is ThinningMode.SAMPLED else "expected"
    result = run_history_backtest(
        job, today=account_today(job), n_worlds=seeds, export_date=export, thinning=mode
    )
    written = write_outputs(result, out) if out is not None else []
    if as_json:
        typer.echo(json.dumps(result.to_json_dict()))
        return
    table = result.estimates[
        ["policy", "conversions", "conversions_low", "conversions_high", "cpa"]
    ]
    typer.echo(table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    a = result.actual
    typer.echo(
        f"actual (logged): {a.conversions_completed:.0f} conversions, CPA {a.cpa:.2f} "
        f"{result.currency}"
    )
    for path in written:
        typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the ``backtest`` sub-command group to ``app``."""
    backtest = typer.Typer(help="Backtests on logged history.", no_args_is_help=True)
    backtest.command("ope")(ope)
    backtest.command("history")(history)
    app.add_typer(backtest, name="backtest")
