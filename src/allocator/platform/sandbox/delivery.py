"""The sandbox's delivery model: the simulator's environment with one replication.

:class:`EnvironmentDelivery` adapts :class:`allocator.sim.environment.Environment`
(``R = 1``) to the sandbox's :class:`~allocator.platform.sandbox.delivery_ledger.DeliveryModel`:
one implementation of the dynamics (funnel, saturation, fatigue, weekday, lag) serves the
simulator and the sandbox. The sandbox account is the single authority on Spark
authorizations: it withholds delivery through ``enabled``, so the adapter switches the
environment's own expiries and revocations off (every Spark arm renewed indefinitely).

Conversions arrive with the environment's lag: after each day the adapter reads the
environment's reported history and hands the account what became visible that day.

The environment has no video-view funnel yet, so 2- and 6-second views are derived from
impressions with fixed view rates (:data:`VIEW_RATES`; Spark posts' 6-second rate 2.42x
the dark posts', the +142% quoted in DESIGN.md). They are reported, never used for
decisions.
"""

from __future__ import annotations

import numpy as np

from allocator._types import BoolArray, FloatArray
from allocator.platform.sandbox.delivery_ledger import DayDelivery
from allocator.sim.environment import Environment

__all__ = ["VIEW_RATES", "EnvironmentDelivery"]

VIEW_RATES = {"dark": (0.30, 0.08), "spark": (0.36, 0.08 * 2.42)}
"""(2-second, 6-second) views per impression by kind; an assumption (see module doc)."""

_NEVER = 10**9


class EnvironmentDelivery:
    """The simulator environment (one replication) as a sandbox delivery model.

    Args:
        env: an environment with ``n_runs == 1`` at day 0.
    """

    def __init__(self, env: Environment) -> None:
        if env.n_runs != 1:
            raise ValueError(f"the sandbox drives one replication, got n_runs={env.n_runs}")
        self.env = env
        for arm in np.flatnonzero(env.world.is_spark[0]):
            env.renew(int(arm), _NEVER)
        self._reported = np.zeros((env.n_arms, 0))
        self._reported_value = np.zeros((env.n_arms, 0))
        spark = env.world.is_spark[0]
        self._view_rates = np.where(
            spark[:, None], np.array(VIEW_RATES["spark"]), np.array(VIEW_RATES["dark"])
        )

    @property
    def n_arms(self) -> int:
        """Arms ``K``."""
        return self.env.n_arms

    def advance_day(self, budgets: FloatArray, enabled: BoolArray) -> DayDelivery:
        """Deliver one day; see :class:`~allocator.platform.sandbox.delivery_ledger.DeliveryModel`.

        Args:
            budgets: daily budget per arm, currency per day, shape ``(K,)``.
            enabled: whether each arm may deliver, shape ``(K,)``.
        """
        day = self.env.advance_day(budgets[None, :], enabled[None, :])
        _, history = self.env.observe()
        conversions = history.conversions[0]
        value = history.value[0]
        n_old = self._reported.shape[1]
        fresh = np.concatenate(
            [conversions[:, :n_old] - self._reported, conversions[:, n_old:]], axis=1
        )
        fresh_value = np.concatenate(
            [value[:, :n_old] - self._reported_value, value[:, n_old:]], axis=1
        )
        self._reported, self._reported_value = conversions.copy(), value.copy()
        impressions = day.impressions[0]
        views = np.rint(impressions[:, None] * self._view_rates)
        return DayDelivery(
            spend=day.spend[0],
            impressions=impressions,
            clicks=day.clicks[0],
            video_watched_2s=views[:, 0],
            video_watched_6s=views[:, 1],
            conversions=fresh[:, ::-1],
            value=fresh_value[:, ::-1],
        )
