"""The teams and services the meeting knows offline. Without discovery they are the configuration's;
with it, those of the last run, which the store keeps (the commands of the meeting loop, the wheel's
and `opsmeeting serve` do not call PagerDuty)."""

from __future__ import annotations

from opsmeeting.config import Config
from opsmeeting.model import Setup
from opsmeeting.store import Store

LAST_SETUP = "last_setup"  # the store's meta key: the teams and services of the last run


def remember_setup(store: Store, setup: Setup) -> None:
    """Keep the teams and services a run found (only a complete list: never the explicit entries alone
    of a run whose discovery failed)."""
    if setup.services_complete:
        store.set_meta(LAST_SETUP, setup.model_dump_json(include={"teams", "services"}))


def known_setup(store: Store | None, config: Config) -> Setup | None:
    """With discovery, the teams and services of the last run (None before the first one)."""
    if store is None or config.discovery is None:
        return None
    raw = store.get_meta(LAST_SETUP)
    return Setup.model_validate_json(raw) if raw else None


def team_names(config: Config, store: Store | None) -> list[str]:
    """The keys of the teams items, notes and picks may name."""
    explicit = [t.name for t in config.teams]
    setup = known_setup(store, config)
    if setup is None:
        return explicit
    return list(dict.fromkeys([*explicit, *(t.name for t in setup.teams)]))
