"""A large organisation's snapshot, made offline and seeded: 500 services in 40 teams, names as
people write them (CJK, emoji, right-to-left, long), thousands of incidents from the PagerDuty fake's
generator read through the collector's own vocabulary, and SLO measurements for some services (a
few of them overspent). For the layout tests of the pre-read (tests/test_pdf_layout.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from opsmeeting.collectors.pagerduty.vocabulary import (
    event_from_api,
    incident_from_api,
    person_from_api,
    service_from_api,
    severities_from_api,
    team_from_api,
)
from opsmeeting.model import (
    BinnedCounts,
    Counts,
    DailyCounts,
    IncidentData,
    Setup,
    SetupService,
    SetupSlo,
    SetupTeam,
    SloData,
    SloMeasurement,
    Snapshot,
    SourceRole,
    SourceStatus,
)
from opsmeeting.names import slug
from opsmeeting.window import Window
from tests.fakes import pagerduty_data as pd

START = datetime(2026, 10, 19, 8, 0, tzinfo=UTC)
DAYS = 14
TEAM_NAMES = ("Platform & SRE", "支付团队 (Payments)", "Équipe Données", "チーム検索", "محمد والفريق",
              "Identity / SSO 🔐")
SERVICE_NAMES = ("Checkout API (v2)", "数据库连接池", "Émile's 🚒 fire service", "\u202eredivorp\u202c override",
                 "A very long service name that goes on and on: payments/ledger writer (EU, prod, primary)")
LONG_TITLE = ("Disk full on " + "db-primary-" * 200).strip()  # ~2,300 characters
TITLES = (LONG_TITLE, "数据库连接池耗尽 — 支付服务", "🔥🚨 Latency SLO burn on search 🐢",
          "\u202eelif noitarugifnoc\u202c reversed config file", "Line one\nline two\n\nline four")


def large_snapshot(n_services: int = 500, n_teams: int = 40, n_incidents: int = 4000, seed: int = 16) -> Snapshot:
    window = Window(start=START, end=START + timedelta(days=DAYS), timezone="Europe/Lisbon")
    org = pd.generate_org(n_services=n_services, n_teams=n_teams, n_incidents=n_incidents, start=window.start,
                          end=window.end, seed=seed, users_per_team=4)
    for team, name in zip(org.teams, TEAM_NAMES, strict=False):
        team["name"] = team["summary"] = name
    for service, name in zip(org.services, SERVICE_NAMES, strict=False):
        service["name"] = service["summary"] = name
    for incident, title in zip(org.incidents[::97], TITLES * 50, strict=False):
        incident["title"] = incident["summary"] = title
    names = ("李小龙", "محمد علي", "Émile 🚒 Dupont", "\u202eredivorp\u202c Evil Override", "Zoë Ångström-Ørsted")
    for user, name in zip(org.users, names, strict=False):
        user["name"] = user["summary"] = name
    rank_of = {p["id"]: i for i, p in enumerate(org.priorities)}
    events: dict[str, list] = {}
    for entry in org.log_entries:
        events.setdefault(entry["incident"]["id"], []).append(event_from_api(entry))
    collected = window.end + timedelta(hours=2)
    data = IncidentData(
        source="pagerduty", collected_at=collected, people=[person_from_api(u) for u in org.users],
        teams=[team_from_api(t) for t in org.teams], services=[service_from_api(s) for s in org.services],
        severities=severities_from_api(org.priorities),
        incidents=sorted((incident_from_api(i, events.get(i["id"], []), rank_of) for i in org.incidents),
                         key=lambda i: (i.created_at, i.number)),
    )
    team_key = {t["id"]: slug(t["name"], fallback=f"team-{t['id']}") for t in org.teams}
    setup = Setup(
        title="Ops Meeting — a large organisation",
        teams=[SetupTeam(name=team_key[t["id"]], display_name=t["name"], source_ids=[t["id"]]) for t in org.teams],
        services=[SetupService(name=f"{slug(s['name'], fallback='service')}-{s['id'][-3:]}",
                               team=team_key[s["teams"][0]["id"]], display_name=s["name"], source_ids=[s["id"]])
                  for s in org.services],
        slos=[SetupSlo(name="availability", kind="ratio", objective=0.999, period_seconds=28 * 86400,
                       min_events=100, formula="sum by (service) (increase(http_requests_total[14d]))")],
    )
    return Snapshot(
        window=window, generated_at=collected, setup=setup,
        sources={"pagerduty": SourceStatus(status="ok", requests=120), "prometheus": SourceStatus(status="ok",
                                                                                                requests=10)},
        roles={"incidents": SourceRole(source="pagerduty", label="PagerDuty"),
               "slos": SourceRole(source="prometheus", label="Prometheus")},
        incidents=data, slos=_slos(setup, window, random.Random(seed)),
    )


def _slos(setup: Setup, window: Window, rng: random.Random) -> SloData:
    """Availability for the first 60 services: most within budget, every seventh overspent."""
    days = window.days()
    out = []
    for index, svc in enumerate(setup.services[:60]):
        per_day = rng.randint(20_000, 200_000)
        bad_ratio = 0.003 if index % 7 == 0 else 0.0004 * rng.random()
        daily = []
        for start, _ in days:
            bad = int(per_day * bad_ratio * rng.uniform(0.5, 1.5))
            local = start.astimezone(window.tz).strftime("%Y-%m-%d")
            daily.append(DailyCounts(date=local, start=start, good=float(per_day - bad), total=float(per_day)))
        good = sum(d.good or 0 for d in daily)
        total = sum(d.total or 0 for d in daily)
        out.append(SloMeasurement(
            service=svc.name, slo="availability", window=Counts(good=good, total=total),
            previous=Counts(good=total - total * 0.0005, total=total), period_total=2 * total,
            previous_period_total=2 * total, period_covered=True, previous_period_covered=True, daily=daily,
            bins=[BinnedCounts(start=d.start, bad=(d.total or 0) - (d.good or 0), total=d.total or 0) for d in daily],
            bin_seconds=86400,
        ))
    return SloData(source="prometheus", collected_at=window.end + timedelta(hours=2), measurements=out)
