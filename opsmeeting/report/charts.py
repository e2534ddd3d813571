"""Charts for the report, drawn with matplotlib's object API (no pyplot state) as PNG data URLs.

One style for every chart; a colour-blind-safe palette (Okabe–Ito); figures sized to their printed
size at 150 dpi; deterministic output (no timestamps in the PNG, fixed hash salt).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
from markupsafe import Markup
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from opsmeeting.aggregate.model import Scorecards

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
STYLE: dict[RcKeyType, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#444444",
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "svg.hashsalt": "opsmeeting",
    "path.simplify": True,
}
DPI = 150
HEAT = LinearSegmentedColormap.from_list("heat", ["#f7f7f7", "#fdd49e", "#E69F00", "#D55E00", "#7f2704"])


@dataclass(frozen=True)
class Chart:
    """A rendered chart: a PNG data URL and the alt text that describes it; ``note`` says what it
    leaves out ("6 of 9 shown"), when it does."""

    key: str
    data_url: str
    alt: str
    width_mm: float
    note: str | None = None

    def markup(self, medium: str) -> Markup:
        """The chart's element for ``medium`` ("screen": the projected page; "print": the PDF)."""
        return Markup('<img src="{}" alt="{}">').format(self.data_url, self.alt)


@dataclass(frozen=True)
class Sparkline:
    """An SVG sparkline (80 × 18): the polyline's points, and the y of the objective line (None: none)."""

    points: str
    objective_y: float | None = None


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(width_mm: float, height_mm: float) -> Figure:
    with matplotlib.rc_context(STYLE):
        return Figure(figsize=(width_mm / 25.4, height_mm / 25.4), dpi=DPI)


def incidents_per_day(cards: Scorecards) -> Chart | None:
    days = cards.incidents_by_day
    if not days:
        return None
    with matplotlib.rc_context(STYLE):
        fig = _figure(170, 55)
        ax = fig.add_axes((0.06, 0.2, 0.92, 0.7))
        x = range(len(days))
        high = [d.high for d in days]
        low = [d.low for d in days]
        ax.bar(x, high, color=PALETTE["vermillion"], label="high urgency", width=0.75)
        ax.bar(x, low, bottom=high, color=PALETTE["sky"], label="low urgency", width=0.75)
        ax.set_xticks(list(x), [d.date[5:] for d in days], rotation=0, fontsize=7)
        ax.set_ylabel("incidents")
        ax.legend(frameon=False, ncols=2, loc="upper right", fontsize=8)
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        busiest = max(range(len(days)), key=lambda i: high[i] + low[i])
        alt = (
            f"Bar chart of incidents per day over {len(days)} days, high urgency stacked under low urgency. "
            f"Total {sum(high)} high and {sum(low)} low urgency; busiest day {days[busiest].date} with "
            f"{high[busiest] + low[busiest]} incidents."
        )
        return Chart("incidents_per_day", _png(fig), alt, 170)


def interruption_heatmap(cards: Scorecards) -> Chart | None:
    grid = cards.interruption_heatmap
    if grid is None:
        return None
    with matplotlib.rc_context(STYLE):
        fig = _figure(170, 52)
        ax = fig.add_axes((0.06, 0.14, 0.86, 0.78))
        image = ax.imshow(grid, aspect="auto", cmap=HEAT, vmin=0, interpolation="nearest")
        ax.set_yticks(range(7), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
        ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
        ax.set_xlabel("hour of day, in each responder's own time zone")
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.axvspan(-0.5, 7.5, color=PALETTE["blue"], alpha=0.06)
        ax.axvspan(21.5, 23.5, color=PALETTE["blue"], alpha=0.06)
        cax = fig.add_axes((0.935, 0.14, 0.015, 0.78))
        fig.colorbar(image, cax=cax)
        total = sum(map(sum, grid))
        peak_day, peak_hour = max(((d, h) for d in range(7) for h in range(24)), key=lambda p: grid[p[0]][p[1]])
        names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        alt = (
            f"Heat map of {total} interruptions by weekday and local hour. The busiest cell is "
            f"{names[peak_day]} {peak_hour:02d}:00 with {grid[peak_day][peak_hour]} interruptions."
        )
        return Chart("interruption_heatmap", _png(fig), alt, 170)


def budget_burn(cards: Scorecards) -> Chart | None:
    """Cumulative error budget consumed over the window, for each SLO that overspent."""
    over = [
        (svc.display_name, slo)
        for svc in cards.services
        for slo in svc.slos
        if slo.status == "ok" and (slo.error_budget_consumed or 0) > 1.0 and slo.daily and slo.total
    ]
    if not over:
        return None
    colours = [PALETTE[c] for c in ("vermillion", "blue", "orange", "green", "purple", "sky")]
    with matplotlib.rc_context(STYLE):
        fig = _figure(170, 60)
        ax = fig.add_axes((0.07, 0.17, 0.66, 0.75))
        lines = []
        for index, (service, slo) in enumerate(over[:6]):
            budget = (1 - slo.objective) * (slo.total or 0)
            spent, cumulative = 0.0, []
            for day in slo.daily:
                spent += max((day.total or 0) - (day.good or 0), 0)
                cumulative.append(100 * spent / budget if budget else 0)
            ax.plot(range(1, len(cumulative) + 1), cumulative, color=colours[index % len(colours)],
                    linewidth=1.8, marker="o", markersize=2.5, label=f"{service} · {slo.name}")
            lines.append(f"{service} {slo.name} {100 * (slo.error_budget_consumed or 0):.0f}%")
        ax.axhline(100, color="#222222", linewidth=1, linestyle="--")
        ax.text(1, 102, "window budget", fontsize=7, va="bottom")
        ax.set_xlabel("day of the window")
        ax.set_ylabel("budget consumed, %")
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
        alt = "Cumulative error budget consumed per day for the SLOs that overspent: " + "; ".join(lines) + "."
        return Chart("budget_burn", _png(fig), alt, 170)


CHARTS = (incidents_per_day, interruption_heatmap, budget_burn)


def render_charts(cards: Scorecards) -> dict[str, Chart]:
    out = {}
    for draw in CHARTS:
        chart = draw(cards)
        if chart is not None:
            out[chart.key] = chart
    return out


def sparkline(values: list[float | None], objective: float | None = None) -> Sparkline | None:
    """The sparkline of ``values`` (None: fewer than two known), with ``objective`` as a line when given."""
    points = sparkline_points(values)
    return Sparkline(points) if points else None


def sparkline_points(values: list[float | None], width: float = 80, height: float = 18) -> str:
    """SVG polyline points for a sparkline (numbers only; the template draws the SVG)."""
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(known) < 2:
        return ""
    lo = min(v for _, v in known)
    hi = max(v for _, v in known)
    span = (hi - lo) or 1.0
    step = width / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - 1 - (v - lo) / span * (height - 2):.1f}" for i, v in known)
