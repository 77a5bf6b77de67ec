"""Simulation: a vectorized environment of TikTok ad accounts, policies and metrics.

``environment`` is the ground truth (shared with the sandbox server), ``scenario`` the
value objects it is drawn from, ``policies`` the baselines and the oracle behind one
protocol, ``metrics`` the per-replication outcomes.
"""

from __future__ import annotations
