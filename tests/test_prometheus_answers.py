"""Answers a real Prometheus gives for quiet services (NaN, ±Inf) and answers a broken backend or proxy
gives (an empty object, a value that is not a number), from a scripted server: values that are not
numbers become null with a reason in every output; a malformed answer fails its SLO, never the run."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from opsmeeting.aggregate.scorecards import build_scorecards
from opsmeeting.collectors.prometheus import PrometheusCollector
from opsmeeting.config import LatencySlo, PrometheusSource, RatioSlo, Service
from opsmeeting.meeting.model import MeetingView
from opsmeeting.model import Setup, SetupService, SetupSlo, SetupTeam, Snapshot, SourceRole
from opsmeeting.report.output import scorecards_csv, scorecards_json
from opsmeeting.report.render import render_report
from opsmeeting.window import Window

WINDOW = Window(start="2026-10-19T08:00:00Z", end="2026-11-02T08:00:00Z")
RATIO = RatioSlo(name="availability", objective=0.999, min_events=1,
                 good='sum by (service) (increase(ok_total[{{window}}]))',
                 total="sum by (service) (increase(all_total[{{window}}]))")
LATENCY = LatencySlo(name="latency", objective=0.99, histogram="h", threshold=0.25, min_events=1)
SERVICES = [Service(name=n, team="t", pagerduty_service_ids=[]) for n in ("busy", "quiet")]

Answer = Callable[[str, dict[str, list[str]]], object]


def vector(values: dict[str, str]) -> dict:
    result = [{"metric": {"service": s}, "value": [1793952000, v]} for s, v in values.items()]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def matrix(values: dict[str, str], points: int = 3) -> dict:
    result = [{"metric": {"service": s}, "values": [[1793952000 + 3600 * i, v] for i in range(points)]}
              for s, v in values.items()]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def quiet_service(query: str, params: dict[str, list[str]]) -> object:
    """busy serves traffic; quiet has series but no requests: its ratio is 0/0 and its quantiles NaN."""
    if "histogram_quantile" in query:
        return vector({"busy": "0.12", "quiet": "NaN"})
    if params.get("start"):
        return matrix({"busy": "10", "quiet": "0"})
    if "ok_total" in query:
        return vector({"busy": "999", "quiet": "NaN"})  # a user's query that divides by zero
    if "all_total" in query:
        return vector({"busy": "1000", "quiet": "+Inf"})
    return vector({"busy": "1000", "quiet": "0"})


@pytest.fixture
def scripted() -> Iterator[Callable[[Answer], str]]:
    servers = []

    def start(answer: Answer) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = parse_qs(parts.query)
                if parts.path.endswith("/status/buildinfo"):
                    body = {"status": "success", "data": {"version": "2.42.0"}}
                else:
                    body = answer(params.get("query", [""])[0], params)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return None

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def snapshot_from(url: str, slos: list) -> Snapshot:
    collector = PrometheusCollector(PrometheusSource(url=url, max_retries=0, concurrency=2), slos, SERVICES)
    data, status = collector.collect(WINDOW)
    setup = Setup(
        teams=[SetupTeam(name="t")], services=[SetupService(name=s.name, team="t") for s in SERVICES],
        slos=[SetupSlo(name=s.name, kind=s.kind, objective=s.objective, period_seconds=28 * 86400, min_events=1,
                       threshold_seconds=getattr(s, "threshold", None)) for s in slos],
    )
    return Snapshot(window=WINDOW, generated_at=WINDOW.end, setup=setup, sources={"prometheus": status},
                    roles={"slos": SourceRole(source="prometheus", label="Prometheus")}, slos=data)


def test_nan_and_inf_become_null_with_a_reason_in_every_output(scripted):
    snap = snapshot_from(scripted(quiet_service), [RATIO, LATENCY])
    cards = build_scorecards(snap)
    by = {(s.service, s.name): s for c in cards.services for s in c.slos}
    quiet = by[("quiet", "availability")]
    assert quiet.good is None and quiet.total is None and quiet.sli is None and quiet.met is None
    assert quiet.status == "no_data" and "Prometheus returned NaN" in quiet.reason
    assert by[("busy", "availability")].sli == 0.999
    latency = by[("quiet", "latency")]
    assert latency.quantiles == {"0.5": None, "0.99": None}
    assert any("p99: Prometheus returned NaN" in n for n in latency.notes)
    assert by[("busy", "latency")].quantiles == {"0.5": 0.12, "0.99": 0.12}
    text = scorecards_json(cards)  # allow_nan=False: it raises on any NaN left

    def no_constants(name: str) -> None:
        raise AssertionError(f"scorecards.json holds {name}")

    json.loads(text, parse_constant=no_constants)
    assert "nan" not in scorecards_csv(cards).lower()
    html = render_report(cards, MeetingView(), pdf=False).html
    row = html[html.index("<td>quiet · latency</td>"):]
    row = row[:row.index("</tr>")]
    cells = [cell.split(">", 1)[1] for cell in row.split("</td>")[1:-1]]
    assert cells == ["250 ms", "—", "—"]  # threshold, p50, p99: never "0 ms"


@pytest.mark.parametrize(("name", "broken"), [
    ("empty object", {}),
    ("no data key", {"status": "success"}),
    ("value not a number", vector({"busy": "abc"})),
    ("item without metric", {"status": "success", "data": {"resultType": "vector", "result": [{"value": [1, "1"]}]}}),
    ("HTML", b"<html><body>Bad gateway</body></html>"),
])
def test_a_malformed_answer_fails_its_slo_only(scripted, name, broken):
    def answer(query: str, params: dict[str, list[str]]) -> object:
        return broken if "all_total" in query and not params.get("start") else quiet_service(query, params)

    snap = snapshot_from(scripted(answer), [RATIO, LATENCY])
    status = snap.sources["prometheus"]
    assert status.status == "degraded", name
    assert "SLO availability: total query failed: malformed answer" in status.detail, status.detail
    cards = build_scorecards(snap)
    statuses = {(s.service, s.name): s.status for c in cards.services for s in c.slos}
    assert statuses[("busy", "availability")] == "error"
    assert statuses[("busy", "latency")] == "ok"
    scorecards_json(cards)
