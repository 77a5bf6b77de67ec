"""Per-replication outcomes of a policy run, and its comparison with the oracle.

:class:`MetricsAccumulator` consumes one :class:`~allocator.sim.truth.DayReport`
per simulated day (memory ``O(R K)`` plus ``(T, R)`` daily totals for plots) and
:meth:`MetricsAccumulator.finalize` returns :class:`PolicyMetrics`: arrays of shape
``(R,)``, one value per replication, vectorized throughout.

Definitions (money in account currency):

* ``conversions``, ``spend``, ``value``: true totals over the run (conversions the days
  will eventually be credited with, lag or not); ``cpa = spend / conversions``,
  ``roas = value / spend`` (NaN when the denominator is 0).
* ``expected_conversions``: the sum of each day's expected conversions given the
  budgets actually set (no Poisson noise). ``regret = oracle expected - policy
  expected`` and ``oracle_ratio = policy expected / oracle expected`` use these
  (pseudo-regret), paired replication by replication on the same worlds.
* ``wasted_spend``: spend on arms that were never the true best arm on any day.
* ``days_to_scale_best``: first day (0-based) the arm that was truly best on the first
  day was in stage ``SCALING``; NaN if never, or if the policy has no stages.
* ``budget_edits``: arm-days whose effective budget (0 when disabled) changed by more
  than a cent from the previous day, or whose status flipped; day 0 is the launch
  setting, not an edit.
* ``stranded_spend``: budget left on enabled arms that could not deliver because their
  Spark authorization had lapsed.
* ``underspend``: the budget left unplanned (daily budget minus the budgets set on arms
  that can deliver that day) on days when an acceptable creative could have taken it
  (:attr:`~allocator.sim.truth.DayReport.acceptable`: able to deliver, true CPA within
  the acceptable maximum), summed over the run as a share of the run's total budget;
  NaN when the accumulator is not told the daily budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core.arms import Stage
from allocator.sim.truth import DayReport

__all__ = ["RESULT_COLUMNS", "MetricsAccumulator", "PolicyMetrics", "compare_to_oracle"]

RESULT_COLUMNS: tuple[str, ...] = (
    "conversions",
    "spend",
    "cpa",
    "value",
    "roas",
    "expected_conversions",
    "regret",
    "oracle_ratio",
    "wasted_spend",
    "days_to_scale_best",
    "budget_edits",
    "stranded_spend",
    "underspend",
)
"""Per-replication columns of ``results.csv`` (DESIGN.md contract plus value/ROAS)."""

_CENT = 0.005


@dataclass(frozen=True, slots=True)
class PolicyMetrics:
    """Outcomes of one policy over ``R`` replications; every field ``(R,)`` unless noted.

    ``regret`` and ``oracle_ratio`` are NaN until :func:`compare_to_oracle` fills them.
    ``daily_conversions``, ``daily_expected`` and ``daily_spend`` are ``(T, R)``.
    """

    conversions: FloatArray
    spend: FloatArray
    cpa: FloatArray
    value: FloatArray
    roas: FloatArray
    expected_conversions: FloatArray
    regret: FloatArray
    oracle_ratio: FloatArray
    wasted_spend: FloatArray
    days_to_scale_best: FloatArray
    budget_edits: FloatArray
    stranded_spend: FloatArray
    underspend: FloatArray
    daily_conversions: FloatArray
    daily_expected: FloatArray
    daily_spend: FloatArray

    def columns(self) -> dict[str, FloatArray]:
        """The per-replication columns named in :data:`RESULT_COLUMNS`."""
        return {name: getattr(self, name) for name in RESULT_COLUMNS}


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    return np.divide(num, den, out=np.full_like(num, np.nan), where=den > 0)


class MetricsAccumulator:
    """Running totals of one policy's run, updated once per simulated day."""

    def __init__(self, n_runs: int, n_arms: int, daily_budget: float | None = None) -> None:
        """Start empty for ``n_runs`` replications of ``n_arms`` arms.

        ``daily_budget`` (currency per day) enables the ``underspend`` column.
        """
        self._shape = (n_runs, n_arms)
        self._daily_budget = daily_budget
        self._underspend = np.zeros(n_runs)
        self._n_days = 0
        self._conversions = np.zeros(n_runs)
        self._expected = np.zeros(n_runs)
        self._spend = np.zeros(n_runs)
        self._value = np.zeros(n_runs)
        self._stranded = np.zeros(n_runs)
        self._edits = np.zeros(n_runs)
        self._spend_by_arm = np.zeros(self._shape)
        self._ever_best = np.zeros(self._shape, dtype=bool)
        self._first_best: IntArray = np.full(n_runs, -1, dtype=np.int64)
        self._scaled_day = np.full(n_runs, np.nan)
        self._prev_budget: FloatArray | None = None
        self._prev_enabled: BoolArray | None = None
        self._daily: list[tuple[FloatArray, FloatArray, FloatArray]] = []

    def update(self, report: DayReport, stages: IntArray | None = None) -> None:
        """Add one day.

        Args:
            report: the day's true results, arrays ``(R, K)``.
            stages: the policy's stage codes ``(R, K)`` for that day, if it has any.
        """
        if report.spend.shape != self._shape:
            raise ValueError(f"report shape {report.spend.shape} != {self._shape}")
        conv = report.conversions.sum(axis=-1)
        exp = report.expected_conversions.sum(axis=-1)
        spend = report.spend.sum(axis=-1)
        self._conversions += conv
        self._expected += exp
        self._spend += spend
        self._value += report.value.sum(axis=-1)
        self._stranded += report.stranded.sum(axis=-1)
        self._spend_by_arm += report.spend
        self._ever_best |= report.best
        self._daily.append((conv, exp, spend))
        self._count_edits(report.budget, report.enabled)
        self._track_scaling(report, stages)
        self._n_days += 1
        if self._daily_budget is not None and report.acceptable is not None:
            planned = np.where(report.available > 0, report.budget, 0.0).sum(axis=-1)
            left = self._daily_budget - planned
            left = np.where(left > _CENT, left, 0.0)  # rounding is not underspend
            self._underspend += np.where(report.acceptable.any(axis=-1), left, 0.0)

    def _count_edits(self, budget: FloatArray, enabled: BoolArray) -> None:
        if self._prev_budget is not None and self._prev_enabled is not None:
            changed = (np.abs(budget - self._prev_budget) > _CENT) | (enabled != self._prev_enabled)
            self._edits += changed.sum(axis=-1)
        self._prev_budget = budget.copy()
        self._prev_enabled = enabled.copy()

    def _track_scaling(self, report: DayReport, stages: IntArray | None) -> None:
        # the "true best arm" is the best on the first day any arm could deliver
        # (first in index order among ties)
        unset = (self._first_best < 0) & report.best.any(axis=-1)
        self._first_best = np.where(unset, np.argmax(report.best, axis=-1), self._first_best)
        if stages is None:
            return
        index = np.maximum(self._first_best, 0)[:, None]
        best_stage = np.take_along_axis(stages, index, axis=-1)[:, 0]
        reached = (best_stage == int(Stage.SCALING)) & (self._first_best >= 0)
        reached &= np.isnan(self._scaled_day)
        self._scaled_day = np.where(reached, float(report.day), self._scaled_day)

    def finalize(self) -> PolicyMetrics:
        """The run's metrics (``regret`` and ``oracle_ratio`` NaN; see compare_to_oracle)."""
        if not self._daily:
            raise ValueError("no day was recorded")
        daily = np.asarray(self._daily)  # (T, 3, R)
        nan = np.full_like(self._spend, np.nan)
        return PolicyMetrics(
            conversions=self._conversions.copy(),
            spend=self._spend.copy(),
            cpa=_ratio(self._spend, self._conversions),
            value=self._value.copy(),
            roas=_ratio(self._value, self._spend),
            expected_conversions=self._expected.copy(),
            regret=nan,
            oracle_ratio=nan.copy(),
            wasted_spend=(self._spend_by_arm * ~self._ever_best).sum(axis=-1),
            days_to_scale_best=self._scaled_day.copy(),
            budget_edits=self._edits.copy(),
            stranded_spend=self._stranded.copy(),
            underspend=self._underspend_share(),
            daily_conversions=daily[:, 0, :],
            daily_expected=daily[:, 1, :],
            daily_spend=daily[:, 2, :],
        )

    def _underspend_share(self) -> FloatArray:
        if self._daily_budget is None:
            return np.full_like(self._spend, np.nan)
        share: FloatArray = self._underspend / (self._daily_budget * max(self._n_days, 1))
        return share


def compare_to_oracle(metrics: PolicyMetrics, oracle: PolicyMetrics) -> PolicyMetrics:
    """Fill ``regret`` and ``oracle_ratio`` from the oracle's run on the same worlds.

    Args:
        metrics: the policy's metrics ``(R,)``.
        oracle: the oracle's metrics over the same replications ``(R,)``.

    Returns:
        A copy of ``metrics`` with ``regret = oracle expected - expected`` (conversions)
        and ``oracle_ratio = expected / oracle expected``.
    """
    if metrics.spend.shape != oracle.spend.shape:
        raise ValueError("policy and oracle cover different replications")
    fields = {name: getattr(metrics, name) for name in PolicyMetrics.__dataclass_fields__}
    fields["regret"] = oracle.expected_conversions - metrics.expected_conversions
    fields["oracle_ratio"] = _ratio(metrics.expected_conversions, oracle.expected_conversions)
    return PolicyMetrics(**fields)
