#!/usr/bin/env python3
"""Generate the bundled sample snapshot (``opsmeeting/sample/snapshot/``), seeded and reproducible.

    python scripts/make_sample.py [--out DIR] [--seed 20261102]

A fictional organisation of 12 services in 4 teams over the 14-day rotation that straddles the
October 2026 daylight-saving change in Europe/Lisbon: ~300 incidents with night pages,
escalations, auto-resolved and still-open incidents, and checkout burning its availability budget
through one major incident; for the handoff, two incidents opened in earlier rotations and still
open, and the maintenance windows of the window and the next rotation. Every number in the demo
report derives from this file's seed (the handoff's additions are fixed, and draw nothing from it).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from opsmeeting.model import (
    Actor,
    BinnedCounts,
    Counts,
    DailyCounts,
    Event,
    Holder,
    Incident,
    IncidentData,
    Maintenance,
    MaintenanceWindow,
    Person,
    Setup,
    SetupService,
    SetupSlo,
    SetupTeam,
    Severity,
    Shift,
    SloCorrection,
    SloData,
    SloMeasurement,
    Snapshot,
    SourceRole,
    SourceService,
    SourceStatus,
    SourceTeam,
    following,
)
from opsmeeting.snapshot import write_snapshot
from opsmeeting.window import RotationClock

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "opsmeeting" / "sample" / "snapshot"
TZ = "Europe/Lisbon"
CLOCK = RotationClock(datetime(2026, 1, 12, 9, 0), timedelta(days=14), TZ)
WINDOW = CLOCK.window(20)  # Mon 19 Oct 2026 09:00 WEST → Mon 2 Nov 2026 09:00 WET
GENERATED_AT = WINDOW.end + timedelta(hours=2)

TEAMS = {
    "payments": ["checkout", "payments-api", "ledger"],
    "platform": ["api-gateway", "kafka", "postgres-primary"],
    "search": ["search-api", "indexer", "recommendations"],
    "identity": ["auth", "sso", "user-profile"],
}
PEOPLE = [
    ("Ana Ribeiro", "Europe/Lisbon"), ("Bruno Costa", "Europe/Lisbon"), ("Chloé Martin", "Europe/Paris"),
    ("Dev Patel", "Asia/Kolkata"), ("Emma Jones", "Europe/London"), ("Farid Haddad", "Europe/Berlin"),
    ("Grace Kim", "America/New_York"), ("Hiro Tanaka", "Asia/Tokyo"), ("Inês Sousa", "Europe/Lisbon"),
    ("Jack O'Neil", "America/Chicago"), ("Kasia Nowak", "Europe/Warsaw"), ("Luis García", "Europe/Madrid"),
    ("Maya Cohen", "Asia/Jerusalem"), ("Noah Smith", "America/Los_Angeles"), ("Olga Ivanova", "Europe/Lisbon"),
    ("Pedro Alves", "America/Sao_Paulo"),
]
# incidents per day, high-urgency share, auto-resolve share, titles (with variable parts)
PROFILES: dict[str, tuple[float, float, float, list[str]]] = {
    "checkout": (2.6, 0.7, 0.1, ["Checkout error rate above 2% on {host}", "Payment provider timeout ({n} failures)",
                                 "Checkout p99 latency above 1.5s"]),
    "payments-api": (1.2, 0.6, 0.2, ["payments-api pod {host} OOMKilled", "Webhook queue lag {n}s"]),
    "ledger": (0.5, 0.5, 0.3, ["Ledger reconciliation job failed (run {id})"]),
    "api-gateway": (2.4, 0.6, 0.35, ["5xx ratio above threshold on {host}", "TLS certificate expires in {n} days",
                                     "Upstream connect errors on {host}"]),
    "kafka": (1.6, 0.5, 0.45, ["Consumer lag above {n} on topic orders", "Broker {host} under-replicated partitions"]),
    "postgres-primary": (0.9, 0.8, 0.1, ["Replication lag {n}s on {host}", "Disk {n}% full on {host}"]),
    "search-api": (1.5, 0.5, 0.3, ["search-api latency above SLO on {host}", "Elasticsearch cluster yellow"]),
    "indexer": (1.7, 0.3, 0.6, ["Indexer backlog {n} documents", "Indexer crashloop on {host}"]),
    "recommendations": (0.8, 0.3, 0.5, ["Model server {host} not ready", "Feature store stale by {n}m"]),
    "auth": (1.1, 0.8, 0.2, ["Login failures above {n}/min", "Token signing key rotation failed"]),
    "sso": (0.6, 0.6, 0.2, ["SAML assertion errors from IdP ({n})"]),
    "user-profile": (0.7, 0.4, 0.4, ["user-profile cache hit ratio below {n}%", "Profile DB {host} slow queries"]),
}
SLO_OBJECTIVES = {"availability": 0.999, "latency": 0.99}


@dataclass
class Ids:
    n: int = 0

    def next(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n:06X}"


def _title(rng: np.random.Generator, template: str, service: str) -> str:
    host = f"{service.split('-')[0]}-{rng.integers(1, 40)}.prod.internal"
    return template.format(host=host, n=int(rng.integers(2, 99)), id=f"{rng.integers(0, 16**8):08x}")


def build(seed: int) -> Snapshot:
    rng = np.random.default_rng(seed)
    ids = Ids()
    users = [
        Person(id=f"PU{i:05d}", name=name, email=f"{name.split()[0].lower()}@example.com", time_zone=tz)
        for i, (name, tz) in enumerate(PEOPLE, start=1)
    ]
    teams = [SourceTeam(id=f"PT{i:05d}", name=name) for i, name in enumerate(TEAMS, start=1)]
    members = {team: users[i * 4:(i + 1) * 4] for i, team in enumerate(TEAMS)}
    pd_services, setup_services = [], []
    for t_index, (team, names) in enumerate(TEAMS.items()):
        for name in names:
            sid = f"PS{len(pd_services) + 1:05d}"
            pd_services.append(SourceService(id=sid, name=name, team_ids=[teams[t_index].id]))
            setup_services.append(SetupService(name=name, team=team, source_ids=[sid]))
    priorities = [Severity(id=f"PR{i}", name=f"P{i}", rank=i - 1) for i in range(1, 6)]
    shifts = _shifts(members)
    incidents = []
    number = 4200
    for svc, setup_svc in zip(pd_services, setup_services, strict=True):
        rate, high_share, auto_share, titles = PROFILES[svc.name]
        count = rng.poisson(rate * 14 * 1.45)
        team_members = members[setup_svc.team]
        for _ in range(count):
            number += 1
            created = WINDOW.start + timedelta(seconds=int(rng.integers(0, int(WINDOW.duration.total_seconds()))))
            incidents.append(_incident(rng, ids, number, svc, created, high_share, auto_share,
                                       _title(rng, titles[int(rng.integers(len(titles)))], svc.name),
                                       team_members, shifts, priorities))
    # The major incident that burns checkout's budget: Tue 27 Oct 14:10Z for 3h20.
    burst_start = datetime(2026, 10, 27, 14, 10, tzinfo=UTC)
    burst_end = burst_start + timedelta(hours=3, minutes=20)
    number += 1
    checkout = pd_services[0]
    incidents.append(_major(ids, number, checkout, burst_start, burst_end, members["payments"], users))
    incidents.sort(key=lambda i: (i.created_at, i.number))
    incident_data = IncidentData(
        source="pagerduty", collected_at=GENERATED_AT, people=users, teams=teams, services=pd_services,
        severities=priorities, incidents=incidents, shifts=shifts,
        earlier_open=_earlier_open(ids, {s.name: s for s in pd_services}, members),
        maintenance=_maintenance({s.name: s for s in pd_services}),
    )
    measurements = _measurements(rng, seed, [s.name for s in setup_services], (burst_start, burst_end))
    setup = Setup(
        title="Ops Meeting — Example Corp",
        targets={"mtta_p50_s": 300.0, "mttr_p50_s": 3600.0, "incidents_major": 3, "interruptions_sleep": 60},
        teams=[SetupTeam(name=t, display_name=t.title(), members=4, source_ids=[teams[i].id])
               for i, t in enumerate(TEAMS)],
        services=setup_services,
        slos=[
            SetupSlo(name="availability", kind="ratio", description="Requests that did not fail with a 5xx",
                     objective=0.999, objectives={"ledger": 0.9995}, period_seconds=28 * 86400, min_events=1000,
                     formula='good = sum by (service) (increase(http_requests_total{code!~"5.."}[window]))\n'
                             "total = sum by (service) (increase(http_requests_total[window]))"),
            SetupSlo(name="latency", kind="latency", description="Requests served within 250 ms",
                     objective=0.99, period_seconds=28 * 86400, min_events=1000, threshold_seconds=0.25,
                     expected=[s.name for s in setup_services],  # `teams:` all: a histogram is expected of each
                     formula='good = sum by (service) (increase(http_request_duration_seconds_bucket{le="0.25"}'
                             "[window]))\ntotal = sum by (service) (increase(http_request_duration_seconds_count"
                             "[window]))"),
        ],
        # a correction beside the maintenance window: a load test's failed requests, not the users'
        slo_corrections=[SloCorrection(start=datetime(2026, 10, 26, 14, 0, tzinfo=UTC),
                                       end=datetime(2026, 10, 26, 16, 30, tzinfo=UTC), services=["api-gateway"],
                                       slos=["availability"],
                                       reason="Load test from the perf cluster sent failing requests (CHG-2041)")],
    )
    pd_requests = math.ceil(len(incidents) / 100) + math.ceil(sum(len(i.events) for i in incidents) / 100) + 6
    return Snapshot(
        window=WINDOW, generated_at=GENERATED_AT, setup=setup,
        sources={
            "pagerduty": SourceStatus(status="ok", requests=pd_requests, seconds=3.2,
                                      detail="sample data generated by scripts/make_sample.py"),
            "prometheus": SourceStatus(status="ok", requests=10, seconds=0.8,
                                       detail="sample data generated by scripts/make_sample.py"),
        },
        roles={"incidents": SourceRole(source="pagerduty", label="PagerDuty"),
               "slos": SourceRole(source="prometheus", label="Prometheus")},
        incidents=incident_data,
        slos=SloData(source="prometheus", collected_at=GENERATED_AT, source_version="2.42.0",
                     measurements=measurements),
    )


def _shifts(members: dict[str, list[Person]]) -> list[Shift]:
    """Each team's primary rotates daily at 09:00 Lisbon through its four members."""
    shifts = []
    for t_index, (team, people) in enumerate(members.items()):
        for day, (start, end) in enumerate(WINDOW.days()):
            person = people[(day + t_index) % len(people)]
            shifts.append(Shift(schedule_id=f"PSCH{t_index + 1}", person_id=person.id, start=start, end=end))
        del team
    return shifts


def _on_call(shifts: list[Shift], people: list[Person], at: datetime) -> Person:
    ids = {p.id: p for p in people}
    for shift in shifts:
        if shift.person_id in ids and shift.start <= at < shift.end:
            return ids[shift.person_id]
    return people[0]


def _human(person: Person) -> Actor:
    return Actor(kind="human", id=person.id)


def _machine(service: SourceService) -> Actor:
    return Actor(kind="automation", id=service.id)


def _incident(rng: np.random.Generator, ids: Ids, number: int, svc: SourceService, created: datetime,
              high_share: float, auto_share: float, title: str, people: list[Person],
              shifts: list[Shift], priorities: list[Severity]) -> Incident:
    urgency = "high" if rng.random() < high_share else "low"
    primary = _on_call(shifts, people, created)
    secondary = people[(people.index(primary) + 1) % len(people)]
    entries = [Event(id=ids.next("R"), kind="triggered", at=created, actor=_machine(svc))]
    channel = "phone_notification" if urgency == "high" and rng.random() < 0.4 else (
        "push_notification" if urgency == "high" else ("email_notification" if rng.random() < 0.6
                                                       else "sms_notification"))
    entries.append(Event(id=ids.next("R"), kind="notified", at=created + timedelta(seconds=2), actor=_machine(svc),
                         person_id=primary.id, interrupting=channel != "email_notification"))
    auto = rng.random() < auto_share
    tta = float(rng.lognormal(math.log(240), 0.9)) if not auto or rng.random() < 0.3 else None
    ack_user = primary
    if tta is not None and tta > 900:  # escalation on timeout after 15 minutes
        entries.append(Event(id=ids.next("R"), kind="escalated", at=created + timedelta(minutes=15),
                             actor=_machine(svc), escalation="timeout", person_id=secondary.id))
        entries.append(Event(id=ids.next("R"), kind="notified", at=created + timedelta(minutes=15, seconds=3),
                             actor=_machine(svc), person_id=secondary.id, interrupting=True))
        ack_user = secondary
    if tta is not None:
        entries.append(Event(id=ids.next("R"), kind="acknowledged", at=created + timedelta(seconds=tta),
                             actor=_human(ack_user)))
    ttr = float(rng.lognormal(math.log(2400 if not auto else 600), 1.0))
    resolved_at = created + timedelta(seconds=max(ttr, (tta or 0) + 30))
    collected = GENERATED_AT
    status = "resolved"
    if resolved_at > collected or rng.random() < 0.012:
        status = "acknowledged" if tta is not None and created + timedelta(seconds=tta) < collected else "triggered"
        resolved_at = None
        entries = [e for e in entries if e.at <= collected]
    else:
        entries.append(Event(id=ids.next("R"), kind="resolved", at=resolved_at,
                             actor=_machine(svc) if auto else _human(ack_user)))
    severity = None
    if urgency == "high" and rng.random() < 0.25:
        severity = priorities[1 if rng.random() < 0.12 else int(rng.integers(2, 5))].rank
    return Incident(id=ids.next("Q"), number=number, title=title, service_id=svc.id, created_at=created,
                    status=status, urgency=urgency, resolved_at=resolved_at, severity_rank=severity,
                    url=f"https://example.pagerduty.com/incidents/Q{number}", events=entries)


def _major(ids: Ids, number: int, svc: SourceService, start: datetime, end: datetime, people: list[Person],
           users: list[Person]) -> Incident:
    primary, second = people[0], people[1]
    entries = [
        Event(id=ids.next("R"), kind="triggered", at=start, actor=_machine(svc)),
        Event(id=ids.next("R"), kind="notified", at=start + timedelta(seconds=2), person_id=primary.id,
              actor=_machine(svc), interrupting=True),
        Event(id=ids.next("R"), kind="acknowledged", at=start + timedelta(minutes=3), actor=_human(primary)),
        Event(id=ids.next("R"), kind="assigned", at=start + timedelta(minutes=20), actor=_human(primary),
              person_id=second.id),
        Event(id=ids.next("R"), kind="notified", at=start + timedelta(minutes=20, seconds=2), person_id=second.id,
              actor=_human(primary), interrupting=True),
        Event(id=ids.next("R"), kind="acknowledged", at=start + timedelta(minutes=24), actor=_human(second)),
        Event(id=ids.next("R"), kind="annotated", at=end + timedelta(days=1), actor=_human(primary),
              note="Postmortem: https://wiki.example.com/postmortems/2026-10-27-checkout"),
        Event(id=ids.next("R"), kind="resolved", at=end, actor=_human(second)),
    ]
    del users
    return Incident(id=ids.next("Q"), number=number, title="Checkout failing for card payments (PSP outage)",
                    service_id=svc.id, created_at=start, status="resolved", urgency="high", resolved_at=end,
                    severity_rank=0, url=f"https://example.pagerduty.com/incidents/Q{number}",
                    events=sorted(entries, key=lambda e: e.at))


def _earlier_open(ids: Ids, services: dict[str, SourceService], members: dict[str, list[Person]]) -> list[Incident]:
    """Two incidents opened before the window and still open at the collection, as PagerDuty lists them
    when nothing changed them since before the window end: no timeline, their holders and status time."""
    platform = members["platform"]
    disk_at = datetime(2026, 10, 13, 21, 40, tzinfo=UTC)
    disk_ack = disk_at + timedelta(minutes=12)
    tls_at = datetime(2026, 10, 5, 7, 0, tzinfo=UTC)
    return [
        Incident(id=ids.next("Q"), number=4107, title="TLS certificate expires in 44 days",
                 service_id=services["api-gateway"].id, created_at=tls_at, status="triggered", urgency="low",
                 url="https://example.pagerduty.com/incidents/Q4107", status_changed_at=tls_at,
                 assignments=[Holder(person_id=platform[1].id, at=tls_at)]),
        Incident(id=ids.next("Q"), number=4163, title="Disk 91% full on postgres-7.prod.internal",
                 service_id=services["postgres-primary"].id, created_at=disk_at, status="acknowledged",
                 urgency="high", severity_rank=2, url="https://example.pagerduty.com/incidents/Q4163",
                 status_changed_at=disk_ack, assignments=[Holder(person_id=platform[2].id, at=disk_at)],
                 acknowledgements=[Holder(person_id=platform[2].id, at=disk_ack)]),
    ]


def _maintenance(services: dict[str, SourceService]) -> Maintenance:
    """The maintenance windows of the window and the next rotation: one past (inside the window), two to
    come in the next rotation."""
    def window(number: int, names: list[str], start: datetime, hours: float, description: str) -> MaintenanceWindow:
        return MaintenanceWindow(id=f"PMW{number:04d}", start=start, end=start + timedelta(hours=hours),
                                 description=description, service_ids=[services[n].id for n in names],
                                 url=f"https://example.pagerduty.com/service-directory/maintenance-windows/PMW{number:04d}")

    return Maintenance(since=WINDOW.start, until=following(WINDOW).end, windows=[
        window(31, ["search-api", "indexer"], datetime(2026, 10, 22, 1, 0, tzinfo=UTC), 2,
               "Elasticsearch 8.15 rolling upgrade"),
        window(34, ["postgres-primary", "ledger"], datetime(2026, 11, 4, 22, 0, tzinfo=UTC), 1.5,
               "PostgreSQL minor upgrade 16.4 → 16.6 (failover to the replica)"),
        window(35, ["kafka"], datetime(2026, 11, 10, 6, 0, tzinfo=UTC), 1, "Kafka broker rolling restart"),
    ])


def _measurements(rng: np.random.Generator, seed: int, services: list[str],
                  burst: tuple[datetime, datetime]) -> list[SloMeasurement]:
    hours = int(WINDOW.duration.total_seconds() // 3600)
    starts = [WINDOW.start + timedelta(hours=h) for h in range(hours)]
    local_hour = np.array([s.astimezone(WINDOW.tz).hour for s in starts])
    diurnal = 0.35 + 0.65 * np.exp(-((local_hour - 14) ** 2) / 30.0)
    days = WINDOW.days()
    out = []
    for index, service in enumerate(services):
        base = float(rng.uniform(2000, 30000))
        for slo, objective in SLO_OBJECTIVES.items():
            if service == "recommendations" and slo == "latency":
                continue  # a histogram this service never exported: shows as "no data"
            scale = 0.0002 if service == "sso" and slo == "latency" else 1.0  # low traffic
            total = rng.poisson(base * scale * diurnal)
            error_rate = (1 - objective) * float(rng.uniform(0.15, 0.8))
            if service == "api-gateway" and slo == "latency":
                error_rate = (1 - objective) * 1.3  # slightly overspent, no incident: silent burn
            bad = rng.binomial(total, error_rate)
            if service == "checkout" and slo == "availability":
                for h, s in enumerate(starts):
                    if burst[0] - timedelta(hours=1) < s < burst[1]:
                        overlap = (min(s + timedelta(hours=1), burst[1]) - max(s, burst[0])).total_seconds() / 3600
                        bad[h] += rng.binomial(total[h], 0.06 * max(overlap, 0))
            bad = np.minimum(bad, total)
            bins = [BinnedCounts(start=s, bad=float(b), total=float(t)) for s, b, t in zip(starts, bad, total,
                                                                                            strict=True)]
            daily = []
            for d0, d1 in days:
                mask = np.array([d0 <= s < d1 for s in starts])
                daily.append(DailyCounts(date=d0.astimezone(WINDOW.tz).strftime("%Y-%m-%d"), start=d0,
                                         good=float((total - bad)[mask].sum()), total=float(total[mask].sum())))
            prev_total = float(rng.poisson(base * scale * diurnal.sum()))
            prev_bad = float(rng.binomial(int(prev_total), (1 - objective) * float(rng.uniform(0.2, 1.1))))
            previous_daily, previous_period_total = _previous_window(seed, service, slo, prev_total, prev_bad,
                                                                     diurnal, base * scale)
            quantiles = {}
            if slo == "latency":
                p50 = float(rng.uniform(0.03, 0.09))
                quantiles = {"0.5": round(p50, 4), "0.99": round(p50 * float(rng.uniform(2.5, 4.0)), 4)}
            out.append(SloMeasurement(
                service=service, slo=slo,
                window=Counts(good=float(total.sum() - bad.sum()), total=float(total.sum())),
                previous=Counts(good=prev_total - prev_bad, total=prev_total),
                period_total=float(total.sum()) + prev_total, previous_period_total=previous_period_total,
                period_covered=True, previous_period_covered=True,
                daily=daily, previous_daily=previous_daily, bins=bins, bin_seconds=3600, quantiles=quantiles,
            ))
        del index
    return out


def _previous_window(seed: int, service: str, slo: str, total: float, bad: float, diurnal: np.ndarray,
                     rate: float) -> tuple[list[DailyCounts], float]:
    """The previous window's daily counts (its hourly totals and bad events drawn to add up to the
    window's) and its SLO period total, from a generator of their own so the rest stays as it was."""
    rng = np.random.default_rng([seed, sum(map(ord, service)), list(SLO_OBJECTIVES).index(slo)])
    previous = WINDOW.previous()
    hour_total = rng.multinomial(int(total), diurnal / diurnal.sum())
    hour_bad = rng.multivariate_hypergeometric(hour_total, int(bad))
    starts = [previous.start + timedelta(hours=h) for h in range(len(hour_total))]
    daily = []
    for d0, d1 in previous.days():
        mask = np.array([d0 <= s < d1 for s in starts])
        daily.append(DailyCounts(date=d0.astimezone(WINDOW.tz).strftime("%Y-%m-%d"), start=d0,
                                 good=float((hour_total - hour_bad)[mask].sum()), total=float(hour_total[mask].sum())))
    return daily, total + float(rng.poisson(rate * diurnal.sum()))


MEETING_NOTES = {
    "payments": (
        "## Payments on call, 19 Oct – 2 Nov\n\n"
        "- **Tue 27 Oct**: the card PSP failed for 3 h 20; checkout burned most of its budget. "
        "Postmortem: [2026-10-27 checkout](https://wiki.example.com/postmortems/2026-10-27-checkout).\n"
        "- Checkout p99 alerts fired 29 times, mostly at night; we propose a 10-minute `for:` clause.\n"
        "- Handover went well; Bruno covered Ana's Saturday.\n"
    ),
    "platform": (
        "## Platform\n\n"
        "- Upstream connect errors on the gateway keep coming back (21 pages): ticket OPS-412.\n"
        "- The TLS expiry alert pages at 44 days; it should be a ticket, not a page.\n"
    ),
    "identity": "## Identity\n\nA quiet rotation. Token signing key rotation failed once: fixed in `auth` 3.14.\n",
}


def meeting(snapshot: Snapshot) -> dict[str, object]:
    """The meeting loop of the sample: action items and parking-lot topics from the last meeting,
    and three of the four teams' notes (search wrote none, so the pre-read flags it)."""
    start = snapshot.window.start
    items = [
        (1, "action", "payments", "ana", start - timedelta(days=13), start + timedelta(days=10), "open",
         "Add a runbook for PSP timeouts", "https://tickets.example.com/OPS-377", None, None),
        (2, "action", "platform", "farid", start - timedelta(days=27), start + timedelta(days=3), "open",
         "Move the TLS expiry alert from a page to a ticket", None, None, None),
        (3, "action", "search", "dev", start - timedelta(days=13), None, "done",
         "Raise the indexer backlog threshold", None, None, start + timedelta(days=4)),
        (4, "parking_lot", "identity", None, start - timedelta(days=1), None, "open",
         "Do we retry PSP calls in auth's payment-method check too?", None, "payments", None),
        (5, "parking_lot", "search", None, start - timedelta(days=1), None, "open",
         "Share the gateway's connection-pool settings with search-api", None, "platform", None),
    ]
    keys = ("id", "kind", "team", "owner", "created_at", "due", "status", "text", "link", "while_listening_to",
            "closed_at")
    rows = []
    for item in items:
        row = dict(zip(keys, item, strict=True))
        row["created_at"] = row["created_at"].isoformat()
        row["due"] = row["due"].date().isoformat() if row["due"] else None
        row["closed_at"] = row["closed_at"].isoformat() if row["closed_at"] else None
        rows.append(row)
    return {"items": rows, "notes": MEETING_NOTES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=20261102)
    args = parser.parse_args()
    snapshot = build(args.seed)
    write_snapshot(snapshot, args.out)
    (args.out.parent / "meeting.json").write_text(json.dumps(meeting(snapshot), indent=1) + "\n", encoding="utf-8")
    data = snapshot.incidents
    assert data is not None
    print(f"{args.out}: {len(data.incidents)} incidents, "
          f"{sum(len(i.events) for i in data.incidents)} timeline events, "
          f"{len(snapshot.slos.measurements) if snapshot.slos else 0} SLO measurements")


if __name__ == "__main__":
    main()
