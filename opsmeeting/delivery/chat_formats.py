"""A ``Digest`` as each chat kind takes it: a Slack message (also Mattermost), a Microsoft Teams
Adaptive Card, a versioned JSON document. Pure functions: no network, no secrets.

Text that comes from the sources (service, team and people's names, incident titles, the notes that
quote them) can never ping anyone, format, link or inject markup:

- **Slack**: the blocks carry it only in ``plain_text`` and ``rich_text`` text elements, which Slack
  shows as written (no mrkdwn, no ``<!channel>`` or ``<@U…>``); ``mrkdwn`` holds only our own words,
  numbers and links. The top-level ``text`` (Slack's notification, Mattermost's whole message, which
  reads no blocks) escapes ``&``, ``<`` and ``>`` as Slack requires (so ``<!channel>``, ``<!here>``,
  ``<@U…>`` and links cannot form: Mattermost translates those too), puts a word joiner after every
  ``@`` (Mattermost links ``@here``, ``@channel``, ``@name`` in plain text) and a backslash before the
  Markdown characters ``\\ ` * _ ~ [ ] |``.
- **Teams**: it goes only in ``TextRun``s of ``RichTextBlock``s, which Teams shows as written (no
  Markdown, unlike ``TextBlock``; mentions need ``msteams.entities``, which we never send).
- **webhook**: the document carries it as plain JSON strings; the receiver must treat them as text.

Size: each format has a cap (``SLACK_BYTES``, ``SLACK_TEXT``, ``TEAMS_BYTES``, ``WEBHOOK_BYTES``). A
digest that does not fit is trimmed (``Digest.trimmed``: fewer entries per heading, "and N more",
shorter texts) until it does; at the end only the headings and counts are left, which always fit.
A message is never refused for its size.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

from opsmeeting.delivery.digest import HEADING_LIMIT, Digest, Section
from opsmeeting.report.formats import clean
from opsmeeting.timefmt import iso_z

FORMAT = "opsmeeting.summary"
FORMAT_VERSION = 1
CORRECTED_NOTE = ("Corrected report: it replaces the one posted earlier for this window, which was made while a "
                  "source was missing or incomplete.")
PAGE_LABEL = "Open the projected page"
PDF_LABEL = "The PDF pre-read"

SLACK_TEXT = 3_000  # characters of the top-level text (Slack truncates at 40,000; Mattermost holds 16,383)
SLACK_BYTES = 24_000  # the whole payload
SLACK_BLOCKS = 50  # Slack's limit per message
SLACK_FIELDS = 10  # per section block
SLACK_FIELD_TEXT = 2_000
SLACK_SECTION_TEXT = 3_000
TEAMS_BYTES = 20_000  # Teams refuses a webhook message over about 28 KB
WEBHOOK_BYTES = 64_000
TEAMS_CARD_VERSION = "1.4"  # RichTextBlock needs 1.2; Teams renders 1.4 on every client
TEAMS_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"

# the shorter and shorter digests tried in turn: (entries per heading, characters per text)
RUNGS: tuple[tuple[int | None, int], ...] = ((None, 300), (3, 200), (2, 140), (1, 100), (0, 80), (0, 40))

_MARKDOWN = re.compile(r"([\\`*_~\[\]|])")

Payload = dict[str, Any]


# --- escaping ------------------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """For Slack ``mrkdwn``: the three characters Slack asks to escape (our own text only goes there)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown_text(text: str) -> str:
    """Source text for the top-level ``text`` of a Slack message: inert in Slack's mrkdwn and in
    Mattermost's Markdown (see the module docstring)."""
    return slack_escape(_MARKDOWN.sub(r"\\\1", clean(text))).replace("@", "@\u2060")


def _slack_link(url: str, label: str) -> str:
    return f"<{slack_escape(url).replace('|', '%7C')}|{label}>"


# --- the three formats ---------------------------------------------------------------------------------


def _entry_line(subject: str, fact: str, change: str | None) -> str:
    return f"{subject} — {fact}" + (f" ({change})" if change else "")


def _more(count: int, what: str = "in the report") -> str:
    return f"and {count} more {what}"


def _fine(digest: Digest) -> str | None:
    fine = [s.empty for s in digest.sections if not s.entries and not s.unknown and not s.more and s.empty]
    return ("Also: " + "; ".join(fine) + ".") if fine else None


def _shown(digest: Digest) -> list[Section]:
    return [s for s in digest.sections if s.entries or s.more or s.unknown]


def slack_text(digest: Digest) -> str:
    """The top-level ``text``: the whole summary in plain lines (Mattermost's message)."""
    lines = [markdown_text(digest.heading)]
    if digest.corrected:
        lines.append(CORRECTED_NOTE)
    lines += [f"{f.label}: {markdown_text(f.text)}" + (f" ({markdown_text(f.change)})" if f.change else "")
              for f in digest.facts]
    for section in _shown(digest):
        lines += ["", f"{section.title}:"]
        if section.unknown:
            lines.append(f"• unknown: {markdown_text(section.unknown)}")
        lines += [f"• {markdown_text(_entry_line(e.subject, e.fact, e.change))}" for e in section.entries]
        if section.more:
            lines.append(f"• {_more(section.more)}")
    if digest.notes or digest.notes_more:
        lines += ["", "Data quality:"] + [f"• {markdown_text(n.text)}" for n in digest.notes]
        if digest.notes_more:
            lines.append(f"• {_more(digest.notes_more, 'in the report banner')}")
    fine = _fine(digest)
    if fine:
        lines += ["", markdown_text(fine)]
    links = [_slack_link(u, label) for u, label in ((digest.page_url, PAGE_LABEL), (digest.pdf_url, PDF_LABEL)) if u]
    if links:
        lines += ["", " · ".join(links)]
    return "\n".join(lines)


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit] or "-", "emoji": False}


def _rich(title: str, lines: list[tuple[str, str | None]], note: str | None = None) -> Payload:
    """A ``rich_text`` block: the title in bold, then a bullet per line (subject in bold, then its
    fact), all as literal text elements."""
    items = []
    for head, rest in lines:
        elements: list[Payload] = [{"type": "text", "text": head or "-", "style": {"bold": True}}
                                   if rest is not None else {"type": "text", "text": head or "-"}]
        if rest:
            elements.append({"type": "text", "text": rest})
        items.append({"type": "rich_text_section", "elements": elements})
    body: list[Payload] = [{"type": "rich_text_section",
                            "elements": [{"type": "text", "text": title, "style": {"bold": True}}]}]
    if note:
        body.append({"type": "rich_text_section", "elements": [{"type": "text", "text": note,
                                                                "style": {"italic": True}}]})
    if items:
        body.append({"type": "rich_text_list", "style": "bullet", "elements": items})
    return {"type": "rich_text", "elements": body}


def slack_payload(digest: Digest) -> Payload:
    """An incoming-webhook message: ``text`` (the notification; Mattermost's message) and ``blocks``."""
    blocks: list[Payload] = [{"type": "header", "text": _plain(digest.heading, HEADING_LIMIT)}]
    if digest.corrected:
        blocks.append({"type": "context", "elements": [_plain(CORRECTED_NOTE, SLACK_FIELD_TEXT)]})
    blocks.append({"type": "section", "fields": [
        {"type": "mrkdwn", "text": (f"*{slack_escape(f.label)}*\n{slack_escape(f.text)}"
                                    + (f" ({slack_escape(f.change)})" if f.change else ""))[:SLACK_FIELD_TEXT]}
        for f in digest.facts[:SLACK_FIELDS]]})
    for section in _shown(digest):
        lines: list[tuple[str, str | None]] = [(e.subject, " — " + e.fact + (f" ({e.change})" if e.change else ""))
                                               for e in section.entries]
        if section.more:
            lines.append((_more(section.more), None))
        blocks.append(_rich(section.title, lines, f"unknown: {section.unknown}" if section.unknown else None))
    if digest.notes or digest.notes_more:
        notes: list[tuple[str, str | None]] = [(n.text, None) for n in digest.notes]
        if digest.notes_more:
            notes.append((_more(digest.notes_more, "in the report banner"), None))
        blocks.append(_rich("Data quality", notes))
    fine = _fine(digest)
    if fine:
        blocks.append({"type": "context", "elements": [_plain(fine, SLACK_FIELD_TEXT)]})
    links = [_slack_link(u, label) for u, label in ((digest.page_url, PAGE_LABEL), (digest.pdf_url, PDF_LABEL)) if u]
    if links:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": " · ".join(links)[:SLACK_SECTION_TEXT]}})
    return {"text": slack_text(digest), "blocks": blocks[:SLACK_BLOCKS]}


def _run(text: str, **style: Any) -> Payload:
    return {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text, **style}]}


def teams_payload(digest: Digest) -> Payload:
    """The message a Teams workflow ("When a Teams webhook request is received") posts: an Adaptive
    Card in the Bot Framework ``message`` / ``attachments`` envelope."""
    body: list[Payload] = [_run(digest.heading, size="Large", weight="Bolder")]
    if digest.corrected:
        body.append(_run(CORRECTED_NOTE, color="Attention"))
    body.append({"type": "FactSet", "facts": [
        {"title": f.label, "value": f.text + (f" ({f.change})" if f.change else "")} for f in digest.facts]})
    for section in _shown(digest):
        items: list[Payload] = [_run(section.title, weight="Bolder")]
        if section.unknown:
            items.append(_run(f"unknown: {section.unknown}", isSubtle=True))
        items += [_run("• " + _entry_line(e.subject, e.fact, e.change)) for e in section.entries]
        if section.more:
            items.append(_run(_more(section.more), isSubtle=True))
        body.append({"type": "Container", "separator": True, "spacing": "Medium", "items": items})
    if digest.notes or digest.notes_more:
        items = [_run("Data quality", weight="Bolder")] + [_run("• " + n.text) for n in digest.notes]
        if digest.notes_more:
            items.append(_run(_more(digest.notes_more, "in the report banner"), isSubtle=True))
        body.append({"type": "Container", "separator": True, "spacing": "Medium", "items": items})
    fine = _fine(digest)
    if fine:
        body.append(_run(fine, isSubtle=True))
    card: Payload = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                     "version": TEAMS_CARD_VERSION, "msteams": {"width": "Full"}, "body": body}
    actions = [{"type": "Action.OpenUrl", "title": label, "url": url}
               for url, label in ((digest.page_url, PAGE_LABEL), (digest.pdf_url, PDF_LABEL)) if url]
    if actions:
        card["actions"] = actions
    return {"type": "message", "attachments": [{"contentType": TEAMS_CONTENT_TYPE, "contentUrl": None,
                                                "content": card}]}


def idempotency_key(window_key: str, channel: str, revision: int) -> str:
    """The same for every attempt of one delivery (a retry by the next run too), another for each
    delivery (a corrected or resent report is a new one)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"opsmeeting:delivery:{window_key}:{channel}:{revision}"))


def webhook_payload(digest: Digest, *, channel: str, revision: int) -> Payload:
    """The versioned JSON document (``WEBHOOK_SCHEMA``; docs/DELIVERY.md documents every key)."""
    window = digest.window
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "idempotency_key": idempotency_key(window.key, channel, revision),
        "delivery": {"channel": channel, "kind": digest.kind, "revision": revision},
        "title": digest.title,
        "heading": digest.heading,
        "window": {"key": window.key, "start": iso_z(window.start), "end": iso_z(window.end),
                   "timezone": window.timezone, "label": window.label, "provisional": window.provisional},
        "generated_at": iso_z(digest.generated_at),
        "degraded": digest.degraded,
        "headline": [{"key": f.key, "label": f.label, "value": f.value, "text": f.text, "change": f.change}
                     for f in digest.facts],
        "attention": [{"key": s.key, "title": s.title, "unknown": s.unknown, "empty": s.empty, "more": s.more,
                       "items": [{"subject": e.subject, "fact": e.fact, "change": e.change} for e in s.entries]}
                      for s in digest.sections],
        "data_quality": {"notes": [{"level": n.level, "text": n.text} for n in digest.notes],
                         "more": digest.notes_more},
        "links": {"page": digest.page_url, "pdf": digest.pdf_url},
    }


# --- fitting -------------------------------------------------------------------------------------------


def encode(payload: Payload) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def fit(render: Callable[[Digest], Payload], digest: Digest, fits: Callable[[Payload, bytes], bool]) -> bytes:
    """``render`` of the first of ever shorter digests whose payload ``fits``; the shortest one, without
    its links, when none does (headings and counts: a few hundred bytes)."""
    for shown, limit in RUNGS:
        payload = render(digest.trimmed(shown, limit))
        body = encode(payload)
        if fits(payload, body):
            return body
    return encode(render(digest.trimmed(0, 40).without_links()))


def _slack_fits(payload: Payload, body: bytes) -> bool:
    return len(body) <= SLACK_BYTES and len(payload["text"]) <= SLACK_TEXT and len(payload["blocks"]) <= SLACK_BLOCKS


def render_body(kind: str, digest: Digest, *, channel: str, revision: int) -> bytes:
    """The request body for a channel of ``kind`` (slack | teams | webhook), within its size cap."""
    if kind == "slack":
        return fit(slack_payload, digest, _slack_fits)
    if kind == "teams":
        return fit(teams_payload, digest, lambda _, body: len(body) <= TEAMS_BYTES)
    if kind == "webhook":
        return fit(lambda d: webhook_payload(d, channel=channel, revision=revision), digest,
                   lambda _, body: len(body) <= WEBHOOK_BYTES)
    raise ValueError(f"unknown chat kind {kind!r}")


# --- the generic webhook's document, as a JSON Schema (draft 2020-12) ----------------------------------

_TEXT = {"type": "string"}
_OPTIONAL_TEXT = {"type": ["string", "null"]}

WEBHOOK_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://github.com/opsmeeting/opsmeeting/docs/DELIVERY.md#the-webhook-document",
    "title": "opsmeeting.summary, version 1",
    "type": "object",
    "additionalProperties": False,
    "required": ["format", "version", "idempotency_key", "delivery", "title", "heading", "window", "generated_at",
                 "degraded", "headline", "attention", "data_quality", "links"],
    "properties": {
        "format": {"const": FORMAT},
        "version": {"const": FORMAT_VERSION},
        "idempotency_key": {"type": "string", "format": "uuid",
                            "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"},
        "delivery": {
            "type": "object", "additionalProperties": False, "required": ["channel", "kind", "revision"],
            "properties": {"channel": {"type": "string", "pattern": "^chat:[a-z0-9][a-z0-9_-]{0,62}$"},
                           "kind": {"enum": ["report", "corrected", "resent"]},
                           "revision": {"type": "integer", "minimum": 0}},
        },
        "title": _TEXT,
        "heading": {"type": "string", "maxLength": HEADING_LIMIT},
        "window": {
            "type": "object", "additionalProperties": False,
            "required": ["key", "start", "end", "timezone", "label", "provisional"],
            "properties": {"key": _TEXT, "start": {"type": "string", "format": "date-time"},
                           "end": {"type": "string", "format": "date-time"}, "timezone": _TEXT, "label": _TEXT,
                           "provisional": {"const": False}},
        },
        "generated_at": {"type": "string", "format": "date-time"},
        "degraded": {"type": "boolean"},
        "headline": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["key", "label", "value", "text", "change"],
            "properties": {"key": {"enum": ["incidents_total", "mtta_p50_s", "mttr_p50_s", "interruptions",
                                            "slos_missed"]},
                           "label": _TEXT, "value": {"type": ["number", "null"]}, "text": _TEXT,
                           "change": _OPTIONAL_TEXT}}},
        "attention": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["key", "title", "unknown", "empty", "more", "items"],
            "properties": {
                "key": {"enum": ["slos_missed", "top_priorities", "alerting_gaps", "noisiest_alert",
                                 "sleep_interruptions"]},
                "title": _TEXT, "unknown": _OPTIONAL_TEXT, "empty": _TEXT, "more": {"type": "integer", "minimum": 0},
                "items": {"type": "array", "items": {
                    "type": "object", "additionalProperties": False, "required": ["subject", "fact", "change"],
                    "properties": {"subject": _TEXT, "fact": _TEXT, "change": _OPTIONAL_TEXT}}},
            }}},
        "data_quality": {
            "type": "object", "additionalProperties": False, "required": ["notes", "more"],
            "properties": {"notes": {"type": "array", "items": {
                "type": "object", "additionalProperties": False, "required": ["level", "text"],
                "properties": {"level": {"enum": ["error", "warning", "info"]}, "text": _TEXT}}},
                "more": {"type": "integer", "minimum": 0}},
        },
        "links": {
            "type": "object", "additionalProperties": False, "required": ["page", "pdf"],
            "properties": {"page": {"type": ["string", "null"], "format": "uri"},
                           "pdf": {"type": ["string", "null"], "format": "uri"}},
        },
    },
}
