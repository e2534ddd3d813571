"""Small hand-made snapshots for metric tests: every expected number can be computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from opsmeeting.model import (
    Actor,
    Event,
    EventKind,
    Incident,
    IncidentData,
    Person,
    Setup,
    SetupService,
    SetupSlo,
    SetupTeam,
    Severity,
    Shift,
    SloData,
    Snapshot,
    SourceRole,
    SourceService,
    SourceStatus,
)
from opsmeeting.window import Window

START = datetime(2026, 10, 19, 8, 0, tzinfo=UTC)  # Mon 09:00 Europe/Lisbon (WEST)
END = START + timedelta(days=14, hours=1)  # Mon 2 Nov 09:00 WET
WINDOW = Window(start=START, end=END, timezone="Europe/Lisbon")
SEVERITIES = {"P1": 0, "P2": 1, "P3": 2}  # the account's severities: P1 and P2 make an incident major
ROLES = {"incidents": SourceRole(source="pagerduty", label="PagerDuty"),
         "slos": SourceRole(source="prometheus", label="Prometheus")}
_ids = count(1)


def at(days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    return START + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def human(person: str) -> Actor:
    return Actor(kind="human", id=person)


def machine(service: str = "PS1") -> Actor:
    return Actor(kind="automation", id=service)


def entry(kind: EventKind, when: datetime, **fields: object) -> Event:
    return Event(id=f"R{next(_ids)}", kind=kind, at=when, **fields)  # type: ignore[arg-type]


def ack(when: datetime, user: str) -> Event:
    return entry("acknowledged", when, actor=human(user))


def notify(when: datetime, user: str, kind: str = "sms_notification") -> Event:
    """A notification of ``user``; ``kind`` as PagerDuty names it: email does not interrupt."""
    return entry("notified", when, actor=machine(), person_id=user, interrupting=kind != "email_notification")


def resolve(when: datetime, by_user: str | None = None) -> Event:
    return entry("resolved", when, actor=human(by_user) if by_user else machine())


def escalate(when: datetime, channel: str = "timeout") -> Event:
    return entry("escalated", when, actor=machine(), escalation="timeout" if channel == "timeout" else "manual")


def incident(number: int, created: datetime, *entries: Event, service: str = "PS1", urgency: str = "high",
             resolved_at: datetime | None = None, priority: str | None = None, title: str = "Disk full",
             status: str | None = None, key: str | None = None) -> Incident:
    return Incident(
        id=f"Q{number}", number=number, title=title, service_id=service, created_at=created,
        status=status or ("resolved" if resolved_at else "triggered"), urgency=urgency,  # type: ignore[arg-type]
        resolved_at=resolved_at, severity_rank=SEVERITIES.get(priority) if priority else None, key=key,
        url=f"https://acme.pagerduty.com/incidents/Q{number}",
        events=[entry("triggered", created, actor=machine(service)), *entries],
    )


USERS = [
    Person(id="U1", name="Ana", time_zone="Europe/Lisbon"),
    Person(id="U2", name="Grace", time_zone="America/New_York"),
    Person(id="U3", name="Hiro", time_zone="Asia/Tokyo"),
]


def snapshot(incidents: list[Incident], *, shifts: list[Shift] | None = None, slos: bool = False,
             measurements: SloData | None = None) -> Snapshot:
    setup = Setup(
        teams=[SetupTeam(name="payments"), SetupTeam(name="platform")],
        services=[
            SetupService(name="checkout", team="payments", source_ids=["PS1"]),
            SetupService(name="ledger", team="payments", source_ids=["PS2"]),
            SetupService(name="gateway", team="platform", source_ids=["PS3", "PS4"]),
        ],
        slos=[SetupSlo(name="availability", kind="ratio", objective=0.999, period_seconds=28 * 86400,
                       min_events=100, expected=["checkout", "ledger", "gateway"])] if slos else [],
    )
    return Snapshot(
        window=WINDOW, generated_at=END + timedelta(hours=1), setup=setup,
        sources={"pagerduty": SourceStatus(status="ok", requests=3)},
        roles=ROLES,
        incidents=IncidentData(
            source="pagerduty", collected_at=END + timedelta(hours=1), people=USERS,
            services=[SourceService(id=f"PS{i}", name=f"svc{i}") for i in range(1, 5)],
            severities=[Severity(id=name, name=name, rank=rank) for name, rank in SEVERITIES.items()],
            incidents=incidents, shifts=shifts or [],
        ),
        slos=measurements,
    )
