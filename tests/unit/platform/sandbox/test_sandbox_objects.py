"""The sandbox records as JSON: keys in a fixed order, datetimes in the platform's format."""

from __future__ import annotations

from datetime import UTC, datetime

from allocator.platform.sandbox.objects import Campaign, EditRecord, SparkPost, record_json


def test_an_edit_record_shows_every_field_with_from_and_to_renamed() -> None:
    edit = EditRecord(1, "t", "2026-12-01", "g1", "budget", 50.0, 60.0, True, "r1", "/x/")
    assert list(edit.to_json().items()) == [
        ("seq", 1),
        ("time", "t"),
        ("sim_date", "2026-12-01"),
        ("adgroup_id", "g1"),
        ("field", "budget"),
        ("from", 50.0),
        ("to", 60.0),
        ("changed", True),
        ("request_id", "r1"),
        ("endpoint", "/x/"),
    ]


def test_named_fields_come_in_the_order_asked_with_datetimes_as_platform_text() -> None:
    at = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    post = SparkPost("i1", "code", "id1", "name", "text", "AUTHORIZED", at, at, at, bound=False)
    shown = record_json(post, ("bound", "auth_end_time", "item_id"))
    assert list(shown.items()) == [
        ("bound", False),
        ("auth_end_time", "2026-12-01 08:30:00"),
        ("item_id", "i1"),
    ]
    campaign = Campaign("c1", "n", 100.0, "BUDGET_MODE_DAY", False, "ENABLE", at)
    assert record_json(campaign)["create_time"] == "2026-12-01 08:30:00"
