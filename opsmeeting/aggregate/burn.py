"""Burn rates from the hourly counts, burn episodes, alerting gaps and pages without burn (METRICS.md,
"Burn rates and alerting gaps").

The burn rate of a span is its bad-event ratio over the budget's, ``(bad / total) / (1 − objective)``,
on the counts left after the exclusions. An hour is a *page hour* when the SRE workbook's page alerts
would fire on it (evaluated on the hourly counts): its 1 h burn rate exceeds ``page_burn_rate_1h``
(14.4: 2 % of a 30-day budget in one hour) or the 6 h ending with it burned faster than
``page_burn_rate_6h`` (6: 5 % in six hours). A *burn episode* is a maximal run of hours whose 1 h burn
rate exceeds 1× (the budget would not last at that pace), runs separated by a single hour merged (an
hourly bin splits a failure that pauses for less than an hour), that holds at least one page hour
whose own 1 h burn rate exceeds 1×.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from opsmeeting.aggregate.exclusions import Hours
from opsmeeting.aggregate.model import BurnEpisode, PageWithoutBurn, SloBurn, SloScorecard

MERGE_GAP = 1  # hours at or below 1× that still join two runs into one episode
PAGE_GRACE = timedelta(hours=1)  # an incident opened this long after an episode's end still answers it
LOOKBACK = timedelta(hours=1)  # a page looks back this far for the burn that caused it


@dataclass(frozen=True)
class ServiceIncidents:
    """One service's incidents of the window, as arrays (epoch seconds; open ones end at the collection)."""

    ids: np.ndarray
    numbers: np.ndarray
    titles: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    high: np.ndarray  # high urgency


@dataclass(frozen=True)
class WindowHours:
    """The window's hours of one SLO after its exclusions: starts, bad and total events (NaN: unknown or
    excluded), and each hour's 1 h and 6 h burn rates (NaN: none)."""

    starts: np.ndarray
    bad: np.ndarray
    total: np.ndarray
    burn_1h: np.ndarray
    burn_6h: np.ndarray
    step: float


def window_hours(hours: Hours, removed: np.ndarray | None, window_start: float, window_end: float,
                 objective: float) -> WindowHours:
    """``removed``: the hours (positions of ``hours``) that exclusions remove, in any span."""
    total = hours.total.astype(float).copy()
    bad = hours.bad.astype(float).copy()
    if removed is not None:
        total[removed] = np.nan
        bad[removed] = np.nan
    budget = 1.0 - objective
    known = ~np.isnan(total) & ~np.isnan(bad)
    t0 = np.where(known, total, 0.0)
    b0 = np.where(known, np.clip(bad, 0.0, None), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        burn_1h = np.where(known & (t0 > 0), b0 / t0 / budget, np.nan)
        ct, cb = np.concatenate([[0.0], np.cumsum(t0)]), np.concatenate([[0.0], np.cumsum(b0)])
        idx = np.arange(len(total))
        lo = np.maximum(idx - 5, 0)
        t6, b6 = ct[idx + 1] - ct[lo], cb[idx + 1] - cb[lo]
        burn_6h = np.where(t6 > 0, b6 / t6 / budget, np.nan)
    starts = hours.starts
    inside = (starts >= window_start) & (starts < window_end)
    return WindowHours(starts=starts[inside], bad=np.where(known, b0, np.nan)[inside],
                       total=np.where(known, t0, np.nan)[inside], burn_1h=burn_1h[inside],
                       burn_6h=burn_6h[inside], step=hours.step)


def _moment(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs ``[a, b)`` of True, runs separated by at most MERGE_GAP False merged."""
    runs: list[list[int]] = []
    for i in np.flatnonzero(flags):
        if runs and i - runs[-1][1] <= MERGE_GAP:
            runs[-1][1] = int(i) + 1
        else:
            runs.append([int(i), int(i) + 1])
    return [(a, b) for a, b in runs]


def burn_of(hours: WindowHours, objective: float, budget_total: float | None, slo_1h: float, slo_6h: float,
            incidents: ServiceIncidents | None, incidents_known: bool) -> SloBurn:
    """The burn rates, thresholds and episodes of one SLO's window. ``budget_total``: the window's events
    after exclusions, whose ``(1 − objective)`` share is the window's budget."""
    burn_1h, burn_6h = hours.burn_1h, hours.burn_6h
    rated = ~np.isnan(burn_1h)
    peak = peak_at = None
    if rated.any():
        i = int(np.nanargmax(burn_1h))
        peak, peak_at = float(burn_1h[i]), _moment(float(hours.starts[i]))
    above_1h = np.nan_to_num(burn_1h, nan=0.0) > slo_1h
    above_6h = np.nan_to_num(burn_6h, nan=0.0) > slo_6h
    burning = np.nan_to_num(burn_1h, nan=0.0) > 1.0
    page_hour = burning & (above_1h | above_6h)
    budget = (1.0 - objective) * budget_total if budget_total else 0.0
    episodes = []
    for a, b in _runs(burning):
        if not page_hour[a:b].any():
            continue
        start, end = float(hours.starts[a]), float(hours.starts[b - 1] + hours.step)
        bad = float(np.nansum(hours.bad[a:b]))
        pages: list[int] = []
        others: list[int] = []
        if incidents is not None:
            overlap = (incidents.starts < end + PAGE_GRACE.total_seconds()) & (incidents.ends > start)
            order = np.argsort(incidents.numbers[overlap], kind="stable")
            for number, high in zip(incidents.numbers[overlap][order], incidents.high[overlap][order], strict=True):
                (pages if high else others).append(int(number))
        episodes.append(BurnEpisode(
            start=_moment(start), end=_moment(end), hours=b - a, peak_burn_rate_1h=float(np.nanmax(burn_1h[a:b])),
            bad=bad, budget_consumed=bad / budget if budget > 0 else None, pages=pages, other_incidents=others,
            alerting_gap=(not pages) if incidents_known else None,
        ))
    gaps = [e for e in episodes if e.alerting_gap]
    return SloBurn(
        page_burn_rate_1h=slo_1h, page_burn_rate_6h=slo_6h, hours=int(rated.sum()), peak_burn_rate_1h=peak,
        peak_at=peak_at, hours_above_1h=int(above_1h.sum()), hours_above_6h=int(above_6h.sum()), episodes=episodes,
        alerting_gaps=len(gaps) if incidents_known else None,
        alerting_gap_budget=(sum(e.budget_consumed or 0.0 for e in gaps) if incidents_known else None),
    )


def pages_without_burn(service: str, incidents: ServiceIncidents,
                       slos: list[tuple[SloScorecard, WindowHours]]) -> list[PageWithoutBurn]:
    """The service's high-urgency incidents in whose hours (from LOOKBACK before it opened to its
    resolution, within the window) at least one of its SLOs had events and none burned faster than 1×."""
    high = np.flatnonzero(incidents.high)
    if not len(high) or not slos:
        return []
    begin = incidents.starts[high] - LOOKBACK.total_seconds()
    finish = incidents.ends[high]
    seen = np.zeros((len(slos), len(high)), dtype=bool)
    burned = np.zeros(len(high), dtype=bool)
    for k, (_, hours) in enumerate(slos):
        if not len(hours.starts):
            continue
        # the hours [a, b) that overlap [begin, finish): those starting before finish and ending after begin
        a = np.searchsorted(hours.starts + hours.step, begin, side="right")
        b = np.searchsorted(hours.starts, finish, side="left")
        events = np.concatenate([[0], np.cumsum(np.nan_to_num(hours.total, nan=0.0) > 0)])
        burning = np.concatenate([[0], np.cumsum(np.nan_to_num(hours.burn_1h, nan=0.0) > 1.0)])
        b = np.maximum(a, b)
        seen[k] = events[b] - events[a] > 0
        burned |= burning[b] - burning[a] > 0
    out = []
    for j in np.flatnonzero(seen.any(axis=0) & ~burned):
        n = high[j]
        out.append(PageWithoutBurn(service=service, incident_id=str(incidents.ids[n]),
                                   incident_number=int(incidents.numbers[n]), title=str(incidents.titles[n]),
                                   created_at=_moment(float(incidents.starts[n])),
                                   slos=sorted(card.name for (card, _), row in zip(slos, seen[:, j], strict=True)
                                               if row)))
    return out
