"""Fuzz of the whole apply path: files in, plan, ``--apply`` to a recording platform.

Hypothesis writes an ad groups file and an observations file (plausible cells mixed with
the ways exports go wrong: ``1e308``, ``nan``, text, negative numbers, empty cells,
conversions far above clicks, old dates, no rows at all), and runs
:func:`~allocator.job.rebalance.run_rebalance` with ``--apply`` against an in-memory
platform serving exactly those records and recording every write. Whatever the input, the
account is never switched off without ``--force``: the ad groups the run disables never
hold more than ``job.max_disabled_share`` of the budgets that were running, and when
something was running something still is.
"""

from __future__ import annotations

import contextlib
import csv
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import allocator.job.rebalance as job
from allocator.config import load_job_config
from allocator.core.arms import AdGroup, AdGroupStatus, Observation
from allocator.data.observations import load_files
from allocator.errors import AllocatorError
from allocator.job.platforms import plausibility
from allocator.job.rebalance import RebalanceOptions, run_rebalance
from allocator.platform.base import BudgetChange, ChangeResult, StatusChange
from allocator.platform.tiktok import Secret

TODAY = date(2026, 11, 20)
SHARE = 0.5  # job.max_disabled_share (the default)

CONFIG = """
[account]
name = "fuzz"
currency = "USD"
daily_budget = 500.0
target_cpa = 25.0

[platform]
kind = "sandbox"
base_url = "http://127.0.0.1:9"
advertiser_id = "7000000000000000001"

[engine]
n_draws = 64

[job]
store = "store.sqlite"
"""


class RecordingPlatform:
    """An API platform over fixed records that applies and records every write."""

    def __init__(self, adgroups: Sequence[AdGroup], observations: Sequence[Observation]) -> None:
        self.adgroups = {g.adgroup_id: g for g in adgroups}
        self.observations = list(observations)
        self.writes: list[BudgetChange | StatusChange] = []

    def list_adgroups(self) -> list[AdGroup]:
        return list(self.adgroups.values())

    def fetch_observations(self, start: date, end: date) -> list[Observation]:
        return [o for o in self.observations if start <= o.date <= end]

    def update_budgets(self, changes: Sequence[BudgetChange]) -> list[ChangeResult]:
        for c in changes:
            self.writes.append(c)
            self.adgroups[c.adgroup_id] = replace(self.adgroups[c.adgroup_id], budget=c.budget)
        return [ChangeResult(c.adgroup_id, True, f"r{len(self.writes)}") for c in changes]

    def update_statuses(self, changes: Sequence[StatusChange]) -> list[ChangeResult]:
        for c in changes:
            self.writes.append(c)
            status = AdGroupStatus.ENABLE if c.enable else AdGroupStatus.DISABLE
            self.adgroups[c.adgroup_id] = replace(self.adgroups[c.adgroup_id], status=status)
        return [ChangeResult(c.adgroup_id, True, f"r{len(self.writes)}") for c in changes]


GARBAGE = st.sampled_from(["1e308", "nan", "inf", "-5", "", "abc", "1e20", "0"])


def number(low: float, high: float, dirty: bool) -> st.SearchStrategy[str]:
    """A cell: a plausible number, or (in a dirty file) now and then garbage."""
    plausible = st.floats(low, high, allow_nan=False).map(lambda x: f"{x:.2f}")
    return st.one_of(plausible, *[plausible] * 8, GARBAGE) if dirty else plausible


@st.composite
def adgroup_rows(draw: st.DrawFn) -> list[list[str]]:
    dirty = draw(st.integers(0, 3)) == 0  # a quarter of the files are dirty
    rows = []
    for i in range(draw(st.integers(1, 6))):
        spark = draw(st.booleans())
        auth = draw(st.sampled_from(["active", "expired", "revoked", "deleted"])) if spark else ""
        rows.append([
            f"{100 + i}", "spark" if spark else "dark", f"@c{draw(st.integers(0, 2))}", "hook",
            f"74{i}" if spark else "", auth, "2027-01-01" if auth == "active" else "",
            draw(number(0, 300, dirty)), draw(st.sampled_from(["enable", "enable", "disable"])),
        ])  # fmt: skip
    return rows


@st.composite
def observation_rows(draw: st.DrawFn, ids: list[str]) -> list[list[str]]:
    newest = draw(st.sampled_from([1, 1, 2, 5, 20]))  # days before the planning day
    dirty = draw(st.integers(0, 3)) == 0  # a quarter of the files are dirty
    rows = []
    for age in range(newest, newest + draw(st.integers(0, 10))):
        for gid in ids:
            impressions = draw(st.integers(0, 50_000))
            clicks = draw(st.integers(0, impressions // 50))
            rows.append([
                (TODAY - timedelta(days=age)).isoformat(), gid, draw(number(0, 400, dirty)),
                str(impressions), str(clicks), draw(number(0, clicks / 2, dirty)),
                draw(number(0, 900, dirty)),
            ])  # fmt: skip
    return rows


def write_csv(path: Path, header: str, rows: list[list[str]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header.split(","))
        writer.writerows(rows)


@contextlib.contextmanager
def opened(platform: RecordingPlatform) -> Iterator[job._Opened]:
    yield job._Opened(platform, Secret("fuzz-token"))  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore::allocator.data.table.DataWarning")  # legal, suspicious rows
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_input_switches_the_account_off_without_force(data: st.DataObject) -> None:
    groups = data.draw(adgroup_rows())
    observations = data.draw(observation_rows([g[0] for g in groups]))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "job.toml").write_text(CONFIG, encoding="utf-8")
        write_csv(root / "adgroups.csv", "adgroup_id,kind,creator,concept,post_id,auth_status,"
                  "auth_expires_at,budget,status", groups)  # fmt: skip
        write_csv(root / "obs.csv", "date,adgroup_id,spend,impressions,clicks,conversions,value",
                  observations)  # fmt: skip
        config = load_job_config(root / "job.toml")
        try:
            records = load_files(
                root / "adgroups.csv", root / "obs.csv", today=TODAY, bounds=plausibility(config)
            )
        except AllocatorError as exc:
            event(f"refused at the door: {type(exc).__name__} on {getattr(exc, 'column', None)}")
            return  # nothing planned, nothing applied
        platform = RecordingPlatform(*records)
        before = platform.list_adgroups()
        options = RebalanceOptions(as_of=TODAY, today=TODAY, apply=True)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(job, "_open_platform", lambda *_: opened(platform))
            try:
                result = run_rebalance(config, root / "job.toml", options)
            except AllocatorError as exc:
                event(f"refused: {type(exc).__name__}")
                assert platform.writes == []
                return
    event(f"apply: {result.report.outcome if result.report else None}")
    event(f"writes: {min(len(platform.writes), 3)}{'+' if len(platform.writes) > 2 else ''}")
    running = {g.adgroup_id: g.budget for g in before if g.status is AdGroupStatus.ENABLE}
    after = {g.adgroup_id: g.status for g in platform.list_adgroups()}
    switched_off = sum(b for gid, b in running.items() if after[gid] is AdGroupStatus.DISABLE)
    assert switched_off <= SHARE * sum(running.values()) + 0.01, result.breaker
    if any(b > 0 for b in running.values()):
        assert AdGroupStatus.ENABLE in after.values()
    if result.breaker:
        assert platform.writes == []
        assert result.report is not None
        assert result.report.outcome == "refused"
