"""Which archived objects may be purged: worked examples of the hot period and holds."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from sextant.archive.domain.purge import (
    ArchivedObject,
    Hold,
    cold_until,
    decide,
    deleted_items_cutoff,
    deleted_items_due,
    expiry,
    holds_meeting_lives,
    meeting,
    scope_hold,
)
from sextant.archive.domain.retention import DEFAULTS

WS, OTHER_WS = UUID(int=1), UUID(int=2)
# activity events of 2026-03-01, 09:00-17:00; activity_events stay hot 90 days by default,
# so from 2026-05-30T17:00Z on (March 31 + April 30 + May 29 days after the last event).
MARCH_1 = ArchivedObject(
    topic="sextant.activity",
    first_at=datetime(2026, 3, 1, 9, tzinfo=UTC),
    last_at=datetime(2026, 3, 1, 17, tzinfo=UTC),
    workspaces=frozenset({WS}),
)
HOT_END = datetime(2026, 5, 30, 17, tzinfo=UTC)


def test_an_object_is_purged_only_once_its_last_event_is_past_the_hot_period() -> None:
    early = decide(MARCH_1, DEFAULTS, [], datetime(2026, 5, 30, 16, 59, tzinfo=UTC))
    assert not early.purge and "2026-05-30T17:00:00+00:00" in early.reason
    assert decide(MARCH_1, DEFAULTS, [], HOT_END).purge


def test_a_topic_of_no_purged_class_is_never_purged() -> None:
    identity = ArchivedObject("sextant.identity", MARCH_1.first_at, MARCH_1.last_at, frozenset())
    decision = decide(identity, DEFAULTS, [], datetime(2099, 1, 1, tzinfo=UTC))
    assert not decision.purge and "no purged data class" in decision.reason


def test_a_hold_stops_the_purge_when_its_scope_and_time_range_cover_an_event() -> None:
    later = datetime(2026, 7, 1, tzinfo=UTC)
    tenant = Hold("tenant", None, None, None)
    assert not decide(MARCH_1, DEFAULTS, [tenant], later).purge
    own = Hold("workspace", WS, None, None)
    assert (
        "workspace:00000000-0000-0000-0000-000000000001"
        in decide(MARCH_1, DEFAULTS, [own], later).reason
    )
    assert decide(MARCH_1, DEFAULTS, [Hold("workspace", OTHER_WS, None, None)], later).purge
    developer = Hold("developer", UUID(int=9), None, None)
    assert not decide(MARCH_1, DEFAULTS, [developer], later).purge  # cannot tell: held


def test_a_hold_whose_time_range_misses_the_events_does_not_stop_the_purge() -> None:
    later = datetime(2026, 7, 1, tzinfo=UTC)
    ends_at_first_event = Hold("tenant", None, None, MARCH_1.first_at)  # [.., 09:00) misses
    starts_after_last = Hold("tenant", None, datetime(2026, 3, 1, 17, 0, 1, tzinfo=UTC), None)
    assert decide(MARCH_1, DEFAULTS, [ends_at_first_event, starts_after_last], later).purge
    at_last_event = Hold("tenant", None, MARCH_1.last_at, None)  # covers 17:00 exactly
    assert not decide(MARCH_1, DEFAULTS, [at_last_event], later).purge


def test_each_class_an_object_stands_for_ends_its_hot_period_on_its_own() -> None:
    attributed = ArchivedObject(
        "sextant.activity.attributed", MARCH_1.first_at, MARCH_1.last_at, frozenset({WS})
    )
    assert decide(attributed, DEFAULTS, [], HOT_END, "activity_events").purge
    # work items stay hot 730 days: 2027-03-01 is 365 days on, 2028-02-29 (a leap year) 365
    early = decide(attributed, DEFAULTS, [], HOT_END, "work_items")
    assert not early.purge and "2028-02-29T17:00:00+00:00" in early.reason
    assert decide(
        attributed, DEFAULTS, [], datetime(2028, 2, 29, 17, tzinfo=UTC), "work_items"
    ).purge
    # raw deliveries stay hot 30 days, from the activity topic's objects only
    assert decide(
        MARCH_1, DEFAULTS, [], datetime(2026, 3, 31, 17, tzinfo=UTC), "raw_deliveries"
    ).purge
    not_here = decide(attributed, DEFAULTS, [], datetime(2099, 1, 1, tzinfo=UTC), "raw_deliveries")
    assert not not_here.purge and "holds no raw_deliveries" in not_here.reason


def test_a_request_names_the_holds_whose_time_range_meets_the_object() -> None:
    other_workspace = Hold("workspace", OTHER_WS, None, None)
    before = Hold("tenant", None, None, MARCH_1.first_at)
    developer_that_day = Hold("developer", UUID(int=9), datetime(2026, 3, 1, 12, tzinfo=UTC), None)
    assert meeting([other_workspace, before, developer_that_day], MARCH_1) == [
        other_workspace,
        developer_that_day,
    ]


def test_an_object_is_deleted_once_every_class_it_stands_for_is_past_its_cold_period() -> None:
    # sextant.activity: activity_events kept cold 730 days, raw_deliveries 365: the longer
    # wins, 730 days after 2026-03-01T17:00Z is 2028-02-29T17:00Z (2028 is a leap year)
    early = expiry(MARCH_1, DEFAULTS, [], datetime(2028, 2, 29, 16, 59, tzinfo=UTC))
    assert not early.purge and "2028-02-29T17:00:00+00:00" in early.reason
    assert expiry(MARCH_1, DEFAULTS, [], datetime(2028, 2, 29, 17, tzinfo=UTC)).purge
    later = datetime(2029, 1, 1, tzinfo=UTC)
    assert not expiry(MARCH_1, DEFAULTS, [Hold("workspace", WS, None, None)], later).purge
    assert expiry(MARCH_1, DEFAULTS, [Hold("workspace", OTHER_WS, None, None)], later).purge
    identity = ArchivedObject("sextant.identity", MARCH_1.first_at, MARCH_1.last_at, frozenset())
    assert not expiry(identity, DEFAULTS, [], datetime(2099, 1, 1, tzinfo=UTC)).purge


def test_a_cold_copy_is_locked_until_the_longest_cold_period_of_its_topic() -> None:
    assert cold_until("sextant.activity", MARCH_1.last_at, DEFAULTS) == datetime(
        2028, 2, 29, 17, tzinfo=UTC
    )
    assert cold_until("sextant.identity", MARCH_1.last_at, DEFAULTS) is None


def test_a_scope_purge_is_stopped_by_any_hold_on_a_tenant_and_by_a_workspaces_own_or_wider() -> (
    None
):
    ws, other, dev = UUID(int=1), UUID(int=2), UUID(int=3)
    on_other = Hold("workspace", other, None, None)
    on_ws = Hold("workspace", ws, None, None)
    on_dev = Hold("developer", dev, None, None)
    tenant = Hold(
        "tenant", None, datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 2, 1, tzinfo=UTC)
    )
    assert scope_hold("workspace", ws, [on_other]) is None
    assert scope_hold("workspace", ws, [on_other, on_ws]) == on_ws
    assert scope_hold("workspace", ws, [on_dev]) == on_dev  # who a row is about may be in it
    assert scope_hold("workspace", ws, [tenant]) == tenant  # a past range still names rows
    assert scope_hold("tenant", None, [on_other]) == on_other
    assert scope_hold("tenant", None, []) is None


def test_items_deleted_in_their_tool_go_once_the_day_their_grace_ends_has_begun() -> None:
    # 30 days back from 2026-04-15 12:00 is 2026-03-16 12:00; the cut-off is that day's start
    cutoff = deleted_items_cutoff(datetime(2026, 4, 15, 12, tzinfo=UTC), 30)
    assert cutoff == datetime(2026, 3, 16, tzinfo=UTC)
    assert DEFAULTS["deleted_work_items"].hot_days == 30  # the gateway's soft-delete grace


def test_the_holds_named_for_deleted_items_are_those_starting_by_the_cut_off() -> None:
    cutoff = datetime(2026, 3, 16, tzinfo=UTC)
    open_ended = Hold("workspace", WS, None, None)
    started = Hold(
        "tenant", None, datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)
    )
    later = Hold("developer", OTHER_WS, datetime(2026, 3, 17, tzinfo=UTC), None)
    # an item deleted by the cut-off lived before it: a hold starting after cannot meet it;
    # one that ended long ago still may (the item may have lived then)
    assert holds_meeting_lives([open_ended, started, later], cutoff) == {open_ended, started}


def test_deleted_items_are_asked_for_again_when_the_cut_off_moves_or_the_holds_change() -> None:
    march_16, march_17 = datetime(2026, 3, 16, tzinfo=UTC), datetime(2026, 3, 17, tzinfo=UTC)
    held = frozenset({Hold("workspace", WS, None, None)})
    assert deleted_items_due(None, frozenset(), march_16, frozenset())  # never asked
    assert not deleted_items_due(march_16, held, march_16, held)  # the same request
    assert deleted_items_due(march_16, held, march_17, held)  # a day later
    assert deleted_items_due(march_16, held, march_16, frozenset())  # the hold released
    assert deleted_items_due(march_16, frozenset(), march_16, held)  # a hold placed
