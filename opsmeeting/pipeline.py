"""The stages wired together: collect → aggregate → meeting view → render → write (→ deliver, in the
runner). ``collect`` makes a snapshot; ``make_report`` makes a report's files from one.

Sources are registered explicitly (``collectors.registry.SOURCES``, or the ``sources`` a caller
passes). A source that fails does not stop the run: its data is ``None`` in the snapshot, its
status says why, and the report carries a banner.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from opsmeeting import discovery, memory
from opsmeeting.aggregate.model import History, Scorecards
from opsmeeting.aggregate.scorecards import build_scorecards
from opsmeeting.collectors import BuildContext, Collector, Source
from opsmeeting.collectors.prometheus import queries_for
from opsmeeting.collectors.registry import SOURCES
from opsmeeting.config import Config, SloDefinition
from opsmeeting.config.slo_import import load_slos
from opsmeeting.errors import CollectorError, ExitCode, InputError, write_crash_log
from opsmeeting.meeting.model import MeetingView
from opsmeeting.model import (
    Directory,
    IncidentData,
    Role,
    Setup,
    SetupService,
    SetupSlo,
    SloCorrection,
    SloData,
    Snapshot,
    SourceRole,
    SourceStatus,
)
from opsmeeting.report.output import ReportFiles, write_report
from opsmeeting.report.render import render_report
from opsmeeting.window import Window

log = logging.getLogger("opsmeeting")


def rules_of(config: Config) -> discovery.Rules | None:
    d = config.discovery
    if d is None:
        return None
    return discovery.Rules(teams=tuple(d.teams), exclude_services=tuple(d.exclude_services),
                           exclude_teams=tuple(d.exclude_teams), prometheus_label=d.prometheus_label,
                           unassigned_team=d.unassigned_team)


def setup_from_config(config: Config, slos: list[SloDefinition], directory: Directory | None = None,
                      known_keys: Mapping[str, str] | None = None) -> tuple[Setup, dict[str, str]]:
    """The setup of a run: the explicit teams and services, plus those discovered in ``directory``
    when the configuration has a ``discovery`` section; and the keys given to discovered ids."""
    resolved = discovery.resolve(
        [discovery.ExplicitTeam(t.name, t.display_name, t.members, tuple(t.pagerduty_team_ids)) for t in config.teams],
        [discovery.ExplicitService(s.name, s.team, s.display_name, tuple(s.pagerduty_service_ids), s.label)
         for s in config.services],
        rules_of(config) if directory is not None else None,
        directory.teams if directory else [], directory.services if directory else [], known_keys)
    setup = Setup(
        title=config.output.title,
        page_size=config.output.page_size,
        public_url=config.output.public_url,
        teams=resolved.teams,
        services=resolved.services,
        slos=[
            SetupSlo(
                name=slo.name, kind=slo.kind, description=slo.description, objective=slo.objective,
                objectives=dict(slo.objectives), period_seconds=int(slo.rolling.total_seconds()),
                min_events=slo.min_events, formula=queries_for(slo).formula(),
                threshold_seconds=getattr(slo, "threshold", None), calendar=slo.calendar,
                page_burn_rate_1h=slo.page_burn_rate_1h, page_burn_rate_6h=slo.page_burn_rate_6h,
                exclude_maintenance=slo.exclude_maintenance,
                expected=[svc.name for svc in resolved.services if svc.team in slo.teams
                          or discovery.matches(slo.services, svc.name, svc.name)]
                if slo.services or slo.teams else None,
            )
            for slo in slos
        ],
        slo_corrections=slo_corrections(config, resolved.services),
        priority_weights=config.priority.weights,
        short_incident_seconds=config.priority.short_incident.total_seconds(),
        handoff_acknowledged_longer_than_seconds=config.handoff.acknowledged_longer_than.total_seconds(),
        targets=config.targets.as_numbers(),
        pdf_detail=config.output.pdf_detail,
    )
    return setup, resolved.keys


def slo_corrections(config: Config, services: Sequence[SetupService]) -> list[SloCorrection]:
    """The configuration's ``slo_corrections`` in UTC (local wall times in the rotation's zone, the first
    of an ambiguous hour), their service patterns resolved to the keys they match (by key or name)."""
    zone = ZoneInfo(config.rotation.timezone)

    def utc(moment: datetime) -> datetime:
        return (moment if moment.tzinfo else moment.replace(tzinfo=zone, fold=0)).astimezone(UTC)

    out = []
    for item in config.slo_corrections:
        keys = None
        if item.services and "*" not in item.services:
            keys = [s.name for s in services if discovery.matches(item.services, s.name, s.name)
                    or (s.display_name and discovery.matches(item.services, s.name, s.display_name))]
        out.append(SloCorrection(start=utc(item.start), end=utc(item.end), reason=item.reason.strip(),
                                 services=keys, slos=list(item.slos) or None))
    return out


@dataclass
class Collected:
    snapshot: Snapshot
    timings: dict[str, float]
    keys: dict[str, str] = field(default_factory=dict)  # keys given to discovered ids, for the store


def collect(
    config: Config,
    window: Window,
    *,
    environ: Mapping[str, str] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sources: Sequence[Source] = SOURCES,
    on_step: Callable[[str], None] = lambda _: None,
    known_keys: Mapping[str, str] | None = None,
) -> Collected:
    """Run every registered source's collector for ``window``; a failing source is recorded, not
    raised, and never costs another source its data. One source per role may be configured."""
    env = environ if environ is not None else os.environ
    slos = load_slos(config)
    context = BuildContext(slos=slos, environ=env)
    statuses: dict[str, SourceStatus] = {}
    data: dict[Role, IncidentData | SloData | None] = {}
    roles: dict[Role, SourceRole] = {}
    timings: dict[str, float] = {}
    built: list[tuple[Source, Collector | None, CollectorError | None]] = []
    for source in sources:
        try:  # a factory may already fail (a token not set, a CA bundle that cannot be read)
            built.append((source, source.factory(config, context), None))
        except CollectorError as exc:
            built.append((source, None, exc))
    for role in ("incidents", "slos"):
        configured = [s.name for s, c, e in built if (c is not None or e is not None) and s.role == role]
        if len(configured) > 1:
            raise InputError(f"more than one {role} source is configured ({', '.join(configured)}): keep one")
    directory = _directory(config, built, statuses)
    setup, keys = setup_from_config(config, slos, directory, known_keys)
    if config.discovery is not None and directory is None:  # the explicit entries alone: not every service
        setup = setup.model_copy(update={"services_complete": False})
    for source, collector, broken in built:
        if collector is None and broken is None:
            statuses[source.name] = SourceStatus(status="not_configured", detail=source.not_configured(config, context))
            roles.setdefault(source.role, SourceRole(source=source.name, label=source.label))
            continue
        roles[source.role] = SourceRole(source=source.name, label=source.label)
        if source.name in statuses:  # its discovery failed: nothing to collect it with
            data[source.role] = None
            continue
        started = time.perf_counter()
        try:
            if broken is not None:
                raise broken
            assert collector is not None
            data[source.role], statuses[source.name] = collector.collect(window, setup)
            gc.freeze()  # what a source returned lives to the end of the run: later stages need not sweep it
            memory.release()  # its pages and answers, parsed and let go
        except Exception as exc:  # a source's failure, expected or not, never costs another source its data
            statuses[source.name] = _failed(exc, collector, started)
            data[source.role] = None
        timings[source.name] = time.perf_counter() - started
        status = statuses[source.name]
        on_step(f"{source.name}: {status.status}, {status.requests} requests in {timings[source.name]:.1f} s"
                + (f" ({status.detail})" if status.status != "ok" else ""))
    incidents, slo_data = data.get("incidents"), data.get("slos")
    snapshot = Snapshot(
        window=window,
        generated_at=now(),
        setup=setup,
        sources=statuses,
        roles=roles,
        incidents=incidents if isinstance(incidents, IncidentData) else None,
        slos=slo_data if isinstance(slo_data, SloData) else None,
    )
    return Collected(snapshot=snapshot, timings=timings, keys=keys)


def _failed(exc: Exception, collector: Collector | None, started: float) -> SourceStatus:
    if isinstance(exc, CollectorError):
        detail = exc.message
    else:
        try:
            where = f"traceback in {write_crash_log(exc)}"
        except OSError:
            where = "no crash log could be written"
        detail = f"unexpected {type(exc).__name__}: {str(exc)[:200]} ({where})"
    counts = collector.request_counts() if collector is not None else {}
    return SourceStatus(status="failed", detail=detail, requests=sum(counts.values()), requests_by_endpoint=counts,
                        seconds=round(time.perf_counter() - started, 3))


def _directory(config: Config, built: list[tuple[Source, Collector | None, CollectorError | None]],
               statuses: dict[str, SourceStatus]) -> Directory | None:
    """With a discovery section, the incident source's teams and services (read once: its collection
    reuses them). When they cannot be read, that source fails, and the explicit entries alone remain."""
    if config.discovery is None:
        return None
    for source, collector, broken in built:
        if source.role != "incidents" or collector is None or broken is not None:
            continue
        read = getattr(collector, "directory", None)
        if read is None:
            continue
        started = time.perf_counter()
        try:
            directory: Directory = read()
        except Exception as exc:
            statuses[source.name] = _failed(exc, collector, started)
            return None
        return directory
    return None


def exit_code_for(snapshot: Snapshot, cards: Scorecards | None = None) -> ExitCode:
    """3 when a source failed or answered in part, or an item could not be aggregated or rendered."""
    degraded = any(s.status in ("failed", "degraded") for s in snapshot.sources.values())
    return ExitCode.DEGRADED if degraded or (cards is not None and cards.item_errors) else ExitCode.OK


def window_directory(out: Path, window: Window) -> Path:
    return out / window.folder


@dataclass
class Report:
    """What one report's making produced: its scorecards (with the items left out by an error), its
    files, its exit code (0, or 3 when degraded) and how long each stage took."""

    cards: Scorecards
    files: ReportFiles
    exit_code: ExitCode
    timings: dict[str, float]


def make_report(snapshot: Snapshot, directory: Path, meeting_for: Callable[[Scorecards], MeetingView], *,
                history: History | None = None, templates_dir: Path | None = None, pdf: bool = True) -> Report:
    """aggregate → meeting view → render → write: the one path from a snapshot to a report's files, for
    ``run``, ``render`` and ``demo`` alike. ``meeting_for`` gives the meeting loop to show beside the
    scorecards (the wheel's tilt reads their priorities)."""
    started = time.perf_counter()
    cards = build_scorecards(snapshot, history=history)
    aggregation = time.perf_counter() - started
    memory.release()  # the aggregation's frames
    meeting = meeting_for(cards)
    rendered = render_report(cards, meeting, templates_dir=templates_dir, pdf=pdf)
    memory.release()  # the PDF's layout
    cards = cards.model_copy(update={"item_errors": [*cards.item_errors, *rendered.item_errors]})
    files = write_report(directory, cards, rendered, meeting)
    return Report(cards=cards, files=files, exit_code=exit_code_for(snapshot, cards),
                  timings={"aggregation": aggregation, **rendered.timings})
