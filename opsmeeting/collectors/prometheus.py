"""Prometheus SLO collector: exact window SLOs for every service in a handful of grouped queries.

One query per SLO definition and kind, never one per service: ``sum by (<group>) (increase(…[w]))``
as instant queries at the window end (good, total), at the window start (previous window) and over
the SLO period (period total), and one ``query_range`` per kind with ``step=1h`` and ``[1h]``
aligned to the window: the hourly counts serve the daily series (days cut at the window's local
start, exact across daylight-saving days) and the attribution of bad events to incidents.

The client is ``prometheus-api-client``, configured against its traps (``../shared/notes/
prometheus.md``): our own ``urllib3`` retry policy (connection errors and 429/502/504, never a
query that timed out), ``partial_response=false`` and ``deny_partial_response=1`` so partial data
fails loudly, one error type, bounded concurrency.
"""

from __future__ import annotations

import ast
import bisect
import json
import math
import os
import re
import threading
import time
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from opsmeeting.config import LatencySlo, PrometheusSource, RatioSlo, SloDefinition
from opsmeeting.durations import format_duration
from opsmeeting.errors import CollectorError
from opsmeeting.model import (
    Counts,
    DailyCounts,
    HourlyCounts,
    Role,
    Setup,
    SloData,
    SloMeasurement,
    SourceStatus,
    calendar_period,
)
from opsmeeting.window import Window

STEP = timedelta(hours=1)
MAX_HOURS = 10_000  # hourly points per series: under Prometheus' 11,000 points of a range query
PARTIAL = {"partial_response": "false", "deny_partial_response": "1"}


class PrometheusFailure(CollectorError):
    def __init__(self, message: str) -> None:
        super().__init__("Prometheus", message)


def le_matcher(threshold: float) -> str:
    """Match a bucket bound in both spellings: Prometheus 2 keeps ``le="1"`` as exposed,
    Prometheus 3 normalises it to ``le="1.0"``."""
    forms = {repr(float(threshold)), f"{threshold:g}"}
    if float(threshold).is_integer():
        forms.add(str(int(threshold)))
    pattern = "|".join(sorted(re.escape(f) for f in forms))
    return 'le=~"' + pattern.replace("\\", "\\\\") + '"'


def _selector(*parts: str) -> str:
    inner = ",".join(p for p in parts if p)
    return "{" + inner + "}" if inner else ""


class Labelled(Protocol):
    """A service as the SLO queries group it: its name, and the value of the SLO label for it."""

    @property
    def name(self) -> str: ...

    @property
    def label(self) -> str: ...


@dataclass(frozen=True)
class Job:
    """One query: instant at ``at``, or a range over ``span`` with ``step``."""

    slo: str
    kind: str
    query: str
    at: datetime
    span: tuple[datetime, datetime] | None = None
    step: timedelta = STEP


@dataclass(frozen=True)
class Queries:
    """The PromQL of one SLO definition, with ``{{window}}`` still to fill."""

    good: str | None
    bad: str | None
    total: str
    quantiles: dict[str, str] = field(default_factory=dict)

    def formula(self) -> str:
        lines = [f"good = {self.good}" if self.good else f"bad = {self.bad}", f"total = {self.total}"]
        return "\n".join(lines)


def queries_for(slo: SloDefinition) -> Queries:
    if isinstance(slo, RatioSlo):
        return Queries(good=slo.good, bad=slo.bad, total=slo.total)
    g = slo.group_by
    bucket = f"{slo.histogram}_bucket{_selector(slo.selector, le_matcher(slo.threshold))}"
    count = f"{slo.histogram}_count{_selector(slo.selector)}"
    quantiles = {
        f"{q:g}": f"histogram_quantile({q:g}, sum by ({g}, le) "
                  f"(increase({slo.histogram}_bucket{_selector(slo.selector)}[{{{{window}}}}])))"
        for q in slo.quantiles
    }
    return Queries(
        good=f"sum by ({g}) (increase({bucket}[{{{{window}}}}]))",
        bad=None,
        total=f"sum by ({g}) (increase({count}[{{{{window}}}}]))",
        quantiles=quantiles,
    )


def fill(query: str, window: timedelta) -> str:
    return re.sub(r"\{\{\s*window\s*\}\}", format_duration(window), query)


def _ts(moment: datetime) -> float:
    return moment.timestamp()


def period_starts(slo: SloDefinition, window: Window) -> tuple[datetime, datetime]:
    """The start of the SLO period that ends at the window end, and of the one that ends at the window
    start: a rolling period's length back, or the calendar month or quarter in progress then, in the
    rotation's time zone (METRICS.md, "Calendar periods")."""
    if slo.calendar is not None:
        return (calendar_period(slo.calendar, window.end, window.timezone)[0],
                calendar_period(slo.calendar, window.start, window.timezone)[0])
    return window.end - slo.rolling, window.start - slo.rolling


def hourly_start(window: Window, period_start: datetime) -> datetime:
    """Where the hourly counts start: on the window's hourly grid, at the previous window's start or the
    SLO period's, whichever is earlier, at most ``MAX_HOURS`` before the window end."""
    earliest = min(window.previous().start, period_start)
    hours = math.ceil((window.start - earliest) / STEP)
    hours = max(0, min(hours, MAX_HOURS - math.ceil(window.duration / STEP)))
    return window.start - hours * STEP


class PrometheusCollector:
    """Collects every configured SLO for every service over one window."""

    name = "prometheus"
    kind: Role = "slos"

    def __init__(
        self,
        source: PrometheusSource,
        slos: Iterable[SloDefinition],
        services: Iterable[Labelled],
        *,
        environ: dict[str, str] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        backoff: float = 0.5,
    ) -> None:
        self.source = source
        self.now = now
        self.slos = list(slos)
        self.services: list[Labelled] = list(services)
        self.expected: dict[str, list[str] | None] = {}  # per SLO, the services it expects (None: any)
        self.monotonic = monotonic
        env = environ if environ is not None else dict(os.environ)
        self.requests = 0
        self.by_endpoint: dict[str, int] = defaultdict(int)
        session = requests.Session()
        session.verify = str(source.ca_bundle) if source.ca_bundle else True
        if source.client_cert:
            session.cert = (str(source.client_cert), str(source.client_key)) if source.client_key else str(
                source.client_cert)
        headers = dict(source.headers)
        for header, var in source.headers_from_env.items():
            headers[header] = _env(env, var, f"sources.prometheus.headers_from_env.{header}")
        auth = None
        if source.auth is not None and source.auth.type == "bearer":
            headers["Authorization"] = "Bearer " + _env(env, source.auth.token_env, "sources.prometheus.auth")
        elif source.auth is not None and source.auth.type == "basic":
            auth = (_env(env, source.auth.username_env, "sources.prometheus.auth"),
                    _env(env, source.auth.password_env, "sources.prometheus.auth"))
        retry = Retry(
            total=source.max_retries, connect=source.max_retries, read=0, other=0,
            status=source.max_retries, status_forcelist=(429, 502, 504), allowed_methods=("GET", "POST"),
            backoff_factor=backoff, respect_retry_after_header=True, raise_on_status=False,
        )
        self.url = source.url.rstrip("/")
        self.session = session
        self.client = PrometheusConnect(self.url, headers=headers or None, auth=auth, retry=retry,
                                        session=session, timeout=source.timeout.total_seconds())
        self.session.mount(self.url, HTTPAdapter(max_retries=retry, pool_maxsize=10))
        self.headers = headers
        self.auth = auth
        self._range_slots = threading.BoundedSemaphore(2)

    # --- low level -----------------------------------------------------------------------------

    def _params(self, extra: dict[str, Any]) -> dict[str, Any]:
        return {**self.source.params, **PARTIAL, **extra}

    def request_counts(self) -> dict[str, int]:
        """Requests made so far, per endpoint (also after a failure)."""
        return dict(sorted(self.by_endpoint.items()))

    def _count(self, endpoint: str) -> None:
        self.requests += 1
        self.by_endpoint[endpoint] += 1

    def instant(self, query: str, at: datetime) -> list[dict[str, Any]]:
        """An instant vector, checked at the boundary: every item has a ``metric`` mapping and a
        ``value`` pair; anything else is a source error, never a crash further down."""
        self._count("GET /api/v1/query")
        try:
            result = self.client.custom_query(query, params=self._params({"time": _ts(at)}))
        except (PrometheusApiClientException, requests.RequestException, ValueError, KeyError, TypeError) as exc:
            raise PrometheusFailure(_describe(exc)) from None
        return _checked(result, "value")

    def range(self, query: str, start: datetime, end: datetime, step: timedelta, *,
              compact: bool = False) -> list[dict[str, Any]]:
        """A range vector, checked at the boundary; ``compact``: each item's ``values`` as a ``Series``
        (``series``), 8 bytes a sample where the parsed JSON takes 150, asked for a week of steps at a
        time (``RANGE_CHUNK``), at most two such answers parsed at once: a 2,000-service SLO's hourly
        answer over six weeks would be about 300 MB as parsed JSON."""
        if compact:
            found: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
            at = start
            while at <= end:
                last = min(at + step * (RANGE_CHUNK - 1), end)
                with self._range_slots:
                    items = self.range(query, at, last, step)
                for item in items:
                    key = tuple(sorted((str(k), str(v)) for k, v in item["metric"].items()))
                    entry = found.get(key)
                    if entry is None:
                        entry = found[key] = {"metric": item["metric"], "series": Series.of([], start, step)}
                    entry["series"].add(item["values"])
                del items
                at = last + step
            return list(found.values())
        self._count("GET /api/v1/query_range")
        try:
            result = self.client.custom_query_range(
                query, start_time=start, end_time=end, step=str(int(step.total_seconds())),
                params=self._params({}),
            )
        except (PrometheusApiClientException, requests.RequestException, ValueError, KeyError, TypeError) as exc:
            raise PrometheusFailure(_describe(exc)) from None
        return _checked(result, "values")

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._count(f"GET {path}")
        try:
            response = self.session.get(f"{self.url}{path}", params=params, headers=self.headers, auth=self.auth,
                                        timeout=self.source.timeout.total_seconds())
        except requests.RequestException as exc:
            raise PrometheusFailure(_describe(exc)) from None
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            raise PrometheusFailure(f"{path}: HTTP {response.status_code}, not JSON") from None
        if response.status_code != 200:
            raise PrometheusFailure(f"{path}: HTTP {response.status_code}: {body.get('error', '')}".rstrip(": "))
        return body

    def label_values(self, label: str) -> list[str]:
        """Every value Prometheus has for ``label`` (``__name__``: every metric name)."""
        body = self.get_json(f"/api/v1/label/{label}/values")
        data = body.get("data")
        if not isinstance(data, list):
            raise PrometheusFailure(f"/api/v1/label/{label}/values: malformed answer (`data` is not a list)")
        return sorted(str(v) for v in data)

    def version(self) -> str | None:
        try:
            return str(self.get_json("/api/v1/status/buildinfo")["data"]["version"])
        except (PrometheusFailure, KeyError, TypeError):
            return None  # Thanos, Mimir and others may not serve buildinfo

    # --- collection --------------------------------------------------------------------------

    def collect(self, window: Window, setup: Setup | None = None) -> tuple[SloData, SourceStatus]:
        """Every SLO for the services of ``setup`` (their SLO labels); without it, the constructor's."""
        if setup is not None:
            self.services = list(setup.services)
            self.expected = {slo.name: slo.expected for slo in setup.slos}
        started = self.monotonic()
        version = self.version()
        labels = {svc.label: svc.name for svc in self.services}
        w = window.duration
        jobs: list[Job] = []
        for slo in self.slos:
            q = queries_for(slo)
            first = q.good or q.bad
            assert first is not None
            kind = "good" if q.good else "bad"
            period_start, previous_period_start = period_starts(slo, window)
            # both windows' hours, and the SLO period's, in one range query
            hourly = (hourly_start(window, period_start) + STEP, window.end)
            # did the series exist in the first hour of each window's SLO period? (both in one query)
            reach = (previous_period_start + STEP, period_start + STEP)
            reach_step = max(period_start - previous_period_start, STEP)
            jobs += [
                Job(slo.name, kind, fill(first, w), window.end),
                Job(slo.name, "total", fill(q.total, w), window.end),
                Job(slo.name, f"previous_{kind}", fill(first, w), window.start),
                Job(slo.name, "previous_total", fill(q.total, w), window.start),
                Job(slo.name, "period_total", fill(q.total, window.end - period_start), window.end),
                Job(slo.name, "previous_period_total", fill(q.total, window.start - previous_period_start),
                    window.start),
                Job(slo.name, "period_reach", fill(q.total, STEP), window.end, reach, step=reach_step),
                Job(slo.name, f"hourly_{kind}", fill(first, STEP), window.end, hourly),
                Job(slo.name, "hourly_total", fill(q.total, STEP), window.end, hourly),
            ]
            if slo.calendar is not None:  # the calendar period's events so far: its budget consumed
                jobs.append(Job(slo.name, f"period_{kind}", fill(first, window.end - period_start), window.end))
            jobs += [Job(slo.name, f"quantile:{name}", fill(query, w), window.end)
                     for name, query in q.quantiles.items()]
        results: dict[tuple[str, str], Any] = {}
        errors: dict[str, str] = {}

        def run(job: Job) -> None:
            try:
                if job.span is None:
                    results[(job.slo, job.kind)] = self.instant(job.query, job.at)
                else:
                    results[(job.slo, job.kind)] = self.range(job.query, job.span[0], job.span[1], job.step,
                                                              compact=job.kind.startswith("hourly_"))
            except PrometheusFailure as exc:
                message = exc.message
                errors.setdefault(job.slo, f"{job.kind} query failed: {message}")

        with ThreadPoolExecutor(max_workers=self.source.concurrency) as pool:
            list(pool.map(run, jobs))
        if self.slos and len(errors) == len(self.slos):
            raise PrometheusFailure(next(iter(errors.values())))
        measurements = []
        for slo in self.slos:
            measurements += self._measurements(slo, results, errors.get(slo.name), labels, window)
        status = SourceStatus(
            status="degraded" if errors else "ok",
            requests=self.requests,
            requests_by_endpoint=self.request_counts(),
            seconds=round(self.monotonic() - started, 3),
            detail="; ".join(f"SLO {name}: {msg}" for name, msg in sorted(errors.items()))
            or f"{len(self.slos)} SLO definitions, {len(jobs)} queries, Prometheus {version or 'version unknown'}",
        )
        return SloData(source=self.name, collected_at=self.now(), source_version=version,
                       measurements=measurements), status

    def _measurements(
        self, slo: SloDefinition, results: dict[tuple[str, str], Any], error: str | None,
        labels: dict[str, str], window: Window,
    ) -> list[SloMeasurement]:
        if error:  # an error for each service the SLO covers: those it expects, or every one
            expected = self.expected.get(slo.name)
            return [SloMeasurement(service=s.name, slo=slo.name, window=Counts(), problem=error)
                    for s in self.services if expected is None or s.name in expected]
        group = slo.group_by
        notes: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))

        def by_service(kind: str) -> dict[str, float | None]:
            out: dict[str, float | None] = {}
            for item in results.get((slo.name, kind)) or []:
                label = item["metric"].get(group)
                if label in labels:
                    value = number(item["value"][1])
                    if value is None:
                        notes[labels[label]][_scope(kind)].append(
                            f"{_kind_label(kind)}: Prometheus returned {item['value'][1]}")
                    out[labels[label]] = value
            return out

        def series(kind: str) -> dict[str, dict[float, float | None]]:
            """Hourly values by timestamp; None for a value that is not a number (its day is then null)."""
            out: dict[str, dict[float, float | None]] = {}
            for item in results.get((slo.name, kind)) or []:
                label = item["metric"].get(group)
                if label in labels:
                    points = item["series"]
                    skipped = points.not_numbers
                    if skipped:
                        notes[labels[label]][_scope(kind)].append(
                            f"{_kind_label(kind)}: {skipped} hourly value(s) not a number: their days are null")
                    out[labels[label]] = points
            return out

        uses_bad = (slo.name, "bad") in results
        first = "bad" if uses_bad else "good"
        window_first, total = by_service(first), by_service("total")
        prev_first, prev_total = by_service(f"previous_{first}"), by_service("previous_total")
        period_total, previous_period_total = by_service("period_total"), by_service("previous_period_total")
        period_start, previous_period_start = period_starts(slo, window)
        reach = self._reach(results.get((slo.name, "period_reach")), group, labels,
                            (previous_period_start + STEP, period_start + STEP))
        period_first = by_service(f"period_{first}") if slo.calendar is not None else {}
        grid = hourly_start(window, period_start)
        hourly_first, hourly_total = series(f"hourly_{first}"), series("hourly_total")
        quantile_kinds = [k for (name, k) in results if name == slo.name and k.startswith("quantile:")]
        quantiles = {k.split(":", 1)[1]: by_service(k) for k in quantile_kinds}
        current_hours, previous_hours = _Hours(window), _Hours(window.previous())
        # a latency SLO's good series missing beside its total: the histogram has no bucket at the threshold
        absent_good = None if uses_bad or not isinstance(slo, LatencySlo) else (
            f"good: the histogram has no bucket at the threshold le={slo.threshold:g} for this service")

        def no_events(values: dict[str, float | None], totals: dict[str, float | None], name: str, kind: str) -> None:
            """Where the total is 0 there were no events: the first query's NaN (a ratio dividing by
            the total) is 0 good or bad events, not an unknown."""
            if totals.get(name) == 0 and name in values and values[name] is None:
                values[name] = 0.0
                scope = notes[name][_scope(kind)]
                scope[:] = [n for n in scope if not n.startswith(f"{_kind_label(kind)}:")]

        out = []
        for svc in self.services:
            name = svc.name
            if name not in total and name not in period_total:
                continue  # no series in the window nor in the SLO period: not one of this SLO's services
            if name not in total:
                notes[name]["window"].append("no series in the window (there were some in the SLO period)")
            no_events(window_first, total, name, first)
            no_events(prev_first, prev_total, name, f"previous_{first}")
            if absent_good and name not in window_first:
                notes[name]["window"].append(absent_good)
            good = _good(window_first.get(name), total.get(name), uses_bad, name in window_first, absent_good)
            previous = Counts(good=_good(prev_first.get(name), prev_total.get(name), uses_bad, name in prev_first,
                                         absent_good), total=prev_total.get(name))
            hf, ht = hourly_first.get(name, {}), hourly_total.get(name, {})
            daily = current_hours.split(hf, ht, uses_bad, absent_good is not None)
            previous_daily = previous_hours.split(hf, ht, uses_bad, absent_good is not None)
            hourly = _hourly(grid, window.end, hf, ht, uses_bad, absent_good is not None) if name in hourly_total \
                else None
            period_good = None
            if slo.calendar is not None:
                no_events(period_first, period_total, name, f"period_{first}")
                period_good = _good(period_first.get(name), period_total.get(name), uses_bad, name in period_first,
                                    absent_good)
            out.append(SloMeasurement(
                service=name, slo=slo.name, window=Counts(good=good, total=total.get(name)),
                previous=previous, period_total=period_total.get(name),
                previous_period_total=previous_period_total.get(name),
                previous_period_covered=reach.get(name, (None, None))[0],
                period_covered=reach.get(name, (None, None))[1],
                daily=daily, previous_daily=previous_daily, hourly=hourly, period_good=period_good,
                bin_seconds=int(STEP.total_seconds()),
                quantiles={q: values.get(name) for q, values in quantiles.items()},
                notes={scope: list(texts) for scope, texts in sorted(notes.get(name, {}).items())},
            ))
        return out

    @staticmethod
    def _reach(result: list[dict[str, Any]] | None, group: str, labels: dict[str, str],
               first_hours: tuple[datetime, datetime]) -> dict[str, tuple[bool | None, bool | None]]:
        """Per service, whether its data reach back to the start of the previous and of this window's
        SLO period (a sample at the end of that period's first hour). None when the answer is missing."""
        if result is None:
            return {}
        edges = (_ts(first_hours[0]), _ts(first_hours[1]))
        seen: dict[str, set[float]] = defaultdict(set)
        for item in result:
            label = item["metric"].get(group)
            if label in labels:
                seen[labels[label]] |= {float(t) for t, _ in item["values"]}
        return {name: (edges[0] in seen[name], edges[1] in seen[name]) for name in labels.values()}


class _Hours:
    """One window's hourly steps (start, series timestamp, day index), computed once per SLO, and
    the split of a service's hourly series into fine bins and daily counts (days cut at the window's
    local start, exact across daylight-saving days)."""

    def __init__(self, window: Window) -> None:
        self.days = window.days()
        self.labels = [d0.astimezone(window.tz).strftime("%Y-%m-%d") for d0, _ in self.days]
        starts = [d0 for d0, _ in self.days]
        steps = [window.start + STEP * i for i in range(int(window.duration / STEP))]
        self.steps = [(begin, _ts(begin + STEP), bisect.bisect_right(starts, begin) - 1) for begin in steps]

    def split(self, first: dict[float, float | None], total: dict[float, float | None], uses_bad: bool,
              good_required: bool) -> list[DailyCounts]:
        """Days from hourly values. An hour with no total sample had no events. A value that is not a
        number (None), or a good sample missing where one is required, makes that count of its day
        unknown (null): good and total separately, as each is its own query's answer (good = total − bad
        with a bad query)."""
        n = len(self.days)
        good, tot = [0.0] * n, [0.0] * n
        seen, good_unknown, total_unknown = [False] * n, [False] * n, [False] * n
        for _begin, key, day in self.steps:
            if key not in total:
                continue
            seen[day] = True
            t = total[key]
            f = first.get(key, None if good_required and not uses_bad else 0.0)
            if t == 0:
                f = 0.0  # no events in the hour, whatever a ratio dividing by the total answers
            g = (None if t is None or f is None else t - f) if uses_bad else f
            if t is None:
                total_unknown[day] = True
            else:
                tot[day] += t
            if g is None:
                good_unknown[day] = True
            else:
                good[day] += g
        return [
            DailyCounts(date=label, start=d0, good=good[i] if seen[i] and not good_unknown[i] else None,
                        total=tot[i] if seen[i] and not total_unknown[i] else None)
            for i, ((d0, _), label) in enumerate(zip(self.days, self.labels, strict=True))
        ]


def _hourly(start: datetime, end: datetime, first: dict[float, float | None], total: dict[float, float | None],
            uses_bad: bool, good_required: bool) -> HourlyCounts:
    """Every hour from ``start`` to ``end`` (a series' hourly increases, keyed by each hour's end): an hour
    with no total sample had no events (0); one whose value is not a number is None, and so is its good
    count, as is a good count that is required and missing."""
    goods: list[float | None] = []
    totals: list[float | None] = []
    step = STEP.total_seconds()
    for i in range(int((end - start) / STEP)):
        key = _ts(start) + (i + 1) * step
        t = total.get(key, 0.0)
        if key not in total or t == 0:
            goods.append(0.0)
            totals.append(0.0)
            continue
        f = first.get(key, None if good_required and not uses_bad else 0.0)
        g = (None if t is None or f is None else t - f) if uses_bad else f
        goods.append(None if g is None else max(g, 0.0) if t is None else min(max(g, 0.0), t))
        totals.append(t)
    return HourlyCounts(start=start, step_seconds=int(step), good=goods, total=totals)


RANGE_CHUNK = 168  # steps of one range query of the hourly series: a week of hours


class Series:
    """A range query's samples of one series, keyed by timestamp like a ``dict[float, float | None]``
    (None: a value that is not a number), stored on the query's grid in an ``array('d')``: ``-inf``
    where the series has no sample, NaN where its value is not a number. A sample off the grid (a
    server that answers other timestamps) is kept beside it."""

    __slots__ = ("not_numbers", "off_grid", "start", "step", "values")
    MISSING = -math.inf

    def __init__(self, start: float, step: float, values: array[float], off_grid: dict[float, float | None],
                 not_numbers: int) -> None:
        self.start, self.step, self.values, self.off_grid, self.not_numbers = start, step, values, off_grid, not_numbers

    @classmethod
    def of(cls, pairs: list[Any], start: datetime, step: timedelta) -> Series:
        series = cls(_ts(start), step.total_seconds(), array("d"), {}, 0)
        series.add(pairs)
        return series

    def add(self, pairs: list[Any]) -> None:
        """Samples (``[time, "value"]`` pairs as the API sends them) into the series."""
        begin, seconds, values, off_grid = self.start, self.step, self.values, self.off_grid
        for t, raw in pairs:
            try:
                at = float(t)
            except (TypeError, ValueError):
                raise PrometheusFailure(f"malformed answer: sample time {str(t)[:40]!r} is not a number") from None
            value = number(raw)
            self.not_numbers += value is None
            slot = (at - begin) / seconds
            if slot >= 0 and slot == int(slot) and slot < 1_000_000:
                index = int(slot)
                if index >= len(values):
                    values.extend([self.MISSING] * (index + 1 - len(values)))
                values[index] = math.nan if value is None else value
            else:
                off_grid[at] = value

    def _slot(self, key: float) -> int | None:
        slot = (key - self.start) / self.step
        if slot >= 0 and slot == int(slot) and int(slot) < len(self.values):
            return int(slot)
        return None

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, float | int):
            return False
        slot = self._slot(float(key))
        return (slot is not None and self.values[slot] != self.MISSING) or key in self.off_grid

    def __getitem__(self, key: float) -> float | None:
        slot = self._slot(key)
        if slot is not None and self.values[slot] != self.MISSING:
            value = self.values[slot]
            return None if math.isnan(value) else value
        return self.off_grid[key]

    def get(self, key: float, default: float | None = None) -> float | None:
        return self[key] if key in self else default  # noqa: SIM401 (this is the mapping's get)


def slo_data_from_v1(data: dict[str, Any]) -> SloData:
    """A schema-1 snapshot's ``prometheus.json`` (its measurements are already source-neutral)."""
    return SloData(source="prometheus", collected_at=data["collected_at"], source_version=data.get("server_version"),
                   measurements=data.get("measurements", []))


def number(raw: Any) -> float | None:
    """A sample value from the HTTP API (a string): a finite float, or None for ``NaN``/``±Inf``
    (a quantile of no observations, a ratio dividing by zero). Anything else is a malformed answer."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise PrometheusFailure(f"malformed answer: sample value {str(raw)[:40]!r} is not a number") from None
    return value if math.isfinite(value) else None


def _scope(kind: str) -> str:
    """Which part of a measurement a query feeds: ``window``, ``previous`` or ``quantiles``."""
    if kind.startswith("quantile:"):
        return "quantiles"
    return "previous" if kind.startswith("previous") else "window"


def _kind_label(kind: str) -> str:
    if kind.startswith("quantile:"):
        return f"p{float(kind.split(':', 1)[1]) * 100:.10g}"
    return kind.replace("_", " ")


def _checked(result: Any, values_key: str) -> list[dict[str, Any]]:
    """The result list of a query, with the shape the collector reads; a malformed one is a source error."""
    if not isinstance(result, list):
        raise PrometheusFailure(f"malformed answer: result is {type(result).__name__}, not a list")
    for item in result:
        metric = item.get("metric") if isinstance(item, dict) else None
        value = item.get(values_key) if isinstance(item, dict) else None
        if not isinstance(metric, dict):
            raise PrometheusFailure("malformed answer: a result item has no `metric` object")
        pairs = value if values_key == "values" else [value]
        if not isinstance(pairs, list) or not all(isinstance(p, list | tuple) and len(p) == 2 for p in pairs):
            raise PrometheusFailure(f"malformed answer: a result item has no valid `{values_key}`")
        for _, sample in pairs:
            number(sample)  # raises on a value that is not a number at all
    return result


def _good(first: float | None, total: float | None, uses_bad: bool, answered: bool,
          absent_good: str | None = None) -> float | None:
    """Good events. With a good query: its own answer (None when not a number), and 0 for a service
    absent from it (no good series had events), except where its absence means the good events
    cannot be counted (``absent_good``: a histogram without the threshold bucket). With a bad query:
    total − bad, where a service absent from the bad answer had no bad events."""
    if uses_bad:
        if total is None or (answered and first is None):
            return None
        return total - (first or 0.0)
    if answered:
        return first
    return None if total is None or absent_good else 0.0


def _env(env: dict[str, str], name: str, where: str) -> str:
    value = env.get(name)
    if not value:
        raise PrometheusFailure(f"{where}: the environment variable ${name} is not set")
    return value


def _describe(exc: BaseException) -> str:
    if isinstance(exc, PrometheusApiClientException):
        text = str(exc)
        match = re.match(r"HTTP Status Code (\d+) \((b'.*'|b\".*\")\)$", text, re.DOTALL)
        if match:
            try:
                error = json.loads(ast.literal_eval(match.group(2))).get("error", "")
            except (ValueError, SyntaxError, AttributeError):
                error = ""
            return f"HTTP {match.group(1)}" + (f": {error}" if error else "")
        return text[:300]
    if isinstance(exc, requests.exceptions.Timeout) or "timed out" in str(exc).lower():
        return "timed out"  # a read timeout under a retry limit arrives as a ConnectionError
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "cannot connect"
    if isinstance(exc, requests.exceptions.RetryError):
        return "gave up after retries"
    if isinstance(exc, KeyError | TypeError):
        return f"malformed answer: no data.result ({type(exc).__name__}: {str(exc)[:60]})"
    if isinstance(exc, ValueError):
        return f"malformed answer: not JSON ({str(exc)[:80]})"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


@dataclass
class CheckReport:
    """What ``check-config`` learnt from the server: invalid queries, services expected to have data
    that have none, and how the SLO label values match the services."""

    invalid: list[str] = field(default_factory=list)
    no_data: list[str] = field(default_factory=list)  # expected services without data: warnings
    ok: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)
    version: str | None = None


def _some(names: list[str], shown: int = 20) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def check_queries(collector: PrometheusCollector, window: Window,
                  expected: dict[str, list[str] | None] | None = None) -> CheckReport:
    """Validate every query with ``/api/v1/format_query``, see which services have data in ``window``,
    and compare the SLO label's values with the services' labels. ``expected`` gives, per SLO, the
    services it expects (None: those with its series); only those are warned about."""
    try:
        info = collector.get_json("/api/v1/status/buildinfo")
        version = str(info.get("data", {}).get("version")) if isinstance(info.get("data"), dict) else None
    except PrometheusFailure as exc:
        if "cannot connect" in str(exc) or "timed out" in str(exc):
            raise
        version = None  # some backends do not serve buildinfo
    report = CheckReport(version=version)
    labels = {svc.label: svc.name for svc in collector.services}
    for group in sorted({slo.group_by for slo in collector.slos}):
        try:
            values = collector.label_values(group)
        except PrometheusFailure:
            continue  # some backends do not serve label values: the queries' answers still say it
        matched = [v for v in values if v in labels]
        strays = [v for v in values if v not in labels]
        report.info.append(f"label {group}: {len(values)} values, {len(matched)} of them a service's")
        if strays:
            report.info.append(f"label {group}: values no service has: {_some(strays)} (a `services:` entry's "
                               "prometheus_label, or discovery.prometheus_label, would match them)")
    for slo in collector.slos:
        q = queries_for(slo)
        texts = {"good": q.good, "bad": q.bad, "total": q.total, **{f"p{k}": v for k, v in q.quantiles.items()}}
        bad = False
        for kind, text in texts.items():
            if not text:
                continue
            try:
                collector.get_json("/api/v1/format_query", {"query": fill(text, window.duration)})
            except PrometheusFailure as exc:
                report.invalid.append(f"SLO {slo.name} ({kind}): {exc.message}")
                bad = True
        if bad:
            continue
        try:
            result = collector.instant(fill(q.total, window.duration), window.end)
        except PrometheusFailure as exc:
            report.invalid.append(f"SLO {slo.name} (total): {exc.message}")
            continue
        found = {labels[item["metric"].get(slo.group_by)] for item in result
                 if item.get("metric", {}).get(slo.group_by) in labels}
        wanted = (expected or {}).get(slo.name)
        missing = [svc.name for svc in collector.services if svc.name not in found]
        if wanted is not None:
            absent = [name for name in wanted if name not in found]
            if absent:
                report.no_data.append(f"SLO {slo.name}: no data in {window.label()} for {_some(absent)}, which it "
                                      "expects (its services/teams)")
            report.ok.append(f"SLO {slo.name}: queries valid, data for {len(set(wanted) & found)} of the "
                             f"{len(wanted)} services it expects")
            continue
        report.ok.append(f"SLO {slo.name}: queries valid, data for {len(found)} of {len(collector.services)} "
                         "services (it covers those)")
        if not found:
            report.no_data.append(f"SLO {slo.name}: no service has data in {window.label()}: check the query and "
                                  "the services' labels")
        elif missing:
            report.info.append(f"SLO {slo.name}: no data for {_some(missing)} in {window.label()} (no row for them; "
                               "list them in the SLO's services to be warned of a gap)")
    return report
