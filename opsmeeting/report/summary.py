"""What a report says in sentences, for the page's banner and for the email: the data-quality
warnings, the changes since the last rotation, and the summary lines."""

from __future__ import annotations

from dataclasses import dataclass

from opsmeeting.aggregate.model import Scorecards
from opsmeeting.report.formats import fmt_duration, fmt_num, fmt_pct, fmt_signed, fmt_sli


@dataclass(frozen=True)
class Warning:
    level: str  # "error" | "warning" | "info"
    text: str


def some(names: list[str], shown: int = 12) -> str:
    """A list for a sentence: the first ``shown`` names, then how many more."""
    if len(names) <= shown:
        return ", ".join(names)
    return ", ".join(names[:shown]) + f" and {len(names) - shown} more (all in scorecards.json)"


def slo_names(cards: Scorecards, status: str) -> list[str]:
    """"<service> · <SLO>" of each SLO with ``status``."""
    return [f"{c.display_name} · {s.name}" for c in cards.services for s in c.slos if s.status == status]


def data_quality(cards: Scorecards) -> list[Warning]:
    warnings: list[Warning] = []
    for name, status in sorted(cards.sources.items()):
        role = next((r for r, info in cards.roles.items() if info.source == name), None)
        label = cards.roles[role].label if role else name
        if status.status == "failed":
            warnings.append(Warning("error", f"{label} could not be read: {status.detail}. Its metrics are missing "
                                             "(shown as —), not zero."))
        elif status.status == "degraded":
            warnings.append(Warning("warning", f"{label} answered only in part: {status.detail}."))
        elif status.status == "not_configured":
            what = "incident" if role == "incidents" else "SLO"
            warnings.append(Warning("info", f"{label}: {status.detail}; this report has no {what} metrics (shown as "
                                            "—), and the priority ranking leaves them out."))
    if cards.setup is not None and not cards.setup.services_complete:
        warnings.append(Warning("error", "Discovery could not read the teams and services of the incident source: "
                                         f"only the {len(cards.services)} explicitly configured services are listed, "
                                         "and services new or gone since the last rotation are not known."))
    if cards.window.provisional:
        warnings.append(Warning("warning", "Provisional: this rotation has not ended yet; numbers will change."))
    low = slo_names(cards, "low_traffic")
    if low:
        warnings.append(Warning("info", "Too few events to judge (low traffic): " + some(low) + "."))
    nodata = slo_names(cards, "no_data")
    if nodata:
        warnings.append(Warning("warning", "No SLO data: " + some(nodata) + "."))
    broken = [e.item for e in cards.item_errors if e.stage == "aggregation"]
    if broken:
        warnings.append(Warning("warning", "Not computed, because of an unexpected error: " + some(broken)
                                + ". Their values are missing (—), not zero."))
    failed = slo_names(cards, "error")
    if failed and not any(w.level == "error" for w in warnings):
        warnings.append(Warning("warning", "SLO queries failed: " + some(failed) + "."))
    return warnings


def changes_since_last(cards: Scorecards) -> list[str]:
    """Plain sentences: services new this rotation and gone since the last one, rank moves of two or
    more, budgets that changed state, incident swings."""
    lines = []
    changes = cards.service_changes
    if changes is not None and changes.new:
        lines.append(f"New this rotation ({len(changes.new)}): " + some([r.display_name for r in changes.new]) + ".")
    if changes is not None and changes.gone:
        lines.append(f"Gone since the last rotation ({len(changes.gone)}): "
                     + some([r.display_name for r in changes.gone]) + ".")
    for card in sorted(cards.services, key=lambda c: c.priority.rank if c.priority else 0):
        trend, priority = card.trend, card.priority
        name = card.display_name
        if trend is None or priority is None:
            continue
        if trend.previous_rank and abs(trend.previous_rank - priority.rank) >= 2:
            way = "up" if trend.previous_rank > priority.rank else "down"
            lines.append(f"{name} moved {way} from rank {trend.previous_rank} to {priority.rank}.")
        for slo in card.slos:
            before = trend.previous_error_budget_consumed.get(slo.name)
            now = slo.error_budget_consumed
            if before is None or now is None:
                continue
            if before <= 1 < now:
                lines.append(f"{name} {slo.name} overspent its budget ({fmt_pct(now, 0)}; "
                             f"{fmt_pct(before, 0)} last rotation).")
            elif now <= 1 < before:
                lines.append(f"{name} {slo.name} is back within budget ({fmt_pct(now, 0)}; "
                             f"{fmt_pct(before, 0)} last rotation).")
        was, is_ = trend.previous_incidents_total, card.incidents.incidents_total
        if was is not None and is_ is not None and abs(is_ - was) >= max(5, was // 2):
            lines.append(f"{name}: {is_} incidents, {fmt_signed(is_ - was)} since the last rotation.")
    return lines


def summary_lines(cards: Scorecards, warnings: list[str], link: str | None) -> list[str]:
    o = cards.overall.incidents
    lines = [f"Window: {cards.window.label()}" + (" (provisional)" if cards.window.provisional else ""), ""]
    if o.known:
        lines += [
            f"Incidents: {o.incidents_total} ({o.incidents_high_urgency} high urgency, "
            f"{fmt_num(o.incidents_major)} major, {o.incidents_open} still open)",
            f"Time to acknowledge (median): {fmt_duration(o.mtta_p50_s)}; to resolve (median): "
            f"{fmt_duration(o.mttr_p50_s)}",
            f"Interruptions: {o.interruptions} ({fmt_num(o.interruptions_sleep)} in sleep hours)",
        ]
    else:
        source, state = cards.role_status("incidents")
        label = source.label if source else "the incident source"
        lines.append(f"Incidents: not reported ({label} is not configured)" if state and state.status ==
                     "not_configured" else f"Incidents: unknown ({label} could not be read)")
    ranked = sorted(cards.services, key=lambda c: c.priority.rank if c.priority else 0)[:3]
    lines += ["", "Top priorities:"]
    for card in ranked:
        assert card.priority is not None
        reasons = ", ".join(f"{r.component.replace('_', ' ')} {r.value:g}" for r in card.priority.reasons
                            if r.value is not None and r.contribution > 0)[:160]
        if card.priority.unknown:
            reasons += f" (without {', '.join(u.replace('_', ' ') for u in card.priority.unknown)}: source missing)"
        lines.append(f"  {card.priority.rank}. {card.display_name} (score {card.priority.score:.1f}): {reasons or '-'}")
    missed = [(c.display_name, s) for c in cards.services for s in c.slos if s.met is False]
    lines += ["", f"SLOs missed: {len(missed)}"]
    for service, slo in missed[:10]:
        lines.append(f"  {service} {slo.name}: {fmt_sli(slo.sli)} against {fmt_pct(slo.objective, 2)}, "
                     f"budget consumed {fmt_pct(slo.error_budget_consumed, 0)}")
    if warnings:
        lines += ["", "Data quality:"] + [f"  - {w}" for w in warnings]
    if link:
        lines += ["", f"The projected page: {link}"]
    lines += ["", "The PDF pre-read is attached."]
    return lines
