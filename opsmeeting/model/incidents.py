"""Incidents in a model of no one vendor: what an incident source (PagerDuty, or any other) returns.

A source maps its own vocabulary onto these types; aggregation reads only them. An incident has a
timeline of events by kind; each event names its actor, a human (a ``Person`` of the source, with
a time zone) or automation (the service, an integration, a rule); severity is a rank.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from opsmeeting.model.base import Frozen

EventKind = Literal["triggered", "notified", "acknowledged", "escalated", "assigned", "resolved", "annotated",
                    "other"]


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


class Actor(Frozen):
    """Who did something: a human (``id`` is a ``Person``'s) or automation (a service, an integration)."""

    kind: Literal["human", "automation"]
    id: str | None = None


class Event(Frozen):
    """One entry of an incident's timeline.

    ``person_id`` is whom the event is about: the person notified, or assigned. ``interrupting``
    (notified only) says whether the notification interrupts (SMS, phone call, push), unlike email.
    ``escalation`` (escalated only) says whether it happened by ``timeout`` or by hand (``manual``).
    """

    id: str
    kind: EventKind
    at: datetime
    actor: Actor | None = None
    person_id: str | None = None
    interrupting: bool | None = None
    escalation: Literal["timeout", "manual"] | None = None
    note: str | None = None


class Incident(Frozen):
    id: str
    number: int
    title: str
    service_id: str  # the source's service id
    created_at: datetime
    status: Literal["triggered", "acknowledged", "resolved"]
    urgency: Literal["high", "low"]
    resolved_at: datetime | None = None
    severity_rank: int | None = None  # the rank of its severity (0: the most severe); None when it has none
    key: str | None = None  # the source's deduplication key (PagerDuty's incident_key)
    url: str | None = None
    events: list[Event] = Field(default_factory=list)


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


# what a missing optional part of an incident source leaves unknown (aggregation reads these names)
OptionalPart = Literal["severities", "people", "teams", "services", "schedules"]


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
