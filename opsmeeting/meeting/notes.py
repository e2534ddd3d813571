"""Teams' on-call notes: one Markdown file per team per rotation, shown sanitised in the pre-read.

Layout: ``<notes.directory>/<window folder>/<team>.md``, where the window folder is the one the
report uses (``2026-10-19_2026-11-02``). Markdown is rendered with markdown-it-py (raw HTML off)
and the result cleaned with nh3 (an allow-list HTML sanitiser), so a note can hold lists, links
and code but never scripts, styles, images or event handlers.
"""

from __future__ import annotations

from pathlib import Path

import nh3
from markdown_it import MarkdownIt

from opsmeeting.meeting.model import TeamNote
from opsmeeting.names import slug
from opsmeeting.window import Window

ALLOWED_TAGS = {"p", "ul", "ol", "li", "strong", "em", "code", "pre", "blockquote", "a", "h3", "h4", "h5", "h6",
                "br", "hr", "table", "thead", "tbody", "tr", "th", "td", "del"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
MAX_BYTES = 64 * 1024


def note_path(directory: Path, window: Window, team: str) -> Path:
    """``<notes>/<window>/<team's slug>.md`` (a file named by the team's name as written, from
    before names could hold any character, is still read)."""
    folder = directory / window.slug
    legacy = folder / f"{team}.md"
    if legacy.name != f"{slug(team)}.md" and "/" not in team and legacy.is_file():
        return legacy
    return folder / f"{slug(team)}.md"


def render_markdown(text: str) -> str:
    """Markdown → sanitised HTML (headings demoted below the report's own)."""
    html = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").render(text)
    for level in (2, 1):  # a team's "# Title" must not compete with the agenda's headings
        html = html.replace(f"<h{level}>", "<h3>").replace(f"</h{level}>", "</h3>")
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer")


def read_notes(directory: Path | None, window: Window, teams: list[str]) -> list[TeamNote]:
    """One entry per team; ``html`` is None for a team that wrote nothing."""
    notes = []
    for team in teams:
        html = None
        if directory is not None:
            path = note_path(directory, window, team)
            if path.is_file():
                text = path.read_bytes()[:MAX_BYTES].decode("utf-8", errors="replace")
                html = render_markdown(text) if text.strip() else None
        notes.append(TeamNote(team=team, html=html))
    return notes
