"""The proof that sources are a seam: an incident source that is not PagerDuty, reading incidents from a
JSON file in the model of no one vendor, feeds the whole pipeline to a report. It is added by one
registry entry (``SOURCES`` below) and touches no aggregation, rendering or store code."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from opsmeeting.collectors import BuildContext, Source
from opsmeeting.collectors.registry import SOURCES as BUILT_IN
from opsmeeting.config import Config, parse_config
from opsmeeting.errors import InputError
from opsmeeting.meeting.model import MeetingView
from opsmeeting.model import Actor, Event, Incident, IncidentData, Person, Setup, SourceStatus
from opsmeeting.pipeline import collect, make_report
from opsmeeting.window import Window

WINDOW = Window(start="2026-10-19T08:00:00Z", end="2026-11-02T08:00:00Z", timezone="Europe/Lisbon")


class IncidentFile:
    """An incident source reading ``IncidentData`` from a JSON file (what an export of Opsgenie,
    Grafana IRM or incident.io, mapped by a script, would give)."""

    name = "incident-file"
    kind = "incidents"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reads = 0

    def collect(self, window: Window, setup: Setup) -> tuple[IncidentData, SourceStatus]:
        self.reads += 1
        data = IncidentData.model_validate_json(self.path.read_bytes())
        inside = [i for i in data.incidents if window.contains(i.created_at)]
        return data, SourceStatus(status="ok", requests=1, detail=f"{len(inside)} incidents from {self.path.name}")

    def request_counts(self) -> dict[str, int]:
        return {"read": self.reads}


def incident_file_source(path: Path) -> Source:
    return Source("incident-file", "incidents", "Incident file",
                  lambda config, context: IncidentFile(path), lambda config, context: "not configured")


def write_export(path: Path) -> None:
    t = WINDOW.start + timedelta(days=2, hours=3)  # Wed 21 Oct 12:00 Lisbon
    night = WINDOW.start + timedelta(days=5, hours=16)  # Sun 25 Oct 00:00 Lisbon: sleep hours
    people = [Person(id="u-ada", name="Ada Lovelace", time_zone="Europe/Lisbon"),
              Person(id="u-alan", name="Alan Turing", time_zone="Europe/London")]
    incidents = [
        Incident(id="i-1", number=101, title="Card payments failing", service_id="svc-pay", created_at=t,
                 status="resolved", urgency="high", resolved_at=t + timedelta(minutes=40), severity_rank=0,
                 events=[Event(id="e-1", kind="triggered", at=t, actor=Actor(kind="automation", id="monitor")),
                         Event(id="e-2", kind="notified", at=t, person_id="u-ada", interrupting=True),
                         Event(id="e-3", kind="acknowledged", at=t + timedelta(minutes=5),
                               actor=Actor(kind="human", id="u-ada")),
                         Event(id="e-4", kind="resolved", at=t + timedelta(minutes=40),
                               actor=Actor(kind="human", id="u-ada"))]),
        Incident(id="i-2", number=102, title="Disk full on ledger-3", service_id="svc-ledger", created_at=night,
                 status="resolved", urgency="high", resolved_at=night + timedelta(minutes=3),
                 events=[Event(id="e-5", kind="triggered", at=night),
                         Event(id="e-6", kind="notified", at=night, person_id="u-alan", interrupting=True),
                         Event(id="e-7", kind="resolved", at=night + timedelta(minutes=3),
                               actor=Actor(kind="automation", id="monitor"))]),
    ]
    data = IncidentData(source="incident-file", collected_at=WINDOW.end + timedelta(hours=1), people=people,
                        incidents=incidents)
    path.write_text(data.model_dump_json(), encoding="utf-8")


def config() -> Config:
    return parse_config({
        "rotation": {"length": "14d", "anchor": "2026-10-19T09:00:00", "timezone": "Europe/Lisbon"},
        "teams": [{"name": "payments"}],
        "services": [{"name": "checkout", "team": "payments", "pagerduty_service_ids": ["svc-pay"]},
                     {"name": "ledger", "team": "payments", "pagerduty_service_ids": ["svc-ledger"]}],
    })


def test_an_incident_file_feeds_the_whole_pipeline(tmp_path):
    export = tmp_path / "incidents.json"
    write_export(export)
    sources = (*BUILT_IN, incident_file_source(export))  # the one registry line: PagerDuty is not configured
    snapshot = collect(config(), WINDOW, sources=sources, environ={}).snapshot
    assert snapshot.sources["incident-file"].status == "ok"
    assert snapshot.sources["pagerduty"].status == "not_configured"
    assert snapshot.roles["incidents"].label == "Incident file"
    report = make_report(snapshot, tmp_path / "report", lambda cards: MeetingView(), pdf=False)
    data = json.loads(report.files.json.read_text(encoding="utf-8"))
    by = {s["service"]: s["incidents"] for s in data["services"]}
    assert by["checkout"]["incidents_total"] == 1 and by["checkout"]["incidents_major"] == 1
    assert by["checkout"]["mtta_mean_s"] == 300 and by["checkout"]["mttr_mean_s"] == 2400
    assert by["ledger"]["auto_resolved"] == 1 and by["ledger"]["resolved_without_ack"] == 1
    assert by["ledger"]["interruptions_sleep"] == 1  # midnight in London
    assert {r["name"] for r in data["responders"]} == {"Ada Lovelace", "Alan Turing"}
    html = report.files.html.read_text(encoding="utf-8")
    assert "Card payments failing" in html  # a major incident: listed by title
    assert report.exit_code == 0


def test_two_sources_of_one_role_are_refused(tmp_path):
    export = tmp_path / "incidents.json"
    write_export(export)
    twice = (*BUILT_IN, incident_file_source(export), incident_file_source(export))
    with pytest.raises(InputError, match="more than one incidents source"):
        collect(config(), WINDOW, sources=twice, environ={})


def test_a_factory_reads_its_context(tmp_path):
    seen: list[BuildContext] = []
    probe = Source("probe", "incidents", "Probe", lambda config, context: seen.append(context) or None,
                   lambda config, context: "not configured (a probe)")
    snapshot = collect(config(), WINDOW, sources=(probe,), environ={"X": "1"}).snapshot
    assert seen and seen[0].environ == {"X": "1"} and seen[0].slos == []
    assert snapshot.sources["probe"].status == "not_configured" and snapshot.incidents is None
