"""Backtests on logged history: off-policy evaluation of logged bandit feedback.

* :mod:`allocator.backtest.logged_feedback`: reading and validating logs (generic and Open
  Bandit layouts).
* :mod:`allocator.backtest.target_policy`: the target policy as probabilities per
  (action, position), from CSV or built from logs.
* :mod:`allocator.backtest.ope`: IPS, SNIPS and doubly robust estimators with intervals.
* :mod:`allocator.backtest.reward_model`: the cross-fitted reward model of doubly robust.
* :mod:`allocator.backtest.replay`: the replay method for uniformly random logs.
"""

from __future__ import annotations

from allocator.backtest.logged_feedback import BanditLogs, LogFormat, logs_from_frame, read_logs
from allocator.backtest.ope import (
    AlignedLogs,
    Estimate,
    IntervalMethod,
    evaluate,
)
from allocator.backtest.replay import ReplayPolicy, ThompsonReplay, replay, replay_adaptive
from allocator.backtest.target_policy import (
    TargetPolicy,
    align_logs,
    load_target_policy,
    target_policy_from_logs,
    write_target_policy,
)

__all__ = [
    "AlignedLogs",
    "BanditLogs",
    "Estimate",
    "IntervalMethod",
    "LogFormat",
    "ReplayPolicy",
    "TargetPolicy",
    "ThompsonReplay",
    "align_logs",
    "evaluate",
    "load_target_policy",
    "logs_from_frame",
    "read_logs",
    "replay",
    "replay_adaptive",
    "target_policy_from_logs",
    "write_target_policy",
]
