"""Presentation mode in a real browser, at projector sizes: the demo's agenda as slides that fit the
screen with no scrolling, type sized for the back of the room, every key, the Ops Wheel leading to the
picked team's focus, the team picker and the handoff.

Skipped when Chromium (or playwright) is missing, unless OPSMEETING_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import REQUIRE_ENV, browser_required, launch, open_page, unavailable_reason

_REASON = unavailable_reason()
if _REASON is not None:
    if browser_required():
        pytest.fail(f"{REQUIRE_ENV}=1 but {_REASON}", pytrace=False)
    pytest.skip(f"{_REASON}; set {REQUIRE_ENV}=1 to make this an error", allow_module_level=True)

PROJECTORS = [(1280, 720), (1024, 768), (1920, 1080)]
BODY_MIN_PX = 28  # at 1280 × 720 (the type grows with the viewport)
CHART_MIN_PX = 20
WINNER_MIN_PX = 60

# Everything about the current slide a test needs, measured by the browser.
SLIDE_JS = """() => {
  const s = document.querySelector('.deck .slide.current');
  if (!s) { return null; }
  const body = s.querySelector('.slide-body');
  const texts = [];
  for (const el of s.querySelectorAll('*')) {
    if (el.closest('svg') || el.closest('canvas')) { continue; }
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) { continue; }
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || getComputedStyle(el).visibility === 'hidden') { continue; }
    texts.push([parseFloat(getComputedStyle(el).fontSize), el.textContent.trim().slice(0, 40)]);
  }
  const charts = [...s.querySelectorAll('svg.chart-svg')].map((svg) => {
    const r = svg.getBoundingClientRect();
    return parseFloat(svg.dataset.minFontPt) * r.width / svg.viewBox.baseVal.width;
  });
  const rect = s.getBoundingClientRect();
  return {
    title: s.querySelector('.slide-title').textContent.trim(),
    section: s.dataset.section, team: s.dataset.team || null,
    number: s.querySelector('.slide-number').textContent.trim(),
    agenda: s.querySelector('.slide-agenda').textContent.trim(),
    text: s.innerText,
    over: [body.scrollHeight - body.clientHeight, body.scrollWidth - body.clientWidth],
    page: [document.documentElement.scrollHeight - innerHeight, document.documentElement.scrollWidth - innerWidth,
           scrollX, scrollY],
    inside: rect.left >= 0 && rect.top >= 0 && rect.right <= innerWidth + 0.5 && rect.bottom <= innerHeight + 0.5,
    scaled: s.classList.contains('scaled'),
    texts, charts,
    secondary: [...s.querySelectorAll('.minor-col')].filter((e) => e.getBoundingClientRect().width > 0).length,
  };
}"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from opsmeeting.cli import main

    out = tmp_path_factory.mktemp("presentation")
    with pytest.raises(SystemExit) as done:
        main(["demo", "--out", str(out), "--no-pdf"])
    assert done.value.code in (0, None)
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launch() as b:
        yield b


def deck(page: Any) -> dict[str, Any]:
    return page.evaluate("window.opsmeetingDeck.state()")  # type: ignore[no-any-return]


def slide(page: Any) -> dict[str, Any]:
    return page.evaluate(SLIDE_JS)  # type: ignore[no-any-return]


def present(page: Any) -> dict[str, Any]:
    page.keyboard.press("p")
    page.evaluate("document.fonts.ready")
    page.wait_for_timeout(50)
    state = deck(page)
    assert state["presenting"] and state["count"] > 10, state
    return state


# --- every slide fits ---------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), PROJECTORS, ids=[f"{w}x{h}" for w, h in PROJECTORS])
def test_every_slide_fits_the_screen_in_type_the_room_can_read(browser, demo, width, height):
    with open_page(browser, (demo / "report.html").as_uri(), width=width, height=height) as (page, log):
        count = present(page)["count"]
        seen: list[str] = []
        bad: list[str] = []
        sizes: list[float] = []
        for index in range(count):
            s = slide(page)
            where = f"slide {index + 1}/{count} {s['title']!r} at {width}×{height}"
            seen.append(s["title"])
            if s["over"][0] > 0 or s["over"][1] > 0:
                bad.append(f"{where}: content overflows by {s['over']} px")
            if max(s["page"]) > 0:
                bad.append(f"{where}: the page scrolls {s['page']}")
            if not s["inside"] or s["scaled"]:
                bad.append(f"{where}: outside the viewport or scaled down")
            small = [t for t in s["texts"] if t[0] < BODY_MIN_PX - 0.01]
            if small:
                bad.append(f"{where}: text under {BODY_MIN_PX} px: {small[:3]}")
            sizes.extend(t[0] for t in s["texts"])
            if any(c < CHART_MIN_PX for c in s["charts"]):
                bad.append(f"{where}: chart text at {min(s['charts']):.1f} px")
            if s["secondary"]:
                bad.append(f"{where}: {s['secondary']} secondary columns shown")
            if s["number"] != f"{index + 1} / {count}" or not s["agenda"]:
                bad.append(f"{where}: slide number {s['number']!r}, agenda {s['agenda']!r}")
            page.keyboard.press("ArrowRight")
        assert not bad, "\n".join(bad)
        # the type grows with the screen: 28 px is the floor at 1280 × 720, not the size everywhere
        grown = BODY_MIN_PX * min(width / 1280, height / 720) * 0.94
        assert statistics.median(sizes) >= grown, statistics.median(sizes)
        assert deck(page)["current"] == count - 1  # the last key stayed on the last slide
        charts = sum(1 for t in seen if t.startswith(("Incidents per day", "When people were interrupted",
                                                       "Budgets overspent")))
        assert charts >= 3, seen
        for needed in ("What needs our attention", "Who presents today?", "SLOs this rotation",
                       "Major incidents", "Action items and parking lot"):
            assert any(t.startswith(needed) for t in seen), (needed, seen)
        assert any(re.search(r" \d+/\d+$", t) for t in seen), "no subsection was split"
        assert log.problems() == []


# --- keys -----------------------------------------------------------------------------------------


def test_every_key_works(browser, demo):
    with open_page(browser, (demo / "report.html").as_uri(), width=1280, height=720) as (page, log):
        count = present(page)["count"]
        assert page.get_attribute("#present", "aria-pressed") == "true"
        steps = [("ArrowRight", 1), ("ArrowDown", 2), ("PageDown", 3), (" ", 4), ("j", 5), ("ArrowLeft", 4),
                 ("ArrowUp", 3), ("PageUp", 2), ("k", 1), ("Home", 0), ("End", count - 1), ("ArrowRight", count - 1),
                 ("Home", 0), ("ArrowLeft", 0)]
        for key, expected in steps:
            page.keyboard.press(key)
            assert deck(page)["current"] == expected, (key, deck(page))
        for digit, section in (("2", "observability"), ("1", "incidents"), ("4", "improvement"), ("3", "planning")):
            page.keyboard.press(digit)
            state = deck(page)
            assert state["section"] == section, (digit, state)
            before = page.evaluate("(id) => [...document.querySelectorAll('.deck .slide')]"
                                   ".findIndex((s) => s.dataset.section === id)", section)
            assert state["current"] == before  # the section's first slide
        page.keyboard.press("w")
        assert slide(page)["title"] == "Who presents today?"
        theme = page.get_attribute("html", "data-theme")
        page.keyboard.press("t")
        assert page.get_attribute("html", "data-theme") != theme
        page.keyboard.press("?")
        overlay = page.locator(".overlay[role='dialog']")
        assert overlay.is_visible()
        listed = overlay.inner_text()
        for key in ("PageDown", "PageUp", "Home", "End", "1 – 9", "W", "F", "P", "T", "?"):
            assert key in listed, key
        page.keyboard.press("ArrowRight")  # the overlay takes no navigation
        assert slide(page)["title"] == "Who presents today?"
        page.keyboard.press("Escape")
        assert page.locator(".overlay").count() == 0 and deck(page)["presenting"]
        page.keyboard.press("f")
        assert page.locator(".overlay .team-choice").count() >= 2
        page.keyboard.press("Escape")
        assert page.locator(".overlay").count() == 0
        page.keyboard.press("Escape")
        assert not deck(page)["presenting"]
        assert page.get_attribute("#present", "aria-pressed") == "false"
        assert page.locator(".deck").count() == 0 and page.locator("main").is_visible()
        page.click("#present")
        assert deck(page)["presenting"]
        page.keyboard.press("P")
        assert not deck(page)["presenting"]
        page.click("#keys")  # the page's own "Keys ?" button
        assert page.locator(".overlay[role='dialog']").is_visible()
        page.keyboard.press("Escape")
        assert log.problems() == []


# --- the wheel leads to the team ------------------------------------------------------------------


def team_services(demo: Path) -> dict[str, list[str]]:
    cards = json.loads((demo / "scorecards.json").read_text())
    out: dict[str, list[str]] = {}
    for s in cards["services"]:
        out.setdefault(s["team"], []).append(s["display_name"])
    return out


def test_spin_then_accept_then_the_teams_focus(browser, demo):
    services = team_services(demo)
    with open_page(browser, (demo / "report.html").as_uri(), width=1280, height=720) as (page, log):
        present(page)
        page.keyboard.press("w")
        assert slide(page)["title"] == "Who presents today?"
        page.keyboard.press("s")
        winner = page.locator(".deck #wheel-winner")
        winner.wait_for(state="visible")
        name = winner.inner_text().strip()
        assert name
        size = page.evaluate("parseFloat(getComputedStyle(document.getElementById('wheel-winner')).fontSize)")
        assert size >= WINNER_MIN_PX, size
        after = slide(page)  # the wheel's slide still fits, its status and result in the room's type
        assert max(after["over"]) <= 0 and min(t[0] for t in after["texts"]) >= BODY_MIN_PX, after
        page.click(".deck #wheel-accept")
        command = page.locator(".deck #wheel-command")
        command.wait_for(state="visible")  # a file page shows the command that records the pick
        assert "wheel accept" in command.inner_text() or "wheel record" in command.inner_text()
        page.keyboard.press("ArrowRight")
        focus = slide(page)
        assert focus["team"], f"no team focus after the pick of {name}: {focus['title']}"
        assert name in focus["agenda"] or name in focus["text"], (name, focus["agenda"])
        assert focus["title"] == "On call this rotation"
        for service in services[focus["team"]][:3]:
            assert service in focus["text"], (service, focus["text"])
        seen = {focus["title"]}
        assert "Budget used" in focus["text"]  # its SLOs
        while True:  # its other slides: incidents, problems, notes and items
            page.keyboard.press("ArrowRight")
            s = slide(page)
            if s["team"] != focus["team"]:
                break
            seen.add(re.sub(r" \d+/\d+$", "", s["title"]))
        assert "Incidents, problems, notes and items" in seen, seen
        assert log.problems() == []


def test_any_teams_focus_is_one_key_away(browser, demo):
    cards = json.loads((demo / "scorecards.json").read_text())
    teams = {t["team"]: t["display_name"] for t in cards["teams"]}
    services = team_services(demo)
    with open_page(browser, (demo / "report.html").as_uri(), width=1024, height=768) as (page, log):
        page.keyboard.press("f")  # from the page itself: presentation mode starts on that team
        choices = page.locator(".overlay .team-choice").all_inner_texts()
        assert sorted(choices) == sorted(teams.values())
        key, name = sorted(teams.items())[-1]
        page.keyboard.type(name[:4])
        page.keyboard.press("Enter")
        s = slide(page)
        assert deck(page)["presenting"] and s["team"] == key, s
        assert name in s["agenda"] and services[key][0] in s["text"]
        page.keyboard.press("f")
        page.click(f".overlay .team-choice[data-team='{sorted(teams)[0]}']")
        assert slide(page)["team"] == sorted(teams)[0]
        assert log.problems() == []


@pytest.mark.parametrize(("position", "after"), [("first", "top"), ("after-observability", "observability"),
                                                 ("last", "handoff")])
def test_the_wheels_slide_goes_where_the_configuration_puts_it(browser, demo, position, after):
    with open_page(browser, (demo / "report.html").as_uri(), width=1280, height=720) as (page, log):
        # wheel.slide_position reaches the page as this attribute (wheel_store.view; test_wheel checks that)
        page.evaluate("(p) => document.getElementById('wheel').setAttribute('data-slide-position', p)", position)
        present(page)
        order = page.evaluate("[...document.querySelectorAll('.deck .slide')].map((s) => s.dataset.section)")
        at = order.index("wheel")
        assert order[at - 1] == after and order.count("wheel") == 1, order
        assert log.problems() == []


def open_at_the_end() -> set[int]:
    """Reference, written apart from aggregate/handoff.py: the sample's incidents created before the
    window's end and not resolved by then, those of the window and those still open from earlier ones."""
    from opsmeeting.cli.app import sample_snapshot_dir
    from opsmeeting.snapshot import read_snapshot

    snap = read_snapshot(sample_snapshot_dir())
    assert snap.incidents is not None and snap.incidents.earlier_open is not None
    end = snap.window.end
    out = set()
    for incident in [*snap.incidents.incidents, *snap.incidents.earlier_open]:
        resolved = [e.at for e in incident.events if e.kind == "resolved"]
        resolved_at = min(resolved) if resolved else incident.resolved_at
        if incident.created_at < end and (resolved_at is None or resolved_at > end):
            out.add(incident.number)
    return out


def test_the_handoff_lists_the_incidents_open_at_the_window_end(browser, demo):
    expected = open_at_the_end()
    assert len(expected) >= 3, expected
    with open_page(browser, (demo / "report.html").as_uri(), width=1280, height=720) as (page, log):
        present(page)
        page.keyboard.press("End")
        texts = []
        while slide(page)["section"] == "handoff":
            texts.append(slide(page))
            page.keyboard.press("ArrowLeft")
        titles = [re.sub(r" \d+/\d+$", "", s["title"]) for s in texts]
        assert "Still open at the window end" in titles and "Maintenance in the next rotation" in titles, titles
        shown = {int(n) for s in texts if s["title"].startswith("Still open") for n in re.findall(r"#(\d+)", s["text"])}
        assert shown == expected
        opened = "\n".join(s["text"] for s in texts if s["title"].startswith("Still open"))
        assert "acknowledged" in opened and "triggered" in opened  # the state of each
        assert log.problems() == []
