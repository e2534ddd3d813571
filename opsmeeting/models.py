"""Typed values passed between stages: what the collectors return and what a snapshot holds.

Everything here round-trips through JSON (``model_dump_json`` / ``model_validate_json``), so a
snapshot directory can be re-rendered later with no network.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from opsmeeting.window import Window

SCHEMA_VERSION = 1

LogEntryType = Literal["trigger", "acknowledge", "notify", "escalate", "assign", "resolve", "annotate", "other"]
SourceState = Literal["ok", "degraded", "failed", "not_configured"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- PagerDuty -------------------------------------------------------------------------------


class User(Frozen):
    id: str
    name: str
    email: str | None = None
    time_zone: str | None = None


class PdTeam(Frozen):
    id: str
    name: str


class PdService(Frozen):
    id: str
    name: str
    team_ids: list[str] = Field(default_factory=list)


class Priority(Frozen):
    id: str
    name: str
    order: int


class LogEntry(Frozen):
    """One entry of an incident's timeline, reduced to what the metrics read.

    ``type`` drops PagerDuty's ``_log_entry`` suffix. ``agent_type`` is the PagerDuty agent
    reference type (``user_reference``, ``service_reference``, ``integration_reference`` …);
    ``user_id`` is the user the entry is about (the notified user for ``notify``).
    """

    id: str
    type: LogEntryType
    created_at: datetime
    agent_type: str | None = None
    agent_id: str | None = None
    user_id: str | None = None
    channel_type: str | None = None
    notification_type: str | None = None
    note: str | None = None


class Incident(Frozen):
    id: str
    number: int
    title: str
    service_id: str
    created_at: datetime
    status: Literal["triggered", "acknowledged", "resolved"]
    urgency: Literal["high", "low"]
    resolved_at: datetime | None = None
    priority_id: str | None = None
    incident_key: str | None = None
    html_url: str | None = None
    log_entries: list[LogEntry] = Field(default_factory=list)


class OnCallShift(Frozen):
    schedule_id: str
    user_id: str
    start: datetime
    end: datetime


class PagerDutyData(Frozen):
    collected_at: datetime
    users: list[User] = Field(default_factory=list)
    teams: list[PdTeam] = Field(default_factory=list)
    services: list[PdService] = Field(default_factory=list)
    priorities: list[Priority] = Field(default_factory=list)
    incidents: list[Incident] = Field(default_factory=list)
    shifts: list[OnCallShift] = Field(default_factory=list)
    # optional parts that could not be read, with why: "priorities", "services", "users", "teams", "schedules"
    unavailable: dict[str, str] = Field(default_factory=dict)


# --- Prometheus -------------------------------------------------------------------------------


class Counts(Frozen):
    """Event counts over an interval; None when the source had no data for it."""

    good: float | None = None
    total: float | None = None


class DailyCounts(Frozen):
    date: str  # local date of the day's start, YYYY-MM-DD
    start: datetime
    good: float | None = None
    total: float | None = None


class BinnedCounts(Frozen):
    """Bad and total events in a fine time bin ``[start, start + step)``, for budget attribution."""

    start: datetime
    bad: float
    total: float


class SloMeasurement(Frozen):
    """Everything collected for one (service, SLO) pair."""

    service: str
    slo: str
    window: Counts
    previous: Counts = Field(default_factory=Counts)
    period_total: float | None = None
    previous_period_total: float | None = None  # over the SLO period ending at the window start
    period_covered: bool | None = None  # the data reach back to the period's start (None: not checked)
    previous_period_covered: bool | None = None
    daily: list[DailyCounts] = Field(default_factory=list)
    previous_daily: list[DailyCounts] = Field(default_factory=list)
    bins: list[BinnedCounts] = Field(default_factory=list)
    bin_seconds: int | None = None
    quantiles: dict[str, float | None] = Field(default_factory=dict)  # "0.99" -> seconds
    problem: str | None = None  # why every value is missing (a failed query), when one did
    # values Prometheus gave that were not numbers (NaN, ±Inf), by part: "window", "previous", "quantiles"
    notes: dict[str, list[str]] = Field(default_factory=dict)


class PrometheusData(Frozen):
    collected_at: datetime
    server_version: str | None = None
    measurements: list[SloMeasurement] = Field(default_factory=list)


# --- What the run was about ---------------------------------------------------------------


class SetupTeam(Frozen):
    name: str
    display_name: str | None = None
    members: int | None = None


class SetupService(Frozen):
    name: str
    team: str
    pagerduty_service_ids: list[str] = Field(default_factory=list)


class SetupSlo(Frozen):
    name: str
    kind: str
    description: str = ""
    objective: float
    objectives: dict[str, float] = Field(default_factory=dict)
    period_seconds: int
    min_events: int
    formula: str = ""  # the good/total queries, shown in the report for reconciliation
    threshold_seconds: float | None = None  # a latency SLO's bucket bound (le)

    def objective_for(self, service: str) -> float:
        return self.objectives.get(service, self.objective)


class Setup(Frozen):
    """The part of the configuration a report needs, copied into the snapshot (no secrets)."""

    title: str = "Ops Meeting"
    page_size: Literal["A4", "Letter"] = "A4"
    pagerduty_url: str | None = None
    public_url: str | None = None
    teams: list[SetupTeam]
    services: list[SetupService]
    slos: list[SetupSlo] = Field(default_factory=list)
    priority_weights: PriorityWeights = Field(default_factory=lambda: PriorityWeights())
    short_incident_seconds: float = 300.0
    pdf_detail: int = 40  # the PDF shows this many services in full; the HTML shows every one


class SourceStatus(Frozen):
    status: SourceState
    requests: int = 0
    requests_by_endpoint: dict[str, int] = Field(default_factory=dict)
    seconds: float = 0.0
    detail: str = ""


class Snapshot(Frozen):
    """Every datum a run collected, plus the setup it was collected for."""

    schema_version: int = SCHEMA_VERSION
    window: Window
    generated_at: datetime
    setup: Setup
    sources: dict[str, SourceStatus] = Field(default_factory=dict)
    pagerduty: PagerDutyData | None = None
    prometheus: PrometheusData | None = None


class PriorityWeights(Frozen):
    """Weights of the priority formula (README, "Priority"): score = Σ weight × component value."""

    high_urgency_incidents: float = Field(default=1.0, ge=0)
    major_incidents: float = Field(default=5.0, ge=0)
    sleep_interruptions: float = Field(default=1.0, ge=0)
    error_budget_burn: float = Field(default=20.0, ge=0)
    recurrence: float = Field(default=0.5, ge=0)
