"""The snapshot directory: every raw datum a run collected, as JSON, so reports re-render offline.

Layout (schema 2)::

    snapshot/
      manifest.json     schema version, window, setup (no secrets), source statuses and roles
      incidents.json    the incident source's data (IncidentData): incidents and their timelines,
                        people, teams, services, severities, on-call shifts
      slos.json         the SLO source's data (SloData): window, previous window, period, daily and
                        fine series per service and SLO

A part is written as it is serialised, a thousand records at a time, never as one document in memory;
one longer than ``COMPRESS_ABOVE`` (16 MiB) is written gzip-compressed instead (``incidents.json.gz``,
as a 2,000-service organisation's is), which ``read_snapshot`` reads the same way.

Schema 1 (``pagerduty.json`` and ``prometheus.json``, in PagerDuty's vocabulary) is read through a
migration, so an archive of older reports still re-renders. Within schema 2, fields are only ever
added with a default that means "not collected" (``IncidentData.earlier_open`` and ``maintenance``
are None, an incident's ``assignments`` and an event's ``assignees`` empty): a snapshot written before
them reads as one that lacks them, and the report says what it cannot tell.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from opsmeeting.collectors.pagerduty.vocabulary import incident_data_from_v1
from opsmeeting.collectors.prometheus import slo_data_from_v1
from opsmeeting.errors import InputError
from opsmeeting.fsutil import atomic_directory
from opsmeeting.model import SCHEMA_VERSION, IncidentData, SloData, Snapshot

MANIFEST = "manifest.json"
PARTS: dict[str, tuple[str, type[IncidentData] | type[SloData]]] = {
    "incidents": ("incidents.json", IncidentData),
    "slos": ("slos.json", SloData),
}
V1_PARTS = {"pagerduty": ("pagerduty.json", "incidents"), "prometheus": ("prometheus.json", "slos")}
STREAMED = {"incidents": "incidents", "slos": "measurements"}  # each part's long list, written in chunks
CHUNK = 1000
COMPRESS_ABOVE = 16 * 1024 * 1024
GZIP = ".gz"


def write_snapshot(snapshot: Snapshot, directory: Path) -> None:
    """Write ``snapshot`` to ``directory`` atomically (the whole directory appears at once)."""
    with atomic_directory(directory) as tmp:
        manifest = snapshot.model_dump(mode="json", exclude=set(PARTS))
        manifest["parts"] = sorted(role for role in PARTS if getattr(snapshot, role) is not None)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        for role, (name, _) in PARTS.items():
            part = getattr(snapshot, role)
            if part is not None:
                with _SpillingWriter(tmp / name) as out:
                    for chunk in _json_chunks(part, STREAMED[role]):
                        out.write(chunk)
                    out.write(b"\n")


def _json_chunks(model: BaseModel, field: str) -> Iterator[bytes]:
    """``model``'s JSON (as ``model_dump_json``, fields in their order) with its list ``field`` dumped
    ``CHUNK`` items at a time."""
    names = list(type(model).model_fields)
    at = names.index(field)
    head = model.model_dump_json(include=set(names[:at])).encode()
    tail = model.model_dump_json(include=set(names[at + 1 :])).encode()
    items = getattr(model, field)
    adapter: TypeAdapter[list[Any]] = TypeAdapter(type(model).model_fields[field].annotation)  # type: ignore[arg-type]  # a list field's annotation
    yield head[:-1] + (b"," if len(head) > 2 else b"") + json.dumps(field).encode() + b":["
    for start in range(0, len(items), CHUNK):
        yield (b"," if start else b"") + adapter.dump_json(items[start : start + CHUNK])[1:-1]
    yield b"]" + (b"," + tail[1:] if len(tail) > 2 else b"}")


class _SpillingWriter:
    """Bytes to ``path``: kept in memory up to ``COMPRESS_ABOVE``, written plain if the whole stays under
    it, else spilled into ``path`` + ``.gz`` (gzip, level 6) and streamed there."""

    def __init__(self, path: Path) -> None:
        self.path, self.buffer, self.size = path, bytearray(), 0
        self.compressed: gzip.GzipFile | None = None

    def __enter__(self) -> _SpillingWriter:
        return self

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.compressed is not None:
            self.compressed.write(data)
            return
        self.buffer += data
        if self.size > COMPRESS_ABOVE:
            self.compressed = gzip.GzipFile(self.path.with_name(self.path.name + GZIP), "wb", compresslevel=6)
            self.compressed.write(self.buffer)
            self.buffer = bytearray()

    def __exit__(self, kind: object, *rest: object) -> None:
        if self.compressed is not None:
            self.compressed.close()
        elif kind is None:
            self.path.write_bytes(self.buffer)


def _part_bytes(path: Path) -> bytes:
    """A part's JSON: ``path``, or its gzip-compressed ``path.gz`` when the part was written so."""
    packed = path.with_name(path.name + GZIP)
    if packed.is_file():
        try:
            return gzip.decompress(packed.read_bytes())
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise InputError(f"{packed}: unreadable: {exc}") from None
    return path.read_bytes()


def read_snapshot(directory: Path) -> Snapshot:
    """Read a snapshot directory (schema 2, or 1 through its migration); a clear InputError names the
    file and the problem."""
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise InputError(f"{directory}: not a snapshot directory (no {MANIFEST})")
    manifest = _json(manifest_path)
    version = manifest.get("schema_version") if isinstance(manifest, dict) else None
    if version == 1:
        return _validated(manifest_path, _from_v1(directory, manifest))
    if version != SCHEMA_VERSION:
        raise InputError(f"{manifest_path}: schema_version {version!r} is not supported (expected 1 or "
                         f"{SCHEMA_VERSION})")
    present = set(manifest.pop("parts", []))
    document: dict[str, Any] = dict(manifest)
    for role, (name, model) in PARTS.items():
        if role not in present:
            continue
        path = directory / name
        try:
            document[role] = model.model_validate_json(_part_bytes(path))
        except OSError as exc:
            raise InputError(f"{path}: unreadable: {exc.strerror or exc}") from None
        except ValidationError as exc:
            raise InputError(f"{path}: invalid: {_first_errors(exc)}") from None
    return _validated(manifest_path, document)


def _from_v1(directory: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """A schema-1 snapshot as a schema-2 document: slots by role, setup without PagerDuty's words."""
    document = {k: v for k, v in manifest.items() if not k.startswith("has_")}
    document["schema_version"] = SCHEMA_VERSION
    setup = dict(document.get("setup", {}))
    setup.pop("pagerduty_url", None)
    setup["services"] = [{**{k: v for k, v in s.items() if k != "pagerduty_service_ids"},
                          "source_ids": s.get("pagerduty_service_ids", [])} for s in setup.get("services", [])]
    # schema 1 gave every service a row of every SLO: each SLO expected data from every service
    names = [s.get("name") for s in setup["services"]]
    setup["slos"] = [{**slo, "expected": names} for slo in setup.get("slos", [])]
    document["setup"] = setup
    document["sources"] = {name: {**status, "status": "not_configured" if status.get("status") == "skipped"
                                  else status.get("status")} for name, status in document.get("sources", {}).items()}
    convert = {"pagerduty": incident_data_from_v1, "prometheus": slo_data_from_v1}
    labels = {"pagerduty": "PagerDuty", "prometheus": "Prometheus"}
    document["roles"] = {}
    for source, (name, role) in V1_PARTS.items():
        if manifest.get(f"has_{source}") or source in document["sources"]:
            document["roles"][role] = {"source": source, "label": labels[source]}
        if not manifest.get(f"has_{source}"):
            continue
        path = directory / name
        try:
            document[role] = convert[source](_json(path))
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise InputError(f"{path}: invalid schema-1 data: {type(exc).__name__}: {str(exc)[:200]}") from None
    return document


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: unreadable: {exc}") from None


def _validated(manifest_path: Path, document: dict[str, Any]) -> Snapshot:
    try:
        return Snapshot.model_validate(document)
    except ValidationError as exc:
        raise InputError(f"{manifest_path}: invalid: {_first_errors(exc)}") from None


def _first_errors(exc: ValidationError, limit: int = 5) -> str:
    errors = exc.errors()
    shown = "; ".join(
        ".".join(str(p) for p in err["loc"]) + ": " + err["msg"] for err in errors[:limit]
    )
    more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
    return shown + more
