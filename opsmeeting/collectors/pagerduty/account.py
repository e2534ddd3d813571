"""What ``opsmeeting init`` and ``check-config`` ask of a PagerDuty account: its teams, services and
schedules, a schedule's layers (the rotation they imply), and which services had incidents lately.
Read-only, through the same client, retries and pagination as the collector."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opsmeeting.collectors.pagerduty.api import SERVICE_IDS_PER_QUERY, PagerDutyApi, PagerDutyFailure
from opsmeeting.collectors.pagerduty.vocabulary import service_from_api, team_from_api, time_or_none
from opsmeeting.model import Directory
from opsmeeting.timefmt import iso_z


@dataclass(frozen=True)
class Layer:
    """One layer of a schedule: its hand-offs are ``virtual_start`` + k × ``turn_seconds``."""

    name: str
    virtual_start: datetime
    turn_seconds: int
    users: int
    restricted: bool  # restrictions make the layer's shifts partial: its turn is not the rotation


@dataclass(frozen=True)
class Schedule:
    id: str
    name: str
    time_zone: str
    layers: list[Layer] = field(default_factory=list)  # only from ``schedule()``

    def rotation_layer(self) -> Layer | None:
        """The layer a rotation is read from: the only one without restrictions, when there is exactly
        one (several would each have their own hand-off); None otherwise."""
        plain = [layer for layer in self.layers if not layer.restricted]
        return plain[0] if len(plain) == 1 else None


class PagerDutyAccount(PagerDutyApi):
    """A read-only view of an account for onboarding and checks."""

    def directory(self) -> Directory:
        """Every team and service (also proves the token: a rejected one raises with status 401)."""
        base = {"time_zone": "UTC"}
        teams_error = None
        try:  # an account without the teams ability answers 403
            teams = [team_from_api(t) for t in self.pages("/teams", "teams", base)]
        except PagerDutyFailure as exc:
            if exc.status == 401:
                raise
            teams, teams_error = [], exc.message
        services = [service_from_api(s) for s in self.pages("/services", "services", base)]
        return Directory(teams=teams, services=services, teams_error=teams_error)

    def schedules(self) -> list[Schedule]:
        return [Schedule(id=s["id"], name=str(s.get("name") or s["id"]), time_zone=str(s.get("time_zone") or "UTC"))
                for s in self.pages("/schedules", "schedules", {"time_zone": "UTC"})]

    def schedule(self, schedule_id: str, now: datetime) -> Schedule | None:
        """The schedule with its layers; None when PagerDuty has no schedule of that id (404)."""
        try:
            body = self.get(f"/schedules/{schedule_id}",
                            {"since": iso_z(now), "until": iso_z(now + timedelta(hours=1)), "time_zone": "UTC"},
                            endpoint="GET /schedules/{id}")
        except PagerDutyFailure as exc:
            if exc.status == 404:
                return None
            raise
        raw = body.get("schedule")
        if not isinstance(raw, dict):
            raise PagerDutyFailure("GET /schedules/{id}: malformed answer (no `schedule` object)")
        layers = [layer for item in raw.get("schedule_layers") or [] if (layer := _layer(item)) is not None]
        return Schedule(id=schedule_id, name=str(raw.get("name") or schedule_id),
                        time_zone=str(raw.get("time_zone") or "UTC"), layers=layers)

    def services_with_incidents(self, service_ids: list[str], since: datetime, until: datetime) -> set[str]:
        """The ids among ``service_ids`` that had an incident created in ``[since, until)``."""
        seen: set[str] = set()
        ids = sorted(set(service_ids))
        for i in range(0, len(ids), SERVICE_IDS_PER_QUERY):
            params = {"time_zone": "UTC", "service_ids[]": ids[i : i + SERVICE_IDS_PER_QUERY]}
            for raw in self.ranged("/incidents", "incidents", params, since, until):
                service = raw.get("service")
                if isinstance(service, dict) and isinstance(service.get("id"), str):
                    seen.add(service["id"])
        return seen


def _layer(item: object) -> Layer | None:
    if not isinstance(item, dict):
        return None
    start = time_or_none(item.get("rotation_virtual_start"))
    turn = item.get("rotation_turn_length_seconds")
    if start is None or not isinstance(turn, int) or isinstance(turn, bool) or turn <= 0:
        return None
    return Layer(name=str(item.get("name") or "layer"), virtual_start=start, turn_seconds=turn,
                 users=len(item.get("users") or []), restricted=bool(item.get("restrictions")))
