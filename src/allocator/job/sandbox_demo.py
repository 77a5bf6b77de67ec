"""The demo's simulation: the scheduled job against the local sandbox, day after day.

:func:`run_demo` serves two sandboxes built from the same scenario and seed on 127.0.0.1
(same simulated world: the same creatives, conversion rates, fatigue and authorization
windows) and drives each through the emulated TikTok API over real HTTP:

* **allocator**: each simulated day, :func:`~allocator.job.rebalance.run_rebalance` plans
  and applies (``--apply``) the budgets for that day, then the sandbox delivers it
  (``POST /_sandbox/advance``);
* **even split**: each day the same daily budget is split evenly over the ad groups that
  can deliver (authorization not lapsed) through the same client calls, then the second
  sandbox delivers the day.

The days run through :func:`allocator.sim.day_loop.run_days`, the simulator's own day
loop: both policies decide, both sandboxes deliver, the day is recorded. Only the
budgets differ, so the comparison is paired. Conversions and spend are read back
through the report API for the simulated days (conversions of the last days are still
partly unreported, for both alike: the sandbox models the platform's conversion lag).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx

from allocator.config import JobConfig, load_job_config
from allocator.job.platforms import ClientTuning
from allocator.job.rebalance import RebalanceOptions, run_rebalance
from allocator.job.records import budget_text
from allocator.platform.base import BudgetChange, StatusChange
from allocator.platform.sandbox import (
    DEFAULT_ADVERTISER_ID,
    DEFAULT_TOKEN,
    SandboxScenario,
    create_sandbox,
    default_scenario,
    serve_in_thread,
)
from allocator.platform.tiktok import Secret, TikTokClient, TikTokConfig
from allocator.sim.day_loop import run_days

__all__ = [
    "DEMO_START",
    "DemoAlert",
    "DemoDay",
    "DemoResult",
    "demo_config_text",
    "demo_scenario",
    "run_demo",
]

TOKEN_ENV = "ALLOCATOR_SANDBOX_TOKEN"

DEMO_START = date(2026, 9, 1)
"""The first simulated day, fixed, so the figures never move with the real date (README)."""
_DEMO_TIME_OF_DAY = time(9, 0)
"""The sandbox's time of day for edits and revocations (UTC), fixed for the same reason."""


@dataclass(frozen=True, slots=True)
class DemoDay:
    """One simulated day of both policies (money in currency; budgets per day).

    Attributes:
        day: the simulated date.
        budgets: the allocator's budget per ad group that day (0 when paused).
        exit_code: the job's exit code that day.
        outcome: the job's apply outcome (``applied``, ``noop``...).
        spend: allocator's spend that day.
        conversions: allocator's conversions reported for that day.
        even_spend: the even split's spend that day.
        even_conversions: the even split's conversions reported for that day.
    """

    day: date
    budgets: dict[str, float]
    exit_code: int
    outcome: str
    spend: float = 0.0
    conversions: float = 0.0
    even_spend: float = 0.0
    even_conversions: float = 0.0


@dataclass(frozen=True, slots=True)
class DemoAlert:
    """An alert the job raised, with the first and last day it was raised."""

    kind: str
    adgroup_id: str | None
    message: str
    first: date
    last: date


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What the demo ran and measured.

    Attributes:
        days: one entry per simulated day, in order.
        alerts: distinct alerts (by kind and ad group), in order of first appearance.
        names: ad group id -> name, as the sandbox lists them.
        daily_budget: the account's daily budget, currency per day.
        currency: the account currency.
        seed: the sandbox seed.
        n_edits: budget and status edits the sandbox recorded for the allocator.
        n_store_changes: changes the job's store records as applied.
    """

    days: tuple[DemoDay, ...]
    alerts: tuple[DemoAlert, ...]
    names: dict[str, str]
    daily_budget: float
    currency: str
    seed: int
    n_edits: int
    n_store_changes: int

    def totals(self) -> dict[str, float]:
        """Spend, conversions and CPA of both policies over all days."""
        spend = sum(d.spend for d in self.days)
        conv = sum(d.conversions for d in self.days)
        even_spend = sum(d.even_spend for d in self.days)
        even_conv = sum(d.even_conversions for d in self.days)
        return {
            "spend": spend,
            "conversions": conv,
            "cpa": spend / conv if conv else math.inf,
            "even_spend": even_spend,
            "even_conversions": even_conv,
            "even_cpa": even_spend / even_conv if even_conv else math.inf,
        }


def demo_config_text(base_url: str, daily_budget: float, target_cpa: float, store: Path) -> str:
    """The job config the demo runs (kind ``sandbox``), as TOML text."""
    return f"""# allocator demo: the scheduled job against the local sandbox
[account]
name = "glow-lab-demo"
currency = "USD"
daily_budget = {daily_budget}
objective = "cpa"
target_cpa = {target_cpa}

[platform]
kind = "sandbox"
base_url = "{base_url}"
advertiser_id = "{DEFAULT_ADVERTISER_ID}"
token_env = "{TOKEN_ENV}"

[engine]
n_draws = 500

[guardrails]
# budget steps of at most 30% a day never restart the platform's learning phase
max_step_up = 0.3

[job]
store = "{store.as_posix()}"
"""


@contextlib.contextmanager
def contextlib_dir(workdir: Path | None) -> Iterator[Path]:
    """``workdir`` (created), or a temporary directory removed afterwards."""
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        yield workdir
        return
    with tempfile.TemporaryDirectory(prefix="allocator-demo-") as tmp:
        yield Path(tmp)


def demo_scenario(seed: int, start: date, history_days: int) -> SandboxScenario:
    """The default sandbox account starting ``start`` with ``history_days`` days of history."""
    base = default_scenario(seed=seed, today=start).model_dump()
    base["history_days"] = history_days
    for group in base["adgroups"]:
        if group.get("launched_days_ago") is not None:
            group["launched_days_ago"] = min(group["launched_days_ago"], history_days)
    return SandboxScenario.model_validate(base)


def _client(http: httpx.Client, base_url: str) -> TikTokClient:
    config = TikTokConfig(advertiser_id=DEFAULT_ADVERTISER_ID, base_url=base_url)
    return TikTokClient(http, config, Secret(DEFAULT_TOKEN))


def _even_split(client: TikTokClient, daily_budget: float) -> None:
    """Split ``daily_budget`` evenly over the ad groups that can deliver; pause the rest."""
    groups = client.list_adgroups()
    live = [g for g in groups if not g.authorization.lapsed]
    each = math.floor(daily_budget * 100 / max(len(live), 1)) / 100
    client.update_budgets(
        [
            BudgetChange(g.adgroup_id, each)
            for g in live
            if budget_text(g.budget) != budget_text(each)
        ]
    )
    client.update_statuses(
        [StatusChange(g.adgroup_id, True) for g in live if g.status != "enable"]
        + [
            StatusChange(g.adgroup_id, False)
            for g in groups
            if g not in live and g.status == "enable"
        ]
    )


def _delivered(
    client: TikTokClient, first: date, last: date, managed: set[str]
) -> dict[date, tuple[float, float]]:
    """Spend and conversions per day of the ``managed`` ad groups from the report API."""
    out: dict[date, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in client.fetch_observations(first, last):
        if row.adgroup_id not in managed:
            continue
        out[row.date][0] += row.spend
        out[row.date][1] += row.conversions
    return {d: (v[0], v[1]) for d, v in out.items()}


def _collect_alerts(plans: list[dict[str, Any]]) -> tuple[DemoAlert, ...]:
    seen: dict[tuple[str, str | None], DemoAlert] = {}
    for plan in plans:
        day = date.fromisoformat(plan["as_of"])
        for a in plan["alerts"]:
            key = (a["kind"], a["adgroup_id"])
            first = seen[key].first if key in seen else day
            seen[key] = DemoAlert(a["kind"], a["adgroup_id"], a["message"], first, day)
    return tuple(sorted(seen.values(), key=lambda a: (a.first, a.kind)))


@dataclass(frozen=True, slots=True)
class _DemoSettings:
    """What :func:`run_demo` runs: its arguments, the first simulated day and today."""

    days: int
    seed: int
    daily_budget: float
    target_cpa: float
    workdir: Path | None
    start: date
    today: date
    report_html: Path | None = None


def run_demo(
    *,
    days: int = 30,
    seed: int = 7,
    history_days: int = 14,
    daily_budget: float = 460.0,
    target_cpa: float = 30.0,
    workdir: Path | None = None,
    progress: Callable[[int, date, int], None] | None = None,
    report_html: Path | None = None,
) -> DemoResult:
    """Run ``days`` simulated days of the job and of an even split on two sandboxes.

    Args:
        days: simulated days (>= 1).
        seed: the sandbox seed (the same for both sandboxes).
        history_days: days the account ran before the job took over (at its initial
            budgets), so the engine starts with some data.
        daily_budget: total daily budget of both policies, currency per day.
        target_cpa: the account's target cost per conversion, currency.
        workdir: where the job config and store go (default: a temporary directory).
        progress: called after each day with ``(day index, date, exit code)``.
        report_html: write the account's HTML report here after the last day's run
            (the job's ``[job] report_html``, set for that run only).
    """
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    start = DEMO_START
    today = start + timedelta(days=days + 1)  # the job's "today": after the last planned day
    settings = _DemoSettings(
        days, seed, daily_budget, target_cpa, workdir, start, today, report_html
    )
    scenario = demo_scenario(seed, start, history_days)
    quiet = logging.NullHandler()  # the client's "not managing" warnings, once per call
    logging.getLogger("allocator").addHandler(quiet)
    try:
        return _run(settings, scenario, progress)
    finally:
        logging.getLogger("allocator").removeHandler(quiet)


def _run(
    settings: _DemoSettings,
    scenario: SandboxScenario,
    progress: Callable[[int, date, int], None] | None,
) -> DemoResult:
    instant = datetime.combine(settings.start, _DEMO_TIME_OF_DAY, UTC)
    now = lambda: instant  # noqa: E731 (a wall clock stuck at the first day, 09:00 UTC)
    job_api = create_sandbox(scenario, rate_limit_per_second=100_000, now=now)
    even_api = create_sandbox(scenario, rate_limit_per_second=100_000, now=now)
    with (
        contextlib_dir(settings.workdir) as work,
        serve_in_thread(job_api) as job_url,
        serve_in_thread(even_api) as even_url,
        httpx.Client() as http,
    ):
        path = _write_config(work, job_url, settings.daily_budget, settings.target_cpa)
        config = load_job_config(path)
        last = _with_report(config, settings.report_html)
        job_client, even_client = _client(http, job_url), _client(http, even_url)
        state = _control(http, job_url, "GET", "/_sandbox/state")
        names = {g["adgroup_id"]: g["adgroup_name"] for g in state["adgroups"]}
        plans: list[dict[str, Any]] = []
        records: list[DemoDay] = []

        def decide(i: int) -> tuple[date, int, dict[str, Any]]:  # both policies set budgets
            day = settings.start + timedelta(days=i)
            code, plan = _job_day(last if i == settings.days - 1 else config, path, day,
                                  settings.today)  # fmt: skip
            _even_split(even_client, settings.daily_budget)
            return day, code, plan

        def deliver(_: object) -> None:  # both sandboxes deliver the day
            for url in (job_url, even_url):
                _control(http, url, "POST", "/_sandbox/advance", {"days": 1})

        def record(i: int, decided: tuple[date, int, dict[str, Any]], _: None) -> None:
            day, code, plan = decided
            plans.append(plan)
            records.append(DemoDay(day, _budgets(plan), code, plan["apply"]["outcome"]))
            if progress is not None:
                progress(i, day, code)

        run_days(settings.days, decide, deliver, record)
        filled = _with_delivery(records, job_client, even_client)
        n_edits = len(_control(http, job_url, "GET", "/_sandbox/edits")["edits"])
    return DemoResult(
        days=filled,
        alerts=_collect_alerts(plans),
        names=names,
        daily_budget=settings.daily_budget,
        currency="USD",
        seed=settings.seed,
        n_edits=n_edits,
        n_store_changes=sum(c["state"] == "applied" for p in plans for c in p["apply"]["changes"]),
    )


def _with_report(config: JobConfig, report_html: Path | None) -> JobConfig:
    """``config`` with ``[job] report_html`` set (the last day's run writes the report)."""
    if report_html is None:
        return config
    job = config.job.model_copy(update={"report_html": report_html.resolve()})
    return config.model_copy(update={"job": job})


def _write_config(work: Path, job_url: str, daily_budget: float, target_cpa: float) -> Path:
    """Write the demo's job config into ``work``; its path."""
    path = work / "job.toml"
    path.write_text(
        demo_config_text(job_url, daily_budget, target_cpa, work / "demo.sqlite"),
        encoding="utf-8",
    )
    return path


def _job_day(config: JobConfig, path: Path, day: date, today: date) -> tuple[int, dict[str, Any]]:
    """Run the job with ``--apply`` for ``day``: its exit code and its result as JSON."""
    options = RebalanceOptions(
        as_of=day,
        apply=True,
        today=today,
        log_stream=io.StringIO(),
        environ={TOKEN_ENV: DEFAULT_TOKEN},
        tuning=ClientTuning(),
    )
    result = run_rebalance(config, path, options)
    return int(result.exit_code), result.to_json_dict()


def _budgets(plan: dict[str, Any]) -> dict[str, float]:
    """The plan's budget per ad group, currency per day (0 when paused)."""
    return {
        a["adgroup_id"]: float(a["to_budget"]) if a["to_status"] == "enable" else 0.0
        for a in plan["adgroups"]
    }


def _with_delivery(
    records: list[DemoDay], job_client: TikTokClient, even_client: TikTokClient
) -> tuple[DemoDay, ...]:
    """``records`` with each day's spend and conversions of both policies filled in."""
    first, last = records[0].day, records[-1].day
    managed = set(records[0].budgets)
    mine = _delivered(job_client, first, last, managed)
    even = _delivered(even_client, first, last, managed)
    return tuple(
        DemoDay(
            d.day, d.budgets, d.exit_code, d.outcome,
            *mine.get(d.day, (0.0, 0.0)), *even.get(d.day, (0.0, 0.0)),
        )
        for d in records
    )  # fmt: skip


def _control(
    http: httpx.Client, url: str, method: str, path: str, body: object = None
) -> dict[str, Any]:
    response = http.request(method, url + path, json=body, headers={"Access-Token": DEFAULT_TOKEN})
    response.raise_for_status()
    data: dict[str, Any] = response.json()["data"]
    return data
