"""Collectors: one per source, each filling one role of the snapshot (``incidents`` or ``slos``).

A collector is anything with this shape (``Collector``); a source is registered by one entry of a
registry (``Source``, see ``registry.py`` for the built-in ones), which the pipeline reads. Adding a
source (Opsgenie, Grafana IRM, incident.io...) is a new module that maps its vocabulary onto
``opsmeeting.model`` and one registry entry; aggregation, rendering and the store do not change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from opsmeeting.model import Directory, IncidentData, Role, Setup, SloData, SourceStatus
from opsmeeting.window import Window

if TYPE_CHECKING:
    from opsmeeting.config import Config, SloDefinition


class Discovering(Protocol):
    """An incident source that can list every team and service it has (for ``discovery``)."""

    def directory(self) -> Directory: ...


class Collector(Protocol):
    """Collects one window from one source. No I/O happens before ``collect``."""

    name: str  # the source's name in scorecards.json's ``sources``
    kind: Role

    def collect(self, window: Window, setup: Setup) -> tuple[IncidentData | SloData, SourceStatus]:
        """The window's data for the services of ``setup`` (their source ids, their SLO labels) and how
        the source answered (``ok``, ``degraded``); raise ``CollectorError`` when the source could not
        be read at all."""
        ...

    def request_counts(self) -> dict[str, int]:
        """Requests made so far, per endpoint (also after a failure)."""
        ...


@dataclass(frozen=True)
class BuildContext:
    """What a collector factory may read besides the configuration."""

    slos: list[SloDefinition]
    environ: Mapping[str, str]


CollectorFactory = Callable[["Config", BuildContext], "Collector | None"]


@dataclass(frozen=True)
class Source:
    """A registered source: the role it fills, how a reader calls it, and its collector's factory
    (None when the configuration does not ask for the source). ``not_configured`` says why, then."""

    name: str
    role: Role
    label: str
    factory: CollectorFactory
    not_configured: Callable[[Config, BuildContext], str]
