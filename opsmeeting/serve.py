"""`opsmeeting serve`: the report archive for the meeting room, with two write actions.

- ``POST /api/wheel/accept`` records the wheel's pick (the page's Accept button);
- ``POST /api/items`` adds a parking-lot item from the page.

It binds to 127.0.0.1 unless told otherwise (``--host`` with ``--allow-public``), serves only
files under the output folder, and refuses cross-site writes: the Host header must name this
server, an Origin header (when sent) must be this server's, and every write carries the CSRF
token that the server embeds in the pages it serves (random per start, compared in constant time).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import mimetypes
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from opsmeeting import wheel_store
from opsmeeting.config import Config
from opsmeeting.errors import InputError
from opsmeeting.items import ItemBook
from opsmeeting.store import Store
from opsmeeting.wheel_store import record_pick

MAX_BODY = 16 * 1024
SERVE_MARKER = "</head>"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class MeetingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, config: Config, host: str, port: int, *, now: Callable[[], datetime]) -> None:
        self.config = config
        self.root = config.output.directory.resolve()
        self.token = secrets.token_urlsafe(32)
        self.now = now
        self.lock = threading.Lock()
        super().__init__((host, port), Handler)

    @property
    def origins(self) -> set[str]:
        host, port = self.server_address[:2]
        names = {str(host)}
        if is_loopback(str(host)):
            names |= {"127.0.0.1", "localhost", "[::1]"}
        return {f"{name}:{port}" for name in names}


class Handler(BaseHTTPRequestHandler):
    server: MeetingServer
    server_version = "opsmeeting"
    sys_version = ""

    # --- reading -------------------------------------------------------------------------------

    def do_GET(self) -> None:
        if not self._host_ok():
            return
        path = unquote(urlsplit(self.path).path)
        target = (self.server.root / path.lstrip("/")).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(self.server.root) or not target.is_file() or target.name.startswith("."):
            self._error(HTTPStatus.NOT_FOUND, "not found")
            return
        body = target.read_bytes()
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if target.suffix == ".html":
            body = self._inject(body, target)
            kind = "text/html; charset=utf-8"
        self._send(HTTPStatus.OK, body, kind)

    def _inject(self, body: bytes, target: Path) -> bytes:
        """Tell a served page where to record, with this server's CSRF token and the wheel as the
        store has it now (the page may have been rendered before the last pick)."""
        with self.server.lock, Store.open(self.server.config.state.path) as store:
            live = wheel_store.live_rows(store, self.server.config, self.server.now(),
                                         target.with_name("scorecards.json"))
        info = json.dumps({"record_url": "/api/wheel/accept", "items_url": "/api/items",
                           "csrf_token": self.server.token, "wheel": live}).replace("</", "<\\/")
        tag = f'<script type="application/json" id="opsmeeting-serve">{info}</script>{SERVE_MARKER}'
        return body.decode("utf-8").replace(SERVE_MARKER, tag, 1).encode("utf-8")

    # --- writing -------------------------------------------------------------------------------

    def do_POST(self) -> None:
        if not self._host_ok() or not self._origin_ok():
            return
        data = self._json_body()
        if data is None:
            return
        supplied = self.headers.get("X-CSRF-Token") or str(data.get("csrf_token", ""))
        if not hmac.compare_digest(supplied.encode(), self.server.token.encode()):
            self._error(HTTPStatus.FORBIDDEN, "missing or wrong CSRF token")
            return
        route = urlsplit(self.path).path
        try:
            with self.server.lock, Store.open(self.server.config.state.path) as store:
                if route == "/api/wheel/accept":
                    result = record_pick(store, self.server.config, str(data.get("team", "")),
                                         now=self.server.now(), rigged=bool(data.get("rigged", False)),
                                         reason=data.get("reason"))
                elif route == "/api/items":
                    result = self._add_item(store, data)
                else:
                    self._error(HTTPStatus.NOT_FOUND, "no such action")
                    return
        except InputError as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
            return
        self._send(HTTPStatus.OK, json.dumps({"ok": True, **result}).encode(), "application/json")

    def _add_item(self, store: Store, data: dict[str, Any]) -> dict[str, Any]:
        teams = {t.name for t in self.server.config.teams}
        team, listening = data.get("team"), data.get("while_listening_to") or None
        if team not in teams or (listening is not None and listening not in teams):
            raise InputError("team and while_listening_to must be configured teams")
        item_id = ItemBook(store).add(kind="parking_lot", team=str(team), text=str(data.get("text", ""))[:2000],
                                      while_listening_to=listening, now=self.server.now())
        return {"id": item_id}

    # --- checks --------------------------------------------------------------------------------

    def _host_ok(self) -> bool:
        if self.headers.get("Host", "") not in self.server.origins:
            self._error(HTTPStatus.MISDIRECTED_REQUEST, "unexpected Host header")
            return False
        return True

    def _origin_ok(self) -> bool:
        origin = self.headers.get("Origin")
        if origin is None:
            return True  # same-origin fetches from older browsers; the CSRF token still applies
        parts = urlsplit(origin)
        if parts.scheme != "http" or parts.netloc not in self.server.origins:
            self._error(HTTPStatus.FORBIDDEN, "cross-site request refused")
            return False
        return True

    def _json_body(self) -> dict[str, Any] | None:
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send application/json")
            return None
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > MAX_BODY:
            self._error(HTTPStatus.BAD_REQUEST, "body missing or too large")
            return None
        try:
            data = json.loads(self.rfile.read(length))
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST, "body is not JSON")
            return None
        if not isinstance(data, dict):
            self._error(HTTPStatus.BAD_REQUEST, "body must be a JSON object")
            return None
        return data

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._send(status, json.dumps({"ok": False, "error": message}).encode(), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        self.wfile.write(body)


def make_server(config: Config, host: str = "127.0.0.1", port: int = 8080, *, allow_public: bool = False,
                now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> MeetingServer:
    if not is_loopback(host) and not allow_public:
        raise InputError(f"--host {host}: not a loopback address; add --allow-public to serve the archive and "
                         "accept writes from the network")
    if not config.output.directory.is_dir():
        raise InputError(f"{config.output.directory}: no report archive yet (output.directory); run "
                         "`opsmeeting run` first")
    return MeetingServer(config, host, port, now=now)


def describe(server: MeetingServer) -> str:
    host, port = server.server_address[:2]
    return f"serving {server.root} on http://{host}:{port}/ (Ctrl-C to stop)"
