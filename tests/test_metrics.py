"""Incident, responder, SLO and priority metrics against numbers computed by hand (METRICS.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from opsmeeting.aggregate.scorecards import build_scorecards
from opsmeeting.model import BinnedCounts, Counts, Shift, SloData, SloMeasurement, SourceStatus
from tests.builders import END, START, ack, at, escalate, incident, notify, resolve, snapshot


def incidents() -> list:
    i1 = at(hours=1)  # Mon 10:00 Lisbon: business hours for Ana
    i2 = at(days=1, hours=14)  # Tue 22:00Z: 23:00 Lisbon (sleep), 18:00 New York (off hours)
    i3 = at(days=2)
    i4 = at(days=3)  # Thu 08:00Z: 17:00 Tokyo (business); +15 min: 04:15 New York (sleep)
    return [
        incident(1, i1, notify(i1, "U1"), ack(i1 + timedelta(seconds=120), "U1"),
                 resolve(i1 + timedelta(seconds=600), "U1"), resolved_at=i1 + timedelta(seconds=600)),
        incident(2, i2, notify(i2, "U1", "phone_notification"),
                 notify(i2 + timedelta(seconds=20), "U2", "push_notification"),
                 ack(i2 + timedelta(seconds=300), "U1"), ack(i2 + timedelta(seconds=400), "U2"),
                 resolve(i2 + timedelta(seconds=3600), "U2"), resolved_at=i2 + timedelta(seconds=3600)),
        incident(3, i3, notify(i3, "U3", "email_notification"), resolve(i3 + timedelta(seconds=60)),
                 service="PS2", urgency="low", resolved_at=i3 + timedelta(seconds=60), title="Job 42 failed"),
        incident(4, i4, notify(i4, "U3"), escalate(i4 + timedelta(seconds=900)),
                 notify(i4 + timedelta(seconds=900), "U2", "phone_notification"),
                 ack(i4 + timedelta(seconds=1000), "U2"), service="PS4", priority="P2", status="acknowledged",
                 title="Gateway 5xx"),
        incident(5, START - timedelta(seconds=1), service="PS3", urgency="low"),  # before the window
        incident(6, END, urgency="low"),  # at the end: [start, end) excludes it
        incident(7, START, urgency="low"),  # at the start: included, still open
    ]


@pytest.fixture(scope="module")
def cards():
    shifts = [
        Shift(schedule_id="S1", person_id="U1", start=START - timedelta(days=2), end=START + timedelta(days=1)),
        Shift(schedule_id="S2", person_id="U1", start=START + timedelta(hours=12), end=START + timedelta(days=2)),
        Shift(schedule_id="S1", person_id="U3", start=START + timedelta(days=13), end=END + timedelta(days=5)),
    ]
    return build_scorecards(snapshot(incidents(), shifts=shifts))


def by_service(cards, name):
    return next(c for c in cards.services if c.service == name)


def test_service_incident_metrics(cards):
    checkout = by_service(cards, "checkout").incidents
    assert checkout.incidents_total == 3
    assert (checkout.incidents_high_urgency, checkout.incidents_low_urgency) == (2, 1)
    assert checkout.incidents_major == 1  # #2: acknowledged by two people
    assert checkout.incidents_open == 1
    assert checkout.acknowledged == 2
    assert checkout.mtta_mean_s == 210 and checkout.mtta_p50_s == 210
    assert checkout.mtta_p90_s == pytest.approx(282)
    assert checkout.mttr_mean_s == 2100 and checkout.mttr_p90_s == pytest.approx(3300)
    assert (checkout.interruptions, checkout.interruptions_business, checkout.interruptions_off_hours,
            checkout.interruptions_sleep) == (3, 1, 1, 1)
    assert checkout.hours_with_interruptions == 2

    ledger = by_service(cards, "ledger").incidents
    assert ledger.incidents_total == 1 and ledger.incidents_low_urgency == 1
    assert ledger.auto_resolved == 1 and ledger.resolved_without_ack == 1
    assert ledger.mtta_mean_s is None and ledger.mttr_p50_s == 60
    assert ledger.interruptions == 0  # email is not an interruption

    gateway = by_service(cards, "gateway").incidents
    assert gateway.incidents_major == 1  # priority P2, the account's second highest
    assert gateway.incidents_open == 1 and gateway.mttr_mean_s is None
    assert gateway.mtta_mean_s == 1000
    assert (gateway.escalated, gateway.timeout_escalated) == (1, 1)
    assert (gateway.interruptions_business, gateway.interruptions_sleep) == (1, 1)
    assert gateway.hours_with_interruptions == 1  # 08:00Z and 08:15Z share a clock hour


def test_overall_and_teams(cards):
    overall = cards.overall.incidents
    assert overall.incidents_total == 5
    assert overall.incidents_major == 2 and overall.incidents_open == 2
    assert overall.mtta_mean_s == pytest.approx(1420 / 3)
    assert overall.mtta_p50_s == 300 and overall.mtta_p90_s == pytest.approx(860)
    assert overall.mttr_mean_s == pytest.approx(1420) and overall.mttr_p50_s == 600
    assert overall.mttr_p90_s == pytest.approx(3000)
    assert (overall.interruptions, overall.interruptions_business, overall.interruptions_off_hours,
            overall.interruptions_sleep, overall.hours_with_interruptions) == (5, 2, 1, 2, 3)
    teams = {t.team: t.incidents for t in cards.teams}
    assert teams["payments"].incidents_total == 4 and teams["platform"].incidents_total == 1
    assert sum(c.incidents.incidents_total for c in cards.services) == overall.incidents_total


def test_responders(cards):
    r = {x.user: x for x in cards.responders}
    assert (r["U1"].interruptions, r["U1"].interruptions_sleep, r["U1"].acknowledged) == (2, 1, 2)
    assert (r["U2"].interruptions, r["U2"].interruptions_sleep, r["U2"].interruptions_off_hours) == (2, 1, 1)
    assert r["U2"].acknowledged == 1
    assert r["U1"].on_call_hours == 48.0  # two overlapping shifts, clipped at the window start
    assert r["U3"].on_call_hours == 25.0  # the last day lasts 25 h: the window crosses the DST change


def test_priority_and_problems(cards):
    ranks = {c.service: c.priority.rank for c in cards.services}
    assert ranks == {"checkout": 1, "gateway": 2, "ledger": 3}
    checkout = by_service(cards, "checkout").priority
    assert checkout.score == pytest.approx(2 * 1 + 1 * 5 + 1 * 1 + 2 * 0.5)
    assert {r.component: r.value for r in checkout.reasons}["recurrence"] == 2
    disk = next(p for p in cards.problems if p.service == "checkout")
    assert disk.count == 3 and disk.incident_numbers == [7, 1, 2]


def test_unique_incident_keys_do_not_make_one_problem():
    """Keys like checkout-api/000030 are unique per incident: grouping goes by title, and only keys that
    repeat make a problem of their own (never normalised: two keys are two alerts)."""
    t = START + timedelta(days=1)
    incidents = [
        *(incident(10 + i, t + timedelta(hours=i), title=f"Certificate expires in {7 - i} days",
                   key=f"checkout-api/{30 + i:06d}") for i in range(3)),
        *(incident(20 + i, t + timedelta(hours=10 + i), title=f"Queue depth {100 + i}",
                   key=f"checkout-api/{40 + i:06d}") for i in range(2)),
        *(incident(30 + i, t + timedelta(hours=20 + i), title=title, key="psp-timeouts")
          for i, title in enumerate(["PSP timeouts", "PSP timeouts (card)", "PSP latency"])),
        incident(40, t + timedelta(hours=30), title="PSP timeouts", key="psp-timeouts-2"),
    ]
    problems = {p.key: p for p in build_scorecards(snapshot(incidents)).problems}
    assert problems["certificate expires in <n> days"].count == 3
    assert problems["queue depth <n>"].count == 2
    psp = problems["key:psp-timeouts"]
    assert psp.count == 3 and psp.distinct_titles == 3 and psp.incident_numbers == [30, 31, 32]
    assert problems["psp timeouts"].incident_numbers == [40]  # its key is its own: grouped by title
    assert sum(p.count for p in problems.values()) == len(incidents)


def test_an_slo_covers_the_services_with_its_series_or_that_it_expects():
    """Without ``services``/``teams``, an SLO has rows for the services that had its series in the window
    or the SLO period; "no data" is said only of an expected service (here: none expected)."""
    snap = snapshot([], slos=True, measurements=SloData(source="prometheus", collected_at=END, measurements=[
        measurement(999, 1000, period_total=2000),
        SloMeasurement(service="ledger", slo="availability", window=Counts(), period_total=5000.0),
    ]))
    def rows(expected, data=snap.slos, status="ok"):
        slo = snap.setup.slos[0].model_copy(update={"expected": expected})
        sources = {**snap.sources, "prometheus": SourceStatus(status=status, detail="connection refused")}
        changed = snap.model_copy(update={"setup": snap.setup.model_copy(update={"slos": [slo]}), "slos": data,
                                          "sources": sources})
        return {c.service: [s.status for s in c.slos] for c in build_scorecards(changed).services}

    assert rows(None) == {"checkout": ["ok"], "ledger": ["no_data"], "gateway": []}  # ledger: in the period only
    assert rows(["gateway"]) == {"checkout": ["ok"], "ledger": ["no_data"], "gateway": ["no_data"]}  # expected
    # Prometheus down: an SLO that selects services is an error for those; one that selects none, for all
    assert rows(["gateway"], data=None, status="failed") == {"checkout": [], "ledger": [], "gateway": ["error"]}
    assert rows(None, data=None, status="failed") == {s: ["error"] for s in ("checkout", "ledger", "gateway")}


def measurement(good, total, **kw):
    return SloMeasurement(service="checkout", slo="availability", window=Counts(good=good, total=total), **kw)


def slo_cards(*measurements, incidents_=()):
    prom = SloData(source="prometheus", collected_at=END, measurements=list(measurements))
    return build_scorecards(snapshot(list(incidents_), slos=True, measurements=prom))


def test_slo_exact_definitions():
    cards = slo_cards(measurement(998_000, 1_000_000, period_total=2_000_000,
                                  previous=Counts(good=999_500, total=1_000_000)))
    slo = by_service(cards, "checkout").slos[0]
    assert slo.status == "ok"
    assert slo.sli == pytest.approx(0.998)
    assert slo.error_budget_consumed == pytest.approx(2.0)
    assert slo.error_budget_remaining == pytest.approx(-1.0)
    assert slo.period_budget_consumed == pytest.approx(1.0)
    assert slo.met is False and slo.bad == 2000
    assert slo.previous.error_budget_consumed == pytest.approx(0.5)
    # the services without a measurement are "no data", never 100 %
    ledger = by_service(cards, "ledger").slos[0]
    assert ledger.status == "no_data" and ledger.sli is None and ledger.met is None


@pytest.mark.parametrize(("good", "total", "status"), [(49, 50, "low_traffic"), (0, 0, "no_data")])
def test_slo_low_traffic_and_empty(good, total, status):
    slo = by_service(slo_cards(measurement(good, total)), "checkout").slos[0]
    assert slo.status == status and slo.met is None
    if total == 0:
        assert slo.sli is None and slo.error_budget_consumed is None


def test_budget_attribution_splits_overlaps():
    bins = [BinnedCounts(start=START + timedelta(hours=h), bad=0.0, total=3000.0) for h in range(336)]
    for hour, bad in ((10, 100.0), (11, 100.0), (20, 50.0)):
        bins[hour] = BinnedCounts(start=START + timedelta(hours=hour), bad=bad, total=3000.0)
    a = incident(10, at(hours=10, minutes=30), resolved_at=at(hours=11, minutes=30))
    b = incident(11, at(hours=11), resolved_at=at(hours=12))
    cards = slo_cards(measurement(1_000_000 - 250, 1_000_000, bins=bins, bin_seconds=3600), incidents_=[a, b])
    slo = by_service(cards, "checkout").slos[0]
    shares = {x.incident_number: x for x in slo.attribution}
    assert shares[10].bad == pytest.approx(75) and shares[11].bad == pytest.approx(75)
    assert shares[10].share_of_bad == pytest.approx(0.3)
    assert shares[10].share_of_budget == pytest.approx(0.075)
    assert slo.unattributed_share == pytest.approx(0.4)
    assert sum(x.share_of_bad for x in slo.attribution) + slo.unattributed_share == pytest.approx(1.0)


def test_pagerduty_missing_gives_nulls_not_zeros():
    snap = snapshot([]).model_copy(update={"incidents": None})
    cards = build_scorecards(snap)
    assert cards.overall.incidents.incidents_total is None
    assert all(c.incidents.interruptions is None for c in cards.services)
    # the ranking does not read the unknown incident load as zeros
    for card in cards.services:
        values = {r.component: r.value for r in card.priority.reasons}
        assert values["high_urgency_incidents"] is None and values["major_incidents"] is None
        assert values["sleep_interruptions"] is None and values["recurrence"] is None
        assert set(card.priority.unknown) == {"high_urgency_incidents", "major_incidents", "sleep_interruptions",
                                              "recurrence"}


def test_a_user_absent_from_users_is_named_as_unknown():
    t = START + timedelta(hours=5)
    ghost = incident(1, t, notify(t, "PGHOST1"), ack(t + timedelta(minutes=1), "PGHOST1"))
    cards = build_scorecards(snapshot([ghost]))
    responder = next(r for r in cards.responders if r.user == "PGHOST1")
    assert responder.name == "unknown user (PGHOST1)"


def test_a_second_acknowledger_is_a_responder_with_no_first_acknowledgement():
    """METRICS.md: every user who acknowledged is a responder; ``acknowledged`` counts first ones only.
    Found by the property test: a user who only acknowledged second was left out."""
    t = START + timedelta(hours=5)
    both = incident(1, t, ack(t + timedelta(seconds=53), "U2"), ack(t + timedelta(seconds=55), "U9"))
    r = {x.user: x for x in build_scorecards(snapshot([both])).responders}
    assert set(r) == {"U2", "U9"}
    assert (r["U2"].acknowledged, r["U9"].acknowledged, r["U9"].interruptions) == (1, 0, 0)
