"""The report's charts fit and do not lie: every text inside its figure, legends off the data and never
cut, integer ticks for counts, weekdays on days, a log axis only where values span decades, a note when a
chart leaves something out; the screen SVG follows the page theme; output is the same bytes every run."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from unittest import mock

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from opsmeeting.aggregate.model import DayIncidents, Scorecards
from opsmeeting.aggregate.scorecards import build_scorecards
from opsmeeting.cli.app import sample_snapshot_dir
from opsmeeting.report import charts as ch
from opsmeeting.report.charts import Drawing
from opsmeeting.report.render import environment
from opsmeeting.snapshot import read_snapshot

WEEKDAY = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\n\d{1,2}( (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec))?$")
INTEGER = re.compile(r"^\d{1,3}(,\d{3})*$")
LONG_NAMES = [
    "payments-gateway · avalanche-protection-tier-1",
    "決済ゲートウェイ東京リージョン本番環境",
    "🚀 Launchpad 👩‍💻 deploys",
    "Checkout API (v2) for the European Union and the United Kingdom",
    "search",
    "identity-provider-federation-bridge",
    "x" * 70,
    "recommendations-ml-feature-store-online",
    "ledger $ costs $",
    "auth",
]


# --- fixtures --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> Scorecards:
    return build_scorecards(read_snapshot(sample_snapshot_dir()))


def overspent_cards(demo: Scorecards, factors: list[float]) -> Scorecards:
    """The demo with one service per factor, each with one SLO overspent ``factor`` × as much as the
    demo's ledger availability (151 %), under the long, CJK, emoji and dollar names above."""
    base_service = next(s for s in demo.services if s.service == "ledger")
    base = next(s for s in base_service.slos if s.name == "availability")
    services = []
    for i, factor in enumerate(factors):
        daily = [dataclasses.replace(d, good=(d.total or 0) - ((d.total or 0) - (d.good or 0)) * factor)
                 for d in base.daily]
        slo = base.model_copy(update={
            "service": f"svc{i}", "name": "availability-latency-combined" if i % 3 == 0 else "availability",
            "daily": daily, "error_budget_consumed": (base.error_budget_consumed or 0) * factor,
        })
        services.append(base_service.model_copy(update={
            "service": f"svc{i}", "display_name": LONG_NAMES[i % len(LONG_NAMES)], "slos": [slo],
        }))
    return demo.model_copy(update={"services": services})


@pytest.fixture(scope="module")
def many(demo: Scorecards) -> Scorecards:
    """Ten overspent SLOs whose budgets span decades (151 % to 6 000 %), long names first among them."""
    return overspent_cards(demo, [1.05, 40, 1.3, 9, 5, 1.1, 3, 2.5, 1.5, 2])  # not in service order


@pytest.fixture(scope="module")
def close(demo: Scorecards) -> Scorecards:
    """Nine overspent SLOs within a factor of two of each other, the long names among them."""
    return overspent_cards(demo, [2.0, 1.9, 1.8, 1.7, 1.6, 1.5, 1.4, 1.3, 1.2])


@pytest.fixture(scope="module")
def storm(demo: Scorecards) -> Scorecards:
    """45 quiet days (0 to 3 incidents) and one storm of 500; a heat map with up to 48 an hour."""
    start = date(2026, 10, 19)
    days = [DayIncidents(date=(start + timedelta(i)).isoformat(), high=i % 3, low=i % 2) for i in range(45)]
    days[20] = DayIncidents(date=days[20].date, high=420, low=80)
    grid = [[(d * 24 + h) % 17 * 3 for h in range(24)] for d in range(7)]
    return demo.model_copy(update={"incidents_by_day": days, "interruption_heatmap": grid})


@pytest.fixture(scope="module")
def small(demo: Scorecards) -> Scorecards:
    """Small counts that tempt a tick locator into halves: at most 2 incidents a day, 15 interruptions an hour."""
    days = [d.model_copy(update={"high": i % 2, "low": int(i % 5 == 0)}) for i, d in enumerate(demo.incidents_by_day)]
    grid = [[(d + h) % 16 for h in range(24)] for d in range(7)]
    return demo.model_copy(update={"incidents_by_day": days, "interruption_heatmap": grid})


def drawing(draw: Callable[[Scorecards], Drawing | None], cards: Scorecards) -> Drawing:
    result = draw(cards)
    assert result is not None
    return result


@pytest.fixture(scope="module")
def demo_charts(demo: Scorecards) -> dict[str, ch.Chart]:
    return ch.render_charts(demo)


# --- helpers ---------------------------------------------------------------------------------------------


def drawn_texts(fig: Figure) -> list[tuple[str, Bbox]]:
    """Every non-empty text matplotlib actually draws, with its window extent (pixels), after layout."""
    seen: list[tuple[str, Bbox]] = []
    original = Text.draw

    def spy(self: Text, renderer: object) -> None:
        original(self, renderer)
        if self.get_visible() and self.get_text().strip():
            seen.append((self.get_text(), self.get_window_extent(renderer)))

    FigureCanvasAgg(fig)
    with ch.chart_style(), mock.patch.object(Text, "draw", spy):
        fig.canvas.draw()
    assert seen, "nothing drawn"
    return seen


def visible_tick_labels(axis: object, view: tuple[float, float]) -> list[str]:
    lo, hi = sorted(view)
    ticks = axis.get_majorticklocs()  # type: ignore[attr-defined]
    labels = axis.get_majorticklabels()  # type: ignore[attr-defined]
    return [t.get_text() for loc, t in zip(ticks, labels, strict=True) if lo - 1e-9 <= loc <= hi + 1e-9]


# --- layout ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["demo", "many", "close", "storm", "small"])
@pytest.mark.parametrize("draw", ch.FIGURES, ids=lambda f: f.__name__)
def test_every_text_lies_inside_its_figure(request: pytest.FixtureRequest, variant: str,
                                           draw: Callable[[Scorecards], Drawing | None]) -> None:
    result = draw(request.getfixturevalue(variant))
    if result is None:
        pytest.skip("this chart has nothing to draw for these cards")
    fig = result.figure
    texts = drawn_texts(fig)
    width, height = fig.bbox.width, fig.bbox.height
    outside = [(text, box.bounds) for text, box in texts
               if box.x0 < -0.5 or box.y0 < -0.5 or box.x1 > width + 0.5 or box.y1 > height + 0.5]
    assert outside == [], f"{result.key}: text outside the {width:.0f}×{height:.0f} figure: {outside}"


@pytest.mark.parametrize("variant", ["demo", "many", "close", "storm", "small"])
def test_no_two_texts_overlap(request: pytest.FixtureRequest, variant: str) -> None:
    for draw in ch.FIGURES:
        result = draw(request.getfixturevalue(variant))
        if result is None:
            continue
        texts = drawn_texts(result.figure)
        overlaps = []
        for i, (a, box_a) in enumerate(texts):
            for b, box_b in texts[i + 1:]:
                both = Bbox.intersection(box_a, box_b)
                if both is not None and both.width > 1 and both.height > 1:
                    overlaps.append((a, b))
        assert overlaps == [], f"{result.key}: texts overlap: {overlaps}"


@pytest.mark.parametrize("variant", ["demo", "many", "close"])
def test_legends_sit_outside_the_data(request: pytest.FixtureRequest, variant: str) -> None:
    cards = request.getfixturevalue(variant)
    for draw in (ch.incidents_per_day_figure, ch.budget_burn_figure):
        result = draw(cards)
        if result is None:
            continue
        drawn_texts(result.figure)
        renderer = result.figure.canvas.get_renderer()  # type: ignore[attr-defined]
        legends = result.figure.legends + [ax.get_legend() for ax in result.figure.axes if ax.get_legend()]
        assert legends, f"{result.key}: no legend"
        data = result.figure.axes[0].get_window_extent(renderer)
        for legend in legends:
            box = legend.get_window_extent(renderer)
            assert not box.overlaps(data), f"{result.key}: the legend {box.bounds} covers the data {data.bounds}"


def test_legend_names_are_whole_display_names(many: Scorecards, close: Scorecards) -> None:
    for cards in (many, close):
        result = drawing(ch.budget_burn_figure, cards)
        labels = [t.get_text() for t in result.figure.legends[0].get_texts()]
        shown = ch.overspent(cards)[: ch.BUDGET_SERIES]
        assert len(labels) == len(shown)
        for label, (name, slo) in zip(labels, shown, strict=True):
            whole = ch.clean_label(f"{name} · {slo.name}")
            assert "".join(label.split()) == "".join(whole.split()), (label, whole)  # wrapped, never cut
            assert "…" not in label
        assert any("\n" in label for label in labels), "the long names were not wrapped"
    demo_labels = [t.get_text() for t in drawing(ch.budget_burn_figure, close).figure.legends[0].get_texts()]
    assert any(label.startswith("payments-gateway") for label in demo_labels)


# --- honest axes -----------------------------------------------------------------------------------------


def test_count_axes_have_integer_ticks(demo: Scorecards, storm: Scorecards, small: Scorecards) -> None:
    for cards in (demo, storm, small):
        bars = drawing(ch.incidents_per_day_figure, cards)
        heat = drawing(ch.interruption_heatmap_figure, cards)
        drawn_texts(bars.figure)
        drawn_texts(heat.figure)
        ax = bars.figure.axes[0]
        labels = visible_tick_labels(ax.yaxis, ax.get_ylim())
        assert len(labels) >= 3 and all(INTEGER.match(t) for t in labels), labels
        colour_bar = heat.figure.axes[1]
        labels = visible_tick_labels(colour_bar.yaxis, colour_bar.get_ylim())
        assert len(labels) >= 3 and all(INTEGER.match(t) for t in labels), labels
        assert "0" in labels, "the colour bar does not say what no interruption looks like"


def test_days_have_weekdays(demo: Scorecards, storm: Scorecards, many: Scorecards) -> None:
    for result in (drawing(ch.incidents_per_day_figure, demo), drawing(ch.budget_burn_figure, many),
                   drawing(ch.incidents_per_day_figure, storm)):
        drawn_texts(result.figure)
        ax = result.figure.axes[0]
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert labels and all(WEEKDAY.match(t) for t in labels), labels
    bars = drawing(ch.incidents_per_day_figure, demo)
    labels = [t.get_text() for t in bars.figure.axes[0].get_xticklabels()]
    assert labels[0] == "Mon\n19 Oct" and labels[1] == "Tue\n20" and labels[-1] == "Sun\n1 Nov"


def test_day_labels_thin_out_to_mondays_on_long_windows() -> None:
    dates = [(date(2026, 10, 19) + timedelta(i)).isoformat() for i in range(45)]
    ticks, labels = ch.day_labels(dates, slots=17)
    assert len(ticks) <= 17 and all(label.startswith("Mon\n") for label in labels)
    assert labels[:2] == ["Mon\n19 Oct", "Mon\n26"] and "Mon\n2 Nov" in labels
    ticks, labels = ch.day_labels(dates[:14], slots=17)
    assert ticks == list(range(14))


def test_log_axis_only_where_values_span_decades(demo: Scorecards, many: Scorecards, close: Scorecards,
                                                storm: Scorecards) -> None:
    linear = [drawing(ch.incidents_per_day_figure, demo), drawing(ch.budget_burn_figure, demo),
              drawing(ch.budget_burn_figure, close)]
    spanning = [drawing(ch.incidents_per_day_figure, storm), drawing(ch.budget_burn_figure, many)]
    for result in linear:
        ax = result.figure.axes[0]
        assert ax.get_yscale() == "linear" and "log" not in ax.get_ylabel(), result.key
    for result in spanning:
        ax = result.figure.axes[0]
        assert ax.get_yscale() in ("log", "symlog"), result.key
        assert "log scale" in ax.get_ylabel(), ax.get_ylabel()


def test_axis_scale_rule() -> None:
    assert ch.axis_scale([15, 14, 30, 22, 33]) == "linear"
    assert ch.axis_scale([1, 2, 1, 31]) == "log"  # 31 × the smallest
    assert ch.axis_scale([0, 1, 2, 0, 500, 1]) == "symlog"  # zeros: linear near zero
    assert ch.axis_scale([100, 120, 150, 1500]) == "log"  # 11 × the median
    assert ch.axis_scale([100, 120, 150, 1500], median_ratio=20) == "linear"
    assert ch.axis_scale([0, 0, 5]) == "linear" and ch.axis_scale([]) == "linear"


def test_budget_chart_says_what_it_leaves_out(demo: Scorecards, many: Scorecards) -> None:
    shown = drawing(ch.budget_burn_figure, demo)
    assert shown.note is None and len(shown.figure.axes[0].get_lines()) == 3 + 1  # three SLOs and the 100 % line
    result = drawing(ch.budget_burn_figure, many)
    assert result.note is not None and result.note.startswith("6 of 10 overspent SLOs shown")
    assert "SLO table" in result.note
    assert len(result.figure.axes[0].get_lines()) == 6 + 1
    chart = ch.encode(result)
    assert chart.note == result.note
    # the most overspent are the ones drawn
    consumed = sorted((slo.error_budget_consumed or 0 for s in many.services for slo in s.slos), reverse=True)
    drawn = [slo.error_budget_consumed for _, slo in ch.overspent(many)[:6]]
    assert drawn == consumed[:6]


def test_chart_macro_prints_the_note(many: Scorecards) -> None:
    chart = ch.budget_burn(many)
    assert chart is not None and chart.note
    macro = environment().get_template("chart_macros.html.j2").module.chart  # type: ignore[attr-defined]
    screen, paper = str(macro(chart, "screen")), str(macro(chart, "print"))
    assert re.search(r"<figcaption>[^<]*<span class=\"chart-note\">6 of 10", screen)
    assert "<svg" in screen and "var(--fg" in screen
    assert '<p class="chart-note' in paper and "6 of 10" in paper  # print hides captions: the note stays visible


# --- SVG and the page theme ------------------------------------------------------------------------------


def test_screen_svg_follows_the_page_theme(demo_charts: dict[str, ch.Chart]) -> None:
    assert set(demo_charts) == {"incidents_per_day", "interruption_heatmap", "budget_burn"}
    for key, chart in demo_charts.items():
        svg = chart.svg
        assert svg.startswith("<svg ") and svg.endswith("</svg>") and "<?xml" not in svg and "<!DOCTYPE" not in svg
        for variable in ("var(--fg", "var(--muted") + (("var(--line",) if key != "interruption_heatmap" else ()):
            assert variable in svg, (key, variable)  # text, axes; the grid where there is one
        assert not re.search(r"#fff(fff)?\b|\bwhite\b", svg, re.I), f"{key}: a hard-coded white"
        assert "<style" not in svg, f"{key}: a page-wide style element"
        assert 'role="img"' in svg and f'aria-label="{chart.alt}"' in svg
        assert str(chart.markup("screen")) == svg
        assert chart.data_url.startswith("data:image/png;base64,")
        # the data keeps its colours (Okabe–Ito; the heat map's scale)
        data = {"incidents_per_day": ("#d55e00", "#56b4e9"), "budget_burn": ("#d55e00", "#0072b2", "#e69f00"),
                "interruption_heatmap": ("#fdd49e", "#7f2704")}[key]
        assert all(colour in svg for colour in data), key


def test_print_svg_has_concrete_light_colours(demo_charts: dict[str, ch.Chart]) -> None:
    for chart in demo_charts.values():
        assert "var(" not in chart.print_svg
        assert ch.THEME["fg"] in chart.print_svg
        assert f'width="{chart.width_mm:g}mm"' in chart.print_svg
        markup = str(chart.markup("print"))
        assert markup == (chart.print_svg if ch.PRINT_FORMAT == "svg" else markup)
        assert markup.startswith("<svg" if ch.PRINT_FORMAT == "svg" else "<img")


def test_svg_ids_are_unique_and_prefixed(demo_charts: dict[str, ch.Chart]) -> None:
    seen: list[str] = []
    for key, chart in demo_charts.items():
        ids = re.findall(r'\bid="([^"]+)"', chart.svg)
        assert ids and all(i.startswith((f"{key}-", f"chart-{key}")) for i in ids), key
        references = re.findall(r'href="#([^"]+)"|url\(#([^)]+)\)', chart.svg)
        assert all((a or b) in ids for a, b in references), f"{key}: a reference to an id it does not have"
        seen += ids
    assert len(seen) == len(set(seen))


def test_charts_are_the_same_bytes_every_run(demo: Scorecards, demo_charts: dict[str, ch.Chart]) -> None:
    again = ch.render_charts(demo)
    for key, chart in demo_charts.items():
        assert again[key].svg == chart.svg
        assert again[key].print_svg == chart.print_svg
        assert again[key].data_url == chart.data_url
    # and in another process (no random ids, no dates)
    script = (
        "import hashlib;from opsmeeting.snapshot import read_snapshot;"
        "from opsmeeting.cli.app import sample_snapshot_dir;"
        "from opsmeeting.aggregate.scorecards import build_scorecards;"
        "from opsmeeting.report.charts import render_charts;"
        "c=render_charts(build_scorecards(read_snapshot(sample_snapshot_dir())));"
        "print(hashlib.sha256(''.join(v.svg+v.print_svg+v.data_url for v in c.values()).encode()).hexdigest())"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip()
    here = hashlib.sha256("".join(v.svg + v.print_svg + v.data_url for v in demo_charts.values()).encode())
    assert out == here.hexdigest()


def test_render_charts_is_fast(demo: Scorecards) -> None:
    ch.render_charts(demo)
    t0 = time.perf_counter()
    ch.render_charts(demo)
    assert time.perf_counter() - t0 < 3.0


# --- fonts and labels ------------------------------------------------------------------------------------


def test_emoji_and_cjk_names_draw_without_warnings(many: Scorecards) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chart = ch.budget_burn(many)
    glyphs = [str(w.message) for w in caught if "Glyph" in str(w.message) or "findfont" in str(w.message)]
    assert chart is not None and glyphs == []
    assert ch.clean_label("🚀 Launchpad 👩‍💻 deploys") == f"{ch.PLACEHOLDER} Launchpad {ch.PLACEHOLDER} deploys"
    assert ch.clean_label("🔥🔥") == ch.PLACEHOLDER
    assert ch.clean_label("ledger $ costs $") == "ledger $ costs $"  # no mathtext
    assert ch.clean_label("tab\there\nnewline") == "tab here newline"


def test_cjk_fallback_font_when_installed() -> None:
    families = ch.font_families()
    assert families[0] == "DejaVu Sans"
    assert (ch.CJK_FAMILY in families) == (ch.CJK_FAMILY in ch._known_families())  # named only when found
    if any(Path(path).is_file() for path in ch.CJK_FILES):
        assert ch.CJK_FAMILY in families
    if ch.CJK_FAMILY in families:
        assert ch.clean_label("決済ゲートウェイ") == "決済ゲートウェイ"
    else:
        assert ch.clean_label("決済") == ch.PLACEHOLDER


def test_wrap_label_breaks_but_never_cuts() -> None:
    for text in LONG_NAMES:
        wrapped = ch.wrap_label(ch.clean_label(text), 28)
        assert "".join(wrapped.split()) == "".join(ch.clean_label(text).split())
        assert all(ch._units(line) <= 28 for line in wrapped.split("\n")), wrapped
    assert ch.wrap_label("checkout · availability", 28) == "checkout · availability"
    assert ch.wrap_label("payments-gateway-eu-west-1-primary", 20) == "payments-gateway-eu-\nwest-1-primary"


# --- sparklines ------------------------------------------------------------------------------------------


def test_sparkline_objective_in_the_points_space() -> None:
    spark = ch.sparkline([0.5, 0.8, 0.9, None, 0.7], 1.0)
    assert spark is not None and spark.objective_y == 1.0  # the objective is the top of the range
    ys = [float(p.split(",")[1]) for p in spark.points.split()]
    assert all(1.0 <= y <= 17.0 for y in ys) and max(ys) == 17.0  # 0.5, the lowest, at the bottom
    assert min(ys) == 4.2  # 0.9, below the objective's 1.0: one range for both
    below = ch.sparkline([0.9995, 0.9999, 0.9990], 0.999)
    assert below is not None and below.objective_y == 17.0
    inside = ch.sparkline([0.2, 1.4, 0.9], 1.0)
    assert inside is not None and inside.objective_y is not None and 1.0 < inside.objective_y < 17.0
    assert ch.sparkline([0.2, 0.4], None) == ch.Sparkline(ch.sparkline_points([0.2, 0.4]), None)
    assert ch.sparkline([0.2, None], 1.0) is None
    flat = ch.sparkline([1.0, 1.0], 1.0)
    assert flat is not None and flat.objective_y == 17.0


def test_sparkline_macro_draws_the_objective_dashed() -> None:
    macro = environment().get_template("chart_macros.html.j2").module.sparkline  # type: ignore[attr-defined]
    with_line = str(macro(ch.sparkline([0.5, 0.8, 0.9], 1.0), "daily SLI"))
    assert re.search(r'<line [^>]*y1="1.0"[^>]*y2="1.0"[^>]*stroke-dasharray', with_line)
    assert 'aria-label="daily SLI"' in with_line and "<polyline" in with_line
    without = str(macro(ch.sparkline([0.5, 0.8], None), "x"))
    assert "<line" not in without and "<polyline" in without
    assert "—" in str(macro(None, "x"))
