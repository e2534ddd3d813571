"""What a run was about: the part of the configuration a report needs, copied into the snapshot (no
secrets), so a report re-renders from its snapshot alone."""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import Field

from opsmeeting.model.base import Frozen
from opsmeeting.model.slos import CalendarPeriod, SloCorrection


class PriorityWeights(Frozen):
    """Weights of the priority formula (README, "Priority"): score = Σ weight × component value."""

    high_urgency_incidents: float = Field(default=1.0, ge=0)
    major_incidents: float = Field(default=5.0, ge=0)
    sleep_interruptions: float = Field(default=1.0, ge=0)
    error_budget_burn: float = Field(default=20.0, ge=0)
    recurrence: float = Field(default=0.5, ge=0)


class SetupTeam(Frozen):
    name: str
    display_name: str | None = None
    members: int | None = None
    source_ids: list[str] = Field(default_factory=list)  # the incident source's team ids


class SetupService(Frozen):
    name: str  # the key: scorecards.json's ``service``, the store's history
    team: str
    display_name: str | None = None  # as a person reads it (the source's name, exactly), when not ``name``
    source_ids: list[str] = Field(default_factory=list)  # the incident source's service ids
    slo_label: str | None = None  # the value of the SLO group label (``service``) for it; None: ``name``

    @property
    def label(self) -> str:
        return self.slo_label or self.name


class SetupSlo(Frozen):
    name: str
    kind: str
    # the services this SLO is expected to have data for, by name, when it selects some (its
    # `services`/`teams`); None when it selects none: those with its series in the window or the SLO
    # period get rows. "No data" is only said of expected services.
    expected: list[str] | None = None
    description: str = ""
    objective: float
    objectives: dict[str, float] = Field(default_factory=dict)
    period_seconds: int
    min_events: int
    formula: str = ""  # the good/total queries, shown in the report for reconciliation
    threshold_seconds: float | None = None  # a latency SLO's bucket bound (le)
    # a calendar SLO period in the rotation's time zone; None: a rolling period of ``period_seconds``
    calendar: CalendarPeriod | None = None
    page_burn_rate_1h: float = 14.4  # the SRE workbook's page thresholds (METRICS.md, "Burn rates")
    page_burn_rate_6h: float = 6.0
    exclude_maintenance: bool = True  # the incident source's maintenance windows are not judged

    def objective_for(self, service: str) -> float:
        return self.objectives.get(service, self.objective)


class Setup(Frozen):
    title: str = "Ops Meeting"
    page_size: Literal["A4", "Letter"] = "A4"
    public_url: str | None = None
    teams: list[SetupTeam]
    services: list[SetupService]
    slos: list[SetupSlo] = Field(default_factory=list)
    slo_corrections: list[SloCorrection] = Field(default_factory=list)  # time ranges the SLOs do not judge
    priority_weights: PriorityWeights = Field(default_factory=PriorityWeights)
    short_incident_seconds: float = 300.0
    # the handoff lists incidents acknowledged longer than this at the window end without resolution
    handoff_acknowledged_longer_than_seconds: float = 86400.0
    targets: dict[str, float] = Field(default_factory=dict)  # incident-table key → the most it should be
    pdf_detail: int = 40  # the PDF shows this many services in full; the HTML shows every one
    # False when discovery was configured but the source's teams and services could not be read:
    # the explicit entries alone are listed, and which services are new or gone is unknown
    services_complete: bool = True

    def service_name(self, key: str) -> str:
        """The name people read for a service key (its display name, or the key itself)."""
        svc = self._service_index.get(key)
        return (svc.display_name or svc.name) if svc else key

    def team_name(self, key: str) -> str:
        """The name people read for a team key."""
        team = self._team_index.get(key)
        return (team.display_name or team.name) if team else key

    @cached_property
    def _service_index(self) -> dict[str, SetupService]:
        return {s.name: s for s in self.services}

    @cached_property
    def _team_index(self) -> dict[str, SetupTeam]:
        return {t.name: t for t in self.teams}
