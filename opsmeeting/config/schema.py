"""The configuration file: one YAML document, validated by one pydantic schema.

Every error is reported at once with its key path (``services[3].team: ...``); unknown keys are
rejected; secrets appear only as the *names* of environment variables, never as values.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from opsmeeting.config.checks import cross_checks, did_you_mean
from opsmeeting.durations import format_duration, parse_duration
from opsmeeting.errors import ConfigError
from opsmeeting.model import PriorityWeights
from opsmeeting.window import FIRST_YEAR, LAST_YEAR, RotationClock

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _duration(value: Any) -> timedelta:
    return parse_duration(value)


def _objective(value: Any) -> float:
    """``0.999``, ``99.9%`` or ``"99.9 %"`` → 0.999. Must lie strictly between 0 and 1."""
    if isinstance(value, str):
        text = value.strip()
        number = float(text[:-1].strip()) / 100.0 if text.endswith("%") else float(text)
    elif isinstance(value, bool):
        raise ValueError("objective must be a number such as 0.999 or '99.9%'")
    elif isinstance(value, int | float):
        number = float(value)
    else:
        raise ValueError("objective must be a number such as 0.999 or '99.9%'")
    if not 0.0 < number < 1.0:
        raise ValueError(f"objective must be a fraction between 0 and 1 exclusive, got {value!r}")
    return number


def _env_name(value: Any) -> str:
    if not isinstance(value, str) or not ENV_NAME.match(value):
        raise ValueError(
            "must be the NAME of an environment variable (letters, digits, underscore), not a secret value"
        )
    return value


def _timezone(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be an IANA time zone name such as Europe/Lisbon")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


Duration = Annotated[
    timedelta, BeforeValidator(_duration), PlainSerializer(format_duration, return_type=str)
]
Objective = Annotated[float, BeforeValidator(_objective)]


def _period(value: Any) -> timedelta | str:
    """An SLO period: a rolling duration (``28d``), or the calendar ``month`` or ``quarter``."""
    if isinstance(value, str) and value.strip().lower() in ("month", "quarter"):
        return value.strip().lower()
    try:
        period = parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{exc}; or `month` or `quarter` for a calendar period") from None
    if period < timedelta(hours=1):
        raise ValueError("an SLO period must be at least 1h")
    return period


SloPeriod = Annotated[
    timedelta | Literal["month", "quarter"], BeforeValidator(_period),
    PlainSerializer(lambda p: p if isinstance(p, str) else format_duration(p), return_type=str),
]
EnvName = Annotated[str, BeforeValidator(_env_name)]
TimeZoneName = Annotated[str, BeforeValidator(_timezone)]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$",
                            description="Any characters but control characters, up to 200; files use its slug.")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rotation(Strict):
    """When rotations start and how long they last."""

    length: Duration = Field(default=timedelta(days=14))
    anchor: datetime = Field(description="A rotation start, as local wall time in `timezone` (no offset).")
    timezone: TimeZoneName
    grace: Duration = Field(default=timedelta(hours=1))
    pagerduty_schedule_ids: list[str] = Field(default_factory=list)

    def clock(self) -> RotationClock:
        return RotationClock(self.anchor, self.length, self.timezone)

    @field_validator("length")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(hours=1):
            raise ValueError("rotation length must be at least 1h")
        if value > timedelta(days=366):
            raise ValueError("rotation length must be at most 366d (a rotation longer than a year is not one)")
        return value

    @field_validator("anchor")
    @classmethod
    def _naive(cls, value: datetime) -> datetime:
        if value.tzinfo is not None:
            raise ValueError("give the anchor as local wall time without an offset; the zone is `timezone`")
        if not FIRST_YEAR <= value.year < LAST_YEAR:
            raise ValueError(f"the anchor must lie in the years {FIRST_YEAR}–{LAST_YEAR - 1}")
        return value

    @field_validator("grace")
    @classmethod
    def _short_grace(cls, value: timedelta) -> timedelta:
        if value > timedelta(days=30):
            raise ValueError("grace must be at most 30d")
        return value


class Team(Strict):
    name: Name
    display_name: Annotated[str, Field(max_length=200)] | None = None
    pagerduty_team_ids: list[str] = Field(default_factory=list)
    members: int | None = Field(default=None, ge=0, description="Team size, for the wheel's weighting.")


class Service(Strict):
    name: Name
    team: str
    display_name: Annotated[str, Field(max_length=200)] | None = None
    pagerduty_service_ids: list[str]
    prometheus_label: str | None = Field(
        default=None, description="Value of the SLO group label for this service; defaults to `name`."
    )

    @property
    def label(self) -> str:
        return self.prometheus_label or self.name


class SloBase(Strict):
    name: Name
    description: str = ""
    objective: Objective
    objectives: dict[str, Objective] = Field(
        default_factory=dict, description="Per-service objective overrides, by service name."
    )
    period: SloPeriod = Field(default=timedelta(days=28), description="A rolling duration (28d), or the "
                              "calendar `month` or `quarter` in the rotation's time zone.")
    min_events: int = Field(default=100, ge=0)
    group_by: str = Field(default="service", pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")
    services: list[str] = Field(
        default_factory=list, description="The services expected to have data, by name or shell pattern (*-api).")
    teams: list[str] = Field(default_factory=list, description="The teams whose services are expected to have data.")
    page_burn_rate_1h: float = Field(default=14.4, gt=1, description="Burn over 1 h that pages (SRE workbook).")
    page_burn_rate_6h: float = Field(default=6.0, gt=1, description="Burn over 6 h that pages (SRE workbook).")
    exclude_maintenance: bool = Field(default=True, description="Leave PagerDuty maintenance windows unjudged.")

    def objective_for(self, service: str) -> float:
        return self.objectives.get(service, self.objective)

    @property
    def calendar(self) -> Literal["month", "quarter"] | None:
        return self.period if isinstance(self.period, str) else None

    @property
    def rolling(self) -> timedelta:
        """The rolling period's length (a calendar period's nominal length: 31 or 92 days)."""
        if isinstance(self.period, timedelta):
            return self.period
        return timedelta(days=31 if self.period == "month" else 92)


class RatioSlo(SloBase):
    """A ratio SLO as PromQL: good (or bad) and total, with a ``{{window}}`` placeholder."""

    kind: Literal["ratio"] = "ratio"
    good: str | None = None
    bad: str | None = None
    total: str

    @model_validator(mode="after")
    def _one_of_good_bad(self) -> RatioSlo:
        if (self.good is None) == (self.bad is None):
            raise ValueError("give exactly one of `good` and `bad`")
        for key in ("good", "bad", "total"):
            query = getattr(self, key)
            if query is not None and "{{window}}" not in query.replace(" ", ""):
                raise ValueError(f"`{key}` must contain the {{{{window}}}} placeholder")
        return self


class LatencySlo(SloBase):
    """A latency SLO from a histogram: good = requests in the threshold bucket, total = all."""

    kind: Literal["latency"] = "latency"
    histogram: str = Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", description="Histogram base name.")
    selector: str = Field(default="", description="Label matchers, e.g. job=\"api\" (without braces).")
    threshold: float = Field(gt=0, description="Bucket bound (le) in seconds.")
    quantiles: list[Annotated[float, Field(gt=0, lt=1)]] = Field(default_factory=lambda: [0.5, 0.99])


Slo = Annotated[RatioSlo | LatencySlo, Field(discriminator="kind")]
SloDefinition = RatioSlo | LatencySlo


class SloImport(Strict):
    format: Literal["sloth", "openslo"]
    path: Path


class PagerDutySource(Strict):
    token_env: EnvName = "PAGERDUTY_TOKEN"
    region: Literal["us", "eu"] = "us"
    base_url: str | None = Field(default=None, pattern=r"^https://")
    ca_bundle: Path | None = None
    timeout: Duration = Field(default=timedelta(seconds=30))
    max_retries: int = Field(default=4, ge=0, le=10)
    concurrency: int = Field(default=4, ge=1, le=16)
    requests_per_minute: int | None = Field(
        default=None, ge=0,
        description="None: as fast as the account's rate-limit headers allow (ratelimit-remaining, ratelimit-reset); "
                    "a number: also at most that many a minute (room for other tools on the key); 0: no pacing at all.",
    )

    @property
    def url(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        return "https://api.eu.pagerduty.com" if self.region == "eu" else "https://api.pagerduty.com"


class BasicAuth(Strict):
    type: Literal["basic"]
    username_env: EnvName
    password_env: EnvName


class BearerAuth(Strict):
    type: Literal["bearer"]
    token_env: EnvName


class PrometheusSource(Strict):
    url: str = Field(pattern=r"^https?://", description="Base URL, with any path prefix (Mimir: /prometheus).")
    headers: dict[str, str] = Field(default_factory=dict, description="Non-secret headers (X-Scope-OrgID).")
    headers_from_env: dict[str, EnvName] = Field(
        default_factory=dict, description="Headers whose values come from environment variables."
    )
    auth: Annotated[BasicAuth | BearerAuth, Field(discriminator="type")] | None = None
    ca_bundle: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    params: dict[str, str] = Field(default_factory=dict, description="Extra query parameters (dedup=true).")
    timeout: Duration = Field(default=timedelta(seconds=60))
    max_retries: int = Field(default=3, ge=0, le=10)
    concurrency: int = Field(default=4, ge=1, le=10)

    @field_validator("url")
    @classmethod
    def _no_credentials(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.username is not None or parts.password is not None:
            raise ValueError("credentials in the URL are not allowed (they would be printed and stored): remove "
                             "them and use sources.prometheus.auth (basic or bearer, from environment variables)")
        return value

    @field_validator("headers")
    @classmethod
    def _no_secret_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name.lower() in {"authorization", "proxy-authorization", "cookie", "x-api-key"}:
                raise ValueError(f"header {name!r} carries a secret: put it under headers_from_env")
        return value


class Sources(Strict):
    pagerduty: PagerDutySource | None = None
    prometheus: PrometheusSource | None = None


class Output(Strict):
    directory: Path = Path("reports")
    page_size: Literal["A4", "Letter"] = "A4"
    public_url: str | None = Field(default=None, pattern=r"^https?://")
    templates_dir: Path | None = None
    title: str = "Ops Meeting"
    pdf_detail: int = Field(
        default=40, ge=1, le=10_000,
        description="Services shown in full in the PDF (by priority, plus any that missed an SLO or had a major "
        "incident); the rest are summarised in one table. The HTML always shows every service.",
    )


class WheelConfig(Strict):
    participants: Literal["teams", "services"] = "teams"
    mode: Literal["equal", "team_size", "custom"] = Field(
        default="equal", description="team_size weights by teams[].members; custom by `weights`."
    )
    weights: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)
    bias_strength: float = Field(
        default=0.0, ge=0, le=5, description="Tilt towards participants whose services rank highest in priority."
    )
    slide_position: Literal["first", "after-incidents", "after-observability", "after-planning",
                            "after-improvement", "last"] = Field(
        default="first", description="Where presentation mode puts the wheel's slide: first (after the summary), "
        "after an agenda section, or last.")


class Notes(Strict):
    directory: Path = Field(description="Teams' on-call notes: <directory>/<window folder>/<team>.md")


class State(Strict):
    path: Path = Path("opsmeeting.sqlite")


class Email(Strict):
    enabled: bool = True
    smtp_host: str
    smtp_port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "plain"] = "starttls"
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    sender: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    recipients: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]] = Field(min_length=1)
    subject: str = "Ops Meeting pre-read: {window}"
    timeout: Duration = Field(default=timedelta(seconds=30))


class ChatChannel(Strict):
    """A chat channel the summary is posted to (README, "Chat"; docs/DELIVERY.md). Its webhook URL is a
    secret: only the name of the environment variable that holds it is written here."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$",
                      description="Lower-case letters, digits, - and _; its delivery is `chat:<name>` in the ledger.")
    kind: Literal["slack", "teams", "webhook"] = Field(
        description="slack: a Slack (or Mattermost) incoming webhook; teams: a Microsoft Teams workflow webhook "
        "(an Adaptive Card); webhook: any endpoint, which receives the summary as a versioned JSON document.")
    url_env: EnvName = Field(description="The environment variable holding the webhook's https:// URL.")
    timeout: Duration = Field(default=timedelta(seconds=10))
    ca_bundle: Path | None = Field(default=None, description="CA certificates to verify the endpoint with.")

    @field_validator("timeout")
    @classmethod
    def _bounded(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= value <= timedelta(minutes=2):
            raise ValueError("a chat timeout must lie between 1s and 2m")
        return value


def _distinct_channels(channels: list[ChatChannel]) -> list[ChatChannel]:
    seen: dict[str, int] = {}
    for index, channel in enumerate(channels):
        if channel.name in seen:
            raise ValueError(f"duplicate channel name {channel.name!r} (chat[{seen[channel.name]}] and "
                             f"chat[{index}]): each channel is one delivery in the run ledger")
        seen[channel.name] = index
    return channels


ChatChannels = Annotated[list[ChatChannel], AfterValidator(_distinct_channels)]


class Discovery(Strict):
    """Teams and services found in PagerDuty, beside (and beneath) the explicit entries."""

    teams: list[str] = Field(default_factory=list,
                             description="Only the services of these PagerDuty teams (ids or name patterns).")
    exclude_services: list[str] = Field(default_factory=list, description="Service ids or name patterns to leave out.")
    exclude_teams: list[str] = Field(default_factory=list, description="Team ids or name patterns to leave out.")
    prometheus_label: str = Field(
        default="{name|slug}", pattern=r"^[^{}]*(\{(name|id|team)(\|slug)?\}[^{}]*)*$",
        description="A discovered service's SLO label: {name}, {id} or {team}, each optionally |slug.")
    unassigned_team: Name = Field(default="unassigned", description="The team of services that have none.")


class DeliveryConfig(Strict):
    recollect_degraded_for: Duration = Field(
        default=timedelta(days=3),
        description="A report made while a source failed or answered in part is collected again by every run "
        "until it is complete or this long after its window ended; a delivered one that becomes complete with "
        "other numbers is emailed once more, marked corrected.",
    )


class PriorityConfig(Strict):
    weights: PriorityWeights = Field(default_factory=PriorityWeights)
    short_incident: Duration = Field(
        default=timedelta(minutes=5), description="Incidents resolved faster than this count as likely noise."
    )


class Targets(Strict):
    """Targets for the headline numbers (the tiles of the incident review); each is optional."""

    mtta_p50: Duration | None = Field(default=None, description="Median time to acknowledge, at most.")
    mttr_p50: Duration | None = Field(default=None, description="Median time to resolve, at most.")
    incidents_major: int | None = Field(default=None, ge=0, description="Major incidents per rotation, at most.")
    interruptions_sleep: int | None = Field(default=None, ge=0,
                                            description="Sleep-hour interruptions per rotation, at most.")
    hours_with_interruptions: int | None = Field(default=None, ge=0,
                                                 description="Hours with a page per rotation, at most.")

    def as_numbers(self) -> dict[str, float]:
        """The targets that are set, durations in seconds (the incident table's units)."""
        out: dict[str, float] = {}
        for key in type(self).model_fields:
            value = getattr(self, key)  # not model_dump(): it serialises durations to text
            if value is None:
                continue
            out[f"{key}_s" if key in ("mtta_p50", "mttr_p50") else key] = (
                value.total_seconds() if isinstance(value, timedelta) else float(value))
        return out


class HandoffConfig(Strict):
    """The handoff to the next rotation (METRICS.md, "Handoff")."""

    acknowledged_longer_than: Duration = Field(
        default=timedelta(hours=24),
        description="Incidents acknowledged for longer than this at the window end, and not resolved by "
        "then, are listed apart.",
    )

    @field_validator("acknowledged_longer_than")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than 0s (for example 24h)")
        return value


class SloCorrectionConfig(Strict):
    """A time range whose events the SLOs it names do not judge (METRICS.md, "Exclusions")."""

    start: datetime = Field(description="With an offset, or local wall time in the rotation's time zone.")
    end: datetime
    services: list[str] = Field(default_factory=list, description="Service names or shell patterns (`*` for all).")
    slos: list[str] = Field(default_factory=list, description="SLO names; none: every SLO of those services.")
    reason: Annotated[str, Field(min_length=1, max_length=500)]

    @model_validator(mode="after")
    def _sensible(self) -> SloCorrectionConfig:
        if (self.start.tzinfo is None) != (self.end.tzinfo is None):
            raise ValueError("give `start` and `end` both with an offset, or both as local wall time")
        if self.end <= self.start:
            raise ValueError("`end` must be after `start`")
        if not self.services and not self.slos:
            raise ValueError("name the `services` (`*` for all) or the `slos` it corrects")
        if not self.reason.strip():
            raise ValueError("`reason` must say why")
        return self


class Config(Strict):
    rotation: Rotation
    teams: list[Team] = Field(default_factory=list)
    services: list[Service] = Field(default_factory=list)
    discovery: Discovery | None = None
    slos: list[Slo] = Field(default_factory=list)
    slo_imports: list[SloImport] = Field(default_factory=list)
    slo_corrections: list[SloCorrectionConfig] = Field(default_factory=list)
    sources: Sources = Field(default_factory=Sources)
    output: Output = Field(default_factory=Output)
    state: State = Field(default_factory=State)
    email: Email | None = None
    chat: ChatChannels = Field(default_factory=list)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    priority: PriorityConfig = Field(default_factory=PriorityConfig)
    targets: Targets = Field(default_factory=Targets)
    handoff: HandoffConfig = Field(default_factory=HandoffConfig)
    notes: Notes | None = None
    wheel: WheelConfig = Field(default_factory=WheelConfig)

    def team_of(self, service: str) -> str:
        for svc in self.services:
            if svc.name == service:
                return svc.team
        raise KeyError(service)


def _path_of(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in {"ratio", "latency", "basic", "bearer"}:
            continue  # discriminator tags are not keys the user wrote
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _format_pydantic(exc: ValidationError) -> list[str]:
    messages = []
    for err in exc.errors():
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "field required"
        elif err["type"] == "extra_forbidden":
            msg = "unknown key" + did_you_mean(Config, tuple(err["loc"]))
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        messages.append(f"{_path_of(tuple(err['loc']))}: {msg}")
    return messages


def parse_config(data: Any, *, origin: str = "<config>") -> Config:
    """Validate a parsed YAML document; raise ConfigError listing every problem, those of the schema
    and those across sections together."""
    if not isinstance(data, dict):
        raise ConfigError(origin, ["(top level): the configuration must be a mapping of sections"])
    problems = []
    config = None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems = _format_pydantic(exc)
    problems += [p for p in cross_checks(data) if p not in problems]
    if problems or config is None:
        raise ConfigError(origin, problems)
    return config


def load_config(path: Path | str) -> Config:
    """Read and validate the YAML file at ``path``. Relative paths inside are taken from its folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"(file): cannot read: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [f"(file): not UTF-8 text (byte {exc.start}: {exc.reason}); save it as "
                                      "UTF-8"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), [f"{where}: invalid YAML: {problem}"]) from None
    config = parse_config(data, origin=str(path))
    return _resolve_paths(config, path.parent)


def _resolve_paths(config: Config, base: Path) -> Config:
    def fix(p: Path | None) -> Path | None:
        return p if p is None or p.is_absolute() else base / p

    updates: dict[str, Any] = {
        "output": config.output.model_copy(
            update={
                "directory": fix(config.output.directory),
                "templates_dir": fix(config.output.templates_dir),
            }
        ),
        "state": config.state.model_copy(update={"path": fix(config.state.path)}),
        "notes": config.notes.model_copy(update={"directory": fix(config.notes.directory)}) if config.notes else None,
        "slo_imports": [imp.model_copy(update={"path": fix(imp.path)}) for imp in config.slo_imports],
        "chat": [c.model_copy(update={"ca_bundle": fix(c.ca_bundle)}) for c in config.chat],
    }
    sources = config.sources
    if sources.pagerduty and sources.pagerduty.ca_bundle:
        sources = sources.model_copy(
            update={"pagerduty": sources.pagerduty.model_copy(update={"ca_bundle": fix(sources.pagerduty.ca_bundle)})}
        )
    if sources.prometheus:
        prom = sources.prometheus
        sources = sources.model_copy(
            update={
                "prometheus": prom.model_copy(
                    update={k: fix(getattr(prom, k)) for k in ("ca_bundle", "client_cert", "client_key")}
                )
            }
        )
    updates["sources"] = sources
    return config.model_copy(update=updates)
