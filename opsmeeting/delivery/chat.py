"""Chat delivery: the summary posted to Slack (or Mattermost), Microsoft Teams or a JSON webhook.

One POST per delivery, over HTTPS with the certificate verified (the system's CAs, or the channel's
``ca_bundle``), a timeout on every socket operation, redirects refused, at most ``MAX_ANSWER`` bytes
of the answer read. A 429 whose ``Retry-After`` is at most ``MAX_RETRY_AFTER`` seconds is tried once
more after that wait; any other failure raises ``DeliveryError`` and the run ledger keeps the
delivery for the next run (exactly once is the ledger's: Slack and Teams take no idempotency key;
the webhook gets one, in its document and its ``Idempotency-Key`` header).

What counts as delivered: a 2xx answer; for Slack, also not an error in the body (Slack answers
``ok``; an error is a token such as ``invalid_payload``, or a JSON ``{"ok": false}``); for Teams,
not a legacy connector's "Microsoft Teams endpoint returned HTTP error …" in a 200.

The webhook URLs are secrets: they are read from the environment when posting, never logged, and
scrubbed from every error message (which the ledger stores and the run prints).
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import IO, Any
from urllib.parse import urlsplit

from opsmeeting.aggregate.model import Scorecards
from opsmeeting.config.schema import ChatChannel
from opsmeeting.delivery.chat_formats import idempotency_key, render_body
from opsmeeting.delivery.digest import digest
from opsmeeting.delivery.email import DeliveryError

MAX_ANSWER = 65_536  # bytes of an answer read (an error's first 200 characters are kept)
MAX_RETRY_AFTER = 30.0  # seconds a 429 may ask to wait for its one retry within the run
USER_AGENT = "opsmeeting (chat delivery)"
_SLACK_ERROR = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class ChatMessage:
    """What is posted: the body and its headers (no secret: the URL is read when posting)."""

    channel: str  # the ledger's channel, chat:<name>
    kind: str  # slack | teams | webhook
    body: bytes
    headers: dict[str, str]


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a webhook URL, in words that never repeat it; None when it can."""
    if not url:
        return "is not set"
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return "holds spaces or control characters: it must be the webhook's URL alone"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "is not a URL"
    if parts.scheme.lower() != "https":
        return "must be an https:// URL (the certificate is verified)"
    if not parts.hostname:
        return "has no host"
    if port == 0:
        return "has port 0"
    return None


def check_channels(channels: Sequence[ChatChannel], environ: Mapping[str, str]) -> list[str]:
    """Problems with the channels' environment (a variable not set, a value that is no https URL), as
    configuration problems naming each key; never the URL itself."""
    problems = []
    for index, channel in enumerate(channels):
        problem = url_problem(environ.get(channel.url_env, "").strip())
        if problem:
            problems.append(f"chat[{index}].url_env: ${channel.url_env} (the webhook URL of chat channel "
                            f"{channel.name!r}) {problem}")
    return problems


def build_message(channel: ChatChannel, ledger_channel: str, cards: Scorecards, *, title: str, kind: str,
                  revision: int, page_url: str | None, pdf_url: str | None) -> ChatMessage:
    """The message of one delivery (``kind``: report | corrected | resent; ``revision`` its number in
    the ledger) from what rendering wrote."""
    summary = digest(cards, title=title, kind=kind, page_url=page_url, pdf_url=pdf_url)
    body = render_body(channel.kind, summary, channel=ledger_channel, revision=revision)
    headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json, text/plain, */*",
               "User-Agent": USER_AGENT}
    if channel.kind == "webhook":
        headers["Idempotency-Key"] = idempotency_key(cards.window.key, ledger_channel, revision)
    return ChatMessage(ledger_channel, channel.kind, body, headers)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is misconfigured: the 3xx is the answer (a failure), never followed."""

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: http.client.HTTPMessage, newurl: str) -> urllib.request.Request | None:
        return None


def _opener(channel: ChatChannel) -> urllib.request.OpenerDirector:
    context = ssl.create_default_context(cafile=str(channel.ca_bundle) if channel.ca_bundle else None)
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _NoRedirect())


def _retry_after(value: str | None, now: Callable[[], float]) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date); None without one."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now())


class _Scrubber:
    """Removes the URL, and each of its parts that could be secret, from a text."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        secrets = {url, url.rstrip("/"), parts.path, parts.query, f"{parts.netloc}{parts.path}"}
        secrets |= {segment for segment in parts.path.split("/") if len(segment) >= 6}
        self.secrets = sorted((s for s in secrets if len(s) >= 6), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[webhook URL]")
        return text


def _reason(exc: BaseException) -> str:
    """A one-line reason for a failure to connect or to read the answer."""
    reason: Any = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"the certificate could not be verified ({reason.verify_message})"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror[0].lower() + reason.strerror[1:]
    return str(reason) or type(reason).__name__


def _answer_text(raw: bytes) -> str:
    return " ".join(raw.decode("utf-8", errors="replace").split())[:200]


def _refusal(kind: str, body: str) -> str | None:
    """What a 2xx answer says went wrong, when it says so."""
    if kind == "slack" and body and body != "ok":
        try:
            data = json.loads(body)
        except ValueError:
            return f"Slack answered {body!r}" if _SLACK_ERROR.match(body) else None
        if isinstance(data, dict) and (data.get("ok") is False or data.get("success") is False):
            return f"it answered an error: {data.get('error') or data.get('message') or body}"
    if kind == "teams" and "returned HTTP error" in body:
        return f"Teams answered {body!r}"
    return None


def post(channel: ChatChannel, message: ChatMessage, environ: Mapping[str, str], *,
         sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time) -> None:
    """POST ``message`` to the channel's webhook; raise DeliveryError with a one-line reason that never
    holds the URL. A 429 with a short enough ``Retry-After`` is tried once more."""
    label = f"{message.channel} ({message.kind})"
    url = environ.get(channel.url_env, "").strip()
    problem = url_problem(url)
    if problem:
        raise DeliveryError(f"{label}: ${channel.url_env} {problem}")
    scrub = _Scrubber(url)
    try:
        opener = _opener(channel)
    except (OSError, ssl.SSLError) as exc:
        raise DeliveryError(scrub(f"{label}: its ca_bundle {channel.ca_bundle} cannot be read: "
                                  f"{_reason(exc)}")) from None
    try:
        wait = _attempt(opener, url, channel, message, clock, retry=True)
        if wait is not None:
            sleep(wait)
            _attempt(opener, url, channel, message, clock, retry=False)
    except DeliveryError as exc:
        raise DeliveryError(scrub(f"{label}: posting failed: {exc}")) from None


def _attempt(opener: urllib.request.OpenerDirector, url: str, channel: ChatChannel, message: ChatMessage,
             clock: Callable[[], float], *, retry: bool) -> float | None:
    """One POST: None when delivered, the seconds to wait before the one retry (``retry``: a 429 may
    have one), or DeliveryError with the reason (not scrubbed yet)."""
    request = urllib.request.Request(url, data=message.body, headers=message.headers, method="POST")
    try:
        with opener.open(request, timeout=channel.timeout.total_seconds()) as response:
            status, answer = response.status, _answer_text(response.read(MAX_ANSWER))
    except urllib.error.HTTPError as exc:
        with exc:
            try:
                answer = _answer_text(exc.read(MAX_ANSWER))
            except (OSError, http.client.HTTPException):
                answer = ""
            wait = _retry_after(exc.headers.get("Retry-After"), clock) if exc.code == 429 else None
        if retry and wait is not None and wait <= MAX_RETRY_AFTER:
            return wait
        detail = f"HTTP {exc.code}" + (f": {answer}" if answer else "")
        if exc.code == 429:
            detail += (" (without Retry-After)" if wait is None
                       else " (again, after waiting its Retry-After)" if wait <= MAX_RETRY_AFTER
                       else f" (Retry-After {wait:.0f} s: longer than the {MAX_RETRY_AFTER:.0f} s a run waits)")
        elif 300 <= exc.code < 400:
            detail += " (a redirect, which is not followed)"
        raise DeliveryError(detail) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        raise DeliveryError(_reason(exc)) from None
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status}" + (f": {answer}" if answer else ""))
    refused = _refusal(message.kind, answer)
    if refused:
        raise DeliveryError(f"HTTP {status}, but {refused}")
    return None
