"""Writing a report's files: report.html, report.pdf, scorecards.json, scorecards.csv, teams.csv (each atomic)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from opsmeeting.aggregate.model import INCIDENT_KEYS, Scorecards
from opsmeeting.fsutil import atomic_write_bytes, atomic_write_chunks, atomic_write_text
from opsmeeting.meeting.model import MeetingView
from opsmeeting.report.render import RenderedReport

SLO_CSV_KEYS = ("status", "good", "total", "sli", "objective", "met", "error_budget_consumed",
                "error_budget_remaining", "period_budget_consumed")


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    pdf: Path | None
    json: Path
    csv: Path
    teams_csv: Path | None = None


MEETING_KEYS = ("items", "notes")  # scorecards.json carries the meeting loop after previous_overall


def scorecards_document(cards: Scorecards, meeting: MeetingView | None = None) -> dict[str, Any]:
    """The scorecards.json document: the scorecards and, beside them, the meeting loop's items and notes."""
    data = cards.to_json_dict()
    extra = (meeting or MeetingView()).document()
    ordered: dict[str, Any] = {}
    for key, value in data.items():
        ordered[key] = value
        if key == "previous_overall":
            ordered.update(extra)
    return ordered


def scorecards_json(cards: Scorecards, meeting: MeetingView | None = None) -> str:
    return "".join(scorecards_json_chunks(cards, meeting))


def scorecards_json_chunks(cards: Scorecards, meeting: MeetingView | None = None) -> Iterator[str]:
    """scorecards.json's text, as the encoder makes it (the same text as ``scorecards_json``)."""
    encoder = json.JSONEncoder(indent=1, ensure_ascii=False, allow_nan=False)
    yield from encoder.iterencode(scorecards_document(cards, meeting))
    yield "\n"


class _WrittenScorecards(Scorecards):
    """scorecards.json as written: the scorecards, and the meeting loop's keys beside them (ignored)."""

    items: Any = Field(default=None, exclude=True)
    notes: Any = Field(default=None, exclude=True)


def read_scorecards(path: Path) -> Scorecards:
    """A written scorecards.json as Scorecards (the meeting loop's keys left aside), parsed from its
    bytes straight into the model (no document of dicts first); ValueError or OSError when it is not one."""
    try:
        written = _WrittenScorecards.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise ValueError(f"{path}: {exc.errors()[0]['msg'] if exc.errors() else exc}") from None
    fields = set(Scorecards.model_fields)
    return Scorecards.model_construct(written.model_fields_set & fields, **{k: getattr(written, k) for k in fields})


def scorecards_csv(cards: Scorecards) -> str:
    """One row per service: incident keys, priority, and each SLO's keys as ``<slo>.<key>``."""
    slo_names = sorted({s.name for c in cards.services for s in c.slos})
    header = ["service", "display_name", "team", "priority_rank", "priority_score", *INCIDENT_KEYS]
    header += [f"{name}.{key}" for name in slo_names for key in SLO_CSV_KEYS]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for card in sorted(cards.services, key=lambda c: c.service):
        incidents = card.incidents.model_dump()
        row: list[object] = [
            card.service,
            card.display_name,
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


TEAM_CSV_KEYS = ("services", "responders", "interruptions_per_responder", "slos_judged", "slos_missed",
                 "error_budget_consumed_max", "worst_slo")


def teams_csv(cards: Scorecards) -> str:
    """One row per team (METRICS.md, "Team metrics"): its incident keys and its team keys; the
    recurring problems as one "title (count)" list."""
    header = ["team", "display_name", *INCIDENT_KEYS, *TEAM_CSV_KEYS, "top_problems"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for card in cards.teams:
        incidents = card.incidents.model_dump()
        writer.writerow([
            card.team, card.display_name,
            *("" if incidents[k] is None else incidents[k] for k in INCIDENT_KEYS),
            *("" if getattr(card, k) is None else getattr(card, k) for k in TEAM_CSV_KEYS),
            "; ".join(f"{p.title} ({p.count})" for p in card.top_problems),
        ])
    return buffer.getvalue()


def write_report(directory: Path, cards: Scorecards, rendered: RenderedReport,
                 meeting: MeetingView | None = None) -> ReportFiles:
    directory.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(
        html=directory / "report.html",
        pdf=directory / "report.pdf" if rendered.pdf is not None else None,
        json=directory / "scorecards.json",
        csv=directory / "scorecards.csv",
        teams_csv=directory / "teams.csv",
    )
    atomic_write_chunks(files.json, scorecards_json_chunks(cards, meeting))
    atomic_write_text(files.csv, scorecards_csv(cards))
    assert files.teams_csv is not None
    atomic_write_text(files.teams_csv, teams_csv(cards))
    if files.pdf is not None and rendered.pdf is not None:
        atomic_write_bytes(files.pdf, rendered.pdf)
    atomic_write_text(files.html, rendered.html)
    return files
