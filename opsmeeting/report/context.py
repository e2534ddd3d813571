"""The view model of a report: one typed object per medium (``screen``, ``print``), built from the
scorecards and the meeting view, and the only thing templates read (``ctx``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo

from opsmeeting.aggregate.model import (
    BudgetAttribution,
    BurnEpisode,
    MajorIncident,
    PageWithoutBurn,
    Problem,
    ResponderScorecard,
    Scorecards,
    ServiceScorecard,
    SloExclusion,
    SloScorecard,
    TeamScorecard,
)
from opsmeeting.meeting.model import Item, MeetingView, WheelView
from opsmeeting.model import Setup
from opsmeeting.report.attention import Attention, attention
from opsmeeting.report.charts import Chart, Sparkline, sparkline
from opsmeeting.report.guard import RenderGuard
from opsmeeting.report.summary import Warning, changes_since_last, data_quality

Medium = Literal["screen", "print"]


@dataclass(frozen=True)
class TeamFocus:
    """What presentation mode shows of one team when it presents (the wheel's pick, or on demand):
    its services, SLOs (missed first), major incidents (by impact), problems, notes and open items."""

    team: TeamScorecard
    services: list[ServiceScorecard]
    slos: list[SloScorecard]
    majors: list[MajorIncident]
    note_html: str | None
    actions: list[Item]
    parking_lot: list[Item]

    SHOWN = 6  # rows of each table, so that the focus takes one or two slides; "N more" says what is left

    @property
    def slos_shown(self) -> list[SloScorecard]:
        return self.slos[:self.SHOWN]

    @property
    def majors_shown(self) -> list[MajorIncident]:
        return self.majors[:self.SHOWN]


def team_focus(cards: Scorecards, meeting: MeetingView) -> list[TeamFocus]:
    """One TeamFocus per team, in the order of the team table."""
    services: dict[str, list[ServiceScorecard]] = {}
    for card in sorted(cards.services, key=lambda c: c.priority.rank if c.priority else 0):
        services.setdefault(card.team, []).append(card)
    notes = {n.team: n.html for n in meeting.notes}
    items = meeting.items.open if meeting.items is not None else []
    out = []
    for team in cards.teams:
        mine = services.get(team.team, [])
        keys = {c.service for c in mine}
        slos = sorted((slo for c in mine for slo in c.slos),
                      key=lambda s: (not (s.status == "ok" and s.met is False), -(s.error_budget_consumed or 0)))
        out.append(TeamFocus(
            team=team, services=mine, slos=slos,
            majors=[m for m in cards.major_incidents if m.service in keys],
            note_html=notes.get(team.team),
            actions=[i for i in items if i.kind == "action" and i.team == team.team],
            parking_lot=[i for i in items if i.kind == "parking_lot"
                         and team.team in (i.team, i.while_listening_to)],
        ))
    return out


@dataclass
class ReportContext:
    """Everything a report template reads, as ``ctx`` (README, "Custom templates")."""

    title: str
    setup: Setup
    cards: Scorecards
    meeting: MeetingView
    medium: Medium
    timezone: str
    window_label: str
    generated_label: str
    warnings: list[Warning]
    charts: dict[str, Chart]
    ranked: list[ServiceScorecard]  # by priority rank
    on_call: list[ResponderScorecard]  # who was on call, longest first
    recurring: list[Problem]  # problems that came back, the ten largest
    burners: list[tuple[SloScorecard, BudgetAttribution]]  # incidents that burned 5 % or more of a budget
    silent_burn: list[SloScorecard]  # budgets burned with no incident open
    latency: LatencyTable
    sparklines: dict[tuple[str, str], Sparkline | None] = field(default_factory=dict)  # (service, SLO)
    changes: list[str] = field(default_factory=list)
    page_size: str = "A4"
    detailed: list[ServiceScorecard] = field(default_factory=list)  # services shown in full (appendix, SLOs)
    summarised: list[ServiceScorecard] = field(default_factory=list)  # the rest, one table row each (print)
    summarised_more: int = 0  # services past the summary table's rows (print): in the page and scorecards.csv
    responders_shown: list[ResponderScorecard] = field(default_factory=list)
    ranked_shown: list[ServiceScorecard] = field(default_factory=list)
    majors_shown: list[MajorIncident] = field(default_factory=list)
    guard: RenderGuard = field(default_factory=RenderGuard)
    attention: Attention = field(default_factory=lambda: Attention([]))
    teams: list[TeamScorecard] = field(default_factory=list)  # most incidents first
    teams_shown: list[TeamScorecard] = field(default_factory=list)  # those of the team table and cards
    team_sparklines: dict[str, Sparkline | None] = field(default_factory=dict)  # team → incidents per rotation
    focus: list[TeamFocus] = field(default_factory=list)  # presentation mode's team focus (screen only)
    burn: BurnView = field(default_factory=lambda: BurnView())  # exclusions, burn episodes, calendar budgets

    @property
    def majors_more(self) -> list[MajorIncident]:
        """The major incidents not shown in full, by impact."""
        return self.cards.major_incidents[len(self.majors_shown):]

    @property
    def wheel(self) -> WheelView | None:
        """The Ops Wheel on the screen page; None in print."""
        return self.meeting.wheel if self.medium == "screen" else None

    def service_name(self, key: str) -> str:
        """The name people read for a service key (its display name)."""
        return self.setup.service_name(key)

    def team_name(self, key: str) -> str:
        """The name people read for a team key."""
        return self.setup.team_name(key)

    def local(self, moment: datetime | None, fmt: str = "%a %-d %b %H:%M") -> str:
        if moment is None:
            return "—"
        return moment.astimezone(ZoneInfo(self.timezone)).strftime(fmt)


@dataclass(frozen=True)
class BurnView:
    """The observability review's exclusions, burn rates, episodes, pages without burn and calendar budgets
    (METRICS.md): what each table shows, largest first, and how many rows it leaves out."""

    SHOWN = 10

    exclusions: list[tuple[SloScorecard, SloExclusion]] = field(default_factory=list)  # in time order
    fastest: list[SloScorecard] = field(default_factory=list)  # SLOs that burned faster than 1×, fastest first
    fastest_more: int = 0
    episodes: list[tuple[SloScorecard, BurnEpisode]] = field(default_factory=list)  # costliest first
    episodes_more: int = 0
    gaps: int = 0  # episodes with no page
    gap_budget_max: float | None = None
    noise: list[PageWithoutBurn] = field(default_factory=list)
    noise_more: int = 0
    noise_known: bool = False
    calendars: list[SloScorecard] = field(default_factory=list)  # SLOs with a calendar period
    judged: int = 0  # SLOs with burn rates


def burn_view(cards: Scorecards, limit: int = BurnView.SHOWN) -> BurnView:
    slos = [s for c in cards.services for s in c.slos]
    exclusions = sorted(((s, x) for s in slos for x in s.excluded),
                        key=lambda sx: (sx[1].start, sx[0].service, sx[0].name, sx[1].kind))
    rated = [s for s in slos if s.burn is not None]

    def peak(s: SloScorecard) -> float:
        return (s.burn.peak_burn_rate_1h or 0.0) if s.burn else 0.0

    fastest = sorted((s for s in rated if peak(s) > 1.0), key=lambda s: (-peak(s), s.service, s.name))
    episodes = sorted(((s, e) for s in rated if s.burn for e in s.burn.episodes),
                      key=lambda se: (not se[1].alerting_gap, -(se[1].budget_consumed or 0), se[1].start,
                                      se[0].service, se[0].name))
    gaps = [e for _, e in episodes if e.alerting_gap]
    noise = cards.pages_without_burn or []
    return BurnView(
        exclusions=exclusions, fastest=fastest[:limit], fastest_more=max(len(fastest) - limit, 0),
        episodes=episodes[:limit], episodes_more=max(len(episodes) - limit, 0), gaps=len(gaps),
        gap_budget_max=max((e.budget_consumed or 0.0 for e in gaps), default=None),
        noise=noise[:limit], noise_more=max(len(noise) - limit, 0), noise_known=cards.pages_without_burn is not None,
        calendars=[s for s in slos if s.calendar is not None], judged=len(rated),
    )


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


@dataclass(frozen=True)
class Detail:
    detailed: list[ServiceScorecard]
    summarised: list[ServiceScorecard]
    responders_shown: list[ResponderScorecard]
    ranked_shown: list[ServiceScorecard]
    majors_shown: list[MajorIncident]
    summarised_more: int = 0


SUMMARY_ROWS = 4  # the PDF's summary table holds at most this many times ``pdf_detail`` services


T = TypeVar("T")
MAJORS_SHOWN = 10  # major incidents in full; the others in one line


def detail(cards: Scorecards, ranked: list[ServiceScorecard], medium: Medium, limit: int) -> Detail:
    """What is shown in full. Major incidents: the ``MAJORS_SHOWN`` of most impact (the scorecards list
    them by impact), the rest in one line. Services, by priority: the page shows every one; the PDF of
    a large organisation shows the ``limit`` highest-priority services plus any that missed an SLO or
    had a major incident (at most twice ``limit``) in full, and summarises the rest in one table, so
    the pre-read stays readable: at most ``SUMMARY_ROWS`` × ``limit`` of them, the next by priority
    (the others are counted; they are in the page and scorecards.csv). So the PDF of 2,000 services is
    about as long as that of 500."""
    responders = sorted(cards.responders, key=lambda r: (-r.interruptions, r.name))
    majors_shown = cards.major_incidents[:MAJORS_SHOWN]
    if medium == "screen" or len(cards.services) <= limit:
        return Detail(detailed=ranked, summarised=[], responders_shown=responders, ranked_shown=ranked,
                      majors_shown=majors_shown)
    detailed = first_and_notable(
        ranked, limit, lambda c: (c.incidents.incidents_major or 0) > 0 or any(s.met is False for s in c.slos))
    chosen = {c.service for c in detailed}
    rest = [c for c in ranked if c.service not in chosen]
    return Detail(
        detailed=detailed,
        summarised=rest[:SUMMARY_ROWS * limit],
        responders_shown=responders[:limit],
        ranked_shown=ranked[:limit],
        majors_shown=majors_shown,
        summarised_more=max(len(rest) - SUMMARY_ROWS * limit, 0),
    )


def teams_shown(teams: list[TeamScorecard], medium: Medium, limit: int) -> list[TeamScorecard]:
    """The teams of the team table and cards: every one on the page; in the PDF of an organisation of
    more than ``limit`` teams, the first ``limit`` (most incidents first) and any other that missed an
    SLO, at most twice ``limit``, in the same order (every team is in the page and teams.csv)."""
    if medium == "screen" or len(teams) <= limit:
        return teams
    return first_and_notable(teams, limit, lambda t: t.slos_missed > 0)


def first_and_notable(ordered: list[T], limit: int, notable: Callable[[T], bool]) -> list[T]:
    """The first ``limit`` of ``ordered`` and, after them, those that are ``notable``, at most twice
    ``limit`` in all, in their order."""
    extra = [item for item in ordered[limit:] if notable(item)][:limit]
    return ordered[:limit] + extra


def build_context(cards: Scorecards, meeting: MeetingView, medium: Medium, charts: dict[str, Chart],
                  templates_dir: Path | None = None) -> ReportContext:
    setup = cards.setup
    if setup is None:
        raise ValueError("these scorecards carry no setup: make them with build_scorecards to render them")
    tz = cards.window.timezone
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
    sparklines: dict[tuple[str, str], Sparkline | None] = {}
    for card in cards.services:
        for slo in card.slos:
            series = card.trend.error_budget_consumed.get(slo.name) if card.trend else None
            objective = 1.0  # budget consumed per rotation: 100 % is the line not to cross
            if not series or sum(v is not None for v in series) < 2:
                series = [None if not d.total or d.good is None else d.good / d.total for d in slo.daily]
                objective = slo.objective  # daily SLI: the objective
            sparklines[(slo.service, slo.name)] = sparkline(series, objective)
    generated = cards.generated_at.astimezone(ZoneInfo(tz))
    shown = detail(cards, ranked, medium, setup.pdf_detail)
    teams = sorted(cards.teams, key=lambda t: (-(t.incidents.incidents_total or 0), -t.slos_missed, t.display_name))
    return ReportContext(
        title=setup.title,
        setup=setup,
        cards=cards,
        meeting=meeting,
        medium=medium,
        timezone=tz,
        window_label=cards.window.label(),
        generated_label=generated.strftime("%a %-d %b %Y %H:%M %Z"),
        warnings=data_quality(cards),
        charts=charts,
        ranked=ranked,
        on_call=on_call,
        recurring=recurring,
        burners=burners[:12],
        silent_burn=silent,
        latency=latency_table([slo for c in shown.detailed for slo in c.slos if slo.quantiles]),
        sparklines=sparklines,
        changes=changes_since_last(cards),
        page_size=setup.page_size,
        guard=RenderGuard(templates_dir),
        detailed=shown.detailed,
        summarised=shown.summarised,
        summarised_more=shown.summarised_more,
        responders_shown=shown.responders_shown,
        ranked_shown=shown.ranked_shown,
        majors_shown=shown.majors_shown,
        attention=attention(cards, meeting, ranked),
        burn=burn_view(cards),
        teams=teams,
        teams_shown=teams_shown(teams, medium, setup.pdf_detail),
        team_sparklines={t.team: sparkline([None if v is None else float(v) for v in t.trend.incidents_total])
                         for t in cards.teams if t.trend is not None},
        focus=team_focus(cards, meeting) if medium == "screen" else [],
    )
