"""Small hand-made snapshots for metric tests: every expected number can be computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from opsmeeting.models import (
    Incident,
    LogEntry,
    OnCallShift,
    PagerDutyData,
    PdService,
    Priority,
    Setup,
    SetupService,
    SetupSlo,
    SetupTeam,
    Snapshot,
    SourceStatus,
    User,
)
from opsmeeting.window import Window

START = datetime(2026, 10, 19, 8, 0, tzinfo=UTC)  # Mon 09:00 Europe/Lisbon (WEST)
END = START + timedelta(days=14, hours=1)  # Mon 2 Nov 09:00 WET
WINDOW = Window(start=START, end=END, timezone="Europe/Lisbon")
_ids = count(1)


def at(days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    return START + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def entry(kind: str, when: datetime, **fields: object) -> LogEntry:
    return LogEntry(id=f"R{next(_ids)}", type=kind, created_at=when, **fields)  # type: ignore[arg-type]


def ack(when: datetime, user: str) -> LogEntry:
    return entry("acknowledge", when, agent_type="user_reference", agent_id=user)


def notify(when: datetime, user: str, kind: str = "sms_notification") -> LogEntry:
    return entry("notify", when, agent_type="service_reference", agent_id="PS1", user_id=user,
                 notification_type=kind)


def resolve(when: datetime, by_user: str | None = None) -> LogEntry:
    if by_user:
        return entry("resolve", when, agent_type="user_reference", agent_id=by_user)
    return entry("resolve", when, agent_type="service_reference", agent_id="PS1")


def escalate(when: datetime, channel: str = "timeout") -> LogEntry:
    return entry("escalate", when, agent_type="service_reference", agent_id="PS1", channel_type=channel)


def incident(number: int, created: datetime, *entries: LogEntry, service: str = "PS1", urgency: str = "high",
             resolved_at: datetime | None = None, priority: str | None = None, title: str = "Disk full",
             status: str | None = None, key: str | None = None) -> Incident:
    return Incident(
        id=f"Q{number}", number=number, title=title, service_id=service, created_at=created,
        status=status or ("resolved" if resolved_at else "triggered"), urgency=urgency,  # type: ignore[arg-type]
        resolved_at=resolved_at, priority_id=priority, incident_key=key,
        html_url=f"https://acme.pagerduty.com/incidents/Q{number}",
        log_entries=[entry("trigger", created, agent_type="service_reference", agent_id=service), *entries],
    )


USERS = [
    User(id="U1", name="Ana", time_zone="Europe/Lisbon"),
    User(id="U2", name="Grace", time_zone="America/New_York"),
    User(id="U3", name="Hiro", time_zone="Asia/Tokyo"),
]


def snapshot(incidents: list[Incident], *, shifts: list[OnCallShift] | None = None, slos: bool = False,
             prometheus: object = None) -> Snapshot:
    setup = Setup(
        teams=[SetupTeam(name="payments"), SetupTeam(name="platform")],
        services=[
            SetupService(name="checkout", team="payments", pagerduty_service_ids=["PS1"]),
            SetupService(name="ledger", team="payments", pagerduty_service_ids=["PS2"]),
            SetupService(name="gateway", team="platform", pagerduty_service_ids=["PS3", "PS4"]),
        ],
        slos=[SetupSlo(name="availability", kind="ratio", objective=0.999, period_seconds=28 * 86400,
                       min_events=100)] if slos else [],
    )
    return Snapshot(
        window=WINDOW, generated_at=END + timedelta(hours=1), setup=setup,
        sources={"pagerduty": SourceStatus(status="ok", requests=3)},
        pagerduty=PagerDutyData(
            collected_at=END + timedelta(hours=1), users=USERS,
            services=[PdService(id=f"PS{i}", name=f"svc{i}") for i in range(1, 5)],
            priorities=[Priority(id="P1", name="P1", order=0), Priority(id="P2", name="P2", order=1),
                        Priority(id="P3", name="P3", order=2)],
            incidents=incidents, shifts=shifts or [],
        ),
        prometheus=prometheus,  # type: ignore[arg-type]
    )
