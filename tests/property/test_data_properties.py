from __future__ import annotations

import tempfile
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.core.arms import (
    AdGroup,
    AdGroupStatus,
    Authorization,
    AuthStatus,
    Kind,
    Observation,
    Stage,
)
from allocator.data.adgroups import read_adgroups, write_adgroups
from allocator.data.arrays import to_arrays
from allocator.data.observations import read_observations, write_observations
from allocator.data.table import DataWarning

TODAY = date(2026, 11, 20)

# Cells are stripped on reading, so generated text has no surrounding whitespace; it may hold
# commas, quotes and non-ASCII letters (CSV quoting must carry them through).
_text = st.text(
    alphabet=st.characters(categories=("L", "N", "P", "S"), exclude_characters="\x00"),
    max_size=12,
)
_money = st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False)
_days = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))
_instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@st.composite
def _authorization(draw: st.DrawFn, kind: Kind) -> Authorization:
    if kind is Kind.DARK:
        return Authorization()
    status = draw(st.sampled_from([s for s in AuthStatus if s is not AuthStatus.NONE]))
    return Authorization(status, draw(st.none() | _instants))


@st.composite
def _adgroup(draw: st.DrawFn, adgroup_id: str) -> AdGroup:
    kind = draw(st.sampled_from(list(Kind)))
    return AdGroup(
        adgroup_id=adgroup_id,
        kind=kind,
        creator=draw(_text.filter(bool)),
        concept=draw(_text),
        budget=draw(_money),
        status=draw(st.sampled_from(list(AdGroupStatus))),
        post_id=draw(_text.filter(bool)) if kind is Kind.SPARK else None,
        authorization=draw(_authorization(kind)),
        launch_date=draw(st.none() | _days),
        last_edit_date=draw(st.none() | _days),
        stage=draw(st.none() | st.sampled_from(list(Stage))),
    )


@st.composite
def _adgroups(draw: st.DrawFn) -> list[AdGroup]:
    ids = draw(st.lists(_text.filter(bool), min_size=1, max_size=6, unique=True))
    return [draw(_adgroup(i)) for i in ids]


@st.composite
def _observations(draw: st.DrawFn, ids: list[str]) -> list[Observation]:
    keys = draw(
        st.lists(st.tuples(st.integers(0, 90), st.sampled_from(ids)), max_size=30, unique=True)
    )
    counts = st.integers(0, 10**9)
    rows = []
    for age, adgroup_id in keys:
        impressions = draw(counts)
        # plausible: conversions never above impressions (an error since issue 13)
        conversions = draw(st.floats(0, float(impressions), allow_nan=False))
        rows.append(
            Observation(
                date=TODAY - timedelta(days=age),
                adgroup_id=adgroup_id,
                spend=draw(_money),
                impressions=impressions,
                clicks=draw(counts),
                conversions=conversions,
                value=draw(st.none() | _money),
            )
        )
    return rows


@settings(max_examples=60, deadline=None)
@given(adgroups=_adgroups())
def test_any_valid_adgroups_round_trip_through_csv(adgroups: list[AdGroup]) -> None:
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # open-ended authorizations are legal
        path = Path(tmp) / "adgroups.csv"
        write_adgroups(adgroups, path)
        assert read_adgroups(path) == adgroups


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_valid_observations_round_trip_through_csv(data: st.DataObject) -> None:
    ids = data.draw(st.lists(_text.filter(bool), min_size=1, max_size=4, unique=True))
    observations = data.draw(_observations(ids))
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # suspicious rows are legal
        path = Path(tmp) / "observations.csv"
        write_observations(observations, path)
        assert read_observations(path, today=TODAY, known_ids=ids) == observations


@settings(max_examples=60, deadline=None)
@given(data=st.data(), as_of_back=st.integers(0, 10), lookback=st.integers(1, 120))
def test_arrays_hold_exactly_the_rows_inside_the_window(
    data: st.DataObject, as_of_back: int, lookback: int
) -> None:
    adgroups = data.draw(_adgroups())
    ids = [ag.adgroup_id for ag in adgroups]
    observations = data.draw(_observations(ids))
    as_of = TODAY - timedelta(days=as_of_back)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        out = to_arrays(adgroups, observations, as_of=as_of, today=TODAY, lookback_days=lookback)
    inside = [o for o in observations if 1 <= (as_of - o.date).days <= lookback]
    hist = out.history
    assert hist.spend.shape == (len(adgroups), hist.n_days)
    assert hist.n_days <= lookback
    assert int(hist.observed.sum()) == len(inside)
    np.testing.assert_allclose(hist.spend.sum(), sum(o.spend for o in inside), rtol=1e-9)
    np.testing.assert_allclose(
        hist.conversions.sum(), sum(o.conversions for o in inside), rtol=1e-9
    )
    np.testing.assert_array_equal(hist.age_days, np.arange(hist.n_days, 0, -1))
    for o in inside:
        k, d = ids.index(o.adgroup_id), out.dates.index(o.date)
        assert hist.spend[k, d] == o.spend
        assert hist.age_days[d] == (as_of - o.date).days
    assert out.arms.creator.max() == len(out.creators) - 1
    assert [out.creators[c] for c in out.arms.creator] == [ag.creator for ag in adgroups]
