"""End to end: `opsmeeting demo` writes the four agenda sections as HTML and PDF, and the contract JSON."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pypdf import PdfReader

from opsmeeting.aggregate.model import INCIDENT_KEYS
from opsmeeting.snapshot import read_snapshot

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = [
    "1. Incident and problem review",
    "2. Observability review",
    "3. Planning and prioritisation",
    "4. Feedback and continuous improvement",
]
SLO_KEYS = {"name", "objective", "good", "total", "sli", "met", "error_budget_consumed", "error_budget_remaining",
            "period_budget_consumed", "daily", "previous"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo")
    run = subprocess.run([sys.executable, "-m", "opsmeeting.cli", "demo", "--out", str(out)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    return out, run.stdout


def test_prints_the_paths(demo):
    out, stdout = demo
    assert f"report.html      {out / 'report.html'}" in stdout
    assert f"report.pdf       {out / 'report.pdf'}" in stdout


def test_pdf_has_the_agenda(demo):
    out, _ = demo
    reader = PdfReader(out / "report.pdf")
    text = "\n".join(page.extract_text() for page in reader.pages)
    for heading in SECTIONS:
        assert heading in text
    assert "Appendix: team and service scorecards" in text
    assert "Mon 19 Oct 2026 09:00 → Mon 2 Nov 2026 09:00 (Europe/Lisbon)" in text
    titles = [item.title for item in reader.outline if not isinstance(item, list)]
    assert [t for t in titles if t in SECTIONS] == SECTIONS  # in agenda order
    assert titles.index("What needs our attention") < titles.index(SECTIONS[0])
    assert reader.attachments == {}


class Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.h2: list[str] = []
        self.section_ids: list[str] = []
        self.imgs_without_alt = 0
        self.external: list[str] = []
        self.tables = 0
        self.th = 0
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "h2":
            self._in_h2 = True
            self.h2.append("")
        if tag == "section" and "agenda-item" in (a.get("class") or ""):
            self.section_ids.append(a.get("id", ""))
        if tag == "img":
            self.imgs_without_alt += not a.get("alt")
            if not (a.get("src") or "").startswith("data:"):
                self.external.append(a.get("src", ""))
        ref = a.get("src") or a.get("href")
        if tag in ("script", "link") and ref and not ref.startswith("data:"):
            self.external.append(ref)
        self.tables += tag == "table"
        self.th += tag == "th"

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.h2[-1] += data


def test_html_structure(demo):
    out, _ = demo
    parser = Structure()
    parser.feed((out / "report.html").read_text())
    headings = [h.strip() for h in parser.h2]
    for heading in SECTIONS:
        assert heading in headings
    assert parser.section_ids == ["incidents", "observability", "planning", "improvement", "handoff", "appendix",
                                  "wheel"]
    assert parser.imgs_without_alt == 0
    assert parser.external == []  # self-contained: no external script, stylesheet or image
    assert parser.tables >= 5 and parser.th > parser.tables


def test_scorecards_contract(demo):
    out, _ = demo
    data = json.loads((out / "scorecards.json").read_text())
    assert data["schema_version"] == 1
    assert data["window"] == {"start": "2026-10-19T08:00:00Z", "end": "2026-11-02T09:00:00Z",
                              "timezone": "Europe/Lisbon", "provisional": False}
    assert data["generated_at"].endswith("Z")
    assert set(data["sources"]) == {"pagerduty", "prometheus"}
    assert {"status", "requests", "detail"} <= set(data["sources"]["pagerduty"])
    assert len(data["services"]) == 12
    for service in data["services"]:
        assert set(INCIDENT_KEYS) <= set(service["incidents"])
        assert {"score", "rank", "reasons"} <= set(service["priority"])
        assert len(service["slos"]) == 2
        for slo in service["slos"]:
            assert set(slo) >= SLO_KEYS
    assert sorted(s["priority"]["rank"] for s in data["services"]) == list(range(1, 13))
    assert set(INCIDENT_KEYS) <= set(data["overall"]["incidents"])
    assert set(INCIDENT_KEYS) <= set(data["teams"][0]["incidents"])
    assert {"user", "name", "interruptions", "interruptions_sleep", "interruptions_off_hours", "acknowledged",
            "on_call_hours"} <= set(data["responders"][0])
    checkout = next(s for s in data["services"] if s["service"] == "checkout")
    availability = next(s for s in checkout["slos"] if s["name"] == "availability")
    assert availability["met"] is False and availability["error_budget_consumed"] > 1
    assert len(availability["daily"]) == 14 and availability["daily"][0]["date"] == "2026-10-19"
    assert sum(d["total"] for d in availability["daily"]) == availability["total"]
    # the overall incident count is the sum over services, and matches the snapshot
    snapshot = read_snapshot(out / "snapshot")
    assert snapshot.incidents is not None
    in_window = [i for i in snapshot.incidents.incidents if snapshot.window.contains(i.created_at)]
    assert data["overall"]["incidents"]["incidents_total"] == len(in_window)
    assert sum(s["incidents"]["incidents_total"] for s in data["services"]) == len(in_window)


def test_csv_has_one_row_per_service(demo):
    out, _ = demo
    rows = list(csv.DictReader((out / "scorecards.csv").open()))
    assert len(rows) == 12
    assert {"service", "team", "priority_rank", "incidents_total", "availability.sli", "latency.met"} <= set(rows[0])


def test_render_from_the_snapshot_gives_the_same_scorecards(demo, tmp_path):
    out, _ = demo
    run = subprocess.run([sys.executable, "-m", "opsmeeting.cli", "render", "--snapshot", str(out / "snapshot"),
                          "--out", str(tmp_path), "--no-pdf"], capture_output=True, text=True, timeout=300,
                         check=False)
    assert run.returncode == 0, run.stderr
    rendered = json.loads((tmp_path / "scorecards.json").read_text())
    demo_cards = json.loads((out / "scorecards.json").read_text())
    assert rendered.pop("items") is None and rendered.pop("notes") == []  # no store, no meeting loop
    assert demo_cards.pop("items")["open"] and demo_cards.pop("notes")  # the sample's meeting loop
    assert rendered == demo_cards
    assert not (tmp_path / "report.pdf").exists()


def test_render_rejects_a_broken_snapshot(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    run = subprocess.run([sys.executable, "-m", "opsmeeting.cli", "render", "--snapshot", str(tmp_path),
                          "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2
    assert "manifest.json: unreadable" in run.stderr
    assert not (tmp_path / "out").exists()


def test_sample_regenerates_identically(tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_sample.py"), "--out", str(tmp_path / "s")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    bundled = ROOT / "opsmeeting" / "sample" / "snapshot"
    for name in ("manifest.json", "incidents.json", "slos.json"):
        assert (tmp_path / "s" / name).read_bytes() == (bundled / name).read_bytes(), name
    assert (tmp_path / "meeting.json").read_bytes() == (bundled.parent / "meeting.json").read_bytes()
