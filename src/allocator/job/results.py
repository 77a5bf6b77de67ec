"""What a rebalance run returns: the plan, what ``--apply`` did, and how it ended.

:func:`~allocator.job.rebalance.run_rebalance` returns a :class:`RebalanceResult`; the
command line renders it (``allocator.cli.render``) and ends with its
:attr:`~RebalanceResult.exit_code`. Money is in the account currency; budgets are currency
per day.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from allocator.exit_codes import ExitCode
from allocator.job.records import Change, ChangeState
from allocator.plans import Plan

__all__ = ["ApplyReport", "RebalanceOutcome", "RebalanceResult"]


@dataclass(frozen=True, slots=True)
class ApplyReport:
    """What ``--apply`` did with a plan.

    Attributes:
        mode: ``dry-run`` or ``apply``.
        outcome: ``planned``, ``applied``, ``partial``, ``failed``, ``noop``,
            ``refused`` or ``interrupted``.
        message: one line saying what happened and what to do next.
        store_run_id: the run's id in the job store (``None`` when nothing was recorded).
        disposition: what the store made of the run: ``new``, ``resumed``, ``noop``.
        changes: the run's intended changes with their final state, in apply order.
        budget_moved: total budget the plan moves, currency per day.
    """

    mode: str
    outcome: str
    message: str
    store_run_id: int | None = None
    disposition: str | None = None
    changes: tuple[Change, ...] = field(default=())
    budget_moved: float = 0.0

    def to_json_dict(self) -> dict[str, Any]:
        """The ``apply`` object of ``allocator rebalance --json``."""
        return {
            "mode": self.mode,
            "outcome": self.outcome,
            "message": self.message,
            "store_run_id": self.store_run_id,
            "disposition": self.disposition,
            "budget_moved": round(self.budget_moved, 2),
            "changes": [
                {
                    k: (str(v) if k in ("kind", "state") else v)
                    for k, v in asdict(c).items()
                    if k not in ("id", "run_id")
                }
                for c in self.changes
            ],
        }


class RebalanceOutcome(StrEnum):
    """How a rebalance ended for its caller."""

    OK = "ok"  # planned (dry run or plan-only platform), applied, or nothing to do
    FAILED = "failed"  # refused, or failed with nothing applied
    PARTIAL = "partial"  # some changes landed and some did not


_EXIT_CODES = {
    RebalanceOutcome.OK: ExitCode.OK,
    RebalanceOutcome.FAILED: ExitCode.FAILURE,
    RebalanceOutcome.PARTIAL: ExitCode.PARTIAL,
}


def _outcome(report: ApplyReport | None) -> RebalanceOutcome:
    if report is None or report.outcome in ("planned", "applied", "noop"):
        return RebalanceOutcome.OK
    applied = any(c.state is ChangeState.APPLIED for c in report.changes)
    if report.outcome == "partial" or (report.outcome in ("interrupted", "failed") and applied):
        return RebalanceOutcome.PARTIAL
    return RebalanceOutcome.FAILED


@dataclass(frozen=True, slots=True)
class RebalanceResult:
    """One rebalance: the plan, what was done with it, and the outcome.

    Attributes:
        plan: the plan for the planning day.
        report: what the store and ``--apply`` did with it; ``None`` on a read-only
            platform (``files``), where nothing is recorded or applied.
        outcome: ok, failed or partial (see :class:`RebalanceOutcome`).
        breaker: why the circuit breaker holds the plan back from ``--apply`` (one line
            each; empty when it does not); ``--force`` applies it anyway.
    """

    plan: Plan
    report: ApplyReport | None
    outcome: RebalanceOutcome
    breaker: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, plan: Plan, report: ApplyReport | None, breaker: tuple[str, ...] = ()
    ) -> RebalanceResult:
        """The result of ``plan`` and its ``report``, with the outcome they imply."""
        return cls(plan, report, _outcome(report), breaker)

    @property
    def exit_code(self) -> ExitCode:
        """The exit code ``allocator rebalance`` ends with."""
        return _EXIT_CODES[self.outcome]

    def to_json_dict(self) -> dict[str, Any]:
        """``allocator rebalance --json``: the plan JSON, with an ``apply`` object if any.

        ``breaker`` (an extension of the plan JSON) says whether the circuit breaker holds
        the plan back from ``--apply`` and why.
        """
        data = self.plan.to_json_dict()
        data["breaker"] = {"tripped": bool(self.breaker), "reasons": list(self.breaker)}
        if self.report is not None:
            data["apply"] = self.report.to_json_dict()
        return data
