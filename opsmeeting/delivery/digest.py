"""The summary a chat message carries, whatever its format: the pre-read's first page in a few lines.

A ``Digest`` is made from what rendering wrote (``scorecards.json``), like the email: the headline
numbers (the email's summary lines: incidents, the median times to acknowledge and to resolve,
interruptions, SLOs missed), what needs the meeting's attention (the headings of
``report/attention.py`` that the scorecards alone can say: SLOs missed, top priorities, the burn
nobody was paged for (alerting gaps), the noisiest alert, sleep-hour interruptions), the data-quality notes
(``report/summary.py``), and the links to the page and the PDF when ``output.public_url`` is set.

Every text in it is plain, one line (``report.formats.clean``): names and titles come from the
sources as their authors wrote them, and each chat format escapes them its own way
(``chat_formats.py``). ``trimmed`` makes a shorter digest for the formats' size limits: fewer
entries per heading (the rest counted, "and 4 more"), shorter texts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from opsmeeting.aggregate.model import Scorecards
from opsmeeting.report.attention import Heading, alerting_gaps, missed_slos, noisiest, sleepers, top_services
from opsmeeting.report.formats import clean, fmt_duration, fmt_num, fmt_signed, title_cut
from opsmeeting.report.summary import data_quality

HEADING_LIMIT = 150  # characters of the heading (Slack's header block holds 150)
TEXT_LIMIT = 300  # characters of any other text, before trimming makes it shorter


@dataclass(frozen=True)
class Fact:
    """A headline number: ``value`` as scorecards.json has it (None: unknown), ``text`` for people."""

    key: str
    label: str
    text: str
    value: int | float | None
    change: str | None = None  # since the previous rotation, when the store had it


@dataclass(frozen=True)
class Entry:
    subject: str  # who or what (a service, an SLO, a person, an alert's title)
    fact: str
    change: str | None = None


@dataclass(frozen=True)
class Section:
    """One heading of what needs attention."""

    key: str
    title: str
    entries: tuple[Entry, ...] = ()
    more: int = 0  # entries not shown (the report has them)
    empty: str = ""  # what "nothing" means here
    unknown: str | None = None  # why this cannot be said (its source is missing)


@dataclass(frozen=True)
class Note:
    level: str  # "error" | "warning" | "info"
    text: str


@dataclass(frozen=True)
class WindowInfo:
    key: str
    start: datetime
    end: datetime
    timezone: str
    label: str  # in the rotation's zone: "Mon 19 Oct 2026 09:00 → Mon 2 Nov 2026 09:00 (Europe/Lisbon)"
    provisional: bool


@dataclass(frozen=True)
class Digest:
    title: str  # output.title
    heading: str  # "<title>: <window>", "Corrected: …" first when it is a corrected report
    kind: str  # the delivery's kind: report | corrected | resent
    window: WindowInfo
    generated_at: datetime
    degraded: bool  # a source failed or answered in part, or an item could not be computed
    facts: tuple[Fact, ...]
    sections: tuple[Section, ...]
    notes: tuple[Note, ...]
    notes_more: int = 0
    page_url: str | None = None
    pdf_url: str | None = None

    @property
    def corrected(self) -> bool:
        return self.kind == "corrected"

    def trimmed(self, shown: int | None, limit: int = TEXT_LIMIT) -> Digest:
        """At most ``shown`` entries per heading and data-quality notes (None: as many as it has), the
        rest counted; every text at most ``limit`` characters."""

        def cut(text: str) -> str:
            return title_cut(text, limit)

        def keep(count: int) -> int:
            return count if shown is None else min(count, shown)

        sections = tuple(
            replace(s, entries=tuple(Entry(cut(e.subject), cut(e.fact), cut(e.change) if e.change else None)
                                     for e in s.entries[:keep(len(s.entries))]),
                    more=s.more + len(s.entries) - keep(len(s.entries)), empty=cut(s.empty),
                    unknown=cut(s.unknown) if s.unknown else None)
            for s in self.sections)
        notes = tuple(Note(n.level, cut(n.text)) for n in self.notes[:keep(len(self.notes))])
        return replace(self, title=cut(self.title), heading=title_cut(self.heading, min(limit, HEADING_LIMIT)),
                       facts=tuple(replace(f, text=cut(f.text)) for f in self.facts), sections=sections,
                       notes=notes, notes_more=self.notes_more + len(self.notes) - len(notes))

    def without_links(self) -> Digest:
        return replace(self, page_url=None, pdf_url=None)


def _section(key: str, heading: Heading) -> Section:
    return Section(key=key, title=heading.title,
                   entries=tuple(Entry(clean(line.subject), clean(line.fact), clean(line.change) or None)
                                 for line in heading.lines),
                   more=heading.more, empty=heading.empty, unknown=clean(heading.unknown) or None)


def _facts(cards: Scorecards) -> tuple[Fact, ...]:
    o = cards.overall.incidents
    before = cards.previous_overall

    def change(now: int | None, was: int | None) -> str | None:
        if now is None or was is None:
            return None
        return f"{fmt_signed(now - was)} vs the last rotation" if now != was else "as in the last rotation"

    judged = [s for c in cards.services for s in c.slos if s.status == "ok"]
    missed = [s for s in judged if s.met is False]
    slos = Fact("slos_missed", "SLOs missed", f"{len(missed)} of {len(judged)} judged", len(missed))
    if not o.known:
        return (*(Fact(key, label, "unknown", None) for key, label in (
            ("incidents_total", "Incidents"), ("mtta_p50_s", "Time to acknowledge (median)"),
            ("mttr_p50_s", "Time to resolve (median)"), ("interruptions", "Interruptions"))), slos)
    return (
        Fact("incidents_total", "Incidents",
             f"{fmt_num(o.incidents_total)} ({fmt_num(o.incidents_high_urgency)} high urgency, "
             f"{fmt_num(o.incidents_major)} major, {fmt_num(o.incidents_open)} still open)",
             o.incidents_total, change(o.incidents_total, before.incidents_total if before else None)),
        Fact("mtta_p50_s", "Time to acknowledge (median)", fmt_duration(o.mtta_p50_s), o.mtta_p50_s),
        Fact("mttr_p50_s", "Time to resolve (median)", fmt_duration(o.mttr_p50_s), o.mttr_p50_s),
        Fact("interruptions", "Interruptions",
             f"{fmt_num(o.interruptions)} ({fmt_num(o.interruptions_sleep)} in sleep hours)",
             o.interruptions, change(o.interruptions, before.interruptions if before else None)),
        slos,
    )


def digest(cards: Scorecards, *, title: str, kind: str = "report", page_url: str | None = None,
           pdf_url: str | None = None) -> Digest:
    """The digest of a report's scorecards (as ``report/output.read_scorecards`` reads them back)."""
    names = {c.service: c.display_name for c in cards.services}
    ranked = sorted(cards.services, key=lambda c: c.priority.rank if c.priority else 0)
    sections = [_section("slos_missed", missed_slos(cards)), _section("top_priorities", top_services(ranked)),
                _section("alerting_gaps", alerting_gaps(cards))]
    if cards.overall.incidents.known:
        sections += [_section("noisiest_alert", noisiest(cards.problems, names)),
                     _section("sleep_interruptions", sleepers(cards.responders))]
    else:
        why = "the incident source gave no incidents"
        sections += [Section("noisiest_alert", "The noisiest alert", unknown=why),
                     Section("sleep_interruptions", "Sleep-hour interruptions", unknown=why)]
    label = cards.window.label()
    clean_title = clean(title) or "Ops Meeting"
    heading = ("Corrected: " if kind == "corrected" else "") + f"{clean_title}: {label}"
    degraded = (any(s.status in ("failed", "degraded") for s in cards.sources.values()) or bool(cards.item_errors))
    return Digest(
        title=clean_title, heading=heading, kind=kind, generated_at=cards.generated_at,
        window=WindowInfo(key=cards.window.key, start=cards.window.start, end=cards.window.end,
                          timezone=cards.window.timezone, label=label, provisional=cards.window.provisional),
        degraded=degraded, facts=_facts(cards), sections=tuple(sections),
        notes=tuple(Note(w.level, clean(w.text)) for w in data_quality(cards)),
        page_url=page_url, pdf_url=pdf_url,
    )
