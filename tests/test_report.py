"""The rendered report: golden HTML, the PDF's structure, custom templates, hostile input."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from opsmeeting.aggregate.scorecards import build_scorecards
from opsmeeting.cli import sample_snapshot_dir
from opsmeeting.meeting.model import MeetingView
from opsmeeting.meeting.wheel_store import fresh_view
from opsmeeting.model import Snapshot
from opsmeeting.report.render import render_report
from opsmeeting.snapshot import read_snapshot

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("OPSMEETING_UPDATE_GOLDEN") == "1"
SCRUBS = (
    (re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+"), "data:image/png;base64,SCRUBBED"),  # font-dependent pixels
    (re.compile(r"data:font/woff2;base64,[A-Za-z0-9+/=]+"), "data:font/woff2;base64,SCRUBBED"),  # the font files
)


def scrub(html: str) -> str:
    for pattern, replacement in SCRUBS:
        html = pattern.sub(replacement, html)
    return html


@pytest.fixture(scope="module")
def sample() -> Snapshot:
    return read_snapshot(sample_snapshot_dir())


@pytest.fixture(scope="module")
def rendered(sample):
    cards = build_scorecards(sample)
    return render_report(cards, MeetingView(wheel=fresh_view(sample.setup, sample.generated_at)))


def test_golden_html(rendered):
    """The page for the bundled sample, byte for byte but for the chart pixels. After an intended
    change: `make update-golden`, then review the diff of tests/golden/report.html."""
    path = GOLDEN / "report.html"
    got = scrub(rendered.html)
    if UPDATE:
        path.write_text(got, encoding="utf-8")
    assert path.is_file(), "no golden file: run `make update-golden`"
    expected = path.read_text(encoding="utf-8")
    if got != expected:
        lines_got, lines_expected = got.splitlines(), expected.splitlines()
        first = next((i for i, (a, b) in enumerate(zip(lines_got, lines_expected, strict=False)) if a != b),
                     min(len(lines_got), len(lines_expected)))
        pytest.fail(f"report.html differs from tests/golden/report.html at line {first + 1}:\n"
                    f"  got:      {lines_got[first] if first < len(lines_got) else '<end>'}\n"
                    f"  expected: {lines_expected[first] if first < len(lines_expected) else '<end>'}\n"
                    "If the change is intended, run `make update-golden` and review the diff.")


def test_output_is_deterministic(sample, rendered):
    again = render_report(build_scorecards(sample), MeetingView(wheel=fresh_view(sample.setup, sample.generated_at)))
    assert again.html == rendered.html  # charts included: same pixels twice


def test_pdf_structure(rendered, tmp_path):
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(rendered.pdf)
    reader = PdfReader(pdf)
    assert 8 <= len(reader.pages) <= 25
    top = [item for item in reader.outline if not isinstance(item, list)]
    appendix = reader.outline.index(next(t for t in top if t.title == "Appendix: team and service scorecards"))
    children = reader.outline[appendix + 1]  # its bookmarks: the teams, then the services by priority
    assert [t.title for t in top][:7] == [
        "What needs our attention", "1. Incident and problem review", "2. Observability review",
        "3. Planning and prioritisation", "4. Feedback and continuous improvement", "Handoff to the next rotation",
        "Appendix: team and service scorecards"]
    assert isinstance(children, list) and len(children) == 4 + 12  # one bookmark per team and per service
    assert children[4].title.startswith("checkout")
    first = reader.pages[0].extract_text()
    assert "Contents" in first and "Ops Meeting — Example Corp" in first
    second = reader.pages[1].extract_text()
    assert "Page 2 of" in second and "Mon 19 Oct 2026 09:00 → Mon 2 Nov 2026 09:00" in second
    width, height = float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts  # every font embedded
    assert reader.attachments == {}


def test_letter_paper(sample, tmp_path):
    letter = sample.model_copy(update={"setup": sample.setup.model_copy(update={"page_size": "Letter"})})
    out = render_report(build_scorecards(letter), MeetingView())
    reader = PdfReader(__import__("io").BytesIO(out.pdf))
    assert (round(float(reader.pages[0].mediabox.width)), round(float(reader.pages[0].mediabox.height))) == (612, 792)


def test_custom_templates_override_and_extend(sample, tmp_path):
    (tmp_path / "sections").mkdir()
    (tmp_path / "report.html.j2").write_text(
        '{% extends "builtin/report.html.j2" %}'
        "{% block footer %}<footer>ACME Corp internal: {{ ctx.title }}</footer>{% endblock %}")
    (tmp_path / "sections" / "planning.html.j2").write_text(
        '<section class="agenda-item" id="planning"><h2>3. Planning, the ACME way</h2></section>')
    out = render_report(build_scorecards(sample), MeetingView(), templates_dir=tmp_path, pdf=False)
    assert "ACME Corp internal: Ops Meeting — Example Corp" in out.html
    assert "3. Planning, the ACME way" in out.html
    assert "1. Incident and problem review" in out.html  # the rest is the built-in


HOSTILE = '<img src="http://169.254.169.254/latest/meta-data/"><script>alert(1)</script> <link href="file:///etc/passwd">'


def test_hostile_titles_are_text_and_fetch_nothing(sample, tmp_path):
    assert sample.incidents is not None
    incidents = list(sample.incidents.incidents)
    major = next(i for i, inc in enumerate(incidents) if inc.severity_rank == 0)
    incidents[major] = dataclasses.replace(incidents[major], title=HOSTILE)
    hostile = sample.model_copy(update={
        "incidents": sample.incidents.model_copy(update={"incidents": incidents}),
        "setup": sample.setup.model_copy(update={"title": '<iframe src="file:///etc/passwd"></iframe>'}),
    })
    out = render_report(build_scorecards(hostile), MeetingView())
    assert HOSTILE not in out.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in out.html
    assert "<iframe" not in out.html
    reader = PdfReader(__import__("io").BytesIO(out.pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "<script>alert(1)</script>" in text  # shown as text in the PDF
    assert "root:x:0:0" not in text and reader.attachments == {}


def test_the_pdf_fetcher_refuses_everything_but_data_and_package_files():
    from opsmeeting.report.render import TEMPLATES, SafeFetcher

    fetcher = SafeFetcher.make()
    for url in ("http://169.254.169.254/", "file:///etc/passwd", "https://example.com/x.png",
                f"file://{TEMPLATES}/../../pyproject.toml"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    assert fetcher.fetch("data:text/plain,hi").read() == b"hi"
    assert b"opsmeeting" in fetcher.fetch(f"file://{TEMPLATES}/report.css").read()


def test_a_large_organisation_gets_a_compact_pre_read_and_a_full_page(sample):
    small = sample.model_copy(update={"setup": sample.setup.model_copy(update={"pdf_detail": 3})})
    cards = build_scorecards(small)
    out = render_report(cards, MeetingView())
    text = "\n".join(page.extract_text() for page in PdfReader(__import__("io").BytesIO(out.pdf)).pages)
    ranked = sorted(cards.services, key=lambda c: c.priority.rank)
    keep = {c.service for c in ranked[:3]}
    for card in ranked[3:]:  # then services that missed an SLO or had a major incident, up to twice the limit
        if len(keep) < 6 and (card.incidents.incidents_major or any(s.met is False for s in card.slos)):
            keep.add(card.service)
    summarised = 12 - len(keep)
    assert 0 < summarised < 12
    assert f"The other {summarised} services" in text  # one compact table for the rest
    assert out.html.count('class="scorecard"') == 12  # the page keeps every service's scorecard
    assert "The other" not in out.html


def test_the_page_embeds_its_fonts(rendered):
    faces = re.findall(r'@font-face \{[^}]*src: url\("data:font/woff2;base64,([A-Za-z0-9+/=]+)"\)', rendered.html)
    assert len(faces) == 2 and all(len(face) > 20_000 for face in faces)  # regular and bold, inline


def test_the_page_scripts_never_read_the_clock():
    """Every date a page shows is written by Python (whose clock the tests pin, and `make test-future`
    moves): no script of the page reads the wall clock, so the browser's clock cannot change a page."""
    templates = Path(__file__).resolve().parent.parent / "opsmeeting" / "templates"
    for script in sorted(templates.glob("*.js")):
        text = script.read_text(encoding="utf-8")
        assert not re.search(r"\bDate\b|timeOrigin|toLocale(Date|Time)String", text), script.name
