"""The projected page in a real browser (headless Chromium through Playwright).

Loads report.html from file:// as the meeting does: it must make no request and log no error,
move between the agenda sections with the keyboard, show one section at a time in presentation
mode, switch themes, keep its structure accessible, and stay inert with hostile snapshot data.

Skipped when /usr/bin/chromium (or the playwright package) is missing, unless
OPSMEETING_REQUIRE_BROWSER=1, which turns that into an error. Screenshots go to
$OPSMEETING_ARTIFACTS when set, else to pytest's tmp_path.
"""

from __future__ import annotations

import dataclasses
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from tests.browser import REQUIRE_ENV, PageLog, browser_required, launch, open_page, unavailable_reason

_REASON = unavailable_reason()
if _REASON is not None:
    if browser_required():
        pytest.fail(f"{REQUIRE_ENV}=1 but {_REASON}", pytrace=False)
    pytest.skip(f"{_REASON}; set {REQUIRE_ENV}=1 to make this an error", allow_module_level=True)

# The agenda (README): four items and the scorecards, keys 1–5. Sections after them (the Ops Wheel) may follow.
AGENDA = ["incidents", "observability", "planning", "improvement", "handoff", "appendix"]
SECTION_TITLES = [
    "1. Incident and problem review",
    "2. Observability review",
    "3. Planning and prioritisation",
    "4. Feedback and continuous improvement",
    "Appendix: team and service scorecards",
]
WIDTH, HEIGHT = 1600, 1000

HOSTILE_TITLE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
HOSTILE_REPORT_TITLE = "Ops </title><script>window.__pwned=3</script> & co"
HOSTILE_NOTE = (
    'Postmortem: javascript:window.__pwned=4 · <a href="javascript:window.__pwned=5">RCA</a> · '
    "[retro](javascript:window.__pwned=6)"
)
HOSTILE_INCIDENT_URL = "javascript:window.__pwned=7"


# --- fixtures -------------------------------------------------------------------------------


def hostile_snapshot() -> tuple[Any, str]:
    """The bundled sample made hostile: markup in an incident title and in the report title, javascript:
    links in a log-entry note and in the incident's URL. Returns the snapshot and that incident's id."""
    from opsmeeting.aggregate.scorecards import build_scorecards
    from opsmeeting.cli import sample_snapshot_dir
    from opsmeeting.model import Actor, Event
    from opsmeeting.snapshot import read_snapshot

    sample = read_snapshot(sample_snapshot_dir())
    assert sample.incidents is not None
    major_ids = [m.id for m in build_scorecards(sample).major_incidents if m.postmortem_url is None]
    assert major_ids, "the sample has no major incident without a postmortem: the hostile note would not show"
    target = major_ids[0]  # major incidents are listed with their title, link and postmortem (none yet)

    def spoil(incident: Any) -> Any:
        if incident.id != target:
            return incident
        note = Event(id="R-HOSTILE", kind="annotated", at=incident.created_at + timedelta(minutes=1),
                     actor=Actor(kind="human"), note=HOSTILE_NOTE)
        return dataclasses.replace(incident, title=HOSTILE_TITLE, url=HOSTILE_INCIDENT_URL,
                                   events=[*incident.events, note])

    data = sample.incidents.model_copy(update={"incidents": [spoil(i) for i in sample.incidents.incidents]})
    setup = sample.setup.model_copy(update={"title": HOSTILE_REPORT_TITLE})
    return sample.model_copy(update={"incidents": data, "setup": setup}), target


@dataclass(frozen=True)
class Reports:
    demo: Path  # report.html of `opsmeeting demo`
    hostile: Path  # report.html of `opsmeeting render` of hostile_snapshot()
    hostile_incident: str
    hostile_number: int


def opsmeeting(*args: str) -> None:
    """Run the CLI in this process (pandas, matplotlib and Jinja are imported once for both reports)."""
    from opsmeeting.cli import main

    try:
        main(list(args))
    except SystemExit as exc:
        assert exc.code in (0, None), f"opsmeeting {' '.join(args)}: exit {exc.code}"
    else:
        raise AssertionError(f"opsmeeting {' '.join(args)} returned without an exit code")


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Reports:
    """`opsmeeting demo` and `opsmeeting render` of hostile_snapshot(), as a user would run them."""
    from opsmeeting.snapshot import read_snapshot, write_snapshot

    demo, base = tmp_path_factory.mktemp("browser-demo"), tmp_path_factory.mktemp("browser-hostile")
    opsmeeting("demo", "--out", str(demo), "--no-pdf")
    hostile, incident = hostile_snapshot()
    write_snapshot(hostile, base / "snapshot")
    assert read_snapshot(base / "snapshot") == hostile
    opsmeeting("render", "--snapshot", str(base / "snapshot"), "--out", str(base / "out"), "--no-pdf")
    assert hostile.incidents is not None
    number = next(i.number for i in hostile.incidents.incidents if i.id == incident)
    made = Reports(demo=demo / "report.html", hostile=base / "out" / "report.html", hostile_incident=incident,
                   hostile_number=number)
    assert made.demo.is_file() and made.hostile.is_file()
    return made


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launch() as b:
        yield b


@pytest.fixture(scope="module")
def demo_report(reports: Reports) -> Path:
    return reports.demo


@pytest.fixture(scope="module")
def hostile_report(reports: Reports) -> tuple[Path, str, int]:
    return reports.hostile, reports.hostile_incident, reports.hostile_number


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    chosen = os.environ.get("OPSMEETING_ARTIFACTS")
    directory = Path(chosen) if chosen else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    return directory


# --- helpers --------------------------------------------------------------------------------

STATE_JS = """() => {
  const nav = document.querySelector("nav.agenda").getBoundingClientRect();
  const shown = (el) => getComputedStyle(el).display !== "none";
  const sections = [...document.querySelectorAll("section.agenda-item")];
  const active = document.querySelector("section.agenda-item.active");
  return {
    current: [...document.querySelectorAll("nav.agenda a.current")].map((a) => a.getAttribute("href").slice(1)),
    ariaCurrent: [...document.querySelectorAll("nav.agenda a[aria-current='true']")]
      .map((a) => a.getAttribute("href").slice(1)),
    active: sections.filter((s) => s.classList.contains("active")).map((s) => s.id),
    visible: sections.filter(shown).map((s) => s.id),
    presenting: document.body.classList.contains("presenting"),
    pressed: document.getElementById("present").getAttribute("aria-pressed"),
    coverShown: shown(document.querySelector("header.cover")),
    hash: location.hash,
    navBottom: nav.bottom,
    activeTop: active ? active.getBoundingClientRect().top : null,
    headingTop: active ? active.querySelector("h2").getBoundingClientRect().top : null,
    viewport: innerHeight,
  };
}"""


def state(page: Any) -> dict[str, Any]:
    return page.evaluate(STATE_JS)  # type: ignore[no-any-return]


def assert_offline(log: PageLog, url: str) -> None:
    """The page fetched itself and nothing else (data: URLs are inline, not network)."""
    assert log.requests, "no request recorded: the listener is not attached"
    assert log.requests[0].split("#")[0] == url
    others = [r for r in log.requests if r.split("#")[0] != url and not r.startswith("data:")]
    assert others == [], f"the page made requests: {others}"
    assert log.failed_requests == []


def background(page: Any) -> tuple[int, ...]:
    text = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    return rgb(text)


def rgb(css: str) -> tuple[int, ...]:
    assert css.startswith("rgb"), css
    values = css[css.index("(") + 1: css.index(")")].replace("/", ",").split(",")
    return tuple(round(float(v)) for v in values[:3])


def luminance(colour: tuple[int, ...]) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# --- 1. clean and offline -------------------------------------------------------------------


def test_loads_without_errors_or_network(browser, demo_report):
    url = demo_report.as_uri()
    with open_page(browser, url) as (page, log):
        assert page.title().startswith("Ops Meeting")
        agenda_of(page)
        charts = page.evaluate("[...document.querySelectorAll('figure.chart svg.chart-svg')]"
                               ".map((s) => s.getBoundingClientRect().width)")
        assert len(charts) >= 3 and all(width > 200 for width in charts), charts  # inline SVG, drawn
        # Exercise every feature of report.js: errors may come only on a key press.
        for key in ["ArrowRight", "j", "PageDown", "End", "ArrowLeft", "k", "PageUp", "Home", "3", "p", "5", "t",
                    "t", "p"]:
            page.keyboard.press(key)
        page.click("#present")
        assert page.locator(".deck .slide.current").is_visible()
        page.keyboard.press("Escape")
        page.click("#theme")
        page.click("nav.agenda a[href='#planning']")
        assert state(page)["current"] == ["planning"]
        images = page.evaluate("[...document.images].map((i) => [i.complete, i.naturalWidth])")
        assert all(complete and width > 0 for complete, width in images), images
        assert log.problems() == []
        assert_offline(log, url)


# --- 2. keyboard navigation and presentation mode ------------------------------------------


def agenda_of(page: Any) -> list[str]:
    """The ids of the page's agenda sections, checked against the agenda bar (one link each, same order)."""
    sections = page.eval_on_selector_all("section.agenda-item", "(ss) => ss.map((s) => s.id)")
    links = page.eval_on_selector_all("nav.agenda a[href^='#']", "(as) => as.map((a) => a.getAttribute('href'))")
    assert sections[: len(AGENDA)] == AGENDA, sections
    # one link per section; the agenda's in its order, the Ops Wheel's first (it opens the meeting)
    assert sorted(links) == sorted(f"#{s}" for s in sections), f"agenda bar {links} for sections {sections}"
    assert [a for a in links if a != "#wheel"] == [f"#{s}" for s in sections if s != "wheel"], links
    assert "#wheel" not in links or links[0] == "#wheel", links
    return sections  # type: ignore[no-any-return]


def expected_after(key: str, index: int, count: int) -> int:
    """What report.js documents: ←/→, j/k and PageUp/PageDown step (stopping at the ends), 1–9 jump to
    that section when there is one, Home/End go to the first/last; anything else (Ctrl+…) changes nothing."""
    if key in ("ArrowRight", "j", "PageDown"):
        return min(index + 1, count - 1)
    if key in ("ArrowLeft", "k", "PageUp"):
        return max(index - 1, 0)
    if key == "Home":
        return 0
    if key == "End":
        return count - 1
    if key.isdigit() and 1 <= int(key) <= count:
        return int(key) - 1
    return index


def navigation_keys(count: int) -> list[str]:
    return (
        ["ArrowRight"] * count  # to the last section and one more (stays)
        + ["ArrowLeft"] * count  # back to the first and one more (stays)
        + ["3", "1", "5", str(count), "9", "2", "0", "Home", "End", "PageUp", "PageDown", "k", "k", "j",
           "Control+ArrowLeft", "4", "Home"]
    )


def test_keyboard_moves_between_agenda_sections(browser, demo_report):
    with open_page(browser, demo_report.as_uri(), width=WIDTH, height=HEIGHT) as (page, log):
        sections = agenda_of(page)
        start = state(page)
        assert start["current"] == ["incidents"] and start["active"] == ["incidents"]
        assert start["visible"] == sections and not start["presenting"]
        index = 0
        for step, key in enumerate(navigation_keys(len(sections))):
            page.keyboard.press(key)
            index = expected_after(key, index, len(sections))
            expected, now = sections[index], state(page)
            where = f"step {step}: {key} → expected {expected}, got {now}"
            assert now["current"] == [expected], where
            assert now["ariaCurrent"] == [expected], where
            assert now["active"] == [expected], where
            assert now["hash"] == f"#{expected}", where
            assert now["visible"] == sections, where  # not presenting: every section stays on the page
            # The section was scrolled to (the last ones may stop short of the top: the page ends).
            assert -2 <= now["activeTop"] < HEIGHT / 2, where
            if key == "3":
                assert expected == "planning"
        assert log.problems() == []


def test_section_heading_is_not_hidden_under_the_agenda_bar(browser, demo_report):
    with open_page(browser, demo_report.as_uri(), width=WIDTH, height=HEIGHT) as (page, _):
        for key in ["2", "3", "5", "Home"]:
            page.keyboard.press(key)
            now = state(page)
            assert now["headingTop"] >= now["navBottom"] - 1, f"{key}: {now}"


def test_presentation_mode_comes_and_goes_and_leaves_the_page_as_it_was(browser, demo_report):
    """The slides themselves are tests/test_presentation.py; here: P, the button and Esc, and the page after."""
    with open_page(browser, demo_report.as_uri(), width=WIDTH, height=HEIGHT) as (page, log):
        sections = agenda_of(page)
        page.keyboard.press("3")
        page.keyboard.press("p")
        now = state(page)
        assert now["presenting"] and now["pressed"] == "true", now
        assert not now["coverShown"] and page.locator("main").is_hidden(), now  # the deck covers the page
        assert page.locator(".deck .slide.current").is_visible()
        page.keyboard.press("P")
        now = state(page)
        assert not now["presenting"] and now["pressed"] == "false", now
        assert now["visible"] == sections and now["coverShown"], now
        assert now["current"] == ["planning"], now
        page.click("#present")  # the button does the same
        assert state(page)["presenting"]
        page.keyboard.press("Escape")
        assert state(page)["visible"] == sections and page.locator(".deck").count() == 0
        assert log.problems() == []


# --- 3. theme ---------------------------------------------------------------------------------


@pytest.mark.parametrize("preference", ["light", "dark"])
def test_theme_toggle_flips_data_theme_and_colours(browser, demo_report, preference):
    other = "dark" if preference == "light" else "light"
    with open_page(browser, demo_report.as_uri(), color_scheme=preference) as (page, log):

        def theme() -> str | None:
            return page.get_attribute("html", "data-theme")

        start = background(page)
        assert (luminance(start) > 0.5) == (preference == "light"), f"{preference} preference, background {start}"

        page.keyboard.press("t")
        assert theme() == other, page.url
        flipped = background(page)
        assert flipped != start
        assert (luminance(flipped) > 0.5) == (other == "light"), f"{other} theme, background {flipped}"

        page.keyboard.press("T")
        assert theme() == preference, page.url
        assert background(page) == start

        page.keyboard.press("t")
        assert page.evaluate("localStorage.getItem('opsmeeting-theme')") == other
        # Chromium hands a renderer's localStorage writes to the browser process asynchronously: a reload at
        # once may beat the write (seen once under load in CI), so give it time before reloading
        page.wait_for_timeout(500)
        page.reload()  # the choice is remembered (localStorage)
        assert (theme(), background(page)) == (other, flipped), f"after reload of {page.url}"

        for name in (preference, other):
            if theme() != name:
                page.keyboard.press("t")
            assert theme() == name
            text = rgb(page.evaluate("getComputedStyle(document.body).color"))
            assert contrast(text, background(page)) >= 7, f"{name}: text {text} on {background(page)}"
            link = page.locator("nav.agenda a.current")
            fg = rgb(link.evaluate("(a) => getComputedStyle(a).color"))
            bg = rgb(link.evaluate("(a) => getComputedStyle(a).backgroundColor"))
            assert contrast(fg, bg) >= 4.5, f"{name}: current agenda link {fg} on {bg}"
        assert log.problems() == []


# --- 4. structure -------------------------------------------------------------------------------


def test_images_tables_and_headings_are_accessible(browser, demo_report):
    with open_page(browser, demo_report.as_uri()) as (page, _):
        alts = page.eval_on_selector_all("img", "(els) => els.map((i) => i.getAttribute('alt'))")
        assert all(alt and alt.strip() for alt in alts), alts
        charts = page.eval_on_selector_all("figure.chart svg.chart-svg[role='img']", "(els) => els.length")
        assert charts >= 3, "the charts are missing"
        svgs = page.eval_on_selector_all("svg[role='img']", "(els) => els.map((s) => s.getAttribute('aria-label'))")
        assert all(label and label.strip() for label in svgs), svgs

        th_per_table = page.eval_on_selector_all("table", "(ts) => ts.map((t) => t.querySelectorAll('th').length)")
        assert th_per_table, "no table on the page"
        assert all(n > 0 for n in th_per_table), th_per_table

        headings = page.eval_on_selector_all(
            "h1, h2, h3, h4, h5, h6", "(hs) => hs.map((h) => [Number(h.tagName[1]), h.textContent.trim()])")
        levels = [level for level, _ in headings]
        assert levels[0] == 1 and levels.count(1) == 1, headings[:3]
        jumps = [(a, b) for a, b in pairwise(headings) if b[0] > a[0] + 1]
        assert jumps == [], f"heading levels skipped: {jumps}"
        assert all(text for _, text in headings), headings
        h2 = [text for level, text in headings if level == 2]
        assert [t for t in h2 if t in SECTION_TITLES] == SECTION_TITLES, h2
        labelled = page.eval_on_selector_all(
            "section.agenda-item",
            "(ss) => ss.map((s) => [s.id, document.getElementById(s.getAttribute('aria-labelledby'))?.tagName])")
        assert labelled == [[s, "H2"] for s in agenda_of(page)]


# --- 5. screenshots ---------------------------------------------------------------------------


def test_screenshots(browser, demo_report, artifacts):
    shots = {}
    with open_page(browser, demo_report.as_uri(), width=WIDTH, height=HEIGHT) as (page, log):
        shots["light"] = artifacts / "report-light.png"
        page.screenshot(path=str(shots["light"]))
        page.keyboard.press("t")
        assert page.get_attribute("html", "data-theme") == "dark"
        shots["dark"] = artifacts / "report-dark.png"
        page.screenshot(path=str(shots["dark"]))
        page.keyboard.press("t")
        page.keyboard.press("p")
        page.keyboard.press("2")
        assert page.evaluate("window.opsmeetingDeck.state().section") == "observability"
        shots["presenting"] = artifacts / "report-presenting.png"
        page.screenshot(path=str(shots["presenting"]))
        assert log.problems() == []
    for name, path in shots.items():
        size = path.stat().st_size
        assert size > 10_000, f"{name}: {path} is only {size} bytes"
        assert png_size(path) == (WIDTH, HEIGHT), path
    contents = {path.read_bytes() for path in shots.values()}
    assert len(contents) == len(shots), "two screenshots are identical"
    print("screenshots:", *(str(p) for p in shots.values()))


# --- 6. hostile data ------------------------------------------------------------------------


def test_hostile_snapshot_text_stays_text(browser, hostile_report):
    report, incident_id, number = hostile_report
    source = report.read_text(encoding="utf-8")
    assert "<img src=x" not in source and "&lt;img src=x onerror=" in source
    assert "<script>window.__pwned" not in source
    url = report.as_uri()
    with open_page(browser, url) as (page, log):
        for key in ["End", "p", "Home", "3", "t", "p"]:  # show everything, in both modes
            page.keyboard.press(key)
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert_offline(log, url)
        assert not [r for r in log.requests if r.split("?")[0].endswith("/x")]
        assert log.problems() == []

        # Shown literally, as text.
        cell = page.locator("table.data td.title", has_text=HOSTILE_TITLE)
        assert cell.count() >= 1, "the hostile incident title is not in the major incidents table"
        assert cell.first.inner_text().strip() == HOSTILE_TITLE
        assert page.locator("h1").inner_text() == HOSTILE_REPORT_TITLE
        assert page.title().startswith(HOSTILE_REPORT_TITLE)
        assert page.locator("img[src='x'], [onerror]").count() == 0
        scripts = page.eval_on_selector_all("script", """(ss) => ss.map((s) => [s.src, s.type, s.textContent])""")
        assert not [src for src, _, _ in scripts if src], "a script with a src"
        runnable = [text for _, kind, text in scripts if kind in ("", "text/javascript", "module")]
        assert runnable and not [t for t in runnable if "__pwned" in t], "snapshot text inside a script"
        # The note's javascript: links did not become links: no postmortem link for that incident.
        row = page.locator("table.data tr", has=page.locator("td", has_text=re.compile(rf"^\s*#{number}\s*$"))).filter(
            has=page.locator("td.title", has_text=HOSTILE_TITLE)).first
        assert row.locator("td", has_text="RCA pending").count() == 1, row.inner_html()
        hrefs = page.eval_on_selector_all("[href], [src], [action], [formaction]", """(els) => els.flatMap(
            (e) => ["href", "src", "action", "formaction"].map((a) => e.getAttribute(a)).filter(Boolean))""")
        assert not [h for h in hrefs if any(f"__pwned={n}" in h for n in (4, 5, 6))], incident_id


def test_hostile_snapshot_makes_no_javascript_links(browser, hostile_report):
    report, _, _ = hostile_report
    with open_page(browser, report.as_uri()) as (page, _):
        hrefs = page.eval_on_selector_all("a[href]", "(as) => as.map((a) => a.getAttribute('href'))")
        unsafe = [h for h in hrefs if not (h.startswith(("https://", "http://", "#")))]
        assert unsafe == []
        # And were there one, following it would run the snapshot's script.
        for link in page.locator("a[href^='javascript:' i]").all():
            link.click()
        assert page.evaluate("typeof window.__pwned") == "undefined"
