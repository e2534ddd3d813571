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


class _Client(pagerduty.RestApiV2Client):  # type: ignore[misc]
    """The official client with its retry loops disabled: each call is one attempt, so the
    collector's own loop decides (bounded, honouring ``ratelimit-reset``)."""

    def __init__(self, token: str, base_url: str, verify: Any, timeout: float) -> None:
        super().__init__(token, base_url=base_url, verify=verify)
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


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


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
                return response.json()  # type: ignore[no-any-return]
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
        if first is None:
            first = self.get(path, {**params, "limit": PAGE, "offset": 0, "total": "true"}, endpoint=endpoint)
        items: list[Json] = list(first.get(key, []))
        total = first.get("total")
        if total is None:  # the server did not count: walk the pages
            offset = len(items)
            more = first.get("more", False)
            while more:
                if offset + PAGE > OFFSET_CAP:
                    raise _OverCap()
                page = self.get(path, {**params, "limit": PAGE, "offset": offset}, endpoint=endpoint)
                batch = page.get(key, [])
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
            items += page.get(key, [])
        return items

    def ranged(self, path: str, key: str, params: Json, since: datetime, until: datetime) -> list[Json]:
        """Every item in ``[since, until]``. Past the offset cap the range is cut into as many equal
        parts as the probe's total says are needed (with room to spare), so a busy window costs one
        wasted probe rather than a bisection's worth."""
        try:
            return self.pages(path, key, {**params, "since": _iso(since), "until": _iso(until)})
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

    def collect(self, window: Window) -> tuple[PagerDutyData, SourceStatus]:
        started = self.monotonic()
        collected_at = self.now()
        base = {"time_zone": "UTC"}
        priorities = [
            Priority(id=p["id"], name=p.get("name") or p.get("summary") or p["id"], order=i)
            for i, p in enumerate(self.pages("/priorities", "priorities", base))
        ]
        services = self._services()
        incidents_raw = self._incidents(window, collected_at)
        entries, strategy = self._log_entries(window, incidents_raw, collected_at, _team_filter(services,
                                                                                                self.service_ids))
        missing = self._complete(incidents_raw, entries)
        incidents = [self._incident(raw, entries.get(raw["id"], [])) for raw in incidents_raw]
        users = [
            User(id=u["id"], name=u.get("name") or u["id"], email=u.get("email"), time_zone=u.get("time_zone"))
            for u in self.pages("/users", "users", base)
        ]
        teams = [PdTeam(id=t["id"], name=t.get("name") or t["id"]) for t in self.pages("/teams", "teams", base)]
        shifts = self._shifts(window)
        data = PagerDutyData(
            collected_at=collected_at, users=users, teams=teams, services=services, priorities=priorities,
            incidents=sorted(incidents, key=lambda i: (i.created_at, i.number)), shifts=shifts,
        )
        n_entries = sum(len(i.log_entries) for i in incidents)
        minimum = math.ceil(len(incidents) / PAGE) + math.ceil(n_entries / PAGE)
        requests = sum(self.log.counts.values())
        detail = (f"{len(incidents)} incidents, {n_entries} log entries ({strategy}); {requests} requests, "
                  f"minimum for the data {minimum} + reference data")
        if missing:
            numbers = sorted(int(raw.get("incident_number") or 0) for raw in incidents_raw if raw["id"] in missing)
            shown = ", ".join(f"#{n}" for n in numbers[:10]) + (f" and {len(numbers) - 10} more" if len(numbers) > 10
                                                                 else "")
            detail = (f"the timeline of {len(numbers)} incident(s) is incomplete even from their own log entries "
                      f"({shown}): their acknowledgement and resolution metrics may be wrong; " + detail)
        status = SourceStatus(
            status="degraded" if missing else "ok",
            requests=requests,
            requests_by_endpoint=dict(sorted(self.log.counts.items())),
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
                created = _parse_time(raw.get("created_at"))
                if created is not None and window.start <= created < window.end:
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
        ranged_params = {**params, "since": _iso(since), "until": _iso(until)}
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
                incident_id = (entry.get("incident") or {}).get("id")
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
        log = sorted((self._entry(e) for e in {e["id"]: e for e in entries}.values()),
                     key=lambda e: (e.created_at, e.id))
        resolved_at = _parse_time(raw.get("resolved_at"))
        if raw.get("status") == "resolved" and resolved_at is None:
            resolves = [e.created_at for e in log if e.type == "resolve"]
            resolved_at = resolves[-1] if resolves else None
        created_at = _parse_time(raw["created_at"])
        assert created_at is not None
        return Incident(
            id=raw["id"],
            number=int(raw.get("incident_number") or 0),
            title=str(raw.get("title") or raw.get("summary") or ""),
            service_id=(raw.get("service") or {}).get("id", ""),
            created_at=created_at,
            status=raw.get("status", "triggered"),
            urgency=raw.get("urgency", "high"),
            resolved_at=resolved_at if raw.get("status") == "resolved" else None,
            priority_id=(raw.get("priority") or {}).get("id"),
            incident_key=raw.get("incident_key"),
            html_url=raw.get("html_url"),
            log_entries=log,
        )

    @staticmethod
    def _entry(raw: Json) -> LogEntry:
        kind = str(raw.get("type", "")).removesuffix("_log_entry").removesuffix("_reference")
        if kind == "acknowledgement":
            kind = "acknowledge"
        agent = raw.get("agent") or {}
        channel = raw.get("channel") or {}
        user = raw.get("user") or {}
        assignees = raw.get("assignees") or []
        created_at = _parse_time(raw.get("created_at"))
        assert created_at is not None
        return LogEntry(
            id=raw["id"],
            type=kind if kind in LOG_ENTRY_TYPES else "other",  # type: ignore[arg-type]
            created_at=created_at,
            agent_type=agent.get("type"),
            agent_id=agent.get("id"),
            user_id=user.get("id") or (assignees[0].get("id") if assignees else None),
            channel_type=channel.get("type"),
            notification_type=(channel.get("notification") or {}).get("type"),
            note=raw.get("note") or (channel.get("summary") if kind == "annotate" else None),
        )

    def _services(self) -> list[PdService]:
        wanted = set(self.service_ids)
        return [
            PdService(id=s["id"], name=s.get("name") or s["id"], team_ids=[t["id"] for t in s.get("teams") or []])
            for s in self.pages("/services", "services", {"time_zone": "UTC"})
            if s["id"] in wanted
        ]

    def _shifts(self, window: Window) -> list[OnCallShift]:
        def one(schedule_id: str) -> Json:
            return self.get(
                f"/schedules/{schedule_id}",
                {"since": _iso(window.start), "until": _iso(window.end), "time_zone": "UTC", "overflow": "true"},
                endpoint="GET /schedules/{id}",
            )

        shifts = []
        for schedule_id, body in zip(self.schedule_ids, self._parallel(one, self.schedule_ids), strict=True):
            final = ((body.get("schedule") or {}).get("final_schedule") or {})
            for item in final.get("rendered_schedule_entries") or []:
                start, end = _parse_time(item.get("start")), _parse_time(item.get("end"))
                user_id = (item.get("user") or {}).get("id")
                if start and end and user_id:
                    shifts.append(OnCallShift(schedule_id=schedule_id, user_id=user_id, start=start, end=end))
        return shifts


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


def _error_message(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('message', '')} (code {error.get('code')})"
    return ""
