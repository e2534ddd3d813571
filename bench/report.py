"""``bench/results.json`` → ``bench/RESULTS.md``: tables only, every number from the JSON.

``render(results)`` is called by ``run_bench.py`` after each sub-benchmark; a section not measured
yet says which command measures it. ``python bench/report.py`` regenerates the file alone.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Json = dict[str, Any]
STAGE_LABELS = {
    "config": "configuration", "pagerduty": "PagerDuty collection", "prometheus": "Prometheus collection",
    "snapshot_build": "snapshot assembly", "snapshot_write": "snapshot written", "history": "history (store)",
    "aggregation": "aggregation", "wheel": "Ops Wheel (store)", "charts": "charts", "html": "HTML", "pdf": "PDF",
    "report_files": "report files written", "email": "email (build + SMTP)", "archive_index": "archive index",
}


def s(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f} s"


def n(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def mb(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} MiB"


def x(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}×"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("**met**" if ok else "**missed**")


def missing(name: str) -> str:
    return f"_Not measured yet: `python bench/run_bench.py {name}`._"


def runs_note(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


# --- sections ----------------------------------------------------------------------------------------


def machine(r: Json) -> str:
    m = r.get("machine") or {}
    if not m:
        return ""
    pk = m.get("packages", {})
    rows: list[list[Any]] = [
        ["cores (nproc)", m.get("nproc")], ["CPU", m.get("cpu_model")], ["memory", f"{m.get('mem_total_gib')} GiB"],
        ["kernel", m.get("kernel")], ["Python", m.get("python")], ["Prometheus", m.get("prometheus")],
        ["packages", ", ".join(f"{k} {v}" for k, v in pk.items())],
    ]
    return "## Machine\n\n" + table(["", ""], rows)


def headline(r: Json) -> str:
    rows: list[list[Any]] = []
    run, pdr, prom = r.get("run"), r.get("pagerduty"), r.get("prometheus")
    agg, ren = r.get("aggregate"), r.get("render")
    if run:
        cli = run["cli"]
        rows.append([f"`opsmeeting run`, whole organisation ({run['scale']['services']} services, "
                     f"{run['scale']['incidents']:,} incidents, {run['scale']['log_entries']:,} log entries, "
                     f"{run['scale']['slos']:,} SLOs), fakes, PagerDuty pacing off",
                     f"{s(cli['wall_s'])} (median of {run['repeats']})", "< 60 s",
                     verdict(cli["wall_s"] < run["targets"]["wall_s"])])
        rows.append(["peak memory of that run (max RSS)", mb(cli["peak_rss_mib"]), "< 1.5 GB (1,536 MiB)",
                     verdict(cli["peak_rss_mib"] < run["targets"]["peak_rss_mib"])])
        api = run["real_api"]
        rows.append(["the same run against the real PagerDuty: its collection cannot beat the rate limit",
                     f"≥ {s(api['wall_with_floor_s'])} ({api['pagerduty_requests']:,} requests ≥ "
                     f"{s(api['floor_s'])} at 960/min)", "< 60 s", verdict(api["wall_with_floor_s"] < 60)])
    if pdr:
        o = pdr["opsmeeting"]
        rows.append([f"PagerDuty collection ({pdr['data']['incidents']:,} incidents, "
                     f"{pdr['data']['log_entries']:,} log entries) on the fake",
                     f"{s(o['wall_s'])}, {o['requests']:,} requests (data: {o['data_requests']:,}; minimum "
                     f"{pdr['minimum_requests']:,})", "—", "—"])
        rows.append(["naive script (iter_all + one request per incident) on the same fake",
                     f"{s(pdr['naive']['wall_s'])}, {pdr['naive']['requests']:,} requests "
                     f"({x(pdr['ratios']['naive_vs_opsmeeting_requests'])} opsmeeting's)", "—", "—"])
    if prom and "500" in prom["sizes"]:
        p = prom["sizes"]["500"]
        rows.append(["500 SLOs from Prometheus (14-day window): opsmeeting's collector vs slo-generator 2.6.0",
                     f"{s(p['opsmeeting']['wall_s'], 2)} vs {s(p['slo_generator']['wall_s'], 2)}: "
                     f"{x(p['speedup'])} faster", "≥ 5×", verdict(p["speedup"] >= 5)])
        w = p.get("opsmeeting_window_only")
        if w:
            rows.append(["the same 500 window SLIs only (what slo-generator computes), opsmeeting's queries",
                         f"{s(w['wall_s'], 2)}, {w['requests']} requests: {x(p['speedup_window_only'])} faster",
                         "≥ 5×", verdict(p["speedup_window_only"] >= 5)])
    if agg:
        rows.append([f"aggregation (`build_scorecards`, {agg['snapshot']['services']} services, "
                     f"{agg['snapshot']['measurements']:,} SLO measurements)",
                     f"{s(agg['wall_s'], 2)} (median of {agg['repeats']}), peak {mb(agg['peak_rss_mib'])}", "—", "—"])
    if ren:
        rows.append(["HTML + PDF of the 500-service report", f"{s(ren['html_plus_pdf_s'])} "
                     f"(median of {ren['repeats']}; {ren['pdf_pages']} PDF pages)", "< 30 s",
                     verdict(ren["html_plus_pdf_s"] < ren["target_html_plus_pdf_s"])])
    if r.get("scaling") and "request_floor" in r["scaling"]["rows"][0]:
        rows += scaling_targets(r["scaling"])
    if r.get("ratelimit"):
        q = r["ratelimit"]
        rows.append([f"the 1× collection against a fake enforcing PagerDuty's {q['limit_per_minute']} requests a "
                     f"minute", f"{s(q['wall_s'])} for {q['requests']:,} requests, {q['refused_429']} refused: "
                     f"{q['ratio_to_floor']:.2f}× the floor ({s(q['floor_s'])})", "no failed request, ≤ 1.05×",
                     verdict(q["status"] == "ok" and q["ratio_to_floor"] <= q["target_ratio"])])
    email = (run or {}).get("instrumented", {}).get("stages", {}).get("email")
    rows.append(["email delivery (PDF attached, SMTP on loopback)",
                 s(email["wall_s"], 2) if email else "not implemented yet", "—", "—"])
    return "## Headline\n\n" + table(["measure", "result", "target", ""], rows)


def pagerduty(r: Json) -> str:
    p = r.get("pagerduty")
    if not p:
        return "## PagerDuty: requests against the minimum\n\n" + missing("pagerduty")
    o, nv = p["opsmeeting"], p["naive"]
    endpoints = sorted(set(o["requests_by_endpoint"]) | set(nv["requests_by_endpoint"]))
    rows = [[f"`{e}`", n(o["requests_by_endpoint"].get(e)), n(nv["requests_by_endpoint"].get(e))] for e in endpoints]
    rows.append(["**total**", f"**{o['requests']:,}**", f"**{nv['requests']:,}**"])
    rows.append(["minimum for the data: ⌈incidents/100⌉ + ⌈log entries/100⌉", n(p["minimum_requests"]),
                 n(p["minimum_requests"])])
    rows.append(["wall time on the fake", f"{s(o['wall_s'])} (median of {p['repeats']}: {runs_note(o['wall_s_runs'])})",
                 f"{s(nv['wall_s'])} (1 run)"])
    rows.append(["client CPU", s(o["cpu_s"]), s(nv["cpu_s"])])
    rows.append(["the fake's CPU serving it (same process as the harness)", s(o["fake_cpu_s"]), s(nv["fake_cpu_s"])])
    rows.append(["other processes' CPU meanwhile (shared machine)", s(o["other_cpu_s"]), s(nv["other_cpu_s"])])
    rows.append(["peak RSS of the collecting process", mb(o["peak_rss_mib"]), mb(nv["peak_rss_mib"])])
    rows.append(["floor against the real API (960 requests/min)", s(p["real_api"]["opsmeeting_floor_s"]),
                 s(p["real_api"]["naive_floor_s"])])
    same = p["same_data"]
    d = p["data"]
    text = [
        "## PagerDuty: requests against the minimum",
        f"{d['services']} services in {d['teams']} teams, {d['users']} users, {d['schedules']} schedules, "
        f"{d['incidents']:,} incidents and {d['log_entries']:,} log entries "
        f"(`tests/fakes/pagerduty_data.generate_org`, seed 1) on the HTTPS fake (`tests/fakes/pagerduty.py`) "
        f"with **validation off** in the timed runs "
        f"(openapi-core costs ~7 ms a request on the fake's side). One more, untimed, opsmeeting run had the "
        f"fake validate every request against PagerDuty's OpenAPI document: "
        f"{p['fake']['spec_errors_in_validated_run']} errors. opsmeeting: the collector as `opsmeeting run` builds it "
        f"(concurrency 4, `requests_per_minute: 0`). Naive: `RestApiV2Client.iter_all('incidents')` per day, then "
        f"`iter_all('incidents/{{id}}/log_entries')` for each incident, sequential.",
        table(["endpoint", "opsmeeting", "naive script"], rows),
        f"- opsmeeting made {x(p['ratios']['requests_vs_minimum'])} the minimum for the data "
        f"({o['data_requests']:,} data requests against {p['minimum_requests']:,}, plus reference data: priorities, "
        f"users, teams, services, schedules); the naive script made {x(p['ratios']['naive_vs_opsmeeting_requests'])} "
        f"as many requests as opsmeeting and took {x(p['ratios']['naive_vs_opsmeeting_wall'])} as long on the fake, "
        f"where a request costs ~2 ms: the wall-time ratio on loopback understates what the request ratio costs "
        f"against the real API.",
        f"- Same data: incidents {'identical' if same['incidents_equal'] else 'DIFFERENT'}, log entries "
        f"{'identical' if same['log_entries_equal'] else 'DIFFERENT'} (by id) between the two collections.",
        f"- The trap the naive script first falls into: one `iter_all` over the whole window returned "
        f"{nv['one_shot']['incidents']:,} of {d['incidents']:,} incidents ({nv['one_shot']['requests']} requests), "
        f"silently (a logged warning at offset 10,000).",
        f"- Real PagerDuty allows 960 requests a minute: opsmeeting's {o['requests']:,} requests need at least "
        f"{s(p['real_api']['opsmeeting_floor_s'])} at a perfect pace (the data alone, "
        f"{s(p['real_api']['minimum_floor_s'])}; what opsmeeting takes against the limit: \"PagerDuty's rate limit, "
        f"simulated\" below); the naive script's need "
        f"{p['real_api']['naive_floor_s'] / 60:.0f} minutes.",
    ]
    return "\n\n".join(text)


def prometheus(r: Json) -> str:
    p = r.get("prometheus")
    if not p:
        return "## Prometheus: opsmeeting and slo-generator side by side\n\n" + missing("prometheus")
    sizes = sorted(p["sizes"].values(), key=lambda v: v["slos"])
    rows = []
    for v in sizes:
        o, g, w = v["opsmeeting"], v["slo_generator"], v.get("opsmeeting_window_only") or {}
        rows.append([f"{v['slos']} ({v['services']} services × 2)", f"{v['samples'] / 1e6:.1f} M",
                     f"{s(o['wall_s'], 2)} / {o['requests']}", f"{s(w.get('wall_s'), 2)} / {w.get('requests', '—')}",
                     f"{s(g['wall_s'], 2)} / {g['requests']:,}", x(v["speedup"]), x(v.get("speedup_window_only")),
                     f"{s(o['cpu_s'], 2)} / {s(g['cpu_s'], 2)}",
                     f"{s(o['prometheus_cpu_s'], 2)} / {s(g['prometheus_cpu_s'], 2)}",
                     f"{s(o['other_cpu_s'], 2)} / {s(g['other_cpu_s'], 2)}",
                     "exact" if v["verification"]["ok"] else f"**{v['verification']['problem_count']} problems**"])
    big = sizes[-1]
    diff = big["verification"]["max_abs_sli_difference"]
    text = [
        "## Prometheus: opsmeeting and slo-generator side by side",
        "An **SLO** here is one (service, SLO definition) pair: *availability* (good = "
        "`http_requests_total{code!~\"5..\"}`, total = all requests, objective 99.9 %) and *latency* (good = "
        "requests in the `le=\"0.25\"` bucket of `http_request_duration_seconds`, total = `_count`, objective 99 %) "
        f"for each service, over the 14-day window ending {p.get('window_end', '2026-11-02T08:00Z')}. Data: "
        f"`tests/fakes/slo_data.dataset` (counter resets, diurnal traffic, incidents, low traffic; the no-data shape "
        f"replaced by a steady one), one sample every {sizes[0]['spacing_s']} s over 29 days, backfilled into "
        "Prometheus 2.42 (`promtool`), served by our own server on 127.0.0.1. Both tools ran against the same "
        f"server in the same run, alternately, after one untimed warm-up each; medians of {p['repeats']} runs.",
        "- **opsmeeting**: `PrometheusCollector.collect` as `opsmeeting run` builds it (concurrency 4): grouped "
        "queries per SLO definition, never per service: window good/total, previous window, 28-day period total, "
        "hourly series (range queries) and, for latency, the p50/p99 quantiles. It computes much more than the "
        "window SLI.\n- **opsmeeting, window only**: just the window good and total, the same two grouped queries "
        "through the collector's own client, one after the other: the same work slo-generator does.\n"
        "- **slo-generator 2.6.0** (its own virtualenv), through `compute()` as its `compute` command does, one "
        "generated config per SLO (`good_bad_ratio` with `filter_good`/`filter_valid`; `distribution_cut` with "
        "`threshold_bucket: 0.25`); its Prometheus backend ignores `--timestamp`, so each filter pins the time with "
        "`[window] @ <end>`. Timed in-process after its imports.",
        table(["SLOs", "samples", "opsmeeting s / requests", "window only s / requests", "slo-generator s / requests",
               "speed-up", "speed-up, window only", "client CPU (ops / slo-gen)", "Prometheus CPU (ops / slo-gen)",
               "other processes' CPU", "SLIs vs truth"], rows),
        f"Verification ({big['slos']} SLOs): good and total events are equal, exactly, between opsmeeting, "
        f"slo-generator and the dataset's ground truth; the largest SLI difference is "
        f"{max(diff['opsmeeting_vs_truth'], diff['slogen_vs_truth'], diff['opsmeeting_vs_slogen']):.1e} "
        f"(tolerance 1e-9). slo-generator's own `sli_measurement` is rounded to 6 decimals "
        f"(off by up to {diff['slogen_rounded_sli_vs_truth']:.1e}) and its burn rate to 1 decimal. "
        f"slo-generator's requests go to loopback without TLS and without a session (a new connection each): "
        f"against a remote server each of its {big['slo_generator']['requests']:,} requests pays a round trip, "
        f"opsmeeting's {big['opsmeeting']['requests']} barely notice.",
    ]
    return "\n\n".join(text)


def aggregate(r: Json) -> str:
    a = r.get("aggregate")
    if not a:
        return "## Aggregation\n\n" + missing("aggregate")
    snap = a["snapshot"]
    rows = [
        ["`build_scorecards` wall time",
         f"{s(a['wall_s'], 2)} (median of {a['repeats']}: {runs_note(a['wall_s_runs'])})"],
        ["CPU time", s(a["cpu_s"], 2)],
        ["peak RSS during aggregation (process, snapshot loaded)", mb(a["peak_rss_mib"])],
        ["RSS before (the loaded snapshot)", mb(a["rss_before_mib"])],
        ["peak of Python allocations during one aggregation (tracemalloc)", mb(a["tracemalloc_peak_mib"])],
        ["reading the snapshot from disk (not part of the stage)", f"{s(a['load_snapshot_s'], 2)}"],
        ["other processes' CPU meanwhile", s(a["other_cpu_s"])],
    ]
    return "\n\n".join([
        "## Aggregation",
        f"A synthetic snapshot of the organisation: {snap['services']} services, {snap['incidents']:,} incidents, "
        f"{snap['log_entries']:,} log entries, {snap['measurements']:,} SLO measurements with **hourly** bins "
        f"({snap['bins']:,} bins, the collector's own step). Built from the PagerDuty generator's API objects "
        f"through the collector's own mapping (`PagerDutyCollector._incident`/`_entry`), and from the SLO dataset's "
        f"exact truth (window, previous, period, daily, hourly bad events; hourly totals spread evenly over each "
        f"day). Measured in a fresh process.",
        table(["", ""], rows),
        f"Output: {a['cards']['services']} service scorecards, {a['cards']['slo_scorecards']:,} SLO scorecards, "
        f"{a['cards']['responders']} responders, {a['cards']['problems']} recurring problems.",
    ])


def render_section(r: Json) -> str:
    p = r.get("render")
    if not p:
        return "## Rendering\n\n" + missing("render")
    rows = [[name, f"{s(v['wall_s'], 2)} ({runs_note(v['wall_s_runs'])})", s(v["cpu_s"], 2), mb(v["rss_start_mib"]),
             mb(v["peak_rss_mib"])] for name, v in p["steps"].items()]
    return "\n\n".join([
        "## Rendering",
        f"`render_report` on the same 500-service snapshot, {p['repeats']} fresh processes; each step metered "
        f"inside the library's own call (charts = `render_charts`; HTML = the screen page; PDF = the print page "
        f"and WeasyPrint). The PDF has {p['pdf_pages']} pages ({p['pdf_bytes'] / 1e6:.1f} MB), the HTML is "
        f"{p['html_bytes'] / 1e6:.1f} MB.",
        table(["step", "wall time, median (runs)", "CPU", "RSS at start", "peak RSS during the step"], rows),
        f"HTML + PDF: **{s(p['html_plus_pdf_s'])}** (target < 30 s: {verdict(p['html_plus_pdf_s'] < 30)}). "
        f"Other processes' CPU during a run (median): {s(p['other_cpu_s'])}.",
    ])


def run_section(r: Json) -> str:
    p = r.get("run")
    if not p:
        return "## The whole run\n\n" + missing("run")
    cli, inst = p["cli"], p["instrumented"]
    sc = p["scale"]
    rows = []
    for key, label in STAGE_LABELS.items():
        st = inst["stages"].get(key)
        if st is None:
            continue
        rows.append([label, s(cli["stages_wall_s"].get(key), 2) if key in cli["stages_wall_s"] else "",
                     s(st["wall_s"], 2), s(st["cpu_s"], 2), mb(st["rss_start_mib"]), mb(st["peak_rss_mib"])])
    if "email" not in inst["stages"]:
        rows.append(["email", "not implemented yet", "not implemented yet", "—", "—", "—"])
    if inst.get("other_wall_s") is not None:
        rows.append(["other (store, ledger, lock, not wrapped)", "", s(inst["other_wall_s"], 2), "", "", ""])
    rows.append(["**total**", f"**{s(cli['wall_s'])}** (process)", f"{s(inst['total_wall_s'])}",
                 s(inst["process_cpu_s"]), "", f"**{mb(cli['peak_rss_mib'])}** (CLI max RSS)"])
    api = p["real_api"]
    return "\n\n".join([
        "## The whole run, per stage",
        f"`opsmeeting run --config … --window {p.get('window', '2026-10-19T08:00Z/2026-11-02T08:00Z')} --as-of …` "
        f"against the PagerDuty fake ({sc['services']} services, {sc['teams']} teams, {sc['incidents']:,} incidents, "
        f"{sc['log_entries']:,} log entries, 50 schedules; pacing off) and a real Prometheus backfilled with "
        f"{sc['prometheus_samples'] / 1e6:.1f} M samples ({sc['services']} services, 29 days, one sample every "
        f"{sc['prometheus_spacing_s']} s) for {sc['slos']:,} SLOs (availability and latency per service). "
        f"CLI: {p['repeats']} runs (wall {runs_note(cli['wall_s_runs'])} s; exit codes {cli['exit_codes']}), the "
        f"process measured by `wait4` (max RSS, user + system CPU), its stage times parsed from its own output. "
        f"Per stage: one more run of the same steps through the library in a fresh process (`bench/stage.py "
        f"pipeline`), each stage's peak RSS measured alone (the kernel's peak mark is reset before each stage).",
        table(["stage", "CLI wall (median)", "wall", "CPU", "RSS at start", "peak RSS"], rows),
        f"During the CLI runs (medians): the PagerDuty fake used {s(cli['fake_cpu_s'])} of CPU, Prometheus "
        f"{s(cli['prometheus_cpu_s'])}, other processes on the shared machine {s(cli['other_cpu_s'])}. The CLI "
        f"process used {s(cli['cpu_s'])} of CPU. Against the real PagerDuty the collection alone needs at least "
        f"{s(api['floor_s'])} ({api['pagerduty_requests']:,} requests at 960/min), so the same run would take at "
        f"least {s(api['wall_with_floor_s'])}.",
    ])


SCALING_STAGES = ("pagerduty", "prometheus", "snapshot_write", "aggregation", "pdf", "report_files")
GB = 1e9 / 2**20  # MiB in a GB


def scaling_targets(p: Json) -> list[list[Any]]:
    """The scale targets at 4× (issue 19), each with its measure and verdict."""
    rows_in = {row["factor"]: row for row in p["rows"]}
    base, top = rows_in.get(1), rows_in.get(4)
    if base is None or top is None:
        return []
    t = p["targets"]
    excess = [row["pagerduty_requests"] / row["request_floor"] - 1 for row in p["rows"]]
    pdf_4x, pdf_pages = top["stages"]["pdf"]["wall_s"], (top["pdf_pages"], base["pdf_pages"])
    biggest = max(top["snapshot_parts"].items(), key=lambda kv: kv[1]) if top["snapshot_parts"] else ("—", 0)
    return [
        [f"peak RSS of the whole run at 4× ({top['services']:,} services, {top['incidents']:,} incidents, "
         f"{top['log_entries']:,} log entries, {top['slos']:,} SLOs)",
         f"{mb(top['process_peak_rss_mib'])} (median of {len(top['process_peak_rss_mib_runs'])})", "< 1.2 GB "
         f"({t['peak_rss_mib_4x']:,.0f} MiB)", verdict(top["process_peak_rss_mib"] < t["peak_rss_mib_4x"])],
        ["wall time at 4× against 1× (fakes, PagerDuty pacing off)",
         f"{x(top['total_wall_s'] / base['total_wall_s'])} ({s(top['total_wall_s'])} / {s(base['total_wall_s'])})",
         f"≤ {t['wall_ratio_4x']}×", verdict(top["total_wall_s"] / base["total_wall_s"] <= t["wall_ratio_4x"])],
        ["PagerDuty requests over the floor, every scale", ", ".join(f"{row['factor']}×: {e:+.1%}" for row, e in
                                                               zip(p["rows"], excess, strict=True)),
         f"within {t['request_excess']:.0%}", verdict(max(excess) <= t["request_excess"])],
        ["the PDF at 4×: time, and pages against 1×", f"{s(pdf_4x)}; {pdf_pages[0]} pages against {pdf_pages[1]} "
         f"({x(pdf_pages[0] / pdf_pages[1])})", "< 60 s, ≤ 2×",
         verdict(pdf_4x < t["pdf_s_4x"] and pdf_pages[0] <= t["pdf_pages_ratio_4x"] * pdf_pages[1])],
        ["the snapshot at 4×: size on disk and read time", f"{top['snapshot_bytes'] / 1e6:,.1f} MB (largest part "
         f"`{biggest[0]}`, {biggest[1] / 1e6:,.1f} MB"
         + (f"; {top['snapshot_uncompressed_bytes'] / 1e6:,.0f} MB as plain JSON" if top.get(
             "snapshot_uncompressed_bytes") else "") + f"), read in {s(top['snapshot_read_s'])}",
         "compressed past 100 MB", verdict(top["snapshot_bytes"] < t["compress_above_bytes"]
                                           or any(n.endswith(".gz") for n in top["snapshot_parts"]))],
    ]


def scaling(r: Json) -> str:
    p = r.get("scaling")
    if not p:
        return "## Scaling\n\n" + missing("scaling")
    rows_in = p["rows"]
    if "request_floor" not in rows_in[0]:
        return "## Scaling\n\n_An older measurement: run `python bench/run_bench.py scaling` again._"

    def wall(row: Json, key: str) -> float | None:
        if key == "rest":
            return row["total_wall_s"] - sum(row["stages"].get(k, {}).get("wall_s", 0.0) for k in SCALING_STAGES)
        return row["stages"].get(key, {}).get("wall_s")

    runs = p["runs_per_scale"]
    main = [[f"{row['factor']}×", f"{row['services']:,} / {row['incidents']:,} / {row['log_entries']:,} / "
             f"{row['slos']:,}", f"**{s(row['total_wall_s'])}** ({runs_note(row['total_wall_s_runs'])})",
             s(row["process_cpu_s"]), f"**{mb(row['process_peak_rss_mib'])}** "
             f"({', '.join(f'{v:,.0f}' for v in row['process_peak_rss_mib_runs'])})",
             f"{row['pagerduty_requests']:,.0f} (floor {row['request_floor']:,}: "
             f"{row['pagerduty_requests'] / row['request_floor'] - 1:+.1%})",
             f"{row['snapshot_bytes'] / 1e6:,.1f} MB", s(row["snapshot_read_s"]),
             f"{s(row['stages']['pdf']['wall_s'])}, {row['pdf_pages']} pages"] for row in rows_in]
    keys = [*SCALING_STAGES, "rest"]
    labels = [STAGE_LABELS.get(k, "everything else") for k in keys]
    stages = [[f"{row['factor']}×", *[s(wall(row, k), 1) for k in keys],
               *[mb(row["stages"][k]["peak_rss_mib"]) for k in ("pagerduty", "prometheus", "aggregation", "pdf")]]
              for row in rows_in]
    base = rows_in[0]

    def ratio(row: Json, key: str) -> str:
        a, b = wall(row, key), wall(base, key)
        return x(a / b) if a is not None and b else "—"

    growth = [[f"{row['factor']}×", *[ratio(row, k) for k in keys], x(row["total_wall_s"] / base["total_wall_s"]),
               x(row["process_peak_rss_mib"] / base["process_peak_rss_mib"])] for row in rows_in]
    return "\n\n".join([
        "## Scaling",
        f"The whole run (`Runner` through the library, as `opsmeeting run --force` does: collection, snapshot, "
        f"aggregation, charts, HTML, PDF, files, email, archive index) at 1×, 2× and 4× the services, teams and "
        f"incidents of the organisation above, each run in a fresh process; {runs} runs per scale, medians (the "
        f"runs in brackets). Prometheus data at {p['prometheus_spacing_s']} s spacing at every scale, hourly bins. "
        "PagerDuty pacing off, on the fake. Peak RSS: the process's maximum (`VmHWM`). The request floor: "
        "⌈incidents/100⌉ + ⌈log entries/100⌉ + ⌈services/100⌉ + ⌈teams/100⌉ + ⌈users/100⌉ + 1 (priorities) + "
        "one per schedule + 1 (open incidents of earlier rotations) + 1 (maintenance windows). The snapshot: its "
        "files on disk (parts past 16 MiB are gzip-compressed) and the time `read_snapshot` takes to load it in "
        "a fresh process, as `opsmeeting render` does.",
        table(["scale", "services / incidents / log entries / SLOs", "wall", "CPU", "peak RSS",
               "PagerDuty requests", "snapshot", "snapshot read", "PDF"], main),
        "![Time and memory against scale](scaling.png)",
        "Targets at 4×:",
        table(["measure", "result", "target", ""], scaling_targets(p)),
        "Per stage (wall, medians) and the peak RSS of the largest stages:",
        table(["scale", *labels, "peak: PagerDuty", "Prometheus", "aggregation", "PDF"], stages),
        "Growth against 1×:",
        table(["scale", *labels, "total", "peak RSS"], growth),
    ])


def ratelimit(r: Json) -> str:
    p = r.get("ratelimit")
    if not p:
        return "## PagerDuty's rate limit, simulated\n\n" + missing("ratelimit")
    rows = [
        ["incidents / log entries collected", f"{p['incidents']:,} / {p['log_entries']:,}"],
        ["requests", f"{p['requests']:,} (status {p['status']})"],
        ["refused by the limit (429)", f"{p['refused_429']:,}"],
        ["wall time", s(p["wall_s"])],
        [f"the request floor ({p['requests']:,} requests at {p['limit_per_minute']}/min)", s(p["floor_s"])],
        ["time against the floor", f"{p['ratio_to_floor']:.2f}× (target ≤ {p['target_ratio']:.2f}×: "
                                   f"{verdict(p['ratio_to_floor'] <= p['target_ratio'])})"],
    ]
    return "\n\n".join([
        "## PagerDuty's rate limit, simulated",
        f"The 1× organisation collected from a fake that enforces {p['limit_per_minute']} requests a minute per "
        "key, as PagerDuty does: past it, a request gets a 429 with `ratelimit-limit`, `ratelimit-remaining` and "
        "`ratelimit-reset` and is not served (`FakePagerDuty(rate_limit=960)`). opsmeeting runs with its default "
        "pacing, which follows those headers: full speed while the minute's budget lasts, then every worker waits "
        "for its reset. One run (it takes the minutes the limit imposes).",
        table(["", ""], rows),
        "The floor is what a perfect pace of 960 a minute would take; a sliding minute lets the first 960 go at "
        "once, so a collection can finish under it.",
    ])


def plot_scaling(r: Json, path: Path) -> bool:
    """Time and memory against scale, as a PNG (``scaling.png`` beside RESULTS.md)."""
    p = r.get("scaling")
    if not p or "request_floor" not in p["rows"][0]:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = p["rows"]
    factors = [row["factor"] for row in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
    bottom = [0.0] * len(rows)
    for key in ("pagerduty", "prometheus", "aggregation", "pdf"):
        values = [row["stages"][key]["wall_s"] for row in rows]
        ax1.bar(factors, values, bottom=bottom, label=STAGE_LABELS.get(key, key), width=0.6)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    rest = [row["total_wall_s"] - b for row, b in zip(rows, bottom, strict=True)]
    ax1.bar(factors, rest, bottom=bottom, label="everything else", width=0.6, color="#bbbbbb")
    base = rows[0]["total_wall_s"]
    ax1.plot(factors, [base * f for f in factors], "k--", linewidth=1, label="linear from 1×")
    ax1.set(xlabel="scale (× 500 services, 20,000 incidents)", ylabel="wall time (s)", xticks=factors,
            title="Whole run: time")
    ax1.legend(fontsize=7)
    ax2.plot(factors, [row["process_peak_rss_mib"] for row in rows], "o-", label="peak RSS")
    ax2.axhline(p["targets"]["peak_rss_mib_4x"], color="#c0392b", linestyle=":", label="1.2 GB target at 4×")
    ax2.set(xlabel="scale (× 500 services, 20,000 incidents)", ylabel="MiB", xticks=factors,
            title="Whole run: peak memory", ylim=(0, None))
    ax2.legend(fontsize=7)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def startup(r: Json) -> str:
    if "startup" not in r:
        return missing("startup")
    data = r["startup"]
    rows = [[f"`{row['command']}`", s(row["median_s"], 3), s(row["min_s"], 3), s(row["max_s"], 3),
             verdict(row["median_s"] < data["goal_s"])] for row in data["rows"]]
    return ("## Start-up of the meeting-room commands\n\n"
            f"From process start to exit through the console script, a fresh interpreter each run, median of "
            f"{data['rows'][0]['runs']} (bytecode cache warm). Goal: under {data['goal_s']} s. These commands "
            "import none of pandas, matplotlib, WeasyPrint or the HTTP clients (tests/test_startup.py).\n\n"
            + table(["command", "median", "min", "max", "goal"], rows))


def notes(r: Json) -> str:
    return "\n".join([
        "## How to read these numbers",
        "",
        "- `make bench` (or `python bench/run_bench.py all`) regenerates everything; `python bench/run_bench.py "
        "pagerduty|prometheus|aggregate|render|run|scaling|ratelimit|startup` one section. Every number is in "
        "`bench/results.json`.",
        "- Medians of `--repeat` runs (3 by default), the scaling runs included; the aggregation 5 times; the "
        "naive PagerDuty collection and the rate-limit simulation once each.",
        "- Each measured piece of work runs in a fresh child process; its peak RSS comes from `/proc/self/status` "
        "(`VmHWM`, reset per stage through `/proc/self/clear_refs`) or from `wait4` for the CLI.",
        f"- The machine is shared: before each measurement the harness waits (up to "
        f"{r.get('settings', {}).get('quiet_max_wait_s', 90):.0f} s) until all cores are "
        "less than 25 % busy for 2 s, and records the CPU other processes used during it (\"other processes' "
        "CPU\"). A large value there means the measurement was disturbed.",
        "- The fakes run on the same 2 cores as opsmeeting: the PagerDuty fake's CPU (in the harness process) and "
        "Prometheus' CPU are reported beside each measurement.",
    ])


def provenance(r: Json) -> str:
    rows = []
    for name in ("pagerduty", "prometheus", "aggregate", "render", "run", "scaling", "ratelimit"):
        section = r.get(name)
        if not section:
            continue
        code, end = section.get("code") or {}, section.get("code_at_end") or {}
        changed = bool(code) and (code != end)
        rows.append([name, section.get("measured_at", "—"), f"{section.get('bench_wall_s', 0):.0f} s",
                     f"`{code.get('commit', '?')}`" + (" + uncommitted changes" if code.get("dirty") else ""),
                     "**the code changed during the measurement**" if changed else ""])
    if not rows:
        return ""
    return "## What was measured when\n\n" + table(["section", "measured at (UTC)", "took", "opsmeeting commit", ""],
                                                    rows)


SECTIONS: tuple[Callable[[Json], str], ...] = (headline, machine, pagerduty, prometheus, aggregate, render_section,
                                               run_section, scaling, ratelimit, startup, provenance, notes)


def render(results: Json) -> str:
    stamp = max((v.get("measured_at", "") for v in results.values() if isinstance(v, dict)), default="")
    parts = ["# opsmeeting benchmark results",
             f"Generated by `bench/run_bench.py` from `bench/results.json` (last measurement {stamp}). "
             "Targets from the brief and issue 19; PagerDuty's rate limit is simulated by the fake where said."]
    for section in SECTIONS:
        try:
            parts.append(section(results))
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:  # an older results.json
            parts.append(f"_Section `{section.__name__}` could not be written from results.json ({exc!r}): "
                         "run its sub-benchmark again._")
    return "\n\n".join(p for p in parts if p) + "\n"


if __name__ == "__main__":
    bench = Path(__file__).resolve().parent
    data = json.loads((bench / "results.json").read_text())
    (bench / "RESULTS.md").write_text(render(data))
    plot_scaling(data, bench / "scaling.png")
    sys.exit(0)
