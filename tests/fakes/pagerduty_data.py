"""Builders of PagerDuty REST API v2 objects, shaped as the API sends them.

Every builder returns a plain dict that passes PagerDuty's OpenAPI document (with the corrections
``tests.fakes.pagerduty`` applies) and carries the fields the real API sends: references with
``id``/``type``/``summary``/``self``/``html_url``, times as ISO-8601 UTC (``...Z``), and so on.
Facts of the real API the builders follow:

- a resolved incident has empty ``acknowledgements`` and ``assignments`` arrays;
- ``resolved_at``, ``priority``, ``alert_grouping`` and ``resolve_reason`` are present, null when unset;
- a log entry references its incident (``incident_reference``), service and teams; the type of an
  acknowledgement is ``acknowledge_log_entry`` (the document says ``acknowledgement_log_entry``).

Log-entry builders take the incident and a ``created_at`` datetime; their ids are derived from
their content (stable across runs) unless ``id`` is given. ``generate_org`` builds a seeded,
realistic organisation quickly enough for benchmarks; ``load_into`` puts it into a fake.
``epoch``, ``in_time_zone`` and ``schedule_between`` are how the fake reads and renders them.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import hashlib
import math
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.pagerduty import FakePagerDuty

API_URL = "https://api.pagerduty.com"
WEB_URL = "https://acme.pagerduty.com"

Obj = dict[str, Any]
Ref = Mapping[str, Any]

NOTIFICATION_CHANNELS = {
    "sms_notification": ("sms", "SMS", "+15555550100"),
    "phone_notification": ("phone", "phone", "+15555550100"),
    "push_notification": ("push_notification", "push notification", "iPhone"),
    "email_notification": ("email", "email", "responder@example.com"),
}
"""notification type -> (channel type, wording in the summary, address)."""


def iso(when: datetime | float) -> str:
    """An aware datetime (or epoch seconds) as PagerDuty renders it in UTC: ``2026-01-02T03:04:05Z``."""
    if isinstance(when, int | float):
        when = datetime.fromtimestamp(when, UTC)
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when!r}: give an aware datetime")
    return f"{when if when.tzinfo is UTC else when.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"


def epoch(value: Any) -> float:
    """Epoch seconds of an API time string (naive means UTC); ``-inf`` for a missing or malformed one."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return -math.inf
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


TIME_FIELDS = {"created_at", "updated_at", "resolved_at", "last_status_change_at", "at", "started_at", "start", "end"}


def in_time_zone(node: Any, zone: tzinfo) -> Any:
    """A copy of an API object with its ``TIME_FIELDS`` rendered in ``zone``, as the API does for
    ``time_zone=...``: ``2026-01-02T03:04:05-05:00``, or ``...Z`` in UTC.
    """
    if isinstance(node, list):
        return [in_time_zone(child, zone) for child in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if zone is UTC and key in TIME_FIELDS and isinstance(value, str) and len(value) == 20 and value[-1] == "Z":
            out[key] = value  # already as PagerDuty renders it in UTC (whole seconds)
        elif key in TIME_FIELDS and isinstance(value, str) and (seconds := epoch(value)) > -math.inf:
            text = datetime.fromtimestamp(seconds, zone).isoformat(timespec="seconds")
            out[key] = text.replace("+00:00", "Z") if zone is UTC else text
        else:
            out[key] = in_time_zone(value, zone)
    return out


def stable_id(*parts: object, prefix: str = "Q", length: int = 13) -> str:
    """A PagerDuty-looking id (upper-case alphanumerics) derived from ``parts``."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).hexdigest()
    return (prefix + digest.upper())[: length + len(prefix)]


def _urls(kind: str, id: str) -> Obj:
    api = {"escalation_policy": "escalation_policies", "priority": "priorities"}.get(kind, f"{kind}s")
    web = "service-directory" if kind == "service" else api
    return {"self": f"{API_URL}/{api}/{id}", "html_url": f"{WEB_URL}/{web}/{id}"}


def reference(kind: str, id: str, summary: str | None = None) -> Obj:
    """A ``<kind>_reference`` as the API embeds it, for example ``reference("user", "PU1", "Ana")``."""
    return {"id": id, "type": f"{kind}_reference", "summary": summary or id, **_urls(kind, id)}


def ref_of(obj: Ref) -> Obj:
    """The reference to a full object (user, team, service, incident...), or a copy of a reference."""
    kind = str(obj["type"]).removesuffix("_reference")
    return reference(kind, str(obj["id"]), obj.get("summary") or obj.get("name"))


def _object(kind: str, id: str, summary: str) -> Obj:
    return {"id": id, "type": kind, "summary": summary, **_urls(kind, id)}


def make_user(
    id: str,
    name: str,
    time_zone: str = "UTC",
    *,
    email: str | None = None,
    role: str = "user",
    team_ids: Sequence[str] = (),
) -> Obj:
    """A ``user`` as ``GET /users`` returns it; ``time_zone`` is an IANA name."""
    return {
        **_object("user", id, name),
        "name": name,
        "email": email or f"{name.lower().replace(' ', '.')}@example.com",
        "time_zone": time_zone,
        "color": "purple",
        "role": role,
        "avatar_url": f"https://secure.gravatar.com/avatar/{stable_id(id, prefix='', length=16).lower()}",
        "invitation_sent": False,
        "job_title": "Site Reliability Engineer",
        "teams": [reference("team", t) for t in team_ids],
        "contact_methods": [],
        "notification_rules": [],
    }


def make_team(id: str, name: str, description: str = "") -> Obj:
    """A ``team`` as ``GET /teams`` returns it."""
    return {**_object("team", id, name), "name": name, "description": description, "default_role": "manager"}


def make_service(
    id: str,
    name: str,
    team_ids: Sequence[str] = (),
    *,
    team_names: Mapping[str, str] | None = None,
    escalation_policy_id: str = "PEPDEF1",
    status: str = "active",
) -> Obj:
    """A ``service`` as ``GET /services`` returns it; ``team_names`` give its team references' summaries."""
    return {
        **_object("service", id, name),
        "name": name,
        "description": f"{name} service",
        "auto_resolve_timeout": 14400,
        "acknowledgement_timeout": 1800,
        "created_at": "2024-01-01T00:00:00Z",
        "status": status,
        "escalation_policy": reference("escalation_policy", escalation_policy_id),
        "teams": [reference("team", t, (team_names or {}).get(t)) for t in team_ids],
        "integrations": [],
        "alert_creation": "create_alerts_and_incidents",
    }


def make_priority(id: str, name: str, order: int, description: str = "") -> Obj:
    """A ``priority``; ``GET /priorities`` lists them most to least severe."""
    fields = {"name": name, "description": description or f"{name} priority", "order": order, "color": "a8171c"}
    return {**_object("priority", id, name), "html_url": None, **fields}


def trigger_entry_id(incident_id: str) -> str:
    """Id of an incident's first ``trigger_log_entry`` (shared by the incident and the entry)."""
    return stable_id(incident_id, "trigger_log_entry")


def make_incident(
    id: str,
    number: int,
    service: Ref,
    created_at: datetime,
    urgency: str = "high",
    status: str = "triggered",
    resolved_at: datetime | None = None,
    priority: Ref | None = None,
    title: str | None = None,
    incident_key: str | None = None,
    *,
    acknowledgers: Sequence[tuple[Ref, datetime]] = (),
    assignees: Sequence[tuple[Ref, datetime]] = (),
) -> Obj:
    """An ``incident`` as ``GET /incidents`` returns it.

    ``service`` is the full service (its teams become the incident's); ``priority`` a full priority;
    ``acknowledgers``/``assignees`` are ``(user, at)`` pairs, dropped once the incident is resolved.
    """
    if status not in ("triggered", "acknowledged", "resolved"):
        raise ValueError(f"status {status!r}")
    if (status == "resolved") != (resolved_at is not None):
        raise ValueError("resolved_at is given exactly when status is 'resolved'")
    text, resolved = title or f"Alert on {service.get('name', service['id'])}", status == "resolved"
    changed = resolved_at or max([created_at, *(at for _, at in acknowledgers)])
    first = trigger_entry_id(id)
    return {
        **_object("incident", id, f"[#{number}] {text}"),
        "incident_number": number,
        "title": text,
        "description": text,
        "created_at": iso(created_at),
        "updated_at": iso(changed),
        "status": status,
        "incident_key": incident_key or stable_id(id, "key", prefix="", length=32).lower(),
        "service": ref_of(service),
        "assignments": [] if resolved else [{"at": iso(at), "assignee": ref_of(u)} for u, at in assignees],
        "assigned_via": "escalation_policy",
        "last_status_change_at": iso(changed),
        "last_status_change_by": ref_of(service),
        "resolved_at": iso(resolved_at) if resolved_at else None,
        "first_trigger_log_entry": {
            **reference("trigger_log_entry", first, "Triggered through the API."),
            "self": f"{API_URL}/log_entries/{first}?incident_id={id}",
            "html_url": f"{WEB_URL}/incidents/{id}/log_entries/{first}",
        },
        "alert_counts": {"all": 1, "triggered": int(not resolved), "resolved": int(resolved)},
        "is_mergeable": True,
        "incident_type": {"name": "incident_default"},
        "escalation_policy": dict(service["escalation_policy"]),
        "teams": [dict(t) for t in service.get("teams", [])],
        "pending_actions": [],
        "acknowledgements": [] if resolved else [{"at": iso(at), "acknowledger": ref_of(u)} for u, at in acknowledgers],
        "alert_grouping": None,
        "priority": dict(priority) if priority else None,
        "resolve_reason": None,
        "incidents_responders": [],
        "responder_requests": [],
        "urgency": urgency,
    }


def _entry(
    incident: Ref,
    kind: str,
    created_at: datetime,
    summary: str,
    channel: Obj,
    *,
    agent: Ref | None = None,
    id: str | None = None,
    key: Iterable[object] = (),
) -> Obj:
    """The fields every log entry has; ``key`` makes the derived id unique."""
    eid = id or stable_id(incident["id"], kind, iso(created_at), *key)
    entry: Obj = {
        "id": eid,
        "type": kind,
        "summary": summary,
        "self": f"{API_URL}/log_entries/{eid}?incident_id={incident['id']}",
        "html_url": f"{WEB_URL}/incidents/{incident['id']}/log_entries/{eid}",
        "created_at": iso(created_at),
        "channel": channel,
        "service": ref_of(incident["service"]),
        "incident": ref_of(incident),
        "teams": [dict(t) for t in incident.get("teams", [])],
        "contexts": [],
        "event_details": {"description": incident.get("title", "")},
    }
    if agent is not None:
        entry["agent"] = ref_of(agent)
    return entry


def _name(obj: Ref) -> str:
    return str(obj.get("name") or obj.get("summary") or obj["id"])


def trigger(
    incident: Ref, created_at: datetime, *, agent: Ref | None = None, channel_type: str = "api", id: str | None = None
) -> Obj:
    """``trigger_log_entry``: by default the incident's first one, by its service."""
    channel = {"type": channel_type, "summary": incident.get("title", ""), "details": {}}
    agent = agent or incident["service"]
    return _entry(
        incident,
        "trigger_log_entry",
        created_at,
        "Triggered through the API.",
        channel,
        agent=agent,
        id=id or trigger_entry_id(incident["id"]),
    )


def acknowledge(
    incident: Ref,
    created_at: datetime,
    user: Ref,
    *,
    channel_type: str = "mobile",
    acknowledgement_timeout: int | None = 1800,
    id: str | None = None,
) -> Obj:
    """``acknowledge_log_entry`` by ``user``."""
    summary = f"Acknowledged by {_name(user)}."
    entry = _entry(incident, "acknowledge_log_entry", created_at, summary, {"type": channel_type}, agent=user, id=id)
    entry["acknowledgement_timeout"] = acknowledgement_timeout
    return entry


def notify(
    incident: Ref,
    created_at: datetime,
    user: Ref,
    notification_type: str = "sms_notification",
    *,
    status: str = "success",
    id: str | None = None,
) -> Obj:
    """``notify_log_entry``: ``user`` was notified; ``channel.notification.type`` is the medium:
    ``sms_notification``, ``phone_notification``, ``push_notification`` or ``email_notification``.
    """
    channel_type, wording, address = NOTIFICATION_CHANNELS[notification_type]
    notification = {
        "type": notification_type,
        "status": status,
        "address": address,
        "started_at": iso(created_at),
        "user": ref_of(user),
    }
    channel = {"type": channel_type, "notification": notification}
    summary = f"Notified {_name(user)} by {wording}."
    entry = _entry(incident, "notify_log_entry", created_at, summary, channel, id=id, key=(user["id"], wording))
    entry["user"] = ref_of(user)
    return entry


def escalate(
    incident: Ref,
    created_at: datetime,
    *,
    channel_type: str = "timeout",
    assignees: Sequence[Ref] = (),
    agent: Ref | None = None,
    level: int = 2,
    id: str | None = None,
) -> Obj:
    """``escalate_log_entry``; ``channel_type="timeout"`` is a timeout escalation (no ``agent``,
    as PagerDuty sends it); give ``agent`` for someone escalating by hand.
    """
    reason = "due to an acknowledgement timeout" if channel_type == "timeout" else "manually"
    summary = f"Escalated to level {level} ({', '.join(map(_name, assignees)) or 'the next level'}) {reason}."
    key = (level, *(a["id"] for a in assignees))
    entry = _entry(
        incident, "escalate_log_entry", created_at, summary, {"type": channel_type}, agent=agent, id=id, key=key
    )
    entry["assignees"] = [ref_of(a) for a in assignees]
    return entry


def assign(
    incident: Ref, created_at: datetime, assignees: Sequence[Ref], *, agent: Ref | None = None, id: str | None = None
) -> Obj:
    """``assign_log_entry``: ``assignees`` (users) assigned, by default by the incident's service."""
    summary = f"Assigned to {', '.join(map(_name, assignees))}."
    entry = _entry(
        incident,
        "assign_log_entry",
        created_at,
        summary,
        {"type": "auto"},
        agent=agent or incident["service"],
        id=id,
        key=[a["id"] for a in assignees],
    )
    entry["assignees"] = [ref_of(a) for a in assignees]
    return entry


def resolve(
    incident: Ref,
    created_at: datetime,
    agent: Ref | None = None,
    *,
    channel_type: str | None = None,
    id: str | None = None,
) -> Obj:
    """``resolve_log_entry``; ``agent`` is a user, or a service or integration (auto-resolve).
    Without ``agent`` the incident's service resolved it (``channel.type`` ``auto``).
    """
    who = agent or incident["service"]
    channel = {"type": channel_type or ("mobile" if str(who["type"]).startswith("user") else "auto")}
    summary = f"Resolved by {_name(who)}."
    return _entry(incident, "resolve_log_entry", created_at, summary, channel, agent=who, id=id, key=[who["id"]])


def annotate(incident: Ref, created_at: datetime, note: str, *, user: Ref | None = None, id: str | None = None) -> Obj:
    """``annotate_log_entry``: ``note`` added to the incident (by ``user`` when given)."""
    channel = {"type": "note", "summary": note}
    entry = _entry(
        incident, "annotate_log_entry", created_at, f"Note added: {note}", channel, agent=user, id=id, key=[note]
    )
    entry["note"] = note
    return entry


@dataclass(frozen=True)
class Shift:
    """One on-call shift of a schedule's final layer: ``user`` from ``start`` to ``end``."""

    user: Ref
    start: datetime
    end: datetime


def make_schedule(id: str, name: str, time_zone: str, shifts: Iterable[Shift]) -> Obj:
    """A ``schedule`` whose ``final_schedule.rendered_schedule_entries`` holds every shift.

    The fake serves the shifts overlapping the requested ``since``/``until``, clipped to them
    (or whole with ``overflow=true``), in the requested time zone.
    """
    entries: list[Obj] = [
        {"user": ref_of(s.user), "start": iso(s.start), "end": iso(s.end)}
        for s in sorted(shifts, key=lambda s: s.start)
    ]
    users = list({e["user"]["id"]: e["user"] for e in entries}.values())
    start = entries[0]["start"] if entries else "2024-01-01T00:00:00Z"
    layer = {
        "id": stable_id(id, "layer", prefix="P", length=6),
        "name": "Layer 1",
        "start": start,
        "rotation_virtual_start": start,
        "rotation_turn_length_seconds": 604800,
        "users": [{"user": u} for u in users],
        "restrictions": [],
        "rendered_schedule_entries": [],
    }
    return {
        **_object("schedule", id, name),
        "name": name,
        "time_zone": time_zone,
        "description": f"{name} on-call rotation",
        "escalation_policies": [],
        "users": users,
        "teams": [],
        "schedule_layers": [layer],
        "overrides_subschedule": {"name": "Overrides", "rendered_schedule_entries": []},
        "final_schedule": {"name": "Final Schedule", "rendered_schedule_entries": entries},
    }


def schedule_between(schedule: Ref, window: tuple[float, float] | None, *, overflow: bool = False) -> Obj:
    """A copy of a ``make_schedule`` schedule as ``GET /schedules/{id}`` renders it for a window (epoch
    seconds): the shifts overlapping it, clipped to it unless ``overflow``; no shift without a window.
    """
    out = copy.deepcopy(dict(schedule))
    final = out.setdefault("final_schedule", {"name": "Final Schedule"})
    shifts, final["rendered_schedule_entries"] = final.get("rendered_schedule_entries", []), []
    if window is None:
        return out
    low, high = window
    covered = 0.0
    for shift in shifts:
        start, end = epoch(shift.get("start")), epoch(shift.get("end"))
        if start < high and end > low:
            covered += min(end, high) - max(start, low)
            if not overflow:
                shift = {**shift, "start": iso(max(start, low)), "end": iso(min(end, high))}
            final["rendered_schedule_entries"].append(shift)
    final["rendered_coverage_percentage"] = round(100 * covered / (high - low), 2) if high > low else 0.0
    return out


# --- a whole organisation ----------------------------------------------------------------------------------

TIME_ZONES = ("America/New_York", "America/Los_Angeles", "Europe/Lisbon", "Asia/Kolkata", "Australia/Sydney", "UTC")


@dataclass
class Org:
    """A generated organisation; every list holds API-shaped dicts."""

    start: datetime
    end: datetime
    users: list[Obj] = field(default_factory=list)
    teams: list[Obj] = field(default_factory=list)
    services: list[Obj] = field(default_factory=list)
    priorities: list[Obj] = field(default_factory=list)
    incidents: list[Obj] = field(default_factory=list)
    log_entries: list[Obj] = field(default_factory=list)
    schedules: dict[str, Obj] = field(default_factory=dict)


def _timeline(
    rng: random.Random,
    number: int,
    service: Obj,
    team: list[Obj],
    created: datetime,
    end: datetime,
    priority: Obj | None,
) -> tuple[Obj, list[Obj]]:
    """One incident and its log entries, consistent with each other and with collection at ``end``."""
    responder, second = rng.choice(team), rng.choice(team)
    escalated, acked, auto = rng.random() < 0.15, rng.random() < 0.8, rng.random() < 0.2
    ack_at = created + timedelta(seconds=rng.lognormvariate(5.0, 1.2), minutes=30 if escalated else 0)
    resolve_at = (ack_at if acked else created) + timedelta(seconds=rng.lognormvariate(7.5, 1.3))
    resolved, acked = resolve_at < end, acked and ack_at < end
    status = "resolved" if resolved else "acknowledged" if acked else "triggered"
    acker = second if escalated else responder
    incident = make_incident(
        f"PI{number:07d}",
        number,
        service,
        created,
        "high" if rng.random() < 0.8 else "low",
        status,
        resolve_at if resolved else None,
        priority,
        acknowledgers=[(acker, ack_at)] if acked else [],
        assignees=[(acker, created)],
    )
    medium = "push_notification" if rng.random() < 0.5 else "sms_notification"
    entries = [
        trigger(incident, created),
        assign(incident, created, [responder]),
        notify(incident, created + timedelta(seconds=5), responder, medium),
    ]
    if rng.random() < 0.3:
        entries.append(notify(incident, created + timedelta(seconds=6), responder, "email_notification"))
    if escalated and (at := created + timedelta(minutes=30)) < resolve_at:
        entries.append(escalate(incident, at, assignees=[second]))
        entries.append(notify(incident, at + timedelta(seconds=5), second, "phone_notification"))
    if acked:
        entries.append(acknowledge(incident, ack_at, acker))
    if rng.random() < 0.05:
        entries.append(annotate(incident, ack_at, "Looking into it", user=responder))
    if resolved:
        entries.append(resolve(incident, resolve_at, service if auto or not acked else responder))
    collected = iso(end)  # nothing happens after collection
    return incident, [e for e in entries if e["created_at"] < collected]


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Building ~100,000 dicts, the cyclic garbage collector would take a third of the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def generate_org(
    n_services: int = 500,
    n_teams: int = 50,
    n_incidents: int = 20_000,
    log_entries_per_incident: float = 5.0,
    start: datetime = datetime(2026, 10, 5, tzinfo=UTC),
    end: datetime = datetime(2026, 10, 19, tzinfo=UTC),
    seed: int = 1,
    users_per_team: int = 5,
) -> Org:
    """A seeded organisation: the same arguments always give the same data.

    Incidents are spread over ``[start, end)``, skewed towards a few noisy services; each has a
    consistent timeline of about five log entries (trigger, assign, notify, sometimes a timeout
    escalation, acknowledge, resolve by a user or auto-resolve), nothing after ``end``. A higher
    ``log_entries_per_incident`` adds ``annotate`` entries. Schedules rotate weekly per team.
    """
    rng, org = random.Random(seed), Org(start=start, end=end)
    with _gc_paused():
        org.teams = [make_team(f"PT{i:05d}", f"team-{i:02d}") for i in range(n_teams)]
        names = {t["id"]: t["name"] for t in org.teams}
        members = {
            t["id"]: [
                make_user(f"PU{t['id'][2:]}{j}", f"User {t['name']} {j}", rng.choice(TIME_ZONES), team_ids=[t["id"]])
                for j in range(users_per_team)
            ]
            for t in org.teams
        }
        org.users = [user for team in members.values() for user in team]
        org.services = [
            make_service(
                f"PS{i:05d}",
                f"service-{i:03d}",
                [org.teams[i % n_teams]["id"]],
                team_names=names,
                escalation_policy_id=f"PE{i % n_teams:05d}",
            )
            for i in range(n_services)
        ]
        org.priorities = [make_priority(f"PP{i}", f"P{i}", 600 - 100 * i) for i in range(1, 6)]
        span = (end - start).total_seconds()
        times = sorted(start + timedelta(seconds=int(rng.random() * span)) for _ in range(n_incidents))
        services = rng.choices(org.services, weights=[1 / (r + 1) for r in range(n_services)], k=n_incidents)
        for number, (created, service) in enumerate(zip(times, services, strict=True), start=1):
            priority = rng.choice(org.priorities) if rng.random() < 0.3 else None
            team = members[service["teams"][0]["id"]]
            incident, entries = _timeline(rng, number, service, team, created, end, priority)
            extra = log_entries_per_incident - 5.0
            while extra > 0 and rng.random() < extra / (extra + 1):
                entries.append(annotate(incident, created + timedelta(minutes=len(entries)), f"note {len(entries)}"))
                extra -= 1
            org.incidents.append(incident)
            org.log_entries.extend(entries)
        week = timedelta(days=7)
        for t in org.teams:
            rotation = [
                Shift(members[t["id"]][n % users_per_team], start + (n - 1) * week, start + n * week)
                for n in range((end - start) // week + 3)
            ]
            org.schedules[f"PSC{t['id'][2:]}"] = make_schedule(
                f"PSC{t['id'][2:]}", f"{t['name']} primary", "UTC", rotation
            )
    return org


def load_into(fake: FakePagerDuty, org: Org) -> None:
    """Replace the fake's data with the organisation's (lists are copied, their dicts shared)."""
    fake.users, fake.teams, fake.services = list(org.users), list(org.teams), list(org.services)
    fake.priorities, fake.incidents = list(org.priorities), list(org.incidents)
    fake.log_entries, fake.schedules = list(org.log_entries), dict(org.schedules)
