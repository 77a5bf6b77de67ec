"""Reading, validating and aligning logs and target policies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.backtest.logged_feedback import LogFormat, read_logs
from allocator.backtest.target_policy import (
    TargetPolicy,
    align_logs,
    load_target_policy,
    sort_labels,
    target_policy_from_logs,
    write_target_policy,
)
from allocator.errors import DataError

GOOD_GENERIC = "action,reward,propensity,position,segment\na,1,0.5,1,x\nb,0,0.5,2,y\na,0,0.5,2,x\n"
GOOD_OBD = (
    ",timestamp,item_id,position,click,propensity_score,user_feature_0\n"
    "0,2019-11-24 00:00:34+00:00,3,1,0,0.25,abc\n"
    "1,2019-11-24 00:00:35+00:00,1,2,1,0.25,def\n"
)
TARGET = "action,position,probability\na,1,0.75\nb,1,0.25\na,2,0.5\nb,2,0.5\n"


def _write(tmp_path: Path, text: str, name: str = "logs.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_generic_layout_reads_every_column(tmp_path: Path) -> None:
    logs = read_logs(_write(tmp_path, GOOD_GENERIC))
    assert list(logs.action) == ["a", "b", "a"]
    assert logs.position is not None
    assert list(logs.position) == ["1", "2", "2"]
    np.testing.assert_array_equal(logs.reward, [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(logs.propensity, [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(logs.line, [2, 3, 4])
    assert list(logs.context.columns) == ["segment"]


def test_obd_layout_maps_item_click_and_propensity(tmp_path: Path) -> None:
    logs = read_logs(_write(tmp_path, GOOD_OBD), log_format=LogFormat.OBD)
    assert list(logs.action) == ["3", "1"]
    np.testing.assert_array_equal(logs.reward, [0.0, 1.0])
    np.testing.assert_array_equal(logs.propensity, [0.25, 0.25])
    assert list(logs.context.columns) == ["timestamp", "user_feature_0"]


def test_position_column_is_optional_in_the_generic_layout(tmp_path: Path) -> None:
    logs = read_logs(_write(tmp_path, "action,reward,propensity\na,1,0.5\nb,0,0.5\n"))
    assert logs.position is None
    target = load_target_policy(_write(tmp_path, "action,probability\na,0.4\nb,0.6\n", "t.csv"))
    aligned = align_logs(logs, target)
    np.testing.assert_array_equal(aligned.position, [0, 0])
    np.testing.assert_allclose(aligned.weight, [0.8, 1.2])


BAD_LOGS = [
    ("action,reward\na,1\n", "generic", None, "propensity", "missing column"),
    ("action,reward,propensity\na,1,0\n", "generic", 2, "propensity", "(0, 1]"),
    ("action,reward,propensity\na,1,0.5\nb,0,1.5\n", "generic", 3, "propensity", "(0, 1]"),
    ("action,reward,propensity\na,1,0.5\nb,0,\n", "generic", 3, "propensity", "missing"),
    ("action,reward,propensity\na,1,0.5\nb,0,abc\n", "generic", 3, "propensity", "finite"),
    ("action,reward,propensity\na,nan,0.5\n", "generic", 2, "reward", "missing"),
    ("action,reward,propensity\na,inf,0.5\n", "generic", 2, "reward", "finite"),
    ("action,reward,propensity\n,1,0.5\n", "generic", 2, "action", "missing action"),
    ("action,reward,propensity\na,1,0.5\n\nb,1,0.5\n", "generic", 3, "action", "missing"),
    ("action,reward,propensity,position\na,1,0.5,\n", "generic", 2, "position", "missing"),
    (",item_id,position,click,propensity_score\n0,1,1,2,0.1\n", "obd", 2, "click", "0 or 1"),
    (",item_id,position,click\n0,1,1,1\n", "obd", None, "propensity_score", "missing column"),
    (
        ",item_id,position,click,propensity_score\n0,1,1,1,0\n",
        "obd",
        2,
        "propensity_score",
        "(0, 1]",
    ),
    ("action,reward,propensity\n", "generic", None, None, "no logged rows"),
]


@pytest.mark.parametrize(
    ("text", "fmt", "line", "column", "reason"),
    BAD_LOGS,
    ids=[f"{c}-{r}-{i}" for i, (_, _, _, c, r) in enumerate(BAD_LOGS)],
)
def test_bad_logs_name_the_line_and_column(
    tmp_path: Path, text: str, fmt: str, line: int | None, column: str | None, reason: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(DataError, match=reason.replace("(", r"\(").replace("]", r"\]")) as info:
        read_logs(path, log_format=fmt)
    assert info.value.line == line
    assert info.value.column == column
    assert info.value.path == path


def test_missing_and_unreadable_files_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_logs(tmp_path / "absent.csv")
    with pytest.raises(DataError, match="readable"):
        read_logs(_write(tmp_path, ""))


@pytest.mark.parametrize(
    ("logs_text", "line", "column", "reason"),
    [
        (
            "action,reward,propensity,position\na,1,0.5,1\nz,0,0.5,1\n",
            3,
            "action",
            "unknown action",
        ),
        (
            "action,reward,propensity,position\na,1,0.5,1\na,0,0.5,9\n",
            3,
            "position",
            "unknown position",
        ),
        ("action,reward,propensity\na,1,0.5\n", None, "position", "no position column"),
    ],
    ids=["unknown-action", "unknown-position", "positions-missing"],
)
def test_logs_the_target_does_not_know_are_rejected_with_their_row(
    tmp_path: Path, logs_text: str, line: int | None, column: str, reason: str
) -> None:
    logs = read_logs(_write(tmp_path, logs_text))
    target = load_target_policy(_write(tmp_path, TARGET, "target.csv"))
    with pytest.raises(DataError, match=reason) as info:
        align_logs(logs, target)
    assert (info.value.line, info.value.column) == (line, column)


def test_obd_errors_use_the_files_column_names(tmp_path: Path) -> None:
    logs = read_logs(_write(tmp_path, GOOD_OBD), log_format="obd")
    target = load_target_policy(
        _write(tmp_path, "action,position,probability\n3,1,1\n3,2,1\n", "t.csv")
    )
    with pytest.raises(DataError, match="unknown action '1'") as info:
        align_logs(logs, target)
    assert (info.value.line, info.value.column) == (3, "item_id")


def test_target_csv_loads_with_zeros_for_pairs_left_out(tmp_path: Path) -> None:
    text = "action,position,probability\n2,1,1.0\n10,2,0.5\n1,2,0.5\n1,1,0\n"
    policy = load_target_policy(_write(tmp_path, text, "t.csv"))
    assert policy.actions == ("1", "2", "10")
    assert policy.positions == ("1", "2")
    np.testing.assert_array_equal(policy.probability, [[0.0, 0.5], [1.0, 0.0], [0.0, 0.5]])


BAD_TARGETS = [
    ("action,probability\n", None, None, "no rows"),
    ("position,probability\n1,1\n", None, "action", "missing column"),
    ("action,position\na,1\n", None, "probability", "missing column"),
    (
        "action,position,probability\na,1,0.6\nb,1,0.3\n",
        None,
        "probability",
        "position '1' sum to 0.9",
    ),
    (
        "action,position,probability\na,1,1\na,2,0.5\nb,2,0.6\n",
        None,
        "probability",
        "position '2' sum to 1.1",
    ),
    ("action,position,probability\na,1,1\nb,2,-0.1\n", 3, "probability", "in \\[0, 1\\]"),
    ("action,position,probability\na,1,1\nb,2,x\n", 3, "probability", "in \\[0, 1\\]"),
    ("action,position,probability\na,1,0.5\na,1,0.5\n", 3, "action", "repeated pair"),
    ("action,position,probability\n,1,1\n", 2, "action", "missing value"),
    ("action,position,probability\na,,1\n", 2, "position", "missing value"),
]


@pytest.mark.parametrize(
    ("text", "line", "column", "reason"),
    BAD_TARGETS,
    ids=[f"{c}-{i}" for i, (_, _, c, _) in enumerate(BAD_TARGETS)],
)
def test_bad_target_csvs_name_the_line_column_or_position(
    tmp_path: Path, text: str, line: int | None, column: str | None, reason: str
) -> None:
    with pytest.raises(DataError, match=reason) as info:
        load_target_policy(_write(tmp_path, text, "t.csv"))
    assert (info.value.line, info.value.column) == (line, column)


def test_target_from_logs_is_the_share_of_rows_per_position(tmp_path: Path) -> None:
    text = "action,reward,propensity,position\na,0,1,1\na,0,1,1\nb,0,1,1\nc,1,1,2\n"
    policy = target_policy_from_logs(
        read_logs(_write(tmp_path, text)), actions=["d", "c", "b", "a"]
    )
    assert policy.actions == ("a", "b", "c", "d")
    np.testing.assert_allclose(
        policy.probability, [[2 / 3, 0.0], [1 / 3, 0.0], [0.0, 1.0], [0.0, 0.0]]
    )


def test_target_from_logs_rejects_actions_outside_the_given_set(tmp_path: Path) -> None:
    logs = read_logs(_write(tmp_path, GOOD_GENERIC))
    with pytest.raises(DataError, match="unknown action 'b'") as info:
        target_policy_from_logs(logs, actions=["a"])
    assert info.value.line == 3


@settings(max_examples=30, deadline=None)
@given(
    counts=st.lists(
        st.lists(st.integers(0, 50), min_size=3, max_size=3), min_size=1, max_size=8
    ).filter(lambda rows: all(sum(col) > 0 for col in zip(*rows, strict=True))),
    positional=st.booleans(),
)
def test_written_targets_load_back_identically(
    tmp_path_factory: pytest.TempPathFactory, counts: list[list[int]], positional: bool
) -> None:
    table = np.asarray(counts, dtype=float)
    if not positional:
        table = table[:, :1]
    probability = table / table.sum(axis=0, keepdims=True)
    policy = TargetPolicy(
        tuple(str(i * 7) for i in range(len(counts))),
        ("1", "2", "3") if positional else ("",),
        probability,
    )
    path = tmp_path_factory.mktemp("target") / "t.csv"
    write_target_policy(policy, path)
    loaded = load_target_policy(path)
    assert loaded.actions == policy.actions
    assert loaded.positions == policy.positions
    np.testing.assert_allclose(loaded.probability, policy.probability, atol=1e-11)
    np.testing.assert_allclose(loaded.probability.sum(axis=0), 1.0)


def test_labels_sort_numbers_numerically_then_text() -> None:
    assert sort_labels(["10", "b", "2", "a", "2"]) == ("2", "10", "a", "b")
