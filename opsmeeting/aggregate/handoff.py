"""The handoff to the next rotation (METRICS.md, "Handoff"): the incidents still open at the window end,
with their state, owners and age; those acknowledged for too long without a resolution; and the
maintenance windows starting in the next rotation.

An incident's state at the end is replayed from its timeline: created triggered; acknowledged by an
acknowledgement; triggered again when the acknowledgement times out or is undone (``unacknowledged``)
or when it is reassigned or escalated (the new holder must acknowledge it). When nothing changed its
state after the end (no such event after it, and the source's own status dates from before it), the
source's status at the collection is the state at the end: it is the source's word, and it needs no
timeline (incidents opened in earlier rotations come without one when nothing changed).

Owners: of an acknowledged incident, the person who acknowledged it last (PagerDuty: "the user who
acknowledges an incident claims ownership"); of a triggered one, its assignees (of its last assignment
or escalation in the timeline, else the source's assignments); nobody when neither is known.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from opsmeeting.aggregate.model import (
    Handoff,
    HandoffIncident,
    HandoffMaintenance,
    HandoffPerson,
    HandoffStatus,
    NextRotation,
)
from opsmeeting.model import Event, Holder, Incident, IncidentData, Snapshot, following

# the events after which an incident's state at an earlier moment cannot be read from its current status
STATE_KINDS = frozenset({"triggered", "acknowledged", "unacknowledged", "assigned", "escalated", "resolved"})
LISTED = 10  # incident numbers named in one reason or note

State = Literal["triggered", "acknowledged"]


@dataclass
class Replay:
    """What an incident's timeline says up to a moment."""

    state: Literal["triggered", "acknowledged", "resolved"] = "triggered"
    since: datetime | None = None  # start of the acknowledgement in force (reset by any re-trigger)
    acknowledgers: list[str] = field(default_factory=list)  # of that acknowledgement, the most recent last
    # the same, reset only when the acknowledgement ends (``unacknowledged``): when the source says the
    # incident is acknowledged and the replay does not, this is the acknowledgement it means
    loose_since: datetime | None = None
    loose_acknowledgers: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)  # of the last assignment or escalation naming people
    events: int = 0


def replay(events: Iterable[Event]) -> Replay:
    """Replay ``events`` (any order) from a triggered incident."""
    out = Replay()
    for event in sorted(events, key=lambda e: (e.at, e.id)):
        out.events += 1
        who = event.actor.id if event.actor and event.actor.kind == "human" and event.actor.id else None
        if event.kind == "acknowledged":
            if out.state != "acknowledged":
                out.since, out.acknowledgers = event.at, []
            if out.loose_since is None:
                out.loose_since = event.at
            out.state = "acknowledged"
            if who:
                for people in (out.acknowledgers, out.loose_acknowledgers):
                    if who in people:
                        people.remove(who)
                    people.append(who)
        elif event.kind == "unacknowledged":
            out.state, out.since, out.acknowledgers = "triggered", None, []
            out.loose_since, out.loose_acknowledgers = None, []
        elif event.kind in ("assigned", "escalated"):
            named = list(event.assignees) or ([event.person_id] if event.person_id else [])
            if named:
                out.assignees = named
            if out.state == "acknowledged":
                out.state, out.since, out.acknowledgers = "triggered", None, []
        elif event.kind == "resolved":
            out.state = "resolved"
        elif event.kind == "triggered" and out.state == "resolved":  # reopened
            out.state = "triggered"
    return out


@dataclass
class AtEnd:
    """An incident's state at a moment."""

    state: State | None  # None: neither its timeline nor its source can say
    since: datetime | None = None
    acknowledgers: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    problem: str | None = None  # what is unknown about it


def _holders(holders: list[Holder], as_of: datetime) -> list[str]:
    return [h.person_id for h in sorted(holders, key=lambda h: (h.at is None, h.at or as_of))
            if h.at is None or h.at <= as_of]


def _resolved_at(incident: Incident) -> datetime | None:
    if incident.resolved_at is not None:
        return incident.resolved_at
    resolves = [e.at for e in incident.events if e.kind == "resolved"]
    return max(resolves) if resolves else None


def state_at(incident: Incident, as_of: datetime) -> AtEnd | None:
    """The state of ``incident`` at ``as_of``, or None when it was not open then (created at or after it,
    or resolved by then; a resolved incident whose resolution time is unknown counts as resolved)."""
    if incident.created_at >= as_of:
        return None
    if incident.status == "resolved":
        resolved = _resolved_at(incident)
        if resolved is None or resolved <= as_of:
            return None
    timeline = replay(e for e in incident.events if e.at <= as_of)
    later = any(e.kind in STATE_KINDS and e.at > as_of for e in incident.events)
    settled = incident.status_changed_at is None or incident.status_changed_at <= as_of
    if incident.status != "resolved" and not later and settled:
        # nothing changed after as_of: the source's status at the collection was already the state then
        if incident.status == "triggered":
            assignees = timeline.assignees or _holders(incident.assignments, as_of)
            return AtEnd("triggered", assignees=assignees)
        since: datetime | None = timeline.since
        if timeline.state == "acknowledged" and since is not None:
            acknowledgers = timeline.acknowledgers
        else:
            since = incident.status_changed_at or timeline.loose_since
            acknowledgers = timeline.loose_acknowledgers
        acknowledgers = acknowledgers or _holders(incident.acknowledgements, as_of)
        assignees = timeline.assignees or _holders(incident.assignments, as_of)
        problem = None if since is not None else ("acknowledged, since when is unknown (no acknowledgement in its "
                                                  "timeline)")
        return AtEnd("acknowledged", since=since, acknowledgers=acknowledgers, assignees=assignees, problem=problem)
    if not timeline.events:
        return AtEnd(None, problem="its state at the window end is unknown (it changed since, and its timeline "
                                   "is not in the snapshot)")
    if timeline.state == "resolved":  # resolved in the timeline, reopened after: open at the end is unknown
        return None
    if timeline.state == "acknowledged":
        return AtEnd("acknowledged", since=timeline.since, acknowledgers=timeline.acknowledgers,
                     assignees=timeline.assignees)
    return AtEnd("triggered", assignees=timeline.assignees)


def _numbers(incidents: list[HandoffIncident]) -> str:
    shown = ", ".join(f"#{i.number}" for i in incidents[:LISTED])
    return shown + (f" and {len(incidents) - LISTED} more" if len(incidents) > LISTED else "")


def _source_problem(snapshot: Snapshot) -> str:
    info, status = snapshot.role_status("incidents")
    label = info.label if info else "The incident source"
    if info is None:
        return "No incident source is configured"
    if status is None or status.status == "not_configured":
        return f"{label}: {status.detail}" if status and status.detail else f"{label} is not configured"
    return f"{label} could not be read" + (f": {status.detail}" if status.detail else "")


def build_handoff(snapshot: Snapshot) -> Handoff:
    """The handoff of ``snapshot``'s window (METRICS.md, "Handoff")."""
    window, setup, data = snapshot.window, snapshot.setup, snapshot.incidents
    after = following(window)
    as_of = min(window.end, data.collected_at if data is not None else snapshot.generated_at)
    threshold = setup.handoff_acknowledged_longer_than_seconds
    base = {"as_of": as_of, "next_rotation": NextRotation(start=after.start, end=after.end),
            "acknowledged_longer_than_s": threshold}
    if data is None:
        why = _source_problem(snapshot)
        return Handoff(**base, status="unavailable", reason=why, maintenance_status="unavailable",
                       maintenance_reason=why)
    listed, status, reasons, notes = _open_incidents(snapshot, data, as_of)
    long = sorted((i for i in listed if i.state == "acknowledged" and i.acknowledged_for_s is not None
                   and i.acknowledged_for_s > threshold),
                  key=lambda i: (i.acknowledged_since or as_of, i.number))
    windows, maintenance_status, maintenance_reason = _maintenance(snapshot, data)
    return Handoff(**base, status=status, reason="; ".join(reasons) or None, open_incidents=listed,
                   acknowledged_long=long, maintenance_status=maintenance_status,
                   maintenance_reason=maintenance_reason, maintenance_windows=windows, notes=notes)


def _open_incidents(snapshot: Snapshot, data: IncidentData, as_of: datetime
                    ) -> tuple[list[HandoffIncident], HandoffStatus, list[str], list[str]]:
    window = snapshot.window
    service_of = {sid: svc.name for svc in snapshot.setup.services for sid in svc.source_ids}
    names = {p.id: p.name for p in data.people}
    severity = {s.rank: s.name for s in data.severities}
    candidates = {i.id: i for i in [*(data.earlier_open or []), *data.incidents]}  # the window's copy wins
    listed: list[HandoffIncident] = []
    problems: list[tuple[HandoffIncident, str]] = []

    def people(ids: list[str]) -> list[HandoffPerson]:
        return [HandoffPerson(user=pid, name=names.get(pid)) for pid in dict.fromkeys(ids)]

    for incident in candidates.values():
        if incident.service_id not in service_of:
            continue
        at_end = state_at(incident, as_of)
        if at_end is None:
            continue
        owners: list[str] = []
        basis: Literal["acknowledgement", "assignment"] | None = None
        if at_end.state == "acknowledged" and at_end.acknowledgers:
            owners, basis = at_end.acknowledgers[-1:], "acknowledgement"
        elif at_end.assignees:
            owners, basis = at_end.assignees, "assignment"
        url = incident.url if str(incident.url or "").startswith(("https://", "http://")) else None
        card = HandoffIncident(
            id=incident.id, number=incident.number, title=incident.title, service=service_of[incident.service_id],
            html_url=url, priority=severity.get(incident.severity_rank) if incident.severity_rank is not None else None,
            severity_rank=incident.severity_rank, urgency=incident.urgency, created_at=incident.created_at,
            opened_before_window=incident.created_at < window.start,
            age_s=(as_of - incident.created_at).total_seconds(), state=at_end.state,
            acknowledged_since=at_end.since,
            acknowledged_for_s=(as_of - at_end.since).total_seconds() if at_end.since is not None else None,
            acknowledged_by=people(at_end.acknowledgers), owners=people(owners),
            owner_basis=basis,
            status_now=incident.status,
            resolved_at=_resolved_at(incident) if incident.status == "resolved" else None,
        )
        listed.append(card)
        if at_end.problem:
            problems.append((card, at_end.problem))
    listed.sort(key=lambda i: (i.severity_rank is None, i.severity_rank or 0, i.urgency != "high",
                               i.state == "acknowledged", i.created_at, i.number))
    reasons: list[str] = []
    if data.earlier_open is None:
        why = data.unavailable.get("earlier_incidents")
        reasons.append(f"the incidents opened before this rotation could not be read ({why}): only this rotation's "
                       "are listed" if why else
                       "this snapshot does not have the incidents opened before this rotation (it was collected "
                       "before opsmeeting read them, or its source cannot list them): only this rotation's are listed")
    unknown = [card for card, _ in problems if card.state is None]
    if unknown:
        reasons.append(f"the state at the window end of {len(unknown)} incident(s) is unknown ({_numbers(unknown)})")
    notes = [f"#{card.number}: {problem}" for card, problem in problems if card.state is not None][:LISTED]
    if "people" in data.unavailable and listed:
        notes.append(f"people's names are unknown (they could not be read: {data.unavailable['people']})")
    if "severities" in data.unavailable and listed:
        notes.append(f"priorities are unknown (they could not be read: {data.unavailable['severities']})")
    return listed, "partial" if reasons else "ok", reasons, notes


def _maintenance(snapshot: Snapshot, data: IncidentData
                 ) -> tuple[list[HandoffMaintenance] | None, HandoffStatus, str | None]:
    info, _ = snapshot.role_status("incidents")
    label = info.label if info else "The incident source"
    if data.maintenance is None:
        why = data.unavailable.get("maintenance_windows")
        if why:
            return None, "unavailable", f"{label}'s maintenance windows could not be read: {why}"
        return None, "unavailable", (f"this snapshot has no maintenance windows (it was collected before opsmeeting "
                                     f"read them, or {label} has none to give)")
    window = snapshot.window
    after = following(window)
    service_of = {sid: svc.name for svc in snapshot.setup.services for sid in svc.source_ids}
    found = []
    for item in data.maintenance.windows:
        services = sorted({service_of[sid] for sid in item.service_ids if sid in service_of})
        if services and after.start <= item.start < after.end:
            found.append(HandoffMaintenance(id=item.id, start=item.start, end=item.end,
                                            duration_s=(item.end - item.start).total_seconds(),
                                            description=item.description, services=services, html_url=item.url))
    found.sort(key=lambda m: (m.start, m.id))
    covered = data.maintenance.since <= after.start and data.maintenance.until >= after.end
    if not covered:
        since, until = data.maintenance.since, data.maintenance.until
        return found, "partial", (f"{label}'s maintenance windows were read from {since:%Y-%m-%d %H:%M} to "
                                  f"{until:%Y-%m-%d %H:%M} UTC only, not the whole next rotation")
    return found, "ok", None
