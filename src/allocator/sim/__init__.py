"""Simulation: a vectorized environment of TikTok ad accounts, policies and metrics.

``environment`` is the ground truth advanced day by day (shared with the sandbox server);
``world`` draws it from the value objects of ``scenario``, ``truth`` holds what only the
oracle and the metrics see, ``ledger`` the platform's reported view, and ``replication``
the blocks of replications that carry the seeds. ``policy`` is the protocol every policy
follows: ``splits``, ``bandits`` and ``rules`` are the baselines, ``oracle`` the oracle
and ``thompson`` the engine. ``metrics`` holds the per-replication outcomes.
"""

from __future__ import annotations
