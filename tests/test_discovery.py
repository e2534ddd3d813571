"""Discovery (issue 15): teams and services found in PagerDuty, explicit entries winning, keys that
stay across renames, services new and gone between rotations, and a 500-service account configured
in ten lines giving the very scorecards of its 500-entry explicit configuration."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from opsmeeting.config import parse_config
from opsmeeting.config.slo_import import load_slos
from opsmeeting.discovery import ExplicitService, ExplicitTeam, Rules, label_for, resolve
from opsmeeting.model import SourceService, SourceTeam
from opsmeeting.names import slug
from tests.fakes import pagerduty_data as pd
from tests.fakes.pagerduty import FakePagerDuty
from tests.runs import WINDOW_ARG, run

TOKEN = "OPSMEETING_DISCOVERY_TOKEN"
AVAILABILITY = {"name": "availability", "kind": "ratio", "objective": "99.9%",
                "good": 'sum by (service) (increase(http_requests_total{code!~"5.."}[{{window}}]))',
                "total": "sum by (service) (increase(http_requests_total[{{window}}]))"}

# --- resolution rules ------------------------------------------------------------------------------------

TEAMS = [SourceTeam(id="PT1", name="Platform & SRE"), SourceTeam(id="PT2", name="Payments/Core: EU (prod)"),
         SourceTeam(id="PT3", name="Sandbox")]
SERVICES = [
    SourceService(id="PS1", name="Checkout API (v2)", team_ids=["PT2"]),
    SourceService(id="PS2", name="payments/ledger: writer", team_ids=["PT2", "PT1"]),
    SourceService(id="PS3", name="Search & Discovery", team_ids=["PT1"]),
    SourceService(id="PS4", name="load-test-staging", team_ids=["PT1"]),
    SourceService(id="PS5", name="Orphan job", team_ids=[]),
    SourceService(id="PS6", name="Sandbox thing", team_ids=["PT3"]),
    SourceService(id="PS7", name="Ledger reader", team_ids=["PT2"]),
]


def names(resolved) -> dict[str, tuple[str, str | None, list[str], str]]:
    return {s.name: (s.team, s.display_name, s.source_ids, s.label) for s in resolved.services}


def test_every_service_with_its_first_team_and_a_slug_key():
    got = resolve([], [], Rules(), TEAMS, SERVICES)
    assert names(got) == {
        "checkout-api-v2": ("payments-core-eu-prod", "Checkout API (v2)", ["PS1"], "checkout-api-v2"),
        "payments-ledger-writer": ("payments-core-eu-prod", "payments/ledger: writer", ["PS2"],
                                   "payments-ledger-writer"),
        "search-discovery": ("platform-sre", "Search & Discovery", ["PS3"], "search-discovery"),
        "load-test-staging": ("platform-sre", "load-test-staging", ["PS4"], "load-test-staging"),
        "orphan-job": ("unassigned", "Orphan job", ["PS5"], "orphan-job"),
        "sandbox-thing": ("sandbox", "Sandbox thing", ["PS6"], "sandbox-thing"),
        "ledger-reader": ("payments-core-eu-prod", "Ledger reader", ["PS7"], "ledger-reader"),
    }
    teams = {t.name: (t.display_name, t.source_ids) for t in got.teams}
    assert teams["platform-sre"] == ("Platform & SRE", ["PT1"])  # the name exactly as PagerDuty has it
    assert teams["unassigned"] == (None, [])
    assert got.keys["service:PS1"] == "checkout-api-v2" and got.keys["team:PT2"] == "payments-core-eu-prod"


def test_teams_filtered_and_services_and_teams_excluded():
    rules = Rules(teams=("PT1", "payments*"), exclude_services=("*-staging", "PS7"), exclude_teams=("Sandbox",))
    got = resolve([], [], rules, TEAMS, SERVICES)
    # PS4 and PS7 excluded (pattern, id); PS5 in no chosen team; PS6's only team excluded
    assert sorted(names(got)) == ["checkout-api-v2", "payments-ledger-writer", "search-discovery"]
    assert sorted(t.name for t in got.teams) == ["payments-core-eu-prod", "platform-sre"]


def test_a_service_whose_first_team_is_excluded_takes_its_next_one():
    got = resolve([], [], Rules(exclude_teams=("PT2",)), TEAMS, SERVICES)
    assert names(got)["payments-ledger-writer"][0] == "platform-sre"
    assert "checkout-api-v2" not in names(got)  # its only team is excluded


def test_explicit_entries_win_they_merge_rename_and_label():
    teams = [ExplicitTeam("payments", "Payments", 6, ("PT2",))]
    services = [ExplicitService("ledger", "payments", "Ledger", ("PS2", "PS7"), "ledger-prom")]  # a merge
    got = resolve(teams, services, Rules(prometheus_label="svc-{id}"), TEAMS, SERVICES)
    by = names(got)
    assert by["ledger"] == ("payments", "Ledger", ["PS2", "PS7"], "ledger-prom")
    assert not {"payments-ledger-writer", "ledger-reader"} & set(by)  # claimed by the explicit entry
    assert by["checkout-api-v2"][0] == "payments"  # PT2 is the explicit team's: its services join it
    assert by["checkout-api-v2"][3] == "svc-PS1"
    assert [t.name for t in got.teams].count("payments") == 1
    assert next(t for t in got.teams if t.name == "payments").members == 6


def test_keys_stay_across_renames_and_collisions_get_a_suffix():
    first = resolve([], [], Rules(), TEAMS, SERVICES)
    renamed = [s.model_copy(update={"name": "Checkout Gateway"}) if s.id == "PS1" else s for s in SERVICES]
    again = resolve([], [], Rules(), TEAMS, renamed, first.keys)
    assert names(again)["checkout-api-v2"][1] == "Checkout Gateway"  # same key, the new name shown
    twins = [SourceService(id="PA", name="API"), SourceService(id="PB", name="api")]
    keys = {s.source_ids[0]: s.name for s in resolve([], [], Rules(), [], twins).services}
    assert keys == {"PA": "api", "PB": "api-2"}
    assert slug("日本語サービス", fallback="service-PX") == "service-px"  # nothing ASCII to keep


def test_label_templates():
    svc = SourceService(id="PX1", name="Search & Discovery")
    assert label_for("{name}", svc, "Platform") == "Search & Discovery"
    assert label_for("{name|slug}", svc, None) == "search-discovery"
    assert label_for("{team|slug}/{id}", svc, "Platform & SRE") == "platform-sre/PX1"


def test_a_sloth_import_for_a_discovered_service(tmp_path):
    spec = tmp_path / "sloth.yaml"
    spec.write_text(yaml.safe_dump({"version": "prometheus/v1", "service": "checkout-api-v2", "slos": [
        {"name": "requests", "objective": 99.9, "sli": {"events": {
            "error_query": 'sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))',
            "total_query": "sum(rate(http_requests_total[{{.window}}]))"}}}]}))
    config = parse_config({"rotation": {"length": "14d", "anchor": "2026-10-19T08:00:00", "timezone": "UTC"},
                           "sources": {"pagerduty": {}, "prometheus": {"url": "http://127.0.0.1:9"}},
                           "discovery": {}, "slo_imports": [{"format": "sloth", "path": str(spec)}]})
    (slo,) = load_slos(config)
    assert slo.services == ["checkout-api-v2"]  # one row for it, not one "no data" row per service


# --- against the PagerDuty fake -----------------------------------------------------------------------------


def pd_source(fake: FakePagerDuty) -> dict[str, Any]:
    return {"base_url": fake.url, "ca_bundle": fake.ca_bundle, "token_env": TOKEN, "max_retries": 1}


def write(tmp_path: Path, config: dict[str, Any], name: str = "opsmeeting.yaml") -> str:
    config = {**config, "output": {"directory": str(tmp_path / "reports")},
              "state": {"path": str(tmp_path / "state.sqlite")}}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return str(path)


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """scorecards.json without what differs between any two runs: when it was made, how long it took."""
    out = {k: v for k, v in document.items() if k != "generated_at"}
    out["items"] = {k: v for k, v in document["items"].items() if k != "as_of"}
    out["sources"] = {name: {k: v for k, v in status.items() if k != "seconds"}
                      for name, status in document["sources"].items()}
    return out


@contextmanager
def big_account(prometheus, services: int = 500, teams: int = 40) -> Iterator[tuple[FakePagerDuty, pd.Org]]:
    window = prometheus.dataset.window
    org = pd.generate_org(n_services=services, n_teams=teams, n_incidents=1500, start=window.start,
                          end=window.start + timedelta(days=14), seed=15, users_per_team=3)
    for svc, name in zip(org.services, prometheus.truth, strict=False):  # some have SLO series
        svc["name"] = svc["summary"] = name
    org.teams[3]["name"] = org.teams[3]["summary"] = "Platform & SRE"  # a name no key could be
    with FakePagerDuty() as fake:
        pd.load_into(fake, org)
        fake.reindex()
        yield fake, org
        fake.assert_valid()


def test_ten_lines_report_500_services_as_their_explicit_configuration_does(tmp_path, prometheus, capsys,
                                                                             monkeypatch):
    monkeypatch.setenv(TOKEN, "test-token")
    with big_account(prometheus) as (fake, org):
        anchor = prometheus.dataset.window.start.strftime("%Y-%m-%dT%H:%M:%S")
        short = f"""\
rotation: {{length: 14d, anchor: "{anchor}", timezone: UTC}}
sources:
  pagerduty: {json.dumps(pd_source(fake))}
  prometheus: {{url: "{prometheus.url}"}}
slos:
  - {json.dumps(AVAILABILITY)}
discovery: {{}}
"""
        assert len(short.splitlines()) <= 10
        brief = write(tmp_path / "brief", yaml.safe_load(short)) if (tmp_path / "brief").mkdir() is None else ""
        team_key = {t["id"]: slug(t["name"]) for t in org.teams}
        explicit = {
            **yaml.safe_load(short),
            "discovery": None,
            "teams": [{"name": team_key[t["id"]], "display_name": t["name"], "pagerduty_team_ids": [t["id"]]}
                      for t in sorted(org.teams, key=lambda t: team_key[t["id"]])],
            "services": [{"name": slug(s["name"]), "display_name": s["name"], "team": team_key[s["teams"][0]["id"]],
                          "pagerduty_service_ids": [s["id"]], "prometheus_label": slug(s["name"])}
                         for s in sorted(org.services, key=lambda s: s["id"])],
        }
        del explicit["discovery"]
        (tmp_path / "long").mkdir()
        long = write(tmp_path / "long", explicit)
        results = []
        for config in (brief, long):
            fake.requests.clear()
            code, _, err = run(["run", "--config", config, "--window", WINDOW_ARG, "--no-pdf"], capsys)
            assert code == 0, err
            folder = Path(config).parent / "reports" / "2026-10-19_2026-11-02"
            results.append(json.loads((folder / "scorecards.json").read_text(encoding="utf-8")))
    found, listed = results
    assert len(found["services"]) == 500 and len(found["teams"]) == 40
    assert {s["display_name"] for s in found["services"]} == {s["name"] for s in org.services}
    assert next(t for t in found["teams"] if t["team"] == "platform-sre")["display_name"] == "Platform & SRE"
    assert sum(s["incidents"]["incidents_total"] for s in found["services"]) == 1500
    with_series = {name for name, t in prometheus.truth.items()
                   if t.availability.window is not None or t.availability.period is not None}
    assert with_series and "legacy" not in with_series  # legacy's series end before the SLO period
    assert {s["service"] for s in found["services"] if s["slos"]} == with_series  # the SLO covers those alone
    assert comparable(found) == comparable(listed)  # value for value, the request counts included
    # the discovered setup is in the snapshot: re-rendered offline, the same services, teams and numbers
    code, _, err = run(["render", "--snapshot", str(tmp_path / "brief" / "reports" / "2026-10-19_2026-11-02" /
                                                  "snapshot"), "--out", str(tmp_path / "again"), "--no-pdf"], capsys)
    assert code == 0, err
    again = json.loads((tmp_path / "again" / "scorecards.json").read_text(encoding="utf-8"))
    assert (again["services"], again["teams"], again["overall"]) == (found["services"], found["teams"],
                                                                    found["overall"])
    requests = [r["sources"]["pagerduty"]["requests_by_endpoint"] for r in (found, listed)]
    assert requests[0] == requests[1] and requests[0]["GET /services"] == 5 and requests[0]["GET /teams"] == 1


def small_account(fake: FakePagerDuty, start, services: list[tuple[str, str]]) -> None:
    """Teams PT1, PT2 and the given (id, name) services of PT1, one incident each in the window."""
    fake.teams = [pd.make_team("PT1", "Payments & Billing"), pd.make_team("PT2", "Platform")]
    fake.users = [pd.make_user("PU1", "Ana Lima", "Europe/Lisbon", team_ids=["PT1"])]
    fake.services = [pd.make_service(sid, name, ["PT1"], team_names={"PT1": "Payments & Billing"})
                     for sid, name in services]
    fake.priorities = []
    fake.incidents, fake.log_entries = [], []
    for n, svc in enumerate(fake.services):
        at = start + timedelta(days=1, hours=n)
        incident = pd.make_incident(f"PI{n}{start:%d}", 100 + n, svc, at, status="resolved",
                                    resolved_at=at + timedelta(minutes=10))
        fake.incidents.append(incident)
        fake.log_entries += [pd.trigger(incident, at), pd.resolve(incident, at + timedelta(minutes=10))]
    fake.reindex()


def test_services_appear_vanish_and_keep_their_key_when_renamed(tmp_path, prometheus, capsys, monkeypatch):
    monkeypatch.setenv(TOKEN, "test-token")
    start = prometheus.dataset.window.start
    before, after = start - timedelta(days=14), start
    with FakePagerDuty() as fake:
        config = write(tmp_path, {
            "rotation": {"length": "14d", "anchor": start.strftime("%Y-%m-%dT%H:%M:%S"), "timezone": "UTC"},
            "sources": {"pagerduty": pd_source(fake)}, "discovery": {},
        })
        small_account(fake, before, [("PS1", "Checkout API"), ("PS2", "Ledger"), ("PS3", "Old batch")])
        first = f"{before:%Y-%m-%dT%H:%MZ}/{after:%Y-%m-%dT%H:%MZ}"
        code, _, err = run(["run", "--config", config, "--window", first, "--no-pdf"], capsys)
        assert code == 0, err
        # the next rotation: PS1 renamed, PS3 gone, PS4 new
        small_account(fake, after, [("PS1", "Checkout Gateway"), ("PS2", "Ledger"), ("PS4", "Fraud scoring")])
        code, _, err = run(["run", "--config", config, "--window", WINDOW_ARG, "--no-pdf"], capsys)
        assert code == 0, err
        fake.assert_valid()
    folder = tmp_path / "reports" / "2026-10-19_2026-11-02"
    data = json.loads((folder / "scorecards.json").read_text(encoding="utf-8"))
    services = {s["service"]: s for s in data["services"]}
    assert services["checkout-api"]["display_name"] == "Checkout Gateway"  # renamed: the key stays
    assert services["checkout-api"]["trend"] is not None  # ...and so does its history
    changes = data["service_changes"]
    assert changes["since"] == f"{before:%Y-%m-%d}"
    assert [(r["service"], r["display_name"], r["team"]) for r in changes["new"]] == [
        ("fraud-scoring", "Fraud scoring", "payments-billing")]
    assert [(r["service"], r["display_name"]) for r in changes["gone"]] == [("old-batch", "Old batch")]
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "New this rotation (1): Fraud scoring." in html and "Gone since the last rotation (1): Old batch." in html
    assert "Payments &amp; Billing" in html and "Checkout Gateway" in html


def test_discovery_that_cannot_read_pagerduty_says_so(tmp_path, prometheus, capsys, monkeypatch):
    monkeypatch.setenv(TOKEN, "test-token")
    start = prometheus.dataset.window.start
    with FakePagerDuty() as fake:
        small_account(fake, start, [("PS1", "Checkout API")])
        fake.inject("/services", status=500, times=100)
        config = write(tmp_path, {
            "rotation": {"length": "14d", "anchor": start.strftime("%Y-%m-%dT%H:%M:%S"), "timezone": "UTC"},
            "teams": [{"name": "payments"}],
            "services": [{"name": "ledger", "team": "payments", "pagerduty_service_ids": ["PS9"]}],
            "sources": {"pagerduty": pd_source(fake)}, "discovery": {},
        })
        code, _, err = run(["run", "--config", config, "--window", WINDOW_ARG, "--no-pdf"], capsys)
    assert code == 3, err
    folder = tmp_path / "reports" / "2026-10-19_2026-11-02"
    data = json.loads((folder / "scorecards.json").read_text(encoding="utf-8"))
    assert data["sources"]["pagerduty"]["status"] == "failed"
    assert [s["service"] for s in data["services"]] == ["ledger"] and data["service_changes"] is None
    assert "only the 1 explicitly configured services are listed" in (folder / "report.html").read_text()


@pytest.mark.parametrize("participants", ["teams"])
def test_the_wheel_knows_the_discovered_teams_offline(tmp_path, prometheus, capsys, monkeypatch, participants):
    monkeypatch.setenv(TOKEN, "test-token")
    start = prometheus.dataset.window.start
    with FakePagerDuty() as fake:
        small_account(fake, start, [("PS1", "Checkout API")])
        config = write(tmp_path, {
            "rotation": {"length": "14d", "anchor": start.strftime("%Y-%m-%dT%H:%M:%S"), "timezone": "UTC"},
            "sources": {"pagerduty": pd_source(fake)}, "discovery": {}, "wheel": {"participants": participants},
        })
        code, _, err = run(["run", "--config", config, "--window", WINDOW_ARG, "--no-pdf"], capsys)
        assert code == 0, err
    code, out, err = run(["wheel", "show", "--config", config], capsys)  # PagerDuty is gone: the store knows
    assert code == 0, err
    assert "payments-billing" in out
    code, out, err = run(["wheel", "record", "payments-billing", "--config", config], capsys)
    assert code == 0, err


def test_an_account_without_the_teams_ability_is_still_discovered(tmp_path, prometheus, capsys, monkeypatch):
    """GET /teams answers 403 on an account without the teams ability: services are discovered all the
    same, a team keeps the key it was given before (the store), and the report says what is missing."""
    monkeypatch.setenv(TOKEN, "test-token")
    start = prometheus.dataset.window.start
    before = start - timedelta(days=14)
    with FakePagerDuty() as fake:
        config = write(tmp_path, {
            "rotation": {"length": "14d", "anchor": start.strftime("%Y-%m-%dT%H:%M:%S"), "timezone": "UTC"},
            "sources": {"pagerduty": {**pd_source(fake), "max_retries": 0}}, "discovery": {},
        })
        small_account(fake, before, [("PS1", "Checkout API")])
        first = f"{before:%Y-%m-%dT%H:%MZ}/{start:%Y-%m-%dT%H:%MZ}"
        assert run(["run", "--config", config, "--window", first, "--no-pdf"], capsys)[0] == 0
        small_account(fake, start, [("PS1", "Checkout API"), ("PS2", "Ledger")])
        fake.inject("/teams", status=403, times=100)
        code, _, err = run(["run", "--config", config, "--window", WINDOW_ARG, "--no-pdf"], capsys)
    assert code == 3, err
    data = json.loads((tmp_path / "reports" / "2026-10-19_2026-11-02" / "scorecards.json").read_text())
    assert data["sources"]["pagerduty"]["status"] == "degraded"
    assert "teams could not be read" in data["sources"]["pagerduty"]["detail"]
    assert {s["service"]: s["team"] for s in data["services"]} == {"checkout-api": "payments-billing",
                                                                  "ledger": "payments-billing"}
    assert [t["team"] for t in data["teams"]] == ["payments-billing"]  # remembered by its id
    assert [r["service"] for r in data["service_changes"]["new"]] == ["ledger"]
    assert sum(s["incidents"]["incidents_total"] for s in data["services"]) == 2
