"""Invariants of aggregation on random rotations (hypothesis)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from opsmeeting.aggregate.model import INCIDENT_KEYS
from opsmeeting.aggregate.scorecards import build_scorecards
from opsmeeting.model import BinnedCounts, Counts, SloData, SloMeasurement
from tests.builders import END, START, ack, at, incident, notify, resolve, snapshot

SECONDS = int((END - START).total_seconds())


@st.composite
def incidents(draw):
    out = []
    for number in range(1, draw(st.integers(0, 25)) + 1):
        created = START + timedelta(seconds=draw(st.integers(0, SECONDS - 1)))
        service = draw(st.sampled_from(["PS1", "PS2", "PS3", "PS4"]))
        entries = []
        if draw(st.booleans()):
            kind = draw(st.sampled_from(["sms_notification", "phone_notification", "email_notification"]))
            entries.append(notify(created, draw(st.sampled_from(["U1", "U2", "U3"])), kind))
        acked = draw(st.booleans())
        if acked:
            entries.append(ack(created + timedelta(seconds=draw(st.integers(1, 7200))), draw(st.sampled_from(["U1",
                                                                                                              "U2"]))))
        resolved_at = None
        if draw(st.booleans()):
            resolved_at = created + timedelta(seconds=draw(st.integers(7201, 90000)))
            entries.append(resolve(resolved_at, "U1" if draw(st.booleans()) else None))
        out.append(incident(number, created, *entries, service=service, resolved_at=resolved_at,
                            urgency=draw(st.sampled_from(["high", "low"])),
                            status=None if resolved_at else ("acknowledged" if acked else "triggered"),
                            priority=draw(st.sampled_from([None, "P1", "P2", "P3"])),
                            title=draw(st.sampled_from(["Disk 91% full on web-1.prod", "Latency", "5xx on api-3"]))))
    return out


@settings(max_examples=40, deadline=None)
@given(incidents())
def test_counts_add_up_and_percentiles_are_bounded(found):
    cards = build_scorecards(snapshot(found))
    overall = cards.overall.incidents
    for key in INCIDENT_KEYS:
        if key.startswith(("mtta", "mttr")) or key == "hours_with_interruptions":
            continue
        assert sum(getattr(c.incidents, key) for c in cards.services) == getattr(overall, key), key
        assert sum(getattr(t.incidents, key) for t in cards.teams) == getattr(overall, key), key
    assert overall.incidents_high_urgency + overall.incidents_low_urgency == overall.incidents_total
    assert overall.interruptions == (overall.interruptions_business + overall.interruptions_off_hours
                                     + overall.interruptions_sleep)
    for card in [*cards.services, cards.overall]:
        m = card.incidents
        for name in ("mtta", "mttr"):
            p50, p90, mean = (getattr(m, f"{name}_{k}_s") for k in ("p50", "p90", "mean"))
            if p50 is not None:
                assert p50 <= p90 + 1e-9
                assert mean >= 0
    ranks = sorted(c.priority.rank for c in cards.services)
    assert ranks == list(range(1, len(cards.services) + 1))
    assert sum(p.count for p in cards.problems) == overall.incidents_total


@settings(max_examples=40, deadline=None)
@given(incidents(), st.lists(st.integers(0, 50), min_size=337, max_size=337))
def test_attribution_shares_sum_to_at_most_one(found, bad_per_hour):
    bins = [BinnedCounts(start=START + timedelta(hours=h), bad=float(b), total=1000.0)
            for h, b in enumerate(bad_per_hour)]
    total = 1000.0 * len(bins)
    counts = Counts(good=total - sum(bad_per_hour), total=total)
    measurement = SloMeasurement(service="checkout", slo="availability", window=counts, bins=bins, bin_seconds=3600)
    prom = SloData(source="prometheus", collected_at=END, measurements=[measurement])
    cards = build_scorecards(snapshot(found, slos=True, measurements=prom))
    slo = next(c for c in cards.services if c.service == "checkout").slos[0]
    if sum(bad_per_hour) == 0:
        return
    shares = sum(a.share_of_bad for a in slo.attribution)
    assert 0 <= shares <= 1 + 1e-9
    assert all(a.share_of_bad >= 0 for a in slo.attribution)
    assert abs(shares + slo.unattributed_share - 1) < 1e-9


def test_percentiles_lie_between_min_and_max():
    values = [60, 600, 3600, 7200]
    found = [incident(i + 1, at(days=i), ack(at(days=i) + timedelta(seconds=v), "U1")) for i, v in enumerate(values)]
    o = build_scorecards(snapshot(found)).overall.incidents
    assert min(values) <= o.mtta_p50_s <= o.mtta_p90_s <= max(values)
