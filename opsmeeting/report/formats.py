"""Formatting filters of the templates: they return text, never markup (but ``sanitised_html``, the
one filter that returns markup: notes already rendered from Markdown, cleaned again)."""

from __future__ import annotations

import math
import re
import unicodedata

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


# Text from the sources (incident titles, names of people, services and teams) is printed as the source
# wrote it, but for what would break the layout: runs of whitespace (newlines included) become one space,
# bidirectional embeddings, overrides and isolates are removed (the templates isolate each text with
# <bdi>), and so are the other control characters (they print as empty boxes). scorecards.json keeps the
# text as the source gave it.
TITLE_LIMIT = 140  # characters of a title, the ellipsis included
WORD_SLACK = 20  # a title is cut at a space when one is at most this many characters before the limit
ELLIPSIS = "…"
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # LRE RLE PDF LRO RLO LRI RLI FSI PDI
_REMOVED = re.compile(f"[{BIDI_CONTROLS}\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")  # tab, LF… are whitespace
_WHITESPACE = re.compile(r"\s+")  # Unicode whitespace: str.isspace()
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(value: object) -> str:
    """``value`` as one line of text: bidirectional controls (U+202A–U+202E, U+2066–U+2069) and other
    control characters removed, every run of whitespace (newlines, tabs, no-break spaces…) made one
    space, stripped. Surrogate code points (never valid in UTF-8) are paired, or replaced by U+FFFD."""
    if value is None:
        return ""
    text = str(value)
    if _SURROGATE.search(text):
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _WHITESPACE.sub(" ", _REMOVED.sub("", text)).strip()


_BIDI_TABLE = dict.fromkeys(map(ord, BIDI_CONTROLS))


def without_bidi_controls(value: object) -> object:
    """Every value a template prints (Jinja's ``finalize``): a plain string loses its bidirectional
    embeddings, overrides and isolates, so no name or title can reverse the text after it, wherever a
    template prints it, ``clean`` or not. Markup (already escaped or rendered by us) and non-strings pass."""
    if type(value) is str:
        return value.translate(_BIDI_TABLE)
    return value


def _extends(char: str) -> bool:
    """Whether ``char`` belongs to the grapheme before it: a combining mark (accents, viramas, variation
    selectors, the keycap), a zero-width (non-)joiner, an emoji modifier or tag, a Hangul vowel or final."""
    code = ord(char)
    return (unicodedata.category(char) in ("Mn", "Mc", "Me") or code in (0x200C, 0x200D)
            or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F
            or 0x1160 <= code <= 0x11FF or 0xD7B0 <= code <= 0xD7FF)


def _regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF  # flags are pairs of these


def _is_boundary(text: str, index: int) -> bool:
    """Whether ``text[:index]`` ends a whole grapheme (a character with its marks, an emoji sequence, a flag,
    an Indic conjunct): close to Unicode's extended grapheme clusters (UAX #29), on the safe side."""
    if index <= 0 or index >= len(text):
        return True
    before, after = text[index - 1], text[index]
    if _extends(after) or before == "\u200d":  # a mark, or what a ZWJ joins (👩‍🚒)
        return False
    if unicodedata.combining(before) == 9 and unicodedata.category(after) == "Lo":  # a virama joins: क्ष
        return False
    if _regional(before) and _regional(after):
        run = 0
        while index - run - 1 >= 0 and _regional(text[index - run - 1]):
            run += 1
        return run % 2 == 0
    return True


def title_cut(value: object, limit: int = TITLE_LIMIT) -> str:
    """``clean(value)``, cut to at most ``limit`` characters, ellipsis included, when longer: at a
    space when one is within WORD_SLACK characters of the cut, never inside a grapheme (not before a
    combining mark, nor inside an emoji sequence or a flag). For the text of an element; its whole
    text, ``clean``, goes in its ``title=`` attribute."""
    text = clean(value)
    if len(text) <= limit:
        return text
    cut = max(limit - len(ELLIPSIS), 1)
    while cut > 0 and not _is_boundary(text, cut):
        cut -= 1
    if cut == 0:  # one grapheme longer than the limit (hundreds of stacked marks): cut inside it
        cut = max(limit - len(ELLIPSIS), 1)
    space = text.rfind(" ", 0, cut + 1)
    if space > 0 and cut - space <= WORD_SLACK:
        cut = space
    return text[:cut].rstrip() + ELLIPSIS
