"""The ``allocator backtest ope`` command and the replay estimators."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.backtest.replay import ThompsonReplay, replay, replay_adaptive
from allocator.cli import EXIT_OK, EXIT_USAGE, main
from allocator.errors import DataError, InsufficientDataError


def _files(tmp_path: Path, n: int = 400, bad_row: str | None = None) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    actions = rng.choice(["a", "b", "c"], n)
    positions = rng.choice(["1", "2"], n)
    clicks = (rng.random(n) < 0.2).astype(int)
    rows = [f"{a},{c},{1 / 3},{p}" for a, c, p in zip(actions, clicks, positions, strict=True)]
    if bad_row is not None:
        rows[4] = bad_row
    logs = tmp_path / "logs.csv"
    logs.write_text("action,reward,propensity,position\n" + "\n".join(rows) + "\n")
    target = tmp_path / "target.csv"
    target.write_text(
        "action,position,probability\na,1,0.5\nb,1,0.5\nc,1,0\na,2,0.2\nb,2,0.2\nc,2,0.6\n"
    )
    return logs, target


def test_json_output_has_one_object_per_estimator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs, target = _files(tmp_path)
    code = main(["backtest", "ope", "--logs", str(logs), "--target", str(target), "--json"])
    assert code == EXIT_OK
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"ips", "snips", "dr"}
    for result in out.values():
        assert {"estimate", "ci_low", "ci_high", "n"} <= set(result)
        assert result["n"] == 400
        assert result["ci_low"] < result["estimate"] < result["ci_high"]
        assert 0.1 < result["estimate"] < 0.3


def test_seeded_bootstrap_output_is_reproducible(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs, target = _files(tmp_path)
    args = ["backtest", "ope", "--logs", str(logs), "--target", str(target), "--json"]
    args += ["--ci", "bootstrap", "--seed", "7", "--n-boot", "500"]
    assert main(args) == EXIT_OK
    first = capsys.readouterr().out
    assert main(args) == EXIT_OK
    assert capsys.readouterr().out == first
    assert json.loads(first)["ips"]["ci_method"] == "bootstrap"


def test_table_output_lists_each_estimator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs, target = _files(tmp_path)
    assert main(["backtest", "ope", "--logs", str(logs), "--target", str(target)]) == EXIT_OK
    out = capsys.readouterr().out
    for label in ("IPS", "SNIPS", "DR", "95% interval", "intervals: clt"):
        assert label in out


def test_bad_logs_exit_2_naming_file_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs, target = _files(tmp_path, bad_row="a,1,0,1")
    code = main(["backtest", "ope", "--logs", str(logs), "--target", str(target)])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "logs.csv, line 6, column 'propensity'" in err


def test_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    logs, target = _files(tmp_path)
    args = ["backtest", "ope", "--logs", str(logs), "--target", str(target), "--format", "xml"]
    assert main(args) == EXIT_USAGE


def test_replay_keeps_only_rows_where_the_policy_agrees() -> None:
    logged = np.array([0, 1, 2, 1, 0])
    reward = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    result = replay(logged, reward, np.array([0, 1, 0, 1, 1]))
    assert result.n == 3
    assert result.estimate == pytest.approx(2 / 3)
    by_function = replay(logged, reward, lambda rows: np.array([0, 1, 0, 1, 1])[rows])
    assert by_function == result


def test_replay_refuses_non_uniform_logs() -> None:
    with pytest.raises(DataError, match="uniformly random"):
        replay(
            np.array([0, 1, 0]),
            np.ones(3),
            np.array([0, 1, 0]),
            position=np.array([0, 0, 0]),
            propensity=np.array([0.5, 0.25, 0.5]),
        )
    # different positions may have different (uniform) propensities
    ok = replay(
        np.array([0, 1, 0]),
        np.array([1.0, 0.0, 1.0]),
        np.array([0, 1, 0]),
        position=np.array([0, 1, 0]),
        propensity=np.array([0.5, 0.25, 0.5]),
    )
    assert ok.n == 3


def test_replay_needs_two_matched_rows() -> None:
    with pytest.raises(InsufficientDataError, match="matched 1"):
        replay(np.array([0, 1]), np.ones(2), np.array([0, 0]))


class GreedyCounts:
    """A tiny adaptive policy: picks the action with the best smoothed mean so far."""

    def __init__(self, n_actions: int) -> None:
        self.clicks = np.ones(n_actions)
        self.shows = np.full(n_actions, 2.0)
        self.seen_rows: list[int] = []

    def choose(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        noisy = self.clicks / self.shows + 1e-9 * rng.random(self.clicks.shape)
        return np.full(rows.shape, int(np.argmax(noisy)))

    def update(self, rows: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        self.seen_rows.extend(rows.tolist())
        np.add.at(self.shows, actions, 1.0)
        np.add.at(self.clicks, actions, rewards)


def test_adaptive_replay_learns_only_from_matched_rows() -> None:
    rng = np.random.default_rng(1)
    logged = rng.integers(0, 3, 3000)
    reward = (rng.random(3000) < np.array([0.05, 0.5, 0.1])[logged]).astype(float)
    policy = GreedyCounts(3)
    result = replay_adaptive(logged, reward, policy, rng=rng, batch_size=50)
    assert result.n == len(policy.seen_rows)
    assert np.all(np.diff(policy.seen_rows) > 0)
    assert result.estimate > 0.4  # it found the 0.5 arm


@settings(max_examples=25, deadline=None)
@given(cut=st.integers(1, 59), batch=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
def test_adaptive_replay_has_no_look_ahead(cut: int, batch: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    logged = rng.integers(0, 3, 60)
    reward = (rng.random(60) < 0.4).astype(float)
    altered = reward.copy()
    altered[cut:] = 1.0 - altered[cut:]
    first, second = GreedyCounts(3), GreedyCounts(3)
    for policy, rewards in ((first, reward), (second, altered)):
        with contextlib.suppress(InsufficientDataError):
            replay_adaptive(
                logged, rewards, policy, rng=np.random.default_rng(seed), batch_size=batch
            )
    boundary = (cut // batch) * batch  # decisions up to the batch holding `cut` are fixed
    head = [r for r in first.seen_rows if r < boundary + batch]
    assert head == [r for r in second.seen_rows if r < boundary + batch]


def test_thompson_replay_concentrates_on_the_best_action_per_position() -> None:
    # uniformly random logs over 4 actions at 2 positions; action 2 is best everywhere
    rng = np.random.default_rng(3)
    n, means = 40_000, np.array([0.05, 0.10, 0.40, 0.10])
    action = rng.integers(0, 4, n)
    position = rng.integers(0, 2, n)
    reward = (rng.random(n) < means[action]).astype(np.float64)
    policy = ThompsonReplay(4, position)
    result = replay_adaptive(
        action, reward, policy, rng=np.random.default_rng(0), batch_size=50, position=position
    )
    # the replayed policy learns action 2 quickly: its matched reward approaches 0.40,
    # far above the uniform policy's 0.1625
    assert result.estimate > 0.3
    assert result.ci_low < 0.40 < result.ci_high + 0.05
    best = policy.posterior.mean().argmax(axis=-1)
    assert best.tolist() == [2, 2]


def test_thompson_replay_is_reproducible_under_a_seed() -> None:
    rng = np.random.default_rng(4)
    action = rng.integers(0, 5, 5000)
    reward = (rng.random(5000) < 0.2).astype(np.float64)
    position = np.zeros(5000, dtype=np.int64)

    def run(seed: int) -> float:
        policy = ThompsonReplay(5, position)
        est = replay_adaptive(action, reward, policy, rng=np.random.default_rng(seed))
        return est.estimate

    assert run(1) == run(1)


def test_cli_replays_the_engines_thompson_sampler(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs, _ = _files(tmp_path, n=2000)
    code = main(["backtest", "ope", "--logs", str(logs), "--target", "thompson", "--json"])
    assert code == EXIT_OK
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"replay"}
    assert out["replay"]["n"] > 0
    assert out["replay"]["ci_low"] <= out["replay"]["estimate"] <= out["replay"]["ci_high"]


def test_cli_thompson_replay_refuses_rewards_outside_0_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs, _ = _files(tmp_path, bad_row="a,3,0.3333333333333333,1")
    code = main(["backtest", "ope", "--logs", str(logs), "--target", "thompson"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert "line 6" in err
    assert "reward" in err
