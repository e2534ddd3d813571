"""The Ops Wheel: which team presents its on-call at the Ops Meeting. Pure logic, no I/O.

It follows the AWS Ops Wheel (github.com/aws/aws-ops-wheel, ``api/choice_algorithm.py``):

- every participant has a *weight*; the weights always sum to the number of participants;
- a spin is a roulette draw on the weights; it only *suggests* (spin again if you like);
- accepting a pick ("Proceed") sets the chosen weight to 0 and shares it equally among the others,
  so the team that just presented cannot be drawn next time and everyone else becomes likelier;
- a new participant enters with weight 1 (as many as it adds to the count, so the sum stays right);
- a removed participant's weight is settled as if it left with weight 1: the others are rescaled
  *in proportion to their weights* so they sum to their count again (a weight of 0 stays 0; when all
  of them are 0, they restart at 1), exactly as AWS's ``on_participant_deletion``;
- reset sets every weight back to 1 and keeps the counts (AWS resets weights only).

Extensions, all optional:

- ``mode="custom"`` multiplies each weight by the participant's ``static_weight``, ``mode="team_size"``
  by its member count (AWS's sub-wheel sizes); at any spin the chances are in those ratios, but the
  picked team still drops to 0, which pulls long-run shares towards equal (see ``tests/test_wheel.py``
  for measured frequencies). With two participants the wheel simply alternates.
- ``bias``: a data-driven tilt, e.g. the teams' priority scores; a participant's chance is multiplied
  by ``1 + bias_strength × bias / max(bias)`` (the maximum over the participants that can be picked).
- exclusions until a time, with a reason: an excluded participant has probability 0, cannot be
  accepted, and its weight is frozen (picks are shared among the participants not excluded).
- rigged picks ("we pick payments today") are recorded as rigged in the history, with their reason.

Every function returns a new :class:`WheelState`; nothing is mutated. Times are aware datetimes,
kept in UTC. Errors are :class:`WheelError` with a message naming the participant.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from opsmeeting.errors import InputError
from opsmeeting.timefmt import iso_z, iso_z_or_none, parse_iso

Mode = Literal["equal", "team_size", "custom"]
RandomSource = random.Random | Callable[[], float]
MODES: tuple[str, ...] = ("equal", "team_size", "custom")
JSON_VERSION = 1


class WheelError(InputError, ValueError):
    """A wheel operation that cannot be done; the message names the participant (CLI exit code 2)."""


# --- state ------------------------------------------------------------------------------------


def _utc(value: datetime | None, what: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise WheelError(f"{what} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise WheelError(f"{what} must carry a time zone: {value.isoformat()}")
    return value.astimezone(UTC)


def _now(value: datetime) -> datetime:
    moment = _utc(value, "now")
    assert moment is not None
    return moment


def _finite(value: object, what: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise WheelError(f"{what} must be a finite number, not {value!r}")
    if value < 0 or (positive and value == 0):
        raise WheelError(f"{what} must be {'> 0' if positive else '≥ 0'}, not {value!r}")
    return float(value)


def _count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise WheelError(f"{what} must be a whole number ≥ 0, not {value!r}")
    return value


@dataclass(frozen=True)
class Participant:
    """One team on the wheel. ``weight`` is its AWS weight; ``static_weight`` its custom (base) weight."""

    name: str
    weight: float = 1.0
    static_weight: float = 1.0
    members: int | None = None
    selections: int = 0
    last_selected: datetime | None = None
    excluded_until: datetime | None = None
    excluded_reason: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise WheelError(f"a participant needs a non-empty name, not {self.name!r}")
        label = f"participant {self.name!r}"
        object.__setattr__(self, "weight", _finite(self.weight, f"the weight of {label}"))
        object.__setattr__(self, "static_weight",
                           _finite(self.static_weight, f"the static weight of {label}", positive=True))
        if self.members is not None:
            _count(self.members, f"the member count of {label}")
        _count(self.selections, f"the selection count of {label}")
        object.__setattr__(self, "last_selected", _utc(self.last_selected, f"last_selected of {label}"))
        object.__setattr__(self, "excluded_until", _utc(self.excluded_until, f"excluded_until of {label}"))
        if self.excluded_reason is not None and not isinstance(self.excluded_reason, str):
            raise WheelError(f"the exclusion reason of {label} must be text")

    def excluded_at(self, now: datetime) -> bool:
        """True while an exclusion is in force: ``now`` is before ``excluded_until``."""
        return self.excluded_until is not None and _now(now) < self.excluded_until


@dataclass(frozen=True)
class Pick:
    """One accepted pick: who, when, and whether it was rigged (with the reason given)."""

    name: str
    at: datetime
    rigged: bool = False
    reason: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise WheelError(f"a pick needs a participant name, not {self.name!r}")
        object.__setattr__(self, "at", _utc(self.at, f"the time of the pick of {self.name!r}"))
        if not isinstance(self.rigged, bool):
            raise WheelError(f"rigged must be true or false in the pick of {self.name!r}")
        if self.reason is not None and not isinstance(self.reason, str):
            raise WheelError(f"the reason of the pick of {self.name!r} must be text")


@dataclass(frozen=True)
class WheelState:
    """Participants by name (in display order) and the history of accepted picks, oldest first.

    Treat ``participants`` as read-only: every function of this module returns a new state.
    """

    participants: dict[str, Participant] = field(default_factory=dict)
    history: tuple[Pick, ...] = ()

    def __post_init__(self) -> None:
        for key, participant in self.participants.items():
            if key != participant.name:
                raise WheelError(f"participant {participant.name!r} is filed under the name {key!r}")
        object.__setattr__(self, "participants", dict(self.participants))
        object.__setattr__(self, "history", tuple(self.history))

    @property
    def names(self) -> list[str]:
        return list(self.participants)

    @property
    def total_weight(self) -> float:
        """The sum of the weights: the number of participants, up to rounding."""
        return math.fsum(p.weight for p in self.participants.values())

    def __getitem__(self, name: str) -> Participant:
        return _get(self, name)


def _get(state: WheelState, name: str) -> Participant:
    try:
        return state.participants[name]
    except (KeyError, TypeError):
        known = ", ".join(state.participants) or "none"
        raise WheelError(f"unknown participant {name!r} (the wheel has: {known})") from None


def _with(
    state: WheelState, changed: Mapping[str, Participant], *, history: Iterable[Pick] | None = None
) -> WheelState:
    merged = {name: changed.get(name, p) for name, p in state.participants.items()}
    return WheelState(merged, state.history if history is None else tuple(history))


def _rescale(weights: dict[str, float], target: float) -> dict[str, float]:
    """Scale ``weights`` to sum to ``target``; zeros stay zero; all zero → all 1 (AWS)."""
    total = math.fsum(weights.values())
    if total <= 0:
        return dict.fromkeys(weights, 1.0)
    factor = target / total
    return {name: w * factor for name, w in weights.items()}


# --- membership -------------------------------------------------------------------------------


def sync(
    state: WheelState,
    names: Iterable[str],
    *,
    members: Mapping[str, int | None] | None = None,
    static_weights: Mapping[str, float] | None = None,
) -> WheelState:
    """Make the wheel's participants exactly ``names`` (in that order), keeping the weights' sum = count.

    Removed participants are settled first (the remaining weights rescaled in proportion to sum to
    their count), then new ones enter with weight 1. ``members`` / ``static_weights``, when given,
    are authoritative for every name (absent → ``None`` / 1.0); when omitted, the current values stay.
    """
    wanted = list(names)
    seen: set[str] = set()
    for name in wanted:
        if not isinstance(name, str) or not name.strip():
            raise WheelError(f"a participant needs a non-empty name, not {name!r}")
        if name in seen:
            raise WheelError(f"participant {name!r} is listed twice")
        seen.add(name)
    for what, mapping in (("a member count", members), ("a static weight", static_weights)):
        for name in mapping or {}:
            if name not in seen:
                raise WheelError(f"{what} is given for {name!r}, which is not a participant")
    kept = {n: p.weight for n, p in state.participants.items() if n in seen}
    if len(kept) < len(state.participants):
        kept = _rescale(kept, float(len(kept)))
    result: dict[str, Participant] = {}
    for name in wanted:
        old = state.participants.get(name) or Participant(name)
        changes: dict[str, Any] = {"weight": kept.get(name, 1.0)}
        if members is not None:
            changes["members"] = members.get(name)
        if static_weights is not None:
            changes["static_weight"] = static_weights.get(name, 1.0)
        result[name] = replace(old, **changes)
    return WheelState(result, state.history)


def exclude(state: WheelState, name: str, until: datetime, reason: str) -> WheelState:
    """Exclude ``name`` until ``until`` (exclusive) for ``reason``; its weight is kept, frozen."""
    participant = _get(state, name)
    when = _utc(until, f"the end of the exclusion of {name!r}")
    if when is None:
        raise WheelError(f"the exclusion of {name!r} needs an end time")
    if not isinstance(reason, str) or not reason.strip():
        raise WheelError(f"the exclusion of {name!r} needs a reason")
    return _with(state, {name: replace(participant, excluded_until=when, excluded_reason=reason.strip())})


def include(state: WheelState, name: str) -> WheelState:
    """End any exclusion of ``name`` now (no-op when it is not excluded)."""
    participant = _get(state, name)
    return _with(state, {name: replace(participant, excluded_until=None, excluded_reason=None)})


def reset(state: WheelState) -> WheelState:
    """All weights back to 1, as AWS does. Selection counts, last-selected times, exclusions and the
    history are kept: they are the record of who presented, which a reset of the odds does not undo."""
    return _with(state, {n: replace(p, weight=1.0) for n, p in state.participants.items()})


# --- drawing ----------------------------------------------------------------------------------


def eligible(state: WheelState, now: datetime) -> list[str]:
    """The participants not excluded at ``now``, in wheel order."""
    moment = _now(now)
    return [n for n, p in state.participants.items() if not p.excluded_at(moment)]


def _factors(state: WheelState, names: list[str], mode: str) -> dict[str, float]:
    if mode == "equal":
        return dict.fromkeys(names, 1.0)
    if mode == "custom":
        return {n: state.participants[n].static_weight for n in names}
    if mode == "team_size":
        factors: dict[str, float] = {}
        for n in names:
            size = state.participants[n].members
            if not size:
                raise WheelError(f"team-size weighting needs a member count ≥ 1 for {n!r} (it has {size!r}); "
                                 "set the team's members in the configuration, or use the equal mode")
            factors[n] = float(size)
        return factors
    raise WheelError(f"unknown wheel mode {mode!r}: use one of {', '.join(MODES)}")


def _tilt(state: WheelState, names: list[str], bias: Mapping[str, float] | None, strength: float) -> dict[str, float]:
    """1 + strength × bias / max(bias over ``names``); 1 everywhere without a bias."""
    strength = _finite(strength, "bias_strength")
    if not bias:
        return dict.fromkeys(names, 1.0)
    values = {}
    for name, value in bias.items():
        _get(state, name)
        values[name] = _finite(value, f"the bias of {name!r}")
    top = max((values.get(n, 0.0) for n in names), default=0.0)
    if strength == 0 or top == 0:
        return dict.fromkeys(names, 1.0)
    return {n: 1.0 + strength * values.get(n, 0.0) / top for n in names}


def probabilities(
    state: WheelState,
    now: datetime,
    *,
    mode: Mode = "equal",
    bias: Mapping[str, float] | None = None,
    bias_strength: float = 0.0,
) -> dict[str, float]:
    """Each participant's chance at a spin now: weight × factor × tilt, normalised to 1; excluded → 0.

    The factor is 1 (``equal``), the static weight (``custom``) or the member count (``team_size``).
    When every participant that can be picked has weight 0 (only the team picked last time is
    available), the chances fall back to factor × tilt among them, as AWS falls back to equal odds.
    """
    moment = _now(now)
    if not state.participants:
        raise WheelError("the wheel has no participants")
    names = eligible(state, moment)
    if not names:
        until = ", ".join(f"{n} until {p.excluded_until:%Y-%m-%d %H:%M} UTC"
                          for n, p in state.participants.items() if p.excluded_until)
        raise WheelError(f"every participant is excluded at {moment:%Y-%m-%d %H:%M} UTC ({until}): "
                         "include one to spin the wheel")
    factor = _factors(state, names, mode)
    tilt = _tilt(state, names, bias, bias_strength)
    raw = {n: state.participants[n].weight * factor[n] * tilt[n] for n in names}
    total = math.fsum(raw.values())
    if total <= 0:
        raw = {n: factor[n] * tilt[n] for n in names}
        total = math.fsum(raw.values())
    result = dict.fromkeys(state.participants, 0.0)
    result.update({n: w / total for n, w in raw.items()})
    return result


def _draw(rng: RandomSource) -> float:
    value = rng.random() if isinstance(rng, random.Random) else rng()
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise WheelError(f"the random source must return a number in [0, 1), not {value!r}")
    return float(value)


def spin(
    state: WheelState,
    now: datetime,
    rng: RandomSource,
    *,
    mode: Mode = "equal",
    bias: Mapping[str, float] | None = None,
    bias_strength: float = 0.0,
) -> str:
    """Suggest a participant by a roulette draw on :func:`probabilities`; the state is unchanged."""
    chances = probabilities(state, now, mode=mode, bias=bias, bias_strength=bias_strength)
    target = _draw(rng) * math.fsum(chances.values())
    running = 0.0
    chosen = ""
    for name, chance in chances.items():
        if chance <= 0:
            continue
        chosen = name  # the last possible one also guards against rounding at the very end
        running += chance
        if target < running:
            break
    return chosen


def accept(
    state: WheelState,
    name: str,
    now: datetime,
    *,
    rigged: bool = False,
    reason: str | None = None,
) -> WheelState:
    """Commit a pick ("Proceed"): its weight goes to 0, shared equally among the others; counted and recorded.

    The weight is shared among the other participants not excluded at ``now`` (all the others when
    every one of them is excluded; a wheel of one keeps its weight). Picking a participant whose
    weight is 0 (the one picked last time) while another has weight needs ``rigged=True``.
    """
    moment = _now(now)
    participant = _get(state, name)
    if participant.excluded_at(moment):
        why = f": {participant.excluded_reason}" if participant.excluded_reason else ""
        raise WheelError(f"participant {name!r} is excluded until {participant.excluded_until:%Y-%m-%d %H:%M} UTC"
                         f"{why}; include it before picking it")
    if reason is not None and not isinstance(reason, str):
        raise WheelError(f"the reason for picking {name!r} must be text")
    others = [n for n in state.participants if n != name]
    open_others = [n for n in others if not state.participants[n].excluded_at(moment)]
    if not rigged and participant.weight == 0 and any(state.participants[n].weight > 0 for n in open_others):
        raise WheelError(f"participant {name!r} has weight 0: it was picked last time and cannot be picked again "
                         "before another team; record it as a rigged pick to choose it anyway")
    weights = {n: p.weight for n, p in state.participants.items()}
    receivers = open_others or others
    if receivers:
        share = weights[name] / len(receivers)
        for n in receivers:
            weights[n] += share
        weights[name] = 0.0
    weights = _rescale(weights, float(len(weights)))  # guards against drift; the sum is unchanged
    changed = {n: replace(p, weight=weights[n]) for n, p in state.participants.items()}
    changed[name] = replace(changed[name], selections=participant.selections + 1, last_selected=moment)
    pick = Pick(name, moment, rigged=bool(rigged), reason=(reason.strip() or None) if reason else None)
    return _with(state, changed, history=(*state.history, pick))


# --- the page's view --------------------------------------------------------------------------


@dataclass(frozen=True)
class WheelRow:
    """One participant as the page shows it (``ctx.wheel.participants``)."""

    name: str
    display_name: str
    probability: float
    weight: float
    selections: int
    last_selected: datetime | None
    excluded: bool
    excluded_reason: str | None
    excluded_until: datetime | None


def rows(
    state: WheelState,
    now: datetime,
    *,
    display_names: Mapping[str, str | None] | None = None,
    mode: Mode = "equal",
    bias: Mapping[str, float] | None = None,
    bias_strength: float = 0.0,
) -> list[WheelRow]:
    """The participants with their chances now, for the page; all chances 0 when everyone is excluded."""
    moment = _now(now)
    if state.participants and eligible(state, moment):
        chances = probabilities(state, moment, mode=mode, bias=bias, bias_strength=bias_strength)
    else:
        chances = dict.fromkeys(state.participants, 0.0)
    shown = display_names or {}
    return [
        WheelRow(
            name=n,
            display_name=shown.get(n) or n,
            probability=chances[n],
            weight=p.weight,
            selections=p.selections,
            last_selected=p.last_selected,
            excluded=p.excluded_at(moment),
            excluded_reason=p.excluded_reason if p.excluded_at(moment) else None,
            excluded_until=p.excluded_until if p.excluded_at(moment) else None,
        )
        for n, p in state.participants.items()
    ]


# --- JSON -------------------------------------------------------------------------------------


def _parse_time(value: object, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise WheelError(f"{where}: expected an ISO-8601 time or null, not {value!r}")
    try:
        return parse_iso(value)
    except ValueError as exc:
        if "no offset" in str(exc):
            raise WheelError(f"{where}: the time {value!r} has no UTC offset") from None
        raise WheelError(f"{where}: not an ISO-8601 time: {value!r}") from None


def _fields(item: object, where: str, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise WheelError(f"{where}: expected an object, not {type(item).__name__}")
    missing = sorted(required - item.keys())
    unknown = sorted(item.keys() - required - optional)
    problems = [f"missing {', '.join(missing)}"] if missing else []
    problems += [f"unknown {', '.join(unknown)}"] if unknown else []
    if problems:
        raise WheelError(f"{where}: " + "; ".join(problems))
    return item


_PARTICIPANT_KEYS = {"name", "weight"}
_PARTICIPANT_OPTIONAL = {"static_weight", "members", "selections", "last_selected", "excluded_until",
                         "excluded_reason"}


def to_json(state: WheelState) -> dict[str, Any]:
    """The state as JSON-ready data: ordered participants, picks oldest first, times ISO-8601 UTC (``Z``)."""
    return {
        "version": JSON_VERSION,
        "participants": [
            {
                "name": p.name,
                "weight": p.weight,
                "static_weight": p.static_weight,
                "members": p.members,
                "selections": p.selections,
                "last_selected": iso_z_or_none(p.last_selected),
                "excluded_until": iso_z_or_none(p.excluded_until),
                "excluded_reason": p.excluded_reason,
            }
            for p in state.participants.values()
        ],
        "history": [
            {"name": pick.name, "at": iso_z(pick.at), "rigged": pick.rigged, "reason": pick.reason}
            for pick in state.history
        ],
    }


def from_json(data: Mapping[str, Any]) -> WheelState:
    """The inverse of :func:`to_json`; a malformed document is a :class:`WheelError` saying where."""
    doc = _fields(dict(data) if isinstance(data, Mapping) else data, "wheel state",
                  {"version", "participants", "history"}, set())
    if doc["version"] != JSON_VERSION:
        raise WheelError(f"wheel state: unsupported version {doc['version']!r} (expected {JSON_VERSION})")
    if not isinstance(doc["participants"], list) or not isinstance(doc["history"], list):
        raise WheelError("wheel state: participants and history must be lists")
    participants: dict[str, Participant] = {}
    for i, item in enumerate(doc["participants"]):
        where = f"wheel state: participants[{i}]"
        raw = _fields(item, where, _PARTICIPANT_KEYS, _PARTICIPANT_OPTIONAL)
        participant = Participant(
            name=raw["name"],
            weight=raw["weight"],
            static_weight=raw.get("static_weight", 1.0),
            members=raw.get("members"),
            selections=raw.get("selections", 0),
            last_selected=_parse_time(raw.get("last_selected"), f"{where}.last_selected"),
            excluded_until=_parse_time(raw.get("excluded_until"), f"{where}.excluded_until"),
            excluded_reason=raw.get("excluded_reason"),
        )
        if participant.name in participants:
            raise WheelError(f"{where}: participant {participant.name!r} appears twice")
        participants[participant.name] = participant
    history = []
    for i, item in enumerate(doc["history"]):
        where = f"wheel state: history[{i}]"
        raw = _fields(item, where, {"name", "at"}, {"rigged", "reason"})
        at = _parse_time(raw["at"], f"{where}.at")
        if at is None:
            raise WheelError(f"{where}.at: a pick needs a time")
        history.append(Pick(raw["name"], at, rigged=raw.get("rigged", False), reason=raw.get("reason")))
    return WheelState(participants, tuple(history))
