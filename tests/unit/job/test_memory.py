from __future__ import annotations

from pathlib import Path

from allocator.core.arms import AdGroup, AdGroupStatus, Kind, Stage
from allocator.job import Outcome, Store
from allocator.job.memory import remember
from plan_rows import plan_of


def test_a_stopped_ad_group_a_person_re_enabled_comes_back_as_testing(tmp_path: Path) -> None:
    rows = [
        (name, stage, "enable" if stage in ("testing", "scaling") else "disable")
        for name, stage in [("a", "resting"), ("b", "paused"), ("c", "resting"), ("d", "scaling")]
    ]
    plan = plan_of(
        {"adgroup_id": name, "from_budget": 50.0, "to_budget": 50.0, "from_status": "enable",
         "to_status": status, "stage": stage, "p_best": 0.1, "cpa_mean": 30.0,
         "cpa_low": 20.0, "cpa_high": 40.0, "reason": stage}
        for name, stage, status in rows
    )  # fmt: skip
    with Store.open(tmp_path / "job.db") as store:
        with store.lock("acme"):
            run = store.begin_run("acme", "2026-11-20", "cfg", plan)
            for change in store.pending_changes(run.id):
                store.mark_attempted(change.id)
                store.record_change_result(change.id, True, request_id="r")
            store.finish_run(run.id, Outcome.APPLIED)
        status = {"a": AdGroupStatus.ENABLE, "b": AdGroupStatus.ENABLE}
        groups = [
            AdGroup(name, Kind.DARK, "brand", name, 50.0, status.get(name, AdGroupStatus.DISABLE))
            for name in "abcd"
        ]
        remembered = remember(store, "acme", groups, large_edit_fraction=0.3)
    # a and b were re-enabled on the platform by a person: the engine tests them again;
    # c still rests (the engine may bring it back), d keeps its stage
    assert [g.stage for g in remembered] == [
        Stage.TESTING,
        Stage.TESTING,
        Stage.RESTING,
        Stage.SCALING,
    ]
