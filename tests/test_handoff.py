"""The handoff to the next rotation (METRICS.md, "Handoff"): open incidents at the window end with their
state, owners and age; those acknowledged too long; maintenance windows of the next rotation. On
hand-built snapshots (every number by hand), against the PagerDuty fake over HTTPS, and in the demo."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from opsmeeting.aggregate.handoff import build_handoff
from opsmeeting.aggregate.scorecards import build_scorecards
from opsmeeting.cli import sample_snapshot_dir
from opsmeeting.collectors.pagerduty import PagerDutyCollector
from opsmeeting.collectors.pagerduty.collector import OPEN_INCIDENTS
from opsmeeting.config import PagerDutySource
from opsmeeting.config.schema import parse_config
from opsmeeting.errors import ConfigError
from opsmeeting.meeting.model import MeetingView
from opsmeeting.model import (
    Holder,
    Incident,
    Maintenance,
    MaintenanceWindow,
    Person,
    Snapshot,
    SourceStatus,
    following,
)
from opsmeeting.report.output import read_scorecards
from opsmeeting.report.render import render_report
from opsmeeting.snapshot import read_snapshot, write_snapshot
from opsmeeting.window import RotationClock, Window
from tests.builders import END, START, USERS, WINDOW, ack, at, entry, human, incident, machine, resolve, snapshot
from tests.fakes import pagerduty_data as pd
from tests.fakes.pagerduty import FakePagerDuty, make_maintenance_window

FIXTURES = Path(__file__).parent / "fixtures"
DAY = 86400.0


def handoff_of(incidents: list[Incident], **data: object):
    snap = snapshot(incidents)
    assert snap.incidents is not None
    snap = snap.model_copy(update={"incidents": snap.incidents.model_copy(update={"earlier_open": [], **data})})
    return build_handoff(snap)


def by_number(listed, number):
    return next(i for i in listed if i.number == number)


def unacknowledge(when: datetime) -> object:
    return entry("unacknowledged", when, actor=machine())


def assign(when: datetime, *people: str) -> object:
    return entry("assigned", when, actor=human("U1"), person_id=people[0], assignees=list(people))


# --- the state at the window end ---------------------------------------------------------------------------


def test_open_at_the_end_triggered_or_acknowledged_with_exact_ages():
    t1, t2, t3 = at(days=3), at(days=10, hours=5), at(days=12)
    h = handoff_of([
        incident(1, t1, assign(t1, "U2")),  # never acknowledged
        incident(2, t2, ack(t2 + timedelta(minutes=4), "U1"), status="acknowledged"),
        incident(3, t3, resolve(t3 + timedelta(hours=1)), resolved_at=t3 + timedelta(hours=1)),  # resolved in
        incident(4, END, urgency="low"),  # the next rotation's
    ])
    assert h.status == "ok" and h.reason is None and h.as_of == END
    assert [i.number for i in h.open_incidents] == [1, 2]  # high urgency both: triggered first
    one, two = by_number(h.open_incidents, 1), by_number(h.open_incidents, 2)
    assert one.state == "triggered" and one.acknowledged_since is None and one.acknowledged_by == []
    assert [(o.user, o.name) for o in one.owners] == [("U2", "Grace")] and one.owner_basis == "assignment"
    assert one.age_s == (END - t1).total_seconds() == (11 * 24 + 1) * 3600  # the window has its DST hour
    assert two.state == "acknowledged" and two.acknowledged_since == t2 + timedelta(minutes=4)
    assert two.acknowledged_for_s == (END - t2).total_seconds() - 240
    assert [o.name for o in two.owners] == ["Ana"] and two.owner_basis == "acknowledgement"
    assert two.age_s == (END - t2).total_seconds() and two.status_now == "acknowledged"
    assert [i.number for i in h.acknowledged_long] == [2]  # 3 d 20 h > 24 h


def test_acknowledged_then_resolved_after_the_end_was_open_at_the_end():
    t = END - timedelta(hours=3)
    resolved = END + timedelta(minutes=30)
    h = handoff_of([incident(5, t, ack(t + timedelta(minutes=1), "U3"), resolve(resolved, "U3"),
                             resolved_at=resolved)])
    (only,) = h.open_incidents
    assert only.state == "acknowledged" and only.status_now == "resolved" and only.resolved_at == resolved
    assert [o.name for o in only.owners] == ["Hiro"]


def test_acknowledged_after_the_end_was_triggered_at_the_end():
    t = END - timedelta(minutes=10)
    h = handoff_of([incident(6, t, ack(END + timedelta(minutes=5), "U1"), status="acknowledged")])
    (only,) = h.open_incidents
    assert only.state == "triggered" and only.status_now == "acknowledged" and only.acknowledged_since is None


def test_reacknowledged_after_a_timeout_counts_from_the_new_acknowledgement():
    t = END - timedelta(hours=40)
    h = handoff_of([
        # acknowledged, timed out, acknowledged again 2 h before the end
        incident(7, t, ack(END - timedelta(hours=30), "U1"), unacknowledge(END - timedelta(hours=28)),
                 ack(END - timedelta(hours=2), "U2"), status="acknowledged"),
        # acknowledged by one, then by another, without a break: one acknowledgement since the first
        incident(8, t, ack(END - timedelta(hours=30), "U1"), ack(END - timedelta(hours=2), "U3"),
                 ack(END - timedelta(hours=1), "U1"), status="acknowledged"),
        # reassigned after the acknowledgement: triggered for the new assignees
        incident(9, t, ack(END - timedelta(hours=30), "U1"), assign(END - timedelta(hours=5), "U2", "U3"),
                 status="triggered"),
    ])
    seven, eight, nine = (by_number(h.open_incidents, n) for n in (7, 8, 9))
    assert seven.acknowledged_since == END - timedelta(hours=2) and seven.acknowledged_for_s == 7200
    assert [p.user for p in seven.acknowledged_by] == ["U2"]
    assert eight.acknowledged_since == END - timedelta(hours=30) and eight.acknowledged_for_s == 30 * 3600
    assert [p.user for p in eight.acknowledged_by] == ["U3", "U1"]  # the most recent last
    assert [p.user for p in eight.owners] == ["U1"]  # whoever acknowledged it last
    assert nine.state == "triggered" and [p.user for p in nine.owners] == ["U2", "U3"]
    assert [i.number for i in h.acknowledged_long] == [8]


@pytest.mark.parametrize(("acknowledged_before_end", "listed"), [
    (timedelta(hours=24), False),  # exactly the limit: not longer than it
    (timedelta(hours=24, seconds=1), True),
])
def test_the_limit_is_exclusive(acknowledged_before_end, listed):
    t = END - timedelta(days=3)
    h = handoff_of([incident(10, t, ack(END - acknowledged_before_end, "U1"), status="acknowledged")])
    assert h.acknowledged_longer_than_s == DAY
    assert bool(h.acknowledged_long) is listed


def test_the_limit_comes_from_the_setup():
    snap = snapshot([incident(11, END - timedelta(hours=5), ack(END - timedelta(hours=3), "U1"),
                              status="acknowledged")])
    snap = snap.model_copy(update={"setup": snap.setup.model_copy(
        update={"handoff_acknowledged_longer_than_seconds": 7200.0})})
    h = build_handoff(snap)
    assert h.acknowledged_longer_than_s == 7200 and [i.number for i in h.acknowledged_long] == [11]


def test_most_urgent_first():
    t = at(days=1)
    h = handoff_of([
        incident(20, t, urgency="low"),
        incident(21, t + timedelta(days=1), ack(t + timedelta(days=1, minutes=1), "U1"), status="acknowledged"),
        incident(22, t + timedelta(days=2)),
        incident(23, t + timedelta(days=3), priority="P2"),
        incident(24, t + timedelta(days=4), priority="P1", urgency="low"),
        incident(25, t - timedelta(hours=1)),
    ])
    # priority first (P1, P2, then none), then high urgency, then not acknowledged, then the oldest
    assert [i.number for i in h.open_incidents] == [24, 23, 25, 22, 21, 20]
    assert by_number(h.open_incidents, 24).priority == "P1"


def test_honest_nulls_for_bad_data():
    t = at(days=5)
    h = handoff_of([
        # acknowledged by a user the source no longer lists (deleted)
        incident(30, t, ack(t + timedelta(minutes=1), "UGONE"), status="acknowledged"),
        # triggered, and nobody is known to hold it
        incident(31, t),
        # acknowledged says the source, but no acknowledgement is in its timeline and no time is given
        incident(32, t, status="acknowledged"),
        # the same, with the source's own status time and acknowledgers
        Incident(id="Q33", number=33, title="", service_id="PS1", created_at=t, status="acknowledged",
                 urgency="high", status_changed_at=t + timedelta(hours=1),
                 acknowledgements=[Holder(person_id="U2", at=t + timedelta(hours=1))]),
        # an automation acknowledged it: no person owns it, its assignees do
        incident(34, t, assign(t, "U3"), entry("acknowledged", t + timedelta(minutes=2), actor=machine()),
                 status="acknowledged"),
    ])
    gone, nobody, blind, told, auto = (by_number(h.open_incidents, n) for n in (30, 31, 32, 33, 34))
    assert [(o.user, o.name) for o in gone.owners] == [("UGONE", None)]
    assert nobody.owners == [] and nobody.owner_basis is None
    assert blind.state == "acknowledged" and blind.acknowledged_since is None and blind.acknowledged_for_s is None
    assert any(n.startswith("#32: acknowledged, since when is unknown") for n in h.notes)
    assert told.acknowledged_since == t + timedelta(hours=1) and [o.name for o in told.owners] == ["Grace"]
    assert told.title == "" and told.html_url is None
    assert auto.state == "acknowledged" and [o.user for o in auto.owners] == ["U3"] and auto.owner_basis == "assignment"
    assert h.status == "ok"  # every state is known: the notes say what is not
    assert 32 not in [i.number for i in h.acknowledged_long]


def test_incidents_opened_before_the_window():
    before = START - timedelta(days=20)
    unchanged = Incident(id="Q40", number=40, title="Disk full", service_id="PS1", created_at=before,
                         status="acknowledged", urgency="low", status_changed_at=before + timedelta(hours=1),
                         assignments=[Holder(person_id="U1", at=before)],
                         acknowledgements=[Holder(person_id="U1", at=before + timedelta(hours=1))])
    changed_blind = Incident(id="Q41", number=41, title="Queue lag", service_id="PS2", created_at=before,
                             status="acknowledged", urgency="high", status_changed_at=END + timedelta(minutes=5))
    other_service = dataclasses.replace(unchanged, id="Q42", number=42, service_id="PS9")
    h = handoff_of([incident(43, at(days=2))], earlier_open=[unchanged, changed_blind, other_service])
    assert {i.number for i in h.open_incidents} == {40, 41, 43}
    forty = by_number(h.open_incidents, 40)
    assert forty.opened_before_window and forty.state == "acknowledged"
    assert forty.acknowledged_since == before + timedelta(hours=1) and forty.age_s == (END - before).total_seconds()
    assert [i.number for i in h.acknowledged_long] == [40]
    blind = by_number(h.open_incidents, 41)
    assert blind.state is None  # it changed after the end, and its timeline is not in the snapshot
    assert h.status == "partial" and "state at the window end of 1 incident(s) is unknown (#41)" in h.reason


def test_without_the_earlier_incidents_the_list_says_it_is_partial():
    snap = snapshot([incident(50, at(days=2))])  # as older snapshots: earlier_open is None
    h = build_handoff(snap)
    assert h.status == "partial" and [i.number for i in h.open_incidents] == [50]
    assert "does not have the incidents opened before this rotation" in h.reason
    assert snap.incidents is not None
    failed = snap.incidents.model_copy(update={"unavailable": {"earlier_incidents": "GET /incidents: HTTP 500"}})
    h = build_handoff(snap.model_copy(update={"incidents": failed}))
    assert h.status == "partial" and "could not be read (GET /incidents: HTTP 500)" in h.reason


@pytest.mark.parametrize(("status", "words"), [
    (SourceStatus(status="failed", detail="GET /incidents: HTTP 503 after 4 attempts"),
     "PagerDuty could not be read: GET /incidents: HTTP 503"),
    (SourceStatus(status="not_configured", detail="not configured (sources.pagerduty)"),
     "PagerDuty: not configured (sources.pagerduty)"),
])
def test_a_missing_source_is_never_an_empty_handoff(status, words):
    snap = snapshot([incident(60, at(days=1))]).model_copy(update={"incidents": None,
                                                                    "sources": {"pagerduty": status}})
    h = build_handoff(snap)
    assert h.status == "unavailable" and h.open_incidents is None and h.acknowledged_long is None
    assert h.maintenance_status == "unavailable" and h.maintenance_windows is None
    assert h.reason is not None and h.reason.startswith(words) and h.maintenance_reason == h.reason
    cards = build_scorecards(snap)
    assert cards.handoff == h and cards.to_json_dict()["handoff"]["open_incidents"] is None


def test_a_provisional_report_hands_off_as_of_the_collection():
    collected = END - timedelta(days=2)
    t = at(days=3)
    h = handoff_of([incident(71, t, ack(t + timedelta(hours=1), "U1"), ack(END - timedelta(days=1), "U2"),
                             status="acknowledged")], collected_at=collected)
    assert h.as_of == collected and h.next_rotation.start == END
    (only,) = h.open_incidents
    assert only.age_s == (collected - t).total_seconds() and only.acknowledged_for_s == (
        collected - t).total_seconds() - 3600
    assert [p.user for p in only.acknowledged_by] == ["U1"]  # the later acknowledgement has not happened yet


def test_people_and_priorities_that_could_not_be_read_are_named():
    t = at(days=4)
    h = handoff_of([incident(70, t, ack(t + timedelta(minutes=1), "U1"), status="acknowledged")], people=[],
                   unavailable={"people": "GET /users: HTTP 403"})
    assert [(o.user, o.name) for o in h.open_incidents[0].owners] == [("U1", None)]
    assert any("names are unknown" in n for n in h.notes) and h.status == "ok"


# --- maintenance windows ------------------------------------------------------------------------------------


def mw(number: int, start: datetime, hours: float = 1, services: tuple[str, ...] = ("PS1",)) -> MaintenanceWindow:
    return MaintenanceWindow(id=f"PMW{number}", start=start, end=start + timedelta(hours=hours),
                             description=f"maintenance {number}", service_ids=list(services),
                             url=f"https://acme.pagerduty.com/maintenance_windows/PMW{number}")


def test_maintenance_windows_starting_in_the_next_rotation():
    after = following(WINDOW)
    assert (after.start, after.end) == (END, END + timedelta(days=14))  # 14 local days, no DST change in it
    windows = [
        mw(1, START + timedelta(days=2)),  # inside the window: kept in the snapshot for SLOs, not handed off
        mw(2, END - timedelta(minutes=30)),  # ongoing at the end: started before
        mw(3, END, services=("PS3", "PS2", "PS4")),  # gateway (PS3, PS4) and ledger
        mw(4, after.end - timedelta(seconds=1), hours=3),
        mw(5, after.end),  # the rotation after the next
        mw(6, END + timedelta(days=2), services=("PS9",)),  # a service not in the report
    ]
    h = handoff_of([], maintenance=Maintenance(since=START, until=after.end, windows=windows))
    assert h.maintenance_status == "ok" and h.maintenance_reason is None
    assert [(m.id, m.services) for m in h.maintenance_windows] == [("PMW3", ["gateway", "ledger"]),
                                                                   ("PMW4", ["checkout"])]
    assert h.maintenance_windows[1].duration_s == 3 * 3600
    assert h.next_rotation.start == END and h.next_rotation.end == after.end


def test_maintenance_read_over_a_shorter_range_is_partial():
    h = handoff_of([], maintenance=Maintenance(since=START, until=END + timedelta(days=3), windows=[]))
    assert h.maintenance_status == "partial" and "not the whole next rotation" in h.maintenance_reason
    assert h.maintenance_windows == []


def test_maintenance_not_collected_or_unreadable_is_unknown():
    h = handoff_of([])
    assert h.maintenance_status == "unavailable" and h.maintenance_windows is None
    assert "this snapshot has no maintenance windows" in h.maintenance_reason
    h = handoff_of([], unavailable={"maintenance_windows": "GET /maintenance_windows: HTTP 403 Forbidden"})
    assert h.maintenance_windows is None and "could not be read: GET /maintenance_windows: HTTP 403" in (
        h.maintenance_reason or "")
    assert h.status == "ok"  # only this part


def test_the_next_rotation_keeps_its_local_start_across_daylight_saving():
    clock = RotationClock(datetime(2026, 1, 12, 9), timedelta(days=14), "Europe/Lisbon")
    assert following(clock.window(19)) == clock.window(20)  # 5 → 19 Oct → 2 Nov (across the change)
    assert following(clock.window(20)) == clock.window(21)
    hourly = Window(start=datetime(2026, 10, 25, 0, tzinfo=UTC), end=datetime(2026, 10, 25, 12, tzinfo=UTC),
                    timezone="Europe/Lisbon")
    assert following(hourly).end == datetime(2026, 10, 26, 0, tzinfo=UTC)  # 12 h is not whole days: absolute


# --- compatibility -----------------------------------------------------------------------------------------


def test_old_scorecards_and_snapshots_still_load(tmp_path):
    document = build_scorecards(read_snapshot(sample_snapshot_dir())).to_json_dict()
    del document["handoff"]  # as scorecards.json was written before the handoff
    (tmp_path / "scorecards.json").write_text(json.dumps(document))
    assert read_scorecards(tmp_path / "scorecards.json").handoff is None
    old = read_snapshot(FIXTURES / "snapshot-v1")
    assert old.incidents is not None and old.incidents.maintenance is None and old.incidents.earlier_open is None
    h = build_scorecards(old).handoff
    assert h is not None and h.status == "partial" and h.maintenance_status == "unavailable"


def test_the_new_parts_round_trip_through_the_snapshot(tmp_path):
    sample = read_snapshot(sample_snapshot_dir())
    assert sample.incidents is not None and sample.incidents.maintenance and sample.incidents.earlier_open
    write_snapshot(sample, tmp_path / "copy")
    assert read_snapshot(tmp_path / "copy") == sample
    document = json.loads((tmp_path / "copy" / "incidents.json").read_text())
    del document["maintenance"], document["earlier_open"]  # as a snapshot of the version before
    for item in document["incidents"]:
        for key in ("assignments", "acknowledgements", "status_changed_at"):
            del item[key]
        for event in item["events"]:
            del event["assignees"]
    (tmp_path / "copy" / "incidents.json").write_text(json.dumps(document))
    older = read_snapshot(tmp_path / "copy")
    assert older.incidents is not None and older.incidents.maintenance is None
    assert build_scorecards(older).handoff.maintenance_status == "unavailable"


# --- configuration ---------------------------------------------------------------------------------------


def config_of(**extra: object):
    return parse_config({"rotation": {"anchor": "2026-01-12T09:00:00", "timezone": "Europe/Lisbon"},
                         "teams": [{"name": "payments"}],
                         "services": [{"name": "checkout", "team": "payments", "pagerduty_service_ids": ["PS1"]}],
                         **extra})


def test_the_limit_is_configured_like_the_other_durations():
    assert config_of().handoff.acknowledged_longer_than == timedelta(hours=24)
    assert config_of(handoff={"acknowledged_longer_than": "1d12h"}).handoff.acknowledged_longer_than == timedelta(
        hours=36)
    with pytest.raises(ConfigError, match=r"handoff.acknowledged_longer_than: must be longer than 0s"):
        config_of(handoff={"acknowledged_longer_than": "0s"})
    with pytest.raises(ConfigError, match=r"handoff.acknowledged_longer_tahn: unknown key"):
        config_of(handoff={"acknowledged_longer_tahn": "2h"})


# --- the collector against the fake, over HTTPS ------------------------------------------------------------

CLOCK = RotationClock(datetime(2026, 1, 12, 9), timedelta(days=14), "Europe/Lisbon")
PD_WINDOW = CLOCK.window(20)  # Mon 19 Oct 09:00 → Mon 2 Nov 09:00 Lisbon
COLLECTED = PD_WINDOW.end + timedelta(hours=6)
TEAM = pd.make_team("PT1", "payments")
ANA = pd.make_user("PU1", "Ana Lima", "Europe/Lisbon", team_ids=["PT1"])
BO = pd.make_user("PU2", "Bo Chen", "Asia/Kolkata", team_ids=["PT1"])
CHECKOUT = pd.make_service("PS1", "checkout", ["PT1"], team_names={"PT1": "payments"})
SEARCH = pd.make_service("PS2", "search", ["PT1"], team_names={"PT1": "payments"})
OTHER = pd.make_service("PS9", "not-configured", [])


@pytest.fixture
def fake() -> Iterator[FakePagerDuty]:
    with FakePagerDuty(clock=lambda: COLLECTED) as server:
        server.teams, server.users, server.services = [TEAM], [ANA, BO], [CHECKOUT, SEARCH, OTHER]
        server.priorities = [pd.make_priority("PP1", "P1", 500)]
        yield server
        server.assert_valid()


def collector(fake: FakePagerDuty, service_ids: list[str] | None = None) -> PagerDutyCollector:
    source = PagerDutySource(base_url=fake.url, ca_bundle=fake.ca_bundle, max_retries=1, concurrency=4)
    return PagerDutyCollector(source, service_ids=service_ids or ["PS1", "PS2"], token="test-token",
                              now=lambda: COLLECTED, sleep=lambda _: None, backoff=0.001, requests_per_minute=0)


def rotation(fake: FakePagerDuty) -> None:
    """Incidents of the window and of earlier rotations, and maintenance windows from long ago to after
    the next rotation."""
    start, end = PD_WINDOW.start, PD_WINDOW.end
    t1 = end - timedelta(hours=30)
    late = pd.make_incident("PI1", 101, CHECKOUT, t1, status="acknowledged",
                            acknowledgers=[(ANA, t1 + timedelta(hours=29))], assignees=[(ANA, t1)])
    old_ack = start - timedelta(days=9)
    carried = pd.make_incident("PI2", 88, SEARCH, start - timedelta(days=10), status="acknowledged",
                               acknowledgers=[(BO, old_ack)], assignees=[(BO, start - timedelta(days=10))])
    moved = start - timedelta(days=3)
    changed = pd.make_incident("PI3", 95, CHECKOUT, moved, status="acknowledged",
                               acknowledgers=[(ANA, end + timedelta(hours=1))], assignees=[(ANA, moved)])
    resolved_old = pd.make_incident("PI4", 90, CHECKOUT, start - timedelta(days=5), status="resolved",
                                    resolved_at=start - timedelta(days=4))
    fake.incidents = [late, carried, changed, resolved_old]
    fake.log_entries = [
        pd.trigger(late, t1), pd.assign(late, t1, [ANA]), pd.acknowledge(late, t1 + timedelta(hours=29), ANA),
        pd.trigger(carried, start - timedelta(days=10)), pd.acknowledge(carried, old_ack, BO),
        pd.trigger(changed, moved), pd.assign(changed, moved, [ANA]),
        pd.acknowledge(changed, end + timedelta(hours=1), ANA),
        pd.trigger(resolved_old, start - timedelta(days=5)), pd.resolve(resolved_old, start - timedelta(days=4)),
    ]
    after = following(PD_WINDOW)
    fake.maintenance_windows = [
        make_maintenance_window("PMW1", [CHECKOUT], start - timedelta(days=40), start - timedelta(days=39),
                                "long ago", sequence_number=1),
        make_maintenance_window("PMW2", [SEARCH], start + timedelta(days=3), start + timedelta(days=3, hours=2),
                                "inside the window", sequence_number=2),
        make_maintenance_window("PMW3", [CHECKOUT, OTHER], end + timedelta(days=2),
                                end + timedelta(days=2, hours=1), "next rotation", sequence_number=3,
                                created_by=ANA),
        make_maintenance_window("PMW4", [CHECKOUT], after.end + timedelta(hours=1),
                                after.end + timedelta(hours=2), "after the next", sequence_number=4),
        make_maintenance_window("PMW5", [OTHER], end + timedelta(days=1), end + timedelta(days=1, hours=1),
                                "not ours", sequence_number=5),
        make_maintenance_window("PMW6", [SEARCH], end + timedelta(hours=5), end + timedelta(hours=7),
                                "ongoing at the collection", sequence_number=6),
        make_maintenance_window("PMW7", [SEARCH], start - timedelta(days=2), start - timedelta(days=2, hours=-1),
                                "in the previous window", sequence_number=7),
    ]
    fake.reindex()


def test_collects_maintenance_windows_and_earlier_incidents_in_few_requests(fake):
    rotation(fake)
    data, status = collector(fake).collect(PD_WINDOW)
    assert status.status == "ok", status.detail
    assert data.maintenance is not None
    # from the previous window's start (its SLO exclusions) to the next rotation's end (the handoff)
    assert data.maintenance.since == PD_WINDOW.start - (PD_WINDOW.end - PD_WINDOW.start)
    assert data.maintenance.until == following(PD_WINDOW).end
    assert [w.id for w in data.maintenance.windows] == ["PMW7", "PMW2", "PMW6", "PMW3"]  # in the range, by start
    third = data.maintenance.windows[-1]
    assert third.service_ids == ["PS1", "PS9"] and third.description == "next rotation"
    assert third.start == PD_WINDOW.end + timedelta(days=2)  # sent in the account's zone, read as UTC
    assert third.url and third.url.startswith("https://")
    counts = status.requests_by_endpoint
    assert counts["GET /maintenance_windows"] == 1 and counts[OPEN_INCIDENTS] == 1
    sent = [r.query for r in fake.requests if r.path == "/maintenance_windows"]
    assert sent[0].get("filter") == "all" and sorted(sent[0].getlist("service_ids[]")) == ["PS1", "PS2"]
    # earlier incidents: the unchanged one needs nothing more; the one acknowledged after the end gets its
    # own timeline (one request), to replay its state at the end
    assert data.earlier_open is not None and [i.number for i in data.earlier_open] == [88, 95]
    carried, changed = data.earlier_open
    assert carried.events == [] and [h.person_id for h in carried.acknowledgements] == ["PU2"]
    assert sorted(e.kind for e in changed.events) == ["acknowledged", "assigned", "triggered"]
    assert counts["GET /incidents/{id}/log_entries"] == 1
    late = next(i for i in data.incidents if i.number == 101)
    assert [e.assignees for e in late.events if e.kind == "assigned"] == [("PU1",)]

    cards = build_scorecards(Snapshot(window=PD_WINDOW, generated_at=COLLECTED, setup=setup(),
                                      sources={"pagerduty": status}, roles=ROLES, incidents=data))
    h = cards.handoff
    assert h is not None and h.status == "ok" and h.maintenance_status == "ok"
    # #95 was acknowledged only after the end; #101 an hour before it; #88 nine days before the window
    assert [(i.number, i.state) for i in h.open_incidents] == [(95, "triggered"), (88, "acknowledged"),
                                                               (101, "acknowledged")]
    assert [i.number for i in h.acknowledged_long] == [88]
    eighty_eight, ninety_five, late = (by_number(h.open_incidents, n) for n in (88, 95, 101))
    assert eighty_eight.acknowledged_since == PD_WINDOW.start - timedelta(days=9) and eighty_eight.opened_before_window
    assert [(o.user, o.name) for o in eighty_eight.owners] == [("PU2", "Bo Chen")]
    assert ninety_five.status_now == "acknowledged" and ninety_five.owner_basis == "assignment"
    assert [o.name for o in ninety_five.owners] == ["Ana Lima"]
    assert late.acknowledged_for_s == 3600 and late.owner_basis == "acknowledgement"
    assert [m.id for m in h.maintenance_windows] == ["PMW6", "PMW3"]
    assert h.maintenance_windows[1].services == ["checkout"]


def test_maintenance_windows_of_many_services_page_per_hundred(fake):
    fake.validate = "requests"  # 120 windows: responses validated elsewhere
    ids = [f"PX{i:04d}" for i in range(250)]
    fake.services = [pd.make_service(i, f"svc-{i}", []) for i in ids[:2]]
    start = PD_WINDOW.end + timedelta(days=1)
    fake.maintenance_windows = [make_maintenance_window(f"PMW{k}", fake.services[:1], start + timedelta(hours=k),
                                                        start + timedelta(hours=k, minutes=30), sequence_number=k)
                                for k in range(120)]
    data, status = collector(fake, service_ids=ids).collect(PD_WINDOW)
    assert data.maintenance is not None and len(data.maintenance.windows) == 120
    # three groups of at most 100 services; the first has two pages
    assert status.requests_by_endpoint["GET /maintenance_windows"] == math.ceil(250 / 100) + 1
    assert status.requests_by_endpoint[OPEN_INCIDENTS] == math.ceil(250 / 100)


def test_the_fake_filters_maintenance_windows_by_state_and_service(fake):
    rotation(fake)
    api = collector(fake)

    def ids(**params: object) -> list[str]:
        body = api.get("/maintenance_windows", {"limit": 100, **params})
        return [w["id"] for w in body["maintenance_windows"]]

    # at the fake's clock (6 h after the window end), PMW6 is ongoing
    assert ids(filter="past") == ["PMW1", "PMW2", "PMW7"]
    assert ids(filter="ongoing") == ["PMW6"]
    assert ids(filter="future") == ["PMW3", "PMW4", "PMW5"]
    assert ids(filter="open") == ["PMW3", "PMW4", "PMW5", "PMW6"]
    assert ids(filter="all", **{"service_ids[]": ["PS9"]}) == ["PMW3", "PMW5"]
    assert ids(**{"team_ids[]": ["PT1"]}) == ["PMW1", "PMW2", "PMW3", "PMW4", "PMW6", "PMW7"]
    body = api.get("/maintenance_windows", {"filter": "all", "limit": 2, "offset": 2, "total": "true"})
    assert [w["id"] for w in body["maintenance_windows"]] == ["PMW3", "PMW4"] and body["total"] == 7
    assert body["maintenance_windows"][0]["start_time"].endswith("-05:00")  # the account's zone (New York)


def test_a_forbidden_maintenance_list_degrades_only_that_part(fake):
    rotation(fake)
    whole, _ = collector(fake).collect(PD_WINDOW)
    fake.inject("/maintenance_windows", status=403, times=1)
    data, status = collector(fake).collect(PD_WINDOW)
    assert data.maintenance is None and "HTTP 403" in data.unavailable["maintenance_windows"]
    assert status.status == "degraded"
    assert "maintenance_windows could not be read" in status.detail
    assert "the handoff cannot list the maintenance windows of the next rotation" in status.detail
    # everything else is as it was
    assert data.model_copy(update={"unavailable": {}, "maintenance": whole.maintenance}) == whole
    cards = build_scorecards(Snapshot(window=PD_WINDOW, generated_at=COLLECTED, setup=setup(),
                                      sources={"pagerduty": status}, roles=ROLES, incidents=data))
    assert cards.handoff is not None and cards.handoff.status == "ok" and len(cards.handoff.open_incidents) == 3
    assert cards.handoff.maintenance_status == "unavailable" and cards.handoff.maintenance_windows is None
    assert "HTTP 403" in (cards.handoff.maintenance_reason or "")


def test_a_malformed_maintenance_window_degrades_only_that_part(fake):
    rotation(fake)
    fake.inject("/maintenance_windows", times=1, body=json.dumps(
        {"maintenance_windows": [{"id": "PMWX", "start_time": "soon", "end_time": None}], "limit": 100,
         "offset": 0, "more": False, "total": 1}).encode())
    data, status = collector(fake).collect(PD_WINDOW)
    assert data.maintenance is None and "malformed answer" in data.unavailable["maintenance_windows"]
    assert status.status == "degraded" and len(data.incidents) == 1


def test_the_configured_limit_end_to_end(fake, tmp_path):
    from opsmeeting.pipeline import collect

    rotation(fake)
    config = parse_config({
        "rotation": {"anchor": "2026-01-12T09:00:00", "timezone": "Europe/Lisbon"},
        "teams": [{"name": "payments"}],
        "services": [{"name": "checkout", "team": "payments", "pagerduty_service_ids": ["PS1"]},
                     {"name": "search", "team": "payments", "pagerduty_service_ids": ["PS2"]}],
        "sources": {"pagerduty": {"base_url": fake.url, "ca_bundle": fake.ca_bundle, "token_env": "PD_TEST_TOKEN",
                                  "requests_per_minute": 0}},
        "handoff": {"acknowledged_longer_than": "30d"},
    })
    collected = collect(config, PD_WINDOW, environ={"PD_TEST_TOKEN": "test-token"}, now=lambda: COLLECTED)
    assert collected.snapshot.setup.handoff_acknowledged_longer_than_seconds == 30 * DAY, (
        "pipeline.setup_from_config passes handoff_acknowledged_longer_than_seconds="
        "config.handoff.acknowledged_longer_than.total_seconds() to the Setup")
    h = build_scorecards(collected.snapshot).handoff
    assert h is not None and h.acknowledged_longer_than_s == 30 * DAY
    assert h.acknowledged_long == []  # #88 has been acknowledged 23 days


ROLES = {"incidents": snapshot([]).roles["incidents"]}


def setup():
    from opsmeeting.model import Setup, SetupService, SetupTeam

    return Setup(teams=[SetupTeam(name="payments")],
                 services=[SetupService(name="checkout", team="payments", source_ids=["PS1"]),
                           SetupService(name="search", team="payments", source_ids=["PS2"])])


# --- the demo's sample ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_report():
    cards = build_scorecards(read_snapshot(sample_snapshot_dir()))
    return cards, render_report(cards, MeetingView(), pdf=True)


def test_the_sample_has_a_handoff(sample_report):
    cards, _ = sample_report
    h = cards.handoff
    assert h is not None and h.status == "ok" and h.maintenance_status == "ok"
    assert len(h.open_incidents) >= 5 and any(i.opened_before_window for i in h.open_incidents)
    assert {"triggered", "acknowledged"} <= {i.state for i in h.open_incidents}
    assert any(i.status_now == "resolved" for i in h.open_incidents)  # resolved after the end: open at it
    assert h.acknowledged_long and all(i.acknowledged_for_s > DAY for i in h.acknowledged_long)
    assert [m.id for m in h.maintenance_windows] == ["PMW0034", "PMW0035"]
    document = cards.to_json_dict()["handoff"]
    assert document["as_of"] == "2026-11-02T09:00:00Z" and document["next_rotation"]["end"] == "2026-11-16T09:00:00Z"
    assert {"number", "title", "service", "priority", "urgency", "created_at", "age_s", "state", "acknowledged_since",
            "acknowledged_by", "owners", "owner_basis"} <= set(document["open_incidents"][0])


def test_the_sample_renders_the_handoff_on_the_page_and_in_the_pdf(sample_report):
    cards, rendered = sample_report
    h = cards.handoff
    assert h is not None
    page = rendered.html
    section = page[page.index('<section class="agenda-item" id="handoff"'):]
    section = section[:section.index("</section>")]
    for part in ("handoff-open", "handoff-acknowledged", "handoff-maintenance"):
        assert f'id="{part}"' in section
    assert section.count('class="slide-unit') == 3
    for item in h.open_incidents:
        assert f">#{item.number}<" in section
    assert "Kafka broker rolling restart" in section and "Grace Kim" in section
    assert rendered.pdf is not None
    text = "\n".join(p.extract_text() for p in PdfReader(__import__("io").BytesIO(rendered.pdf)).pages)
    assert "Handoff to the next rotation" in text and "Maintenance windows in the next rotation" in text
    assert "#4163" in text and "#4107" in text


def test_untrusted_titles_and_names_are_escaped_and_cut():
    t = at(days=2)
    evil = '<script>alert(1)</script>\u202e' + "x" * 300
    snap = snapshot([incident(80, t, ack(t + timedelta(minutes=1), "U9"), title=evil, status="acknowledged")])
    assert snap.incidents is not None
    snap = snap.model_copy(update={"incidents": snap.incidents.model_copy(update={
        "earlier_open": [], "people": [*USERS, Person(id="U9", name="<b>Mallory</b>")]})})
    page = render_report(build_scorecards(snap), MeetingView(), pdf=False).html
    section = page[page.index('id="handoff"'):]
    section = section[:section.index("</section>")]
    assert "<script>alert" not in section and "&lt;script&gt;" in section
    shown = section[section.index("<bdi>&lt;script&gt;"):]
    assert shown.index("</bdi>") < 160 and shown[:160].rstrip().count("x") < 140  # cut, with an ellipsis
    assert 'title="&lt;script&gt;alert(1)&lt;/script&gt;' + "x" * 300 in section  # whole in the tooltip
    assert "\u202e" not in section
    assert "<b>Mallory" not in section and "&lt;b&gt;Mallory&lt;/b&gt;" in section
