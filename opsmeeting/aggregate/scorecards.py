"""Aggregation: a snapshot becomes per-service, per-team, per-responder and organisation scorecards.

Every definition is the one in METRICS.md. pandas stays inside this module: what leaves it is the
typed ``Scorecards`` model that templates and ``scorecards.json`` read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np
import pandas as pd

from opsmeeting.aggregate.handoff import build_handoff
from opsmeeting.aggregate.model import (
    INCIDENT_KEYS,
    DayIncidents,
    Handoff,
    History,
    IncidentMetrics,
    ItemError,
    MajorIncident,
    OverallScorecard,
    Problem,
    ResponderScorecard,
    Scorecards,
    ServiceChanges,
    ServiceRef,
    ServiceScorecard,
    ServiceTrend,
    TeamProblem,
    TeamScorecard,
    TeamTrend,
)
from opsmeeting.aggregate.priority import rank_services
from opsmeeting.aggregate.problems import find_problems
from opsmeeting.aggregate.slo import judge_slos
from opsmeeting.model import Setup, Snapshot

if TYPE_CHECKING:
    from pandas.api.typing import NaTType

MAJOR_SEVERITIES = 2  # METRICS.md: a major incident has one of the account's two highest severities


def incident_frames(snapshot: Snapshot) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two frames: one row per incident of the window (with derived columns), one per timeline event."""
    data = snapshot.incidents
    assert data is not None
    service_of = {sid: svc.name for svc in snapshot.setup.services for sid in svc.source_ids}
    team_of = {svc.name: svc.team for svc in snapshot.setup.services}
    window = snapshot.window
    rows = [
        (inc.id, inc.number, inc.title, inc.service_id, inc.created_at, inc.status, inc.urgency, inc.resolved_at,
         inc.severity_rank, inc.key, inc.url)
        for inc in data.incidents
        if window.start <= inc.created_at < window.end and inc.service_id in service_of
    ]
    inc = pd.DataFrame(
        rows,
        columns=[
            "id", "number", "title", "source_service", "created_at", "status", "urgency",
            "resolved_at", "severity_rank", "incident_key", "html_url",
        ],
    )
    inc["created_at"] = pd.to_datetime(inc["created_at"], utc=True)
    inc["resolved_at"] = pd.to_datetime(inc["resolved_at"], utc=True)
    inc["service"] = inc["source_service"].map(service_of)
    inc["team"] = inc["service"].map(team_of)
    wanted = set(inc["id"])
    entries = pd.DataFrame(
        [
            (i.id, e.kind, e.at, e.actor.kind if e.actor else None, e.actor.id if e.actor else None, e.person_id,
             e.interrupting, e.escalation)
            for i in data.incidents
            if i.id in wanted
            for e in i.events
        ],
        columns=["incident_id", "kind", "at", "actor_kind", "actor_id", "person_id", "interrupting", "escalation"],
    )
    entries["at"] = pd.to_datetime(entries["at"], utc=True)
    return _derive(inc, entries), entries


def _derive(inc: pd.DataFrame, entries: pd.DataFrame) -> pd.DataFrame:
    inc = inc.set_index("id", drop=False)
    acks = entries[entries["kind"] == "acknowledged"].sort_values(["at", "actor_id"])
    first_ack = acks.groupby("incident_id").first()
    inc["first_ack_at"] = first_ack["at"].reindex(inc.index)
    inc["first_ack_user"] = first_ack["actor_id"].reindex(inc.index)
    ack_users = acks[acks["actor_kind"] == "human"].groupby("incident_id")["actor_id"].nunique()
    inc["ack_users"] = ack_users.reindex(inc.index).fillna(0).astype(int)
    inc["acknowledged"] = inc["first_ack_at"].notna()
    inc["resolved"] = inc["status"] == "resolved"
    inc["tta"] = (inc["first_ack_at"] - inc["created_at"]).dt.total_seconds()
    inc["ttr"] = (inc["resolved_at"] - inc["created_at"]).dt.total_seconds().where(inc["resolved"])
    resolves = entries[entries["kind"] == "resolved"].sort_values("at").groupby("incident_id").last()
    by_machine = (resolves["actor_kind"] == "automation").reindex(inc.index).fillna(False).astype(bool)
    inc["auto_resolved"] = inc["resolved"] & by_machine
    inc["resolved_without_ack"] = inc["resolved"] & ~inc["acknowledged"]
    esc = entries[entries["kind"] == "escalated"]
    inc["escalated"] = inc.index.isin(esc["incident_id"])
    inc["timeout_escalated"] = inc.index.isin(esc.loc[esc["escalation"] == "timeout", "incident_id"])
    inc["major"] = (inc["severity_rank"] < MAJOR_SEVERITIES).fillna(False).astype(bool) | (inc["ack_users"] >= 2)
    inc["high"] = inc["urgency"] == "high"
    inc["low"] = inc["urgency"] == "low"
    inc["open"] = ~inc["resolved"]
    return inc.reset_index(drop=True)


def interruption_frame(inc: pd.DataFrame, entries: pd.DataFrame, snapshot: Snapshot) -> pd.DataFrame:
    """One row per interruption (SMS, phone or push notification), bucketed in the user's own zone."""
    assert snapshot.incidents is not None
    notes = entries[(entries["kind"] == "notified") & (entries["interrupting"] == True)].copy()  # noqa: E712
    meta = inc.set_index("id")[["service", "team"]]
    notes = notes.join(meta, on="incident_id")
    zones = {p.id: p.time_zone for p in snapshot.incidents.people if p.time_zone}
    notes["zone"] = [zones.get(person, snapshot.window.timezone) for person in notes["person_id"]]
    hour = pd.Series(0, index=notes.index, dtype="int64")
    weekday = pd.Series(0, index=notes.index, dtype="int64")
    for zone, part in notes.groupby("zone")["at"]:
        local = part.dt.tz_convert(str(zone))
        hour.loc[part.index] = local.dt.hour
        weekday.loc[part.index] = local.dt.day_of_week
    sleep = (hour >= 22) | (hour < 8)
    business = ~sleep & (hour < 18) & (weekday < 5)
    notes["bucket"] = np.where(sleep, "sleep", np.where(business, "business", "off_hours"))
    notes["local_hour"] = hour
    notes["local_weekday"] = weekday
    notes["utc_hour"] = notes["at"].dt.floor("h")
    return notes


def incident_metrics(inc: pd.DataFrame, intr: pd.DataFrame, by: str) -> pd.DataFrame:
    """Every key of METRICS.md's incident table for each value of column ``by``."""
    grouped = inc.groupby(by)
    out = pd.DataFrame(
        {
            "incidents_total": grouped.size(),
            "incidents_high_urgency": grouped["high"].sum(),
            "incidents_low_urgency": grouped["low"].sum(),
            "incidents_major": grouped["major"].sum(),
            "incidents_open": grouped["open"].sum(),
            "acknowledged": grouped["acknowledged"].sum(),
            "mtta_mean_s": grouped["tta"].mean(),
            "mtta_p50_s": grouped["tta"].quantile(0.5),
            "mtta_p90_s": grouped["tta"].quantile(0.9),
            "mttr_mean_s": grouped["ttr"].mean(),
            "mttr_p50_s": grouped["ttr"].quantile(0.5),
            "mttr_p90_s": grouped["ttr"].quantile(0.9),
            "auto_resolved": grouped["auto_resolved"].sum(),
            "resolved_without_ack": grouped["resolved_without_ack"].sum(),
            "escalated": grouped["escalated"].sum(),
            "timeout_escalated": grouped["timeout_escalated"].sum(),
        }
    )
    if len(intr):
        counts = intr.groupby([by, "bucket"]).size().unstack("bucket")
        per = pd.DataFrame(
            {
                "interruptions": intr.groupby(by).size(),
                "interruptions_business": counts.get("business"),
                "interruptions_off_hours": counts.get("off_hours"),
                "interruptions_sleep": counts.get("sleep"),
                "hours_with_interruptions": intr.groupby(by)["utc_hour"].nunique(),
            }
        )
        out = out.join(per, how="left")
    for key in INCIDENT_KEYS:
        if key not in out:
            out[key] = 0
    int_keys = [k for k in INCIDENT_KEYS if not k.startswith(("mtta", "mttr"))]
    out[int_keys] = out[int_keys].fillna(0).astype("int64")
    return out[list(INCIDENT_KEYS)]


def _metrics_for(frame: pd.DataFrame, key: str) -> IncidentMetrics:
    if key not in frame.index:
        return IncidentMetrics.zero()
    row = frame.loc[key]
    return IncidentMetrics(**{k: (None if pd.isna(row[k]) else row[k].item()) for k in INCIDENT_KEYS})


def responder_scorecards(
    inc: pd.DataFrame, intr: pd.DataFrame, entries: pd.DataFrame, snapshot: Snapshot
) -> list[ResponderScorecard]:
    data = snapshot.incidents
    assert data is not None
    window = snapshot.window
    per_user = pd.DataFrame(index=pd.Index([], name="user"))
    if len(intr):
        buckets = intr.groupby(["person_id", "bucket"]).size().unstack("bucket")
        per_user = pd.DataFrame(
            {
                "interruptions": intr.groupby("person_id").size(),
                "interruptions_sleep": buckets.get("sleep"),
                "interruptions_off_hours": buckets.get("off_hours"),
            }
        )
    acked = inc.loc[inc["acknowledged"]].groupby("first_ack_user").size().rename("acknowledged")
    per_user = per_user.join(acked, how="outer")
    hours = _on_call_hours(snapshot)
    per_user = per_user.join(hours.rename("on_call_hours"), how="outer")
    notified = entries.loc[entries["kind"] == "notified", "person_id"].dropna().unique()
    # everyone who acknowledged, not only the first: a second acknowledger is a responder with 0
    acknowledgers = entries.loc[(entries["kind"] == "acknowledged") & (entries["actor_kind"] == "human"),
                                "actor_id"].dropna().unique()
    per_user = per_user.reindex(per_user.index.union(pd.Index(notified)).union(pd.Index(acknowledgers)))
    names = {p.id: p.name for p in data.people}  # a person the source does not list: deleted, or hidden
    zones = {p.id: p.time_zone for p in data.people}
    no_zones = "people" in data.unavailable  # the hour buckets need each person's own zone
    no_shifts = "schedules" in data.unavailable
    result = []
    for user_id, row in per_user.sort_index().iterrows():
        result.append(
            ResponderScorecard(
                user=str(user_id),
                name=names.get(str(user_id), f"unknown user ({user_id})"),
                time_zone=zones.get(str(user_id)) or window.timezone,
                interruptions=int(_zero(row.get("interruptions"))),
                interruptions_sleep=None if no_zones else int(_zero(row.get("interruptions_sleep"))),
                interruptions_off_hours=None if no_zones else int(_zero(row.get("interruptions_off_hours"))),
                acknowledged=int(_zero(row.get("acknowledged"))),
                on_call_hours=None if no_shifts else float(_zero(row.get("on_call_hours"))),
            )
        )
    return result


def _zero(value: float | None) -> float:
    return 0.0 if value is None or pd.isna(value) else float(value)


def _on_call_hours(snapshot: Snapshot) -> pd.Series:
    """Hours each user was on call in the window: the union of their shifts, clipped to the window."""
    assert snapshot.incidents is not None
    window = snapshot.window
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    for shift in snapshot.incidents.shifts:
        start, end = max(shift.start, window.start), min(shift.end, window.end)
        if end > start:
            spans.setdefault(shift.person_id, []).append((start, end))
    hours = {}
    for user, intervals in spans.items():
        intervals.sort()
        total, cur_start, cur_end = 0.0, intervals[0][0], intervals[0][1]
        for start, end in intervals[1:]:
            if start > cur_end:
                total += (cur_end - cur_start).total_seconds()
                cur_start, cur_end = start, end
            else:
                cur_end = max(cur_end, end)
        total += (cur_end - cur_start).total_seconds()
        hours[user] = total / 3600.0
    return pd.Series(hours, dtype="float64")


def build_scorecards(
    snapshot: Snapshot, *, history: History | None = None, generated_at: datetime | None = None
) -> Scorecards:
    """The whole aggregation stage. Weights and thresholds come from the snapshot's setup;
    ``history`` (from the store) adds trends, deltas and problems seen before."""
    setup = snapshot.setup
    short_incident_seconds = setup.short_incident_seconds
    services = [s.name for s in setup.services]
    have_pd = snapshot.incidents is not None
    problems: list[Problem] = []
    inc = None
    if have_pd:
        inc, entries = incident_frames(snapshot)
        intr = interruption_frame(inc, entries, snapshot)
        by_service = incident_metrics(inc, intr, "service")
        by_team = incident_metrics(inc, intr, "team")
        inc["org"] = "all"
        intr["org"] = "all"
        overall = _metrics_for(incident_metrics(inc, intr, "org"), "all") if len(inc) else IncidentMetrics.zero()
        responders = responder_scorecards(inc, intr, entries, snapshot)
        problems = find_problems(inc, short_incident_seconds=short_incident_seconds)
        extras = {
            "major_incidents": major_incidents(inc, entries, snapshot),
            "incidents_by_day": incidents_by_day(inc, snapshot),
            "interruption_heatmap": interruption_heatmap(intr),
        }
    else:
        responders = []
        overall = IncidentMetrics.unknown()
        extras = {}
    item_errors: list[ItemError] = []
    judged = judge_slos(snapshot, inc, item_errors)
    slos = judged.cards

    def incidents_of(frame_name: str, key: str) -> IncidentMetrics:
        if not have_pd:
            return IncidentMetrics.unknown()
        frame = by_service if frame_name == "service" else by_team
        return _metrics_for(frame, key)

    unknown = unknown_keys(snapshot)
    overall = _blank(overall, unknown)
    service_cards = [
        ServiceScorecard(
            service=name,
            display_name=setup.service_name(name),
            team=svc.team,
            incidents=_blank(incidents_of("service", name), unknown),
            slos=[s for s in slos if s.service == name],
        )
        for name, svc in zip(services, setup.services, strict=True)
    ]
    slos_known = not setup.slos or snapshot.slos is not None
    service_cards = rank_services(service_cards, problems, setup.priority_weights, slos_known=slos_known)
    if history is not None and history.windows:
        service_cards = [_guarded_trend(card, history, snapshot, item_errors) for card in service_cards]
        problems = [
            p.model_copy(update={"previous_rotations": history.problems_seen.get(f"{p.service}\x1f{p.key}", 0)})
            for p in problems
        ]
        extras["previous_overall"] = history.previous_overall
        extras["history_windows"] = len(history.windows)
        if history.previous_services is not None and setup.services_complete:
            extras["service_changes"] = service_changes(setup, history.windows[-1], history.previous_services)
        if history.previous_responders:
            responders = [_with_previous(r, history.previous_responders) for r in responders]
    team_cards = team_scorecards(setup, service_cards, problems, intr if have_pd else None,
                                 {t.name: _blank(incidents_of("team", t.name), unknown) for t in setup.teams}, history)
    return Scorecards(
        window=snapshot.window,
        generated_at=generated_at or snapshot.generated_at,
        sources=snapshot.sources,
        services=service_cards,
        teams=team_cards,
        overall=OverallScorecard(incidents=overall),
        responders=responders,
        problems=problems,
        handoff=_guarded_handoff(snapshot, item_errors),
        pages_without_burn=judged.pages_without_burn,
        item_errors=item_errors,
        setup=setup,
        roles=snapshot.roles,
        **extras,
    )


def _guarded_handoff(snapshot: Snapshot, errors: list[ItemError]) -> Handoff | None:
    try:
        return build_handoff(snapshot)
    except Exception as exc:  # the report goes on without its handoff, and says so
        errors.append(ItemError(item="handoff", stage="aggregation", error=f"{type(exc).__name__}: {str(exc)[:300]}"))
        return None


def _with_previous(card: ResponderScorecard, before: dict[str, dict[str, Any]]) -> ResponderScorecard:
    """A responder's numbers of the rotation just before (0 when they were not a responder then)."""
    old = before.get(card.user) or {}
    sleep = old.get("interruptions_sleep", 0)  # null then: the time zones could not be read
    return card.model_copy(update={"previous_interruptions": int(old.get("interruptions") or 0),
                                   "previous_interruptions_sleep": None if sleep is None else int(sleep)})


def team_scorecards(setup: Setup, services: list[ServiceScorecard], problems: list[Problem],
                    intr: pd.DataFrame | None, incidents: dict[str, IncidentMetrics],
                    history: History | None) -> list[TeamScorecard]:
    """Each team's view (METRICS.md, "Team metrics"): its incident metrics, its people, its services'
    SLOs, its recurring problems and its trend over the stored rotations."""
    people = intr.groupby("team")["person_id"].nunique() if intr is not None and len(intr) else None
    by_team: dict[str, list[ServiceScorecard]] = {}
    for card in services:
        by_team.setdefault(card.team, []).append(card)
    cards = []
    for team in setup.teams:
        mine = by_team.get(team.name, [])
        judged = [(c, s) for c in mine for s in c.slos if s.status == "ok" and s.met is not None]
        worst = max(((c, s) for c, s in judged if s.error_budget_consumed is not None),
                    key=lambda cs: cs[1].error_budget_consumed or 0.0, default=None)
        metrics = incidents[team.name]
        responders = None
        per_person = None
        if intr is not None and metrics.interruptions is not None:
            responders = int(people.get(team.name, 0)) if people is not None else 0
            per_person = metrics.interruptions / responders if responders else None
        names = {c.service for c in mine}
        top = [TeamProblem(service=p.service, title=p.example_title, count=p.count)
               for p in sorted((p for p in problems if p.service in names and p.count >= 2),
                               key=lambda p: (-p.count, p.service, p.key))[:3]]
        cards.append(TeamScorecard(
            team=team.name, display_name=setup.team_name(team.name), incidents=metrics, services=len(mine),
            responders=responders, interruptions_per_responder=per_person, slos_judged=len(judged),
            slos_missed=sum(s.met is False for _, s in judged),
            error_budget_consumed_max=worst[1].error_budget_consumed if worst else None,
            worst_slo=f"{worst[0].display_name} · {worst[1].name}" if worst else None,
            top_problems=top, trend=_team_trend(team.name, metrics, judged, history),
        ))
    return cards


def _team_trend(team: str, metrics: IncidentMetrics, judged: list[tuple[ServiceScorecard, Any]],
                history: History | None) -> TeamTrend | None:
    """The team's incidents and missed SLOs per stored rotation (by the team its services had then),
    this rotation last."""
    if history is None or not history.windows:
        return None
    incidents: list[int | None] = []
    missed: list[int | None] = []
    for index in range(len(history.windows)):
        rows: list[dict[str, Any]] = [row for per in history.services.values()
                                      if (row := per[index]) is not None and row.get("team") == team]
        totals = [int(t) for r in rows if (t := (r.get("incidents") or {}).get("incidents_total")) is not None]
        incidents.append(sum(totals) if totals else None)
        missed.append(len([s for r in rows for s in r.get("slos") or [] if s.get("status") == "ok"
                           and s.get("met") is False]) if rows else None)
    incidents.append(metrics.incidents_total)
    missed.append(sum(s.met is False for _, s in judged))
    return TeamTrend(incidents_total=incidents, slos_missed=missed)


def service_changes(setup: Setup, since: str, before: dict[str, dict[str, Any]]) -> ServiceChanges:
    """Services in this rotation's setup and not in the one just before (new), and the reverse (gone).
    Keys are compared: a service renamed at its source keeps its key, so it is neither."""
    now = {s.name for s in setup.services}
    new = [ServiceRef(service=s.name, display_name=setup.service_name(s.name), team=s.team)
           for s in setup.services if s.name not in before]
    gone = [ServiceRef(service=name, display_name=str(card.get("display_name") or name), team=str(card.get("team")))
            for name, card in sorted(before.items()) if name not in now]
    return ServiceChanges(since=since, new=sorted(new, key=lambda r: r.service), gone=gone)


UNKNOWN_WITHOUT: dict[str, tuple[str, ...]] = {
    # an optional part of the incident source that could not be read, and the incident keys that need it
    "severities": ("incidents_major",),
    "people": ("interruptions_business", "interruptions_off_hours", "interruptions_sleep"),
}


def unknown_keys(snapshot: Snapshot) -> set[str]:
    missing = snapshot.incidents.unavailable if snapshot.incidents else {}
    return {key for part in missing for key in UNKNOWN_WITHOUT.get(part, ())}


def _blank(metrics: IncidentMetrics, keys: set[str]) -> IncidentMetrics:
    return metrics.model_copy(update=dict.fromkeys(keys)) if keys and metrics.known else metrics


def _guarded_trend(card: ServiceScorecard, history: History, snapshot: Snapshot,
                   errors: list[ItemError]) -> ServiceScorecard:
    try:
        return with_trend(card, history, snapshot)
    except Exception as exc:  # stored history of another shape: this card goes without its trend
        errors.append(ItemError(item=f"{card.service} · trend", stage="aggregation",
                                error=f"{type(exc).__name__}: {str(exc)[:300]}"))
        return card



POSTMORTEM = re.compile(r"https?://[^\s<>\"')]+", re.IGNORECASE)
POSTMORTEM_HINT = re.compile(r"post-?mortem|\brca\b|retro|incident[-_ ]review|pir\b", re.IGNORECASE)


def _postmortem_links(snapshot: Snapshot, ids: set[str]) -> dict[str, str]:
    """The first link in each incident's notes whose URL or note mentions a postmortem."""
    assert snapshot.incidents is not None
    found: dict[str, str] = {}
    for incident in snapshot.incidents.incidents:
        if incident.id not in ids:
            continue
        for entry in sorted(incident.events, key=lambda e: e.at):
            if entry.kind != "annotated" or not entry.note:
                continue
            links = POSTMORTEM.findall(entry.note)
            if links and POSTMORTEM_HINT.search(entry.note):
                found[incident.id] = links[0]
                break
    return found


class _MajorRow(Protocol):
    """A row of the incident frame (``itertuples``): the columns ``major_incidents`` reads."""

    id: str
    number: int
    title: str
    service: str
    created_at: pd.Timestamp
    resolved_at: pd.Timestamp | NaTType
    ttr: float  # NaN while open
    html_url: str | None
    severity_rank: float  # NaN without a priority


def major_incidents(inc: pd.DataFrame, entries: pd.DataFrame, snapshot: Snapshot) -> list[MajorIncident]:
    """The major incidents by impact (METRICS.md): priority first (the highest first, none last), then
    the longest (to resolution, or to the collection while open), then the most responders."""
    assert snapshot.incidents is not None
    majors = inc[inc["major"]].sort_values(["created_at", "number"])
    links = _postmortem_links(snapshot, set(majors["id"]))
    mine = entries[entries["incident_id"].isin(set(majors["id"]))]
    acked = mine[(mine["kind"] == "acknowledged") & (mine["actor_kind"] == "human")][["incident_id", "actor_id"]]
    notified = mine[mine["kind"] == "notified"][["incident_id", "person_id"]].rename(columns={"person_id": "actor_id"})
    people = pd.concat([acked, notified]).dropna().groupby("incident_id")["actor_id"].nunique()
    by_rank = {s.rank: s.name for s in snapshot.incidents.severities}
    collected = snapshot.incidents.collected_at
    out = []
    for row in cast("Iterator[_MajorRow]", majors.itertuples(index=False)):
        resolved = None if pd.isna(row.resolved_at) else row.resolved_at.to_pydatetime()
        created = row.created_at.to_pydatetime()
        rank = None if pd.isna(row.severity_rank) else int(row.severity_rank)
        out.append(MajorIncident(
            id=row.id,
            number=int(row.number),
            title=row.title,
            service=row.service,
            created_at=created,
            resolved_at=resolved,
            ttr_s=None if pd.isna(row.ttr) else float(row.ttr),
            html_url=row.html_url if str(row.html_url or "").startswith(("https://", "http://")) else None,
            postmortem_url=links.get(row.id),
            priority=by_rank.get(rank) if rank is not None else None,
            severity_rank=rank,
            responders=int(people.get(row.id, 0)),
            duration_s=max(((resolved or collected) - created).total_seconds(), 0.0),
        ))
    return sorted(out, key=lambda m: (m.severity_rank is None, m.severity_rank or 0, -(m.duration_s or 0.0),
                                      -m.responders, m.number))


def incidents_by_day(inc: pd.DataFrame, snapshot: Snapshot) -> list[DayIncidents]:
    days = snapshot.window.days()
    starts = pd.DatetimeIndex([d[0] for d in days])
    position = starts.searchsorted(inc["created_at"], side="right") - 1
    table = pd.crosstab(position, inc["urgency"]).reindex(range(len(days)), fill_value=0)
    tz = snapshot.window.tz
    return [
        DayIncidents(
            date=start.astimezone(tz).strftime("%Y-%m-%d"),
            high=int(table["high"].iloc[i]) if "high" in table else 0,
            low=int(table["low"].iloc[i]) if "low" in table else 0,
        )
        for i, (start, _) in enumerate(days)
    ]


def interruption_heatmap(intr: pd.DataFrame) -> list[list[int]]:
    grid = np.zeros((7, 24), dtype=int)
    if len(intr):
        np.add.at(grid, (intr["local_weekday"].to_numpy(), intr["local_hour"].to_numpy()), 1)
    return grid.tolist()


def with_trend(card: ServiceScorecard, history: History, snapshot: Snapshot) -> ServiceScorecard:
    """Attach this service's values over the stored rotations, ending with this window."""
    past = history.services.get(card.service, [None] * len(history.windows))
    slo_names = [slo.name for slo in card.slos]

    def consumed(entry: dict[str, Any] | None, name: str) -> float | None:
        for slo in (entry or {}).get("slos", []):
            if slo.get("name") == name:
                value: float | None = slo.get("error_budget_consumed")  # a stored scorecards.json: a number or null
                return value
        return None

    def gap_budget(entry: dict[str, Any] | None, name: str) -> float | None:
        """The budget the SLO's alerting gaps cost then (None: not judged, or stored before burn rates)."""
        for slo in (entry or {}).get("slos", []):
            if slo.get("name") == name:
                value: float | None = (slo.get("burn") or {}).get("alerting_gap_budget")
                return value
        return None

    previous = past[-1] if past else None
    return card.model_copy(update={"trend": ServiceTrend(
        windows=[*history.windows, snapshot.window.local_start.strftime("%Y-%m-%d")],
        incidents_total=[(e or {}).get("incidents", {}).get("incidents_total") for e in past]
        + [card.incidents.incidents_total],
        error_budget_consumed={
            name: [consumed(e, name) for e in past] + [next(s.error_budget_consumed for s in card.slos
                                                            if s.name == name)]
            for name in slo_names
        },
        previous_rank=((previous or {}).get("priority") or {}).get("rank"),
        previous_incidents_total=(previous or {}).get("incidents", {}).get("incidents_total"),
        previous_error_budget_consumed={name: consumed(previous, name) for name in slo_names},
        previous_alerting_gap_budget={name: gap_budget(previous, name) for name in slo_names},
    )})
