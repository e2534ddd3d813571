"""Live updates of section 4 on a served page: ``GET /api/meeting`` (opsmeeting/serve.py) and the page's
polling script (opsmeeting/templates/live.js).

The endpoint answers the open action items and parking-lot entries and the items closed since the
window's start, as the store has them now: items added through ``POST /api/items`` show at the next
poll, items written to the store by another process (the CLI) within ``LIVE_FRESH``; a poll that
sends the cursor it has gets a small ``{"changed": false}``, and a room of polling pages costs one
store read per report and second. It follows the Host and Origin rules of the writes and answers a
malformed query with a 4xx JSON error.

In Chromium, a served page shows what other attendees add and close within 5 s without reloading,
keeping focus and what was typed in the parking-lot form; it pauses after repeated failures with a
visible note and resumes when shown again; a file page makes no request. The browser tests are
skipped when the rendered page does not include live.js (report.html.j2 includes it after
report.js), or when Chromium is missing (an error with OPSMEETING_REQUIRE_BROWSER=1).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from opsmeeting import serve
from opsmeeting.cli import main
from opsmeeting.config import load_config
from opsmeeting.meeting.items import ItemBook
from opsmeeting.serve import LIVE_FRESH, LIVE_INTERVAL_MS, LIVE_ROUTE, MeetingServer, make_server
from opsmeeting.store import Store
from tests.accounts import quiet_account
from tests.browser import browser_required, launch, open_page, unavailable_reason
from tests.test_serve import NOW, request, running

LIVE_MARKER = "opsmeeting live.js"  # the first line of live.js: the page includes it
OPEN_KEYS = {"id", "kind", "text", "link", "team_name", "owner", "due", "age_days", "past_due", "while_listening_to"}
CLOSED_KEYS = {"id", "text", "team_name", "closed"}
LIVE_REQUEST = re.compile(re.escape(LIVE_ROUTE) + r"\?")


def make_live_archive(root: Path) -> Path:
    """A configuration in ``root``, three items in its store (an action item with a link, one past due,
    a parking-lot topic), and one rendered rotation of a quiet account that lists them."""
    path = root / "opsmeeting.yaml"
    with quiet_account() as sources:
        path.write_text(yaml.safe_dump({
            "rotation": {"length": "14d", "anchor": "2026-01-12T09:00:00", "timezone": "Europe/Lisbon"},
            "teams": [{"name": "payments", "display_name": "Payments Squad"}, {"name": "platform"},
                      {"name": "search"}],
            "services": [{"name": "checkout", "team": "payments", "pagerduty_service_ids": ["PS1"]}],
            "sources": sources,
            "output": {"directory": "reports"},
            "state": {"path": "state.sqlite"},
        }))
        config = load_config(path)
        with Store.open(config.state.path) as store:
            book = ItemBook(store)
            book.add(kind="action", team="payments", owner="ana", due=date(2026, 11, 30),
                     text="Runbook for PSP timeouts", link="https://tickets.example.com/OPS-1",
                     now=NOW - timedelta(days=3))
            book.add(kind="action", team="platform", owner="farid", due=date(2026, 11, 10),
                     text="Rotate the TLS certificate", now=NOW - timedelta(days=20))
            book.add(kind="parking_lot", team="search", while_listening_to="payments", text="Do we retry PSP calls?",
                     now=NOW - timedelta(days=1))
        with pytest.raises(SystemExit) as info:
            main(["run", "-c", str(path), "--as-of", "2026-11-17T12:00Z", "--no-pdf"])
    assert info.value.code == 0
    return path


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return make_live_archive(tmp_path_factory.mktemp("serve-live"))


@pytest.fixture
def server(archive) -> Iterator[MeetingServer]:
    with running(make_server(load_config(archive), "127.0.0.1", 0, now=lambda: NOW)) as srv:
        yield srv


def folder_of(archive: Path) -> str:
    return next(load_config(archive).output.directory.glob("*/report.html")).parent.name


def served_info(port: int, path: str) -> dict[str, Any]:
    status, page = request(port, "GET", path)
    assert status == 200
    found = re.search(rb'<script type="application/json" id="opsmeeting-serve">(.*?)</script>', page)
    assert found, "no injected opsmeeting-serve JSON"
    return json.loads(found.group(1))


def live(port: int, url: str, since: str | None = None, headers: dict | None = None) -> tuple[int, dict]:
    target = url + (f"&since={since}" if since else "")
    status, body = request(port, "GET", target, headers=headers)
    return status, json.loads(body)


def poll_until(port: int, url: str, check, seconds: float = 5.0) -> dict:
    """Poll ``url`` as the page does (every 0.2 s here) until ``check(answer)`` holds; the answer."""
    deadline, answer = time.monotonic() + seconds, {}
    while time.monotonic() < deadline:
        status, answer = live(port, url)
        assert status == 200, answer
        if check(answer):
            return answer
        time.sleep(0.2)
    raise AssertionError(f"not seen within {seconds} s: {answer}")


def add_directly(archive: Path, **fields: Any) -> int:
    """Another attendee's write, not through this server (`opsmeeting item add`)."""
    with Store.open(load_config(archive).state.path) as store:
        return ItemBook(store).add(now=NOW, **fields)


def close_directly(archive: Path, item_id: int) -> None:
    with Store.open(load_config(archive).state.path) as store:
        ItemBook(store).done(item_id, now=NOW)


def ids(answer: dict, kind: str | None = None) -> list[int]:
    return [i["id"] for i in answer["open"] if kind is None or i["kind"] == kind]


# --- the endpoint -------------------------------------------------------------------------------------


def test_a_served_report_names_the_endpoint_and_the_index_does_not(server, archive):
    port = server.server_address[1]
    info = served_info(port, f"/{folder_of(archive)}/report.html")
    assert info["meeting_url"] == f"{LIVE_ROUTE}?report={folder_of(archive)}"
    assert info["meeting_poll_ms"] == LIVE_INTERVAL_MS
    assert served_info(port, "/index.html")["meeting_url"] is None  # the archive index has no section 4


def test_the_answer_is_section_4_as_the_page_shows_it_and_no_more(server, archive):
    port = server.server_address[1]
    folder = folder_of(archive)
    url = served_info(port, f"/{folder}/report.html")["meeting_url"]
    status, answer = live(port, url)
    assert status == 200 and answer["ok"] is True and answer["changed"] is True
    assert set(answer) == {"ok", "changed", "cursor", "open", "closed", "truncated"}
    assert re.fullmatch(r"[0-9a-f]{20}", answer["cursor"]) and answer["truncated"] is False
    assert all(set(i) == OPEN_KEYS for i in answer["open"]), answer["open"]
    assert all(set(i) == CLOSED_KEYS for i in answer["closed"]), answer["closed"]
    assert server.token not in json.dumps(answer)  # the CSRF token stays in the page
    by_text = {i["text"]: i for i in answer["open"]}
    assert by_text["Runbook for PSP timeouts"] == {
        "id": 1, "kind": "action", "text": "Runbook for PSP timeouts", "link": "https://tickets.example.com/OPS-1",
        "team_name": "Payments Squad", "owner": "ana", "due": "2026-11-30", "age_days": 3, "past_due": False,
        "while_listening_to": None}
    assert by_text["Rotate the TLS certificate"]["past_due"] is True
    assert by_text["Rotate the TLS certificate"]["team_name"] == "platform"  # no display name: the key
    topic = by_text["Do we retry PSP calls?"]
    assert (topic["kind"], topic["while_listening_to"], topic["owner"], topic["due"], topic["age_days"]) == (
        "parking_lot", "payments", None, None, 1)
    # the rendered page lists the same rows, with the ids live.js matches them by
    page = (load_config(archive).output.directory / folder / "report.html").read_text()
    section = page[page.index('id="improvement"'):page.index('id="appendix"')]
    for kind, rendered in (("action", [1, 2]), ("parking_lot", [3])):
        body = section[section.index(f'data-live-rows="{kind}"'):]
        body = body[:body.index("</tbody>")]
        assert [int(n) for n in re.findall(r'data-item-id="(\d+)"', body)] == rendered
        assert [i for i in ids(answer, kind) if i in rendered] == rendered


def test_items_from_the_page_and_from_other_attendees_appear(server, archive):
    port = server.server_address[1]
    url = served_info(port, f"/{folder_of(archive)}/report.html")["meeting_url"]
    _, before = live(port, url)
    good = {"X-CSRF-Token": server.token, "Origin": f"http://127.0.0.1:{port}"}
    status, body = request(port, "POST", "/api/items", {"team": "search", "text": "Posted from page B"}, good)
    assert status == 200
    posted = json.loads(body)["id"]
    _, after = live(port, url, since=before["cursor"])  # a write through this server shows at the next poll
    assert after["changed"] is True and posted in ids(after, "parking_lot") and after["cursor"] != before["cursor"]

    target = add_directly(archive, kind="action", team="search", text="Closed by the CLI")
    poll_until(port, url, lambda a: target in ids(a, "action"))
    started = time.monotonic()
    other = add_directly(archive, kind="parking_lot", team="platform", text="Added with the CLI")
    close_directly(archive, target)
    seen = poll_until(port, url, lambda a: other in ids(a) and target not in ids(a))
    assert time.monotonic() - started < LIVE_FRESH + 2
    closed = {i["id"]: i for i in seen["closed"]}
    assert closed[target]["closed"] == "17 Nov" and set(closed[target]) == CLOSED_KEYS


def test_an_unchanged_state_answers_small_and_a_room_costs_one_read_a_second(server, archive, monkeypatch):
    port = server.server_address[1]
    url = served_info(port, f"/{folder_of(archive)}/report.html")["meeting_url"]
    _, first = live(port, url)
    status, body = request(port, "GET", f"{url}&since={first['cursor']}")
    assert status == 200 and json.loads(body) == {"ok": True, "changed": False, "cursor": first["cursor"]}
    assert len(body) < 100
    _, other = live(port, url, since="0" * 20)  # a cursor of another state: the whole state
    assert other["changed"] is True and other["cursor"] == first["cursor"]

    reads = []
    real = serve.live_state
    monkeypatch.setattr(serve, "live_state", lambda *a: reads.append(1) or real(*a))
    started = time.monotonic()
    answers: list[int] = []

    def page() -> None:
        for _ in range(10):
            answers.append(request(port, "GET", f"{url}&since={first['cursor']}")[0])

    threads = [threading.Thread(target=page) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    elapsed = time.monotonic() - started
    assert answers == [200] * 200
    assert len(reads) <= elapsed / LIVE_FRESH + 1, (len(reads), elapsed)


def test_head_answers_without_a_body(server, archive):
    import http.client

    port = server.server_address[1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("HEAD", f"{LIVE_ROUTE}?report={folder_of(archive)}", headers={"Host": f"127.0.0.1:{port}"})
    answer = conn.getresponse()
    assert answer.status == 200 and answer.getheader("Content-Type") == "application/json"
    assert answer.getheader("Cache-Control") == "no-store" and answer.read() == b""
    conn.close()


def test_host_and_origin_are_checked_as_for_writes(server, archive):
    port = server.server_address[1]
    url = f"{LIVE_ROUTE}?report={folder_of(archive)}"
    refusals = [({"Host": "evil.example.com"}, 421), ({"Host": f"evil.example.com:{port}"}, 421),
                ({"Origin": "http://evil.example.com"}, 403), ({"Origin": f"https://127.0.0.1:{port}"}, 403),
                ({"Origin": "null"}, 403)]
    for headers, expected in refusals:
        status, answer = live(port, url, headers=headers)
        assert (status, answer["ok"]) == (expected, False), headers
        assert "open" not in answer
    for headers in ({}, {"Origin": f"http://127.0.0.1:{port}"}, {"Host": f"localhost:{port}",
                                                                "Origin": f"http://localhost:{port}"}):
        assert live(port, url, headers=headers)[0] == 200, headers


BAD_QUERIES = [  # (query after /api/meeting, status, part of the error)
    ("", 400, "report: required"),
    ("?since=" + "0" * 20, 400, "report: required"),
    ("?report={folder}&since=xyz", 400, "since: expected"),
    ("?report={folder}&since=" + "A" * 20, 400, "since: expected"),
    ("?report={folder}&since=" + "0" * 21, 400, "since: expected"),
    ("?report={folder}&since=", 400, "since: expected"),
    ("?report={folder}&report={folder}", 400, "malformed query"),
    ("?report={folder}&since=0&x=1", 400, "malformed query"),
    ("?report={folder}&colour=blue", 400, "unknown query parameter"),
    ("?report", 400, "malformed query"),
    ("?report=%ff", 400, "malformed query"),
    ("?report={folder}%00", 400, "malformed query"),
    ("?report=../reports/{folder}", 404, "no such report"),
    ("?report=%2e%2e%2f", 404, "no such report"),
    ("?report=/etc", 404, "no such report"),
    ("?report=nothing-here", 404, "no such report"),
    ("?report=", 404, "no such report"),  # the archive's root: an index, no report
    ("?report={folder}/snapshot", 404, "no such report"),
    ("?report={folder}/.hidden", 404, "no such report"),
]


@pytest.mark.parametrize(("query", "status", "part"), BAD_QUERIES, ids=[q[0][:40] or "none" for q in BAD_QUERIES])
def test_a_bad_query_gets_a_4xx_json_answer(server, archive, query, status, part):
    port = server.server_address[1]
    got, body = request(port, "GET", LIVE_ROUTE + query.replace("{folder}", folder_of(archive)))
    answer = json.loads(body)
    assert (got, answer["ok"]) == (status, False) and part in answer["error"], answer


def test_posting_to_the_endpoint_is_no_action(server):
    port = server.server_address[1]
    status, body = request(port, "POST", LIVE_ROUTE, {"report": "x"}, {"X-CSRF-Token": server.token})
    assert status == 404 and json.loads(body)["error"] == "no such action"


def test_a_report_without_readable_scorecards_is_refused(server, archive):
    port = server.server_address[1]
    broken = load_config(archive).output.directory / "broken"
    broken.mkdir(exist_ok=True)
    (broken / "scorecards.json").write_text('{"window": {"start": "yesterday"}}')
    status, answer = live(port, f"{LIVE_ROUTE}?report=broken")
    assert (status, answer["ok"]) == (404, False) and "scorecards.json" in answer["error"]


def test_more_items_than_an_answer_holds_are_marked_truncated(server, archive, monkeypatch):
    port = server.server_address[1]
    monkeypatch.setattr(serve, "LIVE_MAX_ITEMS", 2)
    server.forget_live()
    status, answer = live(port, f"{LIVE_ROUTE}?report={folder_of(archive)}")
    assert status == 200 and answer["truncated"] is True and len(answer["open"]) + len(answer["closed"]) <= 2
    server.forget_live()


# --- the page, in Chromium ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    reason = unavailable_reason()
    if reason:
        if browser_required():
            pytest.fail(reason)
        pytest.skip(reason)
    with launch() as b:
        yield b


@pytest.fixture
def room(tmp_path) -> Iterator[tuple[Path, MeetingServer, str]]:
    """A fresh archive (the browser tests close its items) served on a free port; skipped when the
    page does not include live.js yet."""
    archive = make_live_archive(tmp_path)
    report = next(load_config(archive).output.directory.glob("*/report.html"))
    if LIVE_MARKER not in report.read_text(encoding="utf-8"):
        pytest.skip("the rendered page does not include live.js: add {% include \"live.js\" %} after "
                    "{% include \"report.js\" %} in opsmeeting/templates/report.html.j2")
    with running(make_server(load_config(archive), "127.0.0.1", 0, now=lambda: NOW)) as srv:
        yield archive, srv, f"http://127.0.0.1:{srv.server_address[1]}/{report.parent.name}/report.html"


def section_texts(page) -> dict[str, Any]:
    return page.evaluate("""() => ({
        action: Array.from(document.querySelectorAll('tbody[data-live-rows="action"] tr')).map(r => r.textContent),
        parking: Array.from(document.querySelectorAll('tbody[data-live-rows="parking_lot"] tr'))
          .map(r => r.textContent),
        closed: Array.from(document.querySelectorAll('ul[data-live-closed] li')).map(r => r.textContent),
        pastDue: document.querySelector('p[data-live-past-due]').textContent,
        note: document.querySelector('p[data-live-status]').hidden ? null
          : document.querySelector('p[data-live-status]').textContent,
    })""")


def test_the_page_shows_other_attendees_changes_without_reloading(browser, room):
    archive, srv, url = room
    port = srv.server_address[1]
    with open_page(browser, url, width=1280, height=720) as (page, log):
        page.evaluate("window.__notReloaded = true")
        page.wait_for_timeout(500)  # the first poll
        page.evaluate("window.__changes = 0; document.addEventListener('opsmeeting:live', () => window.__changes++)")
        start = section_texts(page)
        assert any("Runbook for PSP timeouts" in row for row in start["action"]), start
        assert "Rotate the TLS certificate" in start["pastDue"] and start["closed"] == []
        field = page.locator("#parking-lot-form input[name=text]")
        field.scroll_into_view_if_needed()
        field.click()
        page.keyboard.type("half-typed topic")
        where = "document.querySelector('#parking-lot-form').getBoundingClientRect().top"
        top = page.evaluate(where)
        assert 0 < top < 720
        page.wait_for_timeout(2500)  # a poll or two on the unchanged state

        good = {"X-CSRF-Token": srv.token, "Origin": f"http://127.0.0.1:{port}"}
        status, body = request(port, "POST", "/api/items", {"team": "platform", "while_listening_to": "search",
                                                           "text": "<b>Attendee B's</b> topic"}, good)
        assert status == 200
        new_id = json.loads(body)["id"]
        with Store.open(load_config(archive).state.path) as store:
            book = ItemBook(store)
            late = next(i for i in book.list() if i.text == "Rotate the TLS certificate")
            book.done(late.id, now=NOW)
        page.wait_for_function(
            """([id, late]) => {
                const row = document.querySelector(`tbody[data-live-rows="parking_lot"] tr[data-item-id="${id}"]`);
                const closed = document.querySelector(`ul[data-live-closed] li[data-item-id="${late}"]`);
                const open = document.querySelector(`tbody[data-live-rows="action"] tr[data-item-id="${late}"]`);
                return row && closed && !open;
            }""", arg=[new_id, late.id], timeout=5000)

        after = section_texts(page)
        assert page.evaluate("window.__notReloaded") is True
        assert page.evaluate("window.__changes") >= 1  # told the slides' copies too
        row = page.locator(f'tbody[data-live-rows="parking_lot"] tr[data-item-id="{new_id}"]')
        assert "<b>Attendee B's</b> topic" in row.text_content() and row.locator("b").count() == 0  # text, not markup
        assert "raised while search presented" in row.text_content() and "platform" in row.text_content()
        assert row.evaluate("r => r.classList.contains('live-new')")  # highlighted for a moment
        assert after["closed"] == [f"#{late.id} Rotate the TLS certificate (platform, closed 17 Nov)"]
        assert not page.locator('p[data-live-closed-none]').is_visible()
        assert not page.locator('p[data-live-past-due]').is_visible()  # the only past-due item was closed
        assert any("Runbook for PSP timeouts" in r for r in after["action"]) and len(after["action"]) == 1
        assert after["note"] is None
        # the room's focus and typing are untouched, and the form stays where it was on the screen (the
        # page scrolls by what was added or removed above it)
        assert page.evaluate("document.activeElement === document.querySelector('#parking-lot-form input[name=text]')")
        assert field.input_value() == "half-typed topic"
        assert abs(page.evaluate(where) - top) <= 2, (top, page.evaluate(where))
        page.wait_for_function(f"""() => !document.querySelector('tr[data-item-id="{new_id}"]')
                                   .classList.contains('live-new')""", timeout=8000)
        # read further down, past section 4: a row added above does not move what is on the screen
        page.locator("#appendix").scroll_into_view_if_needed()
        page.evaluate("document.activeElement.blur()")
        below = "document.querySelector('#appendix').getBoundingClientRect().top"
        top = page.evaluate(below)
        status, body = request(port, "POST", "/api/items", {"team": "search", "text": "One more topic"}, good)
        assert status == 200
        page.locator(f'tr[data-item-id="{json.loads(body)["id"]}"]').wait_for(state="attached", timeout=5000)
        assert abs(page.evaluate(below) - top) <= 2, (top, page.evaluate(below))
        assert not log.problems(), log.problems()
        others = [r for r in log.requests if r != url and not r.startswith(("data:", f"http://127.0.0.1:{port}{LIVE_ROUTE}?"))]
        assert others == [], others


def test_live_updates_pause_after_failures_and_resume(browser, room):
    archive, _, url = room
    with open_page(browser, url) as (page, log):
        page.wait_for_timeout(500)
        page.route(LIVE_REQUEST, lambda route: route.abort())
        note = page.locator("p[data-live-status]")
        note.wait_for(state="visible", timeout=15_000)
        assert "Live updates paused" in note.text_content() and note.locator("button").count() == 1
        asked = len([r for r in log.requests if LIVE_ROUTE in r])
        page.wait_for_timeout(3 * LIVE_INTERVAL_MS)
        assert len([r for r in log.requests if LIVE_ROUTE in r]) == asked  # paused: no more polls
        page.unroute(LIVE_REQUEST)
        topic = add_directly(archive, kind="parking_lot", team="search", text="Added while paused")
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # the page is shown again
        note.wait_for(state="hidden", timeout=5000)
        page.locator(f'tbody[data-live-rows="parking_lot"] tr[data-item-id="{topic}"]').wait_for(timeout=5000)
        # the aborted requests are reported by the browser itself ("Failed to load resource"), not by the script
        assert not log.page_errors, log.page_errors
        assert all("Failed to load resource" in m.text for m in log.console_errors()), log.problems()


def test_a_file_page_stays_still(browser, room):
    archive, _, _ = room
    report = next(load_config(archive).output.directory.glob("*/report.html"))
    with open_page(browser, report.as_uri()) as (page, log):
        page.wait_for_timeout(LIVE_INTERVAL_MS + 1000)
        assert [r for r in log.requests if not r.startswith("data:")] == [report.as_uri()], log.requests
        assert section_texts(page)["note"] is None
        assert not log.problems(), log.problems()

