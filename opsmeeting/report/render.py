"""Rendering: scorecards → one self-contained HTML page and a PDF pre-read (WeasyPrint).

Templates are package data, loaded with autoescape on and StrictUndefined. A templates directory
from the configuration overrides any built-in template; the built-in stays reachable as
``builtin/<name>`` for ``{% extends %}``. WeasyPrint's URL fetcher accepts ``data:`` URLs and
files under the package's templates folder only: untrusted text never makes it fetch anything.

Fonts: the stack of both media is DejaVu Sans, then Noto Sans CJK and Noto Color Emoji (fonts.css.j2).
WeasyPrint finds them through fontconfig and embeds subsets of the glyphs it draws. The page embeds
DejaVu Sans (package files) and, when it has CJK characters, a subset of the system's Noto Sans CJK JP
with exactly those characters, made here with fontTools (tens of kB; none when the system has no Noto).
"""

from __future__ import annotations

import base64
import functools
import gc
import io
import logging
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    StrictUndefined,
    TemplateError,
    select_autoescape,
)
from markupsafe import Markup

from opsmeeting.aggregate.model import ItemError, Scorecards
from opsmeeting.meeting.model import MeetingView
from opsmeeting.report import formats
from opsmeeting.report.charts import Chart, render_charts
from opsmeeting.report.context import ReportContext, build_context
from opsmeeting.report.guard import template_problem
from opsmeeting.report.summary import Warning, some

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
log = logging.getLogger("opsmeeting")


@functools.cache
def font_data_url(name: str) -> str:
    """A font shipped in templates/fonts as a data: URL, so the page embeds it (no fetch, same look)."""
    path = (TEMPLATES / "fonts" / name).resolve()
    if not path.is_relative_to(TEMPLATES / "fonts") or not path.is_file():
        raise ValueError(f"no font {name!r} in the package")
    return "data:font/woff2;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


# The page's own faces for the CJK characters it uses: fonts.css.j2 prints this marker (a CSS comment) in
# the screen medium, and embed_page_faces replaces it once the page is rendered and its characters known.
PAGE_FACES_MARKER = "/* opsmeeting: faces for the CJK characters of this page */"
CJK_FAMILY = "Noto Sans CJK JP"  # the first CJK family of the stack; fonts-noto-cjk on Debian
CJK_FALLBACK_FILES = (  # where Debian and Arch put it, when fc-match (package fontconfig) is not installed
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
)
# Hangul Jamo; CJK radicals, Kangxi, description characters; CJK punctuation, kana, Bopomofo, Hangul
# compatibility Jamo, Kanbun, strokes, enclosed letters, compatibility; ideographs and extension A; Hangul
# syllables and Jamo extensions; compatibility ideographs; compatibility forms; half- and fullwidth forms;
# ideograph extensions B to H.
_CJK = re.compile("[\u1100-\u11ff\u2e80-\u2fff\u3000-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff"
                  "\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff]")


@functools.cache
def system_font(family: str) -> tuple[str, int] | None:
    """The file and collection index of the regular face of ``family`` on this system, or None."""
    fc_match = shutil.which("fc-match")
    if fc_match is not None:
        try:
            found = subprocess.run([fc_match, "--format=%{file}\n%{index}\n%{family}", f"{family}:style=Regular"],
                                   capture_output=True, text=True, timeout=10, check=True).stdout.split("\n")
        except (OSError, subprocess.SubprocessError):
            found = []
        if len(found) == 3 and family in found[2].split(","):  # fc-match names another family when it has none
            return found[0], int(found[1] or 0)
        return None
    from fontTools.ttLib import TTCollection, TTLibError  # type: ignore[import-untyped]  # no type information

    for path in CJK_FALLBACK_FILES:
        try:
            for index, font in enumerate(TTCollection(str(path), lazy=True).fonts):
                if font["name"].getDebugName(1) == family:
                    return str(path), index
        except (OSError, TTLibError):
            continue
    return None


@functools.lru_cache(maxsize=16)
def subset_data_url(path: str, index: int, characters: str) -> str:
    """The glyphs of ``characters`` in the font at ``path`` (``index`` in a collection), as a WOFF2 data: URL.
    Deterministic: the same font and characters give the same bytes."""
    from fontTools import subset  # type: ignore[import-untyped]  # fontTools ships no type information
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.hinting = False
    options.desubroutinize = True  # smaller once compressed
    options.layout_features = []  # names and titles in horizontal lines: no substitution needed
    options.drop_tables += ["VORG", "vhea", "vmtx"]
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]  # the copyright and the licence (OFL) stay in the file
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in characters])
    with TTFont(path, fontNumber=index, lazy=True, recalcTimestamp=False) as font:
        subsetter.subset(font)
        font.flavor = "woff2"
        buffer = io.BytesIO()
        font.save(buffer)
    return "data:font/woff2;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def page_faces_css(html: str) -> str:
    """The @font-face rule of the CJK characters of ``html``: empty when it has none, or the system has
    no Noto Sans CJK (the reader's fonts are used then), or the subset cannot be made."""
    characters = "".join(sorted(set(_CJK.findall(html))))
    if not characters:
        return ""
    font = system_font(CJK_FAMILY)
    if font is None:
        log.warning("the page has %d distinct CJK characters but this system has no %s to embed: readers "
                    "without a CJK font see them as boxes (install fonts-noto-cjk)", len(characters), CJK_FAMILY)
        return ""
    try:
        url = subset_data_url(font[0], font[1], characters)
    except Exception as exc:  # fontTools raises many kinds on a damaged font: the page still renders, without it
        log.warning("could not embed %s in the page (%s): readers without a CJK font see boxes", CJK_FAMILY, exc)
        return ""
    # 400 only: bold CJK text is made bold by the browser, not worth a second subset of the same size.
    return f'\n@font-face {{ font-family: "{CJK_FAMILY}"; font-weight: 400; src: url("{url}") format("woff2"); }}'


def embed_page_faces(html: str) -> str:
    """``html`` with the marker of fonts.css.j2 replaced by the faces its characters need."""
    if PAGE_FACES_MARKER not in html:
        return html
    return html.replace(PAGE_FACES_MARKER, page_faces_css(html), 1)


def environment(templates_dir: Path | None = None) -> Environment:
    builtin = PackageLoader("opsmeeting", "templates")
    loaders: list[BaseLoader] = []
    if templates_dir is not None:
        loaders.append(FileSystemLoader(str(templates_dir)))
    loaders += [PrefixLoader({"builtin": builtin}), builtin]
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(["html", "j2", "htm", "xml"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=formats.without_bidi_controls,
    )
    env.filters.update(
        pct=formats.fmt_pct, sli=formats.fmt_sli, num=formats.fmt_num, duration=formats.fmt_duration,
        signed=formats.fmt_signed, ms=formats.fmt_ms, sanitised_html=formats.sanitised_html,
        clean=formats.clean, title_cut=formats.title_cut,
    )
    env.globals["font_data_url"] = font_data_url
    env.globals["page_faces"] = Markup(PAGE_FACES_MARKER)
    return env


def render_html(context: ReportContext, env: Environment) -> str:
    """The page or the print HTML. When an item could not be rendered, the page is rendered once more
    with a banner line naming it (rendering is deterministic: the same items fail again)."""
    try:
        template = env.get_template("report.html.j2")
        html = template.render(ctx=context)
        if context.guard.errors:
            names = some([e.item for e in context.guard.errors])
            context.warnings.append(Warning("warning", f"Left out by an error while rendering: {names}. Their "
                                                       "numbers are in scorecards.json."))
            html = template.render(ctx=context)
    except TemplateError as exc:
        problem = template_problem(exc, context.guard.custom_dir)
        if problem is None:
            raise
        raise problem from None
    return html


class SafeFetcher:
    """Built lazily: WeasyPrint is imported only when a PDF is made."""

    @staticmethod
    def make() -> Any:
        from weasyprint.urls import URLFetcher, URLFetcherResponse

        root = TEMPLATES

        class _Fetcher(URLFetcher):  # type: ignore[misc]  # WeasyPrint ships no type information
            def fetch(self, url: str, headers: Any = None) -> Any:
                if url.startswith("data:"):
                    return super().fetch(url, headers)
                if url.startswith("file:"):
                    from urllib.parse import unquote, urlparse

                    path = Path(unquote(urlparse(url).path)).resolve()
                    if path.is_relative_to(root) and path.is_file():
                        return URLFetcherResponse(url, path.read_bytes())
                raise ValueError(f"opsmeeting does not fetch {url[:80]!r} while making a PDF")

        return _Fetcher(allowed_protocols=("data", "file"), allow_redirects=False, timeout=1)


def render_pdf(html: str) -> bytes:
    """Lay out ``html`` (the print medium) with WeasyPrint; GC is paused during layout (−15–35 %)."""
    from weasyprint import HTML

    enabled = gc.isenabled()
    gc.disable()
    try:
        document = HTML(string=html, base_url=str(TEMPLATES) + "/", url_fetcher=SafeFetcher.make())
        pdf: bytes = document.write_pdf(optimize_images=False)
        return pdf
    finally:
        if enabled:
            gc.enable()


@dataclass
class RenderedReport:
    html: str
    pdf: bytes | None
    charts: dict[str, Chart]
    timings: dict[str, float]
    item_errors: list[ItemError] = field(default_factory=list)  # items the templates left out


def render_report(
    cards: Scorecards,
    meeting: MeetingView,
    *,
    templates_dir: Path | None = None,
    pdf: bool = True,
) -> RenderedReport:
    """Charts, the screen HTML and (optionally) the print HTML laid out as a PDF, from the scorecards
    (with their setup) and the meeting view beside them."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    charts = render_charts(cards)
    timings["charts"] = time.perf_counter() - t0
    env = environment(templates_dir)
    t0 = time.perf_counter()
    screen = build_context(cards, meeting, "screen", charts, templates_dir=templates_dir)
    html = embed_page_faces(render_html(screen, env))
    timings["html"] = time.perf_counter() - t0
    errors = list(screen.guard.errors)
    pdf_bytes = None
    if pdf:
        t0 = time.perf_counter()
        paper = build_context(cards, meeting, "print", charts, templates_dir=templates_dir)
        pdf_bytes = render_pdf(render_html(paper, env))
        errors += [e for e in paper.guard.errors if e not in errors]
        timings["pdf"] = time.perf_counter() - t0
    return RenderedReport(html=html, pdf=pdf_bytes, charts=charts, timings=timings, item_errors=errors)
