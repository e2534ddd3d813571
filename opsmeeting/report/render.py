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
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import nh3
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)
from markupsafe import Markup

from opsmeeting.aggregate.model import ItemError, Scorecards, ServiceScorecard, SloScorecard
from opsmeeting.errors import InputError
from opsmeeting.model import Setup, Snapshot
from opsmeeting.report.charts import Chart, render_charts, sparkline_points

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


# --- formatting filters: they return text, never markup -------------------------------------


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
    from opsmeeting.meeting.notes import ALLOWED_ATTRIBUTES, ALLOWED_TAGS

    if not html:
        return Markup("")
    return Markup(nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                            url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer"))


@dataclass(frozen=True)
class Warning:
    level: str  # "error" | "warning" | "info"
    text: str


class RenderGuard:
    """Renders one item's macro (a service's scorecard, its SLO rows, its ranking entry); an unexpected
    error leaves that item out with a visible note and is recorded, instead of ending the run. An
    error in a custom template (``output.templates_dir``) is the template's, not the data's: it is
    raised, so the CLI names the file."""

    def __init__(self, custom_dir: Path | None = None) -> None:
        self.custom_dir = custom_dir.resolve() if custom_dir else None
        self.errors: list[ItemError] = []

    def __call__(self, item: str, macro: Any, *args: Any, columns: int = 0, tag: str = "p") -> Markup:
        """``columns``: the item is table rows (the note is one row that wide); ``tag``: else its element."""
        try:
            return Markup(macro(*args))
        except Exception as exc:
            if self._from_custom_template(exc):
                raise
            error = ItemError(item=item, stage="rendering", error=f"{type(exc).__name__}: {str(exc)[:300]}")
            if error not in self.errors:
                self.errors.append(error)
            note = Markup("{} could not be shown ({}); its numbers are in scorecards.json.").format(
                item[:1].upper() + item[1:], type(exc).__name__)
            if columns:
                return Markup('<tr><td class="missing" colspan="{}">{}</td></tr>').format(columns, note)
            return Markup('<{0} class="missing">{1}</{0}>').format(Markup(tag if tag in ("p", "li") else "p"), note)

    def _from_custom_template(self, exc: BaseException) -> bool:
        return custom_template_frame(exc, self.custom_dir) is not None


def custom_template_frame(exc: BaseException, custom_dir: Path | None) -> tuple[Path, int] | None:
    """The innermost (file, line) of ``exc``'s traceback inside ``custom_dir`` (Jinja maps template
    frames to their file and line), or None when the error did not pass through a custom template."""
    if custom_dir is None:
        return None
    root = custom_dir.resolve()
    found = None
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name and not name.startswith("<") and Path(name).resolve().is_relative_to(root):
            found = (Path(name), tb.tb_lineno)
        tb = tb.tb_next
    return found


def template_problem(exc: TemplateError, custom_dir: Path | None) -> InputError | None:
    """An InputError naming the custom template (file and line) that ``exc`` comes from, or None
    when the error is not a custom template's (a bug of opsmeeting's own templates)."""
    if custom_dir is None:
        return None
    if isinstance(exc, TemplateSyntaxError) and exc.filename and Path(exc.filename).resolve().is_relative_to(
            custom_dir.resolve()):
        return InputError(f"{exc.filename}:{exc.lineno}: template syntax error: {exc.message}")
    where = custom_template_frame(exc, custom_dir)
    if isinstance(exc, TemplateNotFound):
        place = f"{where[0]}:{where[1]}" if where else str(custom_dir)
        return InputError(f"{place}: template {exc.name!r} not found (built-in templates are "
                          "'builtin/<name>', e.g. 'builtin/report.html.j2')")
    if where is not None:
        return InputError(f"{where[0]}:{where[1]}: template error: {exc.message or type(exc).__name__}")
    return None


@dataclass
class ReportContext:
    """Everything a report template reads. Documented in README → "Custom templates"."""

    title: str
    setup: Setup
    cards: Scorecards
    medium: str  # "screen" or "print"
    timezone: str
    window_label: str
    generated_label: str
    warnings: list[Warning]
    charts: dict[str, Chart]
    ranked: list[ServiceScorecard]
    on_call: list[Any]
    recurring: list[Any]
    burners: list[tuple[SloScorecard, Any]]
    silent_burn: list[SloScorecard]
    latency: LatencyTable
    sparklines: dict[tuple[str, str], str] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)
    page_size: str = "A4"
    wheel: Any = None  # opsmeeting.meeting.wheel_store.WheelView on the screen page; None in print
    detailed: list[ServiceScorecard] = field(default_factory=list)  # services shown in full (appendix, SLOs)
    summarised: list[ServiceScorecard] = field(default_factory=list)  # the rest, one table row each (print)
    responders_shown: list[Any] = field(default_factory=list)
    ranked_shown: list[ServiceScorecard] = field(default_factory=list)
    majors_shown: list[Any] = field(default_factory=list)
    guard: RenderGuard = field(default_factory=RenderGuard)

    def local(self, moment: datetime | None, fmt: str = "%a %-d %b %H:%M") -> str:
        if moment is None:
            return "—"
        return moment.astimezone(ZoneInfo(self.timezone)).strftime(fmt)


@dataclass(frozen=True)
class Quantile:
    key: str  # as in scorecards.json, e.g. "0.99"
    label: str  # "p99"


@dataclass(frozen=True)
class LatencyRow:
    slo: SloScorecard
    values: list[float | None]  # one per column, seconds


@dataclass(frozen=True)
class LatencyTable:
    """Latency quantiles in one numeric column order for every row (SLOs may ask different ones)."""

    columns: list[Quantile] = field(default_factory=list)
    rows: list[LatencyRow] = field(default_factory=list)


def latency_table(slos: list[SloScorecard]) -> LatencyTable:
    keys = sorted({k for slo in slos for k in slo.quantiles}, key=float)
    columns = [Quantile(key=k, label=f"p{float(k) * 100:.10g}") for k in keys]
    return LatencyTable(columns=columns, rows=[LatencyRow(slo, [slo.quantiles.get(k) for k in keys]) for slo in slos])


def _some(names: list[str], shown: int = 12) -> str:
    """A list for a sentence: the first ``shown`` names, then how many more."""
    if len(names) <= shown:
        return ", ".join(names)
    return ", ".join(names[:shown]) + f" and {len(names) - shown} more (all in scorecards.json)"


def data_quality(cards: Scorecards) -> list[Warning]:
    warnings: list[Warning] = []
    for name, status in sorted(cards.sources.items()):
        role = next((r for r, info in cards.roles.items() if info.source == name), None)
        label = cards.roles[role].label if role else name
        if status.status == "failed":
            warnings.append(Warning("error", f"{label} could not be read: {status.detail}. Its metrics are missing "
                                             "(shown as —), not zero."))
        elif status.status == "degraded":
            warnings.append(Warning("warning", f"{label} answered only in part: {status.detail}."))
        elif status.status == "not_configured":
            what = "incident" if role == "incidents" else "SLO"
            warnings.append(Warning("info", f"{label}: {status.detail}; this report has no {what} metrics (shown as "
                                            "—), and the priority ranking leaves them out."))
    if cards.window.provisional:
        warnings.append(Warning("warning", "Provisional: this rotation has not ended yet; numbers will change."))
    low = [f"{s.service} · {s.name}" for c in cards.services for s in c.slos if s.status == "low_traffic"]
    if low:
        warnings.append(Warning("info", "Too few events to judge (low traffic): " + _some(low) + "."))
    nodata = [f"{s.service} · {s.name}" for c in cards.services for s in c.slos if s.status == "no_data"]
    if nodata:
        warnings.append(Warning("warning", "No SLO data: " + _some(nodata) + "."))
    broken = [e.item for e in cards.item_errors if e.stage == "aggregation"]
    if broken:
        warnings.append(Warning("warning", "Not computed, because of an unexpected error: " + _some(broken)
                                + ". Their values are missing (—), not zero."))
    failed = [f"{s.service} · {s.name}" for c in cards.services for s in c.slos if s.status == "error"]
    if failed and not any(w.level == "error" for w in warnings):
        warnings.append(Warning("warning", "SLO queries failed: " + _some(failed) + "."))
    return warnings


def changes_since_last(cards: Scorecards) -> list[str]:
    """Plain sentences: rank moves of two or more, budgets that changed state, incident swings."""
    lines = []
    for card in sorted(cards.services, key=lambda c: c.priority.rank if c.priority else 0):
        trend, priority = card.trend, card.priority
        if trend is None or priority is None:
            continue
        if trend.previous_rank and abs(trend.previous_rank - priority.rank) >= 2:
            way = "up" if trend.previous_rank > priority.rank else "down"
            lines.append(f"{card.service} moved {way} from rank {trend.previous_rank} to {priority.rank}.")
        for slo in card.slos:
            before = trend.previous_error_budget_consumed.get(slo.name)
            now = slo.error_budget_consumed
            if before is None or now is None:
                continue
            if before <= 1 < now:
                lines.append(f"{card.service} {slo.name} overspent its budget ({fmt_pct(now, 0)}; "
                             f"{fmt_pct(before, 0)} last rotation).")
            elif now <= 1 < before:
                lines.append(f"{card.service} {slo.name} is back within budget ({fmt_pct(now, 0)}; "
                             f"{fmt_pct(before, 0)} last rotation).")
        was, is_ = trend.previous_incidents_total, card.incidents.incidents_total
        if was is not None and is_ is not None and abs(is_ - was) >= max(5, was // 2):
            lines.append(f"{card.service}: {is_} incidents, {fmt_signed(is_ - was)} since the last rotation.")
    return lines


def detail(cards: Scorecards, ranked: list[ServiceScorecard], medium: str, limit: int) -> dict[str, Any]:
    """What is shown in full. The page shows everything; the PDF of a large organisation shows the
    ``limit`` highest-priority services plus any that missed an SLO or had a major incident (at most
    twice ``limit``) in full, and summarises the rest in one table, so the pre-read stays readable."""
    responders = sorted(cards.responders, key=lambda r: (-r.interruptions, r.name))
    majors = cards.major_incidents
    if medium == "screen" or (len(cards.services) <= limit and len(majors) <= 2 * limit):
        return {"detailed": cards.services, "summarised": [], "responders_shown": responders,
                "ranked_shown": ranked, "majors_shown": majors}
    # the PDF lists the major incidents that most need the meeting: no postmortem yet, then the longest
    longest = sorted(majors, key=lambda m: (m.postmortem_url is not None, -(m.ttr_s or float("inf")), m.number))
    majors_shown = sorted(longest[: 2 * limit], key=lambda m: (m.created_at, m.number))
    notable = {
        c.service for c in cards.services
        if (c.incidents.incidents_major or 0) > 0 or any(s.met is False for s in c.slos)
    }
    keep = {c.service for c in ranked[:limit]}
    for card in ranked[limit:]:
        if len(keep) >= 2 * limit:
            break
        if card.service in notable:
            keep.add(card.service)
    return {
        "detailed": [c for c in cards.services if c.service in keep],
        "summarised": [c for c in ranked if c.service not in keep],
        "responders_shown": responders[:limit],
        "ranked_shown": ranked[:limit],
        "majors_shown": majors_shown,
    }


def build_context(snapshot: Snapshot, cards: Scorecards, medium: str, charts: dict[str, Chart],
                  wheel: Any = None, templates_dir: Path | None = None) -> ReportContext:
    setup = snapshot.setup
    tz = snapshot.window.timezone
    ranked = sorted(cards.services, key=lambda c: c.priority.rank if c.priority else 0)
    on_call = sorted((r for r in cards.responders if (r.on_call_hours or 0) > 0),
                     key=lambda r: (-(r.on_call_hours or 0), r.name))
    recurring = [p for p in cards.problems if p.count >= 2][:10]
    burners = [
        (slo, attr)
        for c in cards.services
        for slo in c.slos
        for attr in slo.attribution[:3]
        if attr.share_of_budget >= 0.05
    ]
    burners.sort(key=lambda pair: -pair[1].share_of_budget)
    silent = sorted(
        (
            slo for c in cards.services for slo in c.slos
            if slo.status == "ok" and (slo.error_budget_consumed or 0) >= 0.75 and (slo.unattributed_share or 0) >= 0.5
        ),
        key=lambda slo: (-(slo.error_budget_consumed or 0), slo.service, slo.name),
    )[:6]
    sparklines = {}
    for card in cards.services:
        for slo in card.slos:
            series = card.trend.error_budget_consumed.get(slo.name) if card.trend else None
            if not series or sum(v is not None for v in series) < 2:
                series = [None if not d.total or d.good is None else d.good / d.total for d in slo.daily]
            sparklines[(slo.service, slo.name)] = sparkline_points(series)
    generated = cards.generated_at.astimezone(ZoneInfo(tz))
    context = ReportContext(
        title=setup.title,
        setup=setup,
        cards=cards,
        medium=medium,
        timezone=tz,
        window_label=snapshot.window.label(),
        generated_label=generated.strftime("%a %-d %b %Y %H:%M %Z"),
        warnings=data_quality(cards),
        charts=charts,
        ranked=ranked,
        on_call=on_call,
        recurring=recurring,
        burners=burners[:12],
        silent_burn=silent,
        latency=LatencyTable(),
        sparklines=sparklines,
        changes=changes_since_last(cards),
        page_size=setup.page_size,
        wheel=wheel if medium == "screen" else None,
        guard=RenderGuard(templates_dir),
        **detail(cards, ranked, medium, setup.pdf_detail),
    )
    context.latency = latency_table([slo for c in context.detailed for slo in c.slos if slo.quantiles])
    return context


@functools.cache
def font_data_url(name: str) -> str:
    """A font shipped in templates/fonts as a data: URL, so the page embeds it (no fetch, same look)."""
    path = (TEMPLATES / "fonts" / name).resolve()
    if not path.is_relative_to(TEMPLATES / "fonts") or not path.is_file():
        raise ValueError(f"no font {name!r} in the package")
    return "data:font/woff2;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def environment(templates_dir: Path | None = None) -> Environment:
    builtin = PackageLoader("opsmeeting", "templates")
    loaders: list[Any] = []
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
        pct=fmt_pct, sli=fmt_sli, num=fmt_num, duration=fmt_duration, signed=fmt_signed, ms=fmt_ms,
        sanitised_html=sanitised_html,
    )
    env.globals["font_data_url"] = font_data_url
    return env


def render_html(context: ReportContext, env: Environment) -> str:
    """The page or the print HTML. When an item could not be rendered, the page is rendered once more
    with a banner line naming it (rendering is deterministic: the same items fail again)."""
    try:
        template = env.get_template("report.html.j2")
        html = template.render(ctx=context, c=context.cards)
        if context.guard.errors:
            names = _some([e.item for e in context.guard.errors])
            context.warnings.append(Warning("warning", f"Left out by an error while rendering: {names}. Their "
                                                       "numbers are in scorecards.json."))
            html = template.render(ctx=context, c=context.cards)
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

        class _Fetcher(URLFetcher):  # type: ignore[misc]
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
        return document.write_pdf(optimize_images=False)  # type: ignore[no-any-return]
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
    snapshot: Snapshot,
    cards: Scorecards,
    *,
    templates_dir: Path | None = None,
    pdf: bool = True,
    wheel: Any = None,
) -> RenderedReport:
    """Charts, the screen HTML and (optionally) the print HTML laid out as a PDF."""
    import time

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    charts = render_charts(cards)
    timings["charts"] = time.perf_counter() - t0
    env = environment(templates_dir)
    t0 = time.perf_counter()
    screen = build_context(snapshot, cards, "screen", charts, wheel=wheel, templates_dir=templates_dir)
    html = render_html(screen, env)
    timings["html"] = time.perf_counter() - t0
    errors = list(screen.guard.errors)
    pdf_bytes = None
    if pdf:
        t0 = time.perf_counter()
        paper = build_context(snapshot, cards, "print", charts, templates_dir=templates_dir)
        pdf_bytes = render_pdf(render_html(paper, env))
        errors += [e for e in paper.guard.errors if e not in errors]
        timings["pdf"] = time.perf_counter() - t0
    return RenderedReport(html=html, pdf=pdf_bytes, charts=charts, timings=timings, item_errors=errors)
