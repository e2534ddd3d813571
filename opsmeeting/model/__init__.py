"""The typed values passed between stages (no vendor's vocabulary): what collectors return and what a
snapshot holds. Everything round-trips through JSON."""

from opsmeeting.model.base import Frozen
from opsmeeting.model.incidents import (
    Actor,
    Directory,
    Event,
    EventKind,
    Holder,
    Incident,
    IncidentData,
    Maintenance,
    MaintenanceWindow,
    Person,
    Severity,
    Shift,
    SourceService,
    SourceTeam,
    following,
)
from opsmeeting.model.setup import PriorityWeights, Setup, SetupService, SetupSlo, SetupTeam
from opsmeeting.model.slos import BinnedCounts, Counts, DailyCounts, SloData, SloMeasurement
from opsmeeting.model.snapshot import SCHEMA_VERSION, Role, Snapshot, SourceRole, SourceState, SourceStatus

__all__ = [
    "SCHEMA_VERSION",
    "Actor",
    "BinnedCounts",
    "Counts",
    "DailyCounts",
    "Directory",
    "Event",
    "EventKind",
    "Frozen",
    "Holder",
    "Incident",
    "IncidentData",
    "Maintenance",
    "MaintenanceWindow",
    "Person",
    "PriorityWeights",
    "Role",
    "Setup",
    "SetupService",
    "SetupSlo",
    "SetupTeam",
    "Severity",
    "Shift",
    "SloData",
    "SloMeasurement",
    "Snapshot",
    "SourceRole",
    "SourceService",
    "SourceState",
    "SourceStatus",
    "SourceTeam",
    "following",
]
