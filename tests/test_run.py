"""`opsmeeting run` end to end: the PagerDuty fake over HTTPS and a real Prometheus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import yaml
from pypdf import PdfReader

from opsmeeting.cli import main
from tests.fakes import pagerduty_data as pd
from tests.fakes.pagerduty import FakePagerDuty


@pytest.fixture
def pagerduty(prometheus) -> Iterator[FakePagerDuty]:
    ds = prometheus.dataset
    start = ds.window.start
    team = pd.make_team("PT1", "payments")
    ana = pd.make_user("PU1", "Ana Lima", "Europe/Lisbon", team_ids=["PT1"])
    svc = pd.make_service("PS1", "payments", ["PT1"], team_names={"PT1": "payments"})
    incident_start, incident_end = prometheus.truth["payments"].incident
    with FakePagerDuty() as fake:
        fake.teams, fake.users, fake.services = [team], [ana], [svc]
        fake.priorities = [pd.make_priority("PP1", "P1", 500)]
        burst = pd.make_incident("PI1", 4312, svc, incident_start, status="resolved", resolved_at=incident_end,
                                 title="Payments 5xx burst")
        other = pd.make_incident("PI2", 4313, svc, start + timedelta(days=9), status="resolved",
                                 resolved_at=start + timedelta(days=9, minutes=5))
        fake.incidents = [burst, other]
        fake.log_entries = [
            pd.trigger(burst, incident_start), pd.notify(burst, incident_start, ana, "phone_notification"),
            pd.acknowledge(burst, incident_start + timedelta(minutes=4), ana),
            pd.resolve(burst, incident_end, ana),
            pd.trigger(other, other_start := start + timedelta(days=9)),
            pd.resolve(other, other_start + timedelta(minutes=5)),
        ]
        fake.reindex()
        yield fake
        fake.assert_valid()


def write_config(tmp_path, prometheus, pagerduty) -> str:
    ds = prometheus.dataset
    config = {
        "rotation": {"length": "14d", "anchor": ds.window.start.strftime("%Y-%m-%dT%H:%M:%S"), "timezone": "UTC"},
        "teams": [{"name": "payments"}, {"name": "platform"}],
        "services": [{"name": name, "team": "payments" if name == "payments" else "platform",
                      "pagerduty_service_ids": ["PS1"] if name == "payments" else []} for name in ds.truth],
        "slos": [{"name": "availability", "kind": "ratio", "objective": "99.9%",
                  "good": 'sum by (service) (increase(http_requests_total{code!~"5.."}[{{window}}]))',
                  "total": "sum by (service) (increase(http_requests_total[{{window}}]))"}],
        "sources": {"pagerduty": {"base_url": pagerduty.url, "ca_bundle": pagerduty.ca_bundle,
                                  "token_env": "OPSMEETING_TEST_PD_TOKEN", "max_retries": 1},
                    "prometheus": {"url": prometheus.url}},
        "output": {"directory": str(tmp_path / "reports")},
        "state": {"path": str(tmp_path / "state.sqlite")},
    }
    path = tmp_path / "opsmeeting.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def run(args, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def test_run_collects_and_writes_everything(tmp_path, prometheus, pagerduty, capsys, monkeypatch):
    monkeypatch.setenv("OPSMEETING_TEST_PD_TOKEN", "test-token")
    config = write_config(tmp_path, prometheus, pagerduty)
    window = f"{prometheus.dataset.window.start:%Y-%m-%dT%H:%MZ}/{prometheus.dataset.window.end:%Y-%m-%dT%H:%MZ}"
    code, _, err = run(["run", "--config", config, "--window", window], capsys)
    assert code == 0, err
    target = tmp_path / "reports" / "2026-10-19_2026-11-02"
    for name in ("report.html", "report.pdf", "scorecards.json", "scorecards.csv", "snapshot/manifest.json"):
        assert (target / name).is_file(), name
    assert "pagerduty: ok" in err and "prometheus: ok" in err
    data = json.loads((target / "scorecards.json").read_text())
    payments = next(s for s in data["services"] if s["service"] == "payments")
    assert payments["incidents"]["incidents_total"] == 2
    slo = payments["slos"][0]
    truth = prometheus.truth["payments"].availability.window
    assert (slo["good"], slo["total"]) == (truth.good, truth.total)
    top = slo["attribution"][0]
    assert top["incident_number"] == 4312 and top["share_of_bad"] > 0.9  # the burst burned the budget
    assert data["sources"]["pagerduty"]["requests"] > 0 and data["sources"]["prometheus"]["requests"] == 8
    text = "\n".join(p.extract_text() for p in PdfReader(target / "report.pdf").pages)
    assert "Payments 5xx burst" in text


def test_pagerduty_down_gives_a_degraded_report(tmp_path, prometheus, pagerduty, capsys, monkeypatch):
    monkeypatch.setenv("OPSMEETING_TEST_PD_TOKEN", "test-token")
    pagerduty.inject("/", status=500, times=1000)
    config = write_config(tmp_path, prometheus, pagerduty)
    window = f"{prometheus.dataset.window.start:%Y-%m-%dT%H:%MZ}/{prometheus.dataset.window.end:%Y-%m-%dT%H:%MZ}"
    code, _, err = run(["run", "--config", config, "--window", window, "--no-pdf"], capsys)
    assert code == 3
    assert "pagerduty: failed" in err
    target = tmp_path / "reports" / "2026-10-19_2026-11-02"
    data = json.loads((target / "scorecards.json").read_text())
    assert data["sources"]["pagerduty"]["status"] == "failed"
    assert data["overall"]["incidents"]["incidents_total"] is None  # null, never 0
    html = (target / "report.html").read_text()
    assert "PagerDuty could not be read" in html
    assert data["services"][0]["slos"][0]["sli"] is not None  # Prometheus still reported


def test_missing_token_is_named(tmp_path, prometheus, pagerduty, capsys, monkeypatch):
    monkeypatch.delenv("OPSMEETING_TEST_PD_TOKEN", raising=False)
    config = write_config(tmp_path, prometheus, pagerduty)
    code, _, err = run(["run", "--config", config, "--window", "2026-10-19T08:00Z/2026-11-02T08:00Z", "--no-pdf"],
                       capsys)
    assert code == 3
    assert "$OPSMEETING_TEST_PD_TOKEN" in err
