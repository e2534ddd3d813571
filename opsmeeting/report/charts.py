"""Charts for the report, drawn with matplotlib's object API (no pyplot state).

Each chart is one figure, laid out by matplotlib's constrained layout at its printed size (170 mm wide),
encoded three ways: an inline SVG for the projected page whose text, axes and grid take the page
theme's colours (CSS variables, so it follows light and dark), the print medium's copy of it in the
light theme's concrete colours, and a PNG data URL (150 dpi). Data colours are the Okabe–Ito palette in
every medium. Output is deterministic: fixed SVG hash salt, no dates or software names in the files.

Charts do not lie by omission: counts get integer ticks, days their weekday, an axis whose values span
decades a logarithmic scale (its label says so), legends are outside the data and never cut a name,
and a chart that shows less than the whole says so in its ``note``.
"""

from __future__ import annotations

import base64
import functools
import io
import math
import re
import statistics
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import matplotlib
import numpy as np

matplotlib.use("Agg")
from markupsafe import Markup, escape
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import BoundaryNorm, Colormap, LinearSegmentedColormap, ListedColormap, Normalize, to_rgba
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path as Outline
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter, SymmetricalLogLocator

from opsmeeting.aggregate.model import Scorecards, SloScorecard

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

# Okabe–Ito, safe for the common colour-vision deficiencies.
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "grey": "#6b6b6b",
}
# The page's light theme (report.css :root). Figures are drawn in these colours: the PNG and the print
# SVG keep them; the screen SVG replaces each by its CSS variable (the light value as the fallback), so
# it follows the page's theme. No data colour is one of them.
THEME = {
    "fg": "#111418",  # text, the budget line
    "muted": "#55606e",  # spines and ticks
    "line": "#d5dae1",  # grid
    "panel": "#f4f6f9",  # a heat-map cell with no interruption
}
STYLE: dict[RcKeyType, Any] = {
    "font.family": ["DejaVu Sans"],  # and the CJK fallback when installed: see font_families()
    "font.size": 9,
    "text.parse_math": False,  # service names are data: "$" is a dollar sign, never mathtext
    "text.color": THEME["fg"],
    "axes.labelcolor": THEME["fg"],
    "axes.edgecolor": THEME["muted"],
    "axes.facecolor": "none",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "xtick.color": THEME["muted"],
    "ytick.color": THEME["muted"],
    "xtick.labelcolor": THEME["fg"],
    "ytick.labelcolor": THEME["fg"],
    "grid.color": THEME["line"],
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "figure.facecolor": "none",
    "savefig.facecolor": "none",
    "svg.hashsalt": "opsmeeting",
    "svg.fonttype": "path",
    "path.simplify": True,
}
DPI = 150
WIDTH_MM = 170
HEAT = LinearSegmentedColormap.from_list("heat", ["#f7f7f7", "#fdd49e", "#E69F00", "#D55E00", "#7f2704"])
HEAT_COUNTS = LinearSegmentedColormap.from_list("heat-counts", ["#fdd49e", "#E69F00", "#D55E00", "#7f2704"])
BUDGET_SERIES = 6  # the budget chart draws the most overspent SLOs, at most this many
SERIES_COLOURS = tuple(PALETTE[c] for c in ("vermillion", "blue", "orange", "green", "purple", "sky"))
SERIES_MARKERS = ("o", "s", "^", "D", "v", "P")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# What the PDF embeds. Measured on the bundled demo (WeasyPrint 70, both at 170 mm, rasterised with
# `pdftoppm -r 200`, compared with the same chart rasterised at 800 dpi and scaled down): the SVG is the
# sharper, its text and lines are vector at any zoom (mean absolute error against the reference 2.6 grey
# levels against the 150 dpi PNG's 6.4; edge energy 1.3× the PNG's), and WeasyPrint draws it the same
# as the browser. The print SVG carries concrete colours: WeasyPrint's SVG does not resolve var().
PRINT_FORMAT: Literal["svg", "png"] = "svg"

Scale = Literal["linear", "log", "symlog"]

# The projector's copy of each chart (presentation mode) is drawn at this fraction of the printed size with
# the same type sizes, so its text is 1 / PRESENT_SCALE larger against the chart: shown as wide as a slide
# (about 960 px at 1024 × 768), its smallest text (7 pt) is over 20 px.
PRESENT_SCALE = 0.6
PRESENT_HEIGHT = 0.8  # and at this fraction of its printed height: room for the axis labels at that type size
_SCALE: ContextVar[float] = ContextVar("opsmeeting_chart_scale", default=1.0)


@dataclass(frozen=True)
class Chart:
    """A rendered chart: its PNG data URL, its inline SVGs (``svg`` for the screen, following the page
    theme; ``print_svg`` in light colours for the PDF), the alt text that describes it, and ``note``:
    what it leaves out ("6 of 9 shown"), when it does."""

    key: str
    data_url: str
    alt: str
    width_mm: float
    note: str | None = None
    svg: str = ""
    print_svg: str = ""
    height_mm: float = 0.0
    present_svg: str = ""  # the projector's copy (PRESENT_SCALE), in the page theme's colours

    def markup(self, medium: str) -> Markup:
        """The chart's element for ``medium`` ("screen": the projected page; "print": the PDF)."""
        if medium == "screen" and self.svg:
            return Markup(self.svg)
        if medium == "print" and PRINT_FORMAT == "svg" and self.print_svg:
            return Markup(self.print_svg)
        return Markup('<img src="{}" alt="{}">').format(self.data_url, self.alt)


@dataclass(frozen=True)
class Sparkline:
    """An SVG sparkline (80 × 18): the polyline's points, and the y of the objective line (None: none)."""

    points: str
    objective_y: float | None = None


@dataclass
class Drawing:
    """A chart's figure before encoding, with what describes it (tests draw it and measure it)."""

    key: str
    figure: Figure
    alt: str
    width_mm: float
    height_mm: float
    note: str | None = None


# --- fonts and labels ---------------------------------------------------------------------------------

CJK_FAMILY = "Noto Sans CJK JP"
# Where the usual distributions put Noto Sans CJK, for a matplotlib font cache made before it was installed.
CJK_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian, Ubuntu: fonts-noto-cjk
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",  # Arch
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",  # Fedora
    "/usr/share/fonts/noto/NotoSansCJK-Regular.ttc",  # Alpine
)
PLACEHOLDER = "□"  # stands for characters no chart font can draw (colour emoji)


def _known_families() -> set[str]:
    return {entry.name for entry in font_manager.fontManager.ttflist}


@functools.cache
def font_families() -> tuple[str, ...]:
    """The chart fonts, in fallback order: DejaVu Sans, then Noto Sans CJK JP when this machine has it
    (never named when absent, so matplotlib has nothing to warn about)."""
    if CJK_FAMILY not in _known_families():
        for path in CJK_FILES:
            if Path(path).is_file():
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
                break
    return ("DejaVu Sans", CJK_FAMILY) if CJK_FAMILY in _known_families() else ("DejaVu Sans",)


def _style() -> dict[RcKeyType, Any]:
    return {**STYLE, "font.family": list(font_families())}


@contextmanager
def chart_style() -> Iterator[None]:
    """The charts' matplotlib settings (fonts, colours, SVG hash salt), for drawing and encoding."""
    with matplotlib.rc_context(_style()):
        yield


@functools.lru_cache(maxsize=4096)
def _drawable(char: str) -> bool:
    if " " <= char <= "~":
        return True
    for family in font_families():
        path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        if font_manager.get_font(path).get_char_index(ord(char)):
            return True
    return False


def clean_label(text: str) -> str:
    """``text`` as a chart can draw it: whitespace and controls as spaces, format characters (joiners,
    variation selectors) dropped, and each run of characters no chart font has (colour emoji) as one
    placeholder, so a name never makes matplotlib warn for each glyph."""
    out: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Cc" or char.isspace():
            out.append(" ")
        elif category == "Cf" or (category in ("Mn", "Sk") and not _drawable(char)):
            continue  # a joiner, a variation selector, an emoji skin tone: part of the glyph before it
        elif _drawable(char):
            out.append(char)
        elif not out or out[-1] != PLACEHOLDER:
            out.append(PLACEHOLDER)
    return " ".join("".join(out).split()) or PLACEHOLDER


def _units(text: str) -> int:
    """Width in half-em units: wide (CJK) characters count two."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def wrap_label(text: str, width: int) -> str:
    """``text`` in lines of at most ``width`` units (CJK counts double), broken at spaces, after
    hyphens, dots, slashes and underscores, or anywhere in a word too long for a line. Nothing is cut."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        for k, chunk in enumerate(c for c in re.split(r"(?<=[-_./·])", word) if c):
            sep = " " if k == 0 and line else ""
            if line and _units(line + sep + chunk) > width:
                lines.append(line)
                line, sep = "", ""
            line += sep + chunk
            while _units(line) > width:  # longer than a line: break it anywhere
                cut = max((n for n in range(1, len(line) + 1) if _units(line[:n]) <= width), default=1)
                lines.append(line[:cut])
                line = line[cut:]
    if line:
        lines.append(line)
    return "\n".join(lines)


# --- axes ------------------------------------------------------------------------------------------------


def axis_scale(values: Sequence[float], median_ratio: float = 10.0) -> Scale:
    """``linear`` unless the positive ``values`` span decades, where a linear axis would flatten most of
    them: the largest more than 30× the smallest, or more than ``median_ratio``× the median (10 for bars,
    whose heights read at any size; 5 for lines, whose shapes do not). Then ``log``, or ``symlog``
    (linear near zero) when a value is zero."""
    positive = sorted(v for v in values if v > 0 and math.isfinite(v))
    if len(positive) < 2:
        return "linear"
    top = positive[-1]
    if top / positive[0] <= 30 and top / statistics.median(positive) <= median_ratio:
        return "linear"
    return "log" if all(v > 0 for v in values) else "symlog"


def _number(value: float, _position: float | None = None) -> str:
    return f"{value:,.0f}" if abs(value - round(value)) < 1e-9 else f"{value:,.3g}"


def _decades(top: float, floor: float) -> float:
    return math.log10(max(top, floor * 10) / floor)


def _count_axis(ax: Axes, values: Sequence[float], label: str, *, linthresh: float = 1.0, unit: str = "",
                median_ratio: float = 10.0) -> Scale:
    """A y axis for counts (or percentages) from zero: integer ticks, logarithmic above ``linthresh``
    when the values span decades; the label says which."""
    scale = axis_scale(values, median_ratio)
    top = max(values, default=1.0)
    if scale == "linear":
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10], integer=True))
        ax.set_ylim(0, max(top, 1) * 1.06)
        ax.set_ylabel(label)
    else:
        subs = (1.0, 2.0, 5.0) if _decades(top, linthresh) <= 2.5 else (1.0,)
        ax.set_yscale("symlog", linthresh=linthresh, linscale=0.4, base=10)
        ax.yaxis.set_major_locator(SymmetricalLogLocator(linthresh=linthresh, base=10, subs=subs))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(0, top * 1.5)
        ax.set_ylabel(f"{label}\n(log scale above {_number(linthresh)}{unit})")
        scale = "symlog"
    ax.yaxis.set_major_formatter(FuncFormatter(_number))
    return scale


def day_labels(dates: Sequence[str], slots: int) -> tuple[list[int], list[str]]:
    """Tick positions and labels for local dates ("2026-10-19"): "Mon\\n19 Oct" (the month on the first
    label and where it changes), "Tue\\n20"; every day when ``slots`` labels fit, else Mondays, every
    few weeks if need be."""
    days = [date.fromisoformat(d[:10]) for d in dates]
    indexes = list(range(len(days)))
    if len(days) > slots:
        mondays = [i for i, d in enumerate(days) if d.weekday() == 0] or [0]
        step = math.ceil(len(mondays) / max(slots, 1))
        indexes = mondays[::step]
    labels, month = [], -1
    for i in indexes:
        d = days[i]
        labels.append(f"{WEEKDAYS[d.weekday()]}\n{d.day} {MONTHS[d.month - 1]}" if d.month != month
                      else f"{WEEKDAYS[d.weekday()]}\n{d.day}")
        month = d.month
    return indexes, labels


def _long_day(iso: str) -> str:
    """ "2026-10-27" as "Tue 27 Oct 2026"."""
    d = date.fromisoformat(iso[:10])
    return f"{WEEKDAYS[d.weekday()]} {d.day} {MONTHS[d.month - 1]} {d.year}"


def _day_axis(ax: Axes, dates: Sequence[str], width_mm: float) -> None:
    ticks, labels = day_labels(dates, slots=int(width_mm * _SCALE.get() // 10))
    ax.set_xticks(ticks, labels, fontsize=7)
    if len(ticks) < len(dates):
        ax.set_xticks(range(len(dates)), minor=True)
    ax.tick_params(axis="x", which="major", length=3, pad=2)


def _new_figure(width_mm: float, height_mm: float) -> Figure:
    scale = _SCALE.get()
    tall = PRESENT_HEIGHT if scale != 1.0 else 1.0
    return Figure(figsize=(width_mm * scale / 25.4, height_mm * tall / 25.4), dpi=DPI,
                  layout=ConstrainedLayoutEngine(w_pad=2 / 72, h_pad=2 / 72))


# --- the charts ------------------------------------------------------------------------------------------


def incidents_per_day_figure(cards: Scorecards) -> Drawing | None:
    days = cards.incidents_by_day
    if not days:
        return None
    width, height = WIDTH_MM, 62.0
    with chart_style():
        fig = _new_figure(width, height)
        ax = fig.add_subplot()
        x = range(len(days))
        high = [d.high for d in days]
        low = [d.low for d in days]
        ax.bar(x, high, color=PALETTE["vermillion"], label="high urgency", width=0.75)
        ax.bar(x, low, bottom=high, color=PALETTE["sky"], label="low urgency", width=0.75)
        _day_axis(ax, [d.date for d in days], width)
        ax.set_xlim(-0.6, len(days) - 0.4)
        _count_axis(ax, [h + lo for h, lo in zip(high, low, strict=True)], "incidents")
        ax.grid(axis="y")
        ax.set_axisbelow(True)
        fig.legend(loc="outside upper right", ncols=2, fontsize=8)
        busiest = max(range(len(days)), key=lambda i: high[i] + low[i])
        alt = (
            f"Bar chart of incidents per day over {len(days)} days, high urgency stacked under low urgency. "
            f"Total {sum(high)} high and {sum(low)} low urgency; busiest day {_long_day(days[busiest].date)} with "
            f"{high[busiest] + low[busiest]} incidents."
        )
    return Drawing("incidents_per_day", fig, alt, width, height)


def _heat_colours(top: int) -> tuple[Colormap, Normalize]:
    """Zero in the panel colour; a band per count up to 12, a continuous scale above."""
    if top <= 12:
        bands = np.vstack([to_rgba(THEME["panel"]), HEAT_COUNTS(np.linspace(0, 1, top))])
        edges = [b - 0.5 for b in range(top + 2)]
        return ListedColormap(bands, name="heat-bands"), BoundaryNorm(edges, ncolors=top + 1)
    colours = np.vstack([to_rgba(THEME["panel"]), HEAT_COUNTS(np.linspace(0, 1, 255))])
    return ListedColormap(colours, name="heat-scale"), Normalize(vmin=0, vmax=top)


def _cells(ax: Axes, grid: list[list[int]], cmap: Colormap, norm: Normalize) -> None:
    """The heat map's cells, one path per count (a seventh of the SVG of a mesh of 168 cells)."""
    for value in sorted({v for row in grid for v in row}):
        corners = [(h + dx, d + dy) for d, row in enumerate(grid) for h, v in enumerate(row) if v == value
                   for dx, dy in ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5), (-0.5, -0.5))]
        square = [Outline.MOVETO, Outline.LINETO, Outline.LINETO, Outline.LINETO, Outline.CLOSEPOLY]
        codes = square * (len(corners) // 5)
        colour = cmap(norm(value))
        ax.add_patch(PathPatch(Outline(corners, codes), facecolor=colour, edgecolor=colour, linewidth=0.3))


def interruption_heatmap_figure(cards: Scorecards) -> Drawing | None:
    grid = cards.interruption_heatmap
    if grid is None:
        return None
    width, height = WIDTH_MM, 58.0
    top = max((max(row, default=0) for row in grid), default=0)
    with chart_style():
        fig = _new_figure(width, height)
        ax = fig.add_subplot()
        cmap, norm = _heat_colours(max(top, 1))
        _cells(ax, grid, cmap, norm)
        ax.set_xlim(-0.5, 23.5)
        ax.set_ylim(6.5, -0.5)  # Monday on top
        ax.set_yticks(range(7), list(WEEKDAYS))
        ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
        ax.tick_params(length=0)
        ax.set_xlabel("hour of day, in each responder's own time zone")
        for spine in ax.spines.values():
            spine.set_visible(False)
        for start, end in ((-0.5, 7.5), (21.5, 23.5)):  # sleep hours, 22:00 to 08:00, marked above the cells
            ax.add_patch(Rectangle((start + 0.08, 1.025), end - start - 0.16, 0.03, transform=ax.get_xaxis_transform(),
                                   clip_on=False, color=THEME["muted"], linewidth=0))
        ax.text(7.5, 1.04, " sleep hours (22:00–08:00)", transform=ax.get_xaxis_transform(), fontsize=7,
                va="center", ha="left", color=THEME["muted"])
        bar = fig.colorbar(ScalarMappable(norm, cmap), ax=ax, pad=0.01, fraction=0.04, aspect=14)
        bar.locator = MaxNLocator(integer=True, nbins=7)
        bar.formatter = FuncFormatter(_number)
        bar.update_ticks()
        bar.ax.tick_params(length=2)
        bar.outline.set_visible(False)
        bar.set_label("interruptions", fontsize=8)
        total = sum(map(sum, grid))
        peak_day, peak_hour = max(((d, h) for d in range(7) for h in range(24)), key=lambda p: grid[p[0]][p[1]])
        names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        alt = (
            f"Heat map of {total} interruptions by weekday and local hour. The busiest cell is "
            f"{names[peak_day]} {peak_hour:02d}:00 with {grid[peak_day][peak_hour]} interruptions."
        )
    return Drawing("interruption_heatmap", fig, alt, width, height)


def _cumulative(slo: SloScorecard) -> list[float]:
    """Percent of the window's error budget consumed by the end of each day."""
    budget = (1 - slo.objective) * (slo.total or 0)
    spent, out = 0.0, []
    for day in slo.daily:
        spent += max((day.total or 0) - (day.good or 0), 0)
        out.append(100 * spent / budget if budget else 0.0)
    return out


def overspent(cards: Scorecards) -> list[tuple[str, SloScorecard]]:
    """Every SLO that overspent its window's budget, with its service's display name, most overspent first."""
    over = [
        (svc.display_name, slo)
        for svc in cards.services
        for slo in svc.slos
        if slo.status == "ok" and (slo.error_budget_consumed or 0) > 1.0 and slo.daily and slo.total
    ]
    over.sort(key=lambda pair: (-(pair[1].error_budget_consumed or 0), pair[0], pair[1].name))
    return over


def _legend_layout(labels: list[str], ncols: int) -> float:
    """The height, mm, of a legend below the axes with ``labels`` (wrapped) in ``ncols`` columns."""
    rows = math.ceil(len(labels) / ncols)
    lines = [label.count("\n") + 1 for label in labels]
    tallest = [max(lines[r::rows]) for r in range(rows)]  # matplotlib fills the columns first
    return sum(tallest) * 3.5 + rows * 1.6 + 2


def budget_burn_figure(cards: Scorecards, series: int = BUDGET_SERIES) -> Drawing | None:
    """Cumulative error budget consumed over the window, for the SLOs that overspent most."""
    over = overspent(cards)
    if not over:
        return None
    shown = over[:series]
    curves = [_cumulative(slo) for _, slo in shown]
    dates = max((slo.daily for _, slo in shown), key=len)
    if _SCALE.get() == 1.0:
        ncols = min(len(shown), 3)
        wrap = {1: 90, 2: 44, 3: 28}[ncols]
    else:  # narrower: at most two columns of legend, each as wide as the figure allows
        ncols = min(len(shown), 2)
        wrap = {1: 54, 2: 24}[ncols]
    labels = [wrap_label(clean_label(f"{name} · {slo.name}"), wrap) for name, slo in shown]
    width = WIDTH_MM
    height = 56 + _legend_layout(labels, ncols)
    with chart_style():
        fig = _new_figure(width, height)
        ax = fig.add_subplot()
        handles: list[Line2D] = []
        for index, curve in enumerate(curves):
            (line,) = ax.plot(range(len(curve)), curve, color=SERIES_COLOURS[index % len(SERIES_COLOURS)],
                              linewidth=1.8, marker=SERIES_MARKERS[index % len(SERIES_MARKERS)] if len(curve) <= 31
                              else None, markersize=3, label=labels[index])
            handles.append(line)
        peaks = [max(curve, default=0.0) for curve in curves]
        _count_axis(ax, peaks, "budget consumed, %", linthresh=10, unit=" %", median_ratio=5)
        if ax.get_yscale() == "linear":
            ax.set_ylim(0, max(peaks) * 1.08)
        ax.axhline(100, color=THEME["fg"], linewidth=1, linestyle="--")
        ax.annotate("window\nbudget", (1, 100), xycoords=("axes fraction", "data"), xytext=(3, 0),
                    textcoords="offset points", fontsize=7, va="center", ha="left", annotation_clip=False)
        _day_axis(ax, [d.date for d in dates], width)
        ax.set_xlim(-0.4, len(dates) - 0.6)
        ax.grid(axis="y")
        ax.set_axisbelow(True)
        fig.legend(handles=handles, loc="outside lower center", ncols=ncols, fontsize=8, handlelength=2.4,
                   columnspacing=1.4, labelspacing=0.5)
        lines = [f"{name} {slo.name} {100 * (slo.error_budget_consumed or 0):.0f}%" for name, slo in shown]
        alt = "Cumulative error budget consumed per day for the SLOs that overspent: " + "; ".join(lines) + "."
        note = None
        if len(shown) < len(over):
            alt = (f"Cumulative error budget consumed per day for the {len(shown)} SLOs that overspent most: "
                   + "; ".join(lines) + ".")
            note = (f"{len(shown)} of {len(over)} overspent SLOs shown, the most overspent; "
                    "all are in the SLO table.")
    return Drawing("budget_burn", fig, alt, width, height, note)


FIGURES: tuple[Callable[[Scorecards], Drawing | None], ...] = (
    incidents_per_day_figure, interruption_heatmap_figure, budget_burn_figure,
)


# --- encoding --------------------------------------------------------------------------------------------


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None}, facecolor="#ffffff")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _raw_svg(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", dpi=DPI, metadata={"Date": None})
    return buffer.getvalue().decode("utf-8")


_ID = re.compile(r' id="([^"]+)"')
_USE = re.compile(r'\bhref="#([^"]+)"|url\(#([^)]+)\)')
_GEOMETRY = re.compile(r'(\b(?:d|x|y|x1|x2|y1|y2|width|height)=")([^"]*)"')
_DECIMALS = re.compile(r"(-?\d+\.\d\d)\d+")


def _round_geometry(body: str) -> str:
    """Coordinates to 0.01 pt (matplotlib writes 6 decimals): a third smaller, the same to the eye."""
    return _GEOMETRY.sub(lambda m: m.group(1) + " ".join(_DECIMALS.sub(r"\1", m.group(2)).split()) + '"', body)
_REFERENCE = re.compile(r'(\bid="|\bhref="#|url\(#)([^")]+)')


def _smallest_type(fig: Figure) -> float:
    """The smallest font size (pt) of the text drawn in ``fig``."""
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return float(min(sizes, default=0.0))


def _inline_svg(raw: str, key: str, alt: str, *, width_mm: float, height_mm: float, medium: str,
                smallest_pt: float = 0.0) -> str:
    """matplotlib's SVG document as an element of the page: no prolog or metadata; the ids it refers to
    prefixed with the chart's key (several charts share a page), the others dropped; the global style
    moved onto the root; sized to the column (screen) or to its printed size; role img with ``alt`` as
    its label; on the screen, the theme's colours as CSS variables (the light value as the fallback)."""
    body = _round_geometry(raw[raw.index("<svg"):])
    body = re.sub(r"<metadata>.*?</metadata>\s*", "", body, flags=re.S)
    body = re.sub(r'<defs>\s*<style type="text/css">[^<]*</style>\s*</defs>\s*', "", body)
    used = {a or b for a, b in _USE.findall(body)}
    body = _ID.sub(lambda m: m.group(0) if m.group(1) in used else "", body)  # matplotlib's names of groups
    body = _REFERENCE.sub(lambda m: m.group(1) + (f"{key}-{m.group(2)}" if m.group(2) in used else m.group(2)), body)
    viewbox = re.search(r'viewBox="([^"]+)"', body)
    assert viewbox is not None
    if medium == "screen":
        size = 'width="100%" style="display:block;width:100%;max-width:1100px;height:auto;'
        for name, colour in THEME.items():
            body = body.replace(colour, f"var(--{name}, {colour})")
    else:
        size = f'width="{width_mm:g}mm" height="{height_mm:g}mm" style="display:block;'
    root = (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'viewBox="{viewbox.group(1)}" {size}stroke-linejoin:round;stroke-linecap:butt" '
            f'class="chart-svg" id="chart-{key}" role="img" aria-label="{escape(alt)}" '
            f'data-min-font-pt="{smallest_pt:g}">')
    body = root + body[body.index(">") + 1:]
    return re.sub(r">\s+<", "><", body.replace("\n", " ")).strip()


def encode(drawing: Drawing, present: Drawing | None = None) -> Chart:
    """The chart's PNG and SVGs from its figure, and the projector's SVG from ``present`` (the same chart
    drawn at PRESENT_SCALE) when given."""
    with chart_style():
        raw = _raw_svg(drawing.figure)
        smallest = _smallest_type(drawing.figure)
        drawing.figure.set_layout_engine("none")  # laid out by that draw: the PNG keeps it (a third faster)
        data_url = _png(drawing.figure)
        present_svg = ""
        if present is not None:
            present_svg = _inline_svg(_raw_svg(present.figure), f"present-{present.key}", present.alt,
                                      medium="screen", width_mm=present.width_mm * PRESENT_SCALE,
                                      height_mm=present.height_mm * PRESENT_HEIGHT,
                                      smallest_pt=_smallest_type(present.figure))
    sizes = {"width_mm": drawing.width_mm, "height_mm": drawing.height_mm, "smallest_pt": smallest}
    return Chart(
        key=drawing.key,
        data_url=data_url,
        alt=drawing.alt,
        width_mm=drawing.width_mm,
        note=drawing.note,
        svg=_inline_svg(raw, drawing.key, drawing.alt, medium="screen", **sizes),
        print_svg=_inline_svg(raw, drawing.key, drawing.alt, medium="print", **sizes),
        height_mm=drawing.height_mm,
        present_svg=present_svg,
    )


def _chart(draw: Callable[[Scorecards], Drawing | None], cards: Scorecards) -> Chart | None:
    drawing = draw(cards)
    if drawing is None:
        return None
    token = _SCALE.set(PRESENT_SCALE)
    try:
        present = draw(cards)
    finally:
        _SCALE.reset(token)
    return encode(drawing, present)


def incidents_per_day(cards: Scorecards) -> Chart | None:
    return _chart(incidents_per_day_figure, cards)


def interruption_heatmap(cards: Scorecards) -> Chart | None:
    return _chart(interruption_heatmap_figure, cards)


def budget_burn(cards: Scorecards) -> Chart | None:
    return _chart(budget_burn_figure, cards)


CHARTS = (incidents_per_day, interruption_heatmap, budget_burn)


def render_charts(cards: Scorecards) -> dict[str, Chart]:
    out = {}
    for draw in CHARTS:
        chart = draw(cards)
        if chart is not None:
            out[chart.key] = chart
    return out


# --- sparklines ------------------------------------------------------------------------------------------


def _known(values: Sequence[float | None]) -> list[tuple[int, float]]:
    return [(i, v) for i, v in enumerate(values) if v is not None and math.isfinite(v)]


def _spark_y(value: float, lo: float, span: float, height: float) -> float:
    return height - 1 - (value - lo) / span * (height - 2)


def sparkline(values: list[float | None], objective: float | None = None) -> Sparkline | None:
    """The sparkline of ``values`` (None: fewer than two known), with ``objective`` as a line when given:
    its y in the points' 80 × 18 space, the y range stretched to include it."""
    target = objective if objective is not None and math.isfinite(objective) else None
    points = sparkline_points(values, include=() if target is None else (target,))
    if not points:
        return None
    if target is None:
        return Sparkline(points)
    known = [v for _, v in _known(values)] + [target]
    lo, hi = min(known), max(known)
    return Sparkline(points, round(_spark_y(target, lo, (hi - lo) or 1.0, 18), 1))


def sparkline_points(values: list[float | None], width: float = 80, height: float = 18,
                     include: Sequence[float] = ()) -> str:
    """SVG polyline points for a sparkline (numbers only; the template draws the SVG); the y range
    covers ``include`` too (the objective)."""
    known = _known(values)
    if len(known) < 2:
        return ""
    lo = min([v for _, v in known] + list(include))
    hi = max([v for _, v in known] + list(include))
    span = (hi - lo) or 1.0
    step = width / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{_spark_y(v, lo, span, height):.1f}" for i, v in known)
