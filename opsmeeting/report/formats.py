"""Formatting filters of the templates: they return text, never markup (but ``sanitised_html``, the
one filter that returns markup: notes already rendered from Markdown, cleaned again)."""

from __future__ import annotations

import math

import nh3
from markupsafe import Markup

from opsmeeting.meeting.notes import ALLOWED_ATTRIBUTES, ALLOWED_TAGS


def fmt_pct(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{100 * value:.{digits}f} %"


def fmt_sli(value: float | None) -> str:
    """An SLI with enough digits to compare with a 99.9 % objective."""
    if value is None or not math.isfinite(value):
        return "—"
    pct = 100 * value
    return f"{pct:.3f} %" if pct >= 99 else f"{pct:.2f} %"


def fmt_num(value: float | int | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}".replace(",", "\u202f")
    return f"{int(value):,}".replace(",", "\u202f")


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or (isinstance(seconds, float) and not math.isfinite(seconds)):
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s" if minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def fmt_ms(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"
    ms = seconds * 1000
    return f"{ms:,.0f} ms".replace(",", "\u202f") if ms >= 10 else f"{ms:.1f} ms"


def fmt_signed(value: float | None, kind: str = "num") -> str:
    if value is None:
        return ""
    sign = "+" if value > 0 else ("−" if value < 0 else "±")
    magnitude = abs(value)
    text = fmt_pct(magnitude, 0) if kind == "pct" else fmt_num(magnitude)
    return f"{sign}{text}"


def sanitised_html(html: str | None) -> Markup:
    """The one filter that returns markup: notes already rendered from Markdown, cleaned again here."""
    if not html:
        return Markup("")
    return Markup(nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                            url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer"))
