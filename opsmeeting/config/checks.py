"""Checks across the configuration's sections, run on the parsed YAML itself so that they run even when
the schema found problems: every problem is reported in one round (a misspelt ``team:`` and a wrong
type elsewhere show together). And "did you mean" hints for unknown keys."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable
from typing import Any, Union

from pydantic import BaseModel


def _items(data: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _duplicates(entries: list[tuple[int, str]], what: str, where: str) -> list[str]:
    seen: dict[str, int] = {}
    problems = []
    for index, name in entries:
        if name in seen:
            problems.append(f"{where}[{index}].name: duplicate {what} {name!r} (also {where}[{seen[name]}])")
        else:
            seen[name] = index
    return problems


def cross_checks(data: dict[str, Any]) -> list[str]:
    """Problems across sections; each check skips what it cannot read (the schema reports that)."""
    problems: list[str] = []
    discovery = isinstance(data.get("discovery"), dict)
    teams = [(i, t["name"]) for i, t in _items(data, "teams") if isinstance(t.get("name"), str)]
    services = _items(data, "services")
    service_names = [(i, s["name"]) for i, s in services if isinstance(s.get("name"), str)]
    team_names = [name for _, name in teams]
    problems += _duplicates(teams, "team", "teams")
    problems += _duplicates(service_names, "service", "services")
    if not services and not discovery:
        problems.append("services: list at least one service, or add a discovery section to find them in PagerDuty")
    if not teams and not discovery:
        problems.append("teams: list at least one team, or add a discovery section to find them in PagerDuty")
    labels: dict[str, str] = {}
    owners: dict[str, tuple[int, str]] = {}
    for index, svc in services:
        name, team = svc.get("name"), svc.get("team")
        if isinstance(team, str) and team not in team_names:
            hint = difflib.get_close_matches(team, team_names, n=1)
            more = f"; did you mean {hint[0]!r}?" if hint else f" (declared: {', '.join(team_names) or 'none'})"
            problems.append(f"services[{index}].team: unknown team {team!r}{more}")
        label = svc.get("prometheus_label") or name
        if isinstance(label, str) and isinstance(name, str):
            if label in labels and labels[label] != name:
                problems.append(f"services[{index}].prometheus_label: {label!r} already identifies {labels[label]!r}")
            labels[label] = name
        for pid in _strings(svc.get("pagerduty_service_ids")):
            if pid in owners and owners[pid][1] != name:
                other = owners[pid]
                problems.append(f"services[{index}].pagerduty_service_ids: {pid} is also services[{other[0]}]'s "
                                f"({other[1]!r}): a PagerDuty service belongs to one service")
            owners.setdefault(pid, (index, str(name)))
    team_ids: dict[str, int] = {}
    for index, team in _items(data, "teams"):
        for tid in _strings(team.get("pagerduty_team_ids")):
            if tid in team_ids and discovery:  # discovery gives a PagerDuty team's services to one team
                problems.append(f"teams[{index}].pagerduty_team_ids: {tid} is also teams[{team_ids[tid]}]'s: "
                                "discovery could not tell which team its services belong to")
            team_ids.setdefault(tid, index)
    names = [name for _, name in service_names]
    slo_names = [(i, s["name"]) for i, s in _items(data, "slos") if isinstance(s.get("name"), str)]
    problems += _duplicates(slo_names, "SLO", "slos")
    for index, slo in _items(data, "slos"):
        objectives = slo.get("objectives")
        if isinstance(objectives, dict) and not discovery:
            problems += [f"slos[{index}].objectives.{s}: unknown service" for s in objectives if s not in names]
        if not discovery:
            problems += [f"slos[{index}].teams: unknown team {t!r}" for t in _strings(slo.get("teams"))
                         if t not in team_names]
    wheel: dict[str, Any] = data["wheel"] if isinstance(data.get("wheel"), dict) else {}
    participants = wheel.get("participants", "teams")
    weights = wheel.get("weights")
    if isinstance(weights, dict) and not discovery:
        known = team_names if participants == "teams" else names
        problems += [f"wheel.weights.{n}: not a wheel participant ({participants})" for n in weights if n not in known]
    if wheel.get("mode") == "team_size" and participants == "teams":
        problems += [f"teams[{i}].members: required (and > 0) when wheel.mode is team_size"
                     for i, team in _items(data, "teams") if not team.get("members")]
        if discovery:
            problems.append("wheel.mode: team_size needs every team's members, which discovered teams do not have")
    sources: dict[str, Any] = data["sources"] if isinstance(data.get("sources"), dict) else {}
    if (data.get("slos") or data.get("slo_imports")) and sources.get("prometheus") is None:
        problems.append("sources.prometheus: SLOs are defined but no Prometheus source is configured")
    if discovery and sources.get("pagerduty") is None:
        problems.append("discovery: finds teams and services in PagerDuty: configure sources.pagerduty")
    return problems


# --- "did you mean" ------------------------------------------------------------------------------


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (through Optional, lists, dicts, unions, Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType, list, tuple, dict, set):
        return [m for arg in typing.get_args(annotation) for m in _models(arg)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def known_keys(root: type[BaseModel], loc: Iterable[int | str]) -> list[str]:
    """The keys the schema accepts beside the unknown key at ``loc`` (its last part)."""
    models = [root]
    for part in list(loc)[:-1]:
        if isinstance(part, int):
            continue
        nested: list[type[BaseModel]] = []
        for model in models:
            field = model.model_fields.get(part)
            if field is not None:
                nested += _models(field.annotation)
        if not nested:  # a discriminator tag or a dict key: stay on the same models
            continue
        models = nested
    return sorted({name for model in models for name in model.model_fields})


def did_you_mean(root: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    if not loc or not isinstance(loc[-1], str):
        return ""
    close = difflib.get_close_matches(loc[-1], known_keys(root, loc), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
