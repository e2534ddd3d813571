"""Import SLO definitions that teams already wrote: Sloth specs and OpenSLO v1 SLOs.

Sloth (``prometheus/v1`` files and the ``PrometheusServiceLevel`` Kubernetes CRD) describes one
service per file with ``error_query``/``total_query`` over ``rate(...[{{.window}}])``. OpenSLO v1
describes ``ratioMetric`` indicators whose Prometheus queries are counter selectors.

Each imported SLO is turned into window *counts* (``rate`` → ``increase``; OpenSLO counters
wrapped in ``sum(increase(...[{{window}}]))``), labelled with the service's group label, and SLOs
of the same name across services are joined with ``or`` into one definition, so the number of
queries stays one per SLO name and kind. Sloth's own period SLI (a mean of 5-minute ratios) is
not used: the window is computed from the raw counters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from opsmeeting.config.schema import Config, RatioSlo, SloDefinition, SloImport
from opsmeeting.durations import parse_duration
from opsmeeting.errors import ConfigError

RATE = re.compile(r"(?<![a-z_])rate\(")
SLOTH_WINDOW = re.compile(r"\{\{\s*\.window\s*\}\}")


def load_slos(config: Config) -> list[SloDefinition]:
    """The configured SLOs plus every imported one; names must not collide."""
    slos: list[SloDefinition] = list(config.slos)
    imported = import_files(config.slo_imports, config)
    taken = {s.name for s in slos}
    problems = [f"slo_imports: SLO {s.name!r} is also defined under slos" for s in imported if s.name in taken]
    if problems:
        raise ConfigError("slo_imports", problems)
    return slos + imported


def import_files(imports: Iterable[SloImport], config: Config) -> list[RatioSlo]:
    parts: dict[str, list[dict[str, Any]]] = {}
    problems: list[str] = []
    labels = _labels(config)
    for index, item in enumerate(imports):
        where = f"slo_imports[{index}] ({item.path})"
        try:
            documents = [d for d in yaml.safe_load_all(Path(item.path).read_text(encoding="utf-8")) if d]
        except OSError as exc:
            problems.append(f"{where}: cannot read: {exc.strerror or exc}")
            continue
        except yaml.YAMLError as exc:
            problems.append(f"{where}: invalid YAML: {exc}")
            continue
        reader = _sloth if item.format == "sloth" else _openslo
        for doc_index, document in enumerate(documents):
            for part in reader(document, f"{where} document {doc_index + 1}", labels, problems):
                parts.setdefault(part["name"], []).append(part)
    if problems:
        raise ConfigError("slo_imports", problems)
    return [_join(name, items, config) for name, items in sorted(parts.items())]


class _Labels(dict[str, str]):
    """A service's SLO label by its name; with discovery, a service not listed under ``services:`` is
    taken as discovered: its name is its key and its label (``{name|slug}``, the default template)."""

    def __init__(self, labels: dict[str, str], discovery: bool) -> None:
        super().__init__(labels)
        self.discovery = discovery

    def __missing__(self, name: str) -> str:
        if self.discovery:
            return name
        raise KeyError(name)


def _labels(config: Config) -> _Labels:
    return _Labels({s.name: s.label for s in config.services}, config.discovery is not None)


def _service(name: Any, labels: _Labels, where: str, problems: list[str]) -> str | None:
    if not isinstance(name, str) or not name:
        problems.append(f"{where}: a service name is required")
        return None
    if name not in labels and not labels.discovery:
        problems.append(f"{where}: service {name!r} is not one of the configured services")
        return None
    return name


def _sloth(doc: Any, where: str, labels: _Labels, problems: list[str]) -> list[dict[str, Any]]:
    if not isinstance(doc, dict):
        problems.append(f"{where}: not a mapping")
        return []
    if doc.get("kind") == "PrometheusServiceLevel":
        spec = doc.get("spec") or {}
    elif doc.get("version") == "prometheus/v1":
        spec = doc
    else:
        problems.append(f"{where}: not a Sloth spec (version prometheus/v1 or kind PrometheusServiceLevel)")
        return []
    service = _service(spec.get("service"), labels, f"{where}: service", problems)
    out = []
    for index, slo in enumerate(spec.get("slos") or []):
        at = f"{where}: slos[{index}]"
        events = (slo.get("sli") or {}).get("events")
        if not events:
            problems.append(f"{at}: only sli.events (error_query and total_query) can be imported; raw ratios and "
                            "plugins give no event counts")
            continue
        try:
            objective = float(slo["objective"]) / 100.0
        except (KeyError, TypeError, ValueError):
            problems.append(f"{at}.objective: a percentage such as 99.9 is required")
            continue
        if service is None:
            continue
        out.append({
            "name": str(slo.get("name")),
            "service": service,
            "objective": objective,
            "description": str(slo.get("description") or ""),
            "bad": _counts(events.get("error_query", ""), sloth=True),
            "total": _counts(events.get("total_query", ""), sloth=True),
            "period": None,
        })
    return out


def _openslo(doc: Any, where: str, labels: _Labels, problems: list[str]) -> list[dict[str, Any]]:
    if not isinstance(doc, dict) or doc.get("apiVersion") != "openslo/v1":
        problems.append(f"{where}: not an OpenSLO v1 document")
        return []
    if doc.get("kind") != "SLO":
        return []  # Service, SLI, AlertPolicy… documents carry nothing to import on their own
    spec = doc.get("spec") or {}
    name = (doc.get("metadata") or {}).get("name")
    at = f"{where}: SLO {name!r}"
    service = _service(spec.get("service"), labels, f"{at}: spec.service", problems)
    ratio = ((spec.get("indicator") or {}).get("spec") or {}).get("ratioMetric")
    if not ratio:
        problems.append(f"{at}: only inline indicators with a ratioMetric can be imported")
        return []
    if ratio.get("counter") is False:
        problems.append(f"{at}: ratioMetric.counter is false; only counters give event counts")
        return []
    objectives = spec.get("objectives") or []
    try:
        objective = float(objectives[0]["target"])
    except (IndexError, KeyError, TypeError, ValueError):
        problems.append(f"{at}: objectives[0].target is required")
        return []
    queries: dict[str, str] = {}
    for kind in ("good", "bad", "total"):
        source = ((ratio.get(kind) or {}).get("metricSource") or {})
        if not source:
            continue
        if str(source.get("type", "")).lower() != "prometheus":
            problems.append(f"{at}: ratioMetric.{kind} is not a Prometheus metric source")
            return []
        selector = str((source.get("spec") or {}).get("query", "")).strip()
        queries[kind] = f"sum(increase({selector}[{{{{window}}}}]))"
    if "total" not in queries or ("good" in queries) == ("bad" in queries):
        problems.append(f"{at}: ratioMetric needs total and exactly one of good and bad")
        return []
    period = None
    windows = spec.get("timeWindow") or []
    if windows and windows[0].get("duration"):
        try:
            period = parse_duration(str(windows[0]["duration"]))
        except ValueError:
            problems.append(f"{at}: timeWindow[0].duration {windows[0]['duration']!r} is not a duration")
    if service is None:
        return []
    return [{"name": str(name), "service": service, "objective": objective,
             "description": str(spec.get("description") or ""), "period": period, **queries}]


def _counts(query: str, *, sloth: bool) -> str:
    text = SLOTH_WINDOW.sub("{{window}}", query) if sloth else query
    return RATE.sub("increase(", text)


def _join(name: str, parts: list[dict[str, Any]], config: Config) -> RatioSlo:
    labels = _labels(config)
    group = "service"
    kinds = [k for k in ("good", "bad") if all(k in p and p[k] for p in parts)]
    if not kinds:
        raise ConfigError("slo_imports", [f"SLO {name!r}: every imported service needs the same kind of query "
                                          "(good or bad)"])
    kind = kinds[0]

    def joined(key: str) -> str:
        return " or ".join(
            f'label_replace(({p[key]}), "{group}", "{labels[p["service"]]}", "", "")' for p in parts
        )

    objectives = {p["service"]: p["objective"] for p in parts}
    periods = {p["period"] for p in parts if p["period"]}
    return RatioSlo(
        name=name,
        description=parts[0]["description"],
        objective=min(objectives.values()),
        objectives=objectives,
        period=min(periods) if periods else timedelta(days=28),
        group_by=group,
        min_events=100,
        services=sorted(objectives),  # the imported services only: no "no data" row for any other
        **{kind: joined(kind), "total": joined("total")},
    )
