"""opsmeeting's benchmark harness: ``python bench/run_bench.py [pagerduty|prometheus|...|scaling|all]``.

Each sub-benchmark can run alone; each merges its section into ``bench/results.json`` and then
``bench/RESULTS.md`` is regenerated from the whole file (``bench/report.py``). Generated data,
TSDBs, snapshots and reports go under ``bench/out/`` (git-ignored). Servers are ours, on
127.0.0.1 only: the PagerDuty fake (in this process, HTTPS), Prometheus (a child process), and
every measured piece of work runs in a fresh child process (``bench/stage.py``).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import re
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (
    AS_OF,
    BENCH,
    OUT,
    QUIET_BUSY_FRACTION,
    QUIET_MAX_WAIT_S,
    REAL_API_PER_MINUTE,
    ROOT,
    STAGE,
    TOKEN,
    TOKEN_ENV,
    WINDOW_END,
    WINDOW_LENGTH,
    DatasetInfo,
    Json,
    Scale,
    SmtpSink,
    ensure_slogen,
    generate_org,
    iso,
    machine,
    median,
    prepare_dataset,
    process_cpu,
    real_api_floor_s,
    request_floor,
    run_child,
    service_name,
    stage,
    start_fake,
    start_prometheus,
    window_text,
    write_config,
)

RESULTS_JSON = BENCH / "results.json"
RUN_SPACING = 3600  # seconds between samples for organisation-scale runs (500 services ≈ 4.6 M samples)
PROM_SPACING = 900  # for the Prometheus comparison (250 services ≈ 9.2 M samples)
PROM_SIZES = (50, 250)  # services; × 2 SLO definitions = 100 and 500 SLOs
SCALING = (1, 2, 4)
PAGE = 100


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def _step(child: Any, name: str) -> Json:
    return dict(child.result["steps"][name])


# --- PagerDuty -----------------------------------------------------------------------------------------


def bench_pagerduty(repeats: int) -> Json:
    from tests.fakes.pagerduty import load_openapi

    scale = Scale()
    log(f"pagerduty: generating {scale.services} services, {scale.incidents} incidents")
    began = time.perf_counter()
    org = generate_org(scale)
    generate_s = time.perf_counter() - began
    work = OUT / "pagerduty"
    with ExitStack() as stack:
        fake = start_fake(org)
        stack.callback(fake.stop)
        config = write_config(work / "config.yaml", org, services=scale.services, prometheus_url=None,
                              pagerduty=fake, output=work / "reports")
        env = {TOKEN_ENV: TOKEN}
        ops_ids, naive_ids = work / "opsmeeting-ids.json", work / "naive-ids.json"
        runs = []
        for n in range(repeats):
            fake.reset_counts()
            child = stage("pd-collect", "--config", config, "--window", window_text(), "--ids", ops_ids, env=env)
            collect = _step(child, "collect")
            status = child.result["status"]
            runs.append({"wall_s": collect["wall_s"], "cpu_s": collect["cpu_s"],
                         "peak_rss_mib": collect["peak_rss_mib"], "process_peak_rss_mib":
                         child.result["process_peak_rss_mib"], "process_wall_s": child.wall_s,
                         "fake_cpu_s": child.host_cpu_s, "other_cpu_s": child.other_cpu_s(),
                         "requests": status["requests"],
                         "requests_by_endpoint": status["requests_by_endpoint"],
                         "server_counts": fake.request_counts(), "detail": status["detail"]})
            log(f"pagerduty: opsmeeting run {n + 1}/{repeats}: {collect['wall_s']:.1f} s, "
                f"{status['requests']} requests")
        ops = child.result
        log("pagerduty: one more opsmeeting run with the fake validating every request (untimed)")
        load_openapi()
        fake.validation_errors.clear()
        fake.validate = "requests"
        stage("pd-collect", "--config", config, "--window", window_text(), "--ids", work / "validated-ids.json",
              env=env, quiet=False)
        spec_errors = list(fake.validation_errors)
        fake.validate = False
        log("pagerduty: the naive collection (sequential, one request per incident)")
        fake.reset_counts()
        naive_child = stage("pd-naive", "--url", fake.url, "--ca", fake.ca_bundle, "--token", TOKEN,
                            "--window", window_text(), "--ids", naive_ids, timeout=7200)
        naive = naive_child.result
        naive_server = fake.request_counts()
    same = _compare_ids(json.loads(ops_ids.read_text()), json.loads(naive_ids.read_text()))
    incidents, entries = ops["incidents"], ops["log_entries"]
    minimum = math.ceil(incidents / PAGE) + math.ceil(entries / PAGE)
    wall = median([r["wall_s"] for r in runs])
    requests = runs[0]["requests"]
    naive_wall = naive["wall_s"]
    return {
        "data": {"services": scale.services, "teams": scale.teams, "users": len(org.users),
                 "incidents": incidents, "log_entries": entries, "schedules": len(org.schedules),
                 "generate_s": generate_s},
        "fake": {"validate": False, "detail": "responses and requests not validated in timed runs; one extra "
                 "untimed run validated every request", "spec_errors_in_validated_run": len(spec_errors),
                 "spec_error_examples": spec_errors[:3]},
        "repeats": repeats,
        "opsmeeting": {
            "wall_s": wall, "wall_s_runs": [r["wall_s"] for r in runs], "cpu_s": median([r["cpu_s"] for r in runs]),
            "fake_cpu_s": median([r["fake_cpu_s"] for r in runs]),
            "other_cpu_s": median([r["other_cpu_s"] for r in runs]),
            "peak_rss_mib": max(r["process_peak_rss_mib"] for r in runs),
            "requests": requests, "requests_by_endpoint": runs[0]["requests_by_endpoint"],
            "server_counts": runs[0]["server_counts"], "detail": runs[0]["detail"],
            "data_requests": sum(v for k, v in runs[0]["requests_by_endpoint"].items()
                                 if "incidents" in k or "log_entries" in k),
            "concurrency": 4, "pacing": "off (requests_per_minute: 0)",
        },
        "minimum_requests": minimum,
        "naive": {
            "wall_s": naive_wall, "requests": naive["requests"], "requests_by_endpoint": naive["requests_by_endpoint"],
            "server_counts": naive_server, "incidents": naive["incidents"], "log_entries": naive["log_entries"],
            "listing_wall_s": naive["steps"]["list_incidents"]["wall_s"],
            "log_entries_wall_s": naive["steps"]["log_entries"]["wall_s"],
            "cpu_s": naive["steps"]["list_incidents"]["cpu_s"] + naive["steps"]["log_entries"]["cpu_s"],
            "fake_cpu_s": naive_child.host_cpu_s, "other_cpu_s": naive_child.other_cpu_s(),
            "peak_rss_mib": naive["process_peak_rss_mib"],
            "one_shot": naive["one_shot"], "runs": 1,
        },
        "same_data": same,
        "ratios": {"requests_vs_minimum": requests / minimum,
                   "naive_vs_opsmeeting_requests": naive["requests"] / requests,
                   "naive_vs_opsmeeting_wall": naive_wall / wall},
        "real_api": {"per_minute": 960, "opsmeeting_floor_s": real_api_floor_s(requests),
                     "minimum_floor_s": real_api_floor_s(minimum),
                     "naive_floor_s": real_api_floor_s(naive["requests"])},
    }


def _compare_ids(ops: dict[str, list[str]], naive: dict[str, list[str]]) -> Json:
    only_ops, only_naive = sorted(set(ops) - set(naive)), sorted(set(naive) - set(ops))
    differing = [i for i in set(ops) & set(naive) if sorted(ops[i]) != sorted(naive[i])]
    return {"incidents_equal": not only_ops and not only_naive, "log_entries_equal": not differing,
            "only_opsmeeting": only_ops[:5], "only_naive": only_naive[:5], "differing_incidents": sorted(differing)[:5],
            "ok": not (only_ops or only_naive or differing)}


# --- Prometheus ----------------------------------------------------------------------------------------


def _slogen_configs(directory: Path, services: int, url: str) -> tuple[Path, Path]:
    """One slo-generator SLO config per (service, SLO), the evaluation time pinned with ``@ <end>``
    (its Prometheus backend ignores --timestamp and asks at the current time)."""
    import yaml

    slos = directory / "slos"
    slos.mkdir(parents=True, exist_ok=True)
    for old in slos.glob("*.yaml"):
        old.unlink()
    end = int(WINDOW_END.timestamp())
    for i in range(services):
        name = service_name(i)
        specs = {
            "availability": {"method": "good_bad_ratio", "goal": 0.999, "service_level_indicator": {
                "filter_good": f'http_requests_total{{service="{name}",code!~"5.."}}[window] @ {end}',
                "filter_valid": f'http_requests_total{{service="{name}"}}[window] @ {end}'}},
            "latency": {"method": "distribution_cut", "goal": 0.99, "service_level_indicator": {
                "expression": f'http_request_duration_seconds_bucket{{service="{name}"}}[window] @ {end}',
                "threshold_bucket": "0.25"}},
        }
        for slo, spec in specs.items():
            document = {
                "apiVersion": "sre.google.com/v2", "kind": "ServiceLevelObjective",
                "metadata": {"name": f"{name}-{slo}", "labels": {"service_name": name, "slo_name": slo}},
                "spec": {"description": f"{slo} of {name}", "backend": "prometheus", "exporters": [], **spec},
            }
            (slos / f"{name}-{slo}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    config = directory / "config.yaml"
    config.write_text(yaml.safe_dump({
        "backends": {"prometheus": {"url": url}},
        "error_budget_policies": {"default": {"steps": [{
            "name": "window", "window": int(WINDOW_LENGTH.total_seconds()), "burn_rate_threshold": 1,
            "alert": False, "message_alert": "budget overspent", "message_ok": "on track"}]}},
    }, sort_keys=False))
    return slos, config


def _verify_slis(truth: Json, ops: Json, slogen: Json, services: int) -> Json:
    problems: list[str] = []
    checked = slogen_invalid = 0
    worst = {"opsmeeting_vs_truth": 0.0, "slogen_vs_truth": 0.0, "opsmeeting_vs_slogen": 0.0,
             "slogen_rounded_sli_vs_truth": 0.0}
    for i in range(services):
        name = service_name(i)
        for slo in ("availability", "latency"):
            good, total = truth["services"][name][slo]["window"]
            true_sli = good / total
            got = ops.get(name, {}).get(slo)
            theirs = slogen["results"].get(f"{name}-{slo}", {})
            checked += 1
            if got is None or got[1] in (None, 0):
                problems.append(f"{name} {slo}: opsmeeting has no value")
                continue
            if not theirs.get("valid"):
                slogen_invalid += 1
                problems.append(f"{name} {slo}: slo-generator invalid: {theirs.get('errors')}")
                continue
            ops_sli = got[0] / got[1]
            their_sli = theirs["good"] / (theirs["good"] + theirs["bad"])
            for key, diff in (("opsmeeting_vs_truth", abs(ops_sli - true_sli)),
                              ("slogen_vs_truth", abs(their_sli - true_sli)),
                              ("opsmeeting_vs_slogen", abs(ops_sli - their_sli)),
                              ("slogen_rounded_sli_vs_truth", abs(theirs["sli_measurement"] - true_sli))):
                worst[key] = max(worst[key], diff)
            if (got[0], got[1]) != (good, total):
                problems.append(f"{name} {slo}: opsmeeting {got} != truth {[good, total]}")
            if (theirs["good"], theirs["good"] + theirs["bad"]) != (good, total):
                problems.append(f"{name} {slo}: slo-generator {theirs['good']}/{theirs['bad']} != truth")
    ok = not problems and max(v for k, v in worst.items() if not k.startswith("slogen_rounded")) <= 1e-9
    return {"slos_checked": checked, "ok": ok, "max_abs_sli_difference": worst, "problems": problems[:5],
            "problem_count": len(problems), "slogen_invalid": slogen_invalid,
            "note": "counts compared exactly; SLIs recomputed from counts agree to 1e-9. slo-generator's own "
                    "sli_measurement is rounded to 6 decimals (and its burn rate to 1)."}


def bench_prometheus(repeats: int) -> Json:
    slogen_python = ensure_slogen()
    sizes: dict[str, Json] = {}
    for services in PROM_SIZES:
        log(f"prometheus: {services} services × 2 SLOs at {PROM_SPACING} s spacing")
        info = prepare_dataset(services, PROM_SPACING)
        truth = json.loads(info.truth.read_text())
        work = OUT / "prometheus" / str(services)
        with ExitStack() as stack:
            server = start_prometheus(info)
            stack.callback(server.stop)
            config = write_config(work / "config.yaml", None, services=services, prometheus_url=server.url,
                                  pagerduty=None, output=work / "reports")
            slos, slogen_config = _slogen_configs(work / "slogen", services, server.url)
            values, slogen_result = work / "opsmeeting-values.json", work / "slogen-result.json"

            def opsmeeting_run(config: Path = config, values: Path = values) -> Any:
                return stage("prom-collect", "--config", config, "--window", window_text(), "--values", values)

            def window_run(config: Path = config, values: Path = work / "window-values.json") -> Any:
                return stage("prom-window", "--config", config, "--window", window_text(), "--values", values)

            def slogen_run(slos: Path = slos, cfg: Path = slogen_config, out: Path = slogen_result) -> Any:
                return run_child([slogen_python, BENCH / "slogen_runner.py", "--slos", slos, "--config", cfg,
                                  "--result", out]).check()

            opsmeeting_run()  # warm-up, untimed: the first queries map the blocks into memory
            slogen_run()
            window_run()
            ops_runs, slogen_runs, window_runs = [], [], []
            for n in range(repeats):
                cpu0 = process_cpu(server.pid)
                child = opsmeeting_run()
                collect, prom_cpu = _step(child, "collect"), process_cpu(server.pid) - cpu0
                ops_runs.append({"wall_s": collect["wall_s"], "cpu_s": collect["cpu_s"],
                                 "peak_rss_mib": child.result["process_peak_rss_mib"],
                                 "process_wall_s": child.wall_s, "prometheus_cpu_s": prom_cpu,
                                 "other_cpu_s": child.other_cpu_s(prom_cpu),
                                 "requests": child.result["status"]["requests"],
                                 "requests_by_endpoint": child.result["status"]["requests_by_endpoint"]})
                window_child = window_run()
                window_runs.append({"wall_s": _step(window_child, "collect")["wall_s"],
                                    "requests": window_child.result["status"]["requests"]})
                cpu0 = process_cpu(server.pid)
                theirs = slogen_run()
                prom_cpu = process_cpu(server.pid) - cpu0
                slogen_runs.append({"wall_s": theirs.result["compute_wall_s"], "process_wall_s": theirs.wall_s,
                                    "cpu_s": theirs.cpu_s, "peak_rss_mib": theirs.maxrss_mib,
                                    "prometheus_cpu_s": prom_cpu, "other_cpu_s": theirs.other_cpu_s(prom_cpu),
                                    "requests": theirs.result["requests"]})
                log(f"prometheus: {services} services run {n + 1}/{repeats}: opsmeeting {collect['wall_s']:.2f} s, "
                    f"slo-generator {theirs.result['compute_wall_s']:.2f} s")
            verification = _verify_slis(truth, json.loads(values.read_text()), theirs.result, services)
            window_check = _verify_slis(truth, json.loads((work / "window-values.json").read_text()), theirs.result,
                                        services)
        ops_wall = median([r["wall_s"] for r in ops_runs])
        slogen_wall = median([r["wall_s"] for r in slogen_runs])
        sizes[str(services * 2)] = {
            "services": services, "slo_definitions": 2, "slos": services * 2, "samples": info.samples,
            "spacing_s": PROM_SPACING, "dataset_build": info.build,
            "opsmeeting": {**_medians(ops_runs), "wall_s_runs": [r["wall_s"] for r in ops_runs],
                           "requests": ops_runs[0]["requests"],
                           "requests_by_endpoint": ops_runs[0]["requests_by_endpoint"],
                           "peak_rss_mib": max(r["peak_rss_mib"] for r in ops_runs)},
            "slo_generator": {**_medians(slogen_runs), "wall_s_runs": [r["wall_s"] for r in slogen_runs],
                              "requests": slogen_runs[0]["requests"],
                              "peak_rss_mib": max(r["peak_rss_mib"] for r in slogen_runs)},
            "opsmeeting_window_only": {"wall_s": median([r["wall_s"] for r in window_runs]),
                                       "wall_s_runs": [r["wall_s"] for r in window_runs],
                                       "requests": window_runs[0]["requests"], "verified": window_check["ok"]},
            "speedup": slogen_wall / ops_wall,
            "speedup_window_only": slogen_wall / median([r["wall_s"] for r in window_runs]),
            "verification": verification,
        }
    return {"repeats": repeats, "window_days": WINDOW_LENGTH.days, "sizes": sizes, "goal_speedup_at_500": 5.0}


def _medians(runs: list[Json]) -> Json:
    keys = [k for k, v in runs[0].items() if isinstance(v, float)]
    return {k: median([r[k] for r in runs]) for k in keys}


# --- aggregation and rendering on a synthetic organisation-size snapshot ---------------------------


def ensure_snapshot(scale: Scale, info: DatasetInfo) -> tuple[Path, Json]:
    directory = OUT / "snapshots" / f"{scale.services}-{scale.incidents}"
    key_path = directory.with_suffix(".json")
    key = {"scale": [scale.services, scale.teams, scale.incidents], "truth": str(info.truth),
           "stage": STAGE.stat().st_mtime, "generator": (ROOT / "tests/fakes/pagerduty_data.py").stat().st_mtime}
    if key_path.is_file() and (directory / "manifest.json").is_file():
        stored = json.loads(key_path.read_text())
        if stored.get("key") == key:
            return directory, stored["built"]
    log(f"building the synthetic snapshot of {scale.services} services, {scale.incidents} incidents")
    child = stage("snapshot", "--services", scale.services, "--teams", scale.teams, "--incidents", scale.incidents,
                  "--truth", info.truth, "--dir", directory, quiet=False)
    built = {k: v for k, v in child.result.items() if k != "steps"}
    built["build_s"] = child.wall_s
    key_path.write_text(json.dumps({"key": key, "built": built}))
    return directory, built


def bench_aggregate(repeats: int) -> Json:
    scale = Scale()
    snapshot, built = ensure_snapshot(scale, prepare_dataset(scale.services, RUN_SPACING))
    runs = max(repeats, 5)
    log(f"aggregate: build_scorecards × {runs}")
    child = stage("aggregate", "--snapshot", snapshot, "--repeat", runs)
    steps = child.result["steps"]
    aggregate = [steps[f"aggregate_{n + 1}"] for n in range(runs)]
    return {
        "snapshot": built, "repeats": runs,
        "construction": "PagerDuty generator's API objects through PagerDutyCollector._incident/_entry; "
                        "SLO measurements from the dataset's exact truth, hourly bins (the collector's STEP)",
        "wall_s": median([s["wall_s"] for s in aggregate]), "wall_s_runs": [s["wall_s"] for s in aggregate],
        "cpu_s": median([s["cpu_s"] for s in aggregate]),
        "peak_rss_mib": max(s["peak_rss_mib"] for s in aggregate),
        "rss_before_mib": aggregate[0]["rss_start_mib"],
        "tracemalloc_peak_mib": child.result["tracemalloc_peak_mib"], "other_cpu_s": child.other_cpu_s(),
        "load_snapshot_s": steps["load_snapshot"]["wall_s"],
        "load_peak_rss_mib": steps["load_snapshot"]["peak_rss_mib"],
        "cards": {k: child.result[k] for k in ("services", "slo_scorecards", "responders", "problems")},
    }


def bench_render(repeats: int) -> Json:
    scale = Scale()
    snapshot, built = ensure_snapshot(scale, prepare_dataset(scale.services, RUN_SPACING))
    runs = []
    for n in range(repeats):
        child = stage("render", "--snapshot", snapshot)
        child.result["other_cpu_s"] = child.other_cpu_s()
        runs.append(child.result)
        s = child.result["steps"]
        log(f"render run {n + 1}/{repeats}: charts {s['charts']['wall_s']:.1f} s, html {s['html']['wall_s']:.1f} s, "
            f"pdf {s['pdf']['wall_s']:.1f} s")
    steps = {}
    for name in ("charts", "html", "pdf"):
        steps[name] = {"wall_s": median([r["steps"][name]["wall_s"] for r in runs]),
                       "cpu_s": median([r["steps"][name]["cpu_s"] for r in runs]),
                       "peak_rss_mib": max(r["steps"][name]["peak_rss_mib"] for r in runs),
                       "rss_start_mib": median([r["steps"][name]["rss_start_mib"] for r in runs]),
                       "wall_s_runs": [r["steps"][name]["wall_s"] for r in runs]}
    html_pdf = median([r["steps"]["html"]["wall_s"] + r["steps"]["pdf"]["wall_s"] for r in runs])
    last = runs[-1]
    return {"snapshot": built, "repeats": repeats, "steps": steps, "html_plus_pdf_s": html_pdf,
            "target_html_plus_pdf_s": 30.0, "pdf_pages": last["pdf_pages"], "pdf_bytes": last["pdf_bytes"],
            "html_bytes": last["html_bytes"], "charts": last["charts"],
            "library_timings_s": last["library_timings_s"],
            "process_peak_rss_mib": max(r["process_peak_rss_mib"] for r in runs),
            "other_cpu_s": median([r["other_cpu_s"] for r in runs])}


# --- the whole run, and how it scales ----------------------------------------------------------------


RUN_LINE = re.compile(r"opsmeeting: (\w+): (\w+), (\d+) requests in ([\d.]+) s$", re.MULTILINE)
RENDERED_LINE = re.compile(r"opsmeeting: rendered (.*)$", re.MULTILINE)


def parse_run_output(stderr: str) -> Json:
    """Stage times from ``opsmeeting run``'s own lines on stderr (``<time> opsmeeting: pagerduty: ok, 1373
    requests in 20.1 s`` and ``<time> opsmeeting: rendered charts 0.51 s · html 1.02 s · pdf 20.37 s``)."""
    stages: Json = {}
    for name, status, requests, seconds in RUN_LINE.findall(stderr):
        stages[name] = {"status": status, "requests": int(requests), "wall_s": float(seconds)}
    match = RENDERED_LINE.search(stderr)
    if match:
        for part in match.group(1).split(" · "):
            words = part.split()
            if len(words) >= 2 and words[-1] == "s":
                stages[words[0]] = {"wall_s": float(words[-2])}
    return stages


class Environment:
    """Prometheus on the SLO dataset and the PagerDuty fake on a generated organisation, one scale."""

    def __init__(self, scale: Scale, name: str) -> None:
        self.scale, self.work = scale, OUT / name
        self.stack = ExitStack()

    def __enter__(self) -> Environment:
        self.info = prepare_dataset(self.scale.services, RUN_SPACING)
        self.server = start_prometheus(self.info)
        self.stack.callback(self.server.stop)
        log(f"generating {self.scale.services} services, {self.scale.incidents} incidents")
        self.org = generate_org(self.scale)
        self.fake = start_fake(self.org)
        self.stack.callback(self.fake.stop)
        self.smtp = SmtpSink().start()
        self.stack.callback(self.smtp.stop)
        self.config = write_config(self.work / "config.yaml", self.org, services=self.scale.services,
                                   prometheus_url=self.server.url, pagerduty=self.fake, output=self.work / "reports",
                                   smtp_port=self.smtp.port)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()
        self.org = self.fake = None
        gc.collect()

    def pipeline(self) -> Any:
        cpu0 = process_cpu(self.server.pid)
        child = stage("pipeline", "--config", self.config, "--window", window_text(), "--as-of", iso(AS_OF),
                      env={TOKEN_ENV: TOKEN})
        child.result["prometheus_cpu_s"] = process_cpu(self.server.pid) - cpu0
        child.result["fake_cpu_s"] = child.host_cpu_s
        child.result["other_cpu_s"] = child.other_cpu_s(child.result["prometheus_cpu_s"])
        return child


PIPELINE_STAGES = ("config", "pagerduty", "prometheus", "snapshot_build", "snapshot_write", "history",
                   "aggregation", "wheel", "charts", "html", "pdf", "report_files", "email", "archive_index")


def _pipeline_summary(child: Any) -> Json:
    r = child.result
    return {"stages": {k: r["steps"][k] for k in PIPELINE_STAGES if k in r["steps"]},
            "total_wall_s": r["total_wall_s"], "other_wall_s": r["other_wall_s"], "exit_code": r["exit_code"],
            "message": r["message"], "process_peak_rss_mib": r["process_peak_rss_mib"],
            "process_wall_s": child.wall_s, "process_cpu_s": child.cpu_s, "sources": r["sources"],
            "fake_cpu_s": r["fake_cpu_s"], "prometheus_cpu_s": r["prometheus_cpu_s"], "other_cpu_s": r["other_cpu_s"],
            "pdf_pages": r["pdf_pages"],
            "pdf_bytes": r["pdf_bytes"], "html_bytes": r["html_bytes"], "incidents": r["incidents"],
            "snapshot_dir": r.get("snapshot_dir"), "snapshot_parts": r.get("snapshot_parts", {}),
            "snapshot_bytes": r.get("snapshot_bytes")}


def bench_run(repeats: int) -> Json:
    scale = Scale()
    opsmeeting = Path(sys.executable).parent / "opsmeeting"
    command = [str(opsmeeting)] if opsmeeting.exists() else [sys.executable, "-m", "opsmeeting.cli"]
    with Environment(scale, "run") as env:
        cli_runs: list[Json] = []
        for n in range(repeats):
            cpu0 = process_cpu(env.server.pid)
            sent = env.smtp.messages
            child = run_child([*command, "run", "--config", env.config, "--window", window_text(), "--as-of",
                               iso(AS_OF), "--force"], env={TOKEN_ENV: TOKEN})
            if child.returncode not in (0, 3):
                child.check()
            prom_cpu = process_cpu(env.server.pid) - cpu0
            cli_runs.append({"exit_code": child.returncode, "wall_s": child.wall_s, "cpu_s": child.cpu_s,
                             "peak_rss_mib": child.maxrss_mib, "fake_cpu_s": child.host_cpu_s,
                             "prometheus_cpu_s": prom_cpu, "other_cpu_s": child.other_cpu_s(prom_cpu),
                             "emails_received": env.smtp.messages - sent,
                             "stages": parse_run_output(child.stderr), "stderr": child.stderr[-2000:]})
            log(f"run {n + 1}/{repeats}: opsmeeting run {child.wall_s:.1f} s, peak {child.maxrss_mib:.0f} MiB, "
                f"exit {child.returncode}")
        log("run: the same run through the library, each stage metered")
        instrumented = _pipeline_summary(env.pipeline())
        samples, incidents = env.info.samples, len(env.org.incidents)
        entries, email_bytes = len(env.org.log_entries), env.smtp.bytes / max(env.smtp.messages, 1)
    stage_names = sorted({k for r in cli_runs for k in r["stages"]})
    cli_stages = {k: median([r["stages"][k]["wall_s"] for r in cli_runs if k in r["stages"]]) for k in stage_names}
    pd_requests = cli_runs[0]["stages"].get("pagerduty", {}).get("requests", 0)
    wall = median([r["wall_s"] for r in cli_runs])
    peak = max(r["peak_rss_mib"] for r in cli_runs)
    return {
        "scale": {"services": scale.services, "teams": scale.teams, "incidents": incidents, "log_entries": entries,
                  "slos": scale.services * 2, "prometheus_samples": samples, "prometheus_spacing_s": RUN_SPACING,
                  "prometheus_days": 29},
        "repeats": repeats,
        "cli": {"wall_s": wall, "wall_s_runs": [r["wall_s"] for r in cli_runs],
                "cpu_s": median([r["cpu_s"] for r in cli_runs]), "peak_rss_mib": peak,
                "fake_cpu_s": median([r["fake_cpu_s"] for r in cli_runs]),
                "prometheus_cpu_s": median([r["prometheus_cpu_s"] for r in cli_runs]),
                "other_cpu_s": median([r["other_cpu_s"] for r in cli_runs]),
                "exit_codes": [r["exit_code"] for r in cli_runs], "stages_wall_s": cli_stages,
                "last_stderr": cli_runs[-1]["stderr"]},
        "instrumented": instrumented,
        "email": {"received_per_run": [r["emails_received"] for r in cli_runs], "message_bytes": email_bytes,
                  "server": "aiosmtpd on 127.0.0.1 (plain SMTP), in the harness process"},
        "targets": {"wall_s": 60.0, "peak_rss_mib": 1536.0},
        "real_api": {"pagerduty_requests": pd_requests, "floor_s": real_api_floor_s(pd_requests),
                     "wall_with_floor_s": wall - cli_stages.get("pagerduty", 0.0) + real_api_floor_s(pd_requests)},
    }


def bench_scaling(repeats: int) -> Json:
    """The whole run at 1×, 2× and 4× (``repeats`` runs per scale, a fresh process each), then the
    snapshot of the last run read back alone in a fresh process, as ``opsmeeting render`` reads it."""
    rows = []
    for factor in SCALING:
        scale = Scale().times(factor)
        log(f"scaling ×{factor}: {scale.services} services, {scale.incidents} incidents")
        with Environment(scale, f"scaling-{factor}x") as env:
            runs = []
            for n in range(repeats):
                runs.append(_pipeline_summary(env.pipeline()))
                log(f"scaling ×{factor} run {n + 1}/{repeats}: {runs[-1]['total_wall_s']:.1f} s, "
                    f"peak {runs[-1]['process_peak_rss_mib']:.0f} MiB")
            read = stage("snapshot-read", "--dir", runs[-1]["snapshot_dir"])
            entries = len(env.org.log_entries)
            floor = request_floor(env.org, runs[-1]["incidents"], entries, scale.services)
        summary = dict(runs[-1])
        for key in ("total_wall_s", "process_wall_s", "process_cpu_s"):
            summary[key] = median([r[key] for r in runs])
            summary[f"{key}_runs"] = [r[key] for r in runs]
        summary["process_peak_rss_mib"] = median([r["process_peak_rss_mib"] for r in runs])
        summary["process_peak_rss_mib_runs"] = [r["process_peak_rss_mib"] for r in runs]
        summary["stages"] = {k: {**runs[-1]["stages"][k], "wall_s": median([r["stages"][k]["wall_s"] for r in runs]),
                                 "peak_rss_mib": max(r["stages"][k]["peak_rss_mib"] for r in runs)}
                             for k in runs[-1]["stages"]}
        requests = [r["sources"]["pagerduty"]["requests"] for r in runs]
        summary["snapshot_uncompressed_bytes"] = uncompressed_bytes(runs[-1]["snapshot_dir"])
        summary.update({"factor": factor, "services": scale.services, "teams": scale.teams, "log_entries": entries,
                        "prometheus_samples": env.info.samples, "slos": scale.services * 2,
                        "pagerduty_requests": median(requests), "pagerduty_requests_runs": requests,
                        "request_floor": floor, "snapshot_read_s": _step(read, "load_snapshot")["wall_s"],
                        "snapshot_read_peak_rss_mib": read.result["process_peak_rss_mib"],
                        "exit_codes": [r["exit_code"] for r in runs]})
        rows.append(summary)
        log(f"scaling ×{factor}: median {summary['total_wall_s']:.1f} s, peak {summary['process_peak_rss_mib']:.0f} "
            f"MiB, snapshot {summary['snapshot_bytes'] / 1e6:.1f} MB read in {summary['snapshot_read_s']:.1f} s")
    return {"rows": rows, "runs_per_scale": repeats, "prometheus_spacing_s": RUN_SPACING,
            "targets": {"peak_rss_mib_4x": 1200e6 / 2**20, "wall_ratio_4x": 4.4, "request_excess": 0.03,
                        "pdf_s_4x": 60.0, "pdf_pages_ratio_4x": 2.0, "compress_above_bytes": 100e6}}


def uncompressed_bytes(directory: str | None) -> int | None:
    """A snapshot's size as plain JSON: each part's size, a gzip part's from its trailer (ISIZE: the
    uncompressed size modulo 2**32, exact below 4 GiB)."""
    if not directory or not Path(directory).is_dir():
        return None
    total = 0
    for part in Path(directory).iterdir():
        if part.suffix == ".gz":
            with part.open("rb") as handle:
                handle.seek(-4, 2)
                total += int.from_bytes(handle.read(4), "little")
        else:
            total += part.stat().st_size
    return total


def bench_ratelimit(repeats: int) -> Json:
    """PagerDuty's rate limit, simulated: the fake refuses past 960 requests a minute (429, with its
    headers), and opsmeeting collects the 1× organisation with its default pacing (the account's
    rate-limit headers). Its time against the request floor (its requests at 960 a minute)."""
    del repeats  # each run takes the minutes the limit imposes: one
    scale = Scale()
    org = generate_org(scale)
    work = OUT / "ratelimit"
    with ExitStack() as stack:
        fake = start_fake(org, rate_limit=REAL_API_PER_MINUTE)
        stack.callback(fake.stop)
        config = write_config(work / "config.yaml", org, services=scale.services, prometheus_url=None,
                              pagerduty=fake, output=work / "reports", pace=None)
        log("ratelimit: collecting the 1× organisation against a fake that enforces 960 requests a minute")
        child = stage("pd-collect", "--config", config, "--window", window_text(), "--ids", work / "ids.json",
                      env={TOKEN_ENV: TOKEN})
        refused, counts = fake.rate_limited, fake.request_counts()
    collect = _step(child, "collect")
    status = child.result["status"]
    floor = real_api_floor_s(status["requests"])
    log(f"ratelimit: {collect['wall_s']:.1f} s for {status['requests']} requests (floor {floor:.1f} s), "
        f"{refused} refused")
    return {"limit_per_minute": REAL_API_PER_MINUTE, "wall_s": collect["wall_s"], "cpu_s": collect["cpu_s"],
            "requests": status["requests"], "status": status["status"], "refused_429": refused,
            "server_counts": counts, "floor_s": floor, "ratio_to_floor": collect["wall_s"] / floor,
            "incidents": child.result["incidents"], "log_entries": child.result["log_entries"],
            "target_ratio": 1.05}


# --- start-up ------------------------------------------------------------------------------------------

STARTUP_COMMANDS = (("opsmeeting --help", ["--help"]), ("opsmeeting wheel show", ["wheel", "show", "-c", "{config}"]),
                    ("opsmeeting item list", ["item", "list", "-c", "{config}"]))
STARTUP_RUNS = 15


def bench_startup(repeats: int) -> Json:
    """Wall time of a meeting-room command from process start to exit (the console script, a fresh
    interpreter each time), median of STARTUP_RUNS, with and without the bytecode cache warm."""
    import statistics
    import subprocess

    del repeats
    folder = OUT / "startup"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "opsmeeting.yaml"
    config.write_text(
        "rotation: {length: 14d, anchor: '2026-01-12T09:00:00', timezone: Europe/Lisbon}\n"
        "teams: [{name: payments}, {name: search}]\n"
        "services: [{name: checkout, team: payments, pagerduty_service_ids: [PS1]}]\n"
        f"state: {{path: {folder / 'state.sqlite'}}}\n")
    script = ROOT / ".venv" / "bin" / "opsmeeting"
    rows = []
    for label, args in STARTUP_COMMANDS:
        argv = [str(script), *(a.format(config=config) for a in args)]
        subprocess.run(argv, capture_output=True, check=False)  # warm the bytecode cache
        times = []
        for _ in range(STARTUP_RUNS):
            began = time.perf_counter()
            done = subprocess.run(argv, capture_output=True, check=False)
            times.append(time.perf_counter() - began)
            assert done.returncode == 0, done.stderr.decode()[-500:]
        rows.append({"command": label, "median_s": statistics.median(times), "min_s": min(times),
                     "max_s": max(times), "runs": len(times)})
        log(f"startup: {label} {statistics.median(times):.3f} s")
    return {"rows": rows, "goal_s": 0.3}


# --- main ----------------------------------------------------------------------------------------------


BENCHES: dict[str, Callable[[int], Json]] = {
    "pagerduty": bench_pagerduty, "prometheus": bench_prometheus, "aggregate": bench_aggregate,
    "render": bench_render, "run": bench_run, "scaling": bench_scaling, "ratelimit": bench_ratelimit,
    "startup": bench_startup,
}


def code_version() -> Json:
    """The commit measured, and whether the library or the fakes had uncommitted changes (others edit
    the repository while benchmarks run: each section records what it measured)."""
    import subprocess

    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return proc.stdout.strip()

    return {"commit": git("rev-parse", "--short", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--", "opsmeeting", "tests/fakes", "pyproject.toml"))}


def save(section: str, data: Json, version: Json) -> None:
    import report

    results = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.is_file() else {}
    results["machine"] = machine()
    results["settings"] = {"quiet_max_wait_s": QUIET_MAX_WAIT_S, "quiet_busy_fraction": QUIET_BUSY_FRACTION}
    results[section] = {**data, "measured_at": iso(datetime.now(UTC)), "code": version,
                        "code_at_end": code_version()}
    RESULTS_JSON.write_text(json.dumps(results, indent=1, default=str) + "\n")
    (BENCH / "RESULTS.md").write_text(report.render(results))
    report.plot_scaling(results, BENCH / "scaling.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("which", nargs="*", default=["all"], choices=[*BENCHES, "all", "report"])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement where the runtime allows")
    args = parser.parse_args(argv)
    names = list(BENCHES) if "all" in args.which else [w for w in args.which if w != "report"]
    OUT.mkdir(parents=True, exist_ok=True)
    for name in names:
        began, version = time.perf_counter(), code_version()
        log(f"== {name} (opsmeeting {version['commit']}{', uncommitted changes' if version['dirty'] else ''})")
        data = BENCHES[name](args.repeat)
        data["bench_wall_s"] = time.perf_counter() - began
        save(name, data, version)
        log(f"== {name} done in {data['bench_wall_s']:.0f} s")
    if "report" in args.which:
        import report

        (BENCH / "RESULTS.md").write_text(report.render(json.loads(RESULTS_JSON.read_text())))
    print(f"wrote {RESULTS_JSON.relative_to(ROOT)} and bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
