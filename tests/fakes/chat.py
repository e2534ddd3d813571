"""A loopback chat sink: Slack, Teams and generic webhooks over HTTPS on 127.0.0.1, checking each
message against its format.

``ChatSink`` serves ``https://127.0.0.1:<port>/<kind>/<secret>`` (a throw-away CA from ``trustme``:
``ca_bundle``), where ``kind`` is ``slack``, ``teams`` or ``hook``. Every request is kept
(``requests``) and checked: a POST of ``application/json; charset=utf-8``, UTF-8 JSON, then the
format of its kind (``slack_problems``, ``teams_problems``, ``webhook_problems``); what breaks one
is in ``problems`` (``assert_valid``). It answers as the real services do (Slack ``200 ok``, a
Teams workflow ``202`` with no body, a webhook ``204``), unless told otherwise by ``answer``::

    with ChatSink() as sink:
        url = sink.url("slack", "T0/B0/secret")
        sink.answer("/slack/", status=500, body="rollup_error", times=1)
        ...
        assert [r.path for r in sink.requests] == [...]

The format checks are strict about what Slack's Block Kit and the Adaptive Card schema allow (block
and element types, required and known keys, Slack's length limits) and about what our messages may
never carry: a mention, a broadcast, source text in a ``mrkdwn`` or ``TextBlock`` element.
"""

from __future__ import annotations

import json
import ssl
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import trustme

from opsmeeting.delivery.chat_formats import WEBHOOK_SCHEMA

Obj = dict[str, Any]

# --- the formats ---------------------------------------------------------------------------------------

SLACK_BLOCKS = {"header", "section", "context", "divider", "actions", "rich_text", "image"}
SLACK_RICH = {"rich_text_section", "rich_text_list", "rich_text_quote", "rich_text_preformatted"}
SLACK_RICH_INLINE = {"text", "link", "emoji"}  # no user, usergroup, channel or broadcast: they ping
SLACK_STYLES = {"bold", "italic", "strike", "code"}


def _text_object(obj: Any, where: str, problems: list[str], *, limit: int, kinds: set[str]) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in kinds:
        problems.append(f"{where}: a text object of type {sorted(kinds)} expected, got {obj!r:.80}")
        return
    allowed = {"type", "text", "emoji"} if obj["type"] == "plain_text" else {"type", "text", "verbatim"}
    if set(obj) - allowed:
        problems.append(f"{where}: unknown keys {sorted(set(obj) - allowed)}")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        problems.append(f"{where}.text: a non-empty string expected")
    elif len(text) > limit:
        problems.append(f"{where}.text: {len(text)} characters, more than Slack's {limit}")
    elif obj["type"] == "mrkdwn":
        _mrkdwn(text, where, problems)


def _mrkdwn(text: str, where: str, problems: list[str]) -> None:
    """Our mrkdwn holds escaped text and links only: no control sequence but ``<https://…|label>``."""
    rest = text
    while "<" in rest:
        start = rest.index("<")
        end = rest.find(">", start)
        inner = rest[start + 1:end] if end > start else rest[start + 1:]
        if not inner.startswith("https://") or end < 0:
            problems.append(f"{where}: mrkdwn control sequence <{inner[:40]}> (a mention, a broadcast or a link)")
            return
        rest = rest[end + 1:]
    if "@here" in text or "@channel" in text:
        problems.append(f"{where}: an @-mention in mrkdwn")


def _rich_inline(element: Any, where: str, problems: list[str]) -> None:
    if not isinstance(element, dict) or element.get("type") not in SLACK_RICH_INLINE:
        problems.append(f"{where}: rich-text element {element!r:.80} (only text, link, emoji)")
        return
    if element["type"] == "text":
        if set(element) - {"type", "text", "style"}:
            problems.append(f"{where}: unknown keys {sorted(set(element) - {'type', 'text', 'style'})}")
        if not isinstance(element.get("text"), str) or not element["text"]:
            problems.append(f"{where}.text: a non-empty string expected")
        style = element.get("style", {})
        if not isinstance(style, dict) or set(style) - SLACK_STYLES or not all(v is True for v in style.values()):
            problems.append(f"{where}.style: {style!r}")


def _rich_text(block: Obj, where: str, problems: list[str]) -> None:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        problems.append(f"{where}.elements: a non-empty list expected")
        return
    for i, element in enumerate(elements):
        here = f"{where}.elements[{i}]"
        kind = element.get("type") if isinstance(element, dict) else None
        if kind not in SLACK_RICH:
            problems.append(f"{here}: unknown rich-text type {kind!r}")
            continue
        if kind == "rich_text_list":
            if element.get("style") not in ("bullet", "ordered"):
                problems.append(f"{here}.style: bullet or ordered expected")
            sections = element.get("elements")
            if not isinstance(sections, list) or not sections:
                problems.append(f"{here}.elements: a non-empty list expected")
                continue
            for j, section in enumerate(sections):
                if not isinstance(section, dict) or section.get("type") != "rich_text_section":
                    problems.append(f"{here}.elements[{j}]: a rich_text_section expected")
                    continue
                for k, inline in enumerate(section.get("elements") or [None]):
                    _rich_inline(inline, f"{here}.elements[{j}].elements[{k}]", problems)
        else:
            for k, inline in enumerate(element.get("elements") or [None]):
                _rich_inline(inline, f"{here}.elements[{k}]", problems)


def slack_problems(payload: Any) -> list[str]:
    """What breaks Slack's incoming-webhook message format (Block Kit), or our rules, in ``payload``."""
    problems: list[str] = []
    if not isinstance(payload, dict):
        return ["the message is not a JSON object"]
    if set(payload) - {"text", "blocks", "mrkdwn", "unfurl_links", "unfurl_media"}:
        problems.append(f"unknown top-level keys {sorted(set(payload) - {'text', 'blocks'})}")
    text, blocks = payload.get("text"), payload.get("blocks")
    if not isinstance(text, str) or not text:
        problems.append("text: required beside blocks (the notification), a non-empty string")
    elif len(text) > 40_000:
        problems.append(f"text: {len(text)} characters, more than Slack's 40,000")
    if blocks is None:
        return problems
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= 50:
        return [*problems, "blocks: a list of 1 to 50 blocks expected"]
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in SLACK_BLOCKS:
            problems.append(f"{where}: unknown block type {kind!r}")
            continue
        if kind == "header":
            _text_object(block.get("text"), f"{where}.text", problems, limit=150, kinds={"plain_text"})
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"{where}: a section needs text or fields")
            if "text" in block:
                _text_object(block["text"], f"{where}.text", problems, limit=3000, kinds={"plain_text", "mrkdwn"})
            fields = block.get("fields", [])
            if not isinstance(fields, list) or len(fields) > 10:
                problems.append(f"{where}.fields: at most 10")
            for j, obj in enumerate(fields if isinstance(fields, list) else []):
                _text_object(obj, f"{where}.fields[{j}]", problems, limit=2000, kinds={"plain_text", "mrkdwn"})
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                problems.append(f"{where}.elements: 1 to 10 expected")
            for j, obj in enumerate(elements or []):
                _text_object(obj, f"{where}.elements[{j}]", problems, limit=3000, kinds={"plain_text", "mrkdwn"})
        elif kind == "rich_text":
            _rich_text(block, where, problems)
        elif kind == "actions":
            for j, button in enumerate(block.get("elements") or []):
                if button.get("type") != "button" or not str(button.get("url", "")).startswith("https://"):
                    problems.append(f"{where}.elements[{j}]: a URL button expected")
    return problems


TEAMS_ELEMENTS = {"TextBlock", "RichTextBlock", "FactSet", "Container", "ColumnSet", "Image"}
TEAMS_RUN_KEYS = {"type", "text", "size", "weight", "color", "isSubtle", "italic", "strikethrough", "fontType",
                  "highlight"}


def _teams_elements(elements: Any, where: str, problems: list[str]) -> None:
    if not isinstance(elements, list):
        problems.append(f"{where}: a list expected")
        return
    for i, element in enumerate(elements):
        here = f"{where}[{i}]"
        kind = element.get("type") if isinstance(element, dict) else None
        if kind not in TEAMS_ELEMENTS:
            problems.append(f"{here}: unknown element type {kind!r}")
        elif kind == "TextBlock":
            if not isinstance(element.get("text"), str):
                problems.append(f"{here}.text: a string expected")
        elif kind == "RichTextBlock":
            inlines = element.get("inlines")
            if not isinstance(inlines, list) or not inlines:
                problems.append(f"{here}.inlines: a non-empty list expected")
                continue
            for j, run in enumerate(inlines):
                if not isinstance(run, dict) or run.get("type") != "TextRun":
                    problems.append(f"{here}.inlines[{j}]: a TextRun expected")
                elif set(run) - TEAMS_RUN_KEYS or not isinstance(run.get("text"), str) or not run["text"]:
                    problems.append(f"{here}.inlines[{j}]: a TextRun with text and known keys expected")
        elif kind == "FactSet":
            facts = element.get("facts")
            if not isinstance(facts, list) or not facts:
                problems.append(f"{here}.facts: a non-empty list expected")
            for j, fact in enumerate(facts or []):
                if set(fact) != {"title", "value"} or not all(isinstance(v, str) for v in fact.values()):
                    problems.append(f"{here}.facts[{j}]: title and value strings expected")
        elif kind == "Container":
            if not element.get("items"):
                problems.append(f"{here}.items: a container needs items")
            _teams_elements(element.get("items"), f"{here}.items", problems)


def teams_problems(payload: Any) -> list[str]:
    """What breaks the envelope a Teams workflow webhook takes, or the Adaptive Card's essentials."""
    if not isinstance(payload, dict) or payload.get("type") != "message":
        return ["type: must be \"message\""]
    attachments = payload.get("attachments")
    if not isinstance(attachments, list) or len(attachments) != 1:
        return ["attachments: one attachment expected"]
    attachment = attachments[0]
    problems = []
    if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
        problems.append("attachments[0].contentType: must be application/vnd.microsoft.card.adaptive")
    card = attachment.get("content")
    if not isinstance(card, dict):
        return [*problems, "attachments[0].content: the card object expected"]
    if card.get("type") != "AdaptiveCard":
        problems.append("content.type: must be AdaptiveCard")
    version = card.get("version")
    if not isinstance(version, str) or version not in {"1.0", "1.1", "1.2", "1.3", "1.4", "1.5"}:
        problems.append(f"content.version: {version!r} is not an Adaptive Card version Teams renders")
    elif any(e.get("type") == "RichTextBlock" for e in _walk(card.get("body"))) and version < "1.2":
        problems.append("content.version: RichTextBlock needs 1.2")
    if not card.get("body"):
        problems.append("content.body: a non-empty list expected")
    _teams_elements(card.get("body"), "content.body", problems)
    for i, action in enumerate(card.get("actions", [])):
        if action.get("type") != "Action.OpenUrl" or not str(action.get("url", "")).startswith("https://") \
                or not action.get("title"):
            problems.append(f"content.actions[{i}]: an Action.OpenUrl with a title and an https URL expected")
    if set(card) - {"$schema", "type", "version", "body", "actions", "msteams"}:
        problems.append(f"content: unknown keys {sorted(set(card) - {'$schema', 'type', 'version', 'body'})}")
    return problems


def _walk(elements: Any) -> list[Obj]:
    found = []
    for element in elements or []:
        if isinstance(element, dict):
            found.append(element)
            found += _walk(element.get("items"))
    return found


_WEBHOOK = jsonschema.Draft202012Validator(WEBHOOK_SCHEMA,
                                           format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def webhook_problems(payload: Any, headers: dict[str, str] | None = None) -> list[str]:
    """What breaks the documented webhook document (its JSON Schema), and its Idempotency-Key header."""
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(document)'}: {e.message}"
                for e in _WEBHOOK.iter_errors(payload)]
    if headers is not None and isinstance(payload, dict) \
            and headers.get("idempotency-key") != payload.get("idempotency_key"):
        problems.append("the Idempotency-Key header is not the document's idempotency_key")
    return problems


# --- the server ----------------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    kind: str  # slack | teams | hook
    headers: dict[str, str]  # lower-case names
    body: bytes
    payload: Any  # the parsed JSON (None when it was not)
    problems: list[str]
    answered: int = 0


@dataclass
class Answer:
    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    echo_path: bool = False  # the body is the request's path (a server that repeats the secret URL)


DEFAULTS = {"slack": Answer(200, "ok", {"Content-Type": "text/plain"}), "teams": Answer(202),
            "hook": Answer(204)}
CHECKS: dict[str, Callable[[Any, dict[str, str]], list[str]]] = {
    "slack": lambda payload, _: slack_problems(payload),
    "teams": lambda payload, _: teams_problems(payload),
    "hook": webhook_problems,
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    server: _Server

    def handle(self) -> None:
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            return
        super().handle()

    def do_POST(self) -> None:
        self.server.sink._serve(self)

    do_GET = do_PUT = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, sink: ChatSink, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.sink, self.context = sink, context

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address


class ChatSink:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.url_base = self.ca_bundle = ""
        self._answers: list[tuple[str, deque[Answer]]] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> ChatSink:
        ca = trustme.CA()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._tmp = tempfile.TemporaryDirectory(prefix="chat-sink-")
        self.ca_bundle = str(Path(self._tmp.name) / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_bundle)
        self._server = _Server(self, context)
        self.url_base = f"https://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True, name="chat-sink").start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def url(self, kind: str, secret: str) -> str:
        return f"{self.url_base}/{kind}/{secret}"

    def answer(self, prefix: str, status: int, body: str = "", *, times: int = 1, headers: dict[str, str] | None = None,
               delay: float = 0.0, echo_path: bool = False) -> None:
        """The next ``times`` requests whose path starts with ``prefix`` get this answer."""
        with self._lock:
            self._answers.append((prefix, deque(Answer(status, body, dict(headers or {}), delay, echo_path)
                                                for _ in range(times))))

    def posts(self, prefix: str) -> list[Received]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    def delivered(self, prefix: str) -> list[Received]:
        return [r for r in self.posts(prefix) if 200 <= r.answered < 300]

    @property
    def problems(self) -> list[str]:
        return [f"{r.path.split('/')[1]} request {i}: {p}" for i, r in enumerate(self.requests) for p in r.problems]

    def assert_valid(self) -> None:
        assert not self.problems, "\n".join(self.problems)

    def _next(self, path: str, kind: str) -> Answer:
        with self._lock:
            for prefix, queue in self._answers:
                if path.startswith(prefix) and queue:
                    return queue.popleft()
        return DEFAULTS.get(kind, Answer(404, "no such hook"))

    def _serve(self, handler: _Handler) -> None:
        path = handler.path
        kind = path.split("/")[1] if path.count("/") >= 2 else ""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        length = int(headers.get("content-length", "0") or 0)
        body = handler.rfile.read(length) if length else b""
        problems = []
        if handler.command != "POST":
            problems.append(f"method {handler.command}, not POST")
        if headers.get("content-type") != "application/json; charset=utf-8":
            problems.append(f"Content-Type {headers.get('content-type')!r}")
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            payload, problems = None, [*problems, "the body is not UTF-8 JSON"]
        if payload is not None and kind in CHECKS:
            problems += CHECKS[kind](payload, headers)
        received = Received(path, kind, headers, body, payload, problems)
        with self._lock:
            self.requests.append(received)
        answer = self._next(path, kind)
        if answer.delay:
            time.sleep(answer.delay)
        text = (path if answer.echo_path else answer.body).encode()
        received.answered = answer.status
        try:
            handler.send_response(answer.status)
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(text)))
            handler.end_headers()
            handler.wfile.write(text)
        except OSError:
            pass  # the client gave up (a timeout)
