"""The real-Prometheus harness: exact ground truth against Prometheus 2.x answers.

These tests start Debian's ``prometheus`` on a backfilled, cached TSDB (``.cache/tsdb``) and
compare every answer with ``tests/fakes/slo_data.py``'s ground truth, to the event. They are
skipped when ``prometheus``/``promtool`` are not installed, unless
``OPSMEETING_REQUIRE_PROMETHEUS=1`` (CI) turns that into a failure.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fakes.prometheus import (
    HarnessError,
    PrometheusServer,
    RunningPrometheus,
    Series,
    cached_tsdb,
    prometheus_with,
    prune_cache,
    write_openmetrics,
)
from tests.fakes.slo_data import DAY, Counts, Dataset, Shape, SloName, dataset

GOOD = {
    "availability": 'sum by (service) (increase(http_requests_total{{code!~"5.."}}{r}))',
    "latency": 'sum by (service) (increase(http_request_duration_seconds_bucket{{le="0.25"}}{r}))',
}
TOTAL = {
    "availability": "sum by (service) (increase(http_requests_total{r}))",
    "latency": "sum by (service) (increase(http_request_duration_seconds_count{r}))",
}
SLOS: tuple[SloName, ...] = ("availability", "latency")


def _need_binaries() -> None:
    missing = [b for b in ("prometheus", "promtool") if shutil.which(b) is None]
    if missing:
        message = f"not installed: {', '.join(missing)} (apt-get install prometheus)"
        if os.environ.get("OPSMEETING_REQUIRE_PROMETHEUS"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def slo_data() -> Dataset:
    return dataset()


@pytest.fixture(scope="module")
def harness(slo_data: Dataset) -> Iterator[RunningPrometheus]:
    _need_binaries()
    with prometheus_with(slo_data) as running:
        yield running


# --------------------------------------------------------------------------- query helpers


def _api(url: str, path: str, params: dict[str, str | int]) -> Any:
    resp = requests.get(f"{url}/api/v1/{path}", params=params, timeout=30)
    body = resp.json()
    assert resp.status_code == 200 and body["status"] == "success", body
    assert not body.get("warnings"), body["warnings"]
    return body["data"]


def _exact(value: str) -> int:
    """Prometheus returns floats as strings; ours must be whole numbers."""
    number = float(value)
    assert number.is_integer(), f"{value} is not a whole number: extrapolated?"
    return int(number)


def instant_raw(url: str, query: str, at: int) -> dict[str, str]:
    """An instant vector by service, values as Prometheus sends them (strings)."""
    data = _api(url, "query", {"query": query, "time": at})
    assert data["resultType"] == "vector"
    return {r["metric"].get("service", ""): r["value"][1] for r in data["result"]}


def instant(url: str, query: str, at: int) -> dict[str, float]:
    return {service: float(value) for service, value in instant_raw(url, query, at).items()}


def instant_counts(url: str, slo: SloName, rng: str, at: int) -> dict[str, Counts]:
    good = instant_raw(url, GOOD[slo].format(r=rng), at)
    total = instant_raw(url, TOTAL[slo].format(r=rng), at)
    assert good.keys() == total.keys()
    return {s: Counts(_exact(good[s]), _exact(total[s])) for s in total}


def stepped(url: str, query: str, ds: Dataset, step: int = DAY) -> dict[str, list[tuple[int, str]]]:
    """``query_range`` over the window, evaluated at the end of each step (the first at start + step)."""
    w = ds.window
    params: dict[str, str | int] = {"query": query, "start": w.start_ts + step, "end": w.end_ts, "step": step}
    data = _api(url, "query_range", params)
    assert data["resultType"] == "matrix"
    return {r["metric"]["service"]: [(int(t), v) for t, v in r["values"]] for r in data["result"]}


def daily(url: str, query: str, ds: Dataset) -> dict[str, list[tuple[int, str]]]:
    return stepped(url, query, ds, DAY)


# --------------------------------------------------------------------------- ground truth alone


def test_ground_truth_is_self_consistent(slo_data: Dataset) -> None:
    w = slo_data.window
    assert w.period == 2 * w.length and w.period_start == w.previous_start
    for name, truth in slo_data.truth.items():
        for slo in SLOS:
            t = truth.slo(slo)
            if t.window is None:
                assert t.previous is None and t.period is None and set(t.daily) == {None}, name
                continue
            assert t.previous is not None and t.period is not None
            days = [d for d in t.daily if d is not None]
            assert len(days) == len(w.days) == 14
            assert sum(d.good for d in days) == t.window.good
            assert sum(d.total for d in days) == t.window.total
            assert t.previous.total + t.window.total == t.period.total
            assert sum(t.bad_by_step) == t.window.bad
            assert 0 <= t.window.good <= t.window.total


def test_dataset_has_every_shape(slo_data: Dataset) -> None:
    shapes = {t.spec.shape: t for t in slo_data.truth.values()}
    assert set(shapes) == set(Shape)
    low = shapes[Shape.LOW_TRAFFIC].availability.window
    assert low is not None and 12 <= low.total <= 100  # a few dozen requests
    assert shapes[Shape.NO_DATA].availability.window is None
    w = slo_data.window
    assert any(w.start < r < w.end for r in shapes[Shape.RESTARTS].resets)
    incident = shapes[Shape.INCIDENT].incident
    assert incident is not None and w.start <= incident[0] < incident[1] <= w.end
    burner = shapes[Shape.INCIDENT].availability.window
    assert burner is not None and burner.bad > 0.001 * burner.total  # misses a 99.9 % objective


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b, c = (dataset(3, seed=seed, spacing=3600) for seed in (1, 1, 2))
    assert a.truth == b.truth and a.cache_key() == b.cache_key()
    assert a.truth != c.truth and a.cache_key() != c.cache_key()


def test_spacing_must_fit_the_window() -> None:
    with pytest.raises(ValueError, match="spacing"):
        dataset(spacing=420)


# --------------------------------------------------------------------------- Prometheus answers


@pytest.mark.parametrize("slo", SLOS)
def test_window_counts_are_exact(harness: RunningPrometheus, slo: SloName) -> None:
    ds = harness.dataset
    got = instant_counts(harness.url, slo, "[14d]", ds.window.end_ts)
    assert got == ds.expected(slo, "window")


@pytest.mark.parametrize("slo", SLOS)
def test_daily_series_are_exact_and_add_up(harness: RunningPrometheus, slo: SloName) -> None:
    ds = harness.dataset
    good = daily(harness.url, GOOD[slo].format(r="[1d]"), ds)
    total = daily(harness.url, TOTAL[slo].format(r="[1d]"), ds)
    day_ends = [int(end.timestamp()) for _, end in ds.window.days]
    expected = ds.expected_daily(slo)
    assert good.keys() == total.keys() == set(ds.expected(slo, "window"))
    for service in total:
        assert [t for t, _ in good[service]] == [t for t, _ in total[service]] == day_ends
        got = [Counts(_exact(g), _exact(t)) for (_, g), (_, t) in zip(good[service], total[service], strict=True)]
        assert got == [day[service] for day in expected], service
        window = ds.expected(slo, "window")[service]
        assert sum(c.good for c in got) == window.good and sum(c.total for c in got) == window.total


@pytest.mark.parametrize("slo", SLOS)
def test_previous_window_at_start_and_with_at_modifier(harness: RunningPrometheus, slo: SloName) -> None:
    ds = harness.dataset
    expected = ds.expected(slo, "previous")
    assert instant_counts(harness.url, slo, "[14d]", ds.window.start_ts) == expected
    at_start = f"[14d] @ {ds.window.start_ts}"
    assert instant_counts(harness.url, slo, at_start, ds.window.end_ts) == expected


@pytest.mark.parametrize("slo", SLOS)
def test_period_totals_are_exact(harness: RunningPrometheus, slo: SloName) -> None:
    ds = harness.dataset
    assert instant_counts(harness.url, slo, "[28d]", ds.window.end_ts) == ds.expected(slo, "period")


@pytest.mark.parametrize("slo", SLOS)
def test_hourly_bad_counts_for_attribution(harness: RunningPrometheus, slo: SloName) -> None:
    ds = harness.dataset
    step = ds.attribution_step
    good = stepped(harness.url, GOOD[slo].format(r=f"[{step}s]"), ds, step)
    total = stepped(harness.url, TOTAL[slo].format(r=f"[{step}s]"), ds, step)
    assert total.keys() == set(ds.expected(slo, "window"))
    for service in total:
        bad = [_exact(t) - _exact(g) for (_, g), (_, t) in zip(good[service], total[service], strict=True)]
        assert bad == list(ds.truth[service].slo(slo).bad_by_step), service


def test_low_traffic_and_no_data_services(harness: RunningPrometheus) -> None:
    ds = harness.dataset
    by_shape = {t.spec.shape: name for name, t in ds.truth.items()}
    low, gone = by_shape[Shape.LOW_TRAFFIC], by_shape[Shape.NO_DATA]
    got = instant_counts(harness.url, "availability", "[14d]", ds.window.end_ts)
    assert got[low] == ds.truth[low].availability.window
    for rng, at in (("[14d]", ds.window.end_ts), ("[14d]", ds.window.start_ts), ("[28d]", ds.window.end_ts)):
        assert gone not in instant(harness.url, TOTAL["availability"].format(r=rng), at)
    assert gone not in daily(harness.url, TOTAL["latency"].format(r="[1d]"), ds)
    # ...yet Prometheus knows the service: discovery must not mistake "no data" for "no service".
    values = _api(harness.url, "label/service/values", {})
    assert isinstance(values, list) and gone in values


def test_range_selectors_are_closed_on_both_edges(harness: RunningPrometheus) -> None:
    """Prometheus 2.x: ``[1d]`` holds both edge samples (Prometheus 3 would drop the left one)."""
    ds = harness.dataset
    query = 'count_over_time(http_requests_total{service="checkout",code="200"}[1d])'
    assert instant(harness.url, query, ds.window.end_ts) == {"checkout": DAY / ds.spacing + 1}


def test_counter_resets_exact_with_increase_not_with_offset(harness: RunningPrometheus) -> None:
    ds = harness.dataset
    name = next(n for n, t in ds.truth.items() if t.spec.shape is Shape.RESTARTS)
    truth = ds.truth[name].availability.window
    assert truth is not None
    end = ds.window.end_ts
    sel = f'http_requests_total{{service="{name}",code!~"5.."}}'
    resets = instant(harness.url, f"sum by (service) (resets({sel}[14d]))", end)
    assert resets[name] >= 1
    assert _exact(instant_raw(harness.url, f"sum by (service) (increase({sel}[14d]))", end)[name]) == truth.good
    naive = instant(harness.url, f"sum by (service) ({sel} - {sel} offset 14d)", end)[name]
    assert abs(naive - truth.good) > 0.1 * truth.good  # not a rounding error: a wrong answer
    step = f"{ds.spacing}s"  # a subquery on the sample grid: only the sum-inside is wrong
    summed_first = instant(harness.url, f"increase((sum by (service) ({sel}))[14d:{step}])", end)[name]
    assert summed_first.is_integer() and summed_first > truth.good


def test_incident_burst_is_attributable(harness: RunningPrometheus) -> None:
    ds = harness.dataset
    name = next(n for n, t in ds.truth.items() if t.spec.shape is Shape.INCIDENT)
    truth = ds.truth[name]
    assert truth.incident is not None and truth.availability.window is not None
    begin, end = (int(t.timestamp()) for t in truth.incident)
    expected_bad = ds.bad_between(name, "availability", *truth.incident)
    query = f'sum by (service) (increase(http_requests_total{{service="{name}",code=~"5.."}}[{end - begin}s]))'
    assert _exact(instant_raw(harness.url, query, end)[name]) == expected_bad
    assert expected_bad > 0.9 * truth.availability.window.bad  # the incident burnt the budget


def test_coarse_spacing_and_generated_services_are_exact() -> None:
    """The benchmark shape (many generated services, hourly samples) with a widened lookback."""
    _need_binaries()
    ds = dataset(services=30, spacing=3600)
    end = ds.window.end_ts
    with prometheus_with(ds) as running:
        assert "--query.lookback-delta=7200s" in running.server.command()
        for slo in SLOS:
            assert instant_counts(running.url, slo, "[14d]", end) == ds.expected(slo, "window")
            assert instant_counts(running.url, slo, f"[14d] @ {ds.window.start_ts}", end) == ds.expected(
                slo, "previous"
            )
            assert instant_counts(running.url, slo, "[28d]", end) == ds.expected(slo, "period")
        totals = daily(running.url, TOTAL["latency"].format(r="[1d]"), ds)
        expected = ds.expected_daily("latency")
        assert {s: [_exact(v) for _, v in points] for s, points in totals.items()} == {
            s: [day[s].total for day in expected] for s in expected[0]
        }
        # Between two hourly samples, instant selectors still see the last one (lookback 2h).
        seen = instant(running.url, "count by (service) (http_requests_total)", end - 1800)
        assert set(seen) == set(ds.expected("availability", "window"))


def test_unaligned_evaluation_is_extrapolated(harness: RunningPrometheus) -> None:
    """The control experiment: off the sample grid, increase() is no longer the truth."""
    ds = harness.dataset
    half = ds.spacing // 2
    got = instant(harness.url, TOTAL["availability"].format(r="[14d]"), ds.window.end_ts + half)
    checkout = ds.expected("availability", "window")["checkout"].total
    assert not got["checkout"].is_integer() or got["checkout"] != checkout


def test_second_server_shares_the_cache_and_stops_by_pid(harness: RunningPrometheus) -> None:
    tsdb = harness.server.tsdb_dir
    before = sorted(p.name for p in tsdb.iterdir())
    with PrometheusServer(tsdb) as other:
        pid = other.pid
        assert other.url != harness.url
        assert requests.get(f"{other.url}/-/ready", timeout=5).status_code == 200
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert sorted(p.name for p in tsdb.iterdir()) == before  # no wal/, lock, chunks_head/ in the cache
    assert requests.get(f"{harness.url}/-/ready", timeout=5).status_code == 200


def test_start_failure_reports_the_log_tail(tmp_path: Path) -> None:
    _need_binaries()
    server = PrometheusServer(tmp_path, extra_args=["--no-such-flag"], copy_tsdb=False, workdir=tmp_path / "w")
    with pytest.raises(HarnessError, match="no-such-flag"):
        server.start()


# --------------------------------------------------------------------------- writer and cache


def test_write_openmetrics_text(tmp_path: Path) -> None:
    series = [
        Series("x", "counter", "x_total", {"a": 'q"\\'}, range(60, 181, 60), [1, 2, 3]),
        Series("h", "histogram", "h_bucket", {"le": "+Inf"}, [60, 120], [4, 5]),
        Series("h", "histogram", "h_sum", {}, [60, 120], [0.5, 1.0]),
    ]
    path = tmp_path / "x.om"
    assert write_openmetrics(series, path) == 7
    assert path.read_text() == (
        "# TYPE x counter\n"
        'x_total{a="q\\"\\\\"} 1 60\nx_total{a="q\\"\\\\"} 2 120\nx_total{a="q\\"\\\\"} 3 180\n'
        "# TYPE h histogram\n"
        'h_bucket{le="+Inf"} 4 60\nh_bucket{le="+Inf"} 5 120\n'
        "h_sum 0.5 60\nh_sum 1 120\n"
        "# EOF\n"
    )
    with pytest.raises(ValueError, match="contiguous"):
        write_openmetrics([*series, series[0]], tmp_path / "bad.om")
    with pytest.raises(ValueError, match="increasing"):
        write_openmetrics([Series("x", "counter", "x_total", {}, [2, 1], [1, 2])], tmp_path / "bad.om")
    assert not (tmp_path / "bad.om").exists()


def test_cache_builds_once_even_when_processes_race(tmp_path: Path) -> None:
    _need_binaries()  # the cache key includes promtool's version
    calls: list[int] = []

    def build(out: Path) -> None:
        calls.append(1)
        time.sleep(0.3)
        out.mkdir()
        (out / "block").write_text("x")

    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(cached_tsdb({"k": 1}, build, tmp_path))) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(results)) == 1
    assert (results[0] / "block").read_text() == "x"
    assert cached_tsdb({"k": 1}, build, tmp_path) == results[0] and len(calls) == 1
    assert cached_tsdb({"k": 2}, build, tmp_path) != results[0] and len(calls) == 2


def test_interrupted_build_leaves_no_cache_entry(tmp_path: Path) -> None:
    _need_binaries()

    def broken(out: Path) -> None:
        out.mkdir()
        (out / "half").write_text("x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cached_tsdb({"k": 3}, broken, tmp_path)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_prune_removes_idle_entries_only(tmp_path: Path) -> None:
    _need_binaries()

    def build(out: Path) -> None:
        out.mkdir()

    old, fresh = cached_tsdb({"k": "old"}, build, tmp_path), cached_tsdb({"k": "new"}, build, tmp_path)
    idle = time.time() - 20 * DAY  # noqa: clock (the pinned clock, as prune_cache reads it: idle for 20 days)
    os.utime(old.parent / "key.json", (idle, idle))
    assert prune_cache(tmp_path) == [old.parent]
    assert not old.parent.exists() and fresh.is_dir()
