"""PagerDuty's vocabulary, and the one place that knows it: API objects (and the schema-1 snapshots,
which kept PagerDuty's words) mapped onto the model of no one vendor (``opsmeeting.model``).

- log entry types: ``trigger_log_entry`` → triggered, ``acknowledge_log_entry`` (the OpenAPI
  document's ``acknowledgement_log_entry`` too) → acknowledged, ``unacknowledge`` (the acknowledgement
  timed out, or was undone) → unacknowledged, ``notify`` → notified, ``escalate`` → escalated,
  ``assign`` and ``delegate`` (reassigned to another escalation policy) → assigned, ``resolve`` →
  resolved, ``annotate`` → annotated; an assign or escalate entry's ``assignees`` are the event's;
- agents: a ``user_reference`` is a human; a ``service_reference`` or ``integration_reference``
  is automation (an auto-resolve, an integration's resolution);
- an incident's ``assignments`` and ``acknowledgements`` (empty once it is resolved) are its
  holders when collected, ``last_status_change_at`` when it took its current status;
- maintenance windows: ``start_time``, ``end_time``, ``description``, ``services`` (references),
  ``html_url``;
- notifications: SMS, phone and push interrupt (PagerDuty's "interruption"), email does not;
- escalations: ``channel.type`` ``timeout`` is an escalation by timeout, any other by hand;
- priorities: ``GET /priorities`` lists them most to least severe; the rank is that position.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opsmeeting.collectors.pagerduty.api import Json, PagerDutyFailure
from opsmeeting.model import (
    Actor,
    Event,
    EventKind,
    Holder,
    Incident,
    IncidentData,
    MaintenanceWindow,
    Person,
    Severity,
    Shift,
    SourceService,
    SourceTeam,
)
from opsmeeting.model.incidents import OptionalPart
from opsmeeting.timefmt import parse_iso

EVENT_KINDS: dict[str, EventKind] = {
    "trigger": "triggered", "acknowledge": "acknowledged", "acknowledgement": "acknowledged",
    "unacknowledge": "unacknowledged", "notify": "notified", "escalate": "escalated", "assign": "assigned",
    "delegate": "assigned", "resolve": "resolved", "annotate": "annotated",
}
HUMAN_AGENTS = ("user_reference", "user")
MACHINE_AGENTS = ("service_reference", "service", "integration_reference", "integration")
INTERRUPTING = ("sms_notification", "phone_notification", "push_notification")
OPTIONAL_PARTS: dict[str, OptionalPart] = {  # PagerDuty's name of an optional part → the model's
    "priorities": "severities", "users": "people", "teams": "teams", "services": "services",
    "schedules": "schedules", "open_incidents": "earlier_incidents", "maintenance_windows": "maintenance_windows",
}


def event_kind(log_entry_type: str) -> EventKind:
    kind = log_entry_type.removesuffix("_log_entry").removesuffix("_reference")
    return EVENT_KINDS.get(kind, "other")


def actor(agent_type: str | None, agent_id: str | None) -> Actor | None:
    if agent_type in HUMAN_AGENTS:
        return Actor(kind="human", id=agent_id)
    if agent_type in MACHINE_AGENTS:
        return Actor(kind="automation", id=agent_id)
    return None


def _event(id: str, kind: EventKind, at: datetime, agent_type: str | None, agent_id: str | None,
           person_id: str | None, notification_type: str | None, channel_type: str | None,
           note: str | None, assignees: list[str] | None = None) -> Event:
    escalation: Literal["timeout", "manual"] | None = None
    if kind == "escalated":
        escalation = "timeout" if channel_type == "timeout" else "manual"
    return Event(id=id, kind=kind, at=at, actor=actor(agent_type, agent_id), person_id=person_id,
                 interrupting=(notification_type in INTERRUPTING) if kind == "notified" else None,
                 escalation=escalation, note=note,
                 assignees=tuple(assignees or ()) if kind in ("assigned", "escalated") else ())


def event_from_api(raw: Json) -> Event:
    """A log entry as the API sends it."""
    kind = event_kind(str(raw.get("type", "")))
    agent, channel, user = _ref(raw, "agent"), _ref(raw, "channel"), _ref(raw, "user")
    assignees = _ids(raw.get("assignees"))
    notification = _ref(channel, "notification")
    note = raw.get("note") or (channel.get("summary") if kind == "annotated" else None)
    return _event(raw["id"], kind, required_time(raw.get("created_at"), f"log entry {raw['id']}"),
                  _text(agent.get("type")), _text(agent.get("id")),
                  _text(user.get("id")) or (assignees[0] if assignees else None), _text(notification.get("type")),
                  _text(channel.get("type")), _text(note), assignees)


def _ids(refs: Any) -> list[str]:
    """The string ids of a list of references, in order, once each (anything else is skipped)."""
    if not isinstance(refs, list):
        return []
    return list(dict.fromkeys(r["id"] for r in refs if isinstance(r, dict) and isinstance(r.get("id"), str)))


def _holders(items: Any, key: str) -> list[Holder]:
    """An incident's ``assignments`` (``key`` ``assignee``) or ``acknowledgements`` (``acknowledger``):
    the users among them, with when; a service that acknowledged (an integration) is no person."""
    if not isinstance(items, list):
        return []
    out: dict[str, Holder] = {}
    for item in items:
        who = _ref(item, key) if isinstance(item, dict) else {}
        person = _text(who.get("id"))
        if person and str(who.get("type", "user_reference")) in HUMAN_AGENTS and person not in out:
            out[person] = Holder(person_id=person, at=time_or_none(item.get("at")))
    return list(out.values())


def with_timeline(incident: Incident, events: list[Event]) -> Incident:
    """``incident`` (from ``incident_from_api`` without events) with its timeline: the events once each
    (by id), in time order; a resolved incident whose answer gave no ``resolved_at`` takes its last
    resolve event's time."""
    timeline = sorted({e.id: e for e in events}.values(), key=lambda e: (e.at, e.id))
    update: dict[str, Any] = {"events": timeline}
    if incident.status == "resolved" and incident.resolved_at is None:
        resolves = [e.at for e in timeline if e.kind == "resolved"]
        update["resolved_at"] = resolves[-1] if resolves else None
    return dataclasses.replace(incident, **update)


def incident_from_api(raw: Json, events: list[Event], rank_of: dict[str, int]) -> Incident:
    """An incident as the API sends it, with its timeline (``with_timeline``); ``rank_of`` maps priority
    ids to ranks."""
    status = raw.get("status", "triggered")
    urgency = raw.get("urgency", "high")
    if status not in ("triggered", "acknowledged", "resolved") or urgency not in ("high", "low"):
        raise PagerDutyFailure(f"incident {raw['id']}: malformed answer (status {status!r}, urgency {urgency!r})")
    created_at = required_time(raw.get("created_at"), f"incident {raw['id']}")
    resolved_at = time_or_none(raw.get("resolved_at"))
    number = raw.get("incident_number")
    priority = _text(_ref(raw, "priority").get("id"))
    incident = Incident(
        id=raw["id"],
        number=number if isinstance(number, int) and not isinstance(number, bool) else 0,
        title=str(raw.get("title") or raw.get("summary") or ""),
        service_id=str(_ref(raw, "service").get("id", "")),
        created_at=created_at,
        status=status,
        urgency=urgency,
        resolved_at=resolved_at if status == "resolved" else None,
        severity_rank=rank_of.get(priority) if priority else None,
        key=_text(raw.get("incident_key")),
        url=_text(raw.get("html_url")),
        assignments=[] if status == "resolved" else _holders(raw.get("assignments"), "assignee"),
        acknowledgements=[] if status != "acknowledged" else _holders(raw.get("acknowledgements"), "acknowledger"),
        status_changed_at=time_or_none(raw.get("last_status_change_at")),
    )
    if events or (status == "resolved" and incident.resolved_at is None):
        return with_timeline(incident, events)
    return incident


def maintenance_window_from_api(raw: Json) -> MaintenanceWindow:
    """A maintenance window as ``GET /maintenance_windows`` sends it (times with any offset)."""
    start, end = time_or_none(raw.get("start_time")), time_or_none(raw.get("end_time"))
    if start is None or end is None:
        raise PagerDutyFailure(f"maintenance window {raw['id']}: malformed answer (start_time "
                               f"{str(raw.get('start_time'))[:40]!r}, end_time {str(raw.get('end_time'))[:40]!r})")
    description = _text(raw.get("description")) if "description" in raw else _text(raw.get("summary"))
    url = _text(raw.get("html_url"))
    return MaintenanceWindow(id=raw["id"], start=start, end=max(start, end), description=description or None,
                             service_ids=_ids(raw.get("services")),
                             url=url if url and url.startswith(("https://", "http://")) else None)


def severities_from_api(priorities: list[Json]) -> list[Severity]:
    return [Severity(id=p["id"], name=str(p.get("name") or p.get("summary") or p["id"]), rank=i)
            for i, p in enumerate(priorities)]


def person_from_api(user: Json) -> Person:
    return Person(id=user["id"], name=str(user.get("name") or user["id"]), email=_text(user.get("email")),
                  time_zone=_zone(user.get("time_zone")))


def team_from_api(team: Json) -> SourceTeam:
    return SourceTeam(id=team["id"], name=str(team.get("name") or team["id"]))


def service_from_api(service: Json) -> SourceService:
    return SourceService(id=service["id"], name=str(service.get("name") or service["id"]),
                         team_ids=[t["id"] for t in (service.get("teams") or []) if isinstance(t, dict) and "id" in t])


def shift_from_api(schedule_id: str, item: Any) -> Shift | None:
    """One rendered schedule entry; None when it lacks a user or valid times."""
    if not isinstance(item, dict):
        return None
    start, end = time_or_none(item.get("start")), time_or_none(item.get("end"))
    user_id = _ref(item, "user").get("id")
    if start and end and isinstance(user_id, str):
        return Shift(schedule_id=schedule_id, person_id=user_id, start=start, end=end)
    return None


# --- schema-1 snapshots ----------------------------------------------------------------------------


def incident_data_from_v1(data: Json) -> IncidentData:
    """A schema-1 snapshot's ``pagerduty.json``: PagerDuty's vocabulary, reduced (log entries with
    ``type`` without its suffix, ``agent_type``, ``notification_type``, ``channel_type``)."""
    ranks = {p["id"]: int(p["order"]) for p in data.get("priorities", [])}
    order = sorted(data.get("priorities", []), key=lambda p: int(p["order"]))
    incidents = []
    for raw in data.get("incidents", []):
        events = [_event(e["id"], event_kind(e["type"]), parse_iso(e["created_at"]), e.get("agent_type"),
                         e.get("agent_id"), e.get("user_id"), e.get("notification_type"), e.get("channel_type"),
                         e.get("note")) for e in raw.get("log_entries", [])]
        priority = raw.get("priority_id")
        incidents.append(Incident(
            id=raw["id"], number=raw["number"], title=raw["title"], service_id=raw["service_id"],
            created_at=parse_iso(raw["created_at"]), status=raw["status"], urgency=raw["urgency"],
            resolved_at=parse_iso(raw["resolved_at"]) if raw.get("resolved_at") else None,
            severity_rank=sorted(ranks.values()).index(ranks[priority]) if priority in ranks else None,
            key=raw.get("incident_key"), url=raw.get("html_url"), events=events))
    return IncidentData(
        source="pagerduty", collected_at=parse_iso(data["collected_at"]),
        people=[Person(id=u["id"], name=u["name"], email=u.get("email"), time_zone=u.get("time_zone"))
                for u in data.get("users", [])],
        teams=[SourceTeam(id=t["id"], name=t["name"]) for t in data.get("teams", [])],
        services=[SourceService(id=s["id"], name=s["name"], team_ids=s.get("team_ids", []))
                  for s in data.get("services", [])],
        severities=[Severity(id=p["id"], name=p["name"], rank=i) for i, p in enumerate(order)],
        incidents=incidents,
        shifts=[Shift(schedule_id=s["schedule_id"], person_id=s["user_id"], start=parse_iso(s["start"]),
                      end=parse_iso(s["end"])) for s in data.get("shifts", [])],
        unavailable={OPTIONAL_PARTS[k]: v for k, v in data.get("unavailable", {}).items()
                     if k in OPTIONAL_PARTS},
    )


def required_time(value: Any, what: str) -> datetime:
    moment = time_or_none(value)
    if moment is None:
        raise PagerDutyFailure(f"{what}: malformed answer (created_at {str(value)[:40]!r})")
    return moment


def _ref(raw: Json, key: str) -> Json:
    """A nested reference object, or {} when it is null or of another shape."""
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


def time_or_none(value: Any) -> datetime | None:
    try:
        return parse_iso(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _zone(value: Any) -> str | None:
    """A user's IANA time zone, or None (the rotation's zone is then used) when it is not one we know."""
    if not isinstance(value, str):
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return value


