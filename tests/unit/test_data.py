from __future__ import annotations

import warnings
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

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
from allocator.data.observations import load_files, read_observations
from allocator.data.table import DataWarning
from allocator.errors import DataError

TODAY = date(2026, 11, 20)
AG_HEADER = "adgroup_id,kind,creator,concept,post_id,auth_status,auth_expires_at,budget,status"
AG_ROWS = (
    "a1,spark,@maya,unboxing,p1,active,2026-12-01T00:00:00Z,100,enable",
    "a2,dark,@brand,offer,,,,50,disable",
)
OBS_HEADER = "date,adgroup_id,spend,impressions,clicks,conversions"
OBS_ROWS = (
    "2026-11-18,a1,90.5,9000,90,4",
    "2026-11-18,a2,40,4000,40,1",
)


def _write(tmp_path: Path, name: str, header: str, rows: tuple[str, ...] | list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _adgroups_file(tmp_path: Path, rows: tuple[str, ...] | list[str] = AG_ROWS) -> Path:
    return _write(tmp_path, "adgroups.csv", AG_HEADER, rows)


# --------------------------------------------------------------------------- invalid input

BAD_ADGROUPS = [
    pytest.param(
        AG_HEADER.replace(",status", "") + "\n" + "a1,dark,@b,c,,,,5\n",
        1, "status", ["required column is missing"], id="missing-column",
    ),
    pytest.param(
        AG_HEADER + ",budget\n" + "a1,dark,@b,c,,,,5,enable,5\n",
        1, "budget", ["appears twice"], id="duplicate-header",
    ),
    pytest.param(
        AG_HEADER + "\n" + ",dark,@b,c,,,,5,enable\n",
        2, "adgroup_id", ["empty"], id="empty-id",
    ),
    pytest.param(
        AG_HEADER + "\n" + AG_ROWS[0] + "\n" + AG_ROWS[1] + "\n" + "a1,dark,@b,c,,,,5,enable\n",
        4, "adgroup_id", ["duplicate adgroup_id", "line 2"], id="duplicate-id",
    ),
    pytest.param(
        AG_HEADER + "\n" + "a1,sparkle,@b,c,p,active,,5,enable\n",
        2, "kind", ["unknown kind", "'sparkle'", "spark, dark"], id="unknown-kind",
    ),
    pytest.param(
        AG_HEADER + "\n" + "a1,dark,,c,,,,5,enable\n",
        2, "creator", ["empty"], id="empty-creator",
    ),
    pytest.param(
        AG_HEADER + "\n" + "a1,spark,@b,c,,active,2026-12-01,5,enable\n",
        2, "post_id", ["Spark ad needs its post id"], id="spark-without-post",
    ),
    pytest.param(
        AG_HEADER + "\n" + "a1,spark,@b,c,p1,none,,5,enable\n",
        2, "auth_status", ["Spark ad needs an authorization"], id="spark-auth-none",
    ),
    pytest.param(
        AG_HEADER + "\n" + "a1,spark,@b,c,p1,,,5,enable\n",
        2, "auth_status", ["Spark ad needs an authorization"], id="spark-auth-empty",
    ),
    pytest.param(
        AG_HEADER + "\n" + "a1,dark,@b,c,,active,,5,enable\n",
        2, "auth_status", ["dark posts have no authorization"], id="dark-with-auth",
    ),
    pytest.param(
        AG_HEADER + "\n" + "a1,spark,@b,c,p1,granted,,5,enable\n",
        2, "auth_status", ["unknown auth_status", "'granted'"], id="unknown-auth-status",
    ),
    pytest.param(
        AG_HEADER + "\n" + "a1,spark,@b,c,p1,active,next week,5,enable\n",
        2, "auth_expires_at", ["'next week'", "ISO 8601"], id="bad-expiry",
    ),
    pytest.param(
        AG_HEADER + "\n" + "a1,dark,@b,c,,,2026-12-01,5,enable\n",
        2, "auth_expires_at", ["no authorization expiry"], id="dark-with-expiry",
    ),
    pytest.param(
        AG_HEADER + "\n" + "a1,dark,@b,c,,,,abc,enable\n",
        2, "budget", ["'abc' is not a number"], id="budget-not-number",
    ),
    pytest.param(
        AG_HEADER + "\n" + "a1,dark,@b,c,,,,-5,enable\n",
        2, "budget", ["'-5' is negative"], id="budget-negative",
    ),
    pytest.param(
        AG_HEADER + "\n" + "a1,dark,@b,c,,,,NaN,enable\n",
        2, "budget", ["not a finite number"], id="budget-nan",
    ),
    pytest.param(
        AG_HEADER + "\n" + "a1,dark,@b,c,,,,inf,enable\n",
        2, "budget", ["not a finite number"], id="budget-inf",
    ),
    pytest.param(
        AG_HEADER + "\n" + "a1,dark,@b,c,,,,,enable\n",
        2, "budget", ["empty", "number is required"], id="budget-empty",
    ),
    pytest.param(
        AG_HEADER + "\n" + "a1,dark,@b,c,,,,5,paused\n",
        2, "status", ["unknown status", "enable, disable"], id="unknown-status",
    ),
    pytest.param(
        AG_HEADER + ",launch_date\n" + "a1,dark,@b,c,,,,5,enable,2026-13-01\n",
        2, "launch_date", ["not a date", "YYYY-MM-DD"], id="bad-launch-date",
    ),
    pytest.param(
        AG_HEADER + ",stage\n" + "a1,dark,@b,c,,,,5,enable,winning\n",
        2, "stage", ["unknown stage", "testing"], id="unknown-stage",
    ),
    pytest.param(
        AG_HEADER + "\n" + "a1,dark,@b,c,,,,-1,enable\n" + "a2,nope,@b,c,,,,5,enable\n",
        2, "budget", ["negative"], id="first-error-in-file-order",
    ),
    pytest.param(
        AG_HEADER + "\n" + "a1,nope,@b,c,,,,-1,maybe\n",
        2, "kind", ["unknown kind"], id="leftmost-column-on-a-line",
    ),
    pytest.param(
        AG_HEADER + "\n" + AG_ROWS[0] + "\n\n" + "a3,dark,@b,c,,,,x,enable\n",
        4, "budget", ["not a number"], id="blank-lines-count",
    ),
    pytest.param(
        AG_HEADER + "\n" + 'a1,dark,@b,"two\nlines",,,,5,enable\n' + "a2,dark,@b,c,,,,x,enable\n",
        4, "budget", ["not a number"], id="quoted-newlines-count",
    ),
    pytest.param(
        AG_HEADER + "\n" + AG_ROWS[1] + "\n" + "a3,dark,@b,c,,,,5,enable,extra\n",
        3, None, ["more fields than the header"], id="too-many-fields",
    ),
    pytest.param("", None, None, ["empty"], id="empty-file"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "column", "words"), BAD_ADGROUPS)
def test_bad_adgroup_files_raise_one_precise_error(
    tmp_path: Path, text: str, line: int | None, column: str | None, words: list[str]
) -> None:
    path = tmp_path / "adgroups.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_adgroups(path)
    err = info.value
    assert (err.path, err.line, err.column) == (path, line, column)
    for word in words:
        assert word in err.reason
    assert str(err).startswith(str(path))


BAD_OBSERVATIONS = [
    pytest.param(
        OBS_HEADER.replace(",conversions", "") + "\n" + "2026-11-18,a1,1,1,1\n",
        1, "conversions", ["required column is missing"], id="missing-column",
    ),
    pytest.param(
        OBS_HEADER + "\n" + "2026/11/18,a1,1,1,1,0\n",
        2, "date", ["'2026/11/18' is not a date"], id="date-format",
    ),
    pytest.param(
        OBS_HEADER + "\n" + "2026-02-30,a1,1,1,1,0\n",
        2, "date", ["not a date"], id="impossible-date",
    ),
    pytest.param(
        OBS_HEADER + "\n" + OBS_ROWS[0] + "\n" + "2026-11-21,a1,1,1,1,0\n",
        3, "date", ["after today", "2026-11-20"], id="future-date",
    ),
    pytest.param(
        OBS_HEADER + "\n" + "2026-11-18,zz,1,1,1,0\n",
        2, "adgroup_id", ["unknown ad group", "'zz'"], id="unknown-adgroup",
    ),
    pytest.param(
        OBS_HEADER + "\n" + "\n".join(OBS_ROWS) + "\n" + "2026-11-18,a1,1,1,1,0\n",
        4, "adgroup_id", ["duplicate (date, adgroup_id)", "line 2"], id="duplicate-row",
    ),
    pytest.param(
        OBS_HEADER + "\n" + "2026-11-18,a1,-0.5,1,1,0\n",
        2, "spend", ["negative"], id="negative-spend",
    ),
    pytest.param(
        OBS_HEADER + "\n" + '2026-11-18,a1,"1,5",1,1,0\n',
        2, "spend", ["'1,5' is not a number"], id="comma-decimal",
    ),
    pytest.param(
        OBS_HEADER + "\n" + "2026-11-18,a1,1,1.5,1,0\n",
        2, "impressions", ["not a whole number"], id="fractional-impressions",
    ),
    pytest.param(
        OBS_HEADER + "\n" + "2026-11-18,a1,1,10,-1,0\n",
        2, "clicks", ["negative"], id="negative-clicks",
    ),
    pytest.param(
        OBS_HEADER + "\n" + "2026-11-18,a1,1,10,1,nan\n",
        2, "conversions", ["not a finite number"], id="nan-conversions",
    ),
    pytest.param(
        OBS_HEADER + ",value\n" + "2026-11-18,a1,1,10,1,0,inf\n",
        2, "value", ["not a finite number"], id="inf-value",
    ),
    pytest.param(
        OBS_HEADER + "\n" + "2026-11-18,a1,1,,1,0\n",
        2, "impressions", ["empty"], id="empty-impressions",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "column", "words"), BAD_OBSERVATIONS)
def test_bad_observation_files_raise_one_precise_error(
    tmp_path: Path, text: str, line: int, column: str, words: list[str]
) -> None:
    path = tmp_path / "observations.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_observations(path, today=TODAY, known_ids={"a1", "a2"})
    err = info.value
    assert (err.path, err.line, err.column) == (path, line, column)
    for word in words:
        assert word in err.reason


def test_a_missing_file_is_a_data_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found") as info:
        read_adgroups(tmp_path / "nope.csv")
    assert info.value.path == tmp_path / "nope.csv"


def test_load_files_checks_the_adgroups_file_before_the_observations(tmp_path: Path) -> None:
    ags = _adgroups_file(tmp_path, ["a1,dark,@b,c,,,,x,enable"])
    obs = _write(tmp_path, "obs.csv", OBS_HEADER, ["bad"])
    with pytest.raises(DataError) as info:
        load_files(ags, obs, today=TODAY)
    assert info.value.path == ags


def test_load_files_rejects_observations_of_ad_groups_not_in_the_file(tmp_path: Path) -> None:
    ags = _adgroups_file(tmp_path)
    obs = _write(tmp_path, "obs.csv", OBS_HEADER, [*OBS_ROWS, "2026-11-18,a9,1,1,1,0"])
    with pytest.raises(DataError, match="unknown ad group 'a9'") as info:
        load_files(ags, obs, today=TODAY)
    assert info.value.line == 4


# --------------------------------------------------------------------------- valid input


def test_valid_files_give_typed_records(tmp_path: Path) -> None:
    ags = _write(
        tmp_path,
        "ag.csv",
        AG_HEADER + ",launch_date,stage,last_edit_date",
        [
            " a1 , Spark ,@maya,unboxing,p1,ACTIVE,2026-12-01T09:30:00+02:00,100.5,enable,"
            "2026-10-01,scaling,2026-11-10",
            "a2,dark,@brand,,,,,50,disable,,,",
        ],
    )
    obs = _write(tmp_path, "obs.csv", OBS_HEADER + ",value", [*OBS_ROWS, "2026-11-19,a1,1,2,0,0,"])
    adgroups, observations = load_files(ags, obs, today=TODAY)
    first, second = adgroups
    assert first == AdGroup(
        adgroup_id="a1",
        kind=Kind.SPARK,
        creator="@maya",
        concept="unboxing",
        budget=100.5,
        status=AdGroupStatus.ENABLE,
        post_id="p1",
        authorization=Authorization(AuthStatus.ACTIVE, datetime(2026, 12, 1, 7, 30, tzinfo=UTC)),
        launch_date=date(2026, 10, 1),
        last_edit_date=date(2026, 11, 10),
        stage=Stage.SCALING,
    )
    assert second.authorization == Authorization()
    assert (second.post_id, second.concept, second.launch_date, second.stage) == (
        None,
        "",
        None,
        None,
    )
    assert observations[0] == Observation(date(2026, 11, 18), "a1", 90.5, 9000, 90, 4.0, None)
    assert observations[2].value is None
    assert isinstance(observations[0].impressions, int)


def test_ids_stay_exact_strings(tmp_path: Path) -> None:
    big = "1790000000000000001"
    ags = _adgroups_file(tmp_path, [f"{big},dark,@b,c,,,,5,enable", "007,dark,@b,c,,,,5,enable"])
    assert [ag.adgroup_id for ag in read_adgroups(ags)] == [big, "007"]


def test_a_byte_order_mark_and_crlf_line_ends_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "ag.csv"
    path.write_bytes(("\ufeff" + AG_HEADER + "\r\n" + AG_ROWS[1] + "\r\n").encode())
    assert read_adgroups(path)[0].adgroup_id == "a2"


# --------------------------------------------------------------------------- warnings


@pytest.mark.parametrize(
    ("row", "column", "words"),
    [
        ("2026-11-18,a1,12.5,0,0,0", "impressions", ["spend 12.50 with 0 impressions"]),
        ("2026-11-18,a1,12.5,100,2,5", "conversions", ["5 conversions above 2 clicks"]),
        ("2026-11-18,a1,12.5,10,20,1", "clicks", ["20 clicks above 10 impressions"]),
    ],
)
def test_suspicious_rows_warn_with_file_and_line(
    tmp_path: Path, row: str, column: str, words: list[str]
) -> None:
    path = _write(tmp_path, "obs.csv", OBS_HEADER, [OBS_ROWS[1], row])
    with pytest.warns(DataWarning) as record:
        observations = read_observations(path, today=TODAY)
    assert len(observations) == 2
    (warning,) = [w.message for w in record]
    assert isinstance(warning, DataWarning)
    assert (warning.path, warning.line, warning.column) == (path, 3, column)
    assert f"{path}, line 3" in str(warning)
    for word in words:
        assert word in str(warning)


def test_one_warning_per_rule_counts_the_rows(tmp_path: Path) -> None:
    rows = [f"2026-11-{d:02d},a1,10,0,0,0" for d in (1, 2, 3)]
    path = _write(tmp_path, "obs.csv", OBS_HEADER, rows)
    with pytest.warns(DataWarning, match=r"line 2: .*\(3 rows like this\)") as record:
        read_observations(path, today=TODAY)
    assert len(record) == 1


def test_unused_columns_and_open_ended_authorizations_warn(tmp_path: Path) -> None:
    path = _write(tmp_path, "ag.csv", AG_HEADER + ",notes", ["a1,spark,@m,c,p1,active,,5,enable,x"])
    with pytest.warns(DataWarning) as record:
        read_adgroups(path)
    messages = [str(w.message) for w in record]
    assert any("['notes'] are not used" in m for m in messages)
    assert any("no auth_expires_at" in m and "line 2" in m for m in messages)


def test_adgroup_name_then_ad_name_give_the_display_name(tmp_path: Path) -> None:
    rows = [
        "a1,dark,@m,c1,,,,5,enable,Summer hook,ad one",
        "a2,dark,@m,c2,,,,5,enable,,ad two",
        "a3,dark,@m,c3,,,,5,enable,,",
    ]
    path = _write(tmp_path, "ag.csv", AG_HEADER + ",adgroup_name,ad_name", rows)
    names = [ag.name for ag in read_adgroups(path)]
    assert names == ["Summer hook", "ad two", None]
    write_adgroups(read_adgroups(path), tmp_path / "back.csv")
    assert [ag.name for ag in read_adgroups(tmp_path / "back.csv")] == names


def test_clean_files_do_not_warn(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_files(
            _adgroups_file(tmp_path), _write(tmp_path, "o.csv", OBS_HEADER, OBS_ROWS), today=TODAY
        )


# --------------------------------------------------------------------------- arrays


def _ag(adgroup_id: str, **kw: object) -> AdGroup:
    base: dict[str, object] = {
        "adgroup_id": adgroup_id,
        "kind": Kind.DARK,
        "creator": "@brand",
        "concept": "c",
        "budget": 50.0,
        "status": AdGroupStatus.ENABLE,
    }
    base.update(kw)
    return AdGroup(**base)  # type: ignore[arg-type]


def _obs(day: str, adgroup_id: str, spend: float = 10.0, conversions: float = 1.0) -> Observation:
    return Observation(date.fromisoformat(day), adgroup_id, spend, 1000, 10, conversions, 2.0)


def test_arrays_have_one_column_per_day_oldest_first(tmp_path: Path) -> None:
    adgroups = [_ag("a"), _ag("b")]
    observations = [
        _obs("2026-11-15", "a", 5.0),
        _obs("2026-11-19", "a", 7.0, conversions=3.0),
        _obs("2026-11-17", "b", 9.0),
    ]
    out = to_arrays(adgroups, observations, as_of=TODAY, today=TODAY)
    hist = out.history
    assert hist.spend.shape == (2, 5)
    np.testing.assert_array_equal(hist.age_days, [5, 4, 3, 2, 1])
    assert out.dates == tuple(date(2026, 11, d) for d in (15, 16, 17, 18, 19))
    np.testing.assert_array_equal(hist.spend, [[5, 0, 0, 0, 7], [0, 0, 9, 0, 0]])
    np.testing.assert_array_equal(hist.observed[0], [True, False, False, False, True])
    np.testing.assert_array_equal(hist.impressions[1], [0, 0, 1000, 0, 0])
    np.testing.assert_array_equal(hist.value[0], [2, 0, 0, 0, 2])
    # Yesterday (age 1) keeps its reported, still incomplete, count; the posterior's lag
    # model corrects it from age_days, so the data layer must not.
    assert hist.conversions[0, -1] == 3.0
    assert out.adgroup_ids == ("a", "b")


def test_rows_on_or_after_as_of_are_left_out_with_a_warning() -> None:
    observations = [_obs("2026-11-10", "a"), _obs("2026-11-12", "a"), _obs("2026-11-14", "a")]
    with pytest.warns(DataWarning, match=r"2 observation rows .* 2026-11-12 \(up to 2026-11-14\)"):
        out = to_arrays([_ag("a")], observations, as_of=date(2026, 11, 12), today=TODAY)
    np.testing.assert_array_equal(out.history.age_days, [2, 1])
    np.testing.assert_array_equal(out.history.spend, [[10, 0]])


def test_rows_after_today_are_an_error_even_from_records() -> None:
    with pytest.raises(DataError, match="after today"):
        to_arrays([_ag("a")], [_obs("2026-11-21", "a")], as_of=TODAY, today=TODAY)


@pytest.mark.parametrize(
    ("adgroups", "observations", "words"),
    [
        ([_ag("a"), _ag("a")], [], "duplicate ad group 'a'"),
        ([_ag("a")], [_obs("2026-11-01", "z")], "unknown ad group 'z'"),
        ([_ag("a")], [_obs("2026-11-01", "a"), _obs("2026-11-01", "a")], "duplicate observation"),
    ],
)
def test_inconsistent_records_are_data_errors(
    adgroups: list[AdGroup], observations: list[Observation], words: str
) -> None:
    with pytest.raises(DataError, match=words):
        to_arrays(adgroups, observations, as_of=TODAY, today=TODAY)


def test_lookback_caps_the_number_of_days() -> None:
    observations = [_obs("2026-09-01", "a"), _obs("2026-11-10", "a", 3.0)]
    out = to_arrays([_ag("a")], observations, as_of=TODAY, today=TODAY, lookback_days=20)
    assert out.history.n_days == 10
    assert out.history.spend.sum() == 3.0
    with pytest.raises(ValueError, match="lookback_days"):
        to_arrays([_ag("a")], observations, as_of=TODAY, today=TODAY, lookback_days=0)


def test_no_observations_give_zero_day_columns() -> None:
    out = to_arrays([_ag("a"), _ag("b")], [], as_of=TODAY, today=TODAY)
    assert out.history.spend.shape == (2, 0)
    assert out.dates == ()
    np.testing.assert_array_equal(out.arms.days_since_launch, [0, 0])


def test_arm_state_fields() -> None:
    spark = {"kind": Kind.SPARK, "post_id": "p"}
    adgroups = [
        _ag("a", creator="@x", launch_date=date(2026, 11, 1), **spark,
            authorization=Authorization(AuthStatus.ACTIVE, datetime(2026, 11, 22, tzinfo=UTC))),
        _ag("b", creator="@y", status=AdGroupStatus.DISABLE, budget=70.0),
        _ag("c", creator="@x", stage=Stage.SCALING, last_edit_date=date(2026, 11, 17),
            **spark, authorization=Authorization(AuthStatus.REVOKED, None)),
        _ag("d", creator="@z", stage=Stage.BLOCKED, status=AdGroupStatus.DISABLE),
    ]  # fmt: skip
    observations = [_obs("2026-11-05", "b", spend=0.0), _obs("2026-11-08", "b")]
    out = to_arrays(adgroups, observations, as_of=TODAY, today=TODAY, timezone="America/New_York")
    arms = out.arms
    np.testing.assert_array_equal(arms.is_spark, [True, False, True, False])
    np.testing.assert_array_equal(arms.creator, [0, 1, 0, 2])
    assert out.creators == ("@x", "@y", "@z")
    np.testing.assert_array_equal(arms.enabled, [True, False, True, False])
    np.testing.assert_array_equal(arms.budget, [50, 0, 50, 0])
    # 2026-11-20 00:00 in New York is 05:00 UTC; the expiry is 2026-11-22 00:00 UTC.
    np.testing.assert_allclose(arms.auth_days_left, [2 - 5 / 24, np.inf, 0, np.inf])
    # launch date when known, else the first day with spend, else 0 (never delivered)
    np.testing.assert_array_equal(arms.days_since_launch, [19, 12, 0, 0])
    np.testing.assert_array_equal(arms.days_since_edit, [np.inf, np.inf, 3, np.inf])
    assert arms.prev_stage.tolist() == [Stage.TESTING, Stage.PAUSED, Stage.SCALING, Stage.BLOCKED]
    assert arms.n_arms == 4
    assert arms.batch_shape == ()


def test_the_shipped_example_becomes_arrays_without_warnings() -> None:
    root = Path(__file__).resolve().parents[2] / "configs" / "example"
    adgroups, observations = load_files(
        root / "adgroups.csv", root / "observations.csv", today=TODAY
    )
    out = to_arrays(adgroups, observations, as_of=TODAY, today=TODAY, timezone="America/New_York")
    assert out.arms.n_arms == 12
    assert out.history.spend.shape == (12, 30)
    assert out.dates[-1] == date(2026, 11, 19)
    assert out.arms.is_spark.sum() == 7
    assert (out.arms.auth_days_left <= 0).sum() == 2  # one expired, one revoked
    assert ((out.arms.auth_days_left > 0) & (out.arms.auth_days_left < 7)).sum() == 2
    assert (~out.arms.enabled).sum() == 1
    cpm = 1000 * out.history.spend.sum() / out.history.impressions.sum()
    assert 8 <= cpm <= 12
    cpa = out.history.spend.sum(axis=1) / out.history.conversions.sum(axis=1)
    assert np.argmin(cpa[:11]) == 0  # the winner
    assert np.argmax(cpa[:11]) == 7  # the loser
    # conversion lag: yesterday's reported conversions per spend are visibly incomplete
    rate = out.history.conversions.sum(axis=0) / out.history.spend.sum(axis=0)
    assert rate[-1] < 0.75 * rate[:-7].mean()


def test_header_only_files_hold_no_records(tmp_path: Path) -> None:
    ags = _adgroups_file(tmp_path, [])
    obs = _write(tmp_path, "obs.csv", OBS_HEADER, [])
    assert load_files(ags, obs, today=TODAY) == ([], [])
    out = to_arrays([], [], as_of=TODAY, today=TODAY)
    assert out.arms.n_arms == 0
    assert out.history.spend.shape == (0, 0)


def test_an_ad_group_launching_after_the_planning_day_is_not_launched() -> None:
    scheduled = AdGroup(
        adgroup_id="later",
        kind=Kind.DARK,
        creator="@brand",
        concept="new-hook",
        budget=30.0,
        status=AdGroupStatus.ENABLE,
        launch_date=date(2026, 12, 1),
    )
    inputs = to_arrays([scheduled], [], as_of=date(2026, 11, 20), today=date(2026, 11, 23))
    assert inputs.arms.days_since_launch.tolist() == [-11.0]
