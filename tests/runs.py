"""The harness of whole-run tests: a configuration for the PagerDuty fake and the real Prometheus,
an SMTP sink, and the CLI driven in-process. Its fixtures (``pagerduty``, ``smtp``) are in conftest."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from opsmeeting.cli import main
from tests.fakes import pagerduty_data as pd
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.prometheus import RunningPrometheus


@contextmanager
def payments_account(prometheus: RunningPrometheus) -> Iterator[FakePagerDuty]:
    """One team, one service (payments, PS1) and two incidents, one of them the dataset's 5xx burst."""
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


class Sink:
    """An SMTP server on loopback (aiosmtpd) that keeps every message; ``delay`` slows each one down
    (two runs racing to send the same email then overlap)."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.delay = 0.0

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's hook name
        if self.delay:
            await asyncio.sleep(self.delay)
        self.messages.append(envelope.content)
        return "250 OK"

    def subjects(self) -> list[str]:
        return [str(email.message_from_bytes(m, policy=email.policy.default)["Subject"]) for m in self.messages]


def config_with_email(tmp_path, prometheus, pagerduty, port: int) -> str:
    path = write_config(tmp_path, prometheus, pagerduty)
    data = yaml.safe_load(Path(path).read_text())
    data["email"] = {"smtp_host": "127.0.0.1", "smtp_port": port, "security": "plain",
                     "sender": "opsmeeting@example.com", "recipients": ["sre@example.com", "leads@example.com"]}
    data["output"]["public_url"] = "https://ops.example.com/reports"
    with open(path, "w") as handle:
        yaml.safe_dump(data, handle)
    return path


WINDOW_ARG = "2026-10-19T08:00Z/2026-11-02T08:00Z"


