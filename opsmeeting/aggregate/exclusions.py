"""Hours an SLO does not judge: maintenance windows and corrections (METRICS.md, "Exclusions").

An exclusion removes whole hours of the window's hourly grid (hourly steps from the window start): every
hour it overlaps, even by a minute, so that the events of a maintenance never leak into the edges. An
hour that several exclusions overlap is removed once, and counted in the first of them (the earliest
start; a maintenance window before a correction that starts with it). The hours removed from a span
(the window, the previous window, an SLO period) are those that start in it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np

from opsmeeting.model import SetupSlo, SloMeasurement, Snapshot
from opsmeeting.model.base import FloatColumn
from opsmeeting.window import Window

HOUR = 3600.0


@dataclass(frozen=True)
class Hours:
    """One (service, SLO)'s hourly counts on the window's grid: hour ``i`` starts at
    ``origin + (first + i) × step`` (``first`` < 0 for hours before the window); NaN is unknown."""

    origin: float  # the window start, epoch seconds
    step: float
    first: int
    good: np.ndarray
    total: np.ndarray

    @property
    def bad(self) -> np.ndarray:
        return np.asarray(self.total - self.good, dtype=float)

    @property
    def starts(self) -> np.ndarray:
        return self.origin + (self.first + np.arange(len(self.total))) * self.step

    def grid(self, start: float, end: float) -> tuple[int, int]:
        """Grid indices ``[a, b)`` of the hours that start in ``[start, end)``."""
        return math.ceil((start - self.origin) / self.step), math.ceil((end - self.origin) / self.step)

    def positions(self, a: int, b: int) -> tuple[int, int]:
        """The array positions of grid hours ``[a, b)``, clipped to the hours known."""
        lo, hi = max(a - self.first, 0), min(b - self.first, len(self.total))
        return lo, max(lo, hi)

    @classmethod
    def of(cls, m: SloMeasurement, window: Window) -> Hours | None:
        """From the measurement's hourly counts, or, in snapshots made before them, from the window's bins
        (an hour without a bin is unknown there). None: no hourly counts."""
        origin = window.start.timestamp()
        if m.hourly is not None and m.hourly.total:
            step = float(m.hourly.step_seconds)
            first = round((m.hourly.start.timestamp() - origin) / step)
            good, total = _floats(m.hourly.good), _floats(m.hourly.total)
            if len(good) != len(total):
                return None
            return cls(origin, step, first, good, total)
        if m.bins and m.bin_seconds:
            step = float(m.bin_seconds)
            n = math.ceil(window.duration.total_seconds() / step)
            good, total = np.full(n, np.nan), np.full(n, np.nan)
            for b in m.bins:
                i = round((b.start.timestamp() - origin) / step)
                if 0 <= i < n:
                    total[i], good[i] = b.total, b.total - b.bad
            return cls(origin, step, 0, good, total)
        return None


Kind = Literal["maintenance", "correction"]


@dataclass(frozen=True)
class Exclusion:
    kind: Kind
    start: datetime
    end: datetime
    reason: str | None
    id: str | None = None
    url: str | None = None

    @property
    def order(self) -> tuple[datetime, int, datetime, str]:
        return self.start, 0 if self.kind == "maintenance" else 1, self.end, self.id or self.reason or ""


@dataclass(frozen=True)
class Exclusions:
    """Every exclusion of a snapshot, by service and SLO; and what is known of the maintenance windows."""

    maintenance: dict[str, list[Exclusion]]  # service key → its maintenance windows
    corrections: list[tuple[Exclusion, list[str] | None, list[str] | None]]  # with its services and SLOs
    maintenance_since: datetime | None  # the range the maintenance windows were read for (None: not read)
    maintenance_until: datetime | None

    @classmethod
    def of(cls, snapshot: Snapshot) -> Exclusions:
        corrections = [
            (Exclusion("correction", c.start.astimezone(UTC), c.end.astimezone(UTC), c.reason), c.services, c.slos)
            for c in snapshot.setup.slo_corrections if c.end > c.start
        ]
        data = snapshot.incidents
        if data is None or data.maintenance is None:  # not read: the handoff says why
            return cls({}, corrections, None, None)
        service_of: dict[str, str] = {sid: svc.name for svc in snapshot.setup.services for sid in svc.source_ids}
        by_service: dict[str, list[Exclusion]] = {}
        for item in data.maintenance.windows:
            if item.end <= item.start:
                continue
            exclusion = Exclusion("maintenance", item.start.astimezone(UTC), item.end.astimezone(UTC),
                                  item.description, id=item.id, url=item.url)
            for key in sorted({service_of[sid] for sid in item.service_ids if sid in service_of}):
                by_service.setdefault(key, []).append(exclusion)
        return cls(by_service, corrections, data.maintenance.since, data.maintenance.until)

    def of_slo(self, service: str, slo: SetupSlo) -> list[Exclusion]:
        found = list(self.maintenance.get(service, [])) if slo.exclude_maintenance else []
        found += [c for c, services, slos in self.corrections
                  if (services is None or service in services) and (slos is None or slo.name in slos)]
        return sorted(found, key=lambda x: x.order)


@dataclass(frozen=True)
class Part:
    """What one exclusion removed from one span."""

    exclusion: Exclusion
    hours: int
    first: int | None  # grid index of its first and last hour
    last: int | None
    good: float | None
    total: float | None


@dataclass(frozen=True)
class Correction:
    """The hours removed from one span ``[start, end)``, and their events (NaN: an hour is unknown)."""

    span_hours: int
    hours: int
    good: float
    total: float
    parts: list[Part] = field(default_factory=list)
    mask: np.ndarray | None = None  # over the Hours' positions: the hours removed from this span
    unknown: str | None = None  # why the events of the removed hours are not known

    @property
    def whole(self) -> bool:
        return self.span_hours > 0 and self.hours >= self.span_hours

    def counts(self, good: float | None, total: float | None) -> tuple[float | None, float | None]:
        """Counts over the span without the removed hours (a whole span removed: 0 and 0)."""
        if not self.hours:
            return good, total
        if self.whole:
            return (None if good is None else 0.0), (None if total is None else 0.0)
        if self.unknown:
            return None, None
        left = None if total is None else max(total - self.total, 0.0)
        kept = None if good is None else max(good - self.good, 0.0)
        if kept is not None and left is not None:
            kept = min(kept, left)
        return kept, left


def correct(hours: Hours | None, exclusions: list[Exclusion], start: datetime, end: datetime,
            origin: datetime, step: float = HOUR) -> Correction:
    """The hours of ``[start, end)`` the exclusions remove (each hour once, in the first exclusion)."""
    o = origin.timestamp()
    s, e = start.timestamp(), end.timestamp()
    a, b = math.ceil((s - o) / step), math.ceil((e - o) / step)
    owner: dict[int, int] = {}
    for n, x in enumerate(exclusions):
        xs, xe = max(x.start.timestamp(), s), min(x.end.timestamp(), e)
        if xe <= xs:
            continue
        for k in range(max(math.floor((xs - o) / step), a), min(math.ceil((xe - o) / step), b)):
            owner.setdefault(k, n)
    mask = np.zeros(len(hours.total), dtype=bool) if hours is not None else None
    parts, missing = [], 0
    good_sum = total_sum = 0.0
    for n, x in enumerate(exclusions):
        mine = sorted(k for k, who in owner.items() if who == n)
        if not mine and not (x.start.timestamp() < e and x.end.timestamp() > s):
            continue
        g = t = 0.0
        known = True
        for k in mine:
            i = k - hours.first if hours is not None else -1
            if hours is None or not 0 <= i < len(hours.total) or np.isnan(hours.total[i]) or np.isnan(hours.good[i]):
                known = False
                missing += 1
                continue
            assert mask is not None
            mask[i] = True
            g += float(hours.good[i])
            t += float(hours.total[i])
        good_sum += g
        total_sum += t
        parts.append(Part(x, len(mine), mine[0] if mine else None, mine[-1] if mine else None,
                          g if known else None, t if known else None))
    unknown = None
    if missing:
        unknown = (f"{missing} excluded hour(s) have no hourly numbers from the SLO source, so the events to remove "
                   "are not known")
    return Correction(span_hours=max(b - a, 0), hours=len(owner), good=good_sum, total=total_sum, parts=parts,
                      mask=mask, unknown=unknown)


def hour_start(origin: datetime, k: int, step: float = HOUR) -> datetime:
    return origin + timedelta(seconds=k * step)


def _floats(values: Sequence[float | None]) -> np.ndarray:
    """Optional numbers as a float array, None as NaN (a ``FloatColumn`` holds them so already)."""
    if isinstance(values, FloatColumn):
        return np.array(values.values, dtype=float)
    return np.array([np.nan if v is None else v for v in values], dtype=float)
