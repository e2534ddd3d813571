"""The PDF pre-read read as an attendee would (issue 16), for the demo and for a 500-service
organisation with hostile names: no text outside its page or running into other text, table text of
9 pt at least, a first page that says what needs attention, team rows that add up to the service rows,
no page left mostly blank."""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass
from pathlib import Path

import pdfplumber
import pytest

from opsmeeting.aggregate.model import Scorecards
from opsmeeting.cli.app import sample_snapshot_dir
from opsmeeting.meeting.model import MeetingView
from opsmeeting.pipeline import make_report
from opsmeeting.snapshot import read_snapshot
from tests.large_org import large_snapshot

MM = 72 / 25.4
MARGIN_X = 14 * MM  # print.css: @page margin 18mm 14mm
BAND = 18 * MM  # the running header and footer live in the top and bottom margins


@dataclass
class Made:
    cards: Scorecards
    pdf: Path
    folder: Path
    pages: list[dict]  # per page: width, height, chars (text, x0, x1, top, bottom, size), bottom of content


def _read(pdf: Path) -> list[dict]:
    pages = []
    with pdfplumber.open(pdf) as doc:
        for page in doc.pages:
            chars = [{k: c[k] for k in ("text", "x0", "x1", "top", "bottom", "size")} for c in page.chars]
            body = [c for c in chars if c["top"] >= BAND and c["bottom"] <= page.height - BAND]
            bottoms = [c["bottom"] for c in body] + [i["bottom"] for i in page.images]
            bottoms += [r["bottom"] for r in page.rects if r["top"] >= BAND and r["bottom"] <= page.height - BAND]
            pages.append({"width": page.width, "height": page.height, "chars": chars, "body": body,
                          "text": page.extract_text() or "", "content_bottom": max(bottoms, default=BAND)})
    return pages


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Made]:
    out = {}
    for name, snapshot in (("demo", read_snapshot(sample_snapshot_dir())), ("large", large_snapshot())):
        folder = tmp_path_factory.mktemp(f"layout-{name}")
        report = make_report(snapshot, folder, lambda cards: MeetingView())
        assert report.files.pdf is not None
        out[name] = Made(cards=report.cards, pdf=report.files.pdf, folder=folder, pages=_read(report.files.pdf))
    return out


CASES = ("demo", "large")


@pytest.mark.parametrize("name", CASES)
def test_no_character_leaves_its_page_or_the_text_area(made, name):
    bad = []
    for number, page in enumerate(made[name].pages, start=1):
        for c in page["chars"]:
            if c["x0"] < -0.5 or c["x1"] > page["width"] + 0.5 or c["top"] < -0.5 or c["bottom"] > page["height"] + 0.5:
                bad.append(f"page {number}: {c['text']!r} outside the page")
        for c in page["body"]:
            if c["text"].strip() and (c["x0"] < MARGIN_X - 1 or c["x1"] > page["width"] - MARGIN_X + 1):
                bad.append(f"page {number}: {c['text']!r} at x {c['x0']:.0f}–{c['x1']:.0f} outside the text area")
    assert not bad, f"{len(bad)} characters out of place, e.g. {bad[:8]}"


@pytest.mark.parametrize("name", CASES)
def test_no_text_runs_into_other_text(made, name):
    """Text that overflows its table cell is drawn over its neighbour's: two characters on one line overlap."""
    bad = []
    for number, page in enumerate(made[name].pages, start=1):
        lines: dict[int, list[dict]] = {}
        for c in page["body"]:
            if c["text"].strip():
                lines.setdefault(round(c["top"]), []).append(c)
        for row in lines.values():
            row.sort(key=lambda c: c["x0"])
            for left, right in itertools.pairwise(row):
                overlap = left["x1"] - right["x0"]
                if overlap > 0.4 * min(left["x1"] - left["x0"], right["x1"] - right["x0"]) and overlap > 1.5:
                    bad.append(f"page {number}: {left['text']!r} over {right['text']!r}")
    assert not bad, f"{len(bad)} overlaps, e.g. {bad[:8]}"


@pytest.mark.parametrize("name", CASES)
def test_body_text_is_at_least_9pt(made, name):
    small = [(number, c["text"], round(c["size"], 1)) for number, page in enumerate(made[name].pages, start=1)
             for c in page["body"] if c["text"].strip() and c["size"] < 8.95]
    assert not small, f"{len(small)} characters under 9 pt, e.g. {small[:10]}"


@pytest.mark.parametrize("name", CASES)
def test_the_first_page_says_what_needs_attention(made, name):
    cards, first = made[name].cards, made[name].pages[0]["text"]
    flat = " ".join(first.split())
    assert "What needs our attention" in flat
    for heading in ("SLOs missed", "Top priorities", "Follow-ups", "The noisiest alert", "Sleep-hour interruptions"):
        assert heading in flat, f"{heading!r} is not on page 1"
    missed = sorted(((c, s) for c in cards.services for s in c.slos if s.met is False),
                    key=lambda cs: -(cs[1].error_budget_consumed or 0))
    assert missed, "the fixture should miss an SLO"
    for card, slo in missed[:2]:
        assert _words(card.display_name)[:2] == _words(card.display_name)[:2] and _words(card.display_name)[0] in flat
        assert slo.name in flat
    top = min(cards.services, key=lambda c: c.priority.rank if c.priority else 10**6)
    assert _words(top.display_name)[0] in flat
    pending = [m for m in cards.major_incidents if m.postmortem_url is None]
    if pending:
        assert f"{len(pending)} RCA(s) pending" in flat
    sleepy = max(cards.responders, key=lambda r: (r.interruptions_sleep or 0, ), default=None)
    if sleepy is not None and sleepy.interruptions_sleep:
        assert f"{sleepy.interruptions_sleep} sleep-hour interruption" in flat


def _words(text: str) -> list[str]:
    return [w for w in text.replace("\u202e", "").replace("\u202c", "").split() if w.isascii()] or ["?"]


@pytest.mark.parametrize("name", CASES)
def test_team_rows_add_up_to_the_service_rows(made, name):
    cards = made[name].cards
    assert cards.teams
    for team in cards.teams:
        mine = [c for c in cards.services if c.team == team.team]
        assert team.services == len(mine)
        for key in ("incidents_total", "incidents_high_urgency", "incidents_major", "interruptions",
                    "interruptions_sleep", "acknowledged"):
            assert getattr(team.incidents, key) == sum(getattr(c.incidents, key) or 0 for c in mine), (team.team, key)
        judged = [s for c in mine for s in c.slos if s.status == "ok" and s.met is not None]
        assert (team.slos_judged, team.slos_missed) == (len(judged), sum(s.met is False for s in judged))
    with (made[name].folder / "teams.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["team"] for r in rows] == [t.team for t in cards.teams]
    assert [int(r["incidents_total"]) for r in rows] == [t.incidents.incidents_total for t in cards.teams]


@pytest.mark.parametrize("name", CASES)
def test_no_page_but_the_last_is_left_more_than_half_blank(made, name):
    pages = made[name].pages
    blank = [(number, round(p["content_bottom"] / p["height"], 2)) for number, p in enumerate(pages[:-1], start=1)
             if p["content_bottom"] < 0.5 * p["height"]]
    assert not blank, f"pages ending above half their height: {blank} (of {len(pages)})"
