"""What the job remembers between runs, attached to the live ad groups before planning.

The platform does not know the engine's stages nor when the job last made a large budget
edit (which restarts the platform's learning phase); the store does. :func:`remember`
adds both to the ad groups the platform listed:

* ``stage``: the stage of the latest run that took effect
  (:meth:`~allocator.job.store.Store.last_stages`). A ``paused`` ad group that is enabled
  now was re-enabled by a person (in Ads Manager) and goes back to ``testing``, unless
  the job's own disable of it failed in that run (then it is still ours to pause).
* ``last_edit_date``: the planning day of the latest applied budget change that took the
  budget more than ``large_edit_fraction`` away from its budget at the start of that
  period (so edits of several runs in one period are judged together), or of the latest
  applied enable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date

from allocator.core.arms import AdGroup, AdGroupStatus, Stage
from allocator.job.records import ChangeKind, ChangeState, Outcome
from allocator.job.store import Store

__all__ = ["remember"]

_EFFECTIVE = (Outcome.APPLIED, Outcome.PARTIAL, Outcome.NOOP)


def _last_edits(store: Store, account: str, large_edit_fraction: float) -> dict[str, date]:
    """The planning day of each ad group's latest large edit.

    A budget edit is judged against the ad group's budget at the start of the period
    (the ``from`` of its first applied budget change in the period), so several smaller
    edits in one period that add up to a large one count as large.
    """
    runs = {r.id: r for r in store.runs(account)}
    edits: dict[str, date] = {}
    start: dict[tuple[str, str], float] = {}
    for change in store.history(account):
        run = runs[change.run_id]
        if run.dry_run or "as_of" not in run.plan:
            continue
        if change.kind is ChangeKind.BUDGET:
            before = start.setdefault((run.period, change.adgroup_id), float(change.from_value))
            after = float(change.to_value)
            large = abs(after - before) > large_edit_fraction * max(before, 1e-9)
        else:
            large = change.to_value == AdGroupStatus.ENABLE
        if large:
            edits[change.adgroup_id] = date.fromisoformat(str(run.plan["as_of"]))
    return edits


def _unapplied_disables(store: Store, account: str) -> set[str]:
    """Ad groups whose disable in the latest run that took effect did not land."""
    effective = [r for r in store.runs(account) if not r.dry_run and r.outcome in _EFFECTIVE]
    if not effective:
        return set()
    return {
        c.adgroup_id
        for c in store.changes(effective[-1].id)
        if c.kind is ChangeKind.STATUS
        and c.to_value == AdGroupStatus.DISABLE
        and c.state is not ChangeState.APPLIED
    }


def remember(
    store: Store, account: str, adgroups: Sequence[AdGroup], *, large_edit_fraction: float
) -> list[AdGroup]:
    """The ad groups with the stage and last large edit the store remembers.

    Args:
        store: the job store.
        account: the account name.
        adgroups: the ad groups as the platform lists them now.
        large_edit_fraction: a relative budget change above this restarts learning.

    Returns:
        The same ad groups, in order, with ``stage`` and ``last_edit_date`` filled where
        the store knows them (a date the platform gave is kept when later).
    """
    stages = store.last_stages(account)
    edits = _last_edits(store, account, large_edit_fraction)
    ours = _unapplied_disables(store, account)
    out: list[AdGroup] = []
    for g in adgroups:
        stage = stages.get(g.adgroup_id)
        stopped = stage is Stage.PAUSED or stage is Stage.RESTING
        if stopped and g.status is AdGroupStatus.ENABLE and g.adgroup_id not in ours:
            stage = Stage.TESTING  # a person re-enabled it since
        edited = edits.get(g.adgroup_id)
        if g.last_edit_date is not None and (edited is None or g.last_edit_date > edited):
            edited = g.last_edit_date
        out.append(dataclasses.replace(g, stage=stage, last_edit_date=edited))
    return out
