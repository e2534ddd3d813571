"""Onboarding (issue 15): `opsmeeting init` writes a commented, valid configuration from a PagerDuty
account (and Prometheus); `check-config` checks the account in one pass; a configuration's problems
show in one round. From `init` to the first report, as the README walks it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from opsmeeting.config import load_config, parse_config
from opsmeeting.errors import ConfigError
from tests.fakes import pagerduty_data as pd
from tests.fakes.pagerduty import FakePagerDuty
from tests.runs import run

TOKEN = "OPSMEETING_ONBOARDING_TOKEN"
AS_OF = "2026-11-03T10:00Z"
LISBON = ZoneInfo("Europe/Lisbon")


@pytest.fixture
def account(prometheus) -> Iterator[FakePagerDuty]:
    """Three PagerDuty teams (names no key could be), services named like some of the dataset's SLO
    labels and others not, a weekly Lisbon schedule handing off Mondays 09:00, incidents on two."""
    start = prometheus.dataset.window.start
    teams = [pd.make_team("PT1", "Payments & Billing"), pd.make_team("PT2", "Platform / SRE"),
             pd.make_team("PT3", "Sandbox")]
    names = {t["id"]: t["name"] for t in teams}
    services = [pd.make_service("PS1", "Checkout", ["PT1"], team_names=names),
                pd.make_service("PS2", "Payments", ["PT1"], team_names=names),
                pd.make_service("PS3", "Search", ["PT2"], team_names=names),
                pd.make_service("PS4", "Batch jobs (nightly)", ["PT2"], team_names=names),
                pd.make_service("PS5", "Playground", ["PT3"], team_names=names)]
    ana = pd.make_user("PU1", "Ana Lima", "Europe/Lisbon", team_ids=["PT1"])
    bo = pd.make_user("PU2", "Bo Chen", "Asia/Kolkata", team_ids=["PT2"])
    handoff = datetime(2026, 9, 7, 9, 0, tzinfo=LISBON)  # a Monday, 09:00 in Lisbon (summer time)
    shifts = [pd.Shift((ana, bo)[n % 2], handoff + timedelta(weeks=n), handoff + timedelta(weeks=n + 1))
              for n in range(12)]
    schedule = pd.make_schedule("PSCH1", "Payments primary", "Europe/Lisbon", shifts)
    schedule["schedule_layers"][0].update(rotation_virtual_start=pd.iso(handoff), start=pd.iso(handoff))
    with FakePagerDuty() as fake:
        fake.teams, fake.services, fake.users = teams, services, [ana, bo]
        fake.schedules = {"PSCH1": schedule, "PSCH2": pd.make_schedule("PSCH2", "Platform follow-the-sun", "UTC", [])}
        fake.priorities = [pd.make_priority("PP1", "P1", 500)]
        for n, svc in enumerate(services[:2]):
            at = start + timedelta(days=2 + n)
            incident = pd.make_incident(f"PI{n}", 700 + n, svc, at, status="resolved",
                                        resolved_at=at + timedelta(minutes=20))
            fake.incidents.append(incident)
            fake.log_entries += [pd.trigger(incident, at), pd.notify(incident, at, ana, "sms_notification"),
                                 pd.acknowledge(incident, at + timedelta(minutes=3), ana),
                                 pd.resolve(incident, at + timedelta(minutes=20), ana)]
        fake.reindex()
        yield fake
        fake.assert_valid()


def init_args(fake: FakePagerDuty, path: Path, *extra: str) -> list[str]:
    return ["init", str(path), "--token-env", TOKEN, "--pagerduty-url", fake.url,
            "--ca-bundle", str(fake.ca_bundle), "--as-of", AS_OF, *extra]


def test_from_init_to_the_first_report(tmp_path, prometheus, account, capsys, monkeypatch):
    monkeypatch.setenv(TOKEN, "test-token")
    path = tmp_path / "opsmeeting.yaml"
    code, out, err = run(init_args(account, path, "--schedule", "PSCH1", "--prometheus", prometheus.url), capsys)
    assert code == 0, err
    assert "5 services found by discovery" in out and "from schedule 'Payments primary'" in out
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    config = parse_config(data)  # valid as written
    rot = config.rotation
    assert (rot.length, rot.timezone, rot.pagerduty_schedule_ids) == (timedelta(days=7), "Europe/Lisbon", ["PSCH1"])
    assert rot.anchor == datetime(2026, 9, 7, 9, 0)  # the layer's hand-off, in the schedule's zone
    assert config.discovery is not None and config.discovery.prometheus_label == "{name|slug}"
    for listed in ("PT1: Payments & Billing", "PS4: Batch jobs (nightly)", "PSCH2: Platform follow-the-sun (UTC)",
                   "Services with SLO data (3), name → label", "Checkout → checkout",
                   "Batch jobs (nightly), Playground"):
        assert listed in text, listed
    assert [s.name for s in config.slos] == ["availability"]  # Prometheus has http_requests_total
    # the first report, from the file as init wrote it
    code, _, err = run(["run", "--config", str(path), "--window", "2026-10-19T08:00Z/2026-11-02T08:00Z",
                        "--no-pdf"], capsys)
    assert code == 0, err
    cards = json.loads((tmp_path / "reports" / "2026-10-19_2026-11-02" / "scorecards.json").read_text())
    services = {s["service"]: s for s in cards["services"]}
    assert set(services) == {"checkout", "payments", "search", "batch-jobs-nightly", "playground"}
    assert services["checkout"]["incidents"]["incidents_total"] == 1
    assert [s["name"] for s in services["payments"]["slos"]] == ["availability"]
    assert services["playground"]["slos"] == []  # no series: no "no data" row
    assert {t["display_name"] for t in cards["teams"]} == {"Payments & Billing", "Platform / SRE", "Sandbox"}
    html = (tmp_path / "reports" / "2026-10-19_2026-11-02" / "report.html").read_text(encoding="utf-8")
    assert "SLOs cover 3 of the 5 services" in html and "Batch jobs (nightly)" in html


def test_init_never_overwrites_without_force(tmp_path, account, capsys, monkeypatch):
    monkeypatch.setenv(TOKEN, "test-token")
    path = tmp_path / "opsmeeting.yaml"
    path.write_text("# mine\n")
    code, _, err = run(init_args(account, path), capsys)
    assert code == 2 and "exists: pass --force" in err
    assert path.read_text() == "# mine\n"
    code, out, err = run(init_args(account, path, "--force"), capsys)
    assert code == 0, err
    config = load_config(path)
    assert (config.rotation.length, config.rotation.timezone) == (timedelta(days=14), "UTC")
    assert "pass --schedule ID" in out
    assert [p.name for p in tmp_path.iterdir()] == ["opsmeeting.yaml"]  # no temporary file left


@pytest.mark.parametrize(("token", "extra", "message"), [
    (None, (), f"export it in ${TOKEN}"),
    ("wrong-token", (), "was rejected (401 Unauthorized)"),
    ("test-token", ("--schedule", "PNOPE"), "--schedule PNOPE: PagerDuty has no such schedule (schedules: PSCH1"),
])
def test_init_bad_input_writes_nothing(tmp_path, account, capsys, monkeypatch, token, extra, message):
    if token is None:
        monkeypatch.delenv(TOKEN, raising=False)
    else:
        monkeypatch.setenv(TOKEN, token)
    path = tmp_path / "opsmeeting.yaml"
    code, _, err = run(init_args(account, path, *extra), capsys)
    assert code == 2 and message in err, err
    assert not path.exists() and list(tmp_path.iterdir()) == []


def config_for(fake: FakePagerDuty, prometheus, **sections) -> dict:
    return {
        "rotation": {"length": "14d", "anchor": "2026-10-19T08:00:00", "timezone": "UTC",
                     **sections.pop("rotation", {})},
        "sources": {"pagerduty": {"base_url": fake.url, "ca_bundle": str(fake.ca_bundle), "token_env": TOKEN,
                                  "max_retries": 0},
                    "prometheus": {"url": prometheus.url}},
        "slos": [{"name": "availability", "kind": "ratio", "objective": "99.9%",
                  "good": 'sum by (service) (increase(http_requests_total{code!~"5.."}[{{window}}]))',
                  "total": "sum by (service) (increase(http_requests_total[{{window}}]))"}],
        **sections,
    }


def check(tmp_path: Path, config: dict, capsys) -> tuple[int, str, str]:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return run(["check-config", str(path), "--as-of", AS_OF], capsys)


def test_check_config_names_unknown_ids_in_one_pass(tmp_path, prometheus, account, capsys, monkeypatch):
    monkeypatch.setenv(TOKEN, "test-token")
    config = config_for(account, prometheus, rotation={"pagerduty_schedule_ids": ["PSCH1", "PGONE"]},
                        teams=[{"name": "payments", "pagerduty_team_ids": ["PT1", "PTTYPO"]}],
                        services=[{"name": "checkout", "team": "payments", "pagerduty_service_ids": ["PS1"]},
                                  {"name": "payments", "team": "payments", "pagerduty_service_ids": ["PS2", "PSX9"]}])
    code, out, err = check(tmp_path, config, capsys)
    assert code == 2
    assert "token accepted; the account has 3 teams and 5 services" in out
    for problem in ("services[1] (payments): PagerDuty has no service PSX9",
                    "teams[0] (payments): PagerDuty has no team PTTYPO",
                    "rotation.pagerduty_schedule_ids[1]: PagerDuty has no schedule PGONE"):
        assert problem in err, problem
    assert ("3 PagerDuty services are not covered, neither listed nor discovered (no discovery section): "
            "Batch jobs (nightly), Playground, Search") in out
    assert "no incident in the last 3 rotations (since 2026-09-21): 0" in out  # PS1 and PS2 both had one
    assert "SLO availability: queries valid" in out  # Prometheus was checked in the same pass


def test_check_config_with_discovery_counts_coverage_and_quiet_services(tmp_path, prometheus, account, capsys,
                                                                         monkeypatch):
    monkeypatch.setenv(TOKEN, "test-token")
    config = config_for(account, prometheus, discovery={"exclude_teams": ["Sandbox"], "exclude_services": ["PZZZ"]})
    code, out, err = check(tmp_path, config, capsys)
    assert code == 0, err
    assert "services reported: 4 (0 listed, 4 discovered) in 2 teams, covering 4 of the account's 5" in out
    assert "1 PagerDuty services are not covered, excluded by discovery: Playground" in out
    assert "no incident in the last 3 rotations (since 2026-09-21): 2: Search, Batch jobs (nightly)" in out
    assert "warning: discovery.exclude_services: 'PZZZ' matches no PagerDuty service" in out
    assert "label service: " in out and "values no service has:" in out  # the dataset's other services
    assert "SLO availability: queries valid, data for 3 of 4 services (it covers those)" in out


def test_check_config_with_a_rejected_token_exits_2(tmp_path, prometheus, account, capsys, monkeypatch):
    monkeypatch.setenv(TOKEN, "not-the-token")
    code, _, err = check(tmp_path, config_for(account, prometheus, discovery={}), capsys)
    assert code == 2 and "was rejected (401 Unauthorized)" in err


def test_every_configuration_problem_in_one_round():
    """A misspelt team, a duplicate service, a PagerDuty id used twice, an unknown key (with a hint) and
    a wrong type, reported together (before, the cross-section ones showed only once the rest was fixed)."""
    with pytest.raises(ConfigError) as info:
        parse_config({
            "rotation": {"length": "14d", "anchor": "2026-10-19T08:00:00", "timezone": "UTC", "lenght": "1d"},
            "teams": [{"name": "payments"}, {"name": "platform", "members": "many"}],
            "services": [{"name": "checkout", "team": "paymnets", "pagerduty_service_ids": ["PS1"]},
                         {"name": "checkout", "team": "payments", "pagerduty_service_ids": []},
                         {"name": "ledger", "team": "payments", "pagerduty_service_ids": ["PS1"]}],
        })
    problems = "\n".join(info.value.problems)
    for expected in ("rotation.lenght: unknown key (did you mean 'length'?)",
                     "teams[1].members:",
                     "services[0].team: unknown team 'paymnets'; did you mean 'payments'?",
                     "services[1].name: duplicate service 'checkout'",
                     "services[2].pagerduty_service_ids: PS1 is also services[0]'s ('checkout')"):
        assert expected in problems, (expected, problems)
