"""Which teams and services a report covers: the configuration's explicit entries, plus, with a
``discovery`` section, what the incident source has (its teams and services, which the collector
reads anyway).

The rules, documented in the README ("Configure it for your organisation"):

- Explicit entries win. A ``services:`` entry claims its ``pagerduty_service_ids`` (several
  PagerDuty services merged into one, renamed, given a label); a ``teams:`` entry claims its
  ``pagerduty_team_ids`` (a PagerDuty team renamed, given members).
- Every other source service is discovered, unless excluded (by id or by a name pattern) or, when
  ``discovery.teams`` is given, not in one of those teams. Its team is the first of its own teams
  (PagerDuty derives a service's teams from its escalation policy); a service with no team goes to
  ``discovery.unassigned_team``.
- Every source team that owns a reported service is a team of the report (excluded teams drop
  their services too).
- A discovered name is kept exactly as the source has it (``display_name``); its key is a slug
  (``slug``) that stays the same across runs and renames: ``known`` maps a source id to the key it
  was given before (the store remembers them).
- A discovered service's SLO label comes from ``discovery.prometheus_label``, a template of
  ``{name}``, ``{id}``, ``{team}``, each optionally ``|slug``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from opsmeeting.model import SetupService, SetupTeam, SourceService, SourceTeam
from opsmeeting.names import slug

TEMPLATE = re.compile(r"\{(name|id|team)(\|slug)?\}")


def label_for(template: str, service: SourceService, team: str | None) -> str:
    """The SLO label of a discovered service from ``template`` (``{name|slug}``, ``svc-{id}``...)."""
    values = {"name": service.name, "id": service.id, "team": team or ""}

    def fill(match: re.Match[str]) -> str:
        value = values[match.group(1)]
        return slug(value) if match.group(2) else value

    return TEMPLATE.sub(fill, template)


def matches(patterns: Iterable[str], id: str, name: str) -> bool:
    """An id given exactly, or a name matching a shell pattern (``*-staging``), case-insensitively."""
    return any(pattern == id or fnmatch.fnmatchcase(name.casefold(), pattern.casefold()) for pattern in patterns)


@dataclass(frozen=True)
class Rules:
    """The ``discovery`` section, reduced to what resolution needs."""

    teams: tuple[str, ...] = ()  # source team ids or names: only their services (empty: every service)
    exclude_services: tuple[str, ...] = ()
    exclude_teams: tuple[str, ...] = ()
    prometheus_label: str = "{name|slug}"
    unassigned_team: str = "unassigned"


@dataclass(frozen=True)
class ExplicitTeam:
    name: str
    display_name: str | None
    members: int | None
    source_ids: tuple[str, ...]


@dataclass(frozen=True)
class ExplicitService:
    name: str
    team: str
    display_name: str | None
    source_ids: tuple[str, ...]
    label: str


@dataclass(frozen=True)
class Resolved:
    teams: list[SetupTeam]
    services: list[SetupService]
    keys: dict[str, str] = field(default_factory=dict)  # "service:<id>"/"team:<id>" → key, to remember


def resolve(explicit_teams: list[ExplicitTeam], explicit_services: list[ExplicitService], rules: Rules | None,
            source_teams: list[SourceTeam], source_services: list[SourceService],
            known: Mapping[str, str] | None = None) -> Resolved:
    """The report's teams and services. Without ``rules`` (no discovery), the explicit entries alone."""
    known = dict(known or {})
    teams = [SetupTeam(name=t.name, display_name=t.display_name, members=t.members, source_ids=list(t.source_ids))
             for t in explicit_teams]
    services = [SetupService(name=s.name, team=s.team, display_name=s.display_name, source_ids=list(s.source_ids),
                             slo_label=s.label) for s in explicit_services]
    if rules is None:
        return Resolved(teams=teams, services=services)
    taken = {t.name for t in teams} | {s.name for s in services}
    claimed = {sid for s in explicit_services for sid in s.source_ids}
    team_key = {tid: t.name for t in explicit_teams for tid in t.source_ids}
    by_id = {t.id: t for t in source_teams}
    wanted_teams = {t.id for t in source_teams if matches(rules.teams, t.id, t.name)} if rules.teams else None
    excluded_teams = {t.id for t in source_teams if matches(rules.exclude_teams, t.id, t.name)}
    remembered: dict[str, str] = {}

    def key_for(kind: str, id: str, name: str) -> str:
        memo = f"{kind}:{id}"
        if memo in known and known[memo] not in taken:
            key = known[memo]
        else:
            base = slug(name, fallback=f"{kind}-{id}")
            key, n = base, 2
            while key in taken:
                key, n = f"{base}-{n}", n + 1
        taken.add(key)
        remembered[memo] = key
        return key

    discovered_teams: dict[str, SetupTeam] = {}
    for service in sorted(source_services, key=lambda s: s.id):
        if service.id in claimed or matches(rules.exclude_services, service.id, service.name):
            continue
        team_ids = [t for t in service.team_ids if t not in excluded_teams]
        if service.team_ids and not team_ids:
            continue  # every team of it is excluded
        if wanted_teams is not None and not set(service.team_ids) & wanted_teams:
            continue
        first = team_ids[0] if team_ids else None
        if first is None:
            team = rules.unassigned_team
            if team not in {t.name for t in teams} and team not in discovered_teams:
                discovered_teams[team] = SetupTeam(name=team, display_name=None, members=None)
                taken.add(team)
        elif first in team_key:
            team = team_key[first]
        else:
            if first not in discovered_teams:
                source = by_id.get(first)  # None when the teams could not be read: named by its key
                discovered_teams[first] = SetupTeam(name=key_for("team", first, source.name if source else first),
                                                    display_name=source.name if source else None,
                                                    source_ids=[first])
            team = discovered_teams[first].name
        key = key_for("service", service.id, service.name)
        services.append(SetupService(name=key, team=team, display_name=service.name, source_ids=[service.id],
                                     slo_label=label_for(rules.prometheus_label, service,
                                                         by_id[first].name if first in by_id else None)))
    teams += sorted(discovered_teams.values(), key=lambda t: t.name)
    return Resolved(teams=teams, services=services, keys=remembered)
