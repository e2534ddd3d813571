"""Writing a report's files: report.html, report.pdf, scorecards.json, scorecards.csv (each atomic)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from opsmeeting.aggregate.model import INCIDENT_KEYS, Scorecards
from opsmeeting.fsutil import atomic_write_bytes, atomic_write_text
from opsmeeting.report.render import RenderedReport

SLO_CSV_KEYS = ("status", "good", "total", "sli", "objective", "met", "error_budget_consumed",
                "error_budget_remaining", "period_budget_consumed")


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    pdf: Path | None
    json: Path
    csv: Path


def scorecards_json(cards: Scorecards) -> str:
    return json.dumps(cards.to_json_dict(), indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def scorecards_csv(cards: Scorecards) -> str:
    """One row per service: incident keys, priority, and each SLO's keys as ``<slo>.<key>``."""
    slo_names = sorted({s.name for c in cards.services for s in c.slos})
    header = ["service", "team", "priority_rank", "priority_score", *INCIDENT_KEYS]
    header += [f"{name}.{key}" for name in slo_names for key in SLO_CSV_KEYS]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for card in sorted(cards.services, key=lambda c: c.service):
        incidents = card.incidents.model_dump()
        row: list[object] = [
            card.service,
            card.team,
            card.priority.rank if card.priority else "",
            card.priority.score if card.priority else "",
            *("" if incidents[k] is None else incidents[k] for k in INCIDENT_KEYS),
        ]
        by_name = {s.name: s for s in card.slos}
        for name in slo_names:
            slo = by_name.get(name)
            for key in SLO_CSV_KEYS:
                value = getattr(slo, key) if slo else None
                row.append("" if value is None else value)
        writer.writerow(row)
    return buffer.getvalue()


def write_report(directory: Path, cards: Scorecards, rendered: RenderedReport) -> ReportFiles:
    directory.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(
        html=directory / "report.html",
        pdf=directory / "report.pdf" if rendered.pdf is not None else None,
        json=directory / "scorecards.json",
        csv=directory / "scorecards.csv",
    )
    atomic_write_text(files.json, scorecards_json(cards))
    atomic_write_text(files.csv, scorecards_csv(cards))
    if files.pdf is not None and rendered.pdf is not None:
        atomic_write_bytes(files.pdf, rendered.pdf)
    atomic_write_text(files.html, rendered.html)
    return files
