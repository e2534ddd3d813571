"""The Ops Wheel kept in the store: participants from the configuration (with discovery, from the
setup of the last run, which the store keeps), picks recorded once."""

from __future__ import annotations

import json
import random
import shlex
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from opsmeeting.aggregate.model import Scorecards
from opsmeeting.config import Config
from opsmeeting.meeting import wheel
from opsmeeting.meeting.known import known_setup
from opsmeeting.meeting.model import WheelView
from opsmeeting.model import Setup
from opsmeeting.store import Store


def participants(config: Config, store: Store | None = None, setup: Setup | None = None,
                 ) -> tuple[list[str], dict[str, int | None], dict[str, str | None]]:
    """Names, member counts and display names of the wheel's participants (teams or services): those
    of ``setup`` (a report's), else, with discovery, of the last run, else of the configuration."""
    setup = setup or known_setup(store, config)
    if setup is not None:
        if config.wheel.participants == "services":
            return ([s.name for s in setup.services], dict.fromkeys((s.name for s in setup.services), None),
                    {s.name: s.display_name for s in setup.services})
        return ([t.name for t in setup.teams], {t.name: t.members for t in setup.teams},
                {t.name: t.display_name for t in setup.teams})
    if config.wheel.participants == "services":
        return ([s.name for s in config.services], dict.fromkeys((s.name for s in config.services), None),
                {s.name: s.display_name for s in config.services})
    return ([t.name for t in config.teams], {t.name: t.members for t in config.teams},
            {t.name: t.display_name for t in config.teams})


def load(store: Store, config: Config, setup: Setup | None = None) -> wheel.WheelState:
    """The stored state, synced with the participants (added ones enter with weight 1)."""
    names, members, _ = participants(config, store, setup)
    raw = store.load_wheel()
    state = wheel.from_json(raw) if raw else wheel.WheelState({}, ())
    statics = {n: config.wheel.weights.get(n, 1.0) for n in names}
    known_members = {n: m for n, m in members.items() if m}
    return wheel.sync(state, names, static_weights=statics,
                      members=known_members if len(known_members) == len(names) else None)


def save(store: Store, state: wheel.WheelState) -> None:
    store.save_wheel(wheel.to_json(state))


def options(config: Config, cards: Scorecards | None, names: list[str]) -> dict[str, Any]:
    return {"mode": config.wheel.mode, "bias": bias_from(config, cards, names),
            "bias_strength": config.wheel.bias_strength}


def bias_from(config: Config, cards: Scorecards | None, names: list[str]) -> dict[str, float] | None:
    """Priority scores per participant (a team's is the sum of its services'): the data-driven tilt."""
    if cards is None:
        return None
    return _bias(config, ((c.service, c.team, c.priority.score if c.priority else 0.0) for c in cards.services),
                 names)


def _bias(config: Config, scores: Iterable[tuple[str, str, float]], names: list[str]) -> dict[str, float] | None:
    if config.wheel.bias_strength == 0:
        return None
    per: dict[str, float] = {}
    for service, team, score in scores:
        key = service if config.wheel.participants == "services" else team
        per[key] = per.get(key, 0.0) + score
    return {n: per.get(n, 0.0) for n in names}


def record_pick(store: Store, config: Config, team: str, *, now: datetime, rigged: bool = False,
                reason: str | None = None) -> dict[str, Any]:
    state = wheel.accept(load(store, config), team, now, rigged=rigged, reason=reason)
    save(store, state)
    return {"team": team, "rigged": rigged, "weights": {n: p.weight for n, p in state.participants.items()}}


def spin(store: Store, config: Config, now: datetime, cards: Scorecards | None = None,
         rng: random.Random | None = None) -> str:
    setup = cards.setup if cards else None
    names, _, _ = participants(config, store, setup)
    return wheel.spin(load(store, config, setup), now, rng or random.SystemRandom(),
                      **options(config, cards, names))


def view(store: Store, config: Config, now: datetime, cards: Scorecards | None, config_path: Path | None) -> WheelView:
    setup = cards.setup if cards else None
    state = load(store, config, setup)
    names, _, display = participants(config, store, setup)
    where = f" --config {shlex.quote(str(config_path))}" if config_path else ""
    return WheelView(
        participants=wheel.rows(state, now, display_names=display, **options(config, cards, names)),
        record_url=None,
        csrf_token=None,
        command=f"opsmeeting wheel record {{team}}{where}",
        slide_position=config.wheel.slide_position,
    )


def describe(state: wheel.WheelState, chances: Mapping[str, float]) -> list[str]:
    lines = []
    for name, p in state.participants.items():
        last = p.last_selected.strftime("%Y-%m-%d") if p.last_selected else "never"
        excluded = f"  excluded until {p.excluded_until:%Y-%m-%d}: {p.excluded_reason}" if p.excluded_until else ""
        lines.append(f"{name:<20} weight {p.weight:5.2f}  chance {100 * chances.get(name, 0):5.1f} %  "
                     f"picked {p.selections:>3}  last {last}{excluded}")
    return lines


def fresh_view(setup: Setup, now: datetime) -> WheelView:
    """A wheel with no history (every team weight 1), for reports made without a store."""
    names = [t.name for t in setup.teams]
    state = wheel.sync(wheel.WheelState({}, ()), names)
    return WheelView(
        participants=wheel.rows(state, now, display_names={t.name: t.display_name for t in setup.teams}),
        record_url=None,
        csrf_token=None,
        command="opsmeeting wheel record {team} --config YOUR-CONFIG.yaml",
    )


def live_rows(store: Store, config: Config, now: datetime, scorecards_json: Path) -> list[dict[str, Any]]:
    """The wheel's participants as the store has them now, for a page served by `opsmeeting serve`;
    the bias comes from the priority scores in the report's own scorecards.json."""
    bias = None
    names, _, _ = participants(config, store)
    if config.wheel.bias_strength and scorecards_json.is_file():
        data = json.loads(scorecards_json.read_text(encoding="utf-8"))
        bias = _bias(config, ((c["service"], c["team"], float((c.get("priority") or {}).get("score") or 0.0))
                              for c in data.get("services", [])), names)
    state = load(store, config)
    return [
        {"name": r.name, "probability": r.probability, "weight": r.weight, "selections": r.selections,
         "last_selected": r.last_selected.isoformat() if r.last_selected else None, "excluded": r.excluded,
         "excluded_reason": r.excluded_reason}
        for r in wheel.rows(state, now, mode=config.wheel.mode, bias=bias, bias_strength=config.wheel.bias_strength)
    ]
