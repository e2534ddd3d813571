"""The Prometheus SLO collector on a real Prometheus, against exact ground truth."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from opsmeeting.aggregate.scorecards import build_scorecards
from opsmeeting.cli import main
from opsmeeting.collectors.prometheus import PrometheusCollector, PrometheusFailure, le_matcher
from opsmeeting.config import LatencySlo, PrometheusSource, RatioSlo, Service, parse_config
from opsmeeting.config.slo_import import load_slos
from opsmeeting.model import Setup, SetupService, SetupSlo, SetupTeam, Snapshot, SourceRole
from opsmeeting.window import Window
from tests.fakes.prometheus import free_port

FIXTURES = Path(__file__).parent / "fixtures"
AVAILABILITY = RatioSlo(
    name="availability", objective=0.999, min_events=100,
    good='sum by (service) (increase(http_requests_total{code!~"5.."}[{{window}}]))',
    total="sum by (service) (increase(http_requests_total[{{window}}]))",
)
LATENCY = LatencySlo(name="latency", objective=0.99, histogram="http_request_duration_seconds", threshold=0.25,
                     min_events=100)


def services(ds) -> list[Service]:
    return [Service(name=name, team="t", pagerduty_service_ids=[]) for name in ds.truth]


def window_of(ds) -> Window:
    return Window(start=ds.window.start, end=ds.window.end, timezone="UTC")


def collect(prometheus, slos, **source):
    src = PrometheusSource(url=prometheus.url, **source)
    collector = PrometheusCollector(src, slos, services(prometheus.dataset))
    return collector.collect(window_of(prometheus.dataset))


@pytest.fixture(scope="module")
def collected(prometheus):
    return collect(prometheus, [AVAILABILITY, LATENCY])


def by(data, slo):
    return {m.service: m for m in data.measurements if m.slo == slo}


@pytest.mark.parametrize("slo", ["availability", "latency"])
def test_window_previous_period_exact(prometheus, collected, slo):
    data, status = collected
    ds = prometheus.dataset
    got = by(data, slo)
    expected = ds.expected(slo, "window")
    assert set(got) == set(expected)  # the no-data service is absent, the others present
    assert "legacy" not in got and "inventory" in got
    for service, truth in expected.items():
        m = got[service]
        assert (m.window.good, m.window.total) == (truth.good, truth.total), service
        prev = ds.expected(slo, "previous")[service]
        assert (m.previous.good, m.previous.total) == (prev.good, prev.total), service
        assert m.period_total == ds.expected(slo, "period")[service].total, service
        # the previous window's days add up to its counts; its SLO period starts before the data do
        assert sum(d.total for d in m.previous_daily) == prev.total, service
        assert sum(d.good for d in m.previous_daily) == prev.good, service
        assert len(m.previous_daily) == 14 and m.previous_daily[-1].date == "2026-10-18"
        assert (m.period_covered, m.previous_period_covered) == (True, False), service
    assert status.status == "ok"


def test_previous_period_beyond_the_data_is_null_with_a_reason(prometheus, collected):
    data, status = collected
    ds = prometheus.dataset
    setup = Setup(teams=[SetupTeam(name="t")], services=[SetupService(name=s, team="t") for s in ds.truth],
                  slos=[SetupSlo(name="availability", kind="ratio", objective=0.999, period_seconds=28 * 86400,
                                 min_events=100)])
    snap = Snapshot(window=window_of(ds), generated_at=ds.window.end, setup=setup, sources={"prometheus": status},
                    roles={"slos": SourceRole(source="prometheus", label="Prometheus")}, slos=data)
    card = next(c for c in build_scorecards(snap).services if c.service == "checkout").slos[0]
    prev = ds.expected("availability", "previous")["checkout"]
    assert card.period_budget_consumed is not None
    assert card.previous.period_budget_consumed is None
    assert any("reach back less than the 28-day SLO period" in n for n in card.previous.notes)
    assert card.previous.bad == prev.total - prev.good
    assert card.previous.met is (prev.good / prev.total >= 0.999)
    assert card.previous.error_budget_remaining == pytest.approx(1 - card.previous.error_budget_consumed)
    assert card.previous.daily[0].date == "2026-10-05"


def test_daily_and_hourly_series_exact(prometheus, collected):
    data, _ = collected
    ds = prometheus.dataset
    got = by(data, "availability")
    daily = ds.expected_daily("availability")
    for service, m in got.items():
        assert [(d.good, d.total) for d in m.daily] == [(day[service].good, day[service].total) for day in daily]
        assert sum(d.total for d in m.daily) == m.window.total
        truth = ds.truth[service].availability.bad_by_step
        hourly = m.hourly
        assert hourly is not None and hourly.step_seconds == 3600 and not m.bins
        # the hours of both windows (the 28-day period is theirs): the previous window's first, then the window's
        assert hourly.start == ds.window.previous_start and len(hourly.total) == 2 * 14 * 24
        window_hours = list(zip(hourly.good[14 * 24:], hourly.total[14 * 24:], strict=True))
        assert [t - g for g, t in window_hours] == list(truth), service
        assert sum(t for _, t in window_hours) == m.window.total
        previous = ds.expected("availability", "previous")[service]
        assert sum(hourly.total[:14 * 24]) == previous.total and sum(hourly.good[:14 * 24]) == previous.good


def test_counter_resets_are_exact(prometheus, collected):
    data, _ = collected
    assert prometheus.truth["auth"].resets
    truth = prometheus.truth["auth"].availability.window
    m = by(data, "availability")["auth"]
    assert (m.window.good, m.window.total) == (truth.good, truth.total)


def test_requests_do_not_grow_with_services(collected):
    _, status = collected
    # per definition: good, total, previous good, previous total, period total, previous period total,
    # the period-reach range, 2 hourly ranges (both windows: 672 hours, asked a week at a time, so 4
    # requests each); latency adds p50 and p99; plus one buildinfo: 15 + 17 + 1 whatever the number of
    # services
    assert status.requests == 33
    assert status.requests_by_endpoint == {"GET /api/v1/query": 14, "GET /api/v1/query_range": 18,
                                           "GET /api/v1/status/buildinfo": 1}


def test_scorecards_from_real_data(prometheus, collected):
    data, status = collected
    ds = prometheus.dataset
    setup = Setup(
        teams=[SetupTeam(name="t")],
        services=[SetupService(name=s, team="t") for s in ds.truth],
        slos=[SetupSlo(name="availability", kind="ratio", objective=0.999, period_seconds=28 * 86400,
                       min_events=100, expected=["legacy"])],
    )
    snap = Snapshot(window=window_of(ds), generated_at=ds.window.end, setup=setup, sources={"prometheus": status},
                    roles={"slos": SourceRole(source="prometheus", label="Prometheus")}, slos=data)
    cards = {c.service: c.slos[0] for c in build_scorecards(snap).services}
    # the no-data service has no series in the window nor the SLO period: a row only where expected
    unexpected = setup.model_copy(update={"slos": [setup.slos[0].model_copy(update={"expected": []})]})
    rows = {c.service: c.slos for c in build_scorecards(snap.model_copy(update={"setup": unexpected})).services}
    assert rows["legacy"] == [] and all(rows[s] for s in ds.truth if s != "legacy")
    truth = ds.truth["payments"].availability.window
    assert cards["payments"].sli == truth.good / truth.total
    assert cards["payments"].error_budget_consumed == pytest.approx((1 - truth.good / truth.total) / 0.001)
    assert cards["payments"].met is False
    assert cards["inventory"].status == "low_traffic" and cards["inventory"].met is None
    assert cards["legacy"].status == "no_data" and cards["legacy"].sli is None


def test_latency_quantiles(collected):
    data, _ = collected
    m = by(data, "latency")["checkout"]
    assert set(m.quantiles) == {"0.5", "0.99"}
    assert 0 < m.quantiles["0.5"] < m.quantiles["0.99"] <= 5


def test_le_matches_both_spellings():
    assert le_matcher(1) == r'le=~"1|1\\.0"'  # PromQL strings unescape \\ to the regex's \
    assert le_matcher(0.25) == r'le=~"0\\.25"'


def test_a_failing_query_degrades_only_its_slo(prometheus):
    broken = RatioSlo(name="broken", objective=0.99,
                      good="sum by (service) (increase(http_requests_total[{{window}}])) + on() http_requests_total",
                      total="sum by (service) (increase(http_requests_total[{{window}}]))")
    data, status = collect(prometheus, [AVAILABILITY, broken])
    assert status.status == "degraded" and "SLO broken" in status.detail and "HTTP 422" in status.detail
    assert all(m.problem for m in data.measurements if m.slo == "broken")
    assert all(m.problem is None for m in data.measurements if m.slo == "availability")


class Stub(http.server.BaseHTTPRequestHandler):
    """A server that answers every query with one status (or slowly), counting the hits."""

    status = 503
    delay = 0.0
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        if self.delay:
            threading.Event().wait(self.delay)
        body = b'{"status":"error","errorType":"timeout","error":"query timed out"}'
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def stub() -> Iterator[tuple[str, type[Stub]]]:
    handler = type("Handler", (Stub,), {"hits": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def stub_collect(url: str, **source):
    src = PrometheusSource(url=url, max_retries=2, concurrency=1, **source)
    collector = PrometheusCollector(src, [AVAILABILITY], [Service(name="x", team="t", pagerduty_service_ids=[])],
                                    backoff=0.0)
    return collector.collect(Window(start="2026-10-19T08:00:00Z", end="2026-11-02T08:00:00Z"))


def test_a_timed_out_query_is_never_re_run(stub):
    url, handler = stub
    with pytest.raises(PrometheusFailure, match="HTTP 503: query timed out"):
        stub_collect(url)
    assert handler.hits == 1 + 9  # buildinfo, then each of the 9 queries once


def test_502_is_retried_a_bounded_number_of_times(stub):
    url, handler = stub
    handler.status = 502
    with pytest.raises(PrometheusFailure):
        stub_collect(url)
    assert handler.hits == 3 * (1 + 9)  # every request: 1 try + 2 retries


def test_client_timeout(stub):
    url, handler = stub
    handler.delay = 1.5
    with pytest.raises(PrometheusFailure, match="timed out"):
        stub_collect(url, timeout="1s")


def test_unreachable_server():
    with pytest.raises(PrometheusFailure, match="cannot connect"):
        stub_collect(f"http://127.0.0.1:{free_port()}")


def test_auth_headers_and_params_are_sent(stub):
    url, handler = stub
    seen = []
    original = handler.do_GET

    def capture(self):
        seen.append((self.path, self.headers.get("Authorization"), self.headers.get("X-Scope-OrgID")))
        original(self)

    handler.do_GET = capture
    src = PrometheusSource(url=url + "/prometheus", headers={"X-Scope-OrgID": "tenant-1"},
                           auth={"type": "bearer", "token_env": "PROM_TOKEN"}, params={"dedup": "true"},
                           max_retries=0, concurrency=1)
    collector = PrometheusCollector(src, [AVAILABILITY], [], environ={"PROM_TOKEN": "s3cret"})
    with pytest.raises(PrometheusFailure):
        collector.collect(Window(start="2026-10-19T08:00:00Z", end="2026-11-02T08:00:00Z"))
    queries = [s for s in seen if "/api/v1/query" in s[0]]
    assert queries and all(p.startswith("/prometheus/api/v1/") for p, _, _ in seen)
    assert all(a == "Bearer s3cret" and t == "tenant-1" for _, a, t in queries)
    assert all("partial_response=false" in p and "deny_partial_response=1" in p and "dedup=true" in p
               for p, _, _ in queries)


def config_for(prometheus, **extra) -> dict:
    return {
        "rotation": {"length": "14d", "anchor": "2026-10-19T08:00:00", "timezone": "UTC"},
        "teams": [{"name": "t"}],
        "services": [{"name": s, "team": "t", "pagerduty_service_ids": []} for s in prometheus.truth],
        "sources": {"prometheus": {"url": prometheus.url}},
        **extra,
    }


def test_sloth_and_openslo_imports_give_the_same_counts(prometheus):
    config = parse_config(config_for(prometheus, slo_imports=[
        {"format": "sloth", "path": str(FIXTURES / "sloth.yaml")},
        {"format": "sloth", "path": str(FIXTURES / "sloth-crd.yaml")},
        {"format": "openslo", "path": str(FIXTURES / "openslo.yaml")},
    ]))
    slos = load_slos(config)
    assert [s.name for s in slos] == ["requests-availability", "search-latency"]
    availability = slos[0]
    assert availability.objective_for("checkout") == pytest.approx(0.999)
    assert availability.objective_for("payments") == pytest.approx(0.995)
    assert slos[1].period == timedelta(days=28)
    assert (availability.services, slos[1].services) == (["checkout", "payments"], ["search"])  # theirs only
    data, status = collect(prometheus, slos)
    assert status.status == "ok"
    got = by(data, "requests-availability")
    assert set(got) == {"checkout", "payments"}
    for service in ("checkout", "payments"):
        truth = prometheus.truth[service].availability.window
        assert (got[service].window.good, got[service].window.total) == (truth.good, truth.total)
    search = by(data, "search-latency")["search"]
    truth = prometheus.truth["search"].latency.window
    assert (search.window.good, search.window.total) == (truth.good, truth.total)
    # one query per SLO name and kind, not per service (each of the two hourly ranges a week at a time: 4)
    assert status.requests == 1 + 15 + 15


def test_import_errors_name_the_file_and_the_problem(tmp_path, prometheus):
    bad = tmp_path / "bad.yaml"
    raw_sli = {"raw": {"error_ratio_query": "q"}}
    bad.write_text(yaml.safe_dump({"version": "prometheus/v1", "service": "ghost",
                                   "slos": [{"name": "x", "objective": 99, "sli": raw_sli}]}))
    config = parse_config(config_for(prometheus, slo_imports=[{"format": "sloth", "path": str(bad)}]))
    with pytest.raises(Exception) as info:
        load_slos(config)
    problems = info.value.problems
    assert any("service 'ghost' is not one of the configured services" in p for p in problems)
    assert any("only sli.events" in p for p in problems)


def test_check_config_validates_queries_with_the_server(prometheus, tmp_path, capsys):
    good = config_for(prometheus, slos=[AVAILABILITY.model_dump(mode="json")])
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(good))
    as_of = ["--as-of", "2026-11-02T10:00Z"]  # the dataset's window is the last completed rotation then
    with pytest.raises(SystemExit) as info:
        main(["check-config", str(path), *as_of])
    out = capsys.readouterr().out
    assert info.value.code == 0
    assert "last completed: Mon 19 Oct 2026 08:00 → Mon 2 Nov 2026 08:00 (UTC)" in out
    assert "SLO availability: queries valid, data for 7 of 8 services (it covers those)" in out
    assert "SLO availability: no data for legacy in" in out and "warning:" not in out  # not expected: no row
    expecting = dict(good)
    expecting["slos"] = [{**good["slos"][0], "services": ["legacy", "check*"]}]
    path.write_text(yaml.safe_dump(expecting))
    with pytest.raises(SystemExit) as info:
        main(["check-config", str(path), *as_of])
    out = capsys.readouterr().out
    assert info.value.code == 0
    assert "warning: SLO availability: no data in Mon 19 Oct 2026 08:00 → Mon 2 Nov 2026 08:00 (UTC) for legacy" in out
    assert "data for 1 of the 2 services it expects" in out
    broken = dict(good)
    broken["slos"] = [{**good["slos"][0], "total": "sum by (service) (increase(http_requests_total[{{window}}]"}]
    path.write_text(yaml.safe_dump(broken))
    with pytest.raises(SystemExit) as info:
        main(["check-config", str(path), *as_of])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "error: SLO availability (total)" in err and "parse error: unclosed left parenthesis" in err
