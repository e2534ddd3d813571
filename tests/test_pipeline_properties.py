"""The whole pipeline against a plain reference: ``opsmeeting run`` (collect, scorecards, render) through
the PagerDuty fake and a real Prometheus, on accounts drawn by hypothesis, every number of
scorecards.json compared with ``tests/reference.py`` (METRICS.md, computed from the raw data).

Each example writes a configuration, runs ``opsmeeting.cli.main(["run", ...])`` in-process with a
fixed ``--window`` and ``--as-of`` and checks that (1) the run exits 0 or 3, with no traceback, and
writes report.html, scorecards.json, scorecards.csv and snapshot/manifest.json (and report.pdf in
the few examples that render it); (2) every METRICS.md number of scorecards.json equals the
reference: counts exactly, other numbers to a relative 1e-9, nulls strictly. That is every key of
the incident table per service, team and overall; the per-responder keys (and the responders
themselves: a user absent from GET /users is "unknown user (<id>)"); the priority components
high_urgency_incidents, major_incidents, sleep_interruptions and recurrence; each SLO's objective,
good, total, bad, sli, met, error budget consumed and remaining, period budget consumed, daily, raw
(the same values before exclusions: these accounts have no maintenance windows or corrections),
excluded (none), calendar (null: rolling periods), and previous (good, total, sli, error budget
consumed, and bad, met, remaining where present; not its period budget or days, for which the pool
has no exact truth); a NaN or infinity from Prometheus
(and a good query without series) must be null and explained (``reason``, or ``notes``, the
product's place for a single null value); quantiles that ``histogram_quantile`` answers NaN must
be null. The PagerDuty source must say "ok": the fake answers everything.

One FakePagerDuty (whose data each example replaces; every request and response validated) and one
Prometheus (one backfill of ``edge_case_pool()``, cached in .cache/tsdb) serve the whole module.
The 30 examples are derandomized and not shrunk (an example is a whole run, about 0.7 s; the
message lists every mismatch of the first failing one); at the end, every shape listed below must
have been drawn by some example.

Account shapes (PagerDuty):

- configured services with no incidents, with no PagerDuty service at all, and several PagerDuty
  services mapped to one configured service; PagerDuty services mapped to none (their incidents
  must not count) and PagerDuty services in no PagerDuty team;
- teams with and without ``pagerduty_team_ids``; one configured team whose services live in
  several PagerDuty teams;
- incidents never acknowledged, acknowledged once, acknowledged by two users (major), still open
  (triggered, or acknowledged), resolved by a user, auto-resolved (resolve entry's agent the
  service), resolved by the integration (agent an ``integration_reference``);
- deleted users: users referenced by log entries (notified, acknowledging, resolving, on call)
  but absent from GET /users (named "unknown user (<id>)", bucketed in the rotation's zone);
- Unicode, punctuation and very long names and titles: incident titles with CJK, emoji, RTL
  override characters, markup, 2,000+ characters; PagerDuty service and team names with "&",
  "/", ":" and parentheses; user names in several scripts;
- no priorities, one, or several (the two most severe make an incident major); null priorities;
- notifications of every type (SMS, phone, push, and email, which is no interruption) at all
  hours, for users in time zones with and without a daylight-saving change in the window
  (Lisbon, New York, Los Angeles, Kolkata +05:30, Kathmandu +05:45, Chatham +12:45...), and
  rotation zones whose days start on the previous local date (Honolulu);
- escalations by timeout and by hand, each followed by a notification of the next responder;
- incidents created exactly at the window start, one second before its end, and outside it
  (just before the start, exactly at the end, just after it): the outside ones must not count,
  whatever their timelines do inside the window;
- acknowledgements, notifications and resolutions after the window end for window incidents
  (they count);
- recurring problems (incidents sharing an incident key, titles alike) beside unrelated incidents;
- on-call schedules (configured or not) whose shifts straddle the window edges or miss it.

Prometheus shapes (``tests.fakes.slo_data.edge_case_pool``: the configured services point at its
entries through ``prometheus_label``): steady, diurnal, counter resets (a crash loop), an incident
burst, low traffic, no series at all (``pool-nodata``, and a label nothing has), no traffic
(series, but zero increase in the window), a histogram without its +Inf bucket
(``histogram_quantile`` NaN), a histogram without the threshold bucket (the latency good query
has no series), NaN samples at the window end (NaN good/total), NaN samples inside the window
(harmless), a +Inf sample at the window end, and a user ratio query (``errors``) that divides by
zero for a quiet service. SLOs: availability (good/total), latency (histogram, quantiles 0.5 and
0.99), errors (bad = 5xx × (total / total)); objectives as fractions and percentages, with
per-service overrides; ``min_events: 0`` so that every SLO is judged as METRICS.md defines it.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
import traceback
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from opsmeeting.cli import main
from tests import reference as ref
from tests.clock import PINNED_NOW
from tests.fakes import pagerduty_data as pd
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.prometheus import RunningPrometheus, prometheus_with
from tests.fakes.slo_data import Counts, Dataset, ServiceTruth, edge_case_pool

POOL = edge_case_pool()
START, END = POOL.window.start, POOL.window.end
AS_OF = PINNED_NOW  # --as-of of every run; the session's pinned clock makes PagerDuty's collection time the same
LAST_EVENT = END + timedelta(hours=20)  # no log entry later than this: all of them are collected
assert LAST_EVENT < AS_OF
TOKEN_ENV = "OPSMEETING_PROPERTY_PD_TOKEN"
GHOST_LABEL = "pool-ghost"  # no series has it
LABELS = (*POOL.truth, GHOST_LABEL)

TOTAL = "sum by (service) (increase(http_requests_total[{{window}}]))"
SLOS: tuple[dict[str, Any], ...] = (
    {"name": "availability", "kind": "ratio", "min_events": 0,
     "good": 'sum by (service) (increase(http_requests_total{code!~"5.."}[{{window}}]))', "total": TOTAL},
    {"name": "latency", "kind": "latency", "min_events": 0, "histogram": "http_request_duration_seconds",
     "threshold": 0.25, "quantiles": [0.5, 0.99]},
    {"name": "errors", "kind": "ratio", "min_events": 0,  # 0/0 = NaN for a service without traffic
     "bad": f'sum by (service) (increase(http_requests_total{{code=~"5.."}}[{{{{window}}}}])) * ({TOTAL} / {TOTAL})',
     "total": TOTAL},
)
OBJECTIVES = {"availability": ("99.9%", 0.999, 0.99, "99.5 %"), "latency": (0.99, "95%"), "errors": (0.995, 0.9)}

USER_ZONES = ("UTC", "Europe/Lisbon", "America/New_York", "America/Los_Angeles", "Asia/Kolkata", "Asia/Kathmandu",
              "Australia/Sydney", "Pacific/Chatham", "Pacific/Honolulu")
ROTATION_ZONES = ("UTC", "Asia/Kolkata", "Australia/Sydney", "Pacific/Honolulu", "America/Sao_Paulo")  # no DST change
USER_NAMES = ("Ana Lima", "Zoë Ångström-Ørsted", "李小龙", "محمد علي", "O'Brien, Seán (on call)",  # <= 100 characters
              "\u202eredivorp\u202c Evil Override", "Émile 🚒 Dupont", "Ngozi Okonkwo-Adeyemi " * 4)
PD_TEAM_NAMES = ("SRE & Platform", "Payments/Core: EU (prod)", "Zürich: Suche & Finden", "チーム (東京)", "R&D / Tools")
PD_SERVICE_NAMES = ("Checkout API (v2)", "payments/ledger: writer", "Search & Discovery", "Auth: SSO (SAML/OIDC)",
                    "日本語サービス", "Notifications & Email (legacy)", "edge/cdn: purge (EU & US)")
TEAM_DISPLAY = (None, "Paiements & Facturation", "Plateforme (SRE)", "搜索 / 发现", "Ops: \"night\" <crew>")
TITLES = (
    "Elevated 5xx on the checkout API",
    "数据库连接池耗尽 — 支付服务 {word}",
    "🔥🚨 Latency SLO burn on search 🐢",
    "\u202eReversed\u202c title with an RTL override \u202b(עברית)\u202c",
    "<script>alert('x')</script> & \"quotes\" / paths: (parens)",
    "Very long title with many words " * 70,
)
RECURRING = ("disk-full:web (prod)", "Disk {n}% full on web-{m}.prod")
NOTIFICATIONS = ("sms_notification", "phone_notification", "push_notification", "email_notification")
KINDS = ("never_acked", "acked", "two_ackers", "open_triggered", "open_acked", "auto_resolved", "integration")
EDGES = ("at_start", "before_end", "before_start", "at_end", "after_end")
PLACES = ("inside", "inside", EDGES[0], "inside", EDGES[1], "inside", EDGES[2], "inside", EDGES[3], "inside", EDGES[4])
INTEGRATION = pd.reference("integration", "PINTGR1", "Datadog (prod) / webhook")

REQUIRED_SHAPES = {
    *(f"incident: {k}" for k in KINDS), "created: inside", *(f"created: {p}" for p in EDGES),
    *(f"notification: {n}" for n in NOTIFICATIONS), "escalation: timeout", "escalation: manual",
    "service without incidents", "several PagerDuty services for one service", "team without pagerduty_team_ids",
    "team with pagerduty_team_ids", "team over several PagerDuty teams", "PagerDuty service in no team",
    "unmapped PagerDuty service", "deleted user", "priority", "null priority", "event after the window end",
    "recurring problem", "on-call shift", *(f"prometheus: {label}" for label in LABELS), "pdf",
    "SLO with selected services", "expected service without series",
}
SEEN: Counter[str] = Counter()


def words(n: int) -> str:
    """A letters-only word unique to ``n`` (digits would be normalised away in problem titles)."""
    out = ""
    n += 26 * 27
    while n:
        n, r = divmod(n, 26)
        out = "abcdefghijklmnopqrstuvwxyz"[r] + out
    return out


@dataclass
class Account:
    org: pd.Org
    teams: list[dict[str, Any]]
    services: list[dict[str, Any]]
    slos: list[dict[str, Any]]
    rotation_zone: str
    schedule_ids: list[str]
    pdf: bool
    shapes: set[str] = field(default_factory=set)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis prints the summary, not 200 kB
        printer.text(repr(self))

    def __repr__(self) -> str:
        summary = {
            "teams": self.teams, "services": self.services, "rotation_zone": self.rotation_zone,
            "users": [(u["id"], u["name"][:30], u["time_zone"]) for u in self.org.users],
            "incidents": [(i["id"], i["service"]["id"], i["created_at"], i["status"], i["urgency"],
                           (i["priority"] or {}).get("id")) for i in self.org.incidents],
            "log_entries": len(self.org.log_entries), "schedules": self.schedule_ids,
        }
        return f"Account({json.dumps(summary, ensure_ascii=False)})"


# --- strategies --------------------------------------------------------------------------------------


def _seconds(draw: st.DrawFn, low: int, high: int) -> int:
    return draw(st.integers(low, max(low, high)))


def _pick(draw: st.DrawFn, options: Sequence[Any], n: int) -> Any:
    """One of ``options``, turned by ``n``: where hypothesis draws the same index again and again (it
    likes to), the incidents of one account still go through every option."""
    return options[(draw(st.integers(0, len(options) - 1)) + n) % len(options)]


def _incident(draw: st.DrawFn, n: int, account: Account, people: list[pd.Obj], pd_services: list[pd.Obj],
              priorities: list[pd.Obj], deleted: set[str]) -> tuple[pd.Obj, list[pd.Obj]]:
    """One incident and a consistent timeline, nothing after ``LAST_EVENT``."""
    shapes = account.shapes
    service = _pick(draw, pd_services, n)
    place = _pick(draw, PLACES, n)
    if place == "inside":
        created = START + timedelta(seconds=_seconds(draw, 1, int((END - START).total_seconds()) - 2))
    elif place == "before_start":
        created = START - timedelta(seconds=_seconds(draw, 1, 3000))
    elif place == "after_end":
        created = END + timedelta(seconds=_seconds(draw, 1, 3000))
    else:
        created = {"at_start": START, "before_end": END - timedelta(seconds=1), "at_end": END}[place]
    inside = START <= created < END
    kind = _pick(draw, KINDS, n)
    room = int((LAST_EVENT - created).total_seconds())

    def later(after: datetime, most: int = 3 * 86_400) -> datetime:
        left = int((LAST_EVENT - after).total_seconds())
        return after + timedelta(seconds=_seconds(draw, 1, min(most, left)))

    incident_id = f"PI{n:06d}"
    seq = iter(range(1000))

    def eid() -> str:
        return pd.stable_id(incident_id, "entry", next(seq))

    responder = _pick(draw, people, n)
    notes: list[tuple[datetime, pd.Obj, str]] = []
    for k in range(draw(st.integers(0, 3))):
        at = created + timedelta(seconds=_seconds(draw, 0, min(6 * 3600, room)))
        notes.append((at, _pick(draw, people, n + k), _pick(draw, NOTIFICATIONS, n + k)))
    escalation = _pick(draw, (None, "timeout", "manual"), n)
    escalated_at = later(created, 3600) if escalation else None
    target = _pick(draw, people, n + 1)
    ackers: list[tuple[pd.Obj, datetime]] = []
    if kind in ("acked", "open_acked", "two_ackers") or (kind == "auto_resolved" and draw(st.booleans())):
        ackers.append((responder, later(created, 2 * 3600)))
        if kind == "two_ackers":
            second = _pick(draw, [p for p in people if p["id"] != responder["id"]], n)
            ackers.append((second, later(ackers[0][1], 3600)))
    resolved_at = None
    if kind not in ("open_triggered", "open_acked"):
        resolved_at = later(max([created, *(at for _, at in ackers)]), 2 * 86_400)
    status = "resolved" if resolved_at else "acknowledged" if ackers else "triggered"
    group = _pick(draw, (None, None, 0), n)
    if group is None:
        title = _pick(draw, TITLES, n).format(word=words(n)) + f" [{words(n)}]"
        key = _pick(draw, (None, f"deploy:api:{words(n)}"), n)
    else:
        key = RECURRING[0]
        title = RECURRING[1].format(n=draw(st.integers(80, 99)), m=draw(st.integers(1, 40)))
    priority = _pick(draw, [None, *priorities], n)
    incident = pd.make_incident(
        incident_id, 1000 + n, service, created, _pick(draw, ("high", "low"), n), status, resolved_at,
        priority, title, key, acknowledgers=ackers if status == "acknowledged" else [],
        assignees=[(responder, created)],
    )
    entries = [pd.trigger(incident, created), pd.assign(incident, created, [responder], id=eid())]
    entries += [pd.notify(incident, at, user, medium, id=eid()) for at, user, medium in notes]
    if escalated_at is not None:
        agent = responder if escalation == "manual" else None
        entries.append(pd.escalate(incident, escalated_at, channel_type="timeout" if agent is None else "website",
                                   agent=agent, assignees=[target], id=eid()))
        entries.append(pd.notify(incident, escalated_at + timedelta(seconds=5), target, "phone_notification",
                                 id=eid()))
    entries += [pd.acknowledge(incident, at, user, id=eid()) for user, at in ackers]
    if resolved_at is not None:
        if kind == "auto_resolved":
            agent = service
        elif kind == "integration":
            agent = INTEGRATION
        else:
            agent = _pick(draw, people, n + 2)
        entries.append(pd.resolve(incident, resolved_at, agent, id=eid()))
    entries = [e for e in entries if e["created_at"] <= pd.iso(LAST_EVENT)]  # collected: nothing later
    shapes.add(f"created: {place}")
    if inside and service["id"] in {pid for s in account.services for pid in s["pagerduty_service_ids"]}:
        shapes.add(f"incident: {kind}")
        shapes.add("priority" if priority else "null priority")
        shapes.update(f"notification: {medium}" for _, _, medium in notes)
        if escalation:
            shapes.add(f"escalation: {escalation}")
        if any(pd.epoch(e["created_at"]) >= END.timestamp() for e in entries):
            shapes.add("event after the window end")
        if deleted & {r["id"] for e in entries for r in (e.get("agent") or {}, e.get("user") or {}) if r}:
            shapes.add("deleted user")
    return incident, entries


def _schedules(draw: st.DrawFn, people: list[pd.Obj]) -> dict[str, pd.Obj]:
    """0-2 schedules over disjoint users; consecutive shifts (with gaps) from before the window to after it."""
    out: dict[str, pd.Obj] = {}
    pool = list(people)
    for s in range(draw(st.integers(0, 2))):
        if not pool:
            break
        members = pool[: draw(st.integers(1, min(2, len(pool))))]
        pool = pool[len(members):]
        shifts, at, k = [], START - timedelta(hours=draw(st.integers(1, 80))), 0
        while at < END + timedelta(days=1):
            length = timedelta(hours=draw(st.sampled_from((6, 12, 24, 72, 120))), minutes=draw(st.integers(0, 59)))
            shifts.append(pd.Shift(members[k % len(members)], at, at + length))
            at += length + timedelta(hours=draw(st.sampled_from((0, 0, 0, 5))))
            k += 1
        shifts.append(pd.Shift(members[0], START - timedelta(days=9), START - timedelta(days=8)))  # misses the window
        sid = f"PSCHED{s}"
        out[sid] = pd.make_schedule(sid, f"Primary ({s}) & backup", "UTC", shifts)
    return out


@st.composite
def accounts(draw: st.DrawFn) -> Account:
    users = [pd.make_user(f"PU{i:05d}", draw(st.sampled_from(USER_NAMES)), draw(st.sampled_from(USER_ZONES)),
                          email=f"user{i}@example.com") for i in range(draw(st.integers(2, 5)))]
    deleted = [pd.make_user(f"PX{i:05d}", f"Former {i}", "UTC", email=f"former{i}@example.com")
               for i in range(draw(st.integers(0, 2)))]
    people = users + deleted
    pd_teams = [pd.make_team(f"PT{i:05d}", draw(st.sampled_from(PD_TEAM_NAMES)))
                for i in range(draw(st.integers(1, 3)))]
    n_teams, n_services = draw(st.integers(1, 3)), draw(st.integers(1, 8))
    service_team = [_pick(draw, range(n_teams), i) for i in range(n_services)]
    pd_services, mapped_to = [], []
    for i in range(draw(st.integers(1, 6))):
        team = _pick(draw, [None, *pd_teams], i)
        ids = [team["id"]] if team else []
        name = _pick(draw, PD_SERVICE_NAMES, i)
        pd_services.append(pd.make_service(f"PS{i:05d}", name, ids, team_names={t["id"]: t["name"] for t in pd_teams}))
        mapped_to.append(_pick(draw, [*range(n_services), None], i))
    labels = draw(st.lists(st.sampled_from(LABELS), min_size=n_services, max_size=n_services, unique=True))
    services = [
        {"name": f"svc-{'abcdefgh'[i]}", "team": f"team-{'abc'[service_team[i]]}",
         "pagerduty_service_ids": [s["id"] for s, m in zip(pd_services, mapped_to, strict=True) if m == i],
         "prometheus_label": labels[i]}
        for i in range(n_services)
    ]
    teams = []
    for t in range(n_teams):
        name = f"team-{'abc'[t]}"
        mine = {pid for svc in services if svc["team"] == name for pid in svc["pagerduty_service_ids"]}
        pd_of_mine = sorted({tid for s in pd_services if s["id"] in mine for tid in (x["id"] for x in s["teams"])})
        team: dict[str, Any] = {"name": name, "pagerduty_team_ids": []}
        if draw(st.booleans()):
            team["pagerduty_team_ids"] = pd_of_mine or [draw(st.sampled_from(pd_teams))["id"]]
        if display := draw(st.sampled_from(TEAM_DISPLAY)):
            team["display_name"] = display
        teams.append(team)
    priorities = [pd.make_priority(f"PP{i}", f"P{i + 1}", 500 - 100 * i) for i in range(draw(st.integers(0, 4)))]
    slos = []
    for base in SLOS:
        slo = {**base, "objective": draw(st.sampled_from(OBJECTIVES[base["name"]]))}
        if draw(st.booleans()):
            slo["objectives"] = {draw(st.sampled_from(services))["name"]: draw(st.sampled_from((0.95, "99.99%")))}
        selector = draw(st.sampled_from((None, None, "service", "pattern", "team")))
        if selector == "service":  # a service expected to have data: "no data" is said of it
            slo["services"] = [draw(st.sampled_from(services))["name"]]
        elif selector == "pattern":
            slo["services"] = [draw(st.sampled_from(("SVC-*", "svc-[ab]", "*-z")))]
        elif selector == "team":
            slo["teams"] = [draw(st.sampled_from(services))["team"]]
        slos.append(slo)
    schedules = _schedules(draw, people)
    schedule_ids = [sid for sid in schedules if draw(st.booleans())]
    account = Account(
        org=pd.Org(start=START, end=END, users=users, teams=pd_teams, services=pd_services, priorities=priorities,
                   schedules=schedules),
        teams=teams, services=services, slos=slos, rotation_zone=draw(st.sampled_from(ROTATION_ZONES)),
        schedule_ids=schedule_ids, pdf=draw(st.integers(0, 9)) == 0,
    )
    for n in range(draw(st.integers(0, 16))):
        incident, entries = _incident(draw, n, account, people, pd_services, priorities, {u["id"] for u in deleted})
        account.org.incidents.append(incident)
        account.org.log_entries.extend(entries)
    _tally(account, pd_services, mapped_to)
    return account


def _tally(account: Account, pd_services: list[pd.Obj], mapped_to: list[int | None]) -> None:
    """Which REQUIRED_SHAPES this account has (checked over all examples at the end)."""
    shapes = account.shapes
    window_services = {i["service"]["id"] for i in account.org.incidents
                       if START <= ref.when(i["created_at"]) < END}
    for svc in account.services:
        if not window_services & set(svc["pagerduty_service_ids"]):
            shapes.add("service without incidents")
        if len(svc["pagerduty_service_ids"]) > 1:
            shapes.add("several PagerDuty services for one service")
        shapes.add(f"prometheus: {svc['prometheus_label']}")
        for slo in account.slos:
            if "services" in slo or "teams" in slo:
                shapes.add("SLO with selected services")
                ghost = ref.SloAnswers(None, None, None, [])
                if svc["prometheus_label"] == GHOST_LABEL and ref.covers(slo, svc, ghost):
                    shapes.add("expected service without series")
    for team in account.teams:
        shapes.add("team with pagerduty_team_ids" if team["pagerduty_team_ids"] else "team without pagerduty_team_ids")
        mine = {pid for svc in account.services if svc["team"] == team["name"] for pid in svc["pagerduty_service_ids"]}
        if len({t["id"] for s in pd_services if s["id"] in mine for t in s["teams"]}) > 1:
            shapes.add("team over several PagerDuty teams")
    if any(not s["teams"] for s, m in zip(pd_services, mapped_to, strict=True) if m is not None):
        shapes.add("PagerDuty service in no team")
    if None in mapped_to:
        shapes.add("unmapped PagerDuty service")
    keys = Counter((i["service"]["id"], i["incident_key"]) for i in account.org.incidents
                   if START <= ref.when(i["created_at"]) < END and i["incident_key"] == RECURRING[0])
    if any(n >= 2 for n in keys.values()):
        shapes.add("recurring problem")
    if account.schedule_ids:
        shapes.add("on-call shift")
    if account.pdf:
        shapes.add("pdf")


# --- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pool_prometheus() -> Iterator[RunningPrometheus]:
    with prometheus_with(POOL) as running:  # cached TSDB: one backfill, ever
        yield running


@pytest.fixture(scope="module")
def fake_pagerduty() -> Iterator[FakePagerDuty]:
    with FakePagerDuty(clock=lambda: AS_OF) as fake:
        old = os.environ.get(TOKEN_ENV)
        os.environ[TOKEN_ENV] = fake.token
        try:
            yield fake
        finally:
            if old is None:
                os.environ.pop(TOKEN_ENV, None)
            else:
                os.environ[TOKEN_ENV] = old


# --- what Prometheus answers ----------------------------------------------------------------------------


def _times_ratio(errors: float, total: float) -> float:
    """PromQL's ``errors * (total / total)``: 0/0 is NaN, inf/inf is NaN."""
    ratio = math.nan if total == 0 else total / total
    return errors * ratio


def answers_for(dataset: Dataset) -> Any:
    def answers(label: str, slo: Mapping[str, Any]) -> ref.SloAnswers:
        truth: ServiceTruth | None = dataset.truth.get(label)
        name = slo["name"]
        quantiles = tuple(f"{q:g}" for q in slo.get("quantiles", ())) if slo["kind"] == "latency" else ()
        days = len(dataset.window.days)
        if truth is None:
            return ref.SloAnswers(None, None, None, [None] * days, quantiles=quantiles)
        counts = truth.latency if name == "latency" else truth.availability

        def answer(c: Counts | None) -> ref.Answer | None:
            if c is None:
                return None
            if name == "errors":
                return ref.Answer(_times_ratio(c.total - c.good, c.total), c.total)
            return ref.Answer(c.good, c.total)

        return ref.SloAnswers(
            window=answer(counts.window), previous=answer(counts.previous),
            period_total=None if counts.period is None else counts.period.total,
            daily=[answer(d) for d in counts.daily], quantiles_nan=truth.quantiles_nan, quantiles=quantiles,
        )

    return answers


# --- running ---------------------------------------------------------------------------------------------


def config_for(account: Account, directory: Path, fake: FakePagerDuty, prometheus: RunningPrometheus) -> dict:
    zone = ZoneInfo(account.rotation_zone)
    return {
        "rotation": {"length": "14d", "anchor": START.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S"),
                     "timezone": account.rotation_zone, "pagerduty_schedule_ids": account.schedule_ids},
        "teams": account.teams,
        "services": account.services,
        "slos": account.slos,
        "sources": {"pagerduty": {"base_url": fake.url, "ca_bundle": fake.ca_bundle, "token_env": TOKEN_ENV,
                                  "max_retries": 1, "requests_per_minute": 0},
                    "prometheus": {"url": prometheus.url}},
        "output": {"directory": str(directory / "reports")},
        "state": {"path": str(directory / "state.sqlite")},
    }


def run_opsmeeting(args: list[str]) -> tuple[int, str]:
    """``main(args)`` in-process: (exit code, stderr); an escaping exception is exit 1 with its traceback."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
        except Exception:
            code = 1
            err.write(traceback.format_exc())
    return code, err.getvalue()


def _reject_constant(name: str) -> float:
    raise ValueError(f"scorecards.json holds {name}")


# --- comparing --------------------------------------------------------------------------------------------


def same(expected: Any, actual: Any, *, exact: bool) -> bool:
    if expected is None:
        return actual is None
    if isinstance(expected, bool):
        return actual is expected
    if isinstance(expected, str):
        return actual == expected
    if actual is None or isinstance(actual, bool) or not isinstance(actual, int | float):
        return False
    if exact:
        return actual == expected
    return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12)


class Mismatches(list[str]):
    def check(self, where: str, key: str, expected: Any, actual: Any, *, exact: bool = False) -> None:
        if not same(expected, actual, exact=exact):
            self.append(f"{where}: {key}: expected {expected!r}, got {actual!r}")


def compare_incidents(bad: Mismatches, where: str, expected: Mapping[str, Any], actual: Any) -> None:
    if not isinstance(actual, Mapping):
        bad.append(f"{where}: incidents: missing ({actual!r})")
        return
    for key in ref.INCIDENT_KEYS:
        bad.check(where, key, expected[key], actual.get(key, "<missing>"), exact=key in ref.COUNT_KEYS)


SLO_KEYS = ("objective", "good", "total", "bad", "sli", "met", "error_budget_consumed", "error_budget_remaining",
            "period_budget_consumed")
COUNT_SLO_KEYS = ("good", "total", "bad")


def compare_slo(bad: Mismatches, where: str, expected: Mapping[str, Any], actual: Mapping[str, Any]) -> None:
    for key in SLO_KEYS:
        bad.check(where, key, expected[key], actual.get(key, "<missing>"), exact=key in COUNT_SLO_KEYS)
    if expected["status"] == "no_data" and actual.get("status") != "no_data":
        bad.append(f"{where}: status: expected 'no_data', got {actual.get('status')!r}")
    explained = [actual.get("reason"), *(actual.get("notes") or [])]  # notes: why a single value is null
    if expected["needs_reason"] and not any(isinstance(text, str) and text.strip() for text in explained):
        bad.append(f"{where}: reason: expected a reason (Prometheus sent NaN/Inf, or no series for good), "
                   f"got reason {actual.get('reason')!r} and notes {actual.get('notes')!r}")
    raw = actual.get("raw")
    if not isinstance(raw, Mapping):
        bad.append(f"{where}: raw: missing ({raw!r})")
    else:
        for key, want in expected["raw"].items():
            bad.check(f"{where} raw", key, want, raw.get(key, "<missing>"), exact=key in COUNT_SLO_KEYS)
    for key in ("excluded", "calendar"):
        if actual.get(key, "<missing>") != expected[key]:
            bad.append(f"{where}: {key}: expected {expected[key]!r}, got {actual.get(key, '<missing>')!r}"[:400])
    daily = actual.get("daily")
    if not (expected["no_series"] and daily == []):  # a SLO without any series may list no days
        if not isinstance(daily, list) or len(daily) != len(expected["daily"]):
            bad.append(f"{where}: daily: expected {len(expected['daily'])} days, got {daily!r}"[:400])
        else:
            for want, got in zip(expected["daily"], daily, strict=True):
                day = f"{where} day {want['date']}"
                bad.check(day, "date", want["date"], got.get("date"), exact=True)
                bad.check(day, "good", want["good"], got.get("good", "<missing>"), exact=True)
                bad.check(day, "total", want["total"], got.get("total", "<missing>"), exact=True)
    previous = actual.get("previous")
    if not isinstance(previous, Mapping):
        bad.append(f"{where}: previous: missing ({previous!r})")
    else:
        # period_budget_consumed and daily of the previous window are not compared: the pool has no
        # exact truth for a period ending at the window start (it would start before the data).
        for key in ("good", "total", "sli", "error_budget_consumed", "bad", "met", "error_budget_remaining"):
            if key in ("good", "total", "sli", "error_budget_consumed") or key in previous:
                bad.check(f"{where} previous", key, expected["previous"][key], previous.get(key, "<missing>"),
                          exact=key in COUNT_SLO_KEYS)
    if expected["quantiles"] and "quantiles" in actual:
        for q, want in expected["quantiles"].items():
            got = (actual.get("quantiles") or {}).get(q)
            if want is None and got is not None:
                bad.append(f"{where}: quantiles[{q}]: expected None (histogram_quantile is NaN), got {got!r}")
            if want == "finite" and not (isinstance(got, int | float) and math.isfinite(got)):
                bad.append(f"{where}: quantiles[{q}]: expected a finite number, got {got!r}")


def compare(expected_pd: Mapping[str, Any], expected_slo: Mapping[str, Any], data: Mapping[str, Any]) -> Mismatches:
    bad = Mismatches()
    source = (data.get("sources") or {}).get("pagerduty") or {}
    if source.get("status") != "ok":  # the fake answers everything: nothing may be missing
        bad.append(f"sources.pagerduty: expected status 'ok', got {source.get('status')!r} ({source.get('detail')!r})")
    services = {s.get("service"): s for s in data.get("services", [])}
    if set(services) != set(expected_pd["services"]):
        bad.append(f"services: expected {sorted(expected_pd['services'])}, got {sorted(map(str, services))}")
    for name, want in expected_pd["services"].items():
        got = services.get(name)
        if got is None:
            continue
        where = f"service {name!r}"
        bad.check(where, "team", want["team"], got.get("team"), exact=True)
        compare_incidents(bad, where, want["incidents"], got.get("incidents"))
        reasons = {r.get("component"): r.get("value") for r in (got.get("priority") or {}).get("reasons", [])}
        for component, value in want["priority"].items():
            bad.check(f"{where} priority.reasons", component, value, reasons.get(component, "<missing>"), exact=True)
        slos = {s.get("name"): s for s in got.get("slos", [])}
        for slo_name, slo_want in expected_slo[name].items():
            if slo_name not in slos:
                bad.append(f"{where}: SLO {slo_name!r} missing")
                continue
            compare_slo(bad, f"{where} SLO {slo_name!r}", slo_want, slos[slo_name])
    teams = {t.get("team"): t for t in data.get("teams", [])}
    for name, want in expected_pd["teams"].items():
        compare_incidents(bad, f"team {name!r}", want["incidents"], (teams.get(name) or {}).get("incidents"))
    compare_incidents(bad, "overall", expected_pd["overall"]["incidents"], (data.get("overall") or {}).get("incidents"))
    responders = {r.get("user"): r for r in data.get("responders", [])}
    for user in sorted(set(expected_pd["responders"]) ^ set(responders), key=str):
        which = "missing" if user in expected_pd["responders"] else "unexpected"
        bad.append(f"responder {user}: {which} (expected responders {sorted(expected_pd['responders'])})")
    for user, want in expected_pd["responders"].items():
        got = responders.get(user)
        if got is None:
            continue
        where = f"responder {user} ({want['name'][:40]!r})"
        for key, value in want.items():
            bad.check(where, key, value, got.get(key, "<missing>"), exact=key != "on_call_hours")
    return bad


# --- the test ---------------------------------------------------------------------------------------------


def check_one_run(account: Account, fake: FakePagerDuty, prometheus: RunningPrometheus) -> None:
    pd.load_into(fake, account.org)
    fake.reindex()
    zone = ZoneInfo(account.rotation_zone)
    folder = f"{START.astimezone(zone):%Y-%m-%d}_{END.astimezone(zone):%Y-%m-%d}"
    with tempfile.TemporaryDirectory(prefix="opsmeeting-properties-") as tmp:
        directory = Path(tmp)
        config = config_for(account, directory, fake, prometheus)
        path = directory / "opsmeeting.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        args = ["run", "--config", str(path), "--window", f"{pd.iso(START)}/{pd.iso(END)}", "--as-of", pd.iso(AS_OF)]
        code, err = run_opsmeeting([*args] if account.pdf else [*args, "--no-pdf"])
        target = directory / "reports" / folder
        problems = Mismatches()
        if code not in (0, 3) or "Traceback" in err:
            problems.append(f"the run exited {code} (expected 0 or 3); stderr ends:\n{err[-3000:]}")
        names = ["report.html", "scorecards.json", "scorecards.csv", "snapshot/manifest.json"]
        names += ["report.pdf"] if account.pdf else []
        problems += [f"{name} was not written in {target}" for name in names if not (target / name).is_file()]
        if (target / "scorecards.json").is_file():
            try:
                data = json.loads((target / "scorecards.json").read_text(encoding="utf-8"),
                                  parse_constant=_reject_constant)
            except ValueError as error:
                problems.append(f"scorecards.json is not strict JSON: {error}")
            else:
                window = ref.Window(START, END, account.rotation_zone)
                expected_pd = ref.incident_report(
                    window, config, users=account.org.users, priorities=account.org.priorities,
                    incidents=account.org.incidents, log_entries=account.org.log_entries,
                    schedules=account.org.schedules,
                )
                expected_slo = ref.slo_report(window, config, answers_for(POOL))
                problems += compare(expected_pd, expected_slo, data)
    fake.assert_valid()
    if problems:
        shown = "\n  ".join(problems[:60])
        more = f"\n  ... and {len(problems) - 60} more" if len(problems) > 60 else ""
        raise AssertionError(f"{len(problems)} problem(s):\n  {shown}{more}")


def test_pipeline_matches_the_reference(pool_prometheus: RunningPrometheus, fake_pagerduty: FakePagerDuty) -> None:
    SEEN.clear()

    @settings(max_examples=30, deadline=None, derandomize=True, database=None,
              phases=(Phase.explicit, Phase.generate),  # no shrinking: one example is a whole run (~1 s)
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(account=accounts())
    def examples(account: Account) -> None:
        SEEN.update(account.shapes)
        check_one_run(account, fake_pagerduty, pool_prometheus)

    examples()
    missing = REQUIRED_SHAPES - set(SEEN)
    assert not missing, f"shapes no example drew (change the strategies): {sorted(missing)}"
