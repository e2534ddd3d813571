"""`opsmeeting serve`: binding, CSRF, Host and Origin checks, and the page recording wheel picks."""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from opsmeeting import wheel_store
from opsmeeting.cli import main
from opsmeeting.config import load_config
from opsmeeting.errors import InputError
from opsmeeting.items import ItemBook
from opsmeeting.serve import make_server
from opsmeeting.store import Store
from tests.accounts import quiet_account
from tests.browser import browser_required, launch, open_page, unavailable_reason


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """A configuration and one rendered rotation of a quiet account (the page is what matters here)."""
    root = tmp_path_factory.mktemp("serve")
    path = root / "opsmeeting.yaml"
    with quiet_account() as sources:
        path.write_text(yaml.safe_dump({
            "rotation": {"length": "14d", "anchor": "2026-01-12T09:00:00", "timezone": "Europe/Lisbon"},
            "teams": [{"name": "payments"}, {"name": "platform"}, {"name": "search"}],
            "services": [{"name": "checkout", "team": "payments", "pagerduty_service_ids": ["PS1"]}],
            "sources": sources,
            "output": {"directory": "reports"},
            "state": {"path": "state.sqlite"},
        }))
        with pytest.raises(SystemExit) as info:
            main(["run", "-c", str(path), "--as-of", "2026-11-17T12:00Z", "--no-pdf"])
    assert info.value.code == 0
    return path


@pytest.fixture
def server(archive) -> Iterator[tuple[str, int]]:
    config = load_config(archive)
    srv = make_server(config, "127.0.0.1", 0, now=lambda: datetime(2026, 11, 17, 12, tzinfo=UTC))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.token, srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def request(port: int, method: str, path: str, body: dict | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    payload = json.dumps(body).encode() if body is not None else None
    base = {"Host": f"127.0.0.1:{port}"}
    if payload is not None:
        base["Content-Type"] = "application/json"
    conn.request(method, path, body=payload, headers={**base, **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def test_never_binds_publicly_unless_told(archive):
    config = load_config(archive)
    with pytest.raises(InputError, match="--allow-public"):
        make_server(config, "0.0.0.0", 0)


def test_serves_the_archive_with_the_token_and_nothing_else(server):
    token, port = server
    status, body = request(port, "GET", "/")
    assert status == 200 and b"Ops Meeting archive" in body
    status, index = request(port, "GET", "/index.html")
    folder = re.search(r'href="([^"/]+)/report\.html"', index.decode()).group(1)
    status, page = request(port, "GET", f"/{folder}/report.html")
    assert status == 200 and token.encode() in page and b'id="opsmeeting-serve"' in page
    for path in ("/../opsmeeting.yaml", "/%2e%2e/state.sqlite", f"/{folder}/.lock", "/state.sqlite"):
        assert request(port, "GET", path)[0] == 404, path
    assert request(port, "GET", "/", headers={"Host": "evil.example.com"})[0] == 421


def test_writes_need_token_host_and_origin(server, archive):
    token, port = server
    good = {"X-CSRF-Token": token, "Origin": f"http://127.0.0.1:{port}"}
    assert request(port, "POST", "/api/wheel/accept", {"team": "payments"})[0] == 403  # no token
    assert request(port, "POST", "/api/wheel/accept", {"team": "payments"}, {"X-CSRF-Token": "guess"})[0] == 403
    assert request(port, "POST", "/api/wheel/accept", {"team": "payments"},
                   {**good, "Origin": "https://evil.example.com"})[0] == 403
    assert request(port, "POST", "/api/wheel/accept", {"team": "payments"},
                   {**good, "Host": "evil.example.com"})[0] == 421
    status, body = request(port, "POST", "/api/wheel/accept", {"team": "nobody"}, good)
    assert status == 400 and b"nobody" in body
    status, body = request(port, "POST", "/api/wheel/accept", {"team": "payments"}, good)
    assert status == 200 and json.loads(body)["weights"]["payments"] == 0
    status, body = request(port, "POST", "/api/items",
                           {"team": "search", "while_listening_to": "payments", "text": "Retry PSP calls?"}, good)
    assert status == 200
    config = load_config(archive)
    with Store.open(config.state.path) as store:
        state = wheel_store.load(store, config)
        assert state["payments"].selections == 1 and state["platform"].weight == pytest.approx(1.5)
        items = ItemBook(store).list()
        assert [(i.team, i.while_listening_to, i.text) for i in items][-1] == ("search", "payments", "Retry PSP calls?")


def test_wheel_cli_persists_between_runs(archive, capsys):
    cfg = str(archive)
    for args in (["wheel", "record", "-c", cfg, "platform", "--rigged", "--reason", "we pick platform today"],
                 ["wheel", "exclude", "-c", cfg, "search", "--until", "2099-01-01", "--reason", "offsite"]):
        with pytest.raises(SystemExit) as info:
            main(args)
        assert info.value.code == 0
    with pytest.raises(SystemExit):
        main(["wheel", "show", "-c", cfg])
    out = capsys.readouterr().out
    assert "excluded until 2099-01-01: offsite" in out and "rigged: we pick platform today" in out
    with pytest.raises(SystemExit) as info:
        main(["wheel", "spin", "-c", cfg])
    out = capsys.readouterr().out
    assert info.value.code == 0 and "the wheel suggests: " in out
    suggested = out.split("the wheel suggests: ")[1].split()[0]
    assert suggested not in ("search", "platform")  # excluded, and picked last time
    with pytest.raises(SystemExit) as info:
        main(["wheel", "accept", "-c", cfg])
    assert info.value.code == 0 and f"recorded: {suggested} presents" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["wheel", "accept", "-c", cfg])
    assert info.value.code == 2  # nothing left to accept


def test_the_page_spins_and_records_through_serve(server, archive):
    reason = unavailable_reason()
    if reason:
        if browser_required():
            pytest.fail(reason)
        pytest.skip(reason)
    token, port = server
    config = load_config(archive)
    with Store.open(config.state.path) as store:
        before = sum(p.selections for p in wheel_store.load(store, config).participants.values())
    folder = next(config.output.directory.glob("*/report.html")).parent.name
    with launch() as browser, open_page(browser, f"http://127.0.0.1:{port}/{folder}/report.html") as (page, log):
        page.keyboard.press("6")
        page.click("#wheel-spin")
        page.wait_for_function("!document.getElementById('wheel-accept').disabled", timeout=10_000)
        page.click("#wheel-accept")
        try:
            page.wait_for_function(
                "document.getElementById('wheel-status').textContent.indexOf('Recorded') >= 0", timeout=10_000)
        except Exception:
            raise AssertionError(page.eval_on_selector("#wheel-status", "e => e.textContent")) from None
        page.keyboard.press("4")
        page.fill("#parking-lot-form input[name=text]", "Page-added topic")
        page.click("#parking-lot-form button[type=submit]")
        page.wait_for_function("document.getElementById('parking-lot-status').textContent.indexOf('Added') >= 0",
                               timeout=10_000)
        assert not log.problems(), log.problems()
    with Store.open(config.state.path) as store:
        after = sum(p.selections for p in wheel_store.load(store, config).participants.values())
        assert after == before + 1
        assert ItemBook(store).list()[-1].text == "Page-added topic"
    del token
