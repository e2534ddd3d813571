"""One benchmark stage in a fresh process: ``python bench/stage.py STAGE [options] --result FILE``.

The harness (``run_bench.py``) starts this script for every measured piece of work, so each runs
in a process of its own. Inside, ``Meter`` times each step (wall time with ``perf_counter``, CPU
time of every thread with ``process_time``) and measures its peak memory: before a step it resets
the kernel's peak-RSS mark (``echo 5 > /proc/self/clear_refs``), after it reads ``VmHWM`` from
``/proc/self/status``. So a step's peak is measured even when an earlier step peaked higher.

Stages: ``dataset`` (SLO data, TSDB, ground truth), ``pd-collect`` and ``pd-naive`` (PagerDuty),
``prom-collect`` (Prometheus), ``snapshot`` (a synthetic organisation-size snapshot),
``aggregate``, ``render`` and ``pipeline`` (``opsmeeting run`` through the library, per stage).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import ssl
import sys
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

Json = dict[str, Any]
SloName = Literal["availability", "latency"]
SLOS: tuple[SloName, ...] = ("availability", "latency")


def _status_kib(key: str) -> int:
    match = re.search(rf"{key}:\s+(\d+)", Path("/proc/self/status").read_text())
    return int(match.group(1)) if match else 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


class Meter:
    """Per-step wall time, CPU time (all threads) and peak RSS of this process."""

    def __init__(self) -> None:
        self.steps: dict[str, Json] = {}
        self.open: dict[str, tuple[float, float, int, bool]] = {}
        self.max_kib = 0

    def process_peak_mib(self) -> float:
        """The whole process' peak RSS. Resetting the mark also resets what ``wait4`` would report
        as ``ru_maxrss``, so the meter keeps the running maximum of every mark it clears."""
        self.max_kib = max(self.max_kib, _status_kib("VmHWM"))
        return self.max_kib / 1024

    def begin(self, name: str) -> None:
        self.process_peak_mib()
        reset = _reset_peak()
        self.open[name] = (time.perf_counter(), time.process_time(), _status_kib("VmRSS"), reset)

    def end(self, name: str, rename: str | None = None) -> Json:
        wall0, cpu0, rss0, reset = self.open.pop(name)
        step = {
            "wall_s": time.perf_counter() - wall0,
            "cpu_s": time.process_time() - cpu0,
            "rss_start_mib": rss0 / 1024,
            "rss_end_mib": _status_kib("VmRSS") / 1024,
            "peak_rss_mib": _status_kib("VmHWM") / 1024,
            "peak_is_per_step": reset,
        }
        self.steps[rename or name] = step
        return step

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.begin(name)
        yield
        self.end(name)


# --- SLO dataset ---------------------------------------------------------------------------------


def bench_specs(count: int) -> tuple[Any, ...]:
    """``generated_services(count)`` with the no-data shape replaced by a steady one, so every
    (service, SLO) pair has a measurement: 500 services give exactly 1,000 SLO measurements."""
    import dataclasses

    from tests.fakes.slo_data import Shape, generated_services

    return tuple(dataclasses.replace(s, shape=Shape.STEADY) if s.shape is Shape.NO_DATA else s
                 for s in generated_services(count))


def _counts(counts: Any) -> list[int] | None:
    return None if counts is None else [counts.good, counts.total]


def stage_dataset(args: argparse.Namespace, meter: Meter) -> Json:
    from tests.fakes.prometheus import build_tsdb, cached_tsdb
    from tests.fakes.slo_data import dataset

    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    with meter.step("generate"):
        ds = dataset(bench_specs(args.services), spacing=args.spacing)
    with meter.step("tsdb"):
        tsdb = cached_tsdb(ds.cache_key(), lambda target: build_tsdb(ds, target), out.parent.parent / "tsdb")
    truth = {
        name: {
            slo: {
                "window": _counts(t.slo(slo).window), "previous": _counts(t.slo(slo).previous),
                "period": _counts(t.slo(slo).period), "daily": [_counts(d) for d in t.slo(slo).daily],
                "bad_by_step": list(t.slo(slo).bad_by_step),
            }
            for slo in SLOS
        }
        for name, t in ds.truth.items()
    }
    truth_path = out / "truth.json"
    truth_path.write_text(json.dumps({"attribution_step": ds.attribution_step, "services": truth}))
    key_json = json.loads((tsdb.parent / "key.json").read_text())
    info = {"key": args.key, "tsdb": str(tsdb), "truth": str(truth_path), "samples": ds.samples,
            "build": {**key_json.get("build", {}), "generate_s": meter.steps["generate"]["wall_s"]}}
    (out / "info.json").write_text(json.dumps(info, indent=1))
    return info


# --- PagerDuty ------------------------------------------------------------------------------------


def _load(config_path: str, window_text: str) -> tuple[Any, Any]:
    from opsmeeting.config import load_config
    from opsmeeting.window import parse_window

    config = load_config(config_path)
    return config, parse_window(window_text, config.rotation.timezone)


def stage_pd_collect(args: argparse.Namespace, meter: Meter) -> Json:
    from opsmeeting.collectors import BuildContext
    from opsmeeting.collectors.registry import SOURCES
    from opsmeeting.model import IncidentData

    config, window = _load(args.config, args.window)
    pagerduty = next(s for s in SOURCES if s.name == "pagerduty")
    collector = pagerduty.factory(config, BuildContext(slos=[], environ=os.environ))
    assert collector is not None
    with meter.step("collect"):
        data, status = collector.collect(window)
    assert isinstance(data, IncidentData)
    ids = {i.id: sorted(e.id for e in i.events) for i in data.incidents}
    Path(args.ids).write_text(json.dumps(ids))
    return {"status": status.model_dump(mode="json"), "incidents": len(data.incidents),
            "log_entries": sum(len(v) for v in ids.values()), "users": len(data.people),
            "shifts": len(data.shifts)}


def stage_pd_naive(args: argparse.Namespace, meter: Meter) -> Json:
    """What most scripts do: list the window's incidents with the official client's ``iter_all``,
    then ``GET /incidents/{id}/log_entries`` for each incident, one after the other."""
    import logging

    import pagerduty

    logging.getLogger("pagerduty").setLevel(logging.ERROR)  # the offset-cap warning, counted below
    start, end = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in args.window.split("/"))

    def client() -> Any:
        return pagerduty.RestApiV2Client(args.token, base_url=args.url,
                                         verify=ssl.create_default_context(cafile=args.ca))

    def iso(moment: datetime) -> str:
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")

    def created(raw: Json) -> datetime:
        return datetime.fromisoformat(raw["created_at"].replace("Z", "+00:00"))

    # 1. The first thing a script tries: one iter_all over the whole window (silently capped).
    first = client()
    with meter.step("one_shot"):
        one_shot = list(first.iter_all("incidents", params={"since": iso(start), "until": iso(end),
                                                             "time_zone": "UTC"}))
    one_shot_requests = sum(first.api_call_counts.values())
    # 2. The working script: iter_all per day (each day is under the cap), then the log entries.
    pd_client = client()
    incidents: dict[str, Json] = {}
    with meter.step("list_incidents"):
        day = start
        while day < end:
            params = {"since": iso(day), "until": iso(min(day + timedelta(days=1), end)), "time_zone": "UTC"}
            for raw in pd_client.iter_all("incidents", params=params):
                if start <= created(raw) < end:
                    incidents[raw["id"]] = raw
            day += timedelta(days=1)
    listing = dict(pd_client.api_call_counts)
    entries: dict[str, list[str]] = {}
    with meter.step("log_entries"):
        for incident_id in incidents:
            found = pd_client.iter_all(f"incidents/{incident_id}/log_entries", params={"time_zone": "UTC"})
            entries[incident_id] = sorted({e["id"] for e in found})
    Path(args.ids).write_text(json.dumps(entries))
    counts = dict(pd_client.api_call_counts)
    return {
        "one_shot": {"incidents": len(one_shot), "requests": one_shot_requests,
                     "wall_s": meter.steps["one_shot"]["wall_s"]},
        "requests_by_endpoint": counts, "listing_requests": sum(listing.values()),
        "requests": sum(counts.values()), "incidents": len(entries),
        "log_entries": sum(len(v) for v in entries.values()),
        "wall_s": meter.steps["list_incidents"]["wall_s"] + meter.steps["log_entries"]["wall_s"],
    }


# --- Prometheus ----------------------------------------------------------------------------------


def _prometheus_collector(config: Any) -> Any:
    from opsmeeting.collectors import BuildContext
    from opsmeeting.collectors.registry import SOURCES
    from opsmeeting.config.slo_import import load_slos

    prometheus = next(s for s in SOURCES if s.name == "prometheus")
    collector = prometheus.factory(config, BuildContext(slos=load_slos(config), environ=os.environ))
    assert collector is not None
    return collector


def stage_prom_collect(args: argparse.Namespace, meter: Meter) -> Json:
    config, window = _load(args.config, args.window)
    collector = _prometheus_collector(config)
    with meter.step("collect"):
        data, status = collector.collect(window)
    values: dict[str, dict[str, list[float | None]]] = defaultdict(dict)
    for m in data.measurements:
        values[m.service][m.slo] = [m.window.good, m.window.total]
    Path(args.values).write_text(json.dumps(values))
    return {"status": status.model_dump(mode="json"), "measurements": len(data.measurements)}


def stage_prom_window(args: argparse.Namespace, meter: Meter) -> Json:
    """Only what slo-generator computes (each SLO's window good and total), through the collector's own
    client and queries: two grouped instant queries per SLO definition, one after the other."""
    from opsmeeting.collectors.prometheus import fill, queries_for
    from opsmeeting.config.slo_import import load_slos

    config, window = _load(args.config, args.window)
    slos = load_slos(config)
    collector = _prometheus_collector(config)
    labels = {svc.label: svc.name for svc in config.services}
    values: dict[str, dict[str, list[float | None]]] = defaultdict(dict)
    with meter.step("collect"):
        for slo in slos:
            q = queries_for(slo)
            assert q.good is not None
            answers = [collector.instant(fill(text, window.duration), window.end) for text in (q.good, q.total)]
            good, total = ({labels[i["metric"][slo.group_by]]: float(i["value"][1]) for i in answer
                            if i["metric"].get(slo.group_by) in labels} for answer in answers)
            for name, value in total.items():
                values[name][slo.name] = [good.get(name, 0.0), value]
    Path(args.values).write_text(json.dumps(values))
    return {"status": {"requests": collector.requests, "requests_by_endpoint": dict(collector.by_endpoint)}}


# --- a synthetic organisation-size snapshot ------------------------------------------------------


def _pagerduty_data(org: Any, collected_at: datetime) -> Any:
    """The generator's API objects through the collector's own mapping (``collectors.pagerduty.vocabulary``)."""
    from opsmeeting.collectors.pagerduty import vocabulary as v
    from opsmeeting.model import IncidentData
    from tests.fakes import pagerduty_data as pd

    by_incident: dict[str, list[Json]] = defaultdict(list)
    for entry in org.log_entries:
        by_incident[entry["incident"]["id"]].append(entry)
    rank_of = {p["id"]: i for i, p in enumerate(org.priorities)}
    incidents = [v.incident_from_api(raw, [v.event_from_api(e) for e in by_incident[raw["id"]]], rank_of)
                 for raw in org.incidents]
    window = (org.start.timestamp(), org.end.timestamp())
    shifts = []
    for schedule_id, schedule in sorted(org.schedules.items()):
        view = pd.schedule_between(schedule, window, overflow=True)
        shifts += [s for item in view["final_schedule"]["rendered_schedule_entries"]
                   if (s := v.shift_from_api(schedule_id, item)) is not None]
    return IncidentData(
        source="pagerduty", collected_at=collected_at, people=[v.person_from_api(u) for u in org.users],
        teams=[v.team_from_api(t) for t in org.teams], services=[v.service_from_api(s) for s in org.services],
        severities=v.severities_from_api(org.priorities),
        incidents=sorted(incidents, key=lambda i: (i.created_at, i.number)), shifts=shifts,
    )


def _measurements(truth: Json, services: list[str], start: datetime) -> list[Any]:
    """SLO measurements from the dataset's exact truth: window, previous, period, daily; hourly bins
    hold the exact hourly bad events and the day's total spread evenly over its hours."""
    from opsmeeting.model import BinnedCounts, Counts, DailyCounts, SloMeasurement

    step = int(truth["attribution_step"])
    out = []
    for index, name in enumerate(services):
        for slo in SLOS:
            t = truth["services"][name][slo]
            if t["window"] is None:
                continue
            per_day = 86_400 // step
            bins = []
            for k, bad in enumerate(t["bad_by_step"]):
                day = t["daily"][min(k // per_day, len(t["daily"]) - 1)]
                total = day[1] / per_day if day else 0.0
                bins.append(BinnedCounts(start=start + timedelta(seconds=k * step), bad=float(bad),
                                         total=max(total, float(bad))))
            daily = [DailyCounts(date=(start + timedelta(days=d)).strftime("%Y-%m-%d"),
                                 start=start + timedelta(days=d), good=c[0] if c else None,
                                 total=c[1] if c else None) for d, c in enumerate(t["daily"])]
            quantiles: dict[str, float | None] = {}
            if slo == "latency":  # shown in the report only; the aggregation does not read them
                quantiles = {"0.5": 0.05 + 0.01 * (index % 7), "0.99": 0.2 + 0.05 * (index % 11)}
            out.append(SloMeasurement(
                service=name, slo=slo, window=Counts(good=t["window"][0], total=t["window"][1]),
                previous=Counts(good=t["previous"][0], total=t["previous"][1]) if t["previous"] else Counts(),
                period_total=t["period"][1] if t["period"] else None, daily=daily, bins=bins,
                bin_seconds=step, quantiles=quantiles))
    return out


def stage_snapshot(args: argparse.Namespace, meter: Meter) -> Json:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import AS_OF, WINDOW_END, WINDOW_START, Scale, generate_org, service_name

    from opsmeeting.model import (
        Setup,
        SetupService,
        SetupSlo,
        SetupTeam,
        SloData,
        Snapshot,
        SourceRole,
        SourceStatus,
    )
    from opsmeeting.snapshot import write_snapshot
    from opsmeeting.window import Window

    scale = Scale(args.services, args.teams, args.incidents)
    with meter.step("generate_org"):
        org = generate_org(scale)
    with meter.step("map_pagerduty"):
        pd_data = _pagerduty_data(org, AS_OF)
    names = [service_name(i) for i in range(scale.services)]
    with meter.step("map_prometheus"):
        truth = json.loads(Path(args.truth).read_text())
        measurements = _measurements(truth, names, WINDOW_START)
    team_of = {s["id"]: s["teams"][0]["summary"] for s in org.services}
    period = 28 * 86_400
    setup = Setup(
        title="Ops Meeting (benchmark)",
        teams=[SetupTeam(name=t["name"], members=5) for t in org.teams],
        services=[SetupService(name=names[i], team=team_of[s["id"]], source_ids=[s["id"]])
                  for i, s in enumerate(org.services)],
        slos=[SetupSlo(name="availability", kind="ratio", objective=0.999, period_seconds=period, min_events=100),
              SetupSlo(name="latency", kind="latency", objective=0.99, period_seconds=period, min_events=100)],
    )
    snapshot = Snapshot(
        window=Window(start=WINDOW_START, end=WINDOW_END, timezone="UTC"), generated_at=AS_OF, setup=setup,
        sources={"pagerduty": SourceStatus(status="ok", requests=1323),
                 "prometheus": SourceStatus(status="ok", requests=17)},
        roles={"incidents": SourceRole(source="pagerduty", label="PagerDuty"),
               "slos": SourceRole(source="prometheus", label="Prometheus")},
        incidents=pd_data, slos=SloData(source="prometheus", collected_at=AS_OF, source_version="2.42.0",
                                        measurements=measurements),
    )
    with meter.step("write"):
        write_snapshot(snapshot, Path(args.dir))
    return {"incidents": len(pd_data.incidents), "log_entries": sum(len(i.events) for i in pd_data.incidents),
            "measurements": len(measurements), "bins": sum(len(m.bins) for m in measurements),
            "services": len(names)}


# --- aggregation and rendering -------------------------------------------------------------------


def _read(directory: str, meter: Meter) -> Any:
    from opsmeeting.snapshot import read_snapshot

    with meter.step("load_snapshot"):
        return read_snapshot(Path(directory))


def stage_aggregate(args: argparse.Namespace, meter: Meter) -> Json:
    from opsmeeting.aggregate.scorecards import build_scorecards

    snapshot = _read(args.snapshot, meter)
    walls = []
    cards = None
    for n in range(args.repeat):
        with meter.step(f"aggregate_{n + 1}"):
            cards = build_scorecards(snapshot)
        walls.append(meter.steps[f"aggregate_{n + 1}"]["wall_s"])
        cards = None if n + 1 < args.repeat else cards
    assert cards is not None
    tracemalloc.start()
    began = time.perf_counter()
    build_scorecards(snapshot)
    traced_wall = time.perf_counter() - began
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"walls_s": walls, "tracemalloc_peak_mib": traced_peak / 2**20, "tracemalloc_wall_s": traced_wall,
            "services": len(cards.services), "slo_scorecards": sum(len(c.slos) for c in cards.services),
            "responders": len(cards.responders), "problems": len(cards.problems)}


def metered_render(meter: Meter, cards: Any, meeting: Any = None, **kwargs: Any) -> Any:
    """``render_report`` itself, with its three steps metered: ``charts`` (``render_charts``),
    ``html`` (from there to the end of the screen page's ``render_html``) and ``pdf`` (the print
    page's context and ``render_html``, then ``render_pdf``), the split of its own ``timings``."""
    from opsmeeting.report import render as module

    charts, html, make_pdf = module.render_charts, module.render_html, module.render_pdf
    calls = {"html": 0}

    def charts_step(*a: Any, **k: Any) -> Any:
        meter.begin("charts")
        try:
            return charts(*a, **k)
        finally:
            meter.end("charts")
            meter.begin("html")

    def html_step(*a: Any, **k: Any) -> Any:
        calls["html"] += 1
        result = html(*a, **k)
        if calls["html"] == 1:
            meter.end("html")
            meter.begin("pdf")
        return result

    def pdf_step(*a: Any, **k: Any) -> Any:
        try:
            return make_pdf(*a, **k)
        finally:
            meter.end("pdf")

    module.render_charts, module.render_html, module.render_pdf = charts_step, html_step, pdf_step
    try:
        from opsmeeting.meeting.model import MeetingView

        rendered = module.render_report(cards, meeting or MeetingView(), **kwargs)
    finally:
        module.render_charts, module.render_html, module.render_pdf = charts, html, make_pdf
        meter.open.pop("pdf", None)
    return rendered


def _pdf_pages(data: bytes | None) -> int | None:
    if not data:
        return None
    try:
        import io

        from pypdf import PdfReader
    except ImportError:
        return None
    return len(PdfReader(io.BytesIO(data)).pages)


def stage_render(args: argparse.Namespace, meter: Meter) -> Json:
    from opsmeeting.aggregate.scorecards import build_scorecards

    snapshot = _read(args.snapshot, meter)
    with meter.step("aggregation"):
        cards = build_scorecards(snapshot)
    rendered = metered_render(meter, cards)
    return {"library_timings_s": rendered.timings, "html_bytes": len(rendered.html.encode()),
            "pdf_bytes": len(rendered.pdf or b""), "pdf_pages": _pdf_pages(rendered.pdf),
            "charts": sorted(rendered.charts), "services": len(cards.services)}


COLLECTOR_LINE = re.compile(r"^(\w+): (ok|degraded|failed), \d+ requests")


def _wrap(module: Any, name: str, before: Callable[[], None], after: Callable[[Any], object]) -> Callable[[], None]:
    """Replace ``module.name`` by a call between ``before()`` and ``after(result)``; returns the undo."""
    original = getattr(module, name)

    def wrapper(*a: Any, **k: Any) -> Any:
        before()
        result = None
        try:
            result = original(*a, **k)
            return result
        finally:
            after(result)

    setattr(module, name, wrapper)
    return lambda: setattr(module, name, original)


def stage_pipeline(args: argparse.Namespace, meter: Meter) -> Json:
    """``opsmeeting run --force`` through the library: the CLI's ``Runner`` itself, each of its steps
    metered by wrapping the functions it calls (collectors, snapshot, history, aggregation, wheel,
    charts, HTML, PDF, files, email, archive index). What no wrapper covers is ``other``."""
    from opsmeeting import pipeline, runner
    from opsmeeting.cli.app import parse_moment
    from opsmeeting.cli.reports import choose_window
    from opsmeeting.config import load_config
    from opsmeeting.meeting import wheel_store
    from opsmeeting.report import render

    began = time.perf_counter()
    with meter.step("config"):
        config = load_config(args.config)
        now = parse_moment(args.as_of)
        window = choose_window(config, now, args.window, False)
    seen: Json = {}
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        match = COLLECTOR_LINE.match(line)
        if match and "collect" in meter.open:
            meter.end("collect", rename=match.group(1))
            meter.begin("collect")

    def keep(key: str) -> Callable[[Any], None]:
        def store(result: Any) -> None:
            seen[key] = result
        return store

    def step(name: str, key: str | None = None) -> tuple[Callable[[], None], Callable[[Any], None]]:
        def after(result: Any) -> None:
            meter.end(name)
            if key:
                seen[key] = result
        return lambda: meter.begin(name), after

    undo = [
        _wrap(runner, "collect", lambda: meter.begin("collect"),
              lambda result: (meter.end("collect", rename="snapshot_build"), keep("collected")(result))),
        _wrap(runner, "write_snapshot", *step("snapshot_write")),
        _wrap(runner, "load_history", *step("history")),
        _wrap(pipeline, "build_scorecards", *step("aggregation", "cards")),
        _wrap(wheel_store, "view", *step("wheel")),
        _wrap(pipeline, "write_report", *step("report_files")),
        _wrap(runner, "build_message", lambda: meter.begin("email"), lambda _: None),
        _wrap(runner, "send", lambda: None, lambda _: meter.end("email")),
        _wrap(runner, "write_index", *step("archive_index")),
    ]
    original_render = pipeline.render_report

    def render_step(*a: Any, **k: Any) -> Any:
        seen["rendered"] = metered_render(meter, *a, **k)
        return seen["rendered"]

    pipeline.render_report = render_step  # type: ignore[assignment]
    undo.append(lambda: setattr(pipeline, "render_report", original_render))
    try:
        result = runner.Runner(config, now=lambda: now, log=log, pdf=True,
                               config_path=Path(args.config).resolve()).run(window, force=True)
    finally:
        for restore in undo:
            restore()
        assert render.render_report is not render_step
    total = time.perf_counter() - began
    snapshot = seen["collected"].snapshot
    rendered = seen.get("rendered")
    folder = result.files.json.parent / "snapshot" if result.files is not None else None
    parts = {p.name: p.stat().st_size for p in folder.iterdir()} if folder is not None and folder.is_dir() else {}
    covered = sum(v["wall_s"] for v in meter.steps.values())
    return {
        "total_wall_s": total, "other_wall_s": total - covered, "exit_code": int(result.exit_code),
        "message": result.message, "log": lines[-20:],
        "sources": {k: v.model_dump(mode="json") for k, v in snapshot.sources.items()},
        "library_timings_s": rendered.timings if rendered else {}, "services": len(seen["cards"].services),
        "incidents": len(snapshot.incidents.incidents) if snapshot.incidents else None,
        "pdf_pages": _pdf_pages(rendered.pdf if rendered else None),
        "pdf_bytes": len(rendered.pdf or b"") if rendered else 0,
        "html_bytes": len(rendered.html.encode()) if rendered else 0,
        "snapshot_dir": str(folder) if folder is not None else None, "snapshot_parts": parts,
        "snapshot_bytes": sum(parts.values()),
    }


def stage_snapshot_read(args: argparse.Namespace, meter: Meter) -> Json:
    """``read_snapshot`` of a run's snapshot directory (as ``opsmeeting render`` does), alone in a process."""
    snapshot = _read(args.dir, meter)
    assert snapshot.incidents is not None
    return {"incidents": len(snapshot.incidents.incidents)}


STAGES: dict[str, Callable[[argparse.Namespace, Meter], Json]] = {
    "dataset": stage_dataset, "pd-collect": stage_pd_collect, "pd-naive": stage_pd_naive,
    "prom-collect": stage_prom_collect, "prom-window": stage_prom_window, "snapshot": stage_snapshot,
    "aggregate": stage_aggregate, "render": stage_render, "pipeline": stage_pipeline,
    "snapshot-read": stage_snapshot_read,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stage", choices=sorted(STAGES))
    parser.add_argument("--result", required=True)
    for flag in ("--config", "--window", "--as-of", "--out", "--ids", "--values", "--url", "--ca", "--token",
                 "--snapshot", "--dir", "--truth", "--key"):
        parser.add_argument(flag)
    for flag in ("--services", "--spacing", "--teams", "--incidents"):
        parser.add_argument(flag, type=int)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    meter = Meter()
    began = time.perf_counter()
    result = STAGES[args.stage](args, meter)
    result.update({"steps": meter.steps, "process_wall_s": time.perf_counter() - began,
                   "process_peak_rss_mib": meter.process_peak_mib()})
    Path(args.result).write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
