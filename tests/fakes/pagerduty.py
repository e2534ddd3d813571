"""A fake PagerDuty REST API v2 server, validated against PagerDuty's OpenAPI document.

``FakePagerDuty`` serves HTTPS on 127.0.0.1 (a throw-away CA from ``trustme``), so the real
``pagerduty.RestApiV2Client`` talks to it unchanged::

    with FakePagerDuty() as fake:
        fake.incidents = [...]  # API-shaped dicts, see tests.fakes.pagerduty_data
        trust = ssl.create_default_context(cafile=fake.ca_bundle)  # verify=fake.ca_bundle works, deprecated
        client = pagerduty.RestApiV2Client("test-token", base_url=fake.url, verify=trust)
        ...
        fake.assert_valid()  # no request or response broke the OpenAPI document

Every request and response is checked with openapi-core against the official document with
``SPEC_CORRECTIONS`` applied in memory. Behaviour copied from the real API: classic offset
pagination (``limit`` capped at 100, ``more``, ``total`` only with ``total=true``, HTTP 400
past offset + limit = 10,000); incidents oldest first, log entries newest first; ``since`` /
``until`` without an offset read in the ``time_zone`` parameter, else the account's zone;
times rendered in ``time_zone`` (incidents default to UTC, log entries to the account zone);
``is_overview=true`` leaves out ``notify_log_entry``; at most 6 months per ``/incidents``
query (default: the month before ``until``/now; ``date_range=all``: any age); maintenance windows
filtered by ``service_ids[]``, ``team_ids[]`` and ``filter`` (their state at the fake's clock),
rendered in the account's zone (the endpoint takes no ``time_zone``); rate-limit headers; PagerDuty
error bodies. Whether ``until`` is inclusive is undocumented, so ``until_inclusive`` chooses.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
import re
import ssl
import tempfile
import threading
import time
import traceback
from bisect import bisect_left, bisect_right
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NamedTuple
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import trustme
from openapi_core import Config, OpenAPI
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse
from werkzeug.datastructures import ImmutableMultiDict, MultiDict

from tests.clock import session_now
from tests.fakes import pagerduty_data as pd

Obj = dict[str, Any]
Query = MultiDict[str, str]

SPEC_ENV = "OPSMEETING_PAGERDUTY_OPENAPI"
SPEC_HOST = "https://api.pagerduty.com"
ITERATION_LIMIT = 10_000
RATE_LIMIT = 960
QUERY_DATETIME = "pagerduty-query-datetime"

SPEC_CORRECTIONS = (
    "Channel: oneOf -> anyOf (it has no discriminator: a channel with only `type` matches every variant)",
    "AcknowledgeLogEntry.type also accepts `acknowledge_log_entry`, the name the API sends",
    "nullable, as the API sends null: Incident.resolved_at/priority/resolve_reason/alert_grouping, "
    "AcknowledgeLogEntry.acknowledgement_timeout, Oncall.start/end",
    "`...[]` query parameters declared scalar become arrays, so every value is checked, not the first only",
    "query since/until (date-time) also take a `+0000` offset (the client's iter_history) or none (the API's)",
    "log-entry oneOf lists get a discriminator on `type`: one schema checked per entry (~15x faster)",
    "tightening: Incident and LogEntry require the fields the API always sends (`_REQUIRED`); the document "
    "requires none",
)
"""What ``corrected_spec`` changes in the official document, and why."""

_NULLABLE = {
    "Incident": ("resolved_at", "priority", "resolve_reason", "alert_grouping"),
    "AcknowledgeLogEntry": ("acknowledgement_timeout",),
    "Oncall": ("start", "end"),
}
_REQUIRED = {
    "Incident": "id type incident_number title created_at status service urgency assignments acknowledgements teams",
    "LogEntry": "id type created_at incident",
}
_OVERVIEW_EXCLUDED = frozenset({"notify_log_entry"})


def default_spec_path() -> Path:
    """``$OPSMEETING_PAGERDUTY_OPENAPI`` (e.g. the full original), else the subset vendored beside this module:
    ``openapi/pagerduty-openapi-subset.json``, made by ``scripts/vendor_pagerduty_openapi.py`` (see PROVENANCE.md)."""
    env = os.environ.get(SPEC_ENV)
    return Path(env) if env else Path(__file__).resolve().parent / "openapi" / "pagerduty-openapi-subset.json"


def _props(schema: Obj) -> Obj:
    """The part of a component holding ``properties``: itself or its last such ``allOf`` member."""
    if "properties" in schema:
        return schema
    return [part for part in schema["allOf"] if "properties" in part][-1]


def _nullable(schema: Obj) -> Obj:
    if "$ref" in schema or "type" not in schema:  # OAS 3.0.3: nullable needs a type beside it
        return {"anyOf": [schema, {"type": "object", "nullable": True, "enum": [None]}]}
    return {**schema, "nullable": True}


def _parameters(spec: Obj) -> Iterable[Obj]:
    yield from spec["components"]["parameters"].values()
    for item in spec["paths"].values():
        for op in item.values():
            if isinstance(op, dict):
                yield from (p for p in op.get("parameters", []) if "$ref" not in p)


def _add_log_entry_discriminators(node: Any, schemas: Obj) -> None:
    if isinstance(node, list):
        for child in node:
            _add_log_entry_discriminators(child, schemas)
    if not isinstance(node, dict):
        return
    refs = [member.get("$ref", "") for member in node.get("oneOf", [])]
    if refs and all(r.startswith("#/components/schemas/") and r.endswith("LogEntry") for r in refs):
        mapping = {
            value: ref for ref in refs for value in _props(schemas[ref.rsplit("/", 1)[1]])["properties"]["type"]["enum"]
        }
        node["discriminator"] = {"propertyName": "type", "mapping": mapping}
    for child in node.values():
        _add_log_entry_discriminators(child, schemas)


def corrected_spec(path: Path | str | None = None) -> Obj:
    """The official OpenAPI document with ``SPEC_CORRECTIONS`` applied (a fresh dict)."""
    spec: Obj = json.loads(Path(path or default_spec_path()).read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    schemas["Channel"]["anyOf"] = schemas["Channel"].pop("oneOf")
    _props(schemas["AcknowledgeLogEntry"])["properties"]["type"]["enum"].append("acknowledge_log_entry")
    for name, keys in _NULLABLE.items():
        props = _props(schemas[name])["properties"]
        for key in keys:
            props[key] = _nullable(props[key])
    for name, fields in _REQUIRED.items():
        part = _props(schemas[name])
        part["required"] = sorted({*part.get("required", []), *fields.split()})
    for param in _parameters(spec):
        schema = param.get("schema", {})
        if param["name"].endswith("[]") and schema.get("type") != "array":
            item = {k: v for k, v in schema.items() if k != "uniqueItems"}
            param["schema"] = {"type": "array", "items": item, "uniqueItems": True}
        if param.get("in") == "query" and schema.get("format") == "date-time":
            param["schema"] = {**schema, "format": QUERY_DATETIME}
    _add_log_entry_discriminators(spec["paths"], schemas)
    return spec


def _is_query_datetime(value: Any) -> bool:
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


@functools.lru_cache(maxsize=4)
def load_openapi(path: str | None = None) -> OpenAPI:
    """The corrected document as an openapi-core ``OpenAPI``; built once per process and path."""
    config = Config(spec_validator_cls=None, extra_format_validators={QUERY_DATETIME: _is_query_datetime})
    return OpenAPI.from_dict(corrected_spec(path), config=config)


def describe(error: BaseException) -> str:
    """An openapi-core error as text: one line per schema problem, with its JSON path."""
    lines = [f"{type(error).__name__}: {str(error)[:200]}"]
    cause = error.__cause__
    while cause is not None:
        problems = getattr(cause, "schema_errors", None) or ()
        lines += [f"  at /{'/'.join(map(str, p.absolute_path))}: {p.message[:300]}" for p in problems]
        if not problems:
            lines.append(f"  {type(cause).__name__}: {str(cause)[:300]}")
        cause = cause.__cause__
    return "\n".join(lines)


def spec_errors(path: str, body: Obj, *, status: int = 200, openapi: OpenAPI | None = None) -> list[str]:
    """Problems of ``body`` as the response to ``GET path`` (default: the corrected document)."""
    request = MockRequest(SPEC_HOST, "get", path, headers={"Authorization": "Token token=x"})
    response = MockResponse(json.dumps(body).encode(), status)
    return [describe(e) for e in (openapi or load_openapi()).iter_response_errors(request, response)]


# --- the server --------------------------------------------------------------------------------------------


class RecordedRequest(NamedTuple):
    """A request the fake received: method, path, and the query parameters as a multi-dict."""

    method: str
    path: str
    query: ImmutableMultiDict[str, str]


@dataclass
class Fault:
    """A failure injected into the next ``times`` requests whose path starts with ``path_prefix``."""

    path_prefix: str
    status: int | None = None
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    body: bytes | None = None  # answered as is (with ``status``, default 200): a malformed answer
    content_type: str = "application/json; charset=utf-8"


class ApiError(Exception):
    """Raised by an endpoint; answered with PagerDuty's error body."""

    def __init__(self, status: int, message: str, code: int, errors: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.errors = status, message, code, list(errors)

    def body(self) -> Obj:
        return {"error": {"message": self.message, "code": self.code, "errors": self.errors}}


def _invalid(*errors: str) -> ApiError:
    return ApiError(400, "Invalid Input Provided", 2001, errors)


_ERROR_CODES = {400: 2001, 401: 2006, 403: 2010, 404: 2100, 429: 2020}  # PagerDuty's, by HTTP status


@dataclass
class _Index:
    """Items in PagerDuty's order with their sort keys (epoch seconds, negated when newest first)."""

    fingerprint: tuple[int, int]
    items: list[Obj]
    keys: list[float]
    newest_first: bool
    by_id: dict[Any, Obj]
    by_incident: dict[Any, list[Obj]]  # log entries of each incident, newest first


def _sort_key(name: str, item: Obj) -> tuple[bool, Any]:
    return item.get(name) is None, item.get(name) or ""


def make_maintenance_window(
    id: str,
    services: Iterable[Obj],
    start: datetime,
    end: datetime,
    description: str = "",
    *,
    sequence_number: int = 1,
    created_by: Obj | None = None,
) -> Obj:
    """A ``maintenance_window`` as ``GET /maintenance_windows`` returns it (times in UTC; the fake renders
    them in the account's zone). ``services`` are full services (their teams become the window's)."""
    services = list(services)
    teams = {t["id"]: dict(t) for svc in services for t in svc.get("teams", [])}
    window: Obj = {
        "id": id,
        "type": "maintenance_window",
        "summary": description or id,
        "self": f"{pd.API_URL}/maintenance_windows/{id}",
        "html_url": f"{pd.WEB_URL}/service-directory/maintenance-windows/{id}",
        "sequence_number": sequence_number,
        "start_time": pd.iso(start),
        "end_time": pd.iso(end),
        "description": description,
        "services": [pd.ref_of(svc) for svc in services],
        "teams": list(teams.values()),
    }
    if created_by is not None:
        window["created_by"] = pd.ref_of(created_by)
    return window


def _add_months(when: datetime, months: int) -> datetime:
    year, month = divmod(when.month - 1 + months, 12)
    day = min(when.day, 28 if month == 1 else 30 if month in (3, 5, 8, 10) else 31)
    return when.replace(year=when.year + year, month=month + 1, day=day)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    timeout = 30
    server: _Server

    def handle(self) -> None:
        try:
            self.request.do_handshake()  # here, in the connection's thread, not in accept()
        except (ssl.SSLError, OSError):
            return
        super().handle()

    def do_GET(self) -> None:
        self.server.fake._serve(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: FakePagerDuty, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake, self.context = fake, context

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address


class FakePagerDuty:
    """PagerDuty REST API v2 on ``https://127.0.0.1:<port>``; see the module docstring.

    Fill the public data attributes with API-shaped dicts (``tests.fakes.pagerduty_data``):
    ``priorities`` are served as stored (PagerDuty lists them most to least severe);
    ``schedules`` maps ids to schedules whose ``final_schedule.rendered_schedule_entries`` hold
    every shift; ``maintenance_windows`` are ``make_maintenance_window`` dicts. ``validate``: ``True``
    checks requests and responses, ``"requests"`` only requests (for big benchmarks), ``False``
    nothing. ``clock`` gives "now" for default windows and the maintenance windows' states.
    """

    def __init__(
        self,
        token: str = "test-token",
        *,
        validate: bool | Literal["requests"] = True,
        until_inclusive: bool = True,
        account_time_zone: str = "America/New_York",
        clock: Callable[[], datetime] = session_now,
        spec_path: Path | str | None = None,
        rate_limit: int | None = None,
        rate_window: float = 60.0,
    ) -> None:
        self.token, self.validate, self.until_inclusive = token, validate, until_inclusive
        # ``rate_limit``: enforce PagerDuty's limit (requests a minute, sliding): a request past it gets a
        # 429 (code 2020) with the rate-limit headers, and is not served; None only reports the headers.
        # ``rate_window``: the limit's period in seconds (PagerDuty's minute; shorter in tests)
        self.rate_limit, self.rate_window = rate_limit, rate_window
        self.rate_limited = 0  # requests refused with a 429 by ``rate_limit``
        self.account_time_zone, self.clock = account_time_zone, clock
        self.services: list[Obj] = []
        self.teams: list[Obj] = []
        self.users: list[Obj] = []
        self.priorities: list[Obj] = []
        self.incidents: list[Obj] = []
        self.log_entries: list[Obj] = []
        self.schedules: dict[str, Obj] = {}
        self.maintenance_windows: list[Obj] = []  # make_maintenance_window(...)
        self.abilities: list[str] = ["teams", "urgencies", "read_only_users", "service_support_hours"]
        self.requests: list[RecordedRequest] = []
        self.validation_errors: list[str] = []
        self.url = self.ca_bundle = ""
        self._spec_path = str(spec_path) if spec_path else None
        self._faults: list[Fault] = []
        self._counts: Counter[str] = Counter()
        self._recent: deque[float] = deque()
        self._indexes: dict[str, _Index] = {}
        self._filtered: dict[tuple[Any, ...], list[Obj]] = {}  # a list's filtered items by query, for its pages
        self._lock, self._validation_lock = threading.Lock(), threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    # --- lifecycle and test controls ------------------------------------------------------------------------

    def start(self) -> FakePagerDuty:
        """Load the document (when validating), make a CA and a certificate, serve in a daemon thread."""
        if self.validate:
            load_openapi(self._spec_path)
        ca = trustme.CA()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-pagerduty-")
        self.ca_bundle = str(Path(self._tmp.name) / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_bundle)
        self._server = _Server(self, context)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True, name="fake-pagerduty"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and delete the CA file."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._tmp is not None:
            self._tmp.cleanup()
        self._server = self._thread = self._tmp = None

    def __enter__(self) -> FakePagerDuty:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def inject(
        self,
        path_prefix: str,
        *,
        status: int | None = None,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        drop: bool = False,
        body: bytes | None = None,
        content_type: str = "application/json; charset=utf-8",
    ) -> Fault:
        """The next ``times`` requests whose path starts with ``path_prefix`` wait ``delay`` seconds,
        then have their connection closed without a response (``drop``), or get ``status`` with
        PagerDuty's error body (429: code 2020) and exactly ``headers`` (for example
        ``ratelimit-reset``), or else are served normally. The oldest matching fault applies first;
        injected answers are counted and recorded but not validated. ``body`` answers those bytes as
        they are, with ``content_type`` and ``status`` (default 200): HTML from a proxy, an empty or a
        malformed body.
        """
        if status is None and not drop and delay <= 0 and body is None:
            raise ValueError("give status, drop, delay or body")
        fault = Fault(path_prefix, status, times, dict(headers or {}), delay, drop, body, content_type)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Forget the injected faults not used up yet."""
        with self._lock:
            self._faults.clear()

    def request_counts(self) -> dict[str, int]:
        """Requests per endpoint, e.g. ``{"GET /incidents/{id}/log_entries": 3}`` (unknown paths as sent)."""
        with self._lock:
            return dict(self._counts)

    def reset_counts(self) -> None:
        """Forget the recorded requests (``requests``) and their counts."""
        with self._lock:
            self._counts.clear()
            self.requests.clear()

    def assert_valid(self) -> None:
        """Raise ``AssertionError`` listing every request and response that failed validation."""
        if self.validation_errors:
            raise AssertionError(
                f"{len(self.validation_errors)} OpenAPI validation error(s):\n" + "\n".join(self.validation_errors)
            )

    def reindex(self) -> None:
        """Re-sort after editing stored items in place (a replaced or resized list is noticed by itself)."""
        with self._lock:
            self._indexes.clear()
            self._filtered.clear()

    # --- request handling ---------------------------------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        path, method = split.path.rstrip("/") or "/", handler.command
        query = ImmutableMultiDict(parse_qsl(split.query, keep_blank_values=True))
        if length := int(handler.headers.get("Content-Length") or 0):
            handler.rfile.read(length)
        route = next(
            ((template, m.groupdict()) for pattern, template in _ROUTES if (m := pattern.fullmatch(path))), None
        )
        with self._lock:
            self.requests.append(RecordedRequest(method, path, query))
            self._counts[f"{method} {route[0] if route else path}"] += 1
            refused = self._over_rate_limit()
            if not refused:
                self._recent.append(time.monotonic())
            fault = next((f for f in self._faults if path.startswith(f.path_prefix)), None)
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
        if refused:
            body = ApiError(429, "Too Many Requests", 2020, ["Rate limit exceeded"]).body()
            self._send(handler, 429, json.dumps(body).encode(), self._rate_headers())
            return
        if fault is not None:
            time.sleep(fault.delay)
            if fault.drop:
                handler.close_connection = True
                return
            if fault.body is not None:
                self._send(handler, fault.status or 200, fault.body, {**fault.headers,
                                                                      "Content-Type": fault.content_type})
                return
            if fault.status is not None:
                code, message = _ERROR_CODES.get(fault.status, 2000), HTTPStatus(fault.status).phrase
                body = ApiError(fault.status, message, code, ["injected by the test"]).body()
                self._send(handler, fault.status, json.dumps(body).encode(), fault.headers)
                return
        status, data = self._respond(handler, method, path, query, route)
        self._send(handler, status, data, self._rate_headers())

    def _respond(
        self, handler: _Handler, method: str, path: str, query: Query, route: tuple[str, dict[str, str]] | None
    ) -> tuple[int, bytes]:
        # openapi-core matches paths against the document's server, https://api.pagerduty.com
        request = MockRequest(SPEC_HOST, method, path, args=query, headers=dict(handler.headers.items()))
        try:
            if handler.headers.get("Authorization") != f"Token token={self.token}":
                raise ApiError(401, "Authentication failed", 2006, ["The API token is invalid or deactivated."])
            if route is None or method != "GET":
                raise ApiError(404, "Not Found", 2100, [f"The fake does not serve {method} {path}."])
            if self.validate and (problems := self._spec_problems(request)):
                self._record(f"request {method} {path} {query.to_dict(flat=False)}: " + "\n".join(problems))
                return 400, json.dumps(_invalid(*problems).body()).encode()
            status, body = 200, _ENDPOINTS[route[0]](self, query, route[1])
        except ApiError as error:
            status, body = error.status, error.body()
        except Exception as error:  # bad test data: answer, and make assert_valid fail
            self._record(f"fake failed on {method} {path}: {traceback.format_exc()}")
            status, body = 500, ApiError(500, "Internal Server Error", 2000, [repr(error)]).body()
        data = json.dumps(body).encode()
        if self.validate is True and route is not None and method == "GET":
            for problem in self._spec_problems(request, MockResponse(data, status)):
                self._record(f"response {status} GET {path}: {problem}")
        return status, data

    def _spec_problems(self, request: MockRequest, response: MockResponse | None = None) -> list[str]:
        api = load_openapi(self._spec_path)
        with self._validation_lock:
            if response is None:
                errors = list(api.iter_request_errors(request))
            else:
                errors = list(api.iter_response_errors(request, response))
        undocumented_ok = response is not None and response.status_code >= 400  # few error statuses are listed
        return [describe(e) for e in errors if not (undocumented_ok and isinstance(e, ResponseNotFound))]

    def _record(self, problem: str) -> None:
        with self._lock:
            self.validation_errors.append(problem)

    def _over_rate_limit(self) -> bool:
        """Whether a request now is past ``rate_limit`` (counted and refused); call under the lock."""
        if self.rate_limit is None:
            return False
        now = time.monotonic()
        while self._recent and self._recent[0] <= now - self.rate_window:
            self._recent.popleft()
        if len(self._recent) < self.rate_limit:
            return False
        self.rate_limited += 1
        return True

    def _rate_headers(self) -> dict[str, str]:
        """PagerDuty's headers over the requests served in the last minute: ``ratelimit-reset`` is when the
        oldest of them leaves it (whole seconds, at least 1)."""
        now = time.monotonic()
        limit = self.rate_limit or RATE_LIMIT
        with self._lock:
            while self._recent and self._recent[0] <= now - self.rate_window:
                self._recent.popleft()
            used, oldest = len(self._recent), self._recent[0] if self._recent else now
        return {
            "ratelimit-limit": str(limit),
            "ratelimit-remaining": str(max(0, limit - used)),
            "ratelimit-reset": str(max(1, math.ceil(self.rate_window - (now - oldest)))),
        }

    @staticmethod
    def _send(handler: _Handler, status: int, data: bytes, headers: Mapping[str, str]) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", headers.get("Content-Type", "application/json; charset=utf-8"))
            handler.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                if name != "Content-Type":
                    handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            handler.close_connection = True

    # --- query helpers -------------------------------------------------------------------------------------------

    @staticmethod
    def _zone(name: str | None, default: str) -> tzinfo:
        zone = name or default
        if zone in ("UTC", "Etc/UTC"):
            return UTC
        try:
            return ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise _invalid(f"Invalid time zone: {zone!r}") from None

    @staticmethod
    def _time(query: Query, key: str, zone: tzinfo) -> datetime | None:
        if (raw := query.get(key)) is None:
            return None
        try:
            when = datetime.fromisoformat(raw)
        except ValueError:
            raise _invalid(f"{key}: {raw!r} is not a date-time") from None
        return when if when.tzinfo else when.replace(tzinfo=zone)  # the documented trap

    def _window(self, query: Query, zone: tzinfo, *, max_months: int | None) -> tuple[float, float] | None:
        """``since``/``until`` as epoch seconds (None: no filter); each defaults to a month from the other."""
        since, until = self._time(query, "since", zone), self._time(query, "until", zone)
        if since is None and until is None and query.get("date_range") == "all":
            return None
        until = until or (_add_months(since, 1) if since else self.clock())
        since = since or _add_months(until, -1)
        if until < since:
            raise _invalid("until must not be before since")
        if max_months is not None and _add_months(since, max_months) < until:
            raise _invalid(f"The maximum date range is {max_months} months.")
        return since.timestamp(), until.timestamp()

    def _in_window(self, index: _Index, window: tuple[float, float] | None) -> list[Obj]:
        if window is None:
            return index.items
        since, until = window
        if index.newest_first:
            low = (bisect_left if self.until_inclusive else bisect_right)(index.keys, -until)
            return index.items[low : bisect_right(index.keys, -since)]
        high = (bisect_right if self.until_inclusive else bisect_left)(index.keys, until)
        return index.items[bisect_left(index.keys, since) : high]

    def _index(self, name: Literal["incidents", "log_entries"]) -> _Index:
        """Incidents oldest first, or log entries newest first, as PagerDuty sorts them. Rebuilt when the
        list is replaced or changes length (O(1) to check); edits of items in place need ``reindex()``."""
        items: list[Obj] = getattr(self, name)
        with self._lock:
            cached = self._indexes.get(name)
        if cached and cached.fingerprint == (id(items), len(items)):
            return cached
        newest = name == "log_entries"
        keyed = sorted(
            (-pd.epoch(i.get("created_at")), str(i.get("id", "")), n)
            if newest
            else (pd.epoch(i.get("created_at")), int(i.get("incident_number") or 0), n)
            for n, i in enumerate(items)
        )
        ordered = [items[n] for _, _, n in keyed]
        by_incident: dict[Any, list[Obj]] = {}
        for item in ordered:
            if isinstance(item.get("incident"), dict):
                by_incident.setdefault(item["incident"].get("id"), []).append(item)
        by_id = {i.get("id"): i for i in items}
        index = _Index((id(items), len(items)), ordered, [k for k, _, _ in keyed], newest, by_id, by_incident)
        with self._lock:
            self._indexes[name] = index
        return index

    @staticmethod
    def _page(key: str, items: list[Obj], query: Query, render: Callable[[Obj], Obj] = lambda item: item) -> Obj:
        """Classic offset pagination with PagerDuty's envelope."""
        try:
            limit, offset = int(query.get("limit", 25)), int(query.get("offset", 0))
        except ValueError:
            raise _invalid("limit and offset must be integers") from None
        if limit < 1 or offset < 0:
            raise _invalid("limit must be positive and offset not negative")
        limit = min(limit, 100)
        if offset + limit > ITERATION_LIMIT:
            raise _invalid(f"Offset must be less than {ITERATION_LIMIT}: offset + limit = {offset + limit}.")
        page = items[offset : offset + limit]
        return {
            key: [render(item) for item in page],
            "limit": limit,
            "offset": offset,
            "more": offset + len(page) < len(items),
            "total": len(items) if query.get("total") == "true" else None,
        }

    # --- endpoints -----------------------------------------------------------------------------------------------

    def _get_users_me(self) -> Obj:
        raise _invalid(
            "Because this request was made using an account-level access token, we were unable to determine "
            "the user's identity. Please use a user-level token."
        )

    def _get_incidents(self, query: Query) -> Obj:
        window = self._window(query, self._zone(query.get("time_zone"), self.account_time_zone), max_months=6)
        services, teams = set(query.getlist("service_ids[]")), set(query.getlist("team_ids[]"))
        statuses, urgencies = set(query.getlist("statuses[]")), set(query.getlist("urgencies[]"))
        users, key = set(query.getlist("user_ids[]")), query.get("incident_key")
        index = self._index("incidents")
        memo = ("incidents", index.fingerprint, window, *map(frozenset, (services, teams, statuses, urgencies, users)),
                key, query.get("sort_by", ""))
        found = self._memo(memo, query, lambda: self._filter_incidents(query, index, window))
        zone = self._zone(query.get("time_zone"), "UTC")
        expand = self._incident_expander(set(query.getlist("include[]")))
        return self._page("incidents", found, query, lambda incident: pd.in_time_zone(expand(incident), zone))

    def _memo(self, key: tuple[Any, ...] | None, query: Query, compute: Callable[[], list[Obj]]) -> list[Obj]:
        """A list's filtered items for one query (``key``: all but ``offset``/``limit``): computed by its first
        page (offset 0, so items edited in place between two walks are seen) and reused by its other
        pages, as PagerDuty's indexes make a page cost the same whatever the list's length. The last 32
        queries are kept; ``key`` None computes every time."""
        if key is None:
            return compute()
        found = None
        if query.get("offset", "0") not in ("", "0"):
            with self._lock:
                found = self._filtered.get(key)
        if found is None:
            found = compute()
            with self._lock:
                if len(self._filtered) >= 32:
                    self._filtered.clear()
                self._filtered[key] = found
        return found

    def _filter_incidents(self, query: Query, index: _Index, window: tuple[float, float] | None) -> list[Obj]:
        services, teams = set(query.getlist("service_ids[]")), set(query.getlist("team_ids[]"))
        statuses, urgencies = set(query.getlist("statuses[]")), set(query.getlist("urgencies[]"))
        users, key = set(query.getlist("user_ids[]")), query.get("incident_key")
        found = self._in_window(index, window)
        if services or teams or statuses or urgencies or users or key is not None:
            found = [
                i
                for i in found
                if (not services or i["service"]["id"] in services)
                and (not teams or any(t["id"] in teams for t in i.get("teams", [])))
                and (not statuses or i["status"] in statuses)
                and (not urgencies or i["urgency"] in urgencies)
                and (not users or any(a["assignee"]["id"] in users for a in i["assignments"]))
                and (key is None or i.get("incident_key") == key)
            ]
        for order in reversed(query.get("sort_by", "").split(",")[:2]):  # e.g. created_at:desc,incident_number
            name, _, direction = order.partition(":")
            if name:
                found = sorted(found, key=functools.partial(_sort_key, name), reverse=direction == "desc")
        return found

    def _incident_expander(self, include: set[str]) -> Callable[[Obj], Obj]:
        """Full objects in place of references for ``include[]`` (priorities are always full)."""
        services = {s["id"]: s for s in self.services} if "services" in include else {}
        teams = {t["id"]: t for t in self.teams} if "teams" in include else {}
        users = {u["id"]: u for u in self.users} if include & {"acknowledgers", "assignees"} else {}
        entries = self._index("log_entries").by_id if "first_trigger_log_entries" in include else {}

        def expand(incident: Obj) -> Obj:
            out = copy.copy(incident)
            if services:
                out["service"] = services.get(incident["service"]["id"], incident["service"])
            if teams:
                out["teams"] = [teams.get(t["id"], t) for t in incident.get("teams", [])]
            if users and "acknowledgers" in include:
                out["acknowledgements"] = [
                    {**a, "acknowledger": users.get(a["acknowledger"]["id"], a["acknowledger"])}
                    for a in incident.get("acknowledgements", [])
                ]
            if users and "assignees" in include:
                out["assignments"] = [
                    {**a, "assignee": users.get(a["assignee"]["id"], a["assignee"])}
                    for a in incident.get("assignments", [])
                ]
            if entries and (first := incident.get("first_trigger_log_entry")):
                out["first_trigger_log_entry"] = entries.get(first["id"], first)
            return out

        return expand

    def _log_entry_page(self, entries: list[Obj], query: Query, zone: tzinfo, memo: tuple[Any, ...] | None) -> Obj:
        # include[] (incidents, services, channels, teams) is accepted, not expanded: the document
        # types a log entry's incident, service and teams as references only.
        teams, overview = set(query.getlist("team_ids[]")), query.get("is_overview") == "true"
        if overview or teams:
            entries = self._memo(memo and (*memo, overview, frozenset(teams)), query, lambda: [
                e
                for e in entries
                if (not overview or e.get("type") not in _OVERVIEW_EXCLUDED)
                and (not teams or any(t["id"] in teams for t in e.get("teams", [])))
            ])
        return self._page("log_entries", entries, query, lambda entry: pd.in_time_zone(entry, zone))

    def _get_log_entries(self, query: Query) -> Obj:
        zone = self._zone(query.get("time_zone"), self.account_time_zone)
        index, window = self._index("log_entries"), self._window(query, zone, max_months=None)
        return self._log_entry_page(self._in_window(index, window), query, zone, ("log_entries", index.fingerprint,
                                                                                  window))

    def _get_incident_log_entries(self, query: Query, id: str) -> Obj:
        if id not in self._index("incidents").by_id:
            raise ApiError(404, "Not Found", 2100, [f"Incident {id} not found"])
        entries = self._index("log_entries").by_incident.get(id, [])
        zone = self._zone(query.get("time_zone"), self.account_time_zone)
        since, until = self._time(query, "since", zone), self._time(query, "until", zone)
        low, high = since.timestamp() if since else -math.inf, until.timestamp() if until else math.inf
        inside = (lambda t: low <= t <= high) if self.until_inclusive else (lambda t: low <= t < high)
        entries = [e for e in entries if inside(pd.epoch(e.get("created_at")))]
        return self._log_entry_page(entries, query, zone, None)

    def _directory(self, key: str, items: list[Obj], query: Query) -> Obj:
        text, teams = (query.get("query") or "").lower(), set(query.getlist("team_ids[]"))
        found = [i for i in items if text in str(i.get("name", "")).lower()]
        found = [i for i in found if not teams or any(t["id"] in teams for t in i.get("teams", []))]
        found.sort(key=lambda i: str(i.get("name", "")).lower())
        page = self._page(key, found, query)
        if "teams" in query.getlist("include[]"):
            by_id = {t["id"]: t for t in self.teams}
            page[key] = [{**i, "teams": [by_id.get(t["id"], t) for t in i.get("teams", [])]} for i in page[key]]
        return page

    def _get_schedules(self, query: Query) -> Obj:
        """The list as PagerDuty gives it: each schedule without its layers and rendered entries (those
        come with ``GET /schedules/{id}``), by name, filtered by ``query``."""
        text = (query.get("query") or "").lower()
        found = sorted((s for s in self.schedules.values() if text in str(s.get("name", "")).lower()),
                       key=lambda s: str(s.get("name", "")).lower())
        brief = [{k: v for k, v in s.items() if k not in ("schedule_layers", "final_schedule", "overrides_subschedule")}
                 for s in found]
        return self._page("schedules", brief, query)

    def _get_maintenance_windows(self, query: Query) -> Obj:
        """By ``service_ids[]`` (any of them), ``team_ids[]`` and ``filter``: their state at the fake's clock
        (past: ended; future: not started; ongoing; open: ongoing or future; all, also when absent), in
        creation order (``sequence_number``), times in the account's zone."""
        now = self.clock().timestamp()
        services, teams = set(query.getlist("service_ids[]")), set(query.getlist("team_ids[]"))
        state = query.get("filter", "all")
        states: dict[str, Callable[[float, float], bool]] = {
            "past": lambda start, end: end <= now,
            "future": lambda start, end: start > now,
            "ongoing": lambda start, end: start <= now < end,
            "open": lambda start, end: end > now,
            "all": lambda start, end: True,
        }
        if state not in states:
            raise _invalid(f"filter: {state!r} is not one of {', '.join(states)}")
        found = [
            w for w in sorted(self.maintenance_windows, key=lambda w: (w.get("sequence_number", 0), w["id"]))
            if states[state](pd.epoch(w["start_time"]), pd.epoch(w["end_time"]))
            and (not services or any(s["id"] in services for s in w.get("services", [])))
            and (not teams or any(t["id"] in teams for t in w.get("teams", [])))
        ]
        zone = self._zone(None, self.account_time_zone)

        def render(window: Obj) -> Obj:
            return {**window, **{key: datetime.fromtimestamp(pd.epoch(window[key]), zone).isoformat(timespec="seconds")
                                 for key in ("start_time", "end_time")}}

        return self._page("maintenance_windows", found, query, render)

    def _get_schedule(self, query: Query, id: str) -> Obj:
        """The schedule with the shifts overlapping ``since``/``until``: clipped, or whole with overflow."""
        if (schedule := self.schedules.get(id)) is None:
            raise ApiError(404, "Not Found", 2100, [f"Schedule {id} not found"])
        zone = self._zone(query.get("time_zone"), schedule.get("time_zone", "UTC"))
        since, until = self._time(query, "since", zone), self._time(query, "until", zone)
        if until is None and since is not None:
            until = since + timedelta(weeks=2)
        since = since or (until - timedelta(weeks=2) if until else None)
        window = (since.timestamp(), until.timestamp()) if since and until else None
        view = pd.schedule_between(schedule, window, overflow=query.get("overflow") == "true")
        return {"schedule": pd.in_time_zone(view, zone)}


Endpoint = Callable[[FakePagerDuty, Query, dict[str, str]], Obj]
_ENDPOINTS: dict[str, Endpoint] = {
    "/incidents": lambda fake, query, _: fake._get_incidents(query),
    "/incidents/{id}/log_entries": lambda fake, query, path: fake._get_incident_log_entries(query, path["id"]),
    "/log_entries": lambda fake, query, _: fake._get_log_entries(query),
    "/services": lambda fake, query, _: fake._directory("services", fake.services, query),
    "/teams": lambda fake, query, _: fake._directory("teams", fake.teams, query),
    "/users/me": lambda fake, query, _: fake._get_users_me(),
    "/users": lambda fake, query, _: fake._directory("users", fake.users, query),
    "/priorities": lambda fake, query, _: fake._page("priorities", fake.priorities, query),
    "/schedules/{id}": lambda fake, query, path: fake._get_schedule(query, path["id"]),
    "/schedules": lambda fake, query, _: fake._get_schedules(query),
    "/abilities": lambda fake, query, _: {"abilities": list(fake.abilities)},
    "/maintenance_windows": lambda fake, query, _: fake._get_maintenance_windows(query),
}
_ROUTES = [(re.compile(template.replace("{id}", "(?P<id>[^/]+)")), template) for template in _ENDPOINTS]
