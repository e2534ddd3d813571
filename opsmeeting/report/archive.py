"""The archive page ``<out>/index.html``: every rotation with its headline numbers."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from opsmeeting.fsutil import atomic_write_text
from opsmeeting.report.render import environment


@dataclass(frozen=True)
class ArchiveEntry:
    folder: str
    label: str
    provisional: bool
    incidents: int | None
    major: int | None
    mtta_p50_s: float | None
    sleep_interruptions: int | None
    slos_missed: int
    top_service: str | None
    degraded: list[str]
    has_pdf: bool


def _entry(folder: Path, data: dict[str, Any]) -> ArchiveEntry:
    window = data["window"]
    tz = ZoneInfo(window["timezone"])
    start = datetime.fromisoformat(window["start"].replace("Z", "+00:00")).astimezone(tz)
    end = datetime.fromisoformat(window["end"].replace("Z", "+00:00")).astimezone(tz)
    incidents = data["overall"]["incidents"]
    ranked = sorted(data["services"], key=lambda s: (s.get("priority") or {}).get("rank") or 10**9)
    return ArchiveEntry(
        folder=folder.name,
        label=f"{start:%a %-d %b %Y} → {end:%a %-d %b %Y}",
        provisional=bool(window.get("provisional")),
        incidents=incidents.get("incidents_total"),
        major=incidents.get("incidents_major"),
        mtta_p50_s=incidents.get("mtta_p50_s"),
        sleep_interruptions=incidents.get("interruptions_sleep"),
        slos_missed=sum(1 for s in data["services"] for slo in s.get("slos", []) if slo.get("met") is False),
        top_service=ranked[0]["service"] if ranked else None,
        degraded=sorted(name for name, src in data.get("sources", {}).items()
                        if src.get("status") in ("failed", "degraded")),
        has_pdf=(folder / "report.pdf").is_file(),
    )


class _Read(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Slo(_Read):
    met: bool | None = None


class _Service(_Read):
    service: str
    priority: dict[str, Any] | None = None
    slos: list[_Slo] = Field(default_factory=list)


class _Overall(_Read):
    incidents: dict[str, Any]


class _Document(_Read):
    """What the archive reads of a scorecards.json: parsed from its bytes, everything else skipped (a
    2,000-service rotation's document is 70 MB, and the archive lists every rotation)."""

    window: dict[str, Any]
    overall: _Overall
    services: list[_Service]
    sources: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="python")


CACHE = ".archive-entries.json"  # each folder's entry, by its scorecards.json's size and modification time


def archive_entries(out: Path) -> list[ArchiveEntry]:
    """Every rotation's entry, newest first. A folder's scorecards.json is read only when it changed
    since the entry was last made (``CACHE`` in ``out``), so a run lists a year of rotations without
    reading a year of documents."""
    cache = _cached(out / CACHE)
    kept: dict[str, Any] = {}
    entries = []
    for path in sorted(out.glob("*/scorecards.json")):
        folder = path.parent
        try:
            stat = path.stat()
            stamp = [stat.st_size, stat.st_mtime_ns]
            hit = cache.get(folder.name)
            entry = None
            if isinstance(hit, dict) and hit.get("stamp") == stamp:
                with contextlib.suppress(TypeError):
                    entry = ArchiveEntry(**{**hit["entry"], "has_pdf": (folder / "report.pdf").is_file()})
            if entry is None:
                entry = _entry(folder, _Document.model_validate_json(path.read_bytes()).as_dict())
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # a foreign folder: not ours to list
        kept[folder.name] = {"stamp": stamp, "entry": dataclasses.asdict(entry)}
        entries.append(entry)
    if kept != cache:
        with contextlib.suppress(OSError):  # a read-only archive is listed all the same
            atomic_write_text(out / CACHE, json.dumps(kept, sort_keys=True))
    return sorted(entries, key=lambda e: e.folder, reverse=True)


def _cached(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_index(out: Path, *, title: str) -> Path:
    entries = archive_entries(out)
    html = environment().get_template("index.html.j2").render(title=title, entries=entries)
    path = out / "index.html"
    atomic_write_text(path, html)
    return path
