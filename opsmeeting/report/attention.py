"""What needs the meeting's attention: the first page of the pre-read and the top of the projected
page. Each line comes with its change since the previous rotation when the store knows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from opsmeeting.aggregate.model import (
    BurnEpisode,
    Problem,
    ResponderScorecard,
    Scorecards,
    ServiceScorecard,
    SloScorecard,
)
from opsmeeting.meeting.model import Item, MeetingView
from opsmeeting.report.formats import fmt_num, fmt_pct, fmt_signed

SHOWN = 3  # lines per heading; the rest are counted ("and 4 more")
MISSED_SHOWN = 5


@dataclass(frozen=True)
class Line:
    """One thing to look at: who or what (``subject``), the fact, and its change since the last rotation."""

    subject: str
    fact: str
    change: str | None = None
    anchor: str | None = None  # where the report says more (an element id)


@dataclass(frozen=True)
class Heading:
    title: str
    lines: list[Line] = field(default_factory=list)
    more: int = 0  # lines not shown
    empty: str = ""  # what to say when there is nothing (shown muted)
    unknown: str | None = None  # why this cannot be said (a source is missing)


@dataclass(frozen=True)
class Attention:
    headings: list[Heading]

    @property
    def anything(self) -> bool:
        return any(h.lines for h in self.headings)


def _pct_change(now: float | None, before: float | None) -> str | None:
    if now is None or before is None:
        return None
    return f"was {fmt_pct(before, 0)}"


def _excluded_note(slo: SloScorecard) -> str:
    """"; 3 h excluded (maintenance, correction)": what the judged numbers leave out, when anything."""
    hours = sum(e.hours for e in slo.excluded)
    if not hours:
        return ""
    kinds = sorted({e.kind for e in slo.excluded if e.hours})
    return f"; {hours} h excluded ({', '.join(kinds)})"


def missed_slos(cards: Scorecards) -> Heading:
    missed = sorted(((c, s) for c in cards.services for s in c.slos if s.status == "ok" and s.met is False),
                    key=lambda cs: (-(cs[1].error_budget_consumed or 0.0), cs[0].service, cs[1].name))
    lines = [Line(subject=f"{c.display_name} · {s.name}",
                  fact=f"budget consumed {fmt_pct(s.error_budget_consumed, 0)} (SLI {fmt_pct(s.sli, 2)} for "
                       f"{fmt_pct(s.objective, 2)}{_excluded_note(s)})",
                  change=_pct_change(s.error_budget_consumed, s.previous.error_budget_consumed if s.previous else None)
                  or ("met last rotation" if s.previous and s.previous.met else None),
                  anchor="observability")
             for c, s in missed]
    unknown = None
    if cards.setup is not None and cards.setup.slos and all(not c.slos for c in cards.services):
        source, status = cards.role_status("slos")
        unknown = f"{source.label if source else 'the SLO source'} gave no SLO data" if status else None
    return Heading("SLOs missed", lines[:MISSED_SHOWN], max(len(lines) - MISSED_SHOWN, 0),
                   empty="every judged SLO met its objective", unknown=unknown)


def top_services(ranked: list[ServiceScorecard]) -> Heading:
    lines = []
    for card in ranked[:SHOWN]:
        p = card.priority
        if p is None or p.score <= 0:
            continue
        reasons = sorted((r for r in p.reasons if r.contribution > 0), key=lambda r: -r.contribution)[:2]
        why = ", ".join(f"{r.component.replace('_', ' ')} {fmt_num(round(r.value, 2) if r.value is not None else None)}"
                        for r in reasons)
        previous = card.trend.previous_rank if card.trend else None
        change = None if previous is None else ("same rank" if previous == p.rank else f"was rank {previous}")
        lines.append(Line(subject=f"{p.rank}. {card.display_name}", fact=f"score {p.score:.1f}: {why}", change=change,
                          anchor="planning"))
    return Heading("Top priorities", lines, empty="no incident load and no budget burn")


def _span(start: datetime, end: datetime, zone: str) -> str:
    tz = ZoneInfo(zone)
    a, b = start.astimezone(tz), end.astimezone(tz)
    return f"{a:%a %-d %b %H:%M}–{b:%H:%M}" if a.date() == b.date() else f"{a:%a %-d %b %H:%M} – {b:%a %-d %b %H:%M}"


def _gap_change(card: ServiceScorecard, slo: str) -> str | None:
    """The budget the SLO's alerting gaps cost in the rotation just before, when the store has it."""
    if card.trend is None or slo not in card.trend.previous_alerting_gap_budget:
        return None
    before = card.trend.previous_alerting_gap_budget[slo]
    if before is None:
        return None
    return "no gap last rotation" if before == 0 else f"gaps cost {fmt_pct(before, 0)} last rotation"


def alerting_gaps(cards: Scorecards) -> Heading:
    """Burn episodes with no page (METRICS.md, "Burn rates and alerting gaps"), the costliest first."""
    title = "Alerting gaps and noise"
    if not cards.overall.incidents.known:
        source, _ = cards.role_status("incidents")
        return Heading(title, unknown=f"{source.label if source else 'the incident source'} gave no incidents")
    rated = [(c, s) for c in cards.services for s in c.slos if s.burn is not None]
    if not rated:
        judged = any(s.status == "ok" for c in cards.services for s in c.slos)
        return Heading(title, empty="no SLO was judged", unknown="no SLO has hourly counts to find burn episodes in"
                       if judged else None)
    gaps: list[tuple[ServiceScorecard, str, BurnEpisode]] = sorted(
        ((c, s.name, e) for c, s in rated if s.burn for e in s.burn.episodes if e.alerting_gap),
        key=lambda x: (-(x[2].budget_consumed or 0.0), x[2].start, x[0].service, x[1]))
    zone = cards.window.timezone
    lines = []
    for card, slo, e in gaps:
        low = f"; only low-urgency #{', #'.join(map(str, e.other_incidents))}" if e.other_incidents else ""
        lines.append(Line(subject=f"{card.display_name} · {slo}",
                          fact=f"{_span(e.start, e.end, zone)}, peak {fmt_num(round(e.peak_burn_rate_1h, 1))}× burn, "
                               f"{fmt_pct(e.budget_consumed, 0)} of the budget, no page{low}",
                          change=_gap_change(card, slo), anchor="burn"))
    shown = lines[:SHOWN]
    noise = cards.pages_without_burn
    if noise:
        if not lines:
            episodes = sum(len(s.burn.episodes) for _, s in rated if s.burn)
            fact = ("no SLO burned at a page threshold" if not episodes else "the burn episode had a page"
                    if episodes == 1 else f"all {episodes} burn episodes had a page")
            shown.append(Line(subject="No alerting gap", fact=fact, anchor="burn"))
        per: dict[str, int] = {}
        for p in noise:
            per[p.service] = per.get(p.service, 0) + 1
        names = {c.service: c.display_name for c in cards.services}
        pages = {c.service: c.incidents.incidents_high_urgency for c in cards.services}
        top = sorted(per.items(), key=lambda kv: (-kv[1], kv[0]))
        which = ", ".join(f"{names.get(k, k)} {n} of {pages.get(k) or n}" for k, n in top[:3]) + (
            f" and {len(top) - 3} more services" if len(top) > 3 else "")
        shown.append(Line(subject=f"{len(noise)} page(s) with no SLO burn",
                          fact=f"noise candidates: {which}", anchor="noise"))
    return Heading(title, shown, max(len(lines) - SHOWN, 0),
                   empty="every burn episode had a page, and every page came with SLO burn")


def follow_ups(cards: Scorecards, meeting: MeetingView, team_name: dict[str, str]) -> Heading:
    majors = cards.major_incidents
    pending = [m for m in majors if m.postmortem_url is None]
    lines = []
    items = meeting.items
    if items is not None and items.past_due:
        overdue: list[Item] = sorted(items.past_due, key=lambda i: (i.due or i.created_at.date(), i.id))
        was = items.past_due_at_last_meeting
        lines.append(Line(subject=f"{len(overdue)} action item(s) past due",
                          fact="; ".join(f"#{i.id} {team_name.get(i.team, i.team)}: {i.text[:60]}" for i in overdue[:2])
                          + (f" and {len(overdue) - 2} more" if len(overdue) > 2 else ""),
                          change=None if was is None else f"{was} at the last meeting", anchor="improvement"))
    if pending:
        before = cards.previous_overall.incidents_major if cards.previous_overall else None
        lines.append(Line(subject=f"{len(pending)} RCA(s) pending",
                          fact=f"of {len(majors)} major incident(s): "
                               + ", ".join(f"#{m.number}" for m in pending[:6])
                               + (f" and {len(pending) - 6} more" if len(pending) > 6 else ""),
                          change=None if before is None else f"{before} major incident(s) last rotation",
                          anchor="major-incidents"))
    empty = "no action item past due and no RCA pending" if items is not None else "no RCA pending"
    return Heading("Follow-ups", lines, empty=empty)


def noisiest(problems: list[Problem], names: dict[str, str]) -> Heading:
    noisy = sorted((p for p in problems if p.count >= 2), key=lambda p: (-p.count, -p.short, p.service, p.key))
    if not noisy:
        return Heading("The noisiest alert", empty="no alert paged twice")
    p = noisy[0]
    signals = [f"{p.auto_resolved} resolved by itself" if p.auto_resolved else "",
               f"{p.short} shorter than the noise threshold" if p.short else ""]
    change = None
    if p.previous_rotations is not None:
        change = f"also in {p.previous_rotations} earlier rotation(s)" if p.previous_rotations else "new this rotation"
    return Heading("The noisiest alert", [Line(
        subject=f"{names.get(p.service, p.service)}: “{p.example_title[:90]}”",
        fact=f"paged {p.count} times" + "".join(f", {s}" for s in signals if s), change=change, anchor="incidents")])


def sleepers(responders: list[ResponderScorecard]) -> Heading:
    woken = sorted((r for r in responders if r.interruptions_sleep), key=lambda r: (-(r.interruptions_sleep or 0),
                                                                                      r.name))
    if responders and all(r.interruptions_sleep is None for r in responders):
        return Heading("Sleep-hour interruptions", unknown="the responders' time zones could not be read")
    lines = [Line(subject=r.name, fact=f"{r.interruptions_sleep} sleep-hour interruption(s) of {r.interruptions}",
                  change=None if r.previous_interruptions_sleep is None else
                  f"{fmt_signed(int(r.interruptions_sleep or 0) - r.previous_interruptions_sleep)} vs last rotation",
                  anchor="responders")
             for r in woken]
    return Heading("Sleep-hour interruptions", lines[:SHOWN], max(len(lines) - SHOWN, 0),
                   empty="no one was woken up")


def attention(cards: Scorecards, meeting: MeetingView, ranked: list[ServiceScorecard]) -> Attention:
    names = {c.service: c.display_name for c in cards.services}
    teams = {t.team: t.display_name for t in cards.teams}
    have_incidents = cards.overall.incidents.known
    headings = [missed_slos(cards), top_services(ranked), alerting_gaps(cards)]
    if have_incidents:
        headings += [follow_ups(cards, meeting, teams), noisiest(cards.problems, names), sleepers(cards.responders)]
    else:
        source, _ = cards.role_status("incidents")
        why = f"{source.label if source else 'the incident source'} gave no incidents"
        headings += [Heading(title, unknown=why) for title in ("Follow-ups", "The noisiest alert",
                                                                "Sleep-hour interruptions")]
    return Attention(headings)
