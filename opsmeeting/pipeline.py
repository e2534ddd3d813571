"""The stages wired together: configuration → collectors → snapshot → scorecards → report files.

Collectors are registered explicitly (``COLLECTORS``); an unknown name fails loudly. A source
that fails does not stop the run: its data is ``None`` in the snapshot, its status says why, and
the report carries a banner.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from opsmeeting.aggregate.model import Scorecards
from opsmeeting.collectors.pagerduty import PagerDutyCollector
from opsmeeting.collectors.prometheus import PrometheusCollector, queries_for
from opsmeeting.config import Config, SloDefinition
from opsmeeting.config.slo_import import load_slos
from opsmeeting.errors import CollectorError, ExitCode, write_crash_log
from opsmeeting.models import Setup, SetupService, SetupSlo, SetupTeam, Snapshot, SourceStatus
from opsmeeting.window import Window

log = logging.getLogger("opsmeeting")


class Collector(Protocol):
    name: str

    def collect(self, window: Window) -> tuple[Any, SourceStatus]: ...

    def request_counts(self) -> dict[str, int]: ...


def _pagerduty(config: Config, slos: list[SloDefinition], environ: Mapping[str, str]) -> Collector | None:
    source = config.sources.pagerduty
    if source is None:
        return None
    return PagerDutyCollector(
        source,
        service_ids=[pid for svc in config.services for pid in svc.pagerduty_service_ids],
        schedule_ids=config.rotation.pagerduty_schedule_ids,
        environ=dict(environ),
    )


def _prometheus(config: Config, slos: list[SloDefinition], environ: Mapping[str, str]) -> Collector | None:
    source = config.sources.prometheus
    if source is None or not slos:
        return None
    return PrometheusCollector(source, slos, config.services, environ=dict(environ))


CollectorFactory = Callable[[Config, list[SloDefinition], Mapping[str, str]], "Collector | None"]
COLLECTORS: dict[str, CollectorFactory] = {"pagerduty": _pagerduty, "prometheus": _prometheus}


def setup_from_config(config: Config, slos: list[SloDefinition]) -> Setup:
    return Setup(
        title=config.output.title,
        page_size=config.output.page_size,
        pagerduty_url=config.sources.pagerduty.url if config.sources.pagerduty else None,
        public_url=config.output.public_url,
        teams=[SetupTeam(name=t.name, display_name=t.display_name, members=t.members) for t in config.teams],
        services=[SetupService(name=s.name, team=s.team, pagerduty_service_ids=s.pagerduty_service_ids)
                  for s in config.services],
        slos=[
            SetupSlo(
                name=slo.name, kind=slo.kind, description=slo.description, objective=slo.objective,
                objectives=dict(slo.objectives), period_seconds=int(slo.period.total_seconds()),
                min_events=slo.min_events, formula=queries_for(slo).formula(),
                threshold_seconds=getattr(slo, "threshold", None),
            )
            for slo in slos
        ],
        priority_weights=config.priority.weights,
        short_incident_seconds=config.priority.short_incident.total_seconds(),
        pdf_detail=config.output.pdf_detail,
    )


@dataclass
class Collected:
    snapshot: Snapshot
    timings: dict[str, float]


def collect(
    config: Config,
    window: Window,
    *,
    environ: Mapping[str, str] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    factories: Mapping[str, CollectorFactory] | None = None,
    on_step: Callable[[str], None] = lambda _: None,
) -> Collected:
    """Run every configured collector for ``window``; a failing source is recorded, not raised."""
    env = environ if environ is not None else os.environ
    slos = load_slos(config)
    sources: dict[str, SourceStatus] = {}
    data: dict[str, Any] = {}
    timings: dict[str, float] = {}
    for name, factory in (factories or COLLECTORS).items():
        started = time.perf_counter()
        collector: Collector | None = None
        try:
            collector = factory(config, slos, env)
            if collector is None:
                sources[name] = SourceStatus(status="not_configured", detail=_not_configured(config, name, slos))
                continue
            data[name], sources[name] = collector.collect(window)
            gc.freeze()  # what a source returned lives to the end of the run: later stages need not sweep it
        except Exception as exc:  # a source's failure, expected or not, never costs another source its data
            if isinstance(exc, CollectorError):
                detail = exc.message
            else:
                try:
                    where = f"traceback in {write_crash_log(exc)}"
                except OSError:
                    where = "no crash log could be written"
                detail = f"unexpected {type(exc).__name__}: {str(exc)[:200]} ({where})"
            counts = collector.request_counts() if collector is not None else {}
            sources[name] = SourceStatus(status="failed", detail=detail, requests=sum(counts.values()),
                                         requests_by_endpoint=counts,
                                         seconds=round(time.perf_counter() - started, 3))
            data[name] = None
        timings[name] = time.perf_counter() - started
        status = sources.get(name)
        if status is not None and status.status != "not_configured":
            on_step(f"{name}: {status.status}, {status.requests} requests in {timings[name]:.1f} s"
                    + (f" ({status.detail})" if status.status != "ok" else ""))
    snapshot = Snapshot(
        window=window,
        generated_at=now(),
        setup=setup_from_config(config, slos),
        sources=sources,
        pagerduty=data.get("pagerduty"),
        prometheus=data.get("prometheus"),
    )
    return Collected(snapshot=snapshot, timings=timings)


def _not_configured(config: Config, name: str, slos: list[SloDefinition]) -> str:
    if name == "prometheus" and config.sources.prometheus is not None and not slos:
        return "no SLOs are defined (slos, slo_imports)"
    return f"not configured (sources.{name})"


def configured_sources(config: Config) -> list[str]:
    """The sources a run would collect; ``run`` refuses a configuration with none."""
    names = []
    if config.sources.pagerduty is not None:
        names.append("pagerduty")
    if config.sources.prometheus is not None and (config.slos or config.slo_imports):
        names.append("prometheus")
    return names


def exit_code_for(snapshot: Snapshot, cards: Scorecards | None = None) -> ExitCode:
    """3 when a source failed or answered in part, or an item could not be aggregated or rendered."""
    degraded = any(s.status in ("failed", "degraded") for s in snapshot.sources.values())
    return ExitCode.DEGRADED if degraded or (cards is not None and cards.item_errors) else ExitCode.OK


def window_directory(out: Path, window: Window) -> Path:
    return out / window.folder
