"""SLO scorecards (METRICS.md, "SLO metrics") and error budget attributed to incidents."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

import numpy as np
import pandas as pd

from opsmeeting.aggregate.model import BudgetAttribution, DailySli, ItemError, SloPrevious, SloScorecard, SloStatus
from opsmeeting.model import Counts, DailyCounts, SetupSlo, SloMeasurement, Snapshot
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
    period_seconds: int
    source: str


@dataclass(frozen=True)
class Judged:
    """METRICS.md's SLO keys for one window, from its counts."""

    status: SloStatus
    reason: str | None
    good: float | None
    total: float | None
    bad: float | None
    sli: float | None
    met: bool | None
    consumed: float | None
    period: float | None
    notes: tuple[str, ...]

    @property
    def remaining(self) -> float | None:
        return None if self.consumed is None else 1.0 - self.consumed


def judge(counts: Counts, *, objective: float, min_events: int, period_total: float | None,
          period_covered: bool | None, period_seconds: int, problem: str | None = None,
          notes: Iterable[str] = (), source: str = "the SLO source") -> Judged:
    good, total = counts.good, counts.total
    notes = list(notes)
    if good is not None and total is not None and good > total:
        good = total  # rate extrapolation can push good a hair above total
    sli = _ratio(good, total)
    bad = None if good is None or total is None else total - good
    status: SloStatus
    reason: str | None
    if problem and total is None:
        status, reason = "error", problem
    elif total is None or good is None:
        status, reason = "no_data", "; ".join(notes) or problem or f"{source} returned no series for this service"
    elif total <= 0:
        status, reason = "no_data", "no traffic: 0 events in the window"
    elif total < min_events:
        status, reason = "low_traffic", f"{total:g} events, fewer than the minimum of {min_events}"
    else:
        status, reason = "ok", None
    period = None
    if bad is not None and period_total:
        if period_covered is False:
            days = period_seconds / 86400
            notes.append(f"period budget: the data reach back less than the {days:g}-day SLO period")
        else:
            period = bad / ((1.0 - objective) * period_total)
    elif bad is not None:
        notes.append("period budget: no events over the SLO period")
    return Judged(status=status, reason=reason, good=good, total=total, bad=bad, sli=sli,
                  met=None if status != "ok" else bool(sli is not None and sli >= objective),
                  consumed=_consumed(sli, objective), period=period, notes=tuple(notes))


def _daily(days: list[DailyCounts]) -> list[DailySli]:
    return [DailySli(date=d.date, good=d.good, total=d.total) for d in days]


def slo_scorecard(
    service: str, slo: SetupSlo, measurement: SloMeasurement | None, failure: str | None,
    source: str = "the SLO source",
) -> SloScorecard:
    """``source``: how a reader calls the SLO source ("Prometheus"), for the reasons."""
    objective = slo.objective_for(service)
    if measurement is None:
        reason = failure or f"{source} returned no series for this service"
        return SloScorecard(
            service=service, name=slo.name, kind=slo.kind, objective=objective,
            status="error" if failure else "no_data", reason=reason,
            good=None, total=None, bad=None, sli=None, met=None,
            error_budget_consumed=None, error_budget_remaining=None, period_budget_consumed=None,
            previous=SloPrevious(good=None, total=None, sli=None, error_budget_consumed=None,
                                 status="error" if failure else "no_data", reason=reason),
            threshold_seconds=slo.threshold_seconds,
        )
    notes = measurement.notes
    common: _JudgeSetup = {"objective": objective, "min_events": slo.min_events, "period_seconds": slo.period_seconds,
                           "source": source}
    now = judge(measurement.window, period_total=measurement.period_total, period_covered=measurement.period_covered,
                problem=measurement.problem, notes=notes.get("window", ()), **common)
    before = judge(measurement.previous, period_total=measurement.previous_period_total,
                   period_covered=measurement.previous_period_covered, problem=measurement.problem,
                   notes=notes.get("previous", ()), **common)
    previous = SloPrevious(
        good=before.good, total=before.total, sli=before.sli, error_budget_consumed=before.consumed,
        bad=before.bad, met=before.met, error_budget_remaining=before.remaining,
        period_budget_consumed=before.period, daily=_daily(measurement.previous_daily),
        status=before.status, reason=before.reason, notes=list(before.notes),
    )
    return SloScorecard(
        service=service, name=slo.name, kind=slo.kind, objective=objective, status=now.status, reason=now.reason,
        good=now.good, total=now.total, bad=now.bad, sli=now.sli, met=now.met,
        error_budget_consumed=now.consumed, error_budget_remaining=now.remaining, period_budget_consumed=now.period,
        daily=_daily(measurement.daily), previous=previous, quantiles=dict(measurement.quantiles),
        threshold_seconds=slo.threshold_seconds,
        notes=[*now.notes, *notes.get("quantiles", ())],
    )


@dataclass(frozen=True)
class Intervals:
    """Each service's incidents as numpy arrays (open interval in epoch seconds), built once."""

    by_service: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]

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
        return cls({
            str(service): (ids[pos], numbers[pos], titles[pos], created[pos], resolved[pos])
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


def slo_scorecards(snapshot: Snapshot, incidents: pd.DataFrame | None = None,
                   errors: list[ItemError] | None = None) -> list[SloScorecard]:
    """One scorecard per configured (service, SLO), with attribution when incidents are known. An
    unexpected error in one of them makes that one an error scorecard (recorded in ``errors``)."""
    setup = snapshot.setup
    failure = None
    source, status = snapshot.role_status("slos")
    label = source.label if source else "the SLO source"
    if snapshot.slos is None:
        failure = f"{label} unavailable: {status.detail}" if status and status.detail else f"{label} not collected"
    found = {(m.service, m.slo): m for m in (snapshot.slos.measurements if snapshot.slos else [])}
    collected_at = snapshot.incidents.collected_at if snapshot.incidents else snapshot.generated_at
    intervals = Intervals.of(incidents, collected_at) if incidents is not None else None
    cards = []
    for svc in setup.services:
        for slo in setup.slos:
            measurement = found.get((svc.name, slo.name))
            if not covers(slo, svc.name, measurement, failed=failure is not None):
                continue
            try:
                card = slo_scorecard(svc.name, slo, measurement, failure, label)
                if measurement is not None and intervals is not None and measurement.bins and card.bad:
                    card = attribute_budget(card, measurement, intervals, snapshot.window)
            except Exception as exc:  # one SLO's bad data must not end the run: it is shown as an error
                card = failed_scorecard(svc.name, slo, exc)
                if errors is not None:
                    errors.append(ItemError(item=f"{svc.name} · SLO {slo.name}", stage="aggregation",
                                            error=f"{type(exc).__name__}: {str(exc)[:300]}"))
            cards.append(card)
    return cards


def attribute_budget(card: SloScorecard, measurement: SloMeasurement, intervals: Intervals,
                     window: Window) -> SloScorecard:
    """Share of the window's bad events inside each incident's open interval.

    Bad events are assumed spread evenly within each fine bin. Where incidents overlap, a moment's
    bad events are split equally among the incidents open then, so shares add up to at most 1.
    """
    step = float(measurement.bin_seconds or 0)
    mine = intervals.by_service.get(card.service)
    if mine is None or step <= 0:
        return card.model_copy(update={"unattributed_share": 1.0 if card.bad else None})
    ids, numbers, titles, starts, ends = mine
    w0, w1 = window.start.timestamp(), window.end.timestamp()
    bin_start = np.fromiter((b.start.timestamp() for b in measurement.bins), float, len(measurement.bins))
    bin_bad = np.fromiter((b.bad for b in measurement.bins), float, len(measurement.bins))
    keep = (bin_start + step > w0) & (bin_start < w1)
    bin_start, bin_bad = bin_start[keep], bin_bad[keep]
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
