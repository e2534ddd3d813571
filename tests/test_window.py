"""Window arithmetic: rotation anchors, daylight-saving changes, windows that straddle them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsmeeting.errors import InputError
from opsmeeting.window import RotationClock, Window, parse_window

LISBON = RotationClock(datetime(2026, 1, 12, 9, 0), timedelta(days=14), "Europe/Lisbon")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_boundaries_keep_local_wall_time_across_dst():
    # 19 Oct (WEST, UTC+1) → 2 Nov (WET, UTC+0), across the change of Sun 25 Oct: 09:00 in Lisbon
    window = LISBON.last_completed(utc(2026, 11, 3, 12))
    assert (window.start, window.end) == (utc(2026, 10, 19, 8), utc(2026, 11, 2, 9))
    assert window.duration == timedelta(days=14, hours=1)
    assert window.local_start.hour == 9 and window.local_end.hour == 9


def test_spring_forward_window_is_an_hour_shorter():
    window = LISBON.window(LISBON.index_at(utc(2026, 3, 25)))
    assert window.start == utc(2026, 3, 23, 9) and window.end == utc(2026, 4, 6, 8)
    assert window.duration == timedelta(days=13, hours=23)


def test_last_completed_and_grace():
    end = utc(2026, 11, 16, 9)  # a boundary
    assert LISBON.last_completed(end + timedelta(minutes=30), timedelta(hours=1)).end == utc(2026, 11, 2, 9)
    assert LISBON.last_completed(end + timedelta(hours=1), timedelta(hours=1)).end == end
    assert LISBON.last_completed(end).end == end  # exactly at the boundary, with no grace


def test_current_is_provisional():
    window = LISBON.current(utc(2026, 11, 27, 15))
    assert window.provisional and window.contains(utc(2026, 11, 27, 15))
    assert window.start == utc(2026, 11, 16, 9) and window.end == utc(2026, 11, 30, 9)


def test_anchor_in_the_past_and_future_give_the_same_grid():
    later = RotationClock(datetime(2027, 6, 14, 9, 0), timedelta(days=14), "Europe/Lisbon")
    moment = utc(2026, 11, 3, 12)
    assert later.last_completed(moment) == LISBON.last_completed(moment)


def test_non_calendar_length_steps_in_absolute_time():
    clock = RotationClock(datetime(2026, 10, 24, 20, 0), timedelta(hours=12), "Europe/Lisbon")
    window = clock.window(1)  # crosses the fall-back night: still 12 real hours
    assert window.duration == timedelta(hours=12)


def test_days_cut_at_the_window_start():
    window = LISBON.last_completed(utc(2026, 11, 3, 12))
    days = window.days()
    assert len(days) == 14
    assert days[0] == (utc(2026, 10, 19, 8), utc(2026, 10, 20, 8))
    assert days[-1][1] - days[-1][0] == timedelta(hours=24)
    # the 25-hour day is the one with the change (Sun 25 Oct)
    long_days = [d for d in days if d[1] - d[0] == timedelta(hours=25)]
    assert long_days == [(utc(2026, 10, 24, 8), utc(2026, 10, 25, 9))]


def test_window_is_half_open_and_validated():
    window = Window(start=utc(2026, 1, 1), end=utc(2026, 1, 2))
    assert window.contains(utc(2026, 1, 1)) and not window.contains(utc(2026, 1, 2))
    with pytest.raises(ValueError):
        Window(start=utc(2026, 1, 2), end=utc(2026, 1, 1))


def test_parse_window():
    window = parse_window("2026-10-19T09:00/2026-11-02T09:00", "Europe/Lisbon")
    assert window.start == utc(2026, 10, 19, 8) and window.end == utc(2026, 11, 2, 9)
    assert parse_window("2026-10-19T08:00Z/2026-10-20T08:00Z", "Europe/Lisbon").duration == timedelta(days=1)
    for bad in ("2026-10-19", "2026-10-19/yesterday", "2026-10-20/2026-10-19"):
        with pytest.raises(InputError):
            parse_window(bad, "UTC")
