"""`opsmeeting serve`: the report archive for the meeting room, with two write actions and one live read.

- ``POST /api/wheel/accept`` records the wheel's pick (the page's Accept button);
- ``POST /api/items`` adds a parking-lot item from the page;
- ``GET /api/meeting?report=<folder>[&since=<cursor>]`` answers section 4 of that report as the store
  has it now (open action items and parking-lot entries, items closed since the window's start), for
  the page's live updates (``templates/live.js``).

It binds to 127.0.0.1 unless told otherwise (``--host`` with ``--allow-public``), serves only
files under the output folder, and refuses cross-site writes: the Host header must name this
server, an Origin header (when sent) must be this server's, and every write carries the CSRF
token that the server embeds in the pages it serves (random per start, compared in constant time).

The names a Host (and an Origin) may carry are 127.0.0.1, localhost and [::1] with the server's
port, the bound address itself when it is a specific one, and, with ``--allow-public``, every
``--public-host`` (``name`` or ``name:port``; a bare name takes the server's port). A wildcard bind
(``--host 0.0.0.0`` or ``--host ::``) is no name a browser can type: without ``--public-host`` it
answers only browsers on this machine, so the meeting room's browsers need ``--public-host <the
name they type>`` (``--public-host ops-room.example.com``, ``--public-host 192.0.2.10``).

Every malformed request gets a 4xx JSON answer (``{"ok": false, "error": "..."}``); an unexpected
error gets a 500 JSON answer and one log entry on stderr (never the request body). Each connection
has a socket timeout (``timeout``, 10 s): a request that stalls, or a connection left idle, is
closed (a stalled body gets a 408 first), and at most ``max_in_flight`` connections are handled at
once (beyond that the server answers 503 at once and closes).

Live updates are polled, not pushed. A served page asks ``GET /api/meeting`` every
``LIVE_INTERVAL_MS`` (2 s) while it is visible; server-sent events would hold one connection per open
page for the whole meeting, against ``max_in_flight`` and the socket timeout that closes idle
connections, and proxies between the room and the server often buffer such streams, while a poll is
an ordinary short request that any proxy passes. A poll costs little and the work per request is
bounded: every poll of one report within ``LIVE_FRESH`` (1 s) gets the same answer, computed once
(one bounded query, at most ``LIVE_MAX_ITEMS`` rows; a write through this server refreshes it at
once, a write from the CLI reaches it within a second), and a poll that sends the cursor of the state it
already has (a hash of that state) gets ``{"ok": true, "changed": false, "cursor": ...}``. The read
follows the Host and Origin rules of the writes (a cross-site page cannot read it); it needs no CSRF
token, and answers only what section 4 of the page shows.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import json
import mimetypes
import re
import secrets
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opsmeeting.config import Config
from opsmeeting.errors import InputError
from opsmeeting.meeting import wheel_store
from opsmeeting.meeting.items import ItemBook
from opsmeeting.meeting.known import team_names
from opsmeeting.meeting.wheel_store import record_pick
from opsmeeting.store import Store
from opsmeeting.timefmt import iso_z, parse_iso

MAX_BODY = 16 * 1024
MAX_PATH = 2048  # characters of the request target
MAX_TEXT = 2000  # characters of a parking-lot item (the page's maxlength)
SERVE_MARKER = "</head>"
DEFAULT_TIMEOUT = 10.0  # seconds a connection may stall (per read or write)
DEFAULT_MAX_IN_FLIGHT = 256  # connections handled at once; beyond that, 503
LINGER_BYTES = 1024 * 1024  # unread request body drained after an early answer, so the client sees it
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
ROUTES = ("/api/wheel/accept", "/api/items")
LIVE_ROUTE = "/api/meeting"
LIVE_INTERVAL_MS = 2000  # how often a visible served page polls LIVE_ROUTE (live.js reads it from the page)
LIVE_FRESH = 1.0  # seconds one computed answer serves every poll of its report
LIVE_MAX_ITEMS = 500  # items (open, and closed since the window's start) in one answer; beyond, "truncated"
LIVE_REPORTS = 64  # reports whose answers (and scorecards.json facts) are kept at once
_CURSOR = re.compile(r"[0-9a-f]{20}")
_HOSTNAME = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def host_names(value: str, port: int) -> set[str]:
    """The Host header values that name ``value`` (``name``, ``name:port``, an IP address, or a
    bracketed IPv6 address with or without a port); a bare name takes ``port``. Port 80 is also
    accepted without it, as browsers send it."""
    text = value.strip().lower()
    problem = InputError(f"--public-host {value!r}: give the host name (or address) the browsers type, "
                         "optionally with :port, e.g. ops-room.example.com or 192.0.2.10:8080 (no scheme, no path)")
    if not text or any(c in text for c in "/@?# "):
        raise problem
    name, given = text, None
    if text.startswith("["):  # [IPv6] or [IPv6]:port
        inner, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")) or ":" not in inner:
            raise problem
        name, given = inner, rest[1:] if rest else None
    elif text.count(":") == 1:
        name, given = text.split(":")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        if text.startswith("["):
            raise problem from None
        address = None
        if not name.isascii():
            try:
                name = name.encode("idna").decode("ascii")
            except UnicodeError:
                raise problem from None
        if not _HOSTNAME.fullmatch(name):
            raise problem from None
    if address is not None:
        if address.is_unspecified:
            raise InputError(f"--public-host {value!r}: a wildcard address is no name a browser can type")
        name = f"[{address.compressed}]" if address.version == 6 else address.compressed
    if given is not None and not (given.isascii() and given.isdigit() and 0 < int(given) < 65536):
        raise problem
    port_number = int(given) if given is not None else port
    names = {f"{name}:{port_number}"}
    if port_number == 80:
        names.add(name)
    return names


def accepted_hosts(host: str, port: int, public_hosts: Iterable[str]) -> frozenset[str]:
    """The Host (and Origin netloc) values this server answers: the loopback names, the bound
    address when it is a specific one, and the public host names, each with ``port``."""
    names = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    if port == 80:
        names |= set(LOOPBACK_NAMES)
    if not is_wildcard(host) and not is_loopback(host):
        with contextlib.suppress(InputError):  # a bind address with no Host form (e.g. a scoped IPv6 one)
            names |= host_names(host, port)
    for public in public_hosts:
        names |= host_names(public, port)
    return frozenset(names)


class RequestProblem(Exception):
    """A request this server will not act on: answered with ``status`` and a JSON error."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LiveOpenItem(TypedDict):
    """An open item as a row of section 4's tables shows it."""

    id: int
    kind: str  # "action" or "parking_lot": which table
    text: str
    link: str | None
    team_name: str
    owner: str | None
    due: str | None  # YYYY-MM-DD
    age_days: int
    past_due: bool
    while_listening_to: str | None


class LiveClosedItem(TypedDict):
    """An item closed since the window's start, as the "Closed since the last meeting" list shows it."""

    id: int
    text: str
    team_name: str
    closed: str  # the local date as the page shows it ("23 Oct")


class LiveState(TypedDict):
    open: list[LiveOpenItem]
    closed: list[LiveClosedItem]
    truncated: bool  # more than LIVE_MAX_ITEMS items: the lists hold the first ones


@dataclass(frozen=True)
class ReportFacts:
    """What a live answer needs of a report (from its scorecards.json): the window's start (items
    closed since then were closed since the last meeting), its time zone, its teams' names."""

    start: datetime
    zone: ZoneInfo
    team_names: dict[str, str]


@dataclass(frozen=True)
class LiveAnswer:
    made: float  # time.monotonic() when the store was read
    cursor: str
    full: bytes  # the JSON answer with the state
    unchanged: bytes  # the JSON answer to a poll that already has this cursor


def report_facts(cards: Path) -> ReportFacts:
    """The facts of the report whose scorecards.json is ``cards``; a 404 when it cannot be read."""
    try:
        data = json.loads(cards.read_text(encoding="utf-8"))
        window = data["window"]
        start, zone = parse_iso(window["start"]), ZoneInfo(window["timezone"])
        names = {t["team"]: t.get("display_name") or t["team"] for t in data.get("teams") or []}
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in names.items()):
            raise TypeError("team names")
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ZoneInfoNotFoundError):
        raise RequestProblem(HTTPStatus.NOT_FOUND, "this report has no readable scorecards.json") from None
    return ReportFacts(start=start, zone=zone, team_names=names)


def live_state(store: Store, facts: ReportFacts, now: datetime) -> LiveState:
    """Section 4 as the store has it at ``now``: open items (in id order, as the report lists them) and
    items closed since the window's start, at most LIVE_MAX_ITEMS of them in one bounded query."""
    floor = iso_z(facts.start - timedelta(seconds=1))  # closed_at is ISO text: a lexical floor, the exact test below
    rows = store.db.execute(
        "SELECT id, kind, team, owner, due, text, link, status, while_listening_to, created_at, closed_at "
        "FROM items WHERE status = 'open' OR (status = 'done' AND closed_at >= ?) ORDER BY id LIMIT ?",
        (floor, LIVE_MAX_ITEMS + 1)).fetchall()
    today = now.date()
    opened: list[LiveOpenItem] = []
    closed: list[LiveClosedItem] = []
    for (item_id, kind, team, owner, due_text, text, link, status, listening, created_at,
         closed_at) in rows[:LIVE_MAX_ITEMS]:
        name = facts.team_names.get(team, team)
        if status == "open":
            due = date.fromisoformat(due_text) if due_text else None
            opened.append(LiveOpenItem(
                id=item_id, kind=kind, text=text, link=link, team_name=name, owner=owner,
                due=due.isoformat() if due else None, age_days=(now - parse_iso(created_at)).days,
                past_due=due is not None and due < today, while_listening_to=listening))
        elif closed_at and (moment := parse_iso(closed_at)) >= facts.start:
            closed.append(LiveClosedItem(id=item_id, text=text, team_name=name,
                                         closed=moment.astimezone(facts.zone).strftime("%-d %b")))
    return LiveState(open=opened, closed=closed, truncated=len(rows) > LIVE_MAX_ITEMS)


def live_answer(state: LiveState, made: float) -> LiveAnswer:
    canonical = json.dumps(state, sort_keys=True, separators=(",", ":")).encode()
    cursor = hashlib.sha256(canonical).hexdigest()[:20]
    return LiveAnswer(
        made=made, cursor=cursor,
        full=json.dumps({"ok": True, "changed": True, "cursor": cursor, **state}).encode(),
        unchanged=json.dumps({"ok": True, "changed": False, "cursor": cursor}).encode(),
    )


def _keep(cache: dict[Path, Any], key: Path, value: Any) -> None:
    """Put ``value`` in ``cache`` as its newest entry, dropping the oldest beyond LIVE_REPORTS."""
    cache.pop(key, None)
    while len(cache) >= LIVE_REPORTS:
        cache.pop(next(iter(cache)))
    cache[key] = value


class MeetingServer(ThreadingHTTPServer):
    server_address: tuple[str, int] | tuple[str, int, int, int]  # an AF_INET(6) socket's name: the host is a str
    daemon_threads = True
    block_on_close = False  # Ctrl-C does not wait for idle connections to time out
    request_queue_size = 256  # the listen backlog (the standard library's 5 drops a room's burst of connections)

    def __init__(self, config: Config, host: str, port: int, *, now: Callable[[], datetime],
                 public_hosts: Iterable[str] = (), timeout: float | None = DEFAULT_TIMEOUT,
                 max_in_flight: int = DEFAULT_MAX_IN_FLIGHT) -> None:
        public_hosts = tuple(public_hosts)
        self.config = config
        self.root = config.output.directory.resolve()
        self.token = secrets.token_urlsafe(32)
        self.now = now
        self.lock = threading.Lock()
        self.live_lock = threading.Lock()  # one poll at a time computes a report's answer; the others reuse it
        self.live_answers: dict[Path, LiveAnswer] = {}
        self.live_facts: dict[Path, tuple[tuple[int, int], ReportFacts]] = {}
        self.request_timeout = timeout
        self.max_in_flight = max_in_flight
        self.slots = threading.BoundedSemaphore(max_in_flight)
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), Handler)
        try:
            self.origins = accepted_hosts(host, self.server_address[1], public_hosts)
        except BaseException:
            self.server_close()
            raise
        self.public_hosts = public_hosts

    # --- live updates ----------------------------------------------------------------------------

    def live(self, folder: Path) -> LiveAnswer:
        """The answer for the report in ``folder``: the one computed less than LIVE_FRESH ago, else a
        new one from the store."""
        with self.live_lock:
            kept = self.live_answers.get(folder)
            made = time.monotonic()
            if kept is not None and made - kept.made < LIVE_FRESH:
                return kept
            facts = self._facts(folder / "scorecards.json")
            with self.lock, Store.open(self.config.state.path) as store:
                state = live_state(store, facts, self.now())
            answer = live_answer(state, made)
            _keep(self.live_answers, folder, answer)
            return answer

    def forget_live(self) -> None:
        """After a write: the next poll reads the store again."""
        with self.live_lock:
            self.live_answers.clear()

    def _facts(self, cards: Path) -> ReportFacts:
        """A report's facts, read again only when its scorecards.json changed (a new run rewrote it)."""
        try:
            info = cards.stat()
        except OSError:
            raise RequestProblem(HTTPStatus.NOT_FOUND, "no such report") from None
        stamp = (info.st_mtime_ns, info.st_size)
        kept = self.live_facts.get(cards)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        facts = report_facts(cards)
        _keep(self.live_facts, cards, (stamp, facts))
        return facts

    # --- at most max_in_flight connections at once ---------------------------------------------

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            self.shutdown_request(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def _refuse(self, request: socket.socket) -> None:
        """Answer 503 without a thread: the answer, then a short drain of what the client sent (so
        that closing does not reset the connection before the client reads the answer)."""
        body = json.dumps({"ok": False, "error": "the server is busy; try again in a moment"}).encode()
        head = (f"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n").encode()
        try:
            request.settimeout(0.1)
            request.sendall(head + body)
            request.shutdown(socket.SHUT_WR)
            for _ in range(4):  # bounded: this runs on the accepting thread
                if not request.recv(65536):
                    break
        except OSError:
            pass
        finally:
            self.close_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # the client went away or the connection broke: one line, no traceback
            sys.stderr.write(f"opsmeeting serve: connection from {client_address[0]} ended: {exc!r}\n")
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    server: MeetingServer
    server_version = "opsmeeting"
    sys_version = ""
    default_request_version = "HTTP/1.0"  # answers to unparseable request lines carry a status line too
    # typeshed declares it a ClassVar; StreamRequestHandler.setup reads it per instance, set in setup() below
    timeout: float | None = DEFAULT_TIMEOUT  # type: ignore[misc]
    raw_requestline: bytes  # set by handle_one_request (undeclared in typeshed)

    def setup(self) -> None:
        self.timeout = self.server.request_timeout
        self._responded = False
        self._unread_body = False
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
            if self._unread_body:
                self._linger()
        except OSError:
            pass

    def _linger(self) -> None:
        """The answer went out before the request body was read: read (and drop) a bounded amount of
        it, so that closing does not reset the connection before the client has read the answer."""
        self.connection.shutdown(socket.SHUT_WR)
        self.connection.settimeout(min(self.timeout or 1.0, 1.0))
        left = LINGER_BYTES
        while left > 0:
            chunk = self.connection.recv(min(left, 65536))
            if not chunk:
                break
            left -= len(chunk)

    def parse_request(self) -> bool:
        """The standard library's parsing, but empty lines before the request line are skipped (RFC
        9112, 2.2; a few at most) and headers that stall past the timeout get a 408."""
        for _ in range(8):
            if self.raw_requestline not in (b"\r\n", b"\n"):
                break
            self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536 or self.raw_requestline in (b"\r\n", b"\n"):
            self.requestline, self.command, self.request_version = "", "", self.default_request_version
            self.send_error(HTTPStatus.BAD_REQUEST, "no request line")
            return False
        try:
            return super().parse_request()
        except TimeoutError:
            self._fail(HTTPStatus.REQUEST_TIMEOUT, "the request did not arrive in time")
            return False

    # --- dispatch ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._run(self._get)

    def do_HEAD(self) -> None:
        self._run(self._get)

    def do_POST(self) -> None:
        self._run(self._post)

    def _not_allowed(self) -> None:
        self._run(self._refuse_method)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _not_allowed

    def _refuse_method(self) -> None:
        raise RequestProblem(HTTPStatus.METHOD_NOT_ALLOWED, f"method {self.command} is not supported here")

    def _run(self, action: Callable[[], None]) -> None:
        """Every answer goes through here: problems become 4xx JSON, a stalled body a 408, an
        unexpected error a 500 (logged once, without the request's body)."""
        length = (self.headers.get("Content-Length") or "0").strip()
        if length != "0" or self.headers.get("Transfer-Encoding"):
            self._unread_body = True  # until the body is read
        try:
            action()
        except RequestProblem as problem:
            self._fail(problem.status, problem.message)
        except InputError as exc:
            self._fail(HTTPStatus.BAD_REQUEST, str(exc))
        except TimeoutError:
            self._unread_body = False
            self._fail(HTTPStatus.REQUEST_TIMEOUT, "the request did not arrive in time")
        except ConnectionError:  # the client went away: nothing to answer
            self.close_connection = True
            self._unread_body = False
        except Exception:
            self.log_error("unexpected error answering %s %s (traceback follows)", self.command,
                           self.path[:200])
            traceback.print_exc(file=sys.stderr)
            self._fail(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error: the server logged it")

    def _fail(self, status: HTTPStatus, message: str) -> None:
        self.close_connection = True
        if self._responded:
            return  # the answer had started; the connection is closed
        try:
            self._error(status, message)
        except OSError:
            self._unread_body = False

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own refusals (bad request line, header too long, unknown method)
        as JSON too."""
        self.close_connection = True
        if code == HTTPStatus.NOT_IMPLEMENTED:  # an unknown method: the client's mistake, not the server's
            code, message = HTTPStatus.METHOD_NOT_ALLOWED, f"method {self.command} is not supported here"
        elif code == HTTPStatus.HTTP_VERSION_NOT_SUPPORTED:  # "HTTP/2.0" and the like on an HTTP/1 connection
            code, message = HTTPStatus.BAD_REQUEST, "unsupported HTTP version (send HTTP/1.1 or HTTP/1.0)"
        try:
            text = message or self.responses[code][0]
        except KeyError:
            text = "error"
        self.log_error("code %d, message %s", code, text)
        if not self._responded:
            self._error(HTTPStatus(code), text)

    # --- reading -------------------------------------------------------------------------------

    def _get(self) -> None:
        self._check_host()
        route = self._route()
        if route == LIVE_ROUTE:
            self._live()
            return
        target = self._file(route)
        body = target.read_bytes()
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if target.suffix == ".html":
            body = self._inject(body, target)
            kind = "text/html; charset=utf-8"
        self._send(HTTPStatus.OK, body, kind)

    def _under_root(self, path: str, missing: RequestProblem) -> Path:
        """``path`` (slash-separated) resolved under the archive; ``missing`` when a segment is a dot
        segment or hidden (``..``, ``.git``), has a backslash, or the result lies outside the archive
        (a link out of it included). Raises OSError or ValueError as resolving does."""
        segments = [s for s in path.split("/") if s]
        if any(s.startswith(".") or "\\" in s for s in segments):
            raise missing
        target = self.server.root.joinpath(*segments).resolve()
        if not target.is_relative_to(self.server.root):
            raise missing
        return target

    def _file(self, path: str) -> Path:
        """The file under the archive that ``path`` names; dot segments (``..``, hidden files) and
        anything outside the archive are not found, and nothing outside it is looked at."""
        missing = RequestProblem(HTTPStatus.NOT_FOUND, "not found")
        try:
            target = self._under_root(path, missing)
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file() or target.name.startswith("."):
                raise missing
        except (OSError, ValueError):
            raise missing from None
        return target

    def _inject(self, body: bytes, target: Path) -> bytes:
        """Tell a served page where to record, with this server's CSRF token and the wheel as the
        store has it now (the page may have been rendered before the last pick). Only a report page
        (a scorecards.json beside it) has a wheel and live updates (``meeting_url``): other pages, such
        as the archive index, are served without opening the store."""
        cards = target.with_name("scorecards.json")
        live = meeting_url = None
        if cards.is_file():
            with self.server.lock, Store.open(self.server.config.state.path) as store:
                live = wheel_store.live_rows(store, self.server.config, self.server.now(), cards)
            folder = target.parent.relative_to(self.server.root).as_posix()
            meeting_url = f"{LIVE_ROUTE}?report={quote('' if folder == '.' else folder, safe='/')}"
        info = json.dumps({"record_url": "/api/wheel/accept", "items_url": "/api/items",
                           "csrf_token": self.server.token, "wheel": live, "meeting_url": meeting_url,
                           "meeting_poll_ms": LIVE_INTERVAL_MS}).replace("</", "<\\/")
        tag = f'<script type="application/json" id="opsmeeting-serve">{info}</script>{SERVE_MARKER}'
        return body.decode("utf-8").replace(SERVE_MARKER, tag, 1).encode("utf-8")

    def _live(self) -> None:
        """``GET /api/meeting?report=<folder>[&since=<cursor>]``: section 4 of that report, live."""
        self._check_origin()
        query = self._query(("report", "since"))
        folder = self._report_folder(query.get("report"))
        since = query.get("since")
        if since is not None and not _CURSOR.fullmatch(since):
            raise RequestProblem(HTTPStatus.BAD_REQUEST, "since: expected the cursor of an earlier answer "
                                                         "(20 hexadecimal digits)")
        answer = self.server.live(folder)
        self._send(HTTPStatus.OK, answer.unchanged if since == answer.cursor else answer.full, "application/json")

    def _query(self, allowed: tuple[str, ...]) -> dict[str, str]:
        """The request target's query: each of ``allowed`` at most once, nothing else."""
        raw = self.path.split("#", 1)[0].partition("?")[2]
        problem = RequestProblem(HTTPStatus.BAD_REQUEST, "malformed query: give " + " and ".join(
            f"{name}=..." for name in allowed) + " (each at most once)")
        try:
            pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=bool(raw), errors="strict",
                              max_num_fields=len(allowed))
        except ValueError:  # a field without "=", too many fields, or percent-escapes that are not UTF-8
            raise problem from None
        found: dict[str, str] = {}
        for name, value in pairs:
            if name not in allowed:
                raise RequestProblem(HTTPStatus.BAD_REQUEST, f"unknown query parameter {name[:40]!r}")
            if name in found or _CONTROL.search(value):
                raise problem
            found[name] = value
        return found

    def _report_folder(self, value: str | None) -> Path:
        """The report folder (one with a scorecards.json) under the archive that ``value`` names, with
        the rules of ``_file``: nothing outside the archive is looked at."""
        if value is None:
            raise RequestProblem(HTTPStatus.BAD_REQUEST, "report: required (the report's folder in the archive)")
        missing = RequestProblem(HTTPStatus.NOT_FOUND, "no such report")
        try:
            folder = self._under_root(value, missing)
            if not (folder / "scorecards.json").is_file():
                raise missing
        except (OSError, ValueError):
            raise missing from None
        return folder

    # --- writing -------------------------------------------------------------------------------

    def _post(self) -> None:
        self._check_host()
        self._check_origin()
        route = self._route()
        if route not in ROUTES:
            raise RequestProblem(HTTPStatus.NOT_FOUND, "no such action")
        data = self._json_body()
        supplied = self.headers.get("X-CSRF-Token") or _text(data, "csrf_token") or ""
        if not hmac.compare_digest(supplied.encode("utf-8", "replace"), self.server.token.encode()):
            raise RequestProblem(HTTPStatus.FORBIDDEN, "missing or wrong CSRF token")
        if route == "/api/wheel/accept":  # every field is checked before the store is opened
            team = _required_text(data, "team")
            rigged, reason = _flag(data, "rigged"), _text(data, "reason")
            with self.server.lock, Store.open(self.server.config.state.path) as store:
                result = record_pick(store, self.server.config, team, now=self.server.now(), rigged=rigged,
                                     reason=reason)
        else:
            with self.server.lock, Store.open(self.server.config.state.path) as store:
                item = self._item(data, store)
                result = {"id": ItemBook(store).add(kind="parking_lot", now=self.server.now(), **item)}
            self.server.forget_live()
        self._send(HTTPStatus.OK, json.dumps({"ok": True, **result}).encode(), "application/json")

    def _item(self, data: dict[str, Any], store: Store) -> dict[str, Any]:
        teams = set(team_names(self.server.config, store))
        team = _required_text(data, "team")
        listening = _text(data, "while_listening_to") or None
        text = _required_text(data, "text")
        if team not in teams or (listening is not None and listening not in teams):
            raise InputError("team and while_listening_to must be configured teams")
        if len(text) > MAX_TEXT:
            raise InputError(f"text: at most {MAX_TEXT} characters")
        return {"team": team, "text": text, "while_listening_to": listening}

    # --- checks --------------------------------------------------------------------------------

    def _route(self) -> str:
        """The request target's path, percent-decoded; only an origin-form path of bounded length,
        valid UTF-8 and without control characters is accepted."""
        if len(self.path) > MAX_PATH:
            raise RequestProblem(HTTPStatus.REQUEST_URI_TOO_LONG, f"the path is longer than {MAX_PATH} characters")
        if not self.path.startswith("/"):
            raise RequestProblem(HTTPStatus.BAD_REQUEST, "the request target must be a path")
        raw = self.path.split("?", 1)[0].split("#", 1)[0]
        try:
            path = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            raise RequestProblem(HTTPStatus.BAD_REQUEST, "the path is not valid UTF-8") from None
        if _CONTROL.search(path):
            raise RequestProblem(HTTPStatus.BAD_REQUEST, "the path holds control characters")
        return path

    def _check_host(self) -> None:
        hosts = self.headers.get_all("Host") or []
        if len(hosts) > 1:
            raise RequestProblem(HTTPStatus.BAD_REQUEST, "more than one Host header")
        if not hosts or hosts[0].strip().lower() not in self.server.origins:
            raise RequestProblem(HTTPStatus.MISDIRECTED_REQUEST, "unexpected Host header")

    def _check_origin(self) -> None:
        origin = self.headers.get("Origin")
        if origin is None:
            return  # same-origin fetches from older browsers; the CSRF token still applies
        try:
            parts = urlsplit(origin.strip().lower())
        except ValueError:
            parts = None
        if parts is None or parts.scheme != "http" or parts.netloc not in self.server.origins:
            raise RequestProblem(HTTPStatus.FORBIDDEN, "cross-site request refused")

    def _json_body(self) -> dict[str, Any]:
        kind = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if kind != "application/json":
            raise RequestProblem(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send application/json")
        if self.headers.get("Transfer-Encoding"):
            raise RequestProblem(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length, not chunked")
        lengths = {v.strip() for v in self.headers.get_all("Content-Length") or []}
        if not lengths:
            raise RequestProblem(HTTPStatus.LENGTH_REQUIRED, "a Content-Length is required")
        if len(lengths) > 1:
            raise RequestProblem(HTTPStatus.BAD_REQUEST, "conflicting Content-Length headers")
        raw = lengths.pop()
        if not (raw.isascii() and raw.isdigit()):
            raise RequestProblem(HTTPStatus.BAD_REQUEST, f"Content-Length {raw[:40]!r} is not a number of bytes")
        length = int(raw[:12]) if len(raw) <= 12 else MAX_BODY + 1
        if length == 0:
            raise RequestProblem(HTTPStatus.BAD_REQUEST, "the body is empty")
        if length > MAX_BODY:
            raise RequestProblem(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is larger than {MAX_BODY} bytes")
        payload = self.rfile.read(length)
        self._unread_body = False
        if len(payload) < length:
            raise RequestProblem(HTTPStatus.BAD_REQUEST, "the body is shorter than its Content-Length")
        try:
            data = json.loads(payload.decode("utf-8"))
        except UnicodeDecodeError:
            raise RequestProblem(HTTPStatus.BAD_REQUEST, "the body is not UTF-8") from None
        except (ValueError, RecursionError):
            raise RequestProblem(HTTPStatus.BAD_REQUEST, "the body is not JSON") from None
        if not isinstance(data, dict):
            raise RequestProblem(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
        return data

    # --- answering -----------------------------------------------------------------------------

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._send(status, json.dumps({"ok": False, "error": message}).encode(), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
        self._responded = True
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "GET, HEAD, POST")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _text(data: dict[str, Any], field: str) -> str | None:
    """An optional string field of a posted JSON object (``None`` when absent or null)."""
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RequestProblem(HTTPStatus.BAD_REQUEST, f"{field}: expected a string, got {_json_type(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestProblem(HTTPStatus.BAD_REQUEST, f"{field}: not valid Unicode text") from None
    if "\x00" in value:
        raise RequestProblem(HTTPStatus.BAD_REQUEST, f"{field}: holds a NUL character")
    return value


def _required_text(data: dict[str, Any], field: str) -> str:
    value = _text(data, field)
    if value is None or not value.strip():
        raise RequestProblem(HTTPStatus.BAD_REQUEST, f"{field}: required (a non-empty string)")
    return value


def _flag(data: dict[str, Any], field: str) -> bool:
    value = data.get(field, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise RequestProblem(HTTPStatus.BAD_REQUEST, f"{field}: expected true or false, got {_json_type(value)}")
    return value


def _json_type(value: object) -> str:
    names = {str: "a string", bool: "a boolean", int: "a number", float: "a number", list: "an array",
             dict: "an object"}
    return names.get(type(value), type(value).__name__)


def make_server(config: Config, host: str = "127.0.0.1", port: int = 8080, *, allow_public: bool = False,
                public_hosts: Iterable[str] = (), now: Callable[[], datetime] = lambda: datetime.now(UTC),
                timeout: float | None = DEFAULT_TIMEOUT,
                max_in_flight: int = DEFAULT_MAX_IN_FLIGHT) -> MeetingServer:
    """The server, bound but not yet serving (``serve_forever``).

    ``public_hosts`` (with ``allow_public``) are the names the room's browsers type (``name`` or
    ``name:port``); Host and Origin must name one of them or 127.0.0.1, localhost, [::1] (or the
    bound address when it is a specific one). A wildcard bind (0.0.0.0, ::) with no public host
    answers only this machine's browsers: give ``--public-host <the name they type>`` for the room.
    ``timeout`` is the socket timeout of each connection (seconds); ``max_in_flight`` bounds the
    connections handled at once.
    """
    public_hosts = tuple(public_hosts)
    if not is_loopback(host) and not allow_public:
        raise InputError(f"--host {host}: not a loopback address; add --allow-public to serve the archive and "
                         "accept writes from the network")
    if public_hosts and not allow_public:
        raise InputError(f"--public-host {public_hosts[0]}: accepting requests for other names needs --allow-public")
    for name in public_hosts:
        host_names(name, port or 1)  # a bad name is refused before binding
    if max_in_flight < 1:
        raise InputError("max_in_flight must be at least 1")
    if not config.output.directory.is_dir():
        raise InputError(f"{config.output.directory}: no report archive yet (output.directory); run "
                         "`opsmeeting run` first")
    return MeetingServer(config, host, port, now=now, public_hosts=public_hosts, timeout=timeout,
                         max_in_flight=max_in_flight)


def describe(server: MeetingServer) -> str:
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in str(host) else host
    lines = [f"serving {server.root} on http://{shown}:{port}/ (Ctrl-C to stop)",
             f"accepting Host: {', '.join(sorted(server.origins))}"]
    if is_wildcard(str(host)) and not server.public_hosts:
        lines.append("note: bound to every interface but no --public-host given: only browsers on this machine "
                     "are answered; add --public-host <the name the room's browsers type>")
    return "\n".join(lines)
