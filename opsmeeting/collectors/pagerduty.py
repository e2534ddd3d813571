"""PagerDuty collector: every incident of the window with its whole timeline, in few requests.

Through the official client (``pagerduty.RestApiV2Client``), configured against its traps
(``../shared/notes/pagerduty.md``): our own bounded retry loop that honours ``ratelimit-reset``
on 429 and backs off on 5xx and network errors; a timeout on every call; aware UTC datetimes and
``time_zone=UTC`` on every request; ranges split in time past the 10,000-result offset cap.

Log entries come either account-wide (``GET /log_entries``, paginated) or per incident
(``GET /incidents/{id}/log_entries``), whichever a count probe says needs fewer requests.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pagerduty

from opsmeeting.config import PagerDutySource
from opsmeeting.errors import CollectorError
from opsmeeting.models import (
    Incident,
    LogEntry,
    OnCallShift,
    PagerDutyData,
    PdService,
    PdTeam,
    Priority,
    SourceStatus,
    User,
)
from opsmeeting.timefmt import iso_z, parse_iso
from opsmeeting.window import Window

PAGE = 100
OFFSET_CAP = 10_000
MARGIN = timedelta(hours=1)  # ask a wider range than the window and filter created_at ourselves
SERVICE_IDS_PER_QUERY = 100  # keeps URLs short
RETRIED = {429, 500, 502, 503, 504}
LOG_ENTRY_TYPES = {"trigger", "acknowledge", "notify", "escalate", "assign", "resolve", "annotate"}

Json = dict[str, Any]


class PagerDutyFailure(CollectorError):
    def __init__(self, message: str) -> None:
        super().__init__("PagerDuty", message)


class _RateLimiter:
    """At most ``per_minute`` request starts in any minute, shared by every worker thread."""

    def __init__(self, per_minute: int, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self.clock = clock
        self.sleep = sleep
        self.next_at = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = self.clock()
            start = max(now, self.next_at)
            self.next_at = start + self.interval
        if start > now:
            self.sleep(start - now)


_QUIET = logging.getLogger("opsmeeting.pagerduty-client")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


class _Client(pagerduty.RestApiV2Client):  # type: ignore[misc]
    """The official client with its retry loops disabled: each call is one attempt, so the
    collector's own loop decides (bounded, honouring ``ratelimit-reset``)."""

    def __init__(self, token: str, base_url: str, verify: Any, timeout: float) -> None:
        super().__init__(token, base_url=base_url, verify=verify)
        self.log = _QUIET  # it would log "exceeded maximum number of attempts (-1)" for answers we retry
        self.timeout = timeout
        self.max_network_attempts = 0
        self.max_http_attempts = -1
        self.retry = dict.fromkeys(RETRIED, 1)


@dataclass
class RequestLog:
    counts: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, endpoint: str, seconds: float) -> None:
        with self.lock:
            self.counts[endpoint] += 1
            self.seconds += seconds


class PagerDutyCollector:
    """Collects one window. Every I/O dependency is injectable (token, clock, sleep, transport)."""

    name = "pagerduty"

    def __init__(
        self,
        source: PagerDutySource,
        *,
        service_ids: Iterable[str],
        schedule_ids: Iterable[str] = (),
        token: str | None = None,
        environ: dict[str, str] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        backoff: float = 1.0,
        requests_per_minute: int | None = None,
    ) -> None:
        self.source = source
        self.service_ids = sorted(set(service_ids))
        self.schedule_ids = list(dict.fromkeys(schedule_ids))
        self.now = now
        self.sleep = sleep
        self.monotonic = monotonic
        self.backoff = backoff
        self.log = RequestLog()
        pace = source.requests_per_minute if requests_per_minute is None else requests_per_minute
        self.limiter = _RateLimiter(pace, monotonic, sleep)
        if token is None:
            env = environ if environ is not None else __import__("os").environ
            token = env.get(source.token_env)
            if not token:
                raise PagerDutyFailure(
                    f"the API token is not set: export it in the environment variable ${source.token_env}"
                )
        verify: Any = True
        if source.ca_bundle:
            try:
                verify = ssl.create_default_context(cafile=str(source.ca_bundle))
            except (OSError, ssl.SSLError) as exc:
                raise PagerDutyFailure(f"cannot read the CA bundle {source.ca_bundle}: {exc}") from None
        self.client = _Client(token, source.url, verify, source.timeout.total_seconds())

    # --- one request, with our bounded retry policy -----------------------------------------

    def get(self, path: str, params: Json | None = None, *, endpoint: str | None = None) -> Json:
        endpoint = endpoint or f"GET {path}"
        attempts = 0
        while True:
            self.limiter.wait()
            started = self.monotonic()
            try:
                response = self.client.get(path, params=params)
            except pagerduty.HttpError as exc:
                self.log.add(endpoint, self.monotonic() - started)
                status = exc.response.status_code if exc.response is not None else None
                if status == 401:
                    raise PagerDutyFailure(
                        f"the API token in ${self.source.token_env} was rejected (401 Unauthorized); check the "
                        "token and the region (us/eu)"
                    ) from None
                raise PagerDutyFailure(f"{endpoint}: HTTP {status}") from None
            except pagerduty.Error as exc:
                self.log.add(endpoint, self.monotonic() - started)
                attempts += 1
                if attempts > self.source.max_retries:
                    cause = type(exc.__cause__).__name__ if exc.__cause__ else "network error"
                    raise PagerDutyFailure(f"{endpoint}: {cause} after {attempts} attempts") from None
                self.sleep(self._backoff(attempts))
                continue
            self.log.add(endpoint, self.monotonic() - started)
            status = response.status_code
            if response.is_success:
                body, problem = _json_object(response)
                if problem is None:
                    return body
                if attempts < self.source.max_retries:  # a proxy's error page or a cut body: ask again
                    attempts += 1
                    self.sleep(self._backoff(attempts))
                    continue
                raise PagerDutyFailure(f"{endpoint}: malformed answer (HTTP {status}: {problem}) after "
                                       f"{attempts + 1} attempts")
            if status in RETRIED and attempts < self.source.max_retries:
                attempts += 1
                self.sleep(self._wait_for(response, attempts))
                continue
            raise PagerDutyFailure(f"{endpoint}: HTTP {status} {_error_message(response)}".rstrip())

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff * 2 ** (attempt - 1), 30.0) * (1 + 0.25 * random.random())

    def _wait_for(self, response: Any, attempt: int) -> float:
        if response.status_code == 429:
            reset = response.headers.get("ratelimit-reset")
            try:
                if reset is not None:
                    return min(max(float(reset), 0.0), 60.0)
            except ValueError:
                pass
        return self._backoff(attempt)

    # --- pagination ------------------------------------------------------------------------

    def pages(self, path: str, key: str, params: Json, *, endpoint: str | None = None,
              first: Json | None = None) -> list[Json]:
        """Every item of an offset-paginated list: one probe page with ``total`` (or ``first``, when
        the caller already has it), then the other pages concurrently. Raises _OverCap when the list
        is longer than the offset cap allows."""
        endpoint = endpoint or f"GET {path}"
        if first is None:
            first = self.get(path, {**params, "limit": PAGE, "offset": 0, "total": "true"}, endpoint=endpoint)
        items: list[Json] = _items(first, key, endpoint)
        total = first.get("total")
        if total is not None and (not isinstance(total, int) or isinstance(total, bool) or total < 0):
            raise PagerDutyFailure(f"{endpoint}: malformed answer (`total` is {total!r})")
        if total is None:  # the server did not count: walk the pages
            offset = len(items)
            more = first.get("more", False)
            while more:
                if offset + PAGE > OFFSET_CAP:
                    raise _OverCap()
                page = self.get(path, {**params, "limit": PAGE, "offset": offset}, endpoint=endpoint)
                batch = _items(page, key, endpoint)
                items += batch
                offset += len(batch)
                more = page.get("more", False) and bool(batch)
            return items
        if total > OFFSET_CAP:
            raise _OverCap(total)
        offsets = list(range(PAGE, total, PAGE))
        for page in self._parallel(
            lambda off: self.get(path, {**params, "limit": PAGE, "offset": off}, endpoint=endpoint), offsets
        ):
            items += _items(page, key, endpoint)
        return items

    def ranged(self, path: str, key: str, params: Json, since: datetime, until: datetime) -> list[Json]:
        """Every item in ``[since, until]``. Past the offset cap the range is cut into as many equal
        parts as the probe's total says are needed (with room to spare), so a busy window costs one
        wasted probe rather than a bisection's worth."""
        try:
            return self.pages(path, key, {**params, "since": iso_z(since), "until": iso_z(until)})
        except _OverCap as over:
            if until - since <= timedelta(minutes=1):
                raise PagerDutyFailure(f"GET {path}: more than {OFFSET_CAP} results in one minute") from None
            parts = max(2, math.ceil((over.total or 0) / (0.8 * OFFSET_CAP)))
            step = (until - since) / parts
            edges = [since + step * i for i in range(parts)] + [until]
            edges = [edges[0], *(e.replace(microsecond=0) for e in edges[1:-1]), edges[-1]]
            found: list[Json] = []
            for start, end in itertools.pairwise(edges):
                found += self.ranged(path, key, params, start, end)
            return found

    def _parallel(self, fn: Callable[[Any], Json], args: list[Any]) -> list[Json]:
        if not args:
            return []
        if self.source.concurrency <= 1 or len(args) == 1:
            return [fn(a) for a in args]
        with ThreadPoolExecutor(max_workers=self.source.concurrency) as pool:
            return list(pool.map(fn, args))

    # --- what a window needs ---------------------------------------------------------------

    def request_counts(self) -> dict[str, int]:
        """Requests made so far, per endpoint (also after a failure)."""
        return dict(sorted(self.log.counts.items()))

    def collect(self, window: Window) -> tuple[PagerDutyData, SourceStatus]:
        """Incidents and their timelines are required: without them the source fails. The reference
        data are optional: one that cannot be read leaves only the metrics that need it null
        (``PagerDutyData.unavailable`` says which and why), and the source is degraded."""
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

        priorities = optional("priorities", lambda: [
            Priority(id=p["id"], name=str(p.get("name") or p.get("summary") or p["id"]), order=i)
            for i, p in enumerate(self.pages("/priorities", "priorities", base))], [])
        services = optional("services", self._services, [])
        incidents_raw = self._incidents(window, collected_at)
        team_filter = _team_filter(services, self.service_ids) if "services" not in unavailable else None
        entries, strategy = self._log_entries(window, incidents_raw, collected_at, team_filter)
        missing = self._complete(incidents_raw, entries)
        incidents = [self._incident(raw, entries.get(raw["id"], [])) for raw in incidents_raw]
        users = optional("users", lambda: [
            User(id=u["id"], name=str(u.get("name") or u["id"]), email=_text(u.get("email")),
                 time_zone=_zone(u.get("time_zone"))) for u in self.pages("/users", "users", base)], [])
        teams = optional("teams", lambda: [PdTeam(id=t["id"], name=str(t.get("name") or t["id"]))
                                           for t in self.pages("/teams", "teams", base)], [])
        shifts, failed_schedules = self._shifts(window)
        if failed_schedules:
            unavailable["schedules"] = "; ".join(failed_schedules)
        data = PagerDutyData(
            collected_at=collected_at, users=users, teams=teams, services=services, priorities=priorities,
            incidents=sorted(incidents, key=lambda i: (i.created_at, i.number)), shifts=shifts,
            unavailable=unavailable,
        )
        n_entries = sum(len(i.log_entries) for i in incidents)
        minimum = math.ceil(len(incidents) / PAGE) + math.ceil(n_entries / PAGE)
        requests = sum(self.log.counts.values())
        notes = [f"{part} could not be read ({why}): {UNAVAILABLE_EFFECT[part]}" for part, why in unavailable.items()]
        if missing:
            numbers = sorted(int(raw.get("incident_number") or 0) for raw in incidents_raw if raw["id"] in missing)
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

    def _complete(self, incidents: list[Json], entries: dict[str, list[Json]]) -> set[str]:
        """The completeness check: each incident has its trigger entry, and one that PagerDuty says is
        acknowledged or resolved has that entry. Incidents that miss one get their own log entries
        (one request each); the ids of those still incomplete are returned."""
        gaps = [raw for raw in incidents if _timeline_gap(raw, entries.get(raw["id"], []))]
        if not gaps:
            return set()

        def own(raw: Json) -> Json:
            return {"id": raw["id"], "entries": self.pages(
                f"/incidents/{raw['id']}/log_entries", "log_entries", {"time_zone": "UTC", "is_overview": "false"},
                endpoint="GET /incidents/{id}/log_entries")}

        still: set[str] = set()
        for raw, result in zip(gaps, self._parallel(own, gaps), strict=True):
            known = {e["id"]: e for e in [*entries.get(raw["id"], []), *result["entries"]]}
            entries[raw["id"]] = list(known.values())
            if _timeline_gap(raw, entries[raw["id"]]):
                still.add(raw["id"])
        return still

    def _incidents(self, window: Window, collected_at: datetime) -> list[Json]:
        since, until = window.start - MARGIN, min(window.end + MARGIN, max(collected_at, window.end))
        found: dict[str, Json] = {}
        groups = [self.service_ids[i : i + SERVICE_IDS_PER_QUERY]
                  for i in range(0, len(self.service_ids), SERVICE_IDS_PER_QUERY)]
        for group in groups:
            params = {"time_zone": "UTC", "service_ids[]": group}
            for raw in self.ranged("/incidents", "incidents", params, since, until):
                created = _required_time(raw.get("created_at"), f"incident {raw['id']}")
                if window.start <= created < window.end:
                    found[raw["id"]] = raw
        return list(found.values())

    def _log_entries(
        self, window: Window, incidents: list[Json], collected_at: datetime, team_ids: list[str] | None
    ) -> tuple[dict[str, list[Json]], str]:
        """Pick the cheaper strategy from a count probe and collect every entry of the incidents.
        ``team_ids`` narrows the account-wide list to the teams of the configured services, when every
        one of them has a team (``_team_filter``); the completeness check catches what it misses."""
        wanted = {raw["id"] for raw in incidents}
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
        by_incident: dict[str, list[Json]] = {i: [] for i in wanted}
        if account_cost <= per_incident_cost:
            if total is not None and total <= OFFSET_CAP:
                rest = self.pages("/log_entries", "log_entries", ranged_params, first=probe)
            else:
                rest = self.ranged("/log_entries", "log_entries", params, since, until)
            for entry in rest:
                incident_id = _ref(entry, "incident").get("id")
                if incident_id in by_incident:
                    by_incident[incident_id].append(entry)
            return by_incident, f"account-wide log entries: {total} entries in the range"

        def one(incident_id: str) -> Json:
            entries = self.pages(f"/incidents/{incident_id}/log_entries", "log_entries",
                                 {"time_zone": "UTC", "is_overview": "false"},
                                 endpoint="GET /incidents/{id}/log_entries")
            return {"id": incident_id, "entries": entries}

        for result in self._parallel(one, sorted(wanted)):
            by_incident[result["id"]] = result["entries"]
        return by_incident, f"per-incident log entries ({len(wanted)} incidents < {total} account-wide entries)"

    def _incident(self, raw: Json, entries: list[Json]) -> Incident:
        """One incident with its timeline, from API-shaped dicts checked at the boundary: a value of
        the wrong shape is a malformed answer (a source error), never a crash further down."""
        log = sorted((self._entry(e) for e in {e["id"]: e for e in entries}.values()),
                     key=lambda e: (e.created_at, e.id))
        status = raw.get("status", "triggered")
        urgency = raw.get("urgency", "high")
        if status not in ("triggered", "acknowledged", "resolved") or urgency not in ("high", "low"):
            raise PagerDutyFailure(f"incident {raw['id']}: malformed answer (status {status!r}, urgency {urgency!r})")
        created_at = _required_time(raw.get("created_at"), f"incident {raw['id']}")
        resolved_at = _time_or_none(raw.get("resolved_at"))
        if status == "resolved" and resolved_at is None:
            resolves = [e.created_at for e in log if e.type == "resolve"]
            resolved_at = resolves[-1] if resolves else None
        number = raw.get("incident_number")
        return Incident(
            id=raw["id"],
            number=number if isinstance(number, int) and not isinstance(number, bool) else 0,
            title=str(raw.get("title") or raw.get("summary") or ""),
            service_id=str(_ref(raw, "service").get("id", "")),
            created_at=created_at,
            status=status,
            urgency=urgency,
            resolved_at=resolved_at if status == "resolved" else None,
            priority_id=_text(_ref(raw, "priority").get("id")),
            incident_key=_text(raw.get("incident_key")),
            html_url=_text(raw.get("html_url")),
            log_entries=log,
        )

    @staticmethod
    def _entry(raw: Json) -> LogEntry:
        kind = str(raw.get("type", "")).removesuffix("_log_entry").removesuffix("_reference")
        if kind == "acknowledgement":
            kind = "acknowledge"
        agent, channel, user = _ref(raw, "agent"), _ref(raw, "channel"), _ref(raw, "user")
        assignees = raw.get("assignees") if isinstance(raw.get("assignees"), list) else []
        first_assignee = assignees[0] if assignees and isinstance(assignees[0], dict) else {}
        notification = channel.get("notification") if isinstance(channel.get("notification"), dict) else {}
        note = raw.get("note") or (channel.get("summary") if kind == "annotate" else None)
        return LogEntry(
            id=raw["id"],
            type=kind if kind in LOG_ENTRY_TYPES else "other",  # type: ignore[arg-type]
            created_at=_required_time(raw.get("created_at"), f"log entry {raw['id']}"),
            agent_type=_text(agent.get("type")),
            agent_id=_text(agent.get("id")),
            user_id=_text(user.get("id")) or _text(first_assignee.get("id")),
            channel_type=_text(channel.get("type")),
            notification_type=_text(notification.get("type")),
            note=_text(note),
        )

    def _services(self) -> list[PdService]:
        wanted = set(self.service_ids)
        return [
            PdService(id=s["id"], name=str(s.get("name") or s["id"]),
                      team_ids=[t["id"] for t in (s.get("teams") or []) if isinstance(t, dict) and "id" in t])
            for s in self.pages("/services", "services", {"time_zone": "UTC"})
            if s["id"] in wanted
        ]

    def _shifts(self, window: Window) -> tuple[list[OnCallShift], list[str]]:
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
            for item in entries:
                if not isinstance(item, dict):
                    continue
                start, end = _time_or_none(item.get("start")), _time_or_none(item.get("end"))
                user_id = (item.get("user") or {}).get("id") if isinstance(item.get("user"), dict) else None
                if start and end and user_id:
                    shifts.append(OnCallShift(schedule_id=schedule_id, user_id=str(user_id), start=start, end=end))
        return shifts, failed


def _team_filter(services: list[PdService], wanted: list[str]) -> list[str] | None:
    """The teams whose log entries hold every configured service's: the union of those services'
    teams, or None (no filter) when one of them has no team or was not found, since a filter would
    then leave its incidents without a timeline."""
    teams_of = {s.id: s.team_ids for s in services}
    if not wanted or any(not teams_of.get(sid) for sid in wanted):
        return None
    return sorted({t for sid in wanted for t in teams_of[sid]})


def _timeline_gap(raw: Json, entries: list[Json]) -> bool:
    kinds = {str(e.get("type", "")).removesuffix("_log_entry") for e in entries}
    status = raw.get("status")
    return ("trigger" not in kinds
            or (status == "acknowledged" and not kinds & {"acknowledge", "acknowledgement"})
            or (status == "resolved" and "resolve" not in kinds))


class _OverCap(Exception):
    def __init__(self, total: int | None = None) -> None:
        super().__init__(total)
        self.total = total


UNAVAILABLE_EFFECT = {
    "priorities": "major incidents are unknown (they need the account's two highest priorities)",
    "services": "log entries were asked for without a team filter",
    "users": "responders' names and time zones are unknown, so the business, off and sleep-hour split is too",
    "teams": "PagerDuty team names are not shown",
    "schedules": "on-call hours are unknown",
}


def _json_object(response: Any) -> tuple[Json, str | None]:
    """The body as a JSON object, or the reason it is not one (HTML from a proxy, an empty body)."""
    try:
        body = response.json()
    except ValueError:
        kind = (response.headers.get("content-type") or "no content type").split(";")[0]
        return {}, f"not JSON ({kind}, {len(response.content)} bytes)"
    if not isinstance(body, dict):
        return {}, f"a JSON {type(body).__name__}, not an object"
    return body, None


def _items(body: Json, key: str, endpoint: str) -> list[Json]:
    """The list under ``key``; each item an object with a string ``id``. Anything else is malformed."""
    items = body.get(key)
    if not isinstance(items, list):
        raise PagerDutyFailure(f"{endpoint}: malformed answer (`{key}` is {type(items).__name__}, not a list)")
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise PagerDutyFailure(f"{endpoint}: malformed answer (an item of `{key}` has no string id)")
    return items


def _required_time(value: Any, what: str) -> datetime:
    moment = _time_or_none(value)
    if moment is None:
        raise PagerDutyFailure(f"{what}: malformed answer (created_at {str(value)[:40]!r})")
    return moment


def _ref(raw: Json, key: str) -> Json:
    """A nested reference object, or {} when it is null or of another shape."""
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


def _time_or_none(value: Any) -> datetime | None:
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


def _error_message(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('message', '')} (code {error.get('code')})"
    return ""
