"""Rendering: scorecards → one self-contained HTML page and a PDF pre-read (WeasyPrint).

Templates are package data, loaded with autoescape on and StrictUndefined. A templates directory
from the configuration overrides any built-in template; the built-in stays reachable as
``builtin/<name>`` for ``{% extends %}``. WeasyPrint's URL fetcher accepts ``data:`` URLs and
files under the package's templates folder only: untrusted text never makes it fetch anything.
"""

from __future__ import annotations

import base64
import functools
import gc
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

from opsmeeting.aggregate.model import ItemError, Scorecards
from opsmeeting.meeting.model import MeetingView
from opsmeeting.report import formats
from opsmeeting.report.charts import Chart, render_charts
from opsmeeting.report.context import ReportContext, build_context
from opsmeeting.report.guard import template_problem
from opsmeeting.report.summary import Warning, some

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@functools.cache
def font_data_url(name: str) -> str:
    """A font shipped in templates/fonts as a data: URL, so the page embeds it (no fetch, same look)."""
    path = (TEMPLATES / "fonts" / name).resolve()
    if not path.is_relative_to(TEMPLATES / "fonts") or not path.is_file():
        raise ValueError(f"no font {name!r} in the package")
    return "data:font/woff2;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


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
    )
    env.filters.update(
        pct=formats.fmt_pct, sli=formats.fmt_sli, num=formats.fmt_num, duration=formats.fmt_duration,
        signed=formats.fmt_signed, ms=formats.fmt_ms, sanitised_html=formats.sanitised_html,
    )
    env.globals["font_data_url"] = font_data_url
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
    html = render_html(screen, env)
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
