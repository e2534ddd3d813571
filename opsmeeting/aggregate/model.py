"""The scorecards: the typed output of aggregation, read by templates and written as JSON/CSV.

Key names are the contract of METRICS.md (``scorecards.json``); do not rename them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field
from pydantic.dataclasses import dataclass

from opsmeeting.model import Role, Setup, SourceRole, SourceStatus
from opsmeeting.window import Window

INCIDENT_KEYS: tuple[str, ...] = (
    "incidents_total",
    "incidents_high_urgency",
    "incidents_low_urgency",
    "incidents_major",
    "incidents_open",
    "acknowledged",
    "mtta_mean_s",
    "mtta_p50_s",
    "mtta_p90_s",
    "mttr_mean_s",
    "mttr_p50_s",
    "mttr_p90_s",
    "auto_resolved",
    "resolved_without_ack",
    "escalated",
    "timeout_escalated",
    "interruptions",
    "interruptions_business",
    "interruptions_off_hours",
    "interruptions_sleep",
    "hours_with_interruptions",
)


class Card(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IncidentMetrics(Card):
    """METRICS.md's incident table. Every value is None when PagerDuty could not be read."""

    incidents_total: int | None
    incidents_high_urgency: int | None
    incidents_low_urgency: int | None
    incidents_major: int | None
    incidents_open: int | None
    acknowledged: int | None
    mtta_mean_s: float | None
    mtta_p50_s: float | None
    mtta_p90_s: float | None
    mttr_mean_s: float | None
    mttr_p50_s: float | None
    mttr_p90_s: float | None
    auto_resolved: int | None
    resolved_without_ack: int | None
    escalated: int | None
    timeout_escalated: int | None
    interruptions: int | None
    interruptions_business: int | None
    interruptions_off_hours: int | None
    interruptions_sleep: int | None
    hours_with_interruptions: int | None

    @classmethod
    def zero(cls) -> IncidentMetrics:
        """No incidents: counts are 0, times are null (no incident to average)."""
        return cls(**{k: (None if k.startswith(("mtta", "mttr")) else 0) for k in INCIDENT_KEYS})

    @classmethod
    def unknown(cls) -> IncidentMetrics:
        return cls(**dict.fromkeys(INCIDENT_KEYS))

    @property
    def known(self) -> bool:
        return self.incidents_total is not None


SloStatus = Literal["ok", "low_traffic", "no_data", "error", "excluded"]


# The records a large organisation has by the hundred thousand (attributions, days, noise candidates):
# slotted, validated dataclasses rather than models, at a third of the memory; their JSON is the same.
RECORD = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True, config=RECORD)
class DailySli:
    date: str
    good: float | None
    total: float | None


class RawSlo(Card):
    """An SLO's window before its exclusions (METRICS.md, "Exclusions"): the counts Prometheus gave."""

    good: float | None
    total: float | None
    bad: float | None
    sli: float | None
    error_budget_consumed: float | None


class SloExclusion(Card):
    """A maintenance window or a correction that removed hours of a window from an SLO (METRICS.md,
    "Exclusions"). ``start``/``end`` as declared; ``hours`` whole hours of the window's hourly grid,
    ``hours_start``/``hours_end`` their span, and the events in them (null: an hour had no number)."""

    kind: Literal["maintenance", "correction"]
    id: str | None = None  # the maintenance window's id at the source
    start: datetime
    end: datetime
    hours: int
    hours_start: datetime | None = None
    hours_end: datetime | None = None
    good: float | None = None
    total: float | None = None
    bad: float | None = None
    reason: str | None = None
    url: str | None = None


class SloPrevious(Card):
    """METRICS.md's SLO keys for the previous window of equal length (for trends)."""

    good: float | None
    total: float | None
    sli: float | None
    error_budget_consumed: float | None
    bad: float | None = None
    met: bool | None = None
    error_budget_remaining: float | None = None
    period_budget_consumed: float | None = None
    daily: list[DailySli] = Field(default_factory=list)
    status: SloStatus = "no_data"
    reason: str | None = None  # why the window could not be judged, when it could not
    notes: list[str] = Field(default_factory=list)  # why a single value is null
    raw: RawSlo | None = None  # before exclusions (None: scorecards made before exclusions existed)
    excluded: list[SloExclusion] = Field(default_factory=list)


@dataclass(frozen=True, slots=True, config=RECORD)
class BudgetAttribution:
    """How much of an SLO's bad events in the window fell inside one incident's open interval."""

    incident_id: str
    incident_number: int
    title: str
    bad: float
    share_of_bad: float  # of the window's bad events
    share_of_budget: float  # of the window's error budget


class BurnEpisode(Card):
    """A burn episode (METRICS.md, "Burn rates and alerting gaps"): hours ``[start, end)`` burning the
    budget faster than it lasts, with at least one hour at a page threshold."""

    start: datetime
    end: datetime
    hours: int
    peak_burn_rate_1h: float
    bad: float  # bad events in it (after exclusions)
    budget_consumed: float | None  # of the window's error budget
    pages: list[int] = Field(default_factory=list)  # high-urgency incidents of the service in it (numbers)
    other_incidents: list[int] = Field(default_factory=list)  # its low-urgency incidents in it
    alerting_gap: bool | None = None  # no page in it; None: the incidents are unknown


class SloBurn(Card):
    """Hourly burn rates of one SLO over the window (METRICS.md, "Burn rates and alerting gaps")."""

    page_burn_rate_1h: float  # the thresholds used
    page_burn_rate_6h: float
    hours: int  # window hours with a 1 h burn rate (events, a number, not excluded)
    peak_burn_rate_1h: float | None
    peak_at: datetime | None  # the start of that hour (the first, on a tie)
    hours_above_1h: int  # hours whose 1 h burn rate exceeds page_burn_rate_1h
    hours_above_6h: int  # hours whose 6 h burn rate (the 6 h ending with them) exceeds page_burn_rate_6h
    episodes: list[BurnEpisode] = Field(default_factory=list)
    alerting_gaps: int | None = None  # episodes with no page; None: the incidents are unknown
    alerting_gap_budget: float | None = None  # their budget consumed, summed


class CalendarBudget(Card):
    """The calendar month or quarter in progress at the window end (METRICS.md, "Calendar periods")."""

    period: Literal["month", "quarter"]
    label: str  # "November 2026", "Q4 2026"
    start: datetime
    end: datetime
    elapsed_share: float  # of the period, at the window end
    good: float | None  # events from its start to the window end, after exclusions
    total: float | None
    bad: float | None
    sli: float | None
    budget_consumed: float | None  # of the whole period's budget
    budget_remaining: float | None
    burn_rate_to_exhaust: float | None  # over the rest of the period; 0 when already exhausted
    notes: list[str] = Field(default_factory=list)


class SloScorecard(Card):
    service: str
    name: str
    kind: str
    status: SloStatus
    reason: str | None = None
    objective: float
    good: float | None
    total: float | None
    bad: float | None
    sli: float | None
    met: bool | None
    error_budget_consumed: float | None
    error_budget_remaining: float | None
    period_budget_consumed: float | None
    daily: list[DailySli] = Field(default_factory=list)
    previous: SloPrevious
    quantiles: dict[str, float | None] = Field(default_factory=dict)
    threshold_seconds: float | None = None  # a latency SLO's bucket bound
    attribution: list[BudgetAttribution] = Field(default_factory=list)
    unattributed_share: float | None = None
    notes: list[str] = Field(default_factory=list)  # why a single value is null (NaN from Prometheus, short data)
    raw: RawSlo | None = None  # before exclusions (None: scorecards made before exclusions existed)
    excluded: list[SloExclusion] = Field(default_factory=list)  # what was not judged, in time order
    burn: SloBurn | None = None  # None: not judged (status), or no hourly counts (a note says so)
    calendar: CalendarBudget | None = None  # a calendar SLO period's budget so far; None: a rolling one


class PriorityReason(Card):
    component: str
    value: float | None  # None: its source could not be read (the component is unknown, not 0)
    weight: float
    contribution: float


class PriorityScore(Card):
    score: float
    rank: int
    reasons: list[PriorityReason]
    unknown: list[str] = Field(default_factory=list)  # components left out because their source is missing


class ServiceTrend(Card):
    """This service over the last rotations in the store, oldest first, ending with this window."""

    windows: list[str]  # local start date of each rotation
    incidents_total: list[int | None]
    error_budget_consumed: dict[str, list[float | None]]  # per SLO name
    previous_rank: int | None = None
    previous_incidents_total: int | None = None
    previous_error_budget_consumed: dict[str, float | None] = Field(default_factory=dict)
    # per SLO, the budget its alerting gaps cost in the rotation just before (None: not known)
    previous_alerting_gap_budget: dict[str, float | None] = Field(default_factory=dict)


class ServiceScorecard(Card):
    service: str  # the key: a slug, stable across renames
    display_name: str  # the name people read (the source's own, "Checkout API (v2)")
    team: str
    incidents: IncidentMetrics
    slos: list[SloScorecard] = Field(default_factory=list)
    priority: PriorityScore | None = None
    trend: ServiceTrend | None = None


class History(Card):
    """What the store knows of earlier rotations, as aggregation needs it (no SQLite here)."""

    windows: list[str] = Field(default_factory=list)  # local start dates, oldest first
    previous_overall: IncidentMetrics | None = None
    services: dict[str, list[dict[str, Any] | None]] = Field(default_factory=dict)  # per window, oldest first
    problems_seen: dict[str, int] = Field(default_factory=dict)  # "service\x1fkey" -> rotations seen in
    # the services of the rotation just before (name -> its stored scorecard), None when the store lacks it
    previous_services: dict[str, dict[str, Any]] | None = None
    previous_responders: dict[str, dict[str, Any]] | None = None  # user -> stored scorecard, likewise


class ServiceRef(Card):
    service: str
    display_name: str
    team: str


class ServiceChanges(Card):
    """The services that appeared or disappeared since the rotation just before (METRICS.md)."""

    since: str  # that rotation's local start date
    new: list[ServiceRef] = Field(default_factory=list)
    gone: list[ServiceRef] = Field(default_factory=list)


class TeamProblem(Card):
    service: str
    title: str
    count: int


class TeamTrend(Card):
    """Per rotation, oldest first and this one last (None: the store does not know that rotation)."""

    incidents_total: list[int | None] = Field(default_factory=list)
    slos_missed: list[int | None] = Field(default_factory=list)


class TeamScorecard(Card):
    team: str
    display_name: str
    incidents: IncidentMetrics
    services: int = 0
    responders: int | None = None  # distinct people interrupted for its incidents (None: incidents unknown)
    interruptions_per_responder: float | None = None
    slos_judged: int = 0  # its services' SLOs with status ok (judged: met is true or false)
    slos_missed: int = 0
    error_budget_consumed_max: float | None = None  # the largest among its judged SLOs
    worst_slo: str | None = None  # "<service> · <SLO>" of that largest
    top_problems: list[TeamProblem] = Field(default_factory=list)  # its recurring problems, largest first (≤ 3)
    trend: TeamTrend | None = None


class OverallScorecard(Card):
    incidents: IncidentMetrics


class ResponderScorecard(Card):
    user: str
    name: str
    time_zone: str
    interruptions: int
    interruptions_sleep: int | None  # None: the users' time zones could not be read
    interruptions_off_hours: int | None
    acknowledged: int
    on_call_hours: float | None  # None: a schedule could not be read
    previous_interruptions: int | None = None  # in the rotation just before, when the store has it
    previous_interruptions_sleep: int | None = None


class Problem(Card):
    """A recurring cause: incidents of one service sharing a repeating incident key (``key`` is then
    ``key:<the raw key>``) or, for the others, a normalised title (``key`` is that title)."""

    service: str
    key: str
    example_title: str
    count: int
    first_seen: datetime
    last_seen: datetime
    auto_resolved: int
    resolved_without_ack: int
    short: int  # resolved faster than the configured short-incident time: likely noise
    incident_numbers: list[int]
    distinct_titles: int = 1  # how many different titles its incidents had
    previous_rotations: int | None = None  # in how many of the stored earlier rotations it appeared


class DayIncidents(Card):
    date: str  # local date of the window day's start
    high: int
    low: int


class MajorIncident(Card):
    id: str
    number: int
    title: str
    service: str
    created_at: datetime
    resolved_at: datetime | None
    ttr_s: float | None
    html_url: str | None
    postmortem_url: str | None  # first link in the incident's notes that looks like a postmortem
    priority: str | None = None  # the source's name of its severity (P1), None without one
    severity_rank: int | None = None  # 0 = the account's highest
    responders: int = 0  # distinct people who acknowledged it or were notified of it
    duration_s: float | None = None  # to its resolution, or to the collection while still open


class HandoffPerson(Card):
    user: str  # the source's person id
    name: str | None  # None: the source does not list them (a deleted user), or its people could not be read


class HandoffIncident(Card):
    """An incident open at the handoff (METRICS.md, "Handoff"): its state at ``Handoff.as_of``."""

    id: str
    number: int
    title: str
    service: str  # the service key
    html_url: str | None
    priority: str | None  # the source's name of its severity, None without one (or when unknown)
    severity_rank: int | None  # 0 = the account's highest
    urgency: Literal["high", "low"]
    created_at: datetime
    opened_before_window: bool  # carried over from an earlier rotation
    age_s: float  # as_of − created_at
    state: Literal["triggered", "acknowledged"] | None  # None: its timeline cannot say
    acknowledged_since: datetime | None  # the start of the acknowledgement in force at as_of
    acknowledged_for_s: float | None  # as_of − acknowledged_since
    acknowledged_by: list[HandoffPerson] = Field(default_factory=list)  # in that acknowledgement, first first
    owners: list[HandoffPerson] = Field(default_factory=list)
    owner_basis: Literal["acknowledgement", "assignment"] | None = None  # None: nobody known
    status_now: Literal["triggered", "acknowledged", "resolved"]  # at the collection
    resolved_at: datetime | None = None  # when resolved after as_of (before the collection)


class HandoffMaintenance(Card):
    id: str
    start: datetime
    end: datetime
    duration_s: float
    description: str | None
    services: list[str]  # the reported services' keys it covers
    html_url: str | None


class NextRotation(Card):
    start: datetime
    end: datetime


HandoffStatus = Literal["ok", "partial", "unavailable"]


class Handoff(Card):
    """What the next rotation takes over (METRICS.md, "Handoff"). A list that is None is unknown; a
    status other than ``ok`` says why in its reason: an empty list is complete only with ``ok``."""

    as_of: datetime  # the window end, or the collection when that came first (a provisional report)
    next_rotation: NextRotation
    acknowledged_longer_than_s: float
    status: HandoffStatus  # of the two incident lists
    reason: str | None = None
    open_incidents: list[HandoffIncident] | None = None
    acknowledged_long: list[HandoffIncident] | None = None
    maintenance_status: HandoffStatus
    maintenance_reason: str | None = None
    maintenance_windows: list[HandoffMaintenance] | None = None
    notes: list[str] = Field(default_factory=list)  # what is unknown about single incidents


@dataclass(frozen=True, slots=True, config=RECORD)
class PageWithoutBurn:
    """A high-urgency incident in whose hours none of its service's SLOs burned budget faster than 1×:
    a noise candidate (METRICS.md, "Burn rates and alerting gaps")."""

    service: str
    incident_id: str
    incident_number: int
    title: str
    created_at: datetime
    slos: list[str]  # the SLOs that had events in its hours


class ItemError(Card):
    """One service or SLO that could not be aggregated or rendered: shown as missing, never the run's end."""

    item: str  # "checkout · SLO latency", "service checkout"
    stage: Literal["aggregation", "rendering"]
    error: str


class Scorecards(Card):
    schema_version: int = 1
    window: Window
    generated_at: datetime
    sources: dict[str, SourceStatus]
    services: list[ServiceScorecard]
    teams: list[TeamScorecard]
    overall: OverallScorecard
    responders: list[ResponderScorecard]
    problems: list[Problem] = Field(default_factory=list)
    major_incidents: list[MajorIncident] = Field(default_factory=list)
    incidents_by_day: list[DayIncidents] = Field(default_factory=list)
    interruption_heatmap: list[list[int]] | None = None  # [weekday 0=Mon][local hour], responders' zones
    previous_overall: IncidentMetrics | None = None  # the previous rotation, when the store has it
    history_windows: int = 0  # how many earlier rotations the trends cover
    service_changes: ServiceChanges | None = None  # None: the store has no rotation just before
    handoff: Handoff | None = None  # None: scorecards made before the handoff existed
    # high-urgency incidents with no SLO burn (noise candidates); None: incidents or hourly SLO data unknown
    pages_without_burn: list[PageWithoutBurn] | None = None
    item_errors: list[ItemError] = Field(default_factory=list)  # items left out by an unexpected error
    # what rendering needs and scorecards.json does not carry: the setup, and which source had which role
    setup: Setup | None = Field(default=None, exclude=True)
    roles: dict[Role, SourceRole] = Field(default_factory=dict, exclude=True)

    def role_status(self, role: Role) -> tuple[SourceRole | None, SourceStatus | None]:
        """The source of ``role`` and its status (None, None when no source has the role)."""
        info = self.roles.get(role)
        return info, (self.sources.get(info.source) if info else None)

    def to_json_dict(self) -> dict[str, Any]:
        """The scorecards.json document (METRICS.md): times ISO-8601 UTC with a Z."""
        data = self.model_dump(mode="json")
        return cast(dict[str, Any], _z_times(data))

    def history_document(self) -> dict[str, Any]:
        """What the store keeps of these scorecards for the trends of later rotations
        (``Store.record_window``): the scorecards.json document, its services dumped one at a time as
        the store reads them, and without what no later rotation reads (each SLO's per-incident
        ``attribution`` and per-day ``daily``): a 2,000-service rotation is stored in 4 MB, not 42."""
        data = cast(dict[str, Any], _z_times(self.model_dump(mode="json", exclude={"services"})))
        data["services"] = (_z_times(card.model_dump(mode="json", exclude=HISTORY_UNREAD)) for card in self.services)
        return data


HISTORY_UNREAD: dict[str, Any] = {"slos": {"__all__": {"attribution", "daily"}}}


def _z_times(value: Any) -> Any:
    """Every ISO-8601 UTC time in ``value`` written with a Z, in place (the document of 2,000 services is
    not copied)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, dict | list | str):
                value[k] = _z_times(v)
        return value
    if isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, dict | list | str):
                value[i] = _z_times(v)
        return value
    if isinstance(value, str) and len(value) >= 20 and value[10:11] == "T" and value.endswith("+00:00"):
        return value[:-6] + "Z"
    return value
