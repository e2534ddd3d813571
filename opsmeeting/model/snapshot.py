"""A snapshot: every datum a run collected, by role (incidents, SLOs), plus the setup it was collected
for and each source's status. Written to the snapshot directory; a report re-renders from it offline."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from opsmeeting.model.base import Frozen
from opsmeeting.model.incidents import IncidentData
from opsmeeting.model.setup import Setup
from opsmeeting.model.slos import SloData
from opsmeeting.window import Window

SCHEMA_VERSION = 2  # 1: slots named pagerduty/prometheus with PagerDuty's vocabulary (read through a migration)

SourceState = Literal["ok", "degraded", "failed", "not_configured"]


class SourceStatus(Frozen):
    status: SourceState
    requests: int = 0
    requests_by_endpoint: dict[str, int] = Field(default_factory=dict)
    seconds: float = 0.0
    detail: str = ""


Role = Literal["incidents", "slos"]


class SourceRole(Frozen):
    """Which source fills a role, and how a reader calls it ("PagerDuty")."""

    source: str
    label: str


class Snapshot(Frozen):
    schema_version: int = SCHEMA_VERSION
    window: Window
    generated_at: datetime
    setup: Setup
    sources: dict[str, SourceStatus] = Field(default_factory=dict)  # by source name ("pagerduty", ...)
    roles: dict[Role, SourceRole] = Field(default_factory=dict)  # the configured source of each role
    incidents: IncidentData | None = None  # None: no incident source was read
    slos: SloData | None = None  # None: no SLO source was read

    def role_status(self, role: Role) -> tuple[SourceRole | None, SourceStatus | None]:
        """The source configured for ``role`` and its status (None, None when there is none)."""
        info = self.roles.get(role)
        return info, (self.sources.get(info.source) if info else None)
