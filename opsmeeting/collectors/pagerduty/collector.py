"""PagerDuty collector: every incident of the window with its whole timeline, in few requests.

Log entries come either account-wide (``GET /log_entries``, paginated) or per incident
(``GET /incidents/{id}/log_entries``), whichever a count probe says needs fewer requests; a
completeness check then fetches an incident's own log entries when its timeline lacks an entry
PagerDuty's status implies. Incidents and timelines are required; priorities, users, teams,
services and schedules are optional parts that degrade only the metrics needing them, and so are the
two parts of the handoff to the next rotation: the incidents opened before the window and still open
(``GET /incidents`` with ``date_range=all`` and the open statuses), and the maintenance windows of
the services overlapping the window and the rotation after it (``GET /maintenance_windows`` with
``filter=all``). Each of these asks per group of at most 100 services, paginated.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from opsmeeting.collectors.pagerduty.api import (
    OFFSET_CAP,
    PAGE,
    SERVICE_IDS_PER_QUERY,
    Json,
    PagerDutyApi,
    PagerDutyFailure,
)
from opsmeeting.collectors.pagerduty.vocabulary import (
    OPTIONAL_PARTS,
    event_from_api,
    incident_from_api,
    maintenance_window_from_api,
    person_from_api,
    required_time,
    service_from_api,
    severities_from_api,
    shift_from_api,
    team_from_api,
    time_or_none,
    with_timeline,
)
from opsmeeting.config import PagerDutySource
from opsmeeting.model import (
    Directory,
    Event,
    Incident,
    IncidentData,
    Maintenance,
    MaintenanceWindow,
    Role,
    Setup,
    Shift,
    SourceService,
    SourceStatus,
    following,
)
from opsmeeting.timefmt import iso_z
from opsmeeting.window import Window

MARGIN = timedelta(hours=1)  # ask a wider range than the window and filter created_at ourselves
OPEN_INCIDENTS = "GET /incidents (open, opened before the window)"  # counted apart from the window's

UNAVAILABLE_EFFECT = {
    "priorities": "major incidents are unknown (they need the account's two highest priorities)",
    "services": "log entries were asked for without a team filter",
    "users": "responders' names and time zones are unknown, so the business, off and sleep-hour split is too",
    "teams": "PagerDuty team names are not shown (a discovered team keeps the key it had, else is named by its id)",
    "schedules": "on-call hours are unknown",
    "open_incidents": "the handoff lists only the incidents opened in this rotation that are still open",
    "maintenance_windows": "the handoff cannot list the maintenance windows of the next rotation",
}


class PagerDutyCollector(PagerDutyApi):
    """Collects one window of one account into ``IncidentData``."""

    name = "pagerduty"
    kind: Role = "incidents"

    def __init__(
        self,
        source: PagerDutySource,
        *,
        service_ids: Iterable[str] = (),
        schedule_ids: Iterable[str] = (),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        token: str | None = None,
        environ: dict[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        backoff: float = 1.0,
        requests_per_minute: int | None = None,
    ) -> None:
        super().__init__(source, token=token, environ=environ, sleep=sleep, monotonic=monotonic, backoff=backoff,
                         requests_per_minute=requests_per_minute)
        self.service_ids = sorted(set(service_ids))
        self._wanted = set(self.service_ids)
        self._account_services: set[str] | None = None  # every service id of the account, once read
        self.schedule_ids = list(dict.fromkeys(schedule_ids))
        self.now = now
        self._directory: Directory | None = None

    def directory(self) -> Directory:
        """Every team and service of the account, for discovery; read once (the collection reuses it,
        so discovering costs no request the collection would not make)."""
        if self._directory is None:
            base = {"time_zone": "UTC"}
            teams_error = None
            try:  # an account without the teams ability answers 403: its services are found all the same
                teams = [team_from_api(t) for t in self.pages("/teams", "teams", base)]
            except PagerDutyFailure as exc:
                teams, teams_error = [], exc.message
            services = [service_from_api(s) for s in self.pages("/services", "services", base)]
            self._directory = Directory(teams=teams, services=services, teams_error=teams_error)
        return self._directory

    def collect(self, window: Window, setup: Setup | None = None) -> tuple[IncidentData, SourceStatus]:
        """Incidents and their timelines are required: without them the source fails. The reference
        data are optional: one that cannot be read leaves only the metrics that need it null
        (``IncidentData.unavailable`` says which and why), and the source is degraded. ``setup`` names
        the services to collect (their source ids); without it, the constructor's ``service_ids``."""
        if setup is not None:
            self.service_ids = sorted({sid for svc in setup.services for sid in svc.source_ids})
            self._wanted = set(self.service_ids)
        started = self.monotonic()
        collected_at = self.now()
        base = {"time_zone": "UTC"}
        unavailable: dict[str, str] = {}

        def optional(part: str, read: Callable[[], Any], default: Any) -> Any:
            try:
                return read()
            except PagerDutyFailure as exc:
                unavailable[part] = exc.message
                return default

        priorities = optional("priorities", lambda: self.pages("/priorities", "priorities", base), [])
        rank_of = {p["id"]: i for i, p in enumerate(priorities)}
        services = optional("services", self._services, [])
        # each incident and log entry becomes a record as its page arrives (the raw JSON is let go)
        bare = self._incidents(window, collected_at, rank_of)
        team_filter = _team_filter(services, self.service_ids) if "services" not in unavailable else None
        entries, strategy = self._log_entries(window, bare, collected_at, team_filter)
        missing = self._complete(bare, entries)
        incidents = [with_timeline(incident, entries.pop(incident.id, [])) for incident in bare]
        del bare, entries
        people = optional("users", lambda: [person_from_api(u) for u in self.pages("/users", "users", base)], [])
        teams = (self._directory.teams if self._directory is not None else
                 optional("teams", lambda: [team_from_api(t) for t in self.pages("/teams", "teams", base)], []))
        if self._directory is not None and self._directory.teams_error is not None:
            unavailable["teams"] = self._directory.teams_error
        shifts, failed_schedules = self._shifts(window)
        if failed_schedules:
            unavailable["schedules"] = "; ".join(failed_schedules)
        earlier = optional("open_incidents", lambda: self._earlier_open(window, collected_at, rank_of), None)
        maintenance = optional("maintenance_windows", lambda: self._maintenance(window), None)
        data = IncidentData(
            source=self.name, collected_at=collected_at, people=people, teams=teams, services=services,
            severities=severities_from_api(priorities), incidents=sorted(incidents, key=lambda i: (i.created_at,
                                                                                                  i.number)),
            shifts=shifts, unavailable={OPTIONAL_PARTS[part]: why for part, why in unavailable.items()},
            earlier_open=earlier, maintenance=maintenance,
        )
        n_entries = sum(len(i.events) for i in incidents)
        minimum = math.ceil(len(incidents) / PAGE) + math.ceil(n_entries / PAGE)
        requests = sum(self.log.counts.values())
        notes = [f"{part} could not be read ({why}): {UNAVAILABLE_EFFECT[part]}" for part, why in unavailable.items()]
        if missing:
            numbers = sorted(incident.number for incident in incidents if incident.id in missing)
            shown = ", ".join(f"#{n}" for n in numbers[:10]) + (f" and {len(numbers) - 10} more" if len(numbers) > 10
                                                                 else "")
            notes.append(f"the timeline of {len(numbers)} incident(s) is incomplete even from their own log "
                         f"entries ({shown}): their acknowledgement and resolution metrics may be wrong")
        detail = "; ".join([*notes, f"{len(incidents)} incidents, {n_entries} log entries ({strategy}); "
                                    f"{requests} requests, minimum for the data {minimum} + reference data"])
        status = SourceStatus(
            status="degraded" if missing or unavailable else "ok",
            requests=requests,
            requests_by_endpoint=self.request_counts(),
            seconds=round(self.monotonic() - started, 3),
            detail=detail,
        )
        return data, status

    def _complete(self, incidents: list[Incident], entries: dict[str, list[Event]]) -> set[str]:
        """The completeness check: each incident has its trigger entry, and one that PagerDuty says is
        acknowledged or resolved has that entry. Incidents that miss one get their own log entries
        (one request each); the ids of those still incomplete are returned."""
        gaps = [incident for incident in incidents if _timeline_gap(incident.status, entries.get(incident.id, []))]
        if not gaps:
            return set()
        still: set[str] = set()
        for incident, own in zip(gaps, self._parallel(lambda i: self._own_entries(i.id), gaps), strict=True):
            known = {e.id: e for e in [*entries.get(incident.id, []), *own]}
            entries[incident.id] = list(known.values())
            if _timeline_gap(incident.status, entries[incident.id]):
                still.add(incident.id)
        return still

    def _own_entries(self, incident_id: str) -> list[Event]:
        return self.pages(f"/incidents/{incident_id}/log_entries", "log_entries",
                          {"time_zone": "UTC", "is_overview": "false"}, endpoint="GET /incidents/{id}/log_entries",
                          keep=event_from_api)

    def _groups(self) -> list[list[str] | None]:
        """The ``service_ids[]`` of each query of a list by service: at most 100 ids a query (URLs stay
        short), or one query with no filter (None) when the services are every service of the account
        (as discovery of a whole account makes them): each group's last page is a part page, and 20
        groups of 100 would cost 20 requests where one does."""
        if self._every_service():
            return [None]
        return [self.service_ids[i : i + SERVICE_IDS_PER_QUERY]
                for i in range(0, len(self.service_ids), SERVICE_IDS_PER_QUERY)]

    def _every_service(self) -> bool:
        return (self._account_services is not None and len(self.service_ids) > 1
                and self._account_services == self._wanted)

    def _earlier_open(self, window: Window, collected_at: datetime, rank_of: dict[str, int]) -> list[Incident]:
        """The services' incidents opened before the window and still open now, whatever their age (for
        the handoff: they were open at the window end too). One whose status, assignees and acknowledgers
        all date from before the window end held them at the end, and needs nothing more; each of the
        others gets its own log entries (one request), so the handoff can replay its state at the end.
        (One opened before the window and resolved between its end and the collection cannot be listed:
        PagerDuty lists incidents by creation and current status only.)"""
        as_of = min(window.end, collected_at)
        params = {"time_zone": "UTC", "date_range": "all", "statuses[]": ["triggered", "acknowledged"]}
        found: dict[str, Json] = {}
        for group in self._groups():
            for raw in self.for_services("/incidents", "incidents", params, group or self.service_ids,
                                         endpoint=OPEN_INCIDENTS, unfiltered=group is None):
                if _service_id(raw) not in self._wanted:
                    continue
                created = required_time(raw.get("created_at"), f"incident {raw['id']}")
                if created < window.start and raw.get("status") in ("triggered", "acknowledged"):
                    found[raw["id"]] = raw
        changed = sorted(incident_id for incident_id, raw in found.items() if _changed_after(raw, as_of))
        timelines = dict(zip(changed, self._parallel(self._own_entries, changed), strict=True))
        earlier = [incident_from_api(raw, timelines.get(raw["id"], []), rank_of) for raw in found.values()]
        return sorted(earlier, key=lambda i: (i.created_at, i.number))

    def _maintenance(self, window: Window) -> Maintenance:
        """The services' maintenance windows overlapping the previous window, the window and the rotation
        after it. PagerDuty
        filters them by state relative to now, not by time: the window lies in the past and the next
        rotation ahead, so ``filter=all`` (``past`` would miss those ongoing or to come, ``open`` the
        past ones inside the window that SLOs may exclude), then the range is cut here."""
        # from the previous window's start (its SLOs exclude them too; with the default 28-day period and a
        # 14-day rotation that is the whole period) to the end of the next rotation (the handoff's)
        since, until = window.start - (window.end - window.start), following(window).end
        wanted = self._wanted
        found: dict[str, MaintenanceWindow] = {}
        for group in self._groups():
            for raw in self.for_services("/maintenance_windows", "maintenance_windows", {"filter": "all"},
                                         group or self.service_ids, unfiltered=group is None):
                item = maintenance_window_from_api(raw)
                if item.start < until and item.end > since and wanted & set(item.service_ids):
                    found[item.id] = item
        return Maintenance(since=since, until=until, windows=sorted(found.values(), key=lambda m: (m.start, m.id)))

    def _incidents(self, window: Window, collected_at: datetime, rank_of: dict[str, int]) -> list[Incident]:
        """The window's incidents of the services, each a record without its timeline yet (a range
        split's parts and a repeated page are de-duplicated by id)."""
        since, until = window.start - MARGIN, min(window.end + MARGIN, max(collected_at, window.end))
        wanted = self._wanted

        def keep(raw: Json) -> Incident | None:
            created = required_time(raw.get("created_at"), f"incident {raw['id']}")
            if not window.start <= created < window.end or _service_id(raw) not in wanted:
                return None
            return incident_from_api(raw, [], rank_of)

        found: dict[str, Incident] = {}
        for group in self._groups():
            params: Json = {"time_zone": "UTC"} if group is None else {"time_zone": "UTC", "service_ids[]": group}
            for incident in self.ranged("/incidents", "incidents", params, since, until, keep=keep):
                found[incident.id] = incident
        return list(found.values())

    def _log_entries(
        self, window: Window, incidents: list[Incident], collected_at: datetime, team_ids: list[str] | None
    ) -> tuple[dict[str, list[Event]], str]:
        """Pick the cheaper strategy from a count probe and collect every entry of the incidents.
        ``team_ids`` narrows the account-wide list to the teams of the configured services, when every
        one of them has a team (``_team_filter``); the completeness check catches what it misses."""
        wanted = {incident.id for incident in incidents}
        if not wanted:
            return {}, "no incidents"
        since, until = window.start - MARGIN, collected_at
        params: Json = {"time_zone": "UTC", "is_overview": "false"}
        if team_ids:
            params["team_ids[]"] = team_ids
        # The probe is the first page of the account-wide list: reused when that list is chosen.
        ranged_params = {**params, "since": iso_z(since), "until": iso_z(until)}
        probe = self.get("/log_entries", {**ranged_params, "limit": PAGE, "offset": 0, "total": "true"})
        total = probe.get("total")
        account_cost = math.inf if total is None else math.ceil(total / PAGE) + 2 * (total // OFFSET_CAP)
        per_incident_cost = len(wanted)
        by_incident: dict[str, list[Event]] = {i: [] for i in wanted}
        if account_cost <= per_incident_cost:

            def keep(entry: Json) -> tuple[str, Event] | None:
                incident = entry.get("incident")
                incident_id = incident.get("id") if isinstance(incident, dict) else None
                return (incident_id, event_from_api(entry)) if incident_id in wanted else None

            if total is not None and total <= OFFSET_CAP:
                rest = self.pages("/log_entries", "log_entries", ranged_params, first=probe, keep=keep)
            else:  # the probe counted the range: its parts are asked for at once
                rest = self.ranged("/log_entries", "log_entries", params, since, until, keep=keep, over=total)
            for incident_id, event in rest:
                by_incident[incident_id].append(event)
            return by_incident, f"account-wide log entries: {total} entries in the range"

        ids = sorted(wanted)
        by_incident.update(zip(ids, self._parallel(self._own_entries, ids), strict=True))
        return by_incident, f"per-incident log entries ({len(wanted)} incidents < {total} account-wide entries)"

    def _services(self) -> list[SourceService]:
        every = (self._directory.services if self._directory is not None else
                 [service_from_api(s) for s in self.pages("/services", "services", {"time_zone": "UTC"})])
        self._account_services = {s.id for s in every}
        return [s for s in every if s.id in self._wanted]

    def _shifts(self, window: Window) -> tuple[list[Shift], list[str]]:
        """Each schedule's final rendered entries in the window; a schedule that cannot be read (a stale
        id: 404) is named in the second list, and only on-call hours go without it."""

        def one(schedule_id: str) -> Json:
            try:
                return self.get(
                    f"/schedules/{schedule_id}",
                    {"since": iso_z(window.start), "until": iso_z(window.end), "time_zone": "UTC", "overflow": "true"},
                    endpoint="GET /schedules/{id}",
                )
            except PagerDutyFailure as exc:
                return {"error": f"schedule {schedule_id}: {exc.message}"}

        shifts, failed = [], []
        for schedule_id, body in zip(self.schedule_ids, self._parallel(one, self.schedule_ids), strict=True):
            if "error" in body and "schedule" not in body:
                failed.append(str(body["error"]))
                continue
            final = ((body.get("schedule") or {}).get("final_schedule") or {})
            entries = final.get("rendered_schedule_entries") or []
            if not isinstance(entries, list):
                failed.append(f"schedule {schedule_id}: malformed answer (rendered_schedule_entries)")
                continue
            shifts += [s for s in (shift_from_api(schedule_id, item) for item in entries) if s is not None]
        return shifts, failed


def _team_filter(services: list[SourceService], wanted: list[str]) -> list[str] | None:
    """The teams whose log entries hold every configured service's: the union of those services'
    teams, or None (no filter) when one of them has no team or was not found, since a filter would
    then leave its incidents without a timeline."""
    teams_of = {s.id: s.team_ids for s in services}
    if not wanted or any(not teams_of.get(sid) for sid in wanted):
        return None
    return sorted({t for sid in wanted for t in teams_of[sid]})


def _changed_after(raw: Json, as_of: datetime) -> bool:
    """Whether an open incident's status, assignees or acknowledgers may have changed after ``as_of``
    (a time it does not give counts as after)."""
    changed = time_or_none(raw.get("last_status_change_at"))
    if changed is None or changed > as_of:
        return True
    for key in ("assignments", "acknowledgements"):
        for item in raw.get(key) or []:
            at = time_or_none(item.get("at")) if isinstance(item, dict) else None
            if at is None or at > as_of:
                return True
    return False


def _timeline_gap(status: str, entries: list[Event]) -> bool:
    kinds = {e.kind for e in entries}
    return ("triggered" not in kinds
            or (status == "acknowledged" and "acknowledged" not in kinds)
            or (status == "resolved" and "resolved" not in kinds))


def _service_id(raw: Json) -> str | None:
    service = raw.get("service")
    return service.get("id") if isinstance(service, dict) else None
