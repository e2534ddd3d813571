"""Exclusions, burn episodes, alerting gaps, pages without burn and calendar periods on hand-built hourly
counts (METRICS.md, "Exclusions", "Burn rates and alerting gaps", "Calendar periods"): every expected
number is computed here by hand from the hours."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from opsmeeting.aggregate.scorecards import build_scorecards
from opsmeeting.model import (
    Counts,
    DailyCounts,
    HourlyCounts,
    Incident,
    Maintenance,
    MaintenanceWindow,
    SloCorrection,
    SloData,
    SloMeasurement,
    Snapshot,
    calendar_label,
    calendar_period,
    following,
)
from tests.builders import END, START, WINDOW, incident, snapshot

H = timedelta(hours=1)
PREVIOUS = START - WINDOW.duration  # the previous window starts 14 d 1 h earlier
HOURS = int(WINDOW.duration / H)  # 337: the window crosses the end of summer time in Lisbon
TOTAL = 1000.0  # events per hour, everywhere
BASE_BAD = 0.1  # 0.1 bad events per hour: a burn rate of 0.1 at 99.9 %


def hour(i: int) -> datetime:
    """The start of the window's hour ``i`` (negative: the previous window's)."""
    return START + i * H


def measurement(bad: Callable[[int], float | None] = lambda i: BASE_BAD, total: Callable[[int], float | None] = (
        lambda i: TOTAL), service: str = "checkout", period_good: bool = False,
        period_start: datetime | None = None) -> SloMeasurement:
    """Hours from the previous window's start to the window end (its 28-day period lies inside them);
    instant counts are the sums of the hours, as Prometheus' are of its hourly increases."""
    first = -HOURS
    goods, totals = [], []
    for i in range(first, HOURS):
        t, b = total(i), bad(i)
        totals.append(t)
        goods.append(None if t is None or b is None else t - b)

    def sums(lo: int, hi: int) -> Counts:
        g = [goods[i - first] for i in range(lo, hi)]
        t = [totals[i - first] for i in range(lo, hi)]
        return Counts(good=None if None in g else sum(g), total=None if None in t else sum(t))  # type: ignore[arg-type]

    days = []
    for d0, d1 in WINDOW.days():
        lo, hi = int((d0 - START) / H), int((d1 - START) / H)
        c = sums(lo, hi)
        days.append(DailyCounts(date=d0.astimezone(WINDOW.tz).strftime("%Y-%m-%d"), start=d0, good=c.good,
                                total=c.total))
    period_lo = int(((END - timedelta(days=28)) - START) / H)
    window, previous = sums(0, HOURS), sums(-HOURS, 0)
    calendar = sums(int((period_start - START) / H), HOURS) if period_start else None
    return SloMeasurement(
        service=service, slo="availability", window=window, previous=previous,
        period_total=(calendar or sums(period_lo, HOURS)).total, period_covered=True, previous_period_covered=False,
        daily=days, hourly=HourlyCounts(start=hour(first), good=goods, total=totals), bin_seconds=3600,
        period_good=calendar.good if calendar and period_good else None,
    )


def cards_for(m: SloMeasurement, *, incidents: list[Incident] = (), maintenance: list[MaintenanceWindow] = (),
              corrections: list[SloCorrection] = (), setup_slo: dict | None = None, maintenance_known: bool = True):
    snap: Snapshot = snapshot(list(incidents), slos=True,
                              measurements=SloData(source="prometheus", collected_at=END, measurements=[m]))
    slo = snap.setup.slos[0].model_copy(update={"expected": None, **(setup_slo or {})})
    setup = snap.setup.model_copy(update={"slos": [slo], "slo_corrections": list(corrections)})
    data = snap.incidents
    assert data is not None
    if maintenance_known:
        data = data.model_copy(update={"maintenance": Maintenance(since=START, until=following(WINDOW).end,
                                                                  windows=list(maintenance))})
    cards = build_scorecards(snap.model_copy(update={"setup": setup, "incidents": data}))
    return cards, next(s for c in cards.services if c.service == m.service for s in c.slos)


def maintenance(start: datetime, end: datetime, services: tuple[str, ...] = ("PS1",), number: int = 1,
                description: str | None = "database upgrade") -> MaintenanceWindow:
    return MaintenanceWindow(id=f"PMW{number}", start=start, end=end, description=description,
                             service_ids=list(services), url=f"https://acme.pagerduty.com/maintenance_windows/PMW{number}")


def burst(hours: dict[int, float]) -> Callable[[int], float]:
    return lambda i: hours.get(i, BASE_BAD)


# --- exclusions ------------------------------------------------------------------------------------------


def test_a_maintenance_window_removes_the_whole_hours_it_overlaps():
    bad = burst({24 + 10: 300.0, 24 + 11: 500.0, 24 + 12: 200.0})  # a burst inside the maintenance
    m = measurement(bad)
    # 10:15 to 12:05 UTC on the second day overlaps the hours of 10:00, 11:00 and 12:00: 3 whole hours
    _, slo = cards_for(m, maintenance=[maintenance(hour(34) + timedelta(minutes=15), hour(36) + timedelta(minutes=5))])
    assert slo.raw.total == TOTAL * HOURS and slo.raw.bad == pytest.approx(BASE_BAD * (HOURS - 3) + 1000.0)
    assert slo.total == TOTAL * (HOURS - 3)
    assert slo.bad == pytest.approx(BASE_BAD * (HOURS - 3))
    assert slo.sli == pytest.approx(1 - BASE_BAD / TOTAL)
    assert slo.error_budget_consumed == pytest.approx(0.1)
    assert slo.raw.error_budget_consumed == pytest.approx(slo.raw.bad / slo.raw.total / 0.001)
    assert slo.status == "ok" and slo.met is True
    [x] = slo.excluded
    assert (x.kind, x.id, x.hours, x.hours_start, x.hours_end) == ("maintenance", "PMW1", 3, hour(34), hour(37))
    assert (x.total, x.bad, x.good) == (3 * TOTAL, 1000.0, 3 * TOTAL - 1000.0)
    assert x.reason == "database upgrade" and x.start == hour(34) + timedelta(minutes=15)
    # the day of the maintenance has 3 hours fewer; the others are as they were
    day = slo.daily[1]
    assert day.total == TOTAL * 21 and day.good == pytest.approx(TOTAL * 21 - BASE_BAD * 21)
    assert slo.daily[0].total == TOTAL * 24
    # the 28-day period's total loses the same 3 hours: the period budget is the window's bad over it
    assert slo.period_budget_consumed == pytest.approx(slo.bad / (0.001 * (TOTAL * (2 * HOURS - 2) - 3 * TOTAL)))
    # no burn episode is left: the burst was excluded
    assert slo.burn is not None and slo.burn.episodes == [] and slo.burn.hours == HOURS - 3


def test_overlapping_exclusions_are_subtracted_once():
    m = measurement(burst({40: 50.0, 41: 60.0, 42: 70.0, 43: 80.0}))
    correction = SloCorrection(start=hour(41) + timedelta(minutes=30), end=hour(44), reason="load test",
                               services=["checkout"], slos=None)
    _, slo = cards_for(m, maintenance=[maintenance(hour(40), hour(42) + timedelta(minutes=1))],
                       corrections=[correction])
    first, second = slo.excluded
    assert (first.kind, first.hours, first.bad) == ("maintenance", 3, 180.0)  # 40, 41, 42
    assert (second.kind, second.hours, second.bad) == ("correction", 1, 80.0)  # 43 only: 41, 42 were already out
    assert second.reason == "load test"
    assert slo.total == TOTAL * (HOURS - 4)
    assert slo.bad == pytest.approx(BASE_BAD * (HOURS - 4))


def test_corrections_select_services_and_slos_and_outside_the_window_change_only_the_previous_one():
    m = measurement(burst({-30: 400.0}))
    other = SloCorrection(start=hour(10), end=hour(11), reason="other service", services=["ledger"])
    other_slo = SloCorrection(start=hour(10), end=hour(11), reason="other SLO", services=None, slos=["latency"])
    before = SloCorrection(start=hour(-30), end=hour(-29), reason="bad scrape", services=None, slos=["availability"])
    _, slo = cards_for(m, corrections=[other, other_slo, before])
    assert slo.excluded == [] and slo.total == TOTAL * HOURS and slo.raw.total == slo.total
    assert slo.previous.total == TOTAL * (HOURS - 1) and slo.previous.raw.total == TOTAL * HOURS
    assert slo.previous.bad == pytest.approx(BASE_BAD * (HOURS - 1))
    [x] = slo.previous.excluded
    assert (x.kind, x.hours, x.bad, x.reason) == ("correction", 1, 400.0, "bad scrape")


def test_a_window_entirely_under_maintenance_is_not_judged():
    m = measurement(burst({5: 900.0}))
    _, slo = cards_for(m, maintenance=[maintenance(START - timedelta(days=1), END + timedelta(days=1),
                                                   description="datacentre move")])
    assert slo.status == "excluded" and slo.met is None and slo.sli is None
    assert "whole window was excluded" in slo.reason and "datacentre move" in slo.reason
    assert (slo.good, slo.total, slo.bad) == (0.0, 0.0, 0.0)
    assert slo.error_budget_consumed is None and slo.burn is None
    assert slo.raw.total == TOTAL * HOURS and slo.excluded[0].hours == HOURS
    assert slo.previous.status == "ok"  # the maintenance started a day before the window: 24 hours out
    assert slo.previous.total == TOTAL * (HOURS - 24)


def test_shapes_that_remove_nothing():
    """A maintenance window of no reported service, one that ends before it starts, one of an SLO that
    keeps maintenance, a correction after the window: nothing changes, nothing crashes."""
    m = measurement(burst({20: 300.0}))
    windows = [maintenance(hour(20), hour(21), services=(), number=1),
               maintenance(hour(20), hour(21), services=("PSX",), number=2),
               maintenance(hour(21), hour(20), number=3)]
    later = SloCorrection(start=END + H, end=END + 5 * H, reason="next week", services=None, slos=["availability"])
    _, slo = cards_for(m, maintenance=windows, corrections=[later])
    assert slo.excluded == [] and slo.bad == pytest.approx(BASE_BAD * (HOURS - 1) + 300.0)
    _, kept = cards_for(m, maintenance=[maintenance(hour(20), hour(21))], setup_slo={"exclude_maintenance": False})
    assert kept.excluded == [] and kept.total == TOTAL * HOURS


def test_an_excluded_hour_without_a_number_makes_the_counts_null_with_a_reason():
    m = measurement(total=lambda i: None if i == 50 else TOTAL)
    m = m.model_copy(update={"window": Counts(good=TOTAL * HOURS - 33.7, total=TOTAL * HOURS)})
    _, slo = cards_for(m, maintenance=[maintenance(hour(50), hour(51))])
    assert slo.good is None and slo.total is None and slo.sli is None and slo.met is None
    assert slo.status == "no_data" and "no hourly numbers" in slo.reason
    assert slo.raw.total == TOTAL * HOURS
    assert slo.excluded[0].hours == 1 and slo.excluded[0].total is None


def test_maintenance_windows_not_read_exclude_nothing_and_the_handoff_says_why():
    cards, slo = cards_for(measurement(burst({20: 300.0})), maintenance_known=False)
    assert slo.excluded == [] and slo.total == TOTAL * HOURS and slo.notes == []
    assert cards.handoff.maintenance_status == "unavailable" and "no maintenance windows" in \
        cards.handoff.maintenance_reason


# --- burn rates, episodes, alerting gaps -------------------------------------------------------------------


def test_peak_burn_and_hours_above_the_page_thresholds():
    # hour 100: 20× (above 14.4 over 1 h); hours 200-205: 7× each (6 h burn above 6 only at 205)
    hours = {100: 20.0, **{h: 7.0 for h in range(200, 206)}}
    _, slo = cards_for(measurement(burst(hours)))
    burn = slo.burn
    assert burn.peak_burn_rate_1h == pytest.approx(20.0) and burn.peak_at == hour(100)
    assert (burn.page_burn_rate_1h, burn.page_burn_rate_6h) == (14.4, 6.0)
    assert burn.hours_above_1h == 1
    # 6 h burn: at 205, (6 × 7 + 0) / 6 = 7; at 204, (5 × 7 + 0.1) / 6 = 5.85: only 205 (and 100's 6 h is 3.4)
    assert burn.hours_above_6h == 1
    one, two = burn.episodes
    assert (one.start, one.end, one.hours) == (hour(100), hour(101), 1)
    assert one.bad == 20.0 and one.budget_consumed == pytest.approx(20.0 / (0.001 * TOTAL * HOURS))
    assert (two.start, two.end, two.hours, two.peak_burn_rate_1h) == (hour(200), hour(206), 6, pytest.approx(7.0))
    assert two.bad == pytest.approx(42.0)
    assert burn.alerting_gaps == 2  # checkout had no incident at all
    assert burn.alerting_gap_budget == pytest.approx((20.0 + 42.0) / (0.001 * TOTAL * HOURS))


def test_thresholds_are_adjustable_per_slo():
    _, slo = cards_for(measurement(burst({100: 20.0})), setup_slo={"page_burn_rate_1h": 25.0})
    assert slo.burn.hours_above_1h == 0 and slo.burn.episodes == []


def test_a_burn_below_the_page_thresholds_is_no_episode():
    _, slo = cards_for(measurement(burst({h: 3.0 for h in range(100, 110)})))
    assert slo.burn.episodes == [] and slo.burn.peak_burn_rate_1h == pytest.approx(3.0)
    assert slo.burn.alerting_gaps == 0 and slo.burn.alerting_gap_budget == 0


def test_runs_separated_by_one_hour_are_one_episode_and_by_two_are_two():
    _, slo = cards_for(measurement(burst({100: 20.0, 102: 20.0, 200: 20.0, 203: 20.0})))
    starts = [(e.start, e.hours) for e in slo.burn.episodes]
    assert starts == [(hour(100), 3), (hour(200), 1), (hour(203), 1)]
    assert slo.burn.episodes[0].bad == pytest.approx(40.1)  # the quiet hour between is in it


def test_an_episode_with_a_page_is_no_gap_and_one_with_only_a_low_urgency_incident_is():
    bad = burst({100: 30.0, 101: 30.0, 200: 30.0})
    paged = incident(1, hour(101) + timedelta(minutes=20), resolved_at=hour(103))
    late = incident(2, hour(201) + timedelta(minutes=30), urgency="low", resolved_at=hour(202))  # within 1 h after
    _, slo = cards_for(measurement(bad), incidents=[paged, late])
    first, second = slo.burn.episodes
    assert (first.pages, first.other_incidents, first.alerting_gap) == ([1], [], False)
    assert (second.pages, second.other_incidents, second.alerting_gap) == ([], [2], True)
    assert slo.burn.alerting_gaps == 1 and slo.burn.alerting_gap_budget == pytest.approx(
        30.0 / (0.001 * TOTAL * HOURS))
    # an incident opened more than an hour after the episode does not answer it
    too_late = incident(3, hour(202) + timedelta(minutes=1), resolved_at=hour(203))
    _, slo = cards_for(measurement(bad), incidents=[paged, too_late])
    assert slo.burn.episodes[1].alerting_gap is True and slo.burn.episodes[1].pages == []


def test_without_incidents_gaps_are_unknown():
    _, slo = cards_for(measurement(burst({100: 30.0})))
    assert slo.burn.episodes[0].alerting_gap is True  # the incident source was read: checkout had none
    m = measurement(burst({100: 30.0}))
    snap = snapshot([], slos=True, measurements=SloData(source="prometheus", collected_at=END, measurements=[m]))
    snap = snap.model_copy(update={"incidents": None})
    cards = build_scorecards(snap)
    slo = next(s for c in cards.services for s in c.slos if c.service == "checkout")
    assert slo.burn.episodes[0].alerting_gap is None and slo.burn.alerting_gaps is None
    assert cards.pages_without_burn is None


def test_pages_without_burn_are_noise_candidates():
    bad = burst({100: 30.0})
    during = incident(1, hour(100) + timedelta(minutes=10), resolved_at=hour(100) + timedelta(minutes=40))
    quiet = incident(2, hour(150), resolved_at=hour(150) + timedelta(minutes=20), title="CPU high")
    low = incident(3, hour(160), urgency="low", resolved_at=hour(161))
    cards, _ = cards_for(measurement(bad), incidents=[during, quiet, low])
    [page] = cards.pages_without_burn
    assert (page.service, page.incident_number, page.title, page.slos) == ("checkout", 2, "CPU high", ["availability"])
    # an incident whose hours are all excluded cannot be judged either way
    cards, _ = cards_for(measurement(bad), incidents=[quiet], maintenance=[maintenance(hour(148), hour(152))])
    assert cards.pages_without_burn == []


# --- calendar periods ---------------------------------------------------------------------------------------


def test_calendar_periods_in_the_rotation_zone():
    lisbon = "Europe/Lisbon"
    assert calendar_period("month", datetime(2026, 11, 2, 9, tzinfo=UTC), lisbon) == (
        datetime(2026, 11, 1, 0, tzinfo=UTC), datetime(2026, 12, 1, 0, tzinfo=UTC))
    # a window ending at midnight on the 1st reports the month that just ended
    assert calendar_period("month", datetime(2026, 11, 1, 0, tzinfo=UTC), lisbon)[0] == datetime(2026, 10, 1, 0) \
        .replace(tzinfo=UTC) - timedelta(hours=1)  # 1 October 00:00 WEST
    march = calendar_period("month", datetime(2026, 3, 15, tzinfo=UTC), lisbon)
    assert march[1] - march[0] == timedelta(days=31, hours=-1)  # summer time starts on 29 March
    assert calendar_period("quarter", datetime(2026, 11, 2, 9, tzinfo=UTC), lisbon) == (
        datetime(2026, 9, 30, 23, tzinfo=UTC), datetime(2027, 1, 1, 0, tzinfo=UTC))
    assert calendar_period("quarter", datetime(2026, 1, 1, 0, tzinfo=UTC), "UTC")[0] == datetime(2025, 10, 1,
                                                                                                  tzinfo=UTC)
    assert calendar_period("month", datetime(2026, 12, 31, 23, tzinfo=UTC), "Pacific/Kiritimati")[0] == datetime(
        2026, 12, 31, 10, tzinfo=UTC)  # already January there: +14:00
    assert calendar_label("quarter", datetime(2026, 9, 30, 23, tzinfo=UTC), lisbon) == "Q4 2026"
    assert calendar_label("month", datetime(2026, 11, 1, tzinfo=UTC), lisbon) == "November 2026"


def test_a_calendar_month_that_starts_inside_the_rotation():
    month_start = datetime(2026, 11, 1, 0, tzinfo=UTC)  # 00:00 WET: hour 304 of the window (14 d 1 h long)
    first = int((month_start - START) / H)
    assert first == 304
    bad = burst({310: 50.0, 10: 500.0})  # one burst in October, one in November
    m = measurement(bad, period_good=True, period_start=month_start)
    _, slo = cards_for(m, setup_slo={"calendar": "month"})
    cal = slo.calendar
    elapsed = END - month_start  # 1 day 9 hours: 33 of the window's hours
    share = elapsed / timedelta(days=30)
    assert (cal.period, cal.label, cal.start, cal.end) == ("month", "November 2026", month_start,
                                                           datetime(2026, 12, 1, tzinfo=UTC))
    assert cal.elapsed_share == pytest.approx(share)
    hours_so_far = HOURS - first
    assert cal.total == TOTAL * hours_so_far and cal.bad == pytest.approx(BASE_BAD * (hours_so_far - 1) + 50.0)
    projected = TOTAL * hours_so_far / share
    assert cal.budget_consumed == pytest.approx(cal.bad / (0.001 * projected))
    assert cal.budget_remaining == pytest.approx(1 - cal.budget_consumed)
    assert cal.burn_rate_to_exhaust == pytest.approx(cal.budget_remaining / (1 - share))
    # the rotation is charged to November's budget with its November hours only
    assert slo.period_budget_consumed == pytest.approx(cal.bad / (0.001 * projected))
    # an exclusion in November removes its hours from the month too
    _, corrected = cards_for(m, setup_slo={"calendar": "month"},
                             maintenance=[maintenance(hour(310), hour(311))])
    assert corrected.calendar.total == TOTAL * (hours_so_far - 1)
    assert corrected.calendar.bad == pytest.approx(BASE_BAD * (hours_so_far - 1))


def test_a_month_already_overspent_needs_no_more_burn():
    month_start = datetime(2026, 11, 1, 0, tzinfo=UTC)
    m = measurement(burst({h: 900.0 for h in range(330, 337)}), period_good=True, period_start=month_start)
    _, slo = cards_for(m, setup_slo={"calendar": "month"})
    assert slo.calendar.budget_consumed > 1 and slo.calendar.budget_remaining < 0
    assert slo.calendar.burn_rate_to_exhaust == 0.0


# --- the summary -----------------------------------------------------------------------------------------


def test_the_summary_names_each_gap_with_its_budget_and_its_change():
    from opsmeeting.aggregate.model import History
    from opsmeeting.report.attention import alerting_gaps

    m = measurement(burst({100: 30.0, 101: 30.0}))
    quiet = incident(2, hour(150), resolved_at=hour(150) + timedelta(minutes=20), title="CPU high")
    snap = snapshot([quiet], slos=True, measurements=SloData(source="prometheus", collected_at=END, measurements=[m]))
    stored = {"service": "checkout", "slos": [{"name": "availability", "burn": {"alerting_gap_budget": 0.05}}]}
    history = History(windows=["2026-10-05"], services={"checkout": [stored]})
    heading = alerting_gaps(build_scorecards(snap, history=history))
    gap, noise = heading.lines
    assert gap.subject == "checkout · availability"
    budget = 60.0 / (0.001 * TOTAL * HOURS)
    assert gap.fact == f"Fri 23 Oct 13:00–15:00, peak 30× burn, {100 * budget:.0f} % of the budget, no page"
    assert gap.change == "gaps cost 5 % last rotation" and gap.anchor == "burn"
    assert (noise.subject, noise.fact) == ("1 page(s) with no SLO burn", "noise candidates: checkout 1 of 1")
    # the store's rotation had none; or the store does not know (a rotation stored before burn rates)
    stored["slos"][0]["burn"]["alerting_gap_budget"] = 0.0
    assert alerting_gaps(build_scorecards(snap, history=history)).lines[0].change == "no gap last rotation"
    stored["slos"][0].pop("burn")
    assert alerting_gaps(build_scorecards(snap, history=history)).lines[0].change is None
    unknown = alerting_gaps(build_scorecards(snap.model_copy(update={"incidents": None})))
    assert unknown.unknown == "PagerDuty gave no incidents" and not unknown.lines


# --- the configuration ---------------------------------------------------------------------------------------


def _config(**extra):
    from opsmeeting.config import parse_config

    return parse_config({
        "rotation": {"length": "14d", "anchor": "2026-10-19T09:00:00", "timezone": "Europe/Lisbon"},
        "teams": [{"name": "payments"}],
        "services": [{"name": "checkout", "team": "payments", "pagerduty_service_ids": ["PS1"],
                      "display_name": "Checkout API (v2)"},
                     {"name": "ledger", "team": "payments", "pagerduty_service_ids": ["PS2"]}],
        "slos": [{"name": "availability", "kind": "ratio", "objective": 0.999, "total": "t[{{window}}]",
                  "bad": "b[{{window}}]", **extra.pop("slo", {})}],
        "sources": {"prometheus": {"url": "http://127.0.0.1:9090"}},
        **extra,
    })


def test_periods_thresholds_and_corrections_in_the_configuration():
    from opsmeeting.errors import ConfigError
    from opsmeeting.pipeline import setup_from_config

    config = _config(slo={"period": "Month", "page_burn_rate_1h": 10, "exclude_maintenance": False},
                     slo_corrections=[
                         {"start": datetime(2026, 10, 25, 1, 30), "end": datetime(2026, 10, 25, 2, 30),
                          "services": ["checkout api*"], "reason": " bad deploy "},  # a name pattern, local time
                         {"start": datetime(2026, 10, 20, 10, tzinfo=UTC),
                          "end": datetime(2026, 10, 20, 11, tzinfo=UTC), "services": ["*"], "slos": ["availability"],
                          "reason": "scrape gap"}])
    slo = config.slos[0]
    assert (slo.calendar, slo.period, slo.page_burn_rate_6h) == ("month", "month", 6.0)
    setup, _ = setup_from_config(config, list(config.slos))
    s = setup.slos[0]
    assert (s.calendar, s.page_burn_rate_1h, s.exclude_maintenance) == ("month", 10.0, False)
    first, second = setup.slo_corrections
    # 01:30 on the night summer time ends is ambiguous in Lisbon: the first one (WEST, +01:00)
    assert (first.start, first.end) == (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 2, 30,
                                                                                             tzinfo=UTC))
    assert (first.services, first.slos, first.reason) == (["checkout"], None, "bad deploy")
    assert (second.services, second.slos) == (None, ["availability"])
    assert _config(slo={"period": "quarter"}).slos[0].calendar == "quarter"
    assert _config(slo={"period": "7d"}).slos[0].rolling == timedelta(days=7)
    for wrong, message in (({"slo": {"period": "fortnight"}}, "month"),
                           ({"slo": {"page_burn_rate_1h": 1}}, "greater than 1"),
                           ({"slo_corrections": [{"start": "2026-10-20T10:00:00Z", "end": "2026-10-20T09:00:00Z",
                                                  "services": ["*"], "reason": "x"}]}, "after `start`"),
                           ({"slo_corrections": [{"start": "2026-10-20T10:00:00Z", "end": "2026-10-20T11:00:00Z",
                                                  "reason": "x"}]}, "name the `services`"),
                           ({"slo_corrections": [{"start": "2026-10-20T10:00:00Z", "end": "2026-10-20T11:00:00Z",
                                                  "services": ["*"]}]}, "reason")):
        with pytest.raises(ConfigError) as info:
            _config(**wrong)
        assert any(message in p for p in info.value.problems), info.value.problems


# --- shapes of data that must not crash ---------------------------------------------------------------------


def test_old_snapshots_with_window_bins_only():
    """Snapshots made before ``hourly`` have the window's hours as bins: exclusions inside the window are
    applied, those in the previous window cannot be (its hours are unknown): null, with the reason."""
    from opsmeeting.model import BinnedCounts

    m = measurement(burst({30: 400.0}))
    assert m.hourly is not None
    bins = [BinnedCounts(start=hour(i), bad=m.hourly.total[HOURS + i] - m.hourly.good[HOURS + i],
                         total=m.hourly.total[HOURS + i]) for i in range(HOURS)]
    old = m.model_copy(update={"hourly": None, "bins": bins})
    inside = maintenance(hour(30), hour(31))
    before = SloCorrection(start=hour(-30), end=hour(-29), reason="bad scrape", services=None, slos=["availability"])
    _, slo = cards_for(old, maintenance=[inside], corrections=[before])
    assert slo.total == TOTAL * (HOURS - 1) and slo.bad == pytest.approx(BASE_BAD * (HOURS - 1))
    assert slo.previous.total is None and slo.previous.status == "no_data"
    assert "no hourly numbers" in slo.previous.reason
    assert slo.previous.raw.total == TOTAL * HOURS
    # the 28-day period reaches before the bins and has the correction in it: its budget is unknown
    assert slo.period_budget_consumed is None and any(n.startswith("period budget:") for n in slo.notes)
    assert slo.burn is not None and slo.burn.hours == HOURS - 1


@pytest.mark.parametrize("shape", ["no traffic", "nan hours", "no hourly counts", "ragged hourly", "nan everywhere"])
def test_shapes_that_must_not_crash(shape):
    m = measurement()
    assert m.hourly is not None
    if shape == "no traffic":
        m = measurement(bad=lambda i: 0.0, total=lambda i: 0.0)
    elif shape == "nan hours":
        m = measurement(bad=lambda i: None if i % 7 == 0 else 50.0 if i == 100 else BASE_BAD)
    elif shape == "no hourly counts":
        m = m.model_copy(update={"hourly": None})
    elif shape == "ragged hourly":
        m = m.model_copy(update={"hourly": m.hourly.model_copy(update={"good": m.hourly.good[:10]})})
    elif shape == "nan everywhere":
        m = measurement(bad=lambda i: None, total=lambda i: None).model_copy(
            update={"window": Counts(good=None, total=None)})
    everything = [maintenance(hour(100), hour(103)), maintenance(hour(101), hour(200), services=("PS1", "PS2"),
                                                                 number=2)]
    fixes = [SloCorrection(start=hour(-500), end=hour(-400), reason="long ago", services=None, slos=None),
             SloCorrection(start=hour(90), end=hour(110), reason="overlapping", services=["checkout"])]
    paged = incident(1, hour(100), resolved_at=hour(101))
    cards, slo = cards_for(m, incidents=[paged], maintenance=everything, corrections=fixes)
    json = cards.to_json_dict()  # strict JSON: no NaN anywhere
    import json as json_module

    json_module.dumps(json, allow_nan=False)
    assert slo.status in ("ok", "no_data", "excluded", "low_traffic")
    if shape == "no traffic":
        assert slo.status == "no_data" and slo.burn is None
    if shape == "no hourly counts":
        assert slo.burn is None and slo.total is None and slo.excluded[0].good is None


def test_the_hourly_counts_reach_back_to_the_calendar_period_on_the_window_grid():
    from opsmeeting.collectors.prometheus import MAX_HOURS, hourly_start, period_starts
    from opsmeeting.config import RatioSlo
    from opsmeeting.window import Window

    window = Window(start=datetime(2026, 11, 16, 9, 30, tzinfo=UTC), end=datetime(2026, 11, 30, 9, 30, tzinfo=UTC),
                    timezone="Europe/Lisbon")

    def slo(period: str) -> RatioSlo:
        return RatioSlo(name="a", objective=0.99, good="g[{{window}}]", total="t[{{window}}]", period=period)

    quarter = slo("quarter")
    now, before = period_starts(quarter, window)
    assert now == before == datetime(2026, 9, 30, 23, tzinfo=UTC)  # 1 October 00:00 WEST
    start = hourly_start(window, now)
    # on the window's grid (its :30), at or before the quarter's start: 22:30 on 30 September
    assert start == datetime(2026, 9, 30, 22, 30, tzinfo=UTC) and (window.start - start) % timedelta(hours=1) == \
        timedelta(0)
    rolling = slo("28d")
    assert period_starts(rolling, window) == (window.end - timedelta(days=28), window.start - timedelta(days=28))
    assert hourly_start(window, window.end - timedelta(days=28)) == window.start - timedelta(days=14)
    long_ago = hourly_start(window, window.end - timedelta(days=3650))
    assert (window.end - long_ago) == MAX_HOURS * timedelta(hours=1)


def test_the_summary_and_the_chat_say_what_a_missed_slo_leaves_out():
    from opsmeeting.aggregate.model import SloExclusion
    from opsmeeting.aggregate.scorecards import build_scorecards
    from opsmeeting.cli.app import sample_snapshot_dir
    from opsmeeting.delivery.digest import digest
    from opsmeeting.report.attention import missed_slos
    from opsmeeting.snapshot import read_snapshot

    cards = build_scorecards(read_snapshot(sample_snapshot_dir()))
    ledger = next(c for c in cards.services if c.service == "ledger")
    slo = next(s for s in ledger.slos if s.name == "availability")
    assert slo.met is False
    gone = SloExclusion(kind="maintenance", start=cards.window.start, end=cards.window.start, hours=2,
                        good=10.0, total=12.0, bad=2.0, reason="upgrade")
    changed = ledger.model_copy(update={"slos": [slo.model_copy(update={"excluded": [gone]}) if s is slo else s
                                                  for s in ledger.slos]})
    cards = cards.model_copy(update={"services": [changed if c is ledger else c for c in cards.services]})
    line = next(x for x in missed_slos(cards).lines if x.subject.startswith(ledger.display_name))
    assert line.fact.endswith("; 2 h excluded (maintenance))")
    assert "2 h excluded (maintenance)" in repr(digest(cards, title="Ops"))
