"""Records read from an API platform meet the same plausibility bounds as the files."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest

from allocator.config import load_job_config
from allocator.core.arms import AdGroup, AdGroupStatus, Authorization, AuthStatus, Kind, Observation
from allocator.errors import DataError
from allocator.job.platforms import fetch_records
from allocator.platform.base import BudgetChange, ChangeResult, StatusChange

DAY = date(2026, 11, 20)


class ApiLike:
    """A read-only stand-in for an API platform."""

    def __init__(self, adgroups: list[AdGroup], observations: list[Observation]) -> None:
        self.adgroups, self.observations = adgroups, observations

    def list_adgroups(self) -> list[AdGroup]:
        return self.adgroups

    def fetch_observations(self, start: date, end: date) -> list[Observation]:
        return [o for o in self.observations if start <= o.date <= end]

    def update_budgets(self, changes: Sequence[BudgetChange]) -> list[ChangeResult]:
        raise AssertionError("read only")

    def update_statuses(self, changes: Sequence[StatusChange]) -> list[ChangeResult]:
        raise AssertionError("read only")


def group(budget: float) -> AdGroup:
    return AdGroup(
        "42", Kind.DARK, "@c", "hook", budget, AdGroupStatus.ENABLE, None,
        Authorization(AuthStatus.NONE),
    )  # fmt: skip


def row(spend: float, impressions: int, clicks: int, conversions: float) -> Observation:
    return Observation(date(2026, 11, 19), "42", spend, impressions, clicks, conversions)


@pytest.fixture
def config(tmp_path: Path) -> object:
    path = tmp_path / "job.toml"
    path.write_text(
        '[account]\nname = "a"\ncurrency = "USD"\ndaily_budget = 500.0\ntarget_cpa = 20.0\n'
        '[platform]\nkind = "sandbox"\nadvertiser_id = "1"\n',
        encoding="utf-8",
    )
    return load_job_config(path)


@pytest.mark.parametrize(
    ("budget", "obs", "column", "needle"),
    [
        (5000.0, row(10, 1000, 10, 1), "budget", "42 (from the sandbox API): a daily budget"),
        (100.0, row(1e308, 1000, 10, 1), "spend", "42 on 2026-11-19 (from the sandbox API): the"),
        (100.0, row(10, 5, 10, 8), "conversions", "more conversions than impressions"),
        (100.0, row(10, 9000, 2, 500), "conversions", "the conversions per click"),
    ],
)
def test_an_implausible_api_record_is_an_error_naming_ad_group_day_and_field(
    config: object, budget: float, obs: Observation, column: str, needle: str
) -> None:
    platform = ApiLike([group(budget)], [obs])
    with pytest.raises(DataError) as info:
        fetch_records(platform, config, DAY, DAY)  # type: ignore[arg-type]
    assert info.value.column == column
    assert str(info.value).startswith(f"column '{column}': ad group 42")
    assert needle in str(info.value)


def test_plausible_api_records_pass_unchanged(config: object) -> None:
    platform = ApiLike([group(100.0)], [row(90.0, 9000, 90, 4)])
    adgroups, rows = fetch_records(platform, config, DAY, DAY)  # type: ignore[arg-type]
    assert (adgroups, rows) == (platform.adgroups, platform.observations)
