"""The snapshot directory: every raw datum a run collected, as JSON, so reports re-render offline.

Layout::

    snapshot/
      manifest.json     schema version, window, setup (no secrets), source statuses
      pagerduty.json    incidents with their log entries, users, teams, services, priorities, shifts
      prometheus.json   SLO measurements: window, previous window, period, daily and fine series
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from opsmeeting.errors import InputError
from opsmeeting.fsutil import atomic_directory
from opsmeeting.models import SCHEMA_VERSION, PagerDutyData, PrometheusData, Snapshot

MANIFEST = "manifest.json"
PAGERDUTY = "pagerduty.json"
PROMETHEUS = "prometheus.json"


def write_snapshot(snapshot: Snapshot, directory: Path) -> None:
    """Write ``snapshot`` to ``directory`` atomically (the whole directory appears at once)."""
    with atomic_directory(directory) as tmp:
        manifest = snapshot.model_dump(mode="json", exclude={"pagerduty", "prometheus"})
        manifest["has_pagerduty"] = snapshot.pagerduty is not None
        manifest["has_prometheus"] = snapshot.prometheus is not None
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        if snapshot.pagerduty is not None:
            (tmp / PAGERDUTY).write_text(snapshot.pagerduty.model_dump_json() + "\n", encoding="utf-8")
        if snapshot.prometheus is not None:
            (tmp / PROMETHEUS).write_text(snapshot.prometheus.model_dump_json() + "\n", encoding="utf-8")


def read_snapshot(directory: Path) -> Snapshot:
    """Read a snapshot directory; a clear InputError names the file and the problem."""
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise InputError(f"{directory}: not a snapshot directory (no {MANIFEST})")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{manifest_path}: unreadable: {exc}") from None
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise InputError(f"{manifest_path}: schema_version {version!r} is not supported (expected {SCHEMA_VERSION})")
    has_pd = manifest.pop("has_pagerduty", False)
    has_prom = manifest.pop("has_prometheus", False)
    parts: dict[str, object] = {}
    for flag, name, model in ((has_pd, PAGERDUTY, PagerDutyData), (has_prom, PROMETHEUS, PrometheusData)):
        if not flag:
            continue
        path = directory / name
        try:
            parts[name] = model.model_validate_json(path.read_bytes())
        except OSError as exc:
            raise InputError(f"{path}: unreadable: {exc.strerror or exc}") from None
        except ValidationError as exc:
            raise InputError(f"{path}: invalid: {_first_errors(exc)}") from None
    try:
        return Snapshot.model_validate(
            {**manifest, "pagerduty": parts.get(PAGERDUTY), "prometheus": parts.get(PROMETHEUS)}
        )
    except ValidationError as exc:
        raise InputError(f"{manifest_path}: invalid: {_first_errors(exc)}") from None


def _first_errors(exc: ValidationError, limit: int = 5) -> str:
    errors = exc.errors()
    shown = "; ".join(
        ".".join(str(p) for p in err["loc"]) + ": " + err["msg"] for err in errors[:limit]
    )
    more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
    return shown + more
