"""The PagerDuty collector against the spec-validated fake, over HTTPS, with the real client."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from opsmeeting.aggregate.scorecards import build_scorecards
from opsmeeting.collectors.pagerduty import PagerDutyCollector, PagerDutyFailure
from opsmeeting.collectors.pagerduty.collector import OPEN_INCIDENTS
from opsmeeting.config import PagerDutySource
from opsmeeting.model import Setup, SetupService, SetupTeam, Snapshot, SourceRole, SourceStatus
from opsmeeting.window import RotationClock
from tests.fakes import pagerduty_data as pd
from tests.fakes.pagerduty import FakePagerDuty

# The rotation of Mon 19 Oct 09:00 → Mon 2 Nov 09:00 Europe/Lisbon: it crosses the DST change.
WINDOW = RotationClock(datetime(2026, 1, 12, 9), timedelta(days=14), "Europe/Lisbon").window(20)
START, END = WINDOW.start, WINDOW.end
COLLECTED = END + timedelta(days=1)

TEAM = pd.make_team("PT1", "payments")
ANA = pd.make_user("PU1", "Ana Lima", "Europe/Lisbon", team_ids=["PT1"])
BO = pd.make_user("PU2", "Bo Chen", "Asia/Kolkata", team_ids=["PT1"])
CY = pd.make_user("PU3", "Cy Park", "America/Los_Angeles", team_ids=["PT1"])
CHECKOUT = pd.make_service("PS1", "checkout", ["PT1"], team_names={"PT1": "payments"})
SEARCH = pd.make_service("PS2", "search", ["PT1"], team_names={"PT1": "payments"})
OTHER = pd.make_service("PS9", "not-configured", [])
P1, P2, P3 = (pd.make_priority(f"PP{i}", f"P{i}", 600 - 100 * i) for i in (1, 2, 3))


@pytest.fixture
def fake() -> Iterator[FakePagerDuty]:
    with FakePagerDuty(clock=lambda: COLLECTED) as server:
        server.teams, server.users = [TEAM], [ANA, BO, CY]
        server.services, server.priorities = [CHECKOUT, SEARCH, OTHER], [P1, P2, P3]
        yield server
        server.assert_valid()


def collector(fake: FakePagerDuty, **kw) -> PagerDutyCollector:
    source = PagerDutySource(base_url=fake.url, ca_bundle=fake.ca_bundle, max_retries=kw.pop("max_retries", 3),
                             concurrency=kw.pop("concurrency", 4))
    kw.setdefault("token", "test-token")
    sleep = kw.pop("sleep", _no_sleep)
    service_ids = kw.pop("service_ids", ["PS1", "PS2"])
    return PagerDutyCollector(source, service_ids=service_ids, now=lambda: COLLECTED, sleep=sleep,
                              backoff=0.001, requests_per_minute=0, **kw)


def _no_sleep(_: float) -> None:
    return None


def world(fake: FakePagerDuty) -> None:
    """A hand-made rotation; the expected numbers are worked out in the tests."""
    incidents, entries = [], []

    def add(incident, *timeline):
        incidents.append(incident)
        entries.extend(timeline)

    t1 = START  # exactly at the window start: in
    i1 = pd.make_incident("PI1", 1, CHECKOUT, t1, status="resolved", resolved_at=t1 + timedelta(minutes=10),
                          title='<img src="http://169.254.169.254/"> <script>alert(1)</script> café ☕')
    add(i1, pd.trigger(i1, t1), pd.notify(i1, t1 + timedelta(seconds=5), ANA, "sms_notification"),
        pd.acknowledge(i1, t1 + timedelta(minutes=2), ANA), pd.acknowledge(i1, t1 + timedelta(minutes=3), BO),
        pd.resolve(i1, t1 + timedelta(minutes=10), ANA))
    t2 = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # the night of the DST change in Lisbon
    i2 = pd.make_incident("PI2", 2, SEARCH, t2, urgency="low", status="resolved", resolved_at=t2 + timedelta(minutes=1))
    add(i2, pd.trigger(i2, t2), pd.notify(i2, t2, BO, "email_notification"), pd.resolve(i2, t2 + timedelta(minutes=1)))
    t3 = END - timedelta(seconds=1)  # last second of the window: in; acknowledged after the end
    i3 = pd.make_incident("PI3", 3, CHECKOUT, t3, status="acknowledged", priority=P2,
                          acknowledgers=[(CY, t3 + timedelta(hours=2))])
    add(i3, pd.trigger(i3, t3), pd.notify(i3, t3 + timedelta(seconds=1), CY, "phone_notification"),
        pd.escalate(i3, t3 + timedelta(minutes=15), assignees=[CY]),
        pd.acknowledge(i3, t3 + timedelta(hours=2), CY))
    t4 = END  # exactly at the end: out
    i4 = pd.make_incident("PI4", 4, CHECKOUT, t4)
    add(i4, pd.trigger(i4, t4))
    t5 = START - timedelta(seconds=1)  # just before: out
    i5 = pd.make_incident("PI5", 5, CHECKOUT, t5)
    add(i5, pd.trigger(i5, t5))
    t6 = START + timedelta(days=3)  # a service we do not report on: out
    i6 = pd.make_incident("PI6", 6, OTHER, t6)
    add(i6, pd.trigger(i6, t6))
    t7 = START + timedelta(days=5, hours=3)
    i7 = pd.make_incident("PI7", 7, SEARCH, t7)  # still open, never acknowledged
    add(i7, pd.trigger(i7, t7), pd.notify(i7, t7, BO, "push_notification"))
    fake.incidents, fake.log_entries = incidents, entries
    shifts = [pd.Shift(ANA, START - timedelta(days=3), START + timedelta(days=4)),
              pd.Shift(CY, START + timedelta(days=4), END + timedelta(days=3))]
    fake.schedules = {"PSCH1": pd.make_schedule("PSCH1", "payments primary", "UTC", shifts)}
    fake.reindex()


def snapshot_of(data, status) -> Snapshot:
    setup = Setup(teams=[SetupTeam(name="payments")],
                  services=[SetupService(name="checkout", team="payments", source_ids=["PS1"]),
                            SetupService(name="search", team="payments", source_ids=["PS2"])])
    return Snapshot(window=WINDOW, generated_at=COLLECTED, setup=setup, sources={"pagerduty": status},
                    roles={"incidents": SourceRole(source="pagerduty", label="PagerDuty")}, incidents=data)


def test_collects_the_window_exactly(fake):
    world(fake)
    data, status = collector(fake, schedule_ids=["PSCH1"]).collect(WINDOW)
    assert [i.number for i in data.incidents] == [1, 7, 2, 3]
    first = data.incidents[0]
    assert first.title == '<img src="http://169.254.169.254/"> <script>alert(1)</script> café ☕'
    assert [e.kind for e in first.events] == ["triggered", "notified", "acknowledged", "acknowledged", "resolved"]
    late = data.incidents[-1]  # acknowledged two hours after the window end: still collected
    assert [e.kind for e in late.events] == ["triggered", "notified", "escalated", "acknowledged"]
    assert {u.id: u.time_zone for u in data.people} == {"PU1": "Europe/Lisbon", "PU2": "Asia/Kolkata",
                                                       "PU3": "America/Los_Angeles"}
    assert [(p.id, p.rank) for p in data.severities] == [("PP1", 0), ("PP2", 1), ("PP3", 2)]
    assert {s.id for s in data.services} == {"PS1", "PS2"}
    assert [(s.person_id, s.start) for s in data.shifts] == [("PU1", START - timedelta(days=3)),
                                                         ("PU3", START + timedelta(days=4))]
    assert status.status == "ok" and status.requests == sum(status.requests_by_endpoint.values())
    assert status.requests == sum(fake.request_counts().values())


def test_metrics_from_collected_data(fake):
    world(fake)
    data, status = collector(fake, schedule_ids=["PSCH1"]).collect(WINDOW)
    cards = build_scorecards(snapshot_of(data, status))
    checkout = next(c for c in cards.services if c.service == "checkout").incidents
    assert checkout.incidents_total == 2
    assert checkout.incidents_major == 2  # #1: two acknowledgers; #3: priority P2
    assert checkout.mtta_mean_s == pytest.approx((120 + 7200) / 2)
    assert checkout.mttr_mean_s == 600
    assert checkout.timeout_escalated == 1 and checkout.incidents_open == 1
    # Ana's SMS at 08:00:05Z is 09:00 in Lisbon (business); Cy's call at 08:59:59Z Monday is 00:59 in LA (sleep)
    assert (checkout.interruptions, checkout.interruptions_business, checkout.interruptions_sleep) == (2, 1, 1)
    search = next(c for c in cards.services if c.service == "search").incidents
    assert (search.incidents_total, search.auto_resolved, search.resolved_without_ack, search.incidents_open) == (
        2, 1, 1, 1)
    assert search.interruptions == 1  # the push; email does not interrupt
    hours = {r.user: r.on_call_hours for r in cards.responders}
    assert hours["PU1"] == 96.0 and hours["PU3"] == pytest.approx(WINDOW.duration.total_seconds() / 3600 - 96)


def many(fake: FakePagerDuty, n: int, per_incident: int) -> None:
    incidents, entries = [], []
    step = (END - START) / n
    for k in range(n):
        created = START + k * step
        incident = pd.make_incident(f"PI{k:06d}", k + 1, CHECKOUT, created, status="resolved",
                                    resolved_at=created + timedelta(seconds=30))
        incidents.append(incident)
        entries.append(pd.trigger(incident, created))
        entries += [pd.annotate(incident, created + timedelta(seconds=j + 1), f"n{j}") for j in range(per_incident - 2)]
        entries.append(pd.resolve(incident, created + timedelta(seconds=30)))
    fake.incidents, fake.log_entries = incidents, entries
    fake.reindex()


def reference_requests(status: SourceStatus) -> int:
    counts = status.requests_by_endpoint
    # reference data, and the handoff's (maintenance windows, incidents still open from earlier rotations)
    reference = ("GET /priorities", "GET /users", "GET /teams", "GET /services", "GET /maintenance_windows",
                 OPEN_INCIDENTS)
    return sum(v for k, v in counts.items() if k in reference)


def test_fewest_requests_account_wide(fake):
    many(fake, 250, 4)
    data, status = collector(fake).collect(WINDOW)
    assert len(data.incidents) == 250 and sum(len(i.events) for i in data.incidents) == 1000
    assert "account-wide" in status.detail
    minimum = math.ceil(250 / 100) + math.ceil(1000 / 100)
    # the count probe is the first page of the list it chose: no request is wasted
    assert status.requests - reference_requests(status) == minimum, status.requests_by_endpoint


def test_fewest_requests_per_incident_when_the_account_is_busier(fake):
    """Five incidents of ours among a hundred of another service: asking per incident is cheaper."""
    many(fake, 5, 4)
    ours_incidents, ours_entries = fake.incidents, fake.log_entries
    many(fake, 100, 5)
    theirs = [dict(i, id="X" + i["id"], incident_number=i["incident_number"] + 1000, service=pd.ref_of(OTHER))
              for i in fake.incidents]
    foreign_entries = [dict(e, id="X" + e["id"], incident=dict(e["incident"], id="X" + e["incident"]["id"]))
                       for e in fake.log_entries]
    fake.incidents, fake.log_entries = ours_incidents + theirs, ours_entries + foreign_entries
    fake.reindex()
    data, status = collector(fake).collect(WINDOW)
    assert [i.number for i in data.incidents] == [1, 2, 3, 4, 5]
    assert sum(len(i.events) for i in data.incidents) == 20
    assert "per-incident" in status.detail
    counts = status.requests_by_endpoint
    assert counts["GET /incidents/{id}/log_entries"] == 5 and counts["GET /log_entries"] == 1  # the probe
    account_wide = math.ceil((20 + 500) / 100)
    assert status.requests - reference_requests(status) <= math.ceil(5 / 100) + min(account_wide, 5) + 1


def test_past_the_offset_cap(fake):
    fake.validate = "requests"  # 10,500 incidents: skip response validation to stay fast
    many(fake, 10_500, 2)
    data, status = collector(fake).collect(WINDOW)
    assert len(data.incidents) == 10_500 and len({i.id for i in data.incidents}) == 10_500
    assert status.requests_by_endpoint["GET /incidents"] <= math.ceil(10_500 / 100) + 3


def test_rate_limit_honours_ratelimit_reset(fake):
    world(fake)
    waits: list[float] = []
    fake.inject("/incidents", status=429, times=3, headers={"ratelimit-reset": "7"})
    data, status = collector(fake, sleep=waits.append).collect(WINDOW)
    assert len(data.incidents) == 4 and status.status == "ok"
    assert waits.count(7.0) == 3


def test_bounded_retries_then_a_clear_failure(fake):
    world(fake)
    fake.inject("/incidents", status=429, times=10)
    with pytest.raises(PagerDutyFailure, match=r"GET /incidents: HTTP 429"):
        collector(fake, max_retries=2).collect(WINDOW)
    assert fake.request_counts()["GET /incidents"] == 3


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 503}, {"drop": True}])
def test_transient_errors_are_retried(fake, fault):
    world(fake)
    fake.inject("/log_entries", times=2, **fault)
    data, status = collector(fake).collect(WINDOW)
    assert sum(len(i.events) for i in data.incidents) == 5 + 3 + 4 + 2
    assert status.status == "ok"


RETRYING = """
import sys
from datetime import UTC, datetime
from opsmeeting.collectors.pagerduty import PagerDutyCollector
from opsmeeting.config import PagerDutySource
from opsmeeting.window import Window
source = PagerDutySource(base_url=sys.argv[1], ca_bundle=sys.argv[2], max_retries=3, requests_per_minute=0)
collector = PagerDutyCollector(source, service_ids=["PS1"], token="test-token", backoff=0.001,
                               now=lambda: datetime(2026, 11, 3, tzinfo=UTC))
_, status = collector.collect(Window(start="2026-10-19T08:00:00Z", end="2026-11-02T08:00:00Z"))
print(status.status)
"""


def test_a_retried_error_prints_nothing_from_the_client(fake):
    """The official client, whose own retries are off, would log "Non-transient HTTP error: exceeded
    maximum number of attempts (-1)" to stderr for a 503 that our loop then retries successfully."""
    world(fake)
    fake.inject("/incidents", status=503, times=1)
    done = subprocess.run([sys.executable, "-c", RETRYING, fake.url, fake.ca_bundle], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert fake.request_counts()["GET /incidents"] >= 2  # the 503 was answered, and retried
    assert done.stderr == ""


def test_slow_responses_time_out_and_retry(fake):
    world(fake)
    fake.inject("/priorities", delay=1.5, times=1)
    source = PagerDutySource(base_url=fake.url, ca_bundle=fake.ca_bundle, timeout="1s", max_retries=2)
    c = PagerDutyCollector(source, service_ids=["PS1", "PS2"], token="test-token", now=lambda: COLLECTED,
                           sleep=_no_sleep, requests_per_minute=0)
    data, _ = c.collect(WINDOW)
    assert len(data.severities) == 3


def test_wrong_and_missing_token(fake):
    world(fake)
    with pytest.raises(PagerDutyFailure) as info:
        collector(fake, token="u+wrong-secret-token").collect(WINDOW)
    assert "was rejected (401" in str(info.value) and "wrong-secret" not in str(info.value)
    source = PagerDutySource(base_url=fake.url, token_env="PD_TOKEN_FOR_TEST")
    with pytest.raises(PagerDutyFailure, match=r"\$PD_TOKEN_FOR_TEST"):
        PagerDutyCollector(source, service_ids=["PS1"], environ={})


def test_window_across_dst_uses_utc_edges(fake):
    """The fake reads offset-less times in the account zone: the collector must always send UTC."""
    world(fake)
    collector(fake).collect(WINDOW)
    sent = [r for r in fake.requests if r.path == "/incidents"]
    assert sent and all(q.endswith("Z") for r in sent for q in r.query.getlist("since"))
    assert WINDOW.duration == timedelta(days=14, hours=1)


def test_rate_limiter_paces_requests(fake):
    world(fake)
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    source = PagerDutySource(base_url=fake.url, ca_bundle=fake.ca_bundle, concurrency=1)
    c = PagerDutyCollector(source, service_ids=["PS1", "PS2"], token="test-token", now=lambda: COLLECTED,
                           sleep=sleep, monotonic=lambda: clock[0], requests_per_minute=60)
    _, status = c.collect(WINDOW)
    # 60 a minute: one a second, so n requests need n - 1 seconds of waiting
    assert sum(slept) == pytest.approx(status.requests - 1)



def test_the_rate_limit_budget_waits_for_the_reset_and_is_never_refused(fake):
    """With the account's rate-limit headers followed (no fixed pace), a collection of more requests than
    the limit allows in a period bursts while the budget lasts, waits for each reset, and gets no 429:
    the same data as an unlimited collection, in about as many periods as the requests need."""
    world(fake)
    source = PagerDutySource(base_url=fake.url, ca_bundle=fake.ca_bundle)
    free, free_status = PagerDutyCollector(source, service_ids=["PS1", "PS2"], token="test-token",
                                           now=lambda: COLLECTED, requests_per_minute=0).collect(WINDOW)
    fake.rate_limit, fake.rate_window = 5, 1.0
    time.sleep(1.0)  # the unlimited collection's requests leave the period
    began = time.monotonic()
    limited = PagerDutyCollector(source, service_ids=["PS1", "PS2"], token="test-token", now=lambda: COLLECTED)
    data, status = limited.collect(WINDOW)
    elapsed = time.monotonic() - began
    assert fake.rate_limited == 0 and status.status == "ok"
    assert data.incidents == free.incidents and status.requests == free_status.requests
    periods = math.ceil(status.requests / (5 - source.concurrency))  # the budget keeps `concurrency` in hand
    assert status.requests > 5 and elapsed >= 0.8 * (status.requests // 5)
    assert limited.budget is not None and limited.budget.waited > 0 and elapsed < periods + 2


def test_without_the_budget_the_fake_refuses_past_its_limit(fake):
    """The fake's limit is real: an unpaced client gets 429s past it (answered with ratelimit-reset),
    which the collector's retry loop then waits out."""
    world(fake)
    fake.rate_limit, fake.rate_window = 5, 1.0
    slept: list[float] = []
    c = collector(fake, concurrency=1, max_retries=10, sleep=lambda s: (slept.append(s), time.sleep(s)))
    data, status = c.collect(WINDOW)
    assert fake.rate_limited > 0 and status.status == "ok" and data.incidents
    assert slept and all(s == 1.0 for s in slept)


def test_an_unfiltered_list_past_the_offset_cap_is_asked_by_services(fake, monkeypatch):
    """A whole account's list asked without a service filter (one query) that is longer than the
    offset cap allows is asked again by groups of services, halved as needed: every item, once."""
    from opsmeeting.collectors.pagerduty import api

    world(fake)
    c = collector(fake)
    params = {"time_zone": "UTC", "date_range": "all"}
    every = [i for i in c.for_services("/incidents", "incidents", params, ["PS1", "PS2"], unfiltered=True)
             if i["service"]["id"] in ("PS1", "PS2")]  # unfiltered: the account's other services' too
    per_service = {sid: sum(i["service"]["id"] == sid for i in every) for sid in ("PS1", "PS2")}
    assert len(every) > 2 and all(per_service.values())
    monkeypatch.setattr(api, "OFFSET_CAP", max(per_service.values()))
    fake.reset_counts()
    again = c.for_services("/incidents", "incidents", params, ["PS1", "PS2"], unfiltered=True)
    assert sorted(i["id"] for i in again) == sorted(i["id"] for i in every)
    assert fake.request_counts()["GET /incidents"] >= 4  # unfiltered, both services, then each alone


def log_entry_queries(fake: FakePagerDuty) -> list:
    return [r.query for r in fake.requests if r.path == "/log_entries"]


def test_no_team_filter_when_a_configured_service_has_no_team(fake):
    """A service with no PagerDuty team: filtering /log_entries by the others' teams would drop its timeline."""
    loner = pd.make_service("PS3", "loner", [])
    fake.services = [*fake.services, loner]
    world(fake)
    t = START + timedelta(days=2)
    lone = pd.make_incident("PI30", 30, loner, t, status="resolved", resolved_at=t + timedelta(minutes=7))
    fake.incidents = [*fake.incidents, lone]
    fake.log_entries = [*fake.log_entries, pd.trigger(lone, t),
                        pd.notify(lone, t + timedelta(seconds=5), ANA, "phone_notification"),
                        pd.acknowledge(lone, t + timedelta(minutes=1), ANA),
                        pd.resolve(lone, t + timedelta(minutes=7), ANA)]
    fake.reindex()
    data, status = collector(fake, service_ids=["PS1", "PS2", "PS3"]).collect(WINDOW)
    assert status.status == "ok"
    assert all(not q.getlist("team_ids[]") for q in log_entry_queries(fake))
    got = next(i for i in data.incidents if i.id == "PI30")
    assert [e.kind for e in got.events] == ["triggered", "notified", "acknowledged", "resolved"]


def test_team_filter_is_the_union_of_the_services_teams(fake):
    world(fake)
    _, status = collector(fake).collect(WINDOW)
    assert status.status == "ok"
    queries = log_entry_queries(fake)
    assert queries and all(q.getlist("team_ids[]") == ["PT1"] for q in queries)


def test_an_incomplete_timeline_is_fetched_from_the_incident(fake):
    """An incident whose entries carry another team (its service moved teams) escapes the team filter:
    the completeness check fetches its own log entries, and the numbers stay right."""
    world(fake)
    t = START + timedelta(days=6)
    moved = pd.make_incident("PI40", 40, CHECKOUT, t, status="resolved", resolved_at=t + timedelta(minutes=30))
    timeline = [pd.trigger(moved, t), pd.acknowledge(moved, t + timedelta(minutes=3), ANA),
                pd.resolve(moved, t + timedelta(minutes=30), ANA)]
    for entry in timeline:
        entry["teams"] = [pd.reference("team", "PT7")]
    fake.incidents = [*fake.incidents, moved]
    fake.log_entries = [*fake.log_entries, *timeline]
    fake.reindex()
    data, status = collector(fake).collect(WINDOW)
    assert status.status == "ok", status.detail
    assert fake.request_counts().get("GET /incidents/{id}/log_entries") == 1
    got = next(i for i in data.incidents if i.id == "PI40")
    assert [e.kind for e in got.events] == ["triggered", "acknowledged", "resolved"]


def test_a_timeline_missing_even_from_the_incident_degrades_the_source(fake):
    world(fake)
    t = START + timedelta(days=8)
    broken = pd.make_incident("PI50", 50, SEARCH, t, status="resolved", resolved_at=t + timedelta(minutes=5))
    fake.incidents = [*fake.incidents, broken]
    fake.log_entries = [*fake.log_entries, pd.trigger(broken, t)]  # PagerDuty says resolved: no resolve entry
    fake.reindex()
    _, status = collector(fake).collect(WINDOW)
    assert status.status == "degraded"
    assert "timeline of 1 incident(s) is incomplete" in status.detail and "#50" in status.detail
