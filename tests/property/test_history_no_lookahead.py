"""No look-ahead: the history replay's decisions as of day d ignore every row dated after d."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.backtest.history import Replay, replay_decisions
from allocator.core.arms import (
    AdGroup,
    AdGroupStatus,
    Authorization,
    AuthStatus,
    Kind,
    Observation,
    Portfolio,
)
from allocator.core.engine import EngineParams

START = date(2026, 5, 1)
N_DAYS = 8
EXPORT = START + timedelta(days=N_DAYS)
PARAMS = EngineParams(n_draws=50)
PORTFOLIO = Portfolio("USD", 240.0, target_cpa=25.0)
ADGROUPS = [
    AdGroup("g0", Kind.DARK, "brand", "a", 80.0, AdGroupStatus.ENABLE),
    AdGroup(
        "g1",
        Kind.SPARK,
        "maya",
        "b",
        80.0,
        AdGroupStatus.ENABLE,
        post_id="7",
        authorization=Authorization(AuthStatus.REVOKED),
    ),
    AdGroup("g2", Kind.DARK, "brand", "c", 80.0, AdGroupStatus.DISABLE),
]

row_values = st.tuples(
    st.floats(0.0, 300.0).map(lambda x: round(x, 2)),
    st.integers(0, 40_000),
    st.integers(0, 400),
    st.integers(0, 30),
)


def history(values: list[tuple[float, int, int, int]]) -> list[Observation]:
    rows = []
    for i, (spend, impressions, clicks, conversions) in enumerate(values):
        t, k = divmod(i, len(ADGROUPS))
        rows.append(
            Observation(
                date=START + timedelta(days=t),
                adgroup_id=ADGROUPS[k].adgroup_id,
                spend=spend,
                impressions=impressions,
                clicks=clicks,
                conversions=float(conversions),
            )
        )
    return rows


def decisions(rows: list[Observation], last_day: date, thinning: str) -> pd.DataFrame:
    return replay_decisions(
        ADGROUPS,
        rows,
        PORTFOLIO,
        PARAMS,
        Replay(EXPORT, thinning=thinning, last_day=last_day),  # type: ignore[arg-type]
        seed=3,
    )


@settings(max_examples=25, deadline=None)
@given(
    values=st.lists(row_values, min_size=N_DAYS * 3, max_size=N_DAYS * 3),
    altered=st.lists(row_values, min_size=N_DAYS * 3, max_size=N_DAYS * 3),
    cut=st.integers(1, N_DAYS - 1),
    drop=st.booleans(),
    thinning=st.sampled_from(["expected", "sampled"]),
)
def test_decisions_as_of_d_do_not_change_when_later_rows_change(
    values: list[tuple[float, int, int, int]],
    altered: list[tuple[float, int, int, int]],
    cut: int,
    drop: bool,
    thinning: str,
) -> None:
    rows = history(values)
    d = START + timedelta(days=cut)
    other = history(altered)
    # rows dated after d get other values (or are dropped); rows up to d are kept
    changed = [
        r
        if r.date <= d
        else dataclasses.replace(
            r, spend=o.spend, impressions=o.impressions, clicks=o.clicks, conversions=o.conversions
        )
        for r, o in zip(rows, other, strict=True)
        if r.date <= d or not (drop and o.spend > 150)
    ]
    before = decisions(rows, d, thinning)
    after = decisions(changed, d, thinning)
    pd.testing.assert_frame_equal(
        before.drop(columns=["actual_budget", "actual_status"]),
        after.drop(columns=["actual_budget", "actual_status"]),
    )
    assert np.all(before["date"] <= d.isoformat())
