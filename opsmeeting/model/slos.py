"""SLO measurements: event counts per service and SLO over the window, the previous window, the SLO
period, by day and in fine bins, as an SLO source (Prometheus, or any other) returns them."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from opsmeeting.model.base import Frozen


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
    bins: list[BinnedCounts] = Field(default_factory=list)
    bin_seconds: int | None = None
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
