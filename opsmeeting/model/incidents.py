"""Incidents in a model of no one vendor: what an incident source (PagerDuty, or any other) returns.

A source maps its own vocabulary onto these types; aggregation reads only them. An incident has a
timeline of events by kind; each event names its actor, a human (a ``Person`` of the source, with
a time zone) or automation (the service, an integration, a rule); severity is a rank. Beside the
incidents of the window, a source may give the incidents opened earlier that were still open when it
collected (``IncidentData.earlier_open``) and the maintenance windows of the services
(``IncidentData.maintenance``), for the handoff to the next rotation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import Field
from pydantic.dataclasses import dataclass

from opsmeeting.model.base import RECORD, Frozen, Interned
from opsmeeting.window import Window

# ``unacknowledged``: the incident went back from acknowledged to triggered (its acknowledgement timed
# out, or someone undid it); ``assigned``: someone else now holds it (a reassignment re-triggers it)
EventKind = Literal["triggered", "notified", "acknowledged", "unacknowledged", "escalated", "assigned", "resolved",
                    "annotated", "other"]


class Person(Frozen):
    """A responder as the source knows them."""

    id: str
    name: str
    email: str | None = None
    time_zone: str | None = None  # IANA; None: the rotation's zone is used


class SourceTeam(Frozen):
    id: str
    name: str


class SourceService(Frozen):
    id: str
    name: str
    team_ids: list[str] = Field(default_factory=list)


class Severity(Frozen):
    """One of the account's severity levels; ``rank`` 0 is the most severe."""

    id: str
    name: str
    rank: int


@dataclass(frozen=True, slots=True, config=RECORD)
class Actor:
    """Who did something: a human (``id`` is a ``Person``'s) or automation (a service, an integration)."""

    kind: Literal["human", "automation"]
    id: Interned | None = None


@dataclass(frozen=True, slots=True, config=RECORD)
class Event:
    """One entry of an incident's timeline.

    ``person_id`` is whom the event is about: the person notified, or assigned. ``interrupting``
    (notified only) says whether the notification interrupts (SMS, phone call, push), unlike email.
    ``escalation`` (escalated only) says whether it happened by ``timeout`` or by hand (``manual``).
    ``assignees`` (assigned, escalated) are everyone the event gave the incident to (``person_id`` is
    the first of them); empty when the source did not say (then ``person_id`` alone, if any).

    A compact record (a slotted, validated dataclass, not a model): an account's timelines hold hundreds
    of thousands of events, at about 270 bytes each this way against 1.8 kB as models. Its JSON is the
    same.
    """

    id: str
    kind: EventKind
    at: datetime
    actor: Actor | None = None
    person_id: Interned | None = None
    interrupting: bool | None = None
    escalation: Literal["timeout", "manual"] | None = None
    note: str | None = None
    assignees: tuple[Interned, ...] = ()  # Person ids


@dataclass(frozen=True, slots=True, config=RECORD)
class Holder:
    """Someone holding an incident when it was collected: an assignee or an acknowledger, since ``at``."""

    person_id: str
    at: datetime | None = None


@dataclass(frozen=True, slots=True, config=RECORD)
class Incident:
    """An incident, a compact record like its events (an account has tens of thousands): change one
    with ``dataclasses.replace``."""

    id: str
    number: int
    title: str
    service_id: Interned  # the source's service id
    created_at: datetime
    status: Literal["triggered", "acknowledged", "resolved"]
    urgency: Literal["high", "low"]
    resolved_at: datetime | None = None
    severity_rank: int | None = None  # the rank of its severity (0: the most severe); None when it has none
    key: str | None = None  # the source's deduplication key (PagerDuty's incident_key)
    url: str | None = None
    events: list[Event] = Field(default_factory=list)
    # the source's own view when it was collected (empty once resolved): who it was assigned to, who had
    # acknowledged it, and since when it has had its current status (None: the source did not say)
    assignments: list[Holder] = Field(default_factory=list)
    acknowledgements: list[Holder] = Field(default_factory=list)
    status_changed_at: datetime | None = None


class Shift(Frozen):
    """Who was on call when, from a schedule."""

    schedule_id: str
    person_id: str
    start: datetime
    end: datetime


class Directory(Frozen):
    """Every team and service an incident source has: what discovery chooses from."""

    teams: list[SourceTeam] = Field(default_factory=list)
    services: list[SourceService] = Field(default_factory=list)
    teams_error: str | None = None  # why the teams could not be read (services are found without their names)


class MaintenanceWindow(Frozen):
    """A planned period in which the source creates no incidents for some services."""

    id: str
    start: datetime
    end: datetime
    description: str | None = None
    service_ids: list[str] = Field(default_factory=list)  # the source's service ids
    url: str | None = None  # the window's page at the source


class Maintenance(Frozen):
    """Every maintenance window of the collected services that overlaps ``[since, until)``: the rotation
    collected (``since`` is its start) and the one after it (``until`` is that one's end,
    ``following(window).end``). Past ones inside the window are kept too."""

    since: datetime
    until: datetime
    windows: list[MaintenanceWindow] = Field(default_factory=list)


def following(window: Window) -> Window:
    """The rotation after ``window``: as long, starting at its end. A window of whole local days keeps
    its local start time across a daylight-saving change (as ``RotationClock`` does); any other length
    steps in absolute time."""
    wall = window.local_end.replace(tzinfo=None) - window.local_start.replace(tzinfo=None)
    if wall > timedelta(0) and wall.total_seconds() % 86400 == 0:
        local = window.local_end.replace(tzinfo=None) + wall
        aware = local.replace(tzinfo=window.tz, fold=0)
        if aware.astimezone(UTC).astimezone(window.tz).replace(tzinfo=None) != local:  # a spring-forward gap
            aware = local.replace(tzinfo=window.tz, fold=1)
        end = aware.astimezone(UTC)
    else:
        end = window.end + window.duration
    return Window(start=window.end, end=end, timezone=window.timezone)


# what a missing optional part of an incident source leaves unknown (aggregation reads these names)
OptionalPart = Literal["severities", "people", "teams", "services", "schedules", "earlier_incidents",
                       "maintenance_windows"]


class IncidentData(Frozen):
    """Everything an incident source collected for one window."""

    source: str  # the collector's name, e.g. "pagerduty"
    collected_at: datetime
    people: list[Person] = Field(default_factory=list)
    teams: list[SourceTeam] = Field(default_factory=list)
    services: list[SourceService] = Field(default_factory=list)
    severities: list[Severity] = Field(default_factory=list)
    incidents: list[Incident] = Field(default_factory=list)
    shifts: list[Shift] = Field(default_factory=list)
    unavailable: dict[OptionalPart, str] = Field(default_factory=dict)  # optional parts not read, and why
    # incidents opened before the window and still open at the collection, for the handoff; None: not
    # collected (a snapshot older than this field, a source that cannot list them, or the part failed:
    # ``unavailable["earlier_incidents"]`` then says why)
    earlier_open: list[Incident] | None = None
    # the maintenance windows of the collected services; None: not collected (likewise, with
    # ``unavailable["maintenance_windows"]``)
    maintenance: Maintenance | None = None
