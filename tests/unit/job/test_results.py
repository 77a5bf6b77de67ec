"""What a rebalance returns: the outcome its report implies and the exit code it maps to."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest

from allocator.config import load_job_config
from allocator.errors import ConfigError
from allocator.exit_codes import ExitCode
from allocator.job.rebalance import RebalanceOptions, run_rebalance
from allocator.job.records import Change, ChangeKind, ChangeState
from allocator.job.results import ApplyReport, RebalanceOutcome, RebalanceResult
from plan_rows import plan_of

EXAMPLE = Path(__file__).resolve().parents[3] / "configs" / "example" / "job.toml"
PLAN = plan_of([])


def _change(state: ChangeState) -> Change:
    return Change(1, 1, 1, "a", ChangeKind.BUDGET, "10.00", "12.00", state)


@pytest.mark.parametrize(
    ("outcome", "states", "expected", "code"),
    [
        ("planned", (), RebalanceOutcome.OK, ExitCode.OK),
        ("applied", (ChangeState.APPLIED,), RebalanceOutcome.OK, ExitCode.OK),
        ("noop", (), RebalanceOutcome.OK, ExitCode.OK),
        ("refused", (), RebalanceOutcome.FAILED, ExitCode.FAILURE),
        ("failed", (ChangeState.FAILED,), RebalanceOutcome.FAILED, ExitCode.FAILURE),
        ("failed", (ChangeState.APPLIED, ChangeState.FAILED), RebalanceOutcome.PARTIAL, 3),
        ("interrupted", (ChangeState.PENDING,), RebalanceOutcome.FAILED, ExitCode.FAILURE),
        ("interrupted", (ChangeState.APPLIED,), RebalanceOutcome.PARTIAL, ExitCode.PARTIAL),
        ("partial", (ChangeState.APPLIED,), RebalanceOutcome.PARTIAL, ExitCode.PARTIAL),
    ],
)
def test_the_outcome_and_exit_code_follow_from_the_report(
    outcome: str, states: tuple[ChangeState, ...], expected: RebalanceOutcome, code: int
) -> None:
    report = ApplyReport("apply", outcome, "m", changes=tuple(_change(s) for s in states))
    result = RebalanceResult.of(PLAN, report)
    assert (result.outcome, result.exit_code) == (expected, code)
    assert result.to_json_dict()["apply"]["outcome"] == outcome


def test_the_files_platform_plans_without_recording_or_applying() -> None:
    config = load_job_config(EXAMPLE)
    day = date(2026, 11, 20)
    result = run_rebalance(config, EXAMPLE, RebalanceOptions(as_of=day, log_stream=io.StringIO()))
    assert (result.report, result.outcome, result.exit_code) == (None, RebalanceOutcome.OK, 0)
    assert "apply" not in result.to_json_dict()
    assert not (EXAMPLE.parent / "allocator.sqlite").exists()  # no store next to the config
    with pytest.raises(ConfigError, match="plan-only") as info:
        run_rebalance(config, EXAMPLE, RebalanceOptions(as_of=day, apply=True))
    assert info.value.key == "platform.kind"
