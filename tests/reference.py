"""The plain reference computation of scorecards.json, written apart from the product's pandas code.

Straightforward Python (loops and dicts, no pandas, nothing from ``opsmeeting``) following
``METRICS.md`` clause by clause, from the raw data a test gave its fakes: the API-shaped dicts of
the PagerDuty fake (``tests.fakes.pagerduty_data``), the configuration it wrote (the YAML document
as a dict), and what Prometheus answers for each SLO query (``Answer``, from the ground truth of
``tests.fakes.slo_data``).

A value Prometheus could not give (no series) is ``None``; ``nan``/``inf`` are what Prometheus
sent. In the result every such value is ``None`` (scorecards.json's ``null``), never NaN or 0.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

Obj = dict[str, Any]

INTERRUPTING = ("sms_notification", "phone_notification", "push_notification")  # email is not one
MACHINE_AGENTS = ("service_reference", "integration_reference")
COUNT_KEYS = (
    "incidents_total", "incidents_high_urgency", "incidents_low_urgency", "incidents_major", "incidents_open",
    "acknowledged", "auto_resolved", "resolved_without_ack", "escalated", "timeout_escalated",
    "interruptions", "interruptions_business", "interruptions_off_hours", "interruptions_sleep",
    "hours_with_interruptions",
)
TIME_KEYS = ("mtta_mean_s", "mtta_p50_s", "mtta_p90_s", "mttr_mean_s", "mttr_p50_s", "mttr_p90_s")
INCIDENT_KEYS = (*COUNT_KEYS, *TIME_KEYS)


def when(text: str) -> datetime:
    """An API time (``2026-10-19T08:00:00Z`` or with an offset) as an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in UTC; ``timezone`` is the rotation's (days are cut at its local start time)."""

    start: datetime
    end: datetime
    timezone: str

    def days(self) -> list[tuple[datetime, datetime]]:
        """The window's days, cut at the local start time (every zone the tests use keeps 24 h days)."""
        out, day = [], self.start
        while day < self.end:
            out.append((day, min(day + timedelta(days=1), self.end)))
            day += timedelta(days=1)
        return out

    def day_label(self, day_start: datetime) -> str:
        return day_start.astimezone(ZoneInfo(self.timezone)).strftime("%Y-%m-%d")


# --- percentiles ---------------------------------------------------------------------------------------


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks (numpy's and pandas' default)."""
    if not values:
        return None
    xs = sorted(values)
    h = (len(xs) - 1) * q
    low = math.floor(h)
    high = min(low + 1, len(xs) - 1)
    return xs[low] + (h - low) * (xs[high] - xs[low])


# --- incidents -------------------------------------------------------------------------------------------


@dataclass
class IncidentFacts:
    """One incident of the window, with what its timeline says."""

    id: str
    service: str  # configured service
    team: str  # configured team
    urgency: str
    open: bool
    major: bool
    tta: float | None
    ttr: float | None
    auto_resolved: bool
    resolved_without_ack: bool
    escalated: bool
    timeout_escalated: bool
    first_acknowledger: str | None
    acknowledgers: set[str]
    interruptions: list[tuple[str, datetime, str]]  # (user id, time, bucket)
    notified: set[str]
    problem_key: str | None


def bucket(moment: datetime, zone: str) -> str:
    """METRICS.md: sleep 22:00-08:00 every day; business 08:00-18:00 Monday-Friday; off hours the rest."""
    local = moment.astimezone(ZoneInfo(zone))
    if local.hour >= 22 or local.hour < 8:
        return "sleep"
    if local.hour < 18 and local.weekday() < 5:
        return "business"
    return "off_hours"


def incident_facts(
    window: Window,
    config: Mapping[str, Any],
    users: Iterable[Obj],
    priorities: Sequence[Obj],
    incidents: Iterable[Obj],
    log_entries: Iterable[Obj],
) -> list[IncidentFacts]:
    """Every incident of the window (``created_at`` in ``[start, end)``) of a configured service."""
    service_of = {pid: svc["name"] for svc in config["services"] for pid in svc.get("pagerduty_service_ids", [])}
    team_of = {svc["name"]: svc["team"] for svc in config["services"]}
    zone_of = {u["id"]: u.get("time_zone") for u in users}
    top_two = {p["id"] for p in priorities[:2]}  # GET /priorities lists them most severe first
    timeline: dict[str, list[Obj]] = {}
    for entry in log_entries:
        timeline.setdefault(entry["incident"]["id"], []).append(entry)
    out = []
    for incident in incidents:
        created = when(incident["created_at"])
        if not window.start <= created < window.end or incident["service"]["id"] not in service_of:
            continue
        entries = sorted(timeline.get(incident["id"], []), key=lambda e: when(e["created_at"]))
        acks = [e for e in entries if e["type"] in ("acknowledge_log_entry", "acknowledgement_log_entry")]
        resolves = [e for e in entries if e["type"] == "resolve_log_entry"]
        escalations = [e for e in entries if e["type"] == "escalate_log_entry"]
        resolved = incident["status"] == "resolved"
        acknowledgers = {a["agent"]["id"] for a in acks if a.get("agent", {}).get("type") == "user_reference"}
        priority = (incident.get("priority") or {}).get("id")
        interruptions, notified = [], set()
        for e in entries:
            if e["type"] != "notify_log_entry":
                continue
            user = e["user"]["id"]
            notified.add(user)
            if e["channel"]["notification"]["type"] in INTERRUPTING:
                at = when(e["created_at"])
                interruptions.append((user, at, bucket(at, zone_of.get(user) or window.timezone)))
        service = service_of[incident["service"]["id"]]
        out.append(IncidentFacts(
            id=incident["id"],
            service=service,
            team=team_of[service],
            urgency=incident["urgency"],
            open=not resolved,
            major=priority in top_two or len(acknowledgers) >= 2,
            tta=(when(acks[0]["created_at"]) - created).total_seconds() if acks else None,
            ttr=(when(incident["resolved_at"]) - created).total_seconds() if resolved else None,
            auto_resolved=resolved and bool(resolves) and resolves[-1]["agent"]["type"] in MACHINE_AGENTS,
            resolved_without_ack=resolved and not acks,
            escalated=bool(escalations),
            timeout_escalated=any(e["channel"]["type"] == "timeout" for e in escalations),
            first_acknowledger=acks[0]["agent"]["id"] if acks else None,
            acknowledgers=acknowledgers,
            interruptions=interruptions,
            notified=notified,
            problem_key=incident.get("incident_key"),
        ))
    return out


def incident_metrics(facts: Sequence[IncidentFacts]) -> dict[str, Any]:
    """Every key of METRICS.md's incident table over ``facts``."""
    ttas = [f.tta for f in facts if f.tta is not None]
    ttrs = [f.ttr for f in facts if f.ttr is not None]
    interruptions = [i for f in facts for i in f.interruptions]
    hours = {at.replace(minute=0, second=0, microsecond=0) for _, at, _ in interruptions}
    return {
        "incidents_total": len(facts),
        "incidents_high_urgency": sum(f.urgency == "high" for f in facts),
        "incidents_low_urgency": sum(f.urgency == "low" for f in facts),
        "incidents_major": sum(f.major for f in facts),
        "incidents_open": sum(f.open for f in facts),
        "acknowledged": sum(f.tta is not None for f in facts),
        "mtta_mean_s": mean(ttas),
        "mtta_p50_s": percentile(ttas, 0.5),
        "mtta_p90_s": percentile(ttas, 0.9),
        "mttr_mean_s": mean(ttrs),
        "mttr_p50_s": percentile(ttrs, 0.5),
        "mttr_p90_s": percentile(ttrs, 0.9),
        "auto_resolved": sum(f.auto_resolved for f in facts),
        "resolved_without_ack": sum(f.resolved_without_ack for f in facts),
        "escalated": sum(f.escalated for f in facts),
        "timeout_escalated": sum(f.timeout_escalated for f in facts),
        "interruptions": len(interruptions),
        "interruptions_business": sum(b == "business" for _, _, b in interruptions),
        "interruptions_off_hours": sum(b == "off_hours" for _, _, b in interruptions),
        "interruptions_sleep": sum(b == "sleep" for _, _, b in interruptions),
        "hours_with_interruptions": len(hours),
    }


def repeats(facts: Sequence[IncidentFacts]) -> int:
    """Repeat incidents of one service: for each recurring problem, its count minus one. A problem is
    the incidents sharing an ``incident_key`` (the tests' data gives incidents of one problem the same
    key and titles that normalise alike, and unrelated incidents distinct keys and titles)."""
    counts: dict[str | None, int] = {}
    for f in facts:
        counts[f.problem_key] = counts.get(f.problem_key, 0) + 1
    return sum(n - 1 for n in counts.values() if n >= 2)


# --- responders ------------------------------------------------------------------------------------------


def on_call_hours(window: Window, schedules: Mapping[str, Obj], schedule_ids: Iterable[str]) -> dict[str, float]:
    """Hours each user was on call: the final rendered entries of the configured schedules, clipped to
    the window (a user's overlapping shifts counted once)."""
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    for sid in dict.fromkeys(schedule_ids):
        schedule = schedules.get(sid)
        if schedule is None:
            continue
        for entry in schedule["final_schedule"]["rendered_schedule_entries"]:
            start, end = max(when(entry["start"]), window.start), min(when(entry["end"]), window.end)
            if end > start:
                spans.setdefault(entry["user"]["id"], []).append((start, end))
    hours = {}
    for user, intervals in spans.items():
        merged: list[list[datetime]] = []
        for start, end in sorted(intervals):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        hours[user] = sum((end - start).total_seconds() for start, end in merged) / 3600
    return hours


def responders(
    window: Window,
    facts: Sequence[IncidentFacts],
    users: Iterable[Obj],
    schedules: Mapping[str, Obj],
    schedule_ids: Iterable[str],
) -> dict[str, dict[str, Any]]:
    """Per-responder metrics for every user notified, acknowledging or on call in the window; a user
    absent from GET /users is named ``unknown user (<id>)``."""
    names = {u["id"]: u["name"] for u in users}
    hours = on_call_hours(window, schedules, schedule_ids)
    who = set(hours)
    for f in facts:
        who |= f.notified | f.acknowledgers
    out = {}
    for user in sorted(who):
        mine = [b for f in facts for u, _, b in f.interruptions if u == user]
        out[user] = {
            "name": names.get(user, f"unknown user ({user})"),
            "interruptions": len(mine),
            "interruptions_sleep": mine.count("sleep"),
            "interruptions_off_hours": mine.count("off_hours"),
            "acknowledged": sum(f.first_acknowledger == user for f in facts),
            "on_call_hours": hours.get(user, 0.0),
        }
    return out


def incident_report(
    window: Window,
    config: Mapping[str, Any],
    *,
    users: Sequence[Obj],
    priorities: Sequence[Obj],
    incidents: Sequence[Obj],
    log_entries: Sequence[Obj],
    schedules: Mapping[str, Obj],
) -> dict[str, Any]:
    """Incident metrics per configured service, team and overall, the priority components that
    come from them, and the per-responder metrics."""
    facts = incident_facts(window, config, users, priorities, incidents, log_entries)
    services = {}
    for svc in config["services"]:
        mine = [f for f in facts if f.service == svc["name"]]
        metrics = incident_metrics(mine)
        services[svc["name"]] = {
            "team": svc["team"],
            "incidents": metrics,
            "priority": {
                "high_urgency_incidents": metrics["incidents_high_urgency"],
                "major_incidents": metrics["incidents_major"],
                "sleep_interruptions": metrics["interruptions_sleep"],
                "recurrence": repeats(mine),
            },
        }
    teams = {t["name"]: {"incidents": incident_metrics([f for f in facts if f.team == t["name"]])}
             for t in config["teams"]}
    schedule_ids = config["rotation"].get("pagerduty_schedule_ids", [])
    return {
        "services": services,
        "teams": teams,
        "overall": {"incidents": incident_metrics(facts)},
        "responders": responders(window, facts, users, schedules, schedule_ids),
    }


# --- SLOs ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What Prometheus answered for one service over one range: the SLO's first query (``good``, or
    ``bad`` where the SLO gives an error query) and ``total``. None: no series for the service."""

    first: float | None
    total: float | None


@dataclass(frozen=True)
class SloAnswers:
    """Every answer one (service, SLO) needs; None where the service has no series at all."""

    window: Answer | None
    previous: Answer | None
    period_total: float | None
    daily: Sequence[Answer | None]
    quantiles_nan: bool = False  # histogram_quantile over the window answers NaN
    quantiles: Sequence[str] = field(default_factory=tuple)  # e.g. ("0.5", "0.99") for a latency SLO


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _counts(uses_bad: bool, answer: Answer | None,
            latency: bool = False) -> tuple[float | None, float | None, float | None, bool]:
    """good, bad, total (None unless finite) and whether Prometheus sent a NaN or an infinity.

    Each value is the answer to its own query (METRICS.md: ``good``, ``total`` are the events over the
    window): a finite good stays when the total is NaN or infinite, and only what is derived from the
    broken value (bad = total - good, sli...) is None. A query with no series for the service while the
    total has one counted no events (0: a bad query with no error series, a good query with no success
    series), except a latency SLO's good query: a histogram without the threshold bucket cannot say how
    many requests were fast enough, so good is None, not 0.
    """
    if answer is None:
        return None, None, None, False
    first, total = answer.first, answer.total
    odd = any(v is not None and not math.isfinite(v) for v in (first, total))
    total_ok = total if finite(total) else None
    if first is None and total is not None and not (latency and not uses_bad):
        first = 0.0
    if total == 0 and first is not None and math.isnan(first):
        first = 0.0  # no events: a ratio dividing by the total answers NaN, but there was nothing to count
    if uses_bad:
        bad = first if finite(first) else None
        good = total_ok - bad if total_ok is not None and bad is not None else None
    else:
        good = first if finite(first) else None
        bad = total_ok - good if total_ok is not None and good is not None else None
    return good, bad, total_ok, odd


def _judged(good: float | None, total: float | None, objective: float) -> dict[str, Any]:
    sli = good / total if good is not None and total is not None and total > 0 else None
    consumed = None if sli is None else (1 - sli) / (1 - objective)
    return {
        "sli": sli,
        "met": None if sli is None else sli >= objective,
        "error_budget_consumed": consumed,
        "error_budget_remaining": None if consumed is None else 1 - consumed,
    }


def objective_of(value: Any) -> float:
    """``0.999`` or ``"99.9%"`` as a fraction."""
    if isinstance(value, str):
        text = value.strip()
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    return float(value)


def slo_metrics(window: Window, service: str, slo: Mapping[str, Any], answers: SloAnswers) -> dict[str, Any]:
    """METRICS.md's SLO table for one service and SLO. Besides the keys of the table: ``status``
    ("no_data" when the total is missing or 0, else None: not judged here), ``needs_reason`` (a
    value came back NaN or infinite, or the good query had no series while the total had one: the
    null must be explained), ``no_series`` and the expected ``quantiles`` (None, or ``"finite"``:
    any finite number; the pool's truth has no exact quantiles). ``daily`` days come from the
    per-day answers (step 1 d): a day whose answer is NaN or infinite has null values, like the
    window."""
    objective = objective_of(slo.get("objectives", {}).get(service, slo["objective"]))
    uses_bad = "bad" in slo
    latency = slo.get("kind") == "latency"
    good, bad, total, odd = _counts(uses_bad, answers.window, latency)
    period = answers.period_total
    odd = odd or (period is not None and not math.isfinite(period))
    no_total = answers.window is None or answers.window.total is None
    missing_good = (latency and answers.window is not None and answers.window.total is not None
                    and answers.window.first is None)
    pbc = None
    if bad is not None and period is not None and math.isfinite(period) and period > 0:
        pbc = bad / ((1 - objective) * period)
    daily = []
    for (day_start, _), answer in zip(window.days(), answers.daily, strict=True):
        d_good, _, d_total, _ = _counts(uses_bad, answer, latency)
        daily.append({"date": window.day_label(day_start), "good": d_good, "total": d_total})
    p_good, p_bad, p_total, _ = _counts(uses_bad, answers.previous, latency)
    previous = {"good": p_good, "total": p_total, "bad": p_bad, **_judged(p_good, p_total, objective)}
    quantiles = {}
    if answers.quantiles:
        value = None if answers.window is None or answers.quantiles_nan else "finite"
        quantiles = dict.fromkeys(answers.quantiles, value)
    judged = _judged(good, total, objective)
    return {
        "objective": objective,
        "good": good,
        "total": total,
        "bad": bad,
        **judged,
        # METRICS.md, "Exclusions": without maintenance windows or corrections the raw values are the judged ones
        "raw": {"good": good, "total": total, "bad": bad, "sli": judged["sli"],
                "error_budget_consumed": judged["error_budget_consumed"]},
        "excluded": [],
        "calendar": None,
        "period_budget_consumed": pbc,
        "daily": daily,
        "previous": previous,
        "status": "no_data" if no_total or total == 0 else None,
        "needs_reason": odd or missing_good or (bool(answers.quantiles) and answers.quantiles_nan),
        "quantiles": quantiles,
        "no_series": answers.window is None,
    }


def slo_report(
    window: Window, config: Mapping[str, Any], answers: Callable[[str, Mapping[str, Any]], SloAnswers]
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{service: {slo name: metrics}}``; ``answers(label, slo)`` says what Prometheus answers."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for svc in config["services"]:
        label = svc.get("prometheus_label") or svc["name"]
        out[svc["name"]] = {}
        for slo in config.get("slos", []):
            got = answers(label, slo)
            if covers(slo, svc, got):
                out[svc["name"]][slo["name"]] = slo_metrics(window, svc["name"], slo, got)
    return out


def covers(slo: Mapping[str, Any], service: Mapping[str, Any], answers: SloAnswers) -> bool:
    """METRICS.md "Which services an SLO covers": those its ``services`` (names or shell patterns,
    case-insensitive) or ``teams`` select, and any other with the SLO's series in the window or
    the SLO period."""
    if answers.window is not None or answers.period_total is not None:
        return True
    if service.get("team") in slo.get("teams", ()):
        return True
    return any(fnmatch.fnmatchcase(service["name"].casefold(), p.casefold()) for p in slo.get("services", ()))
