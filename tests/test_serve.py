"""`opsmeeting serve`: binding, CSRF, Host and Origin checks (with the room's public host names), the
page recording wheel picks, malformed requests (always a 4xx JSON answer), unexpected errors (a 500
JSON answer, logged once), stalled and idle connections, and the bound on connections at once. The
load test is tests/test_serve_load.py."""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from opsmeeting.cli import main
from opsmeeting.config import load_config
from opsmeeting.errors import InputError
from opsmeeting.meeting import wheel_store
from opsmeeting.meeting.items import ItemBook
from opsmeeting.serve import MeetingServer, accepted_hosts, describe, host_names, make_server
from opsmeeting.store import Store
from tests.accounts import quiet_account
from tests.browser import browser_required, launch, open_page, unavailable_reason

NOW = datetime(2026, 11, 17, 12, tzinfo=UTC)


def make_archive(root: Path) -> Path:
    """A configuration in ``root`` and one rendered rotation of a quiet account; returns its path."""
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


@contextmanager
def running(srv: MeetingServer) -> Iterator[MeetingServer]:
    """``srv`` serving on a thread until the block ends."""
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """A configuration and one rendered rotation of a quiet account (the page is what matters here)."""
    return make_archive(tmp_path_factory.mktemp("serve"))


@pytest.fixture
def server(archive) -> Iterator[tuple[str, int]]:
    with running(make_server(load_config(archive), "127.0.0.1", 0, now=lambda: NOW)) as srv:
        yield srv.token, srv.server_address[1]


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


# --- the room's network: public host names ---------------------------------------------------------


def test_a_wildcard_bind_answers_loopback_names_and_the_public_hosts():
    loopback = {"127.0.0.1:8080", "localhost:8080", "[::1]:8080"}
    for wildcard in ("0.0.0.0", "::"):
        assert accepted_hosts(wildcard, 8080, ()) == loopback  # never "0.0.0.0:8080": no browser sends it
        assert accepted_hosts(wildcard, 8080, ["ops-room.example.com", "192.0.2.10:9000", "2001:db8::7"]) == (
            loopback | {"ops-room.example.com:8080", "192.0.2.10:9000", "[2001:db8::7]:8080"})
    assert accepted_hosts("192.0.2.10", 8080, ()) == loopback | {"192.0.2.10:8080"}  # a specific address names itself
    assert accepted_hosts("0.0.0.0", 80, ["Ops-Room.example.com"]) == {
        "127.0.0.1:80", "localhost:80", "[::1]:80", "127.0.0.1", "localhost", "[::1]",
        "ops-room.example.com:80", "ops-room.example.com"}  # browsers leave out :80
    assert host_names("[2001:db8::7]:8443", 8080) == {"[2001:db8::7]:8443"}
    wildcard = SimpleNamespace(server_address=("0.0.0.0", 8080), root=Path("/srv/reports"), public_hosts=(),
                               origins=accepted_hosts("0.0.0.0", 8080, ()))
    assert "--public-host <the name the room's browsers type>" in describe(wildcard)  # type: ignore[arg-type]
    for bad in ("http://ops-room.example.com", "ops-room.example.com/path", "ops room", "room:99999", "room:x",
                "0.0.0.0", "user@room", "", "[fe80::1", "[room]:8080", "[::1]8080", "[::1]:"):
        with pytest.raises(InputError, match="--public-host"):
            host_names(bad, 8080)


def test_public_hosts_need_allow_public_and_valid_names(archive):
    config = load_config(archive)
    with pytest.raises(InputError, match="--allow-public"):
        make_server(config, "127.0.0.1", 0, public_hosts=["ops-room.example.com"])
    with pytest.raises(InputError, match="--public-host"):
        make_server(config, "127.0.0.1", 0, allow_public=True, public_hosts=["https://ops-room.example.com/"])


def test_allow_public_accepts_the_public_hosts_for_reads_and_writes(archive):
    srv = make_server(load_config(archive), "127.0.0.1", 0, allow_public=True, now=lambda: NOW,
                      public_hosts=["ops-room.example.com", "Room-2.example.com:8443", "192.0.2.10"])
    with running(srv):
        port = srv.server_address[1]
        for host in (f"ops-room.example.com:{port}", f"OPS-ROOM.example.com:{port}", "room-2.example.com:8443",
                     f"192.0.2.10:{port}", f"localhost:{port}", f"[::1]:{port}", f"127.0.0.1:{port}"):
            assert request(port, "GET", "/", headers={"Host": host})[0] == 200, host
        for host in (f"room-2.example.com:{port}", f"0.0.0.0:{port}", f"evil.example.com:{port}",
                     "ops-room.example.com", f"ops-room.example.com.evil.example:{port}"):
            assert request(port, "GET", "/", headers={"Host": host})[0] == 421, host
        room = f"ops-room.example.com:{port}"
        good = {"Host": room, "Origin": f"http://{room}", "X-CSRF-Token": srv.token}
        item = {"team": "search", "text": "Added from the room"}
        status, body = request(port, "POST", "/api/items", item, good)
        assert status == 200 and json.loads(body)["ok"] is True
        evil = {**good, "Origin": f"http://evil.example.com:{port}"}
        assert request(port, "POST", "/api/items", item, evil)[0] == 403
        assert request(port, "POST", "/api/items", item, {**good, "Origin": f"https://{room}"})[0] == 403
        assert "accepting Host:" in describe(srv) and room in describe(srv)


# --- malformed requests ------------------------------------------------------------------------------


def exchange(port: int, data: bytes, *, shut: bool = False, timeout: float = 10) -> tuple[int, dict]:
    """Send raw bytes, read the whole answer (to the server's close); the status and JSON body. A reset
    or a missing answer fails the test."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1."), answer[:200]
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert re.search(rb"(?im)^content-type: application/json", head), head
    return status, json.loads(body)


def post_bytes(port: int, body: bytes, path: str = "/api/items", *, token: str = "", headers: str = "",
               length: str | None = None, kind: str | None = "application/json") -> bytes:
    """A raw POST: Host 127.0.0.1, the CSRF token (if any) as a header, ``headers`` appended as given."""
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
             f"Content-Length: {len(body) if length is None else length}"]
    lines += [f"Content-Type: {kind}"] if kind else []
    lines += [f"X-CSRF-Token: {token}"] if token else []
    return ("\r\n".join(lines) + "\r\n" + headers + "\r\n").encode("latin-1") + body


MALFORMED_GETS = [  # (request target, status)
    ("/%00", 400), ("/reports/a%00b/report.html", 400), ("/%ff%fe", 400), ("/a%0d%0aSet-Cookie:x", 400),
    ("/" + "a" * 3000, 414), ("/" + "a" * 300, 404), ("/../" + "a" * 300, 404), ("/%2e%2e/" + "b" * 300, 404),
    ("/../../../../../../etc/passwd", 404), ("/x/../../opsmeeting.yaml", 404), ("/%2e%2e%2f%2e%2e%2fetc/passwd", 404),
    ("/.private/notes.txt", 404), ("/.private/", 404),
]


@pytest.mark.parametrize(("target", "status"), MALFORMED_GETS, ids=[t[:40] for t, _ in MALFORMED_GETS])
def test_malformed_paths_get_a_4xx_json_answer(server, archive, target, status):
    _, port = server
    hidden = load_config(archive).output.directory / ".private"
    hidden.mkdir(exist_ok=True)
    (hidden / "notes.txt").write_text("not for the room")
    (hidden / "index.html").write_text("<html><head></head></html>")
    got, body = exchange(port, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    assert (got, body["ok"]) == (status, False), body


ITEM = b'{"team": "search", "text": "x"}'
WHEEL = "/api/wheel/accept"
MALFORMED_POSTS: list[tuple[str, bytes, dict, int, str]] = [  # (id, body, post_bytes options, status, error part)
    ("length-abc", ITEM, {"length": "abc"}, 400, "Content-Length"),
    ("length-negative", ITEM, {"length": "-5"}, 400, "Content-Length"),
    ("length-superscript", ITEM, {"length": "\xb2"}, 400, "Content-Length"),  # "²".isdigit() is true
    ("length-zero", ITEM, {"length": "0"}, 400, "empty"),
    ("length-twice", ITEM, {"headers": "Content-Length: 7\r\n"}, 400, "conflicting"),
    ("chunked", b"{}", {"headers": "Transfer-Encoding: chunked\r\n"}, 411, "Content-Length"),
    ("too-large", b"x" * (20 * 1024), {}, 413, "larger"),
    ("shorter-than-length", ITEM, {"length": "100", "shut": True}, 400, "shorter"),
    ("not-utf8", b'{"team": "s\xffarch", "text": "x"}', {}, 400, "UTF-8"),
    ("not-json", b'{"team": ', {}, 400, "not JSON"),
    ("not-an-object", b"[1, 2]", {}, 400, "JSON object"),
    ("nested-too-deep", b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}", {}, 400, "not JSON"),
    ("team-list", b'{"team": ["search"], "text": "x"}', {}, 400, "team: expected a string, got an array"),
    ("text-number", b'{"team": "search", "text": 5}', {}, 400, "text: expected a string, got a number"),
    ("text-missing", b'{"team": "search"}', {}, 400, "text: required"),
    ("text-blank", b'{"team": "search", "text": "   "}', {}, 400, "text: required"),
    ("listening-object", b'{"team": "search", "text": "x", "while_listening_to": {"a": 1}}', {}, 400,
     "while_listening_to: expected a string"),
    ("text-lone-surrogate", b'{"team": "search", "text": "\\ud800 lone"}', {}, 400, "text: not valid Unicode"),
    ("text-nul", b'{"team": "search", "text": "a\\u0000b"}', {}, 400, "text: holds a NUL"),
    ("text-too-long", json.dumps({"team": "search", "text": "x" * 2001}).encode(), {}, 400, "text: at most 2000"),
    ("team-unknown", b'{"team": "nobody", "text": "x"}', {}, 400, "configured teams"),
    ("csrf-token-list", b'{"team": "search", "text": "x", "csrf_token": ["t"]}', {"token": ""}, 400,
     "csrf_token: expected a string"),
    ("rigged-string", b'{"team": "payments", "rigged": "yes"}', {"path": WHEEL}, 400,
     "rigged: expected true or false"),
    ("rigged-number", b'{"team": "payments", "rigged": 1}', {"path": WHEEL}, 400, "rigged: expected true or false"),
    ("reason-number", b'{"team": "payments", "reason": 5}', {"path": WHEEL}, 400, "reason: expected a string"),
    ("wheel-team-list", b'{"team": ["payments"]}', {"path": WHEEL}, 400, "team: expected a string"),
    ("wheel-team-missing", b'{"rigged": false}', {"path": WHEEL}, 400, "team: required"),
    ("no-such-action", ITEM, {"path": "/api/nothing"}, 404, "no such action"),
    ("not-json-type", ITEM, {"headers": "Content-Type: text/plain\r\n", "kind": None}, 415, "application/json"),
]


@pytest.mark.parametrize(("body", "options", "status", "part"), [c[1:] for c in MALFORMED_POSTS],
                         ids=[c[0] for c in MALFORMED_POSTS])
def test_malformed_posts_get_a_4xx_json_answer_naming_the_problem(server, archive, body, options, status, part):
    token, port = server
    options = dict(options)
    shut, path = options.pop("shut", False), options.pop("path", "/api/items")
    options.setdefault("token", token)
    config = load_config(archive)
    with Store.open(config.state.path) as store:
        before = (len(ItemBook(store).list(status=None)), store.load_wheel())
    got, answer = exchange(port, post_bytes(port, body, path, **options), shut=shut)
    assert (got, answer["ok"]) == (status, False) and part in answer["error"], answer
    with Store.open(config.state.path) as store:
        assert (len(ItemBook(store).list(status=None)), store.load_wheel()) == before  # nothing was written
    assert request(port, "GET", "/")[0] == 200  # and the server still answers


MALFORMED_REQUESTS = [  # (id, raw request with {port}, status)
    ("garbage-request-line", "GARBAGE\r\n\r\n", 400),
    ("unknown-method", "BREW / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n", 405),
    ("put", "PUT / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n", 405),
    ("absolute-form", "GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n", 400),
    ("no-host", "GET / HTTP/1.1\r\n\r\n", 421),
    ("two-hosts", "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example.com\r\n\r\n", 400),
    ("http-version-2", "GET / HTTP/2.0\r\nHost: 127.0.0.1:{port}\r\n\r\n", 400),
    ("no-request-line", "\r\n" * 10, 400),
    ("header-too-long", "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Long: " + "y" * 70_000 + "\r\n\r\n", 431),
]


@pytest.mark.parametrize(("raw", "status"), [c[1:] for c in MALFORMED_REQUESTS], ids=[c[0] for c in MALFORMED_REQUESTS])
def test_malformed_requests_get_a_4xx_json_answer(server, raw, status):
    _, port = server
    got, answer = exchange(port, raw.replace("{port}", str(port)).encode())
    assert (got, answer["ok"]) == (status, False), answer


def test_an_empty_line_before_the_request_line_is_skipped(server):
    _, port = server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"\r\nGET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 200 ") and b"Ops Meeting archive" in answer


def test_head_answers_without_a_body(server):
    _, port = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("HEAD", "/", headers={"Host": f"127.0.0.1:{port}"})
    answer = conn.getresponse()
    assert answer.status == 200 and int(answer.getheader("Content-Length")) > 0 and answer.read() == b""
    conn.close()


def test_an_unexpected_error_is_a_500_json_logged_once_without_the_body(server, archive, monkeypatch, capsys):
    token, port = server

    def broken(*args, **kwargs):
        raise RuntimeError("the wheel fell off")

    monkeypatch.setattr("opsmeeting.serve.record_pick", broken)
    monkeypatch.setattr("opsmeeting.serve.wheel_store.live_rows", broken)
    capsys.readouterr()
    status, body = request(port, "POST", "/api/wheel/accept", {"team": "payments", "reason": "SECRET-REASON-4711"},
                           {"X-CSRF-Token": token})
    answer = json.loads(body)
    assert status == 500 and answer["ok"] is False and "Traceback" not in answer["error"]
    assert "wheel fell off" not in answer["error"]
    folder = next(load_config(archive).output.directory.glob("*/report.html")).parent.name
    status, body = request(port, "GET", f"/{folder}/report.html")
    assert status == 500 and json.loads(body)["ok"] is False
    err = capsys.readouterr().err
    assert err.count("Traceback") == 2 and err.count("RuntimeError: the wheel fell off") == 2, err
    assert "SECRET-REASON-4711" not in err


# --- stalled and idle connections, and the bound on connections ----------------------------------------


def test_stalled_bodies_and_idle_connections_are_closed(archive):
    srv = make_server(load_config(archive), "127.0.0.1", 0, now=lambda: NOW, timeout=0.5)
    with running(srv):
        port = srv.server_address[1]
        stalled = []
        for _ in range(50):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(post_bytes(port, b"", token=srv.token, length="100"))  # headers, then nothing
            stalled.append(sock)
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)  # connects, sends nothing
        half = socket.create_connection(("127.0.0.1", port), timeout=10)
        half.sendall(b"GET / HTTP/1.1\r\nHost: 127.0")  # a request line and half a header
        assert request(port, "GET", "/")[0] == 200  # the server answers meanwhile
        for sock in stalled:
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            sock.close()
            assert answer.startswith(b"HTTP/1.0 408 "), answer[:100]
            assert json.loads(answer.partition(b"\r\n\r\n")[2]) == {
                "ok": False, "error": "the request did not arrive in time"}
        answer = b""
        while chunk := half.recv(65536):
            answer += chunk
        half.close()
        assert answer.startswith(b"HTTP/1.0 408 "), answer[:100]  # headers that stall get a 408 too
        assert idle.recv(65536) == b""  # closed by the server, not held
        idle.close()
        assert request(port, "GET", "/")[0] == 200


def test_beyond_max_in_flight_connections_the_server_answers_503(archive):
    srv = make_server(load_config(archive), "127.0.0.1", 0, now=lambda: NOW, timeout=5, max_in_flight=2)
    with running(srv):
        port = srv.server_address[1]
        held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(2)]
        status, body = exchange(port, f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        assert status == 503 and body["ok"] is False and "busy" in body["error"]
        for sock in held:
            sock.close()
        for _ in range(200):  # the slots come back when the held connections end
            status, _ = request(port, "GET", "/")
            if status == 200:
                break
            time.sleep(0.02)
        assert status == 200
