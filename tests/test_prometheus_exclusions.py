"""Exclusions, burn episodes, alerting gaps and a calendar month on a real Prometheus backfilled by promtool,
against exact values computed here from the backfilled samples themselves (METRICS.md, "Exclusions",
"Burn rates and alerting gaps", "Calendar periods").

The dataset is the session's (``tests.fakes.slo_data.dataset()``): ``payments`` has a burst of 5xx
(35 % errors) from 13:00 to 16:00 UTC on 23 October, inside the window of 19 October 08:00 to 2 November
08:00 UTC; ``checkout`` is steady. Both run one process without restarts, so the events of any range on
the sample grid are the differences of their counters' samples at its edges.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsmeeting.aggregate.scorecards import build_scorecards
from opsmeeting.collectors.prometheus import PrometheusCollector
from opsmeeting.config import PrometheusSource, RatioSlo, Service
from opsmeeting.model import (
    Incident,
    IncidentData,
    Maintenance,
    MaintenanceWindow,
    Setup,
    SetupService,
    SetupSlo,
    SetupTeam,
    SloCorrection,
    Snapshot,
    SourceRole,
    SourceService,
    SourceStatus,
    following,
)
from opsmeeting.window import Window
from tests.fakes.slo_data import REQUESTS, Dataset

GOOD = 'sum by (service) (increase(http_requests_total{code!~"5.."}[{{window}}]))'
TOTAL = "sum by (service) (increase(http_requests_total[{{window}}]))"
H = timedelta(hours=1)
BURST = datetime(2026, 10, 23, 13, tzinfo=UTC)  # payments' burst: three hours


def availability(period: str = "28d") -> RatioSlo:
    return RatioSlo(name="availability", objective=0.999, min_events=100, good=GOOD, total=TOTAL, period=period)


class Counter:
    """The exact events of one service over any range ``[a, b]`` on the sample grid, from its samples."""

    def __init__(self, ds: Dataset, service: str) -> None:
        series = [s for s in ds.series_by_service[service] if s.name == REQUESTS]
        assert len(series) == 2 and not ds.truth[service].resets  # code 200 and code 500 of one process
        self.start, self.spacing = series[0].timestamps[0], ds.spacing
        self.by_code = {s.labels["code"]: s.values for s in series}

    def _at(self, code: str, moment: datetime) -> int:
        return int(self.by_code[code][(int(moment.timestamp()) - self.start) // self.spacing])

    def events(self, a: datetime, b: datetime) -> tuple[int, int]:
        """(good, total) in ``[a, b)``."""
        good = self._at("200", b) - self._at("200", a)
        return good, good + self._at("500", b) - self._at("500", a)


def window_of(ds: Dataset) -> Window:
    return Window(start=ds.window.start, end=ds.window.end, timezone="UTC")


def collect(prometheus, slo: RatioSlo):
    ds = prometheus.dataset
    services = [Service(name=n, team="t", pagerduty_service_ids=[]) for n in ds.truth]
    collector = PrometheusCollector(PrometheusSource(url=prometheus.url), [slo], services)
    return collector.collect(window_of(ds))


@pytest.fixture(scope="module")
def rolling(prometheus):
    return collect(prometheus, availability())


@pytest.fixture(scope="module")
def monthly(prometheus):
    return collect(prometheus, availability("month"))


def snapshot_of(ds: Dataset, collected, *, calendar: str | None = None, incidents: list[Incident] = (),
                windows: list[MaintenanceWindow] = (), corrections: list[SloCorrection] = ()) -> Snapshot:
    data, status = collected
    window = window_of(ds)
    setup = Setup(
        teams=[SetupTeam(name="t")],
        services=[SetupService(name=n, team="t", source_ids=[f"P{n}"]) for n in ds.truth],
        slos=[SetupSlo(name="availability", kind="ratio", objective=0.999, period_seconds=28 * 86400,
                       min_events=100, calendar=calendar)],
        slo_corrections=list(corrections),
    )
    incident_data = IncidentData(
        source="pagerduty", collected_at=window.end + H, incidents=list(incidents),
        services=[SourceService(id=f"P{n}", name=n) for n in ds.truth],
        maintenance=Maintenance(since=window.start, until=following(window).end, windows=list(windows)),
    )
    return Snapshot(window=window, generated_at=window.end + H, setup=setup,
                    sources={"prometheus": status, "pagerduty": SourceStatus(status="ok")},
                    roles={"slos": SourceRole(source="prometheus", label="Prometheus"),
                           "incidents": SourceRole(source="pagerduty", label="PagerDuty")},
                    slos=data, incidents=incident_data)


def slo_of(cards, service: str):
    return next(s for c in cards.services if c.service == service for s in c.slos)


def maintenance(start: datetime, end: datetime, service: str, text: str) -> MaintenanceWindow:
    return MaintenanceWindow(id="PMW1", start=start, end=end, description=text, service_ids=[f"P{service}"])


def page(number: int, service: str, at: datetime, urgency: str = "high") -> Incident:
    return Incident(id=f"Q{number}", number=number, title="5xx on payments", service_id=f"P{service}", created_at=at,
                    status="resolved", urgency=urgency, resolved_at=at + 2 * H)  # type: ignore[arg-type]


def test_a_maintenance_window_inside_an_incident_burst(prometheus, rolling):
    ds = prometheus.dataset
    counter = Counter(ds, "payments")
    w0, w1 = ds.window.start, ds.window.end
    # 14:10 to 14:50: the whole hour of 14:00 is removed, the burst's middle hour
    cards = build_scorecards(snapshot_of(ds, rolling, windows=[maintenance(BURST + H + timedelta(minutes=10),
                                                                           BURST + H + timedelta(minutes=50),
                                                                           "payments", "failover drill")]))
    slo = slo_of(cards, "payments")
    raw_good, raw_total = counter.events(w0, w1)
    out_good, out_total = counter.events(BURST + H, BURST + 2 * H)
    assert (slo.raw.good, slo.raw.total) == (raw_good, raw_total)  # Prometheus' own answer
    assert (slo.good, slo.total, slo.bad) == (raw_good - out_good, raw_total - out_total,
                                              raw_total - out_total - raw_good + out_good)
    [x] = slo.excluded
    assert (x.kind, x.hours, x.hours_start, x.hours_end, x.good, x.total) == (
        "maintenance", 1, BURST + H, BURST + 2 * H, out_good, out_total)
    assert x.bad == ds.truth["payments"].availability.bad_by_step[int((BURST + H - w0) / H)]
    assert slo.sli == slo.good / slo.total
    # the burst is still one episode: the hours before and after the maintenance, and the hour between
    [episode] = slo.burn.episodes
    before, after = counter.events(BURST, BURST + H), counter.events(BURST + 2 * H, BURST + 3 * H)
    bad = (before[1] - before[0]) + (after[1] - after[0])
    assert (episode.start, episode.end, episode.hours, episode.bad) == (BURST, BURST + 3 * H, 3, bad)
    assert episode.budget_consumed == pytest.approx(bad / (0.001 * slo.total), rel=1e-12)
    assert episode.peak_burn_rate_1h == pytest.approx(
        max((b[1] - b[0]) / b[1] for b in (before, after)) / 0.001, rel=1e-12)
    # an episode above 14.4x that nobody was paged for: an alerting gap
    assert episode.peak_burn_rate_1h > 14.4 and episode.alerting_gap is True and episode.pages == []
    assert slo.burn.alerting_gap_budget == pytest.approx(episode.budget_consumed, rel=1e-12)
    assert slo.burn.hours_above_1h == 2  # 13:00 and 15:00; 14:00 is not judged


def test_an_episode_with_a_page_and_one_without(prometheus, rolling):
    ds = prometheus.dataset
    paged = build_scorecards(snapshot_of(ds, rolling, incidents=[page(7, "payments", BURST + timedelta(minutes=20))]))
    [episode] = slo_of(paged, "payments").burn.episodes
    assert (episode.start, episode.end, episode.pages, episode.alerting_gap) == (BURST, BURST + 3 * H, [7], False)
    counter = Counter(ds, "payments")
    good, total = counter.events(BURST, BURST + 3 * H)
    _, window_total = counter.events(ds.window.start, ds.window.end)
    assert episode.bad == total - good
    assert episode.budget_consumed == pytest.approx((total - good) / (0.001 * window_total), rel=1e-12)
    low = build_scorecards(snapshot_of(ds, rolling, incidents=[page(8, "payments", BURST, urgency="low")]))
    [episode] = slo_of(low, "payments").burn.episodes
    assert (episode.pages, episode.other_incidents, episode.alerting_gap) == ([], [8], True)
    # a page in checkout's quiet hours: no SLO burned there, a noise candidate
    quiet = build_scorecards(snapshot_of(ds, rolling, incidents=[page(9, "checkout", BURST)]))
    assert [(p.service, p.incident_number) for p in quiet.pages_without_burn] == [("checkout", 9)]
    assert slo_of(quiet, "checkout").burn.episodes == []


def test_a_correction(prometheus, rolling):
    ds = prometheus.dataset
    counter = Counter(ds, "checkout")
    start, end = datetime(2026, 10, 25, 0, tzinfo=UTC), datetime(2026, 10, 25, 6, tzinfo=UTC)
    fix = SloCorrection(start=start, end=end, reason="synthetic load test", services=["checkout"], slos=None)
    cards = build_scorecards(snapshot_of(ds, rolling, corrections=[fix]))
    slo = slo_of(cards, "checkout")
    raw_good, raw_total = counter.events(ds.window.start, ds.window.end)
    out_good, out_total = counter.events(start, end)
    assert (slo.good, slo.total) == (raw_good - out_good, raw_total - out_total)
    [x] = slo.excluded
    assert (x.kind, x.hours, x.total, x.bad, x.reason) == ("correction", 6, out_total, out_total - out_good,
                                                           "synthetic load test")
    day = next(d for d in slo.daily if d.date == "2026-10-24")  # days start at 08:00 UTC
    day_good, day_total = counter.events(datetime(2026, 10, 24, 8, tzinfo=UTC), datetime(2026, 10, 25, 8, tzinfo=UTC))
    assert (day.good, day.total) == (day_good - out_good, day_total - out_total)
    period_total = counter.events(ds.window.end - timedelta(days=28), ds.window.end)[1] - out_total
    assert slo.period_budget_consumed == pytest.approx(slo.bad / (0.001 * period_total), rel=1e-12)
    assert slo_of(cards, "payments").excluded == []


def test_a_rotation_entirely_under_maintenance(prometheus, rolling):
    ds = prometheus.dataset
    everything = maintenance(ds.window.start - H, ds.window.end + H, "checkout", "region evacuation")
    cards = build_scorecards(snapshot_of(ds, rolling, windows=[everything]))
    slo = slo_of(cards, "checkout")
    assert slo.status == "excluded" and slo.met is None and slo.sli is None and slo.burn is None
    assert "region evacuation" in slo.reason
    assert slo.raw.total == ds.truth["checkout"].availability.window.total
    assert slo.excluded[0].hours == 14 * 24
    assert slo.previous.status == "ok"  # the hour before the window start only
    assert slo.previous.total == ds.truth["checkout"].availability.previous.total - Counter(ds, "checkout").events(
        ds.window.start - H, ds.window.start)[1]


def test_a_calendar_month_crossing_the_window(prometheus, monthly):
    _, status = monthly
    assert status.status == "ok"
    # one more instant query for a calendar SLO (the period's good events); the hourly ranges (from the
    # month's start, 4 weeks of hours) a week at a time: 1 + 2 × 4 ranges; + buildinfo
    assert status.requests_by_endpoint == {"GET /api/v1/query": 7, "GET /api/v1/query_range": 9,
                                           "GET /api/v1/status/buildinfo": 1}
    ds = prometheus.dataset
    november = datetime(2026, 11, 1, tzinfo=UTC)
    counter = Counter(ds, "payments")
    fix = SloCorrection(start=november + 2 * H, end=november + 3 * H, reason="bad deploy rolled back",
                        services=["payments"], slos=["availability"])
    cards = build_scorecards(snapshot_of(ds, monthly, calendar="month", corrections=[fix]))
    slo = slo_of(cards, "payments")
    cal = slo.calendar
    good, total = counter.events(november, ds.window.end)
    out_good, out_total = counter.events(november + 2 * H, november + 3 * H)
    assert (cal.label, cal.start, cal.end) == ("November 2026", november, datetime(2026, 12, 1, tzinfo=UTC))
    share = (ds.window.end - november) / timedelta(days=30)  # 32 hours of 720
    assert cal.elapsed_share == pytest.approx(share, rel=1e-12)
    assert (cal.good, cal.total) == (good - out_good, total - out_total)
    projected = (total - out_total) / share
    consumed = (cal.total - cal.good) / (0.001 * projected)
    assert cal.budget_consumed == pytest.approx(consumed, rel=1e-12)
    assert cal.budget_remaining == pytest.approx(1 - consumed, rel=1e-12)
    assert cal.burn_rate_to_exhaust == pytest.approx((1 - consumed) / (1 - share), rel=1e-12)
    # the rotation's bad events in November, over November's budget
    assert slo.period_budget_consumed == pytest.approx(consumed, rel=1e-12)
    # October so far starts before the data: the previous window's period budget is null, with its reason
    assert slo.previous.period_budget_consumed is None
    assert any("reach back less than the calendar month" in n for n in slo.previous.notes)
