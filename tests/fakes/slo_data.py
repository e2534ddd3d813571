"""Seeded SLO test data aligned to an on-call window, with exact ground truth.

Metrics (the shapes a service exports through a Prometheus client library):

* ``http_requests_total{service, instance, code="200"|"500"}``: counters. Availability SLO: good =
  ``code!~"5.."``, total = every code.
* ``http_request_duration_seconds_bucket{service, instance, le}`` (le = 0.05 ... 5, +Inf) with ``_count``
  and ``_sum``. Latency SLO: good = the ``le="0.25"`` bucket, total = ``_count``.

Every service runs one process (``instance="<service>-0"``) except the RESTARTS one, which runs
two: ``-0`` restarts (its counters reset), ``-1`` does not. So ``sum by (service)`` must be taken
*outside* ``increase()``: ``increase(sum(...))`` sees the sum drop at a restart and counts the
other instance's whole value again, and ``x - x offset 14d`` loses everything before a reset.

Why the truth is exact (Prometheus 2.x): every series that has data in a queried range has a
sample exactly on both edges of it (samples sit on a grid of ``spacing`` seconds that divides
the hour and the day, and the window starts on the grid). Range selectors in 2.x are closed,
``[t - r, t]``, so ``increase()`` sees both edge samples, its extrapolation adds
``durationToStart = durationToEnd = 0`` and the result is ``last - first`` plus the pre-reset
values at counter resets: an exact integer (as a float). A sample on a day edge belongs to both
adjacent daily ranges, so each sample-to-sample increment falls in exactly one day and the 14
daily increases add up to the 14-day increase. An increment recorded at sample ``t`` happened
in ``(t - spacing, t]``; the truth for a range ``[a, b]`` sums the increments of samples in
``(a, b]``.

Prometheus 3 makes range selectors left-open, ``(t - r, t]``: the sample on the left edge drops
out, the first increment of every range is lost and the rest is scaled up by
``r / (r - spacing)`` (extrapolation to the left edge): no longer exact integers. Expect to
query ``[r + spacing/2]``-style ranges or accept tolerances there (not verified: no 3.x here).

Series appear only where a service has data over a whole range, never half-way into one
(``increase()`` would extrapolate): a service's series all start at the data start; the
"no data" service stops ``NO_DATA_GAP`` before the previous window and the SLO period.

``EdgeShape`` adds the answers that are not plain numbers (``edge_case_pool()`` has one service of
each, beside the ordinary shapes). Their truth is what Prometheus answers, so a ``Counts`` value may
be ``nan`` or ``inf``, and ``good`` may be ``None`` (the good query has no series for the service
while the total query has one); ``ServiceTruth.quantiles_nan`` says ``histogram_quantile`` over the
window is NaN. promtool 2.42 backfills ``NaN`` and ``+Inf`` sample values as they are (ordinary
NaNs, not staleness markers); ``increase()`` over a range whose *edge* sample is NaN is NaN, while a
NaN strictly inside a range is skipped (the result is last - first, exact).
"""

from __future__ import annotations

import hashlib
import math
import random
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from itertools import accumulate
from pathlib import Path
from typing import Literal

from .prometheus import Series

DAY = 86_400
HOUR = 3_600
DEFAULT_START = datetime(2026, 10, 19, 8, 0, tzinfo=UTC)
DEFAULT_LENGTH = timedelta(days=14)
DEFAULT_PERIOD = timedelta(days=28)
DEFAULT_SPACING = 300
DEFAULT_SEED = 20261019

REQUESTS_FAMILY = "http_requests"
REQUESTS = "http_requests_total"
DURATION = "http_request_duration_seconds"
LE = ("0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf")
LATENCY_GOOD_LE = "0.25"
_GOOD_LE_INDEX = LE.index(LATENCY_GOOD_LE)

MARGIN_BEFORE = DAY  # data starts this long before the previous window / SLO period
MARGIN_AFTER = HOUR  # and goes on this long after the window end
NO_DATA_GAP = 12 * HOUR  # the no-data service's last sample, before the previous window
INCIDENT_OFFSET = 4 * DAY + 5 * HOUR  # from the window start
INCIDENT_LENGTH = 3 * HOUR
INCIDENT_ERROR_RATIO = 0.35

SloName = Literal["availability", "latency"]
Span = Literal["window", "previous", "period"]

# Cumulative share of requests at or under each ``le`` (the last is +Inf = 1).
_PROFILES: dict[str, tuple[float, ...]] = {
    "fast": (0.62, 0.86, 0.995, 0.998, 0.999, 0.9997, 0.99995, 1.0),
    "slow": (0.30, 0.55, 0.93, 0.97, 0.99, 0.998, 0.9995, 1.0),
    "degraded": (0.05, 0.15, 0.40, 0.70, 0.90, 0.97, 0.99, 1.0),
}
_BUCKET_MID_MS = (25, 75, 175, 375, 750, 1750, 3750, 7500)


class Shape(StrEnum):
    STEADY = "steady"  # constant rate with Poisson noise
    DIURNAL = "diurnal"  # rate follows the time of day
    RESTARTS = "restarts"  # counter resets (process restarts), one inside the window
    INCIDENT = "incident"  # a burst of 5xx and slow requests inside the window
    LOW_TRAFFIC = "low_traffic"  # a few dozen requests per window
    NO_DATA = "no_data"  # series end before the previous window: absent from every answer


class EdgeShape(StrEnum):
    """Shapes whose answers are not plain numbers, kept apart from ``Shape`` (the default dataset has
    one service of each ``Shape``). Traffic is steady otherwise."""

    NO_TRAFFIC = "no_traffic"  # series go on, but nothing happens in the window: every increase there is 0
    SPARSE_BUCKETS = "sparse_buckets"  # the histogram has no le="+Inf" bucket: histogram_quantile is NaN
    NO_THRESHOLD_BUCKET = "no_threshold_bucket"  # no le="0.25" bucket: the latency good query has no series
    NAN_END = "nan_end"  # NaN on the window-end sample of code="200" and of _count
    NAN_MID = "nan_mid"  # NaN samples inside the window, off every range edge: every answer stays exact
    INF_END = "inf_end"  # +Inf on the window-end sample of code="500"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    shape: Shape | EdgeShape = Shape.STEADY
    requests_per_minute: float = 100.0
    error_ratio: float = 0.0005
    latency: str = "fast"  # a key of _PROFILES


DEFAULT_SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("checkout", Shape.STEADY, 600, 0.0003),
    ServiceSpec("search", Shape.STEADY, 1500, 0.0008, "slow"),
    ServiceSpec("edge", Shape.STEADY, 6000, 0.0001),
    ServiceSpec("catalog", Shape.DIURNAL, 150, 0.0005),
    ServiceSpec("auth", Shape.RESTARTS, 400, 0.0004),
    ServiceSpec("payments", Shape.INCIDENT, 300, 0.0002),
    ServiceSpec("inventory", Shape.LOW_TRAFFIC, 0.002, 0.05, "slow"),
    ServiceSpec("legacy", Shape.NO_DATA, 100, 0.001),
)


@dataclass(frozen=True)
class Window:
    """The on-call window ``[start, end)``, the previous one, and the SLO period ending at end."""

    start: datetime = DEFAULT_START
    length: timedelta = DEFAULT_LENGTH
    period: timedelta = DEFAULT_PERIOD

    @property
    def end(self) -> datetime:
        return self.start + self.length

    @property
    def previous_start(self) -> datetime:
        return self.start - self.length

    @property
    def period_start(self) -> datetime:
        return self.end - self.period

    @property
    def start_ts(self) -> int:
        return int(self.start.timestamp())

    @property
    def end_ts(self) -> int:
        return int(self.end.timestamp())

    @property
    def previous_start_ts(self) -> int:
        return int(self.previous_start.timestamp())

    @property
    def period_start_ts(self) -> int:
        return int(self.period_start.timestamp())

    @property
    def days(self) -> tuple[tuple[datetime, datetime], ...]:
        """Days cut at the window's start time (UTC, 24 h each)."""
        n = int(self.length.total_seconds()) // DAY
        return tuple((self.start + timedelta(days=i), self.start + timedelta(days=i + 1)) for i in range(n))


@dataclass(frozen=True)
class Counts:
    good: int
    total: int

    @property
    def bad(self) -> int:
        return self.total - self.good

    @property
    def sli(self) -> float | None:
        return self.good / self.total if self.total else None


@dataclass(frozen=True)
class SloTruth:
    """Exact event counts for one SLO of one service; None = absent from Prometheus' answer."""

    window: Counts | None
    daily: tuple[Counts | None, ...]  # one per Window.days
    previous: Counts | None
    period: Counts | None
    bad_by_step: tuple[int, ...]  # bad events per attribution step of the window, in order

    def span(self, span: Span) -> Counts | None:
        return {"window": self.window, "previous": self.previous, "period": self.period}[span]


@dataclass(frozen=True)
class ServiceTruth:
    spec: ServiceSpec
    availability: SloTruth
    latency: SloTruth
    first_sample: datetime
    last_sample: datetime
    resets: tuple[datetime, ...]  # sample times at which the counters of instance 0 reset
    incident: tuple[datetime, datetime] | None  # the burst, [start, end), on the sample grid
    quantiles_nan: bool = False  # histogram_quantile over the window is NaN (EdgeShape only)

    def slo(self, name: SloName) -> SloTruth:
        return self.availability if name == "availability" else self.latency


@dataclass(frozen=True)
class Dataset:
    window: Window
    spacing: int
    seed: int
    services: tuple[ServiceSpec, ...]
    truth: Mapping[str, ServiceTruth]
    data_start: datetime
    data_end: datetime
    attribution_step: int  # seconds per entry of SloTruth.bad_by_step (3600 unless spacing > 1h)
    series_by_service: Mapping[str, tuple[Series, ...]] = field(repr=False, compare=False)

    def series(self) -> Iterator[Series]:
        """All series, one metric family after the other (as OpenMetrics requires)."""
        for family in (REQUESTS_FAMILY, DURATION):
            for spec in self.services:
                yield from (s for s in self.series_by_service[spec.name] if s.family == family)

    def cache_key(self) -> dict[str, object]:
        return {
            "generator_source": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
            "seed": self.seed,
            "spacing": self.spacing,
            "start": self.window.start.isoformat(),
            "length_s": self.window.length.total_seconds(),
            "period_s": self.window.period.total_seconds(),
            "services": [asdict(s) for s in self.services],
        }

    def expected(self, slo: SloName, span: Span = "window") -> dict[str, Counts]:
        """Services present in Prometheus' answer for ``span``, with their exact counts."""
        out = {}
        for name, truth in self.truth.items():
            counts = truth.slo(slo).span(span)
            if counts is not None:
                out[name] = counts
        return out

    def expected_daily(self, slo: SloName) -> list[dict[str, Counts]]:
        """Per day of the window: the services present that day, with their exact counts."""
        days: list[dict[str, Counts]] = [{} for _ in self.window.days]
        for name, truth in self.truth.items():
            for i, counts in enumerate(truth.slo(slo).daily):
                if counts is not None:
                    days[i][name] = counts
        return days

    def bad_between(self, service: str, slo: SloName, start: datetime, end: datetime) -> int:
        """Exact bad events of ``service`` in ``[start, end)``, both on the attribution steps."""
        w, step = self.window, self.attribution_step
        first, stop = (int(start.timestamp()) - w.start_ts, int(end.timestamp()) - w.start_ts)
        if first % step or stop % step or not 0 <= first <= stop <= w.end_ts - w.start_ts:
            raise ValueError(f"[{start}, {end}) is not made of whole {step}s steps of the window")
        return sum(self.truth[service].slo(slo).bad_by_step[first // step : stop // step])

    @property
    def samples(self) -> int:
        return sum(len(s.values) for group in self.series_by_service.values() for s in group)


# --------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class _Grid:
    start: int
    spacing: int
    count: int

    def index(self, ts: int) -> int:
        if (ts - self.start) % self.spacing:
            raise ValueError(f"{ts} is not on the {self.spacing}s sample grid")
        return (ts - self.start) // self.spacing

    def floor_index(self, ts: int) -> int:
        return (ts - self.start) // self.spacing

    def ts(self, index: int) -> int:
        return self.start + index * self.spacing

    def timestamps(self, first: int, last: int) -> range:
        return range(self.ts(first), self.ts(last) + 1, self.spacing)


def _poisson(rng: random.Random, mu: float) -> int:
    if mu <= 0:
        return 0
    if mu > 40:
        return max(0, round(rng.gauss(mu, math.sqrt(mu))))
    limit, k, p = math.exp(-mu), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _dt(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


@dataclass
class _Deltas:
    """Per-sample increments (index k: the interval ending at sample k)."""

    total: array[int]
    errors: array[int]
    fast: array[int]  # requests in the le="0.25" bucket


def _incident_interval(window: Window, spacing: int) -> tuple[int, int]:
    """The burst, on the sample grid (so ``increase(...[3h])`` at its end is exact too)."""
    offset = INCIDENT_OFFSET if window.length.total_seconds() > INCIDENT_OFFSET + DAY else HOUR
    start = window.start_ts + offset // spacing * spacing
    return start, start + -(-INCIDENT_LENGTH // spacing) * spacing


def _reset_indices(
    spec: ServiceSpec, grid: _Grid, window: Window, first: int, last: int, rng: random.Random
) -> list[int]:
    if spec.shape is not Shape.RESTARTS:
        return []
    # Inside the window: a crash loop (three restarts on consecutive samples, the case where a
    # reset could go unseen) mid-day, and one restart exactly on a day edge.
    crash = grid.floor_index(window.start_ts + int(window.length.total_seconds() * 0.43) + 1525)
    day_edge = grid.index(window.start_ts + (int(window.length.total_seconds()) // DAY * 2 // 3) * DAY)
    forced = {crash, crash + 1, crash + 2, day_edge}
    random_resets, k = set(), first
    while True:
        k += max(1, int(rng.uniform(1.5, 3.5) * DAY) // grid.spacing)
        if k > last:
            break
        random_resets.add(k)
    return sorted(i for i in forced | random_resets if first < i <= last)


@dataclass(frozen=True)
class _Plan:
    """What every instance (process) of one service shares."""

    spec: ServiceSpec
    grid: _Grid
    first: int  # sample indices of the service's first and last samples
    last: int
    incident: tuple[int, int] | None
    mu: float  # mean requests per interval per instance
    quiet: tuple[int, int] | None = None  # no traffic in (a, b] (EdgeShape.NO_TRAFFIC)


def _generate_instance(plan: _Plan, instance: str, resets: set[int], rng: random.Random, into: _Deltas) -> list[Series]:
    """One process's counters and histogram; its increments are added to ``into``."""
    spec, grid = plan.spec, plan.grid
    base_profile = _PROFILES[spec.latency]
    ok_v, err_v, sum_v = array("q"), array("q"), array("d")
    bucket_v = [array("q") for _ in LE]

    # The process has been up a while before the data starts: counters do not start at 0.
    n0 = _poisson(rng, plan.mu * (int(rng.uniform(0.2, 3.0) * DAY) // grid.spacing))
    e0 = _poisson(rng, n0 * spec.error_ratio)
    cum_ok, cum_err = n0 - e0, e0
    cum_b = [int(n0 * c) for c in base_profile]
    cum_ms = sum((cum_b[i] - (cum_b[i - 1] if i else 0)) * m for i, m in enumerate(_BUCKET_MID_MS))

    def record() -> None:
        ok_v.append(cum_ok)
        err_v.append(cum_err)
        for values, v in zip(bucket_v, cum_b, strict=True):
            values.append(v)
        sum_v.append(cum_ms / 1000)

    record()
    diurnal, incident = spec.shape is Shape.DIURNAL, plan.incident
    for k in range(plan.first + 1, plan.last + 1):
        t = grid.ts(k)  # the increments happened in (t - spacing, t]
        mu = plan.mu
        if plan.quiet is not None and plan.quiet[0] < t <= plan.quiet[1]:
            mu = 0.0
        if diurnal:
            mu *= 1 + 0.7 * math.sin(2 * math.pi * (t % DAY) / DAY - math.pi / 2)
        n = _poisson(rng, mu)
        in_incident = incident is not None and incident[0] < t <= incident[1]
        ratio = INCIDENT_ERROR_RATIO if in_incident else spec.error_ratio
        e = min(n, _poisson(rng, n * ratio))
        profile = _PROFILES["degraded"] if in_incident else base_profile
        u = rng.random()
        cum = [int(n * c + u) for c in profile]  # monotone in le; the +Inf bucket is n
        ms = sum((cum[i] - (cum[i - 1] if i else 0)) * m for i, m in enumerate(_BUCKET_MID_MS))
        if k in resets:
            # The counters restart from the increments since the restart. Prometheus only sees a
            # reset where a value drops; if one would not drop, the restart took the whole
            # interval (no traffic), so every counter drops to 0 and stays exact.
            before = (cum_ok, cum_err, *cum_b, cum_ms)
            after = (n - e, e, *cum, ms)
            if any(0 < b <= a for b, a in zip(before, after, strict=True)):
                n = e = ms = 0
                cum = [0] * len(LE)
            cum_ok, cum_err, cum_b, cum_ms = n - e, e, cum, ms
        else:
            cum_ok += n - e
            cum_err += e
            cum_b = [a + b for a, b in zip(cum_b, cum, strict=True)]
            cum_ms += ms
        into.total[k] += n
        into.errors[k] += e
        into.fast[k] += cum[_GOOD_LE_INDEX]
        record()

    ts = grid.timestamps(plan.first, plan.last)
    labels = {"service": spec.name, "instance": instance}
    series = [
        Series(REQUESTS_FAMILY, "counter", REQUESTS, {**labels, "code": "200"}, ts, ok_v),
        Series(REQUESTS_FAMILY, "counter", REQUESTS, {**labels, "code": "500"}, ts, err_v),
    ]
    for le, values in zip(LE, bucket_v, strict=True):
        series.append(Series(DURATION, "histogram", f"{DURATION}_bucket", {**labels, "le": le}, ts, values))
    series.append(Series(DURATION, "histogram", f"{DURATION}_count", labels, ts, bucket_v[-1]))
    series.append(Series(DURATION, "histogram", f"{DURATION}_sum", labels, ts, sum_v))
    return series


def _generate_service(
    spec: ServiceSpec, grid: _Grid, window: Window, seed: int
) -> tuple[tuple[Series, ...], _Deltas, int, int, list[int]]:
    """A service's series (one process; two for RESTARTS, of which only the first restarts)."""
    rng = random.Random(f"{seed}:{spec.name}")
    first, last = 0, grid.count - 1
    if spec.shape is Shape.NO_DATA:
        last = grid.index(min(window.previous_start_ts, window.period_start_ts) - NO_DATA_GAP)
    resets = _reset_indices(spec, grid, window, first, last, rng)
    incident = _incident_interval(window, grid.spacing) if spec.shape is Shape.INCIDENT else None
    instances = 2 if spec.shape is Shape.RESTARTS else 1
    quiet = (window.start_ts, window.end_ts) if spec.shape is EdgeShape.NO_TRAFFIC else None
    plan = _Plan(spec, grid, first, last, incident, spec.requests_per_minute * grid.spacing / 60 / instances, quiet)
    zeros = array("q", bytes(8 * grid.count))
    deltas = _Deltas(array("q", zeros), array("q", zeros), array("q", zeros))
    series: list[Series] = []
    for i in range(instances):
        own_resets = set(resets) if i == 0 else set()
        series += _generate_instance(plan, f"{spec.name}-{i}", own_resets, rng, deltas)
    if isinstance(spec.shape, EdgeShape):
        series = _edge_series(spec.shape, series, grid, window)
    return tuple(series), deltas, first, last, resets


# Where NAN_MID puts its NaNs: inside the window, on no hour, day or window edge.
_NAN_MID_OFFSETS = {"code_200": 3 * DAY + 20 * 60, "bucket": 9 * DAY + 7 * HOUR + 40 * 60}


def _poke(s: Series, grid: _Grid, at: int, value: float) -> Series:
    values = array("d", (float(v) for v in s.values))
    values[grid.index(at) - grid.index(s.timestamps[0])] = value
    return replace(s, values=values)


def _edge_series(shape: EdgeShape, series: list[Series], grid: _Grid, window: Window) -> list[Series]:
    """Drop histogram buckets, or put NaN/+Inf samples, as ``shape`` says."""
    def is_bucket(s: Series, le: str) -> bool:
        return s.name == f"{DURATION}_bucket" and s.labels.get("le") == le

    def is_code(s: Series, code: str) -> bool:
        return s.name == REQUESTS and s.labels.get("code") == code

    if shape is EdgeShape.SPARSE_BUCKETS:
        return [s for s in series if not is_bucket(s, "+Inf")]
    if shape is EdgeShape.NO_THRESHOLD_BUCKET:
        return [s for s in series if not is_bucket(s, LATENCY_GOOD_LE)]
    out = []
    for s in series:
        if shape is EdgeShape.NAN_END and (is_code(s, "200") or s.name == f"{DURATION}_count"):
            s = _poke(s, grid, window.end_ts, math.nan)
        elif shape is EdgeShape.INF_END and is_code(s, "500"):
            s = _poke(s, grid, window.end_ts, math.inf)
        elif shape is EdgeShape.NAN_MID and is_code(s, "200"):
            s = _poke(s, grid, window.start_ts + _NAN_MID_OFFSETS["code_200"], math.nan)
        elif shape is EdgeShape.NAN_MID and (is_bucket(s, LATENCY_GOOD_LE) or s.name == f"{DURATION}_count"):
            s = _poke(s, grid, window.start_ts + _NAN_MID_OFFSETS["bucket"], math.nan)
        out.append(s)
    return out


def _edge_truth(shape: EdgeShape, truth: ServiceTruth) -> ServiceTruth:
    """What Prometheus answers for an ``EdgeShape`` service (the counts of the generation otherwise)."""
    def ending_at_end(slo: SloTruth, good: float | None = None, total: float | None = None) -> SloTruth:
        """``good``/``total`` (when given) replace the values of the ranges that end at the window end."""
        def poison(c: Counts | None) -> Counts | None:
            if c is None:
                return None
            return Counts(good=c.good if good is None else good, total=c.total if total is None else total)  # type: ignore[arg-type]

        last_bad = slo.bad_by_step[-1] if total is None else total
        return replace(slo, window=poison(slo.window), daily=(*slo.daily[:-1], poison(slo.daily[-1])),
                       period=poison(slo.period), bad_by_step=(*slo.bad_by_step[:-1], last_bad))  # type: ignore[arg-type]

    def no_good(slo: SloTruth) -> SloTruth:
        def drop(c: Counts | None) -> Counts | None:
            return None if c is None else Counts(good=None, total=c.total)  # type: ignore[arg-type]

        return replace(slo, window=drop(slo.window), daily=tuple(drop(d) for d in slo.daily),
                       previous=drop(slo.previous), period=drop(slo.period))

    nan, inf = math.nan, math.inf
    if shape is EdgeShape.NO_TRAFFIC or shape is EdgeShape.SPARSE_BUCKETS:
        return replace(truth, quantiles_nan=True)
    if shape is EdgeShape.NO_THRESHOLD_BUCKET:
        return replace(truth, latency=no_good(truth.latency))
    if shape is EdgeShape.NAN_END:
        return replace(truth, availability=ending_at_end(truth.availability, good=nan, total=nan),
                       latency=ending_at_end(truth.latency, total=nan))
    if shape is EdgeShape.INF_END:
        return replace(truth, availability=ending_at_end(truth.availability, total=inf))
    return truth  # NAN_MID: NaNs strictly inside ranges change no answer


def _range_counts(pg: Sequence[int], pt: Sequence[int], first: int, last: int, ia: int, ib: int) -> Counts | None:
    """What ``increase(x[b - a])`` at ``b`` returns for samples ``first..last``: exact or absent."""
    lo, hi = max(ia, first), min(ib, last)
    if hi - lo + 1 < 2:
        return None  # fewer than two samples in [a, b]: increase() returns nothing
    if (lo, hi) != (ia, ib):
        raise ValueError("a series covers only part of a range: increase() would extrapolate")
    return Counts(good=pg[ib] - pg[ia], total=pt[ib] - pt[ia])


def _slo_truth(
    good: Sequence[int], total: Sequence[int], grid: _Grid, window: Window, first: int, last: int, step: int
) -> SloTruth:
    pg, pt = list(accumulate(good)), list(accumulate(total))

    def counts(a: int, b: int) -> Counts | None:
        return _range_counts(pg, pt, first, last, grid.index(a), grid.index(b))

    bad = []
    for a in range(window.start_ts, window.end_ts, step):
        ia, ib = grid.index(a), grid.index(a + step)
        bad.append((pt[ib] - pt[ia]) - (pg[ib] - pg[ia]))
    return SloTruth(
        window=counts(window.start_ts, window.end_ts),
        daily=tuple(counts(int(a.timestamp()), int(b.timestamp())) for a, b in window.days),
        previous=counts(window.previous_start_ts, window.start_ts),
        period=counts(window.period_start_ts, window.end_ts),
        bad_by_step=tuple(bad),
    )


def _validate(window: Window, spacing: int) -> None:
    if window.start.tzinfo is None:
        raise ValueError("window start must be timezone-aware")
    for what, seconds in (("length", window.length), ("period", window.period)):
        if seconds.total_seconds() % DAY:
            raise ValueError(f"window {what} must be whole days")
    if DAY % spacing or (HOUR % spacing and spacing % HOUR):
        raise ValueError("spacing must divide a day and divide (or be a multiple of) an hour")
    if window.start_ts % spacing:
        raise ValueError("window start must be on the sample grid (a multiple of spacing)")


def generated_services(count: int) -> tuple[ServiceSpec, ...]:
    """``count`` services (``svc-0001``...) cycling through every shape and traffic levels."""
    pattern = (
        Shape.STEADY,
        Shape.STEADY,
        Shape.DIURNAL,
        Shape.RESTARTS,
        Shape.STEADY,
        Shape.INCIDENT,
        Shape.STEADY,
        Shape.LOW_TRAFFIC,
        Shape.STEADY,
        Shape.NO_DATA,
    )
    specs = []
    for i in range(count):
        shape = pattern[i % len(pattern)]
        rate = 0.002 if shape is Shape.LOW_TRAFFIC else 20.0 * 2 ** (i % 7)
        specs.append(
            ServiceSpec(f"svc-{i + 1:04d}", shape, rate, 0.0002 * (1 + i % 5), "slow" if i % 3 == 0 else "fast")
        )
    return tuple(specs)


def dataset(
    services: int | Sequence[ServiceSpec] | None = None,
    *,
    seed: int = DEFAULT_SEED,
    spacing: int = DEFAULT_SPACING,
    start: datetime = DEFAULT_START,
    length: timedelta = DEFAULT_LENGTH,
    period: timedelta = DEFAULT_PERIOD,
) -> Dataset:
    """Generate the series and their exact ground truth.

    ``services``: None for ``DEFAULT_SERVICES`` (8, one of each shape), a number for
    ``generated_services(n)`` (benchmarks: 500 services at ``spacing=3600`` is ~4 M samples),
    or explicit specs. Each service draws from its own ``Random(f"{seed}:{name}")``, so adding a
    service leaves the others' data unchanged.
    """
    window = Window(start, length, period)
    _validate(window, spacing)
    specs = (
        DEFAULT_SERVICES
        if services is None
        else (generated_services(services) if isinstance(services, int) else tuple(services))
    )
    if len({s.name for s in specs}) != len(specs):
        raise ValueError("service names must be unique")
    data_start = min(window.previous_start_ts, window.period_start_ts) - MARGIN_BEFORE
    data_end = window.end_ts + MARGIN_AFTER
    grid = _Grid(data_start, spacing, (data_end - data_start) // spacing + 1)
    step = max(HOUR, spacing)

    truth: dict[str, ServiceTruth] = {}
    series: dict[str, tuple[Series, ...]] = {}
    for spec in specs:
        svc_series, d, first, last, resets = _generate_service(spec, grid, window, seed)
        good = array("q", (t - e for t, e in zip(d.total, d.errors, strict=True)))
        incident = _incident_interval(window, spacing) if spec.shape is Shape.INCIDENT else None
        truth[spec.name] = made = ServiceTruth(
            spec=spec,
            availability=_slo_truth(good, d.total, grid, window, first, last, step),
            latency=_slo_truth(d.fast, d.total, grid, window, first, last, step),
            first_sample=_dt(grid.ts(first)),
            last_sample=_dt(grid.ts(last)),
            resets=tuple(_dt(grid.ts(k)) for k in resets),
            incident=(_dt(incident[0]), _dt(incident[1])) if incident else None,
        )
        if isinstance(spec.shape, EdgeShape):
            truth[spec.name] = _edge_truth(spec.shape, made)
        series[spec.name] = svc_series
    return Dataset(
        window=window,
        spacing=spacing,
        seed=seed,
        services=specs,
        truth=truth,
        data_start=_dt(data_start),
        data_end=_dt(data_end),
        attribution_step=step,
        series_by_service=series,
    )


EDGE_CASE_POOL: tuple[ServiceSpec, ...] = (
    ServiceSpec("pool-steady", Shape.STEADY, 600, 0.0003),
    ServiceSpec("pool-diurnal", Shape.DIURNAL, 150, 0.0005),
    ServiceSpec("pool-restarts", Shape.RESTARTS, 400, 0.0004),
    ServiceSpec("pool-incident", Shape.INCIDENT, 300, 0.0002),
    ServiceSpec("pool-low", Shape.LOW_TRAFFIC, 0.002, 0.05, "slow"),
    ServiceSpec("pool-nodata", Shape.NO_DATA, 100, 0.001),
    ServiceSpec("pool-quiet", EdgeShape.NO_TRAFFIC, 200, 0.001),
    ServiceSpec("pool-sparse", EdgeShape.SPARSE_BUCKETS, 300, 0.001, "slow"),
    ServiceSpec("pool-nothreshold", EdgeShape.NO_THRESHOLD_BUCKET, 300, 0.001),
    ServiceSpec("pool-nan-end", EdgeShape.NAN_END, 300, 0.001),
    ServiceSpec("pool-nan-mid", EdgeShape.NAN_MID, 300, 0.001),
    ServiceSpec("pool-inf-end", EdgeShape.INF_END, 300, 0.001),
)
"""A pool with one service of every ``Shape`` and of every ``EdgeShape``."""


def edge_case_pool(*, spacing: int = 600, seed: int = DEFAULT_SEED) -> Dataset:
    """``EDGE_CASE_POOL`` over the default window (600 s spacing: 0.6 M samples, under a second of
    backfill). Tests point configured services at its entries through ``prometheus_label``."""
    return dataset(EDGE_CASE_POOL, seed=seed, spacing=spacing)
