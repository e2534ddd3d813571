"""SLO measurements: event counts per service and SLO over the window, the previous window, the SLO
period, by day and in fine bins, as an SLO source (Prometheus, or any other) returns them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field

from opsmeeting.model.base import FloatColumn, Frozen


class Counts(Frozen):
    """Event counts over an interval; None when the source had no data for it."""

    good: float | None = None
    total: float | None = None


class DailyCounts(Frozen):
    date: str  # local date of the day's start, YYYY-MM-DD
    start: datetime
    good: float | None = None
    total: float | None = None


class BinnedCounts(Frozen):
    """Bad and total events in a fine time bin ``[start, start + step)``, for budget attribution."""

    start: datetime
    bad: float
    total: float


class HourlyCounts(Frozen):
    """Good and total events per hour ``[start + i h, start + (i + 1) h)``, in time order, up to the window
    end: the previous window's hours, the window's and, when it starts earlier, the SLO period's. An hour
    with no sample had no events (0); None is an hour whose value was not a number (NaN, ±Inf), or whose
    good events cannot be counted."""

    start: datetime
    step_seconds: int = 3600
    good: FloatColumn = Field(default_factory=FloatColumn)
    total: FloatColumn = Field(default_factory=FloatColumn)


class SloMeasurement(Frozen):
    """Everything collected for one (service, SLO) pair."""

    service: str
    slo: str
    window: Counts
    previous: Counts = Field(default_factory=Counts)
    period_total: float | None = None
    previous_period_total: float | None = None  # over the SLO period ending at the window start
    period_covered: bool | None = None  # the data reach back to the period's start (None: not checked)
    previous_period_covered: bool | None = None
    daily: list[DailyCounts] = Field(default_factory=list)
    previous_daily: list[DailyCounts] = Field(default_factory=list)
    bins: list[BinnedCounts] = Field(default_factory=list)  # the window's hours (snapshots before ``hourly``)
    bin_seconds: int | None = None
    hourly: HourlyCounts | None = None  # None: not collected (older snapshots have ``bins`` instead)
    # a calendar SLO period (month, quarter): good events over it up to the window end, beside period_total
    period_good: float | None = None
    quantiles: dict[str, float | None] = Field(default_factory=dict)  # "0.99" -> seconds
    problem: str | None = None  # why every value is missing (a failed query), when one did
    # values Prometheus gave that were not numbers (NaN, ±Inf), by part: "window", "previous", "quantiles"
    notes: dict[str, list[str]] = Field(default_factory=dict)


class SloData(Frozen):
    """Everything an SLO source collected for one window."""

    source: str  # the collector's name, e.g. "prometheus"
    collected_at: datetime
    source_version: str | None = None  # the server's version, when it says
    measurements: list[SloMeasurement] = Field(default_factory=list)


CalendarPeriod = Literal["month", "quarter"]


class SloCorrection(Frozen):
    """A time range whose events some SLOs do not judge (the configuration's ``slo_corrections``), in UTC.
    ``services`` are service keys and ``slos`` SLO names; None: every one."""

    start: datetime
    end: datetime
    reason: str
    services: list[str] | None = None
    slos: list[str] | None = None


def _local_midnight(year: int, month: int, tz: ZoneInfo) -> datetime:
    """The first moment of a local month, in UTC (midnight; in a spring-forward gap, the first moment after)."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    # fold=0: in a fall-back overlap the first midnight; in a spring-forward gap the offset before it,
    # which lands on the transition itself (America/Sao_Paulo's 2018-11-04 00:00 is 01:00 -02:00)
    return datetime(year, month, 1, tzinfo=tz, fold=0).astimezone(UTC)


def calendar_period(kind: CalendarPeriod, moment: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The calendar month or quarter, in ``timezone``, in progress just before ``moment`` (the one a window
    ending at ``moment`` reports on: a window ending at midnight on the 1st reports the month that just
    ended), as a half-open UTC interval."""
    tz = ZoneInfo(timezone)
    local = (moment - timedelta(microseconds=1)).astimezone(tz)
    months = 1 if kind == "month" else 3
    first = local.month if kind == "month" else (local.month - 1) // 3 * 3 + 1
    return _local_midnight(local.year, first, tz), _local_midnight(local.year, first + months, tz)


def calendar_label(kind: CalendarPeriod, start: datetime, timezone: str) -> str:
    """``November 2026`` or ``Q4 2026``."""
    local = start.astimezone(ZoneInfo(timezone))
    return f"{local:%B %Y}" if kind == "month" else f"Q{(local.month - 1) // 3 + 1} {local.year}"
