"""Trends across rotations: what the store remembers, shaped for aggregation."""

from __future__ import annotations

from opsmeeting.aggregate.model import History, IncidentMetrics
from opsmeeting.store import Store
from opsmeeting.window import Window

KEY_SEP = "\x1f"


def load_history(store: Store, window: Window, rotations: int = 6) -> History:
    """The last ``rotations`` windows that ended at or before ``window`` started."""
    past = store.windows_before(window.start, rotations)
    keys = [w.key for w in past]
    cards = store.service_scorecards(keys)
    names = sorted({name for per in cards.values() for name in per})
    services = {name: [cards[k].get(name) for k in keys] for name in names}
    previous = None
    previous_services = None
    previous_responders = None
    if past and past[-1].end == window.start:
        previous = IncidentMetrics.model_validate(past[-1].overall["incidents"])
        previous_services = cards[past[-1].key]
        previous_responders = store.responder_scorecards(past[-1].key)
    seen = store.problems_seen(keys)
    return History(
        windows=[w.start.astimezone(window.tz).strftime("%Y-%m-%d") for w in past],
        previous_overall=previous,
        services=services,
        problems_seen={f"{service}{KEY_SEP}{key}": n for (service, key), n in seen.items()},
        previous_services=previous_services,
        previous_responders=previous_responders,
    )
