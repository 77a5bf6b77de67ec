"""``allocator rebalance``: plan (and, on an API platform, apply) today's budgets."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from allocator.config import FilesPlatform, JobConfig, load_job_config
from allocator.data import load_files
from allocator.errors import ConfigError
from allocator.plan import Plan, make_plan

__all__ = ["parse_as_of", "plan_files", "register", "render_plan"]


def parse_as_of(text: str | None, today: date) -> date:
    """The planning day from ``--as-of`` (ISO date), defaulting to ``today``."""
    if text is None:
        return today
    try:
        as_of = date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--as-of must be a date YYYY-MM-DD, got {text!r}") from None
    if as_of > today:
        raise ConfigError(f"--as-of {as_of} is after today ({today}) in the account time zone")
    return as_of


def account_today(config: JobConfig) -> date:
    """Today's date in the account's time zone (the CLI edge reads the clock, not the core)."""
    return datetime.now(ZoneInfo(config.account.timezone)).date()


def plan_files(config: JobConfig, platform: FilesPlatform, as_of: date, today: date) -> Plan:
    """Read and validate the two CSVs, then plan ``as_of``."""
    adgroups, observations = load_files(platform.adgroups, platform.observations, today=today)
    return make_plan(
        adgroups,
        observations,
        config.portfolio(),
        account=config.account.name,
        as_of=as_of,
        today=today,
        params=config.engine_params(),
        seed=config.engine.seed,
        timezone=config.account.timezone,
        lookback_days=config.engine.lookback_days,
    )


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


def render_plan(plan: Plan, console: Console) -> None:
    """Print the plan as a readable table, then its alerts."""
    table = Table(
        title=(
            f"{plan.account}: plan for {plan.as_of} "
            f"(daily budget {plan.daily_budget:,.2f} {plan.currency})"
        ),
        title_justify="left",
    )
    for name, justify in (
        ("ad group", "left"),
        ("stage", "left"),
        ("budget", "right"),
        ("status", "left"),
        ("CPA (90%)", "right"),
        ("P(best)", "right"),
        ("reason", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for a in plan.adgroups:
        budget = f"{_money(a.from_budget)} -> {_money(a.to_budget)}"
        status = (
            a.from_status if a.from_status == a.to_status else f"{a.from_status}->{a.to_status}"
        )
        cpa = f"{_money(a.cpa_mean)} ({_money(a.cpa_low)}-{_money(a.cpa_high)})"
        table.add_row(
            a.adgroup_id, a.stage, budget, status, cpa, f"{a.p_best:.2f}", a.reason.split(";")[0]
        )
    console.print(table)
    console.print(
        f"planned total {plan.planned_total:,.2f} of {plan.daily_budget:,.2f} {plan.currency}"
        + (f" (shortfall {plan.shortfall:,.2f})" if plan.shortfall else "")
        + f"; {sum(a.changes for a in plan.adgroups)} ad groups change; run {plan.run_id}"
    )
    if plan.alerts:
        console.print("alerts:")
        for alert in plan.alerts:
            where = f"{alert.adgroup_id}: " if alert.adgroup_id else ""
            console.print(f"  [{alert.kind}] {where}{alert.message}", highlight=False)


def rebalance(
    config_path: Path,
    *,
    as_json: bool,
    as_of_text: str | None,
    apply: bool,
) -> int:
    """Plan for the configured platform and print it; returns the exit code."""
    config = load_job_config(config_path)
    today = account_today(config)
    as_of = parse_as_of(as_of_text, today)
    platform = config.platform
    if not isinstance(platform, FilesPlatform):
        raise ConfigError(
            f"platform kind {platform.kind!r} is not wired to the rebalance job yet",
            path=config_path,
            key="platform.kind",
        )
    if apply:
        raise ConfigError(
            "the 'files' platform is plan-only: --apply needs platform.kind 'sandbox' or 'tiktok'",
            path=config_path,
            key="platform.kind",
        )
    plan = plan_files(config, platform, as_of, today)
    if as_json:
        sys.stdout.write(json.dumps(plan.to_json_dict(), indent=2) + "\n")
    else:
        render_plan(plan, Console(width=160))
    return 0


def register(app: typer.Typer) -> None:
    """Add ``rebalance`` to the command line."""

    @app.command("rebalance")
    def _rebalance(
        config: Annotated[Path, typer.Option("--config", help="Job config (TOML).")],
        as_json: Annotated[bool, typer.Option("--json", help="Print the plan JSON.")] = False,
        as_of: Annotated[
            str | None,
            typer.Option("--as-of", help="Plan for this day (YYYY-MM-DD); default: today."),
        ] = None,
        apply: Annotated[
            bool, typer.Option("--apply", help="Apply the plan (default: dry run).")
        ] = False,
    ) -> int:
        """Plan today's budgets from the platform's data; with --apply, apply them."""
        return rebalance(config, as_json=as_json, as_of_text=as_of, apply=apply)
