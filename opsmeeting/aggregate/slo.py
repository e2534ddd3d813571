"""SLO scorecards (METRICS.md, "SLO metrics"): the window judged on the events left after its exclusions
(maintenance windows, corrections), the calendar period's budget, hourly burn rates and episodes, and the
error budget attributed to incidents."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypedDict

import numpy as np
import pandas as pd

from opsmeeting.aggregate.burn import ServiceIncidents, WindowHours, burn_of, pages_without_burn, window_hours
from opsmeeting.aggregate.exclusions import Correction, Exclusion, Exclusions, Hours, correct, hour_start
from opsmeeting.aggregate.model import (
    BudgetAttribution,
    CalendarBudget,
    DailySli,
    ItemError,
    PageWithoutBurn,
    RawSlo,
    SloExclusion,
    SloPrevious,
    SloScorecard,
    SloStatus,
)
from opsmeeting.model import (
    Counts,
    DailyCounts,
    SetupSlo,
    SloMeasurement,
    Snapshot,
    calendar_label,
    calendar_period,
)
from opsmeeting.window import Window


def _ratio(good: float | None, total: float | None) -> float | None:
    if good is None or total is None or total <= 0:
        return None
    return good / total


def _consumed(sli: float | None, objective: float) -> float | None:
    return None if sli is None else (1.0 - sli) / (1.0 - objective)


class _JudgeSetup(TypedDict):
    """The ``judge`` arguments an SLO's two windows share."""

    objective: float
    min_events: int
    source: str


@dataclass(frozen=True)
class Judged:
    """METRICS.md's SLO keys for one window, from its counts (after exclusions)."""

    status: SloStatus
    reason: str | None
    good: float | None
    total: float | None
    bad: float | None
    sli: float | None
    met: bool | None
    consumed: float | None
    notes: tuple[str, ...]

    @property
    def remaining(self) -> float | None:
        return None if self.consumed is None else 1.0 - self.consumed


def judge(counts: Counts, *, objective: float, min_events: int, problem: str | None = None,
          notes: Iterable[str] = (), source: str = "the SLO source", excluded: str | None = None) -> Judged:
    """``excluded``: why the whole window was excluded (it is then not judged)."""
    good, total = counts.good, counts.total
    notes = list(notes)
    if good is not None and total is not None and good > total:
        good = total  # rate extrapolation can push good a hair above total
    sli = _ratio(good, total)
    bad = None if good is None or total is None else total - good
    status: SloStatus
    reason: str | None
    if problem and total is None and not excluded:
        status, reason = "error", problem
    elif excluded:
        status, reason = "excluded", excluded
    elif total is None or good is None:
        status, reason = "no_data", "; ".join(notes) or problem or f"{source} returned no series for this service"
    elif total <= 0:
        status, reason = "no_data", "no traffic: 0 events in the window"
    elif total < min_events:
        status, reason = "low_traffic", f"{total:g} events, fewer than the minimum of {min_events}"
    else:
        status, reason = "ok", None
    return Judged(status=status, reason=reason, good=good, total=total, bad=bad, sli=sli,
                  met=None if status != "ok" else bool(sli is not None and sli >= objective),
                  consumed=_consumed(sli, objective), notes=tuple(notes))


def _daily(days: list[DailyCounts], hours: Hours | None = None, removed: np.ndarray | None = None,
           until: datetime | None = None) -> list[DailySli]:
    """Days after exclusions: each day's good and total less those of its removed hours (the hours that
    start in the day; ``until``: the last day's end)."""
    if hours is None or removed is None or not removed.any() or until is None:
        return [DailySli(date=d.date, good=d.good, total=d.total) for d in days]
    starts = hours.starts
    out = []
    for i, d in enumerate(days):
        begin = d.start.timestamp()
        end = days[i + 1].start.timestamp() if i + 1 < len(days) else until.timestamp()
        mine = removed & (starts >= begin) & (starts < end)
        if not mine.any():
            out.append(DailySli(date=d.date, good=d.good, total=d.total))
            continue
        g, t = float(np.sum(hours.good[mine])), float(np.sum(hours.total[mine]))
        total = None if d.total is None or np.isnan(t) else max(d.total - t, 0.0)
        good = None if d.good is None or np.isnan(g) else max(d.good - g, 0.0)
        out.append(DailySli(date=d.date, good=None if good is None or total is None else min(good, total),
                            total=total))
    return out


def _raw(counts: Counts, objective: float) -> RawSlo:
    good, total = counts.good, counts.total
    if good is not None and total is not None and good > total:
        good = total
    sli = _ratio(good, total)
    return RawSlo(good=good, total=total, bad=None if good is None or total is None else total - good, sli=sli,
                  error_budget_consumed=_consumed(sli, objective))


def _excluded(correction: Correction, origin: datetime, step: float) -> list[SloExclusion]:
    out = []
    for part in correction.parts:
        x = part.exclusion
        bad = None if part.good is None or part.total is None else part.total - part.good
        out.append(SloExclusion(
            kind=x.kind, id=x.id, start=x.start, end=x.end, hours=part.hours,
            hours_start=hour_start(origin, part.first, step) if part.first is not None else None,
            hours_end=hour_start(origin, part.last + 1, step) if part.last is not None else None,
            good=part.good, total=part.total, bad=bad, reason=x.reason, url=x.url,
        ))
    return out


def _whole(correction: Correction, what: str) -> str | None:
    if not correction.whole:
        return None
    kinds = sorted({p.exclusion.kind for p in correction.parts if p.hours})
    reasons = "; ".join(dict.fromkeys(p.exclusion.reason for p in correction.parts if p.hours and p.exclusion.reason))
    return (f"not judged: the whole {what} was excluded ({' and '.join(kinds)}"
            + (f": {reasons[:200]}" if reasons else "") + ")")


@dataclass(frozen=True)
class Spans:
    """The spans of one SLO: the window, the previous window, and the SLO period ending at each."""

    window: Window
    period_start: datetime
    previous_period_start: datetime
    calendar_end: datetime | None  # a calendar period's end (the period in progress at the window end)
    previous_calendar_end: datetime | None

    @classmethod
    def of(cls, slo: SetupSlo, window: Window) -> Spans:
        if slo.calendar is not None:
            now = calendar_period(slo.calendar, window.end, window.timezone)
            before = calendar_period(slo.calendar, window.start, window.timezone)
            return cls(window, now[0], before[0], now[1], before[1])
        period = timedelta(seconds=slo.period_seconds)
        return cls(window, window.end - period, window.start - period, None, None)


@dataclass(frozen=True)
class Judging:
    """One SLO judged, with what its burn and attribution need."""

    card: SloScorecard
    hours: Hours | None
    removed: np.ndarray | None  # positions of ``hours`` that exclusions removed (any span)


def _period_budget(bad: float | None, period_total: float | None, covered: bool | None, slo: SetupSlo,
                   objective: float, end: datetime, period_start: datetime, calendar_end: datetime | None,
                   correction: Correction, notes: list[str]) -> float | None:
    """The share of the SLO period's budget the window's ``bad`` events spent (METRICS.md): a rolling
    period's events, or a calendar period's events projected to its end."""
    what = f"{slo.period_seconds / 86400:g}-day SLO period" if slo.calendar is None else f"calendar {slo.calendar}"
    if bad is None:
        return None
    _, total = correction.counts(None, period_total)
    if correction.hours and correction.unknown:
        notes.append(f"period budget: {correction.unknown}")
        return None
    if not total:
        notes.append("period budget: no events over the SLO period" if not correction.whole
                     else "period budget: the whole SLO period was excluded")
        return None
    if covered is False:
        notes.append(f"period budget: the data reach back less than the {what}")
        return None
    if calendar_end is not None:
        total = total * (calendar_end - period_start) / (end - period_start)
    return bad / ((1.0 - objective) * total)


def _bad_since(hours: Hours | None, removed: np.ndarray | None, since: datetime, end: datetime) -> float | None:
    """Bad events of the hours that start in ``[since, end)``, after exclusions; None when one is unknown."""
    if hours is None:
        return None
    starts = hours.starts
    mine = (starts >= since.timestamp()) & (starts < end.timestamp())
    if removed is not None:
        mine &= ~removed
    a, b = hours.grid(since.timestamp(), end.timestamp())
    lo, hi = hours.positions(a, b)
    if hi - lo < b - a:
        return None
    values = hours.bad[mine]
    return None if np.isnan(values).any() else float(np.clip(values, 0.0, None).sum())


def _calendar(slo: SetupSlo, objective: float, m: SloMeasurement, spans: Spans, correction: Correction,
              covered: bool | None) -> CalendarBudget | None:
    if slo.calendar is None or spans.calendar_end is None:
        return None
    start, end, now = spans.period_start, spans.calendar_end, spans.window.end
    length, elapsed = (end - start).total_seconds(), (now - start).total_seconds()
    share = min(max(elapsed / length, 0.0), 1.0)
    notes: list[str] = []
    good, total = correction.counts(m.period_good, m.period_total)
    if correction.hours and correction.unknown:
        notes.append(correction.unknown)
    elif correction.whole:
        notes.append("the whole period so far was excluded")
    if covered is False:
        notes.append(f"the data reach back less than the start of the calendar {slo.calendar}")
        good = total = None
    if good is not None and total is not None and good > total:
        good = total
    bad = None if good is None or total is None else total - good
    consumed = remaining = to_exhaust = None
    if bad is not None and total:
        consumed = bad / ((1.0 - objective) * total / share)
        remaining = 1.0 - consumed
        if share >= 1.0:
            notes.append(f"the {slo.calendar} ended with the window: nothing is left to burn")
        else:
            to_exhaust = max(remaining, 0.0) / (1.0 - share)
    elif total == 0 and not correction.whole:
        notes.append("no events in the period so far")
    return CalendarBudget(period=slo.calendar, label=calendar_label(slo.calendar, start, spans.window.timezone),
                          start=start, end=end, elapsed_share=share, good=good, total=total, bad=bad,
                          sli=_ratio(good, total), budget_consumed=consumed, budget_remaining=remaining,
                          burn_rate_to_exhaust=to_exhaust, notes=notes)


def slo_scorecard(
    service: str, slo: SetupSlo, measurement: SloMeasurement | None, failure: str | None,
    source: str = "the SLO source", *, window: Window | None = None, exclusions: list[Exclusion] | None = None,
) -> SloScorecard:
    """``source``: how a reader calls the SLO source ("Prometheus"), for the reasons."""
    return judged_slo(service, slo, measurement, failure, source, window=window, exclusions=exclusions).card


def judged_slo(
    service: str, slo: SetupSlo, measurement: SloMeasurement | None, failure: str | None,
    source: str = "the SLO source", *, window: Window | None = None, exclusions: list[Exclusion] | None = None,
) -> Judging:
    objective = slo.objective_for(service)
    if measurement is None or window is None:
        reason = failure or f"{source} returned no series for this service"
        status: SloStatus = "error" if failure else "no_data"
        return Judging(SloScorecard(
            service=service, name=slo.name, kind=slo.kind, objective=objective, status=status, reason=reason,
            good=None, total=None, bad=None, sli=None, met=None,
            error_budget_consumed=None, error_budget_remaining=None, period_budget_consumed=None,
            previous=SloPrevious(good=None, total=None, sli=None, error_budget_consumed=None, status=status,
                                 reason=reason, raw=_raw(Counts(), objective)),
            threshold_seconds=slo.threshold_seconds, raw=_raw(Counts(), objective),
        ), None, None)
    notes = measurement.notes
    excl = exclusions or []
    spans = Spans.of(slo, window)
    hours = Hours.of(measurement, window)
    origin, step = window.start, hours.step if hours is not None else 3600.0
    previous_start = window.start - window.duration

    def fix(start: datetime, end: datetime) -> Correction:
        return correct(hours, excl, start, end, origin, step)

    now_c, before_c = fix(window.start, window.end), fix(previous_start, window.start)
    period_c, previous_period_c = fix(spans.period_start, window.end), fix(spans.previous_period_start, window.start)
    removed = None
    if hours is not None and excl:
        everything = fix(datetime.fromtimestamp(float(hours.starts[0]), window.start.tzinfo), window.end)
        removed = everything.mask
    common: _JudgeSetup = {"objective": objective, "min_events": slo.min_events, "source": source}
    judged = []
    for counts, c, what, scope in ((measurement.window, now_c, "window", "window"),
                                   (measurement.previous, before_c, "previous window", "previous")):
        extra = list(notes.get(scope, ()))
        good, total = c.counts(counts.good, counts.total)
        if c.hours and c.unknown and not c.whole and counts.total is not None:
            extra.append(f"exclusions: {c.unknown}: the {what}'s counts are null")
        judged.append(judge(Counts(good=good, total=total), problem=measurement.problem, notes=extra,
                            excluded=_whole(c, what), **common))
    now, before = judged
    now_notes, before_notes = list(now.notes), list(before.notes)
    # a calendar period that starts inside the window is charged with the window's hours in it only
    bad_now, bad_before = now.bad, before.bad
    if slo.calendar is not None and spans.period_start > window.start and now.bad is not None:
        bad_now = _bad_since(hours, removed, spans.period_start, window.end)
        if bad_now is None:
            now_notes.append("period budget: the window's hours in the calendar period have no hourly numbers")
    if slo.calendar is not None and spans.previous_period_start > previous_start and before.bad is not None:
        bad_before = _bad_since(hours, removed, spans.previous_period_start, window.start)
    period = _period_budget(bad_now, measurement.period_total, measurement.period_covered, slo, objective,
                            window.end, spans.period_start, spans.calendar_end, period_c, now_notes)
    previous_period = _period_budget(bad_before, measurement.previous_period_total,
                                     measurement.previous_period_covered, slo, objective, window.start,
                                     spans.previous_period_start, spans.previous_calendar_end, previous_period_c,
                                     before_notes)
    previous = SloPrevious(
        good=before.good, total=before.total, sli=before.sli, error_budget_consumed=before.consumed,
        bad=before.bad, met=before.met, error_budget_remaining=before.remaining,
        period_budget_consumed=previous_period,
        daily=_daily(measurement.previous_daily, hours, removed, window.start),
        status=before.status, reason=before.reason, notes=before_notes,
        raw=_raw(measurement.previous, objective), excluded=_excluded(before_c, origin, step),
    )
    card = SloScorecard(
        service=service, name=slo.name, kind=slo.kind, objective=objective, status=now.status, reason=now.reason,
        good=now.good, total=now.total, bad=now.bad, sli=now.sli, met=now.met,
        error_budget_consumed=now.consumed, error_budget_remaining=now.remaining, period_budget_consumed=period,
        daily=_daily(measurement.daily, hours, removed, window.end), previous=previous,
        quantiles=dict(measurement.quantiles),
        threshold_seconds=slo.threshold_seconds,
        notes=[*now_notes, *notes.get("quantiles", ())],
        raw=_raw(measurement.window, objective), excluded=_excluded(now_c, origin, step),
        calendar=_calendar(slo, objective, measurement, spans, period_c, measurement.period_covered),
    )
    return Judging(card, hours, removed)


@dataclass(frozen=True)
class Intervals:
    """Each service's incidents of the window as numpy arrays (open interval in epoch seconds), built once."""

    by_service: dict[str, ServiceIncidents]

    @classmethod
    def of(cls, incidents: pd.DataFrame, until: datetime) -> Intervals:
        if incidents.empty:
            return cls({})
        epoch = pd.Timestamp(0, tz="UTC")  # (pandas 3 may store microseconds: never assume nanoseconds)
        created = (incidents["created_at"] - epoch).dt.total_seconds().to_numpy()
        open_until = (pd.Timestamp(until) - epoch).total_seconds()  # filled in seconds: the column may be coarser
        resolved = (incidents["resolved_at"] - epoch).dt.total_seconds().fillna(open_until).to_numpy()
        ids = incidents["id"].to_numpy()
        numbers = incidents["number"].to_numpy()
        titles = incidents["title"].to_numpy()
        high = (incidents["urgency"] == "high").to_numpy()
        return cls({
            str(service): ServiceIncidents(ids[pos], numbers[pos], titles[pos], created[pos], resolved[pos], high[pos])
            for service, pos in incidents.groupby("service").indices.items()
        })


def failed_scorecard(service: str, slo: SetupSlo, exc: Exception) -> SloScorecard:
    """The SLO of a service that an unexpected error kept from being computed: every value null."""
    reason = f"could not be computed ({type(exc).__name__}: {str(exc)[:200]})"
    return SloScorecard(
        service=service, name=slo.name, kind=slo.kind, objective=slo.objective_for(service), status="error",
        reason=reason, good=None, total=None, bad=None, sli=None, met=None, error_budget_consumed=None,
        error_budget_remaining=None, period_budget_consumed=None,
        previous=SloPrevious(good=None, total=None, sli=None, error_budget_consumed=None, status="error",
                             reason=reason),
        threshold_seconds=slo.threshold_seconds,
    )


def covers(slo: SetupSlo, service: str, measurement: SloMeasurement | None, failed: bool = False) -> bool:
    """Whether ``service`` gets a row for ``slo`` (METRICS.md "Which services an SLO covers"): it had
    the SLO's series in the window or the SLO period (a measurement; a failed query gives one, an
    error, to each service it covers), or the SLO expects it (its ``services``/``teams``). When the
    whole source ``failed``, an SLO that selects no services is an error for every service: which of
    them have series cannot be known. "No data" is said of these only."""
    if measurement is not None:
        return True
    if slo.expected is None:
        return failed
    return service in slo.expected


@dataclass(frozen=True)
class SloResults:
    cards: list[SloScorecard]
    # high-urgency incidents with no SLO burn; None: the incidents, or every SLO's hourly counts, unknown
    pages_without_burn: list[PageWithoutBurn] | None


def slo_scorecards(snapshot: Snapshot, incidents: pd.DataFrame | None = None,
                   errors: list[ItemError] | None = None) -> list[SloScorecard]:
    return judge_slos(snapshot, incidents, errors).cards


def judge_slos(snapshot: Snapshot, incidents: pd.DataFrame | None = None,
               errors: list[ItemError] | None = None) -> SloResults:
    """One scorecard per configured (service, SLO): judged after its exclusions, with its burn rates and
    episodes, and the attribution of its budget when incidents are known; and the pages without burn.
    An unexpected error in one SLO makes that one an error scorecard (recorded in ``errors``)."""
    setup = snapshot.setup
    failure = None
    source, status = snapshot.role_status("slos")
    label = source.label if source else "the SLO source"
    if snapshot.slos is None:
        failure = f"{label} unavailable: {status.detail}" if status and status.detail else f"{label} not collected"
    found = {(m.service, m.slo): m for m in (snapshot.slos.measurements if snapshot.slos else [])}
    collected_at = snapshot.incidents.collected_at if snapshot.incidents else snapshot.generated_at
    intervals = Intervals.of(incidents, collected_at) if incidents is not None else None
    exclusions = Exclusions.of(snapshot)
    window = snapshot.window
    cards = []
    pages: list[PageWithoutBurn] | None = [] if intervals is not None else None
    any_hours = False
    for svc in setup.services:
        mine: list[tuple[SloScorecard, WindowHours]] = []
        for slo in setup.slos:
            measurement = found.get((svc.name, slo.name))
            if not covers(slo, svc.name, measurement, failed=failure is not None):
                continue
            try:
                judging = judged_slo(svc.name, slo, measurement, failure, label, window=window,
                                     exclusions=exclusions.of_slo(svc.name, slo))
                card, hours = judging.card, judging.hours
                if hours is not None:
                    any_hours = True
                    by_hour = window_hours(hours, judging.removed, window.start.timestamp(), window.end.timestamp(),
                                           card.objective)
                    if intervals is not None and card.bad:
                        card = attribute_budget(card, by_hour, intervals, window)
                    if card.status == "ok":
                        service_incidents = intervals.by_service.get(svc.name) if intervals is not None else None
                        card = card.model_copy(update={"burn": burn_of(
                            by_hour, card.objective, card.total, slo.page_burn_rate_1h, slo.page_burn_rate_6h,
                            service_incidents, intervals is not None)})
                        mine.append((card, by_hour))
                elif card.status == "ok":
                    card = card.model_copy(update={"notes": [*card.notes, "burn rates: no hourly counts"]})
            except Exception as exc:  # one SLO's bad data must not end the run: it is shown as an error
                card = failed_scorecard(svc.name, slo, exc)
                if errors is not None:
                    errors.append(ItemError(item=f"{svc.name} · SLO {slo.name}", stage="aggregation",
                                            error=f"{type(exc).__name__}: {str(exc)[:300]}"))
            cards.append(card)
        if pages is not None and intervals is not None and mine and svc.name in intervals.by_service:
            pages += pages_without_burn(svc.name, intervals.by_service[svc.name], mine)
    if not any_hours:
        pages = None
    return SloResults(cards, sorted(pages, key=lambda p: (p.created_at, p.incident_number)) if pages is not None
                      else None)


def attribute_budget(card: SloScorecard, hours: WindowHours, intervals: Intervals, window: Window) -> SloScorecard:
    """Share of the window's bad events (after exclusions) inside each incident's open interval.

    Bad events are assumed spread evenly within each hour. Where incidents overlap, a moment's bad
    events are split equally among the incidents open then, so shares add up to at most 1.
    """
    step = hours.step
    mine = intervals.by_service.get(card.service)
    if mine is None or step <= 0:
        return card.model_copy(update={"unattributed_share": 1.0 if card.bad else None})
    ids, numbers, titles, starts, ends = mine.ids, mine.numbers, mine.titles, mine.starts, mine.ends
    w0, w1 = window.start.timestamp(), window.end.timestamp()
    bin_start, bin_bad = hours.starts, np.nan_to_num(hours.bad, nan=0.0)
    if not len(bin_start) or bin_bad.sum() <= 0:
        return card
    starts, ends = np.clip(starts, w0, w1), np.clip(ends, w0, w1)
    edges = np.unique(np.concatenate([np.clip(bin_start, w0, w1), np.clip(bin_start + step, w0, w1), starts, ends]))
    seg_start, seg_len = edges[:-1], np.diff(edges)
    which_bin = np.searchsorted(bin_start, seg_start, side="right") - 1
    inside = (which_bin >= 0) & (seg_start < bin_start[which_bin.clip(0)] + step)
    seg_bad = np.where(inside, bin_bad[which_bin.clip(0)] * seg_len / step, 0.0)
    open_now = np.searchsorted(np.sort(starts), seg_start, side="right") - np.searchsorted(
        np.sort(ends), seg_start, side="right"
    )
    per_open = np.where(open_now > 0, seg_bad / np.maximum(open_now, 1), 0.0)
    prefix = np.concatenate([[0.0], np.cumsum(per_open)])
    attributed = prefix[np.searchsorted(edges, ends)] - prefix[np.searchsorted(edges, starts)]
    total_bad = float(seg_bad.sum())
    budget = (1.0 - card.objective) * (card.total or 0.0)
    order = [i for i in np.lexsort((numbers, -attributed)) if attributed[i] > 0]
    rows = [
        BudgetAttribution(
            incident_id=str(ids[i]), incident_number=int(numbers[i]), title=str(titles[i]),
            bad=float(attributed[i]), share_of_bad=float(attributed[i]) / total_bad,
            share_of_budget=float(attributed[i]) / budget if budget > 0 else 0.0,
        )
        for i in order
    ]
    unattributed = float(seg_bad[open_now <= 0].sum()) / total_bad
    return card.model_copy(update={"attribution": rows, "unattributed_share": unattributed})
