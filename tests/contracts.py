"""Key sets of the plan JSON contract (DESIGN.md), written once for every test that checks it.

Kept apart from the code on purpose: the tests pin the contract, not whatever plans.py emits.
"""

from __future__ import annotations

PLAN_KEYS = {
    "run_id", "account", "currency", "as_of", "daily_budget", "planned_total", "shortfall",
    "adgroups", "alerts", "objective",
}  # fmt: skip
ADGROUP_KEYS = {
    "adgroup_id", "from_budget", "to_budget", "from_status", "to_status", "stage", "p_best",
    "cpa_mean", "cpa_low", "cpa_high", "reason", "name", "roas_mean", "roas_low", "roas_high",
}  # fmt: skip
ALERT_KEYS = {"kind", "adgroup_id", "message"}
RESULT_KEYS = PLAN_KEYS | {"breaker"}
"""``allocator rebalance --json`` adds the circuit breaker's verdict to the plan's keys."""
