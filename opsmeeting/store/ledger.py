"""The run ledger: what was collected and rendered for each window, and what was delivered, exactly once.

Two records, in the state store (docs/DELIVERY.md draws their states and transitions):

- a **window** (table ``runs``): ``collected`` (its snapshot is written) → ``rendered`` (its report
  files are written). ``complete`` says every source answered in full and every item was computed.
  A rendered window is *settled* when it is complete or its recollection age has passed; until then
  every run collects it again (a degraded report is never final while the data may still come).
- a **delivery** (table ``deliveries``), one per window × channel × revision — the channels are
  ``email`` and ``chat:<name>``, one per configured chat channel, each on its own: ``pending`` →
  ``sent``, or ``failed`` (retried by the next run, whatever window that run is for) → ``sent``, or
  ``abandoned`` (its files are gone; reported, never retried). Revision 0 is the report; a later
  revision is a ``corrected`` report (sent once, when a recollection made a delivered degraded
  report complete with other numbers) or a ``resent`` one (``run --force``).

A delivery is only sent by a run that holds its window's lock and finds it still pending after
taking it, so two runs cannot both send it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from opsmeeting.store.db import Store
from opsmeeting.timefmt import iso_z, parse_iso
from opsmeeting.window import Window

DeliveryKind = Literal["report", "corrected", "resent"]
DeliveryState = Literal["pending", "sent", "failed", "abandoned"]
UNSENT = ("pending", "failed")
EMAIL = "email"
CHAT_PREFIX = "chat:"


def chat_channel(name: str) -> str:
    """The ledger's channel of the chat channel ``name`` (``chat[].name`` in the configuration)."""
    return CHAT_PREFIX + name


@dataclass(frozen=True)
class WindowRecord:
    key: str
    state: Literal["collected", "rendered"]
    attempts: int
    directory: str | None
    complete: bool
    window: Window | None  # None for records written before the window was kept
    updated_at: datetime

    def settled(self, now: datetime, recollect_for: timedelta) -> bool:
        """Final: nothing more will be collected for it (complete, or too old to wait for)."""
        if self.state != "rendered":
            return False
        return self.complete or self.window is None or now >= self.window.end + recollect_for


@dataclass(frozen=True)
class Delivery:
    key: str
    channel: str
    revision: int
    kind: DeliveryKind
    state: DeliveryState
    attempts: int
    sent_at: str | None
    error: str | None


_DELIVERY_COLUMNS = "window_key, channel, revision, kind, state, attempts, sent_at, error"


class Ledger:
    def __init__(self, store: Store, now: datetime) -> None:
        self.store = store
        self.db = store.db
        self.now = now

    # --- windows ---------------------------------------------------------------------------------

    def get(self, key: str) -> WindowRecord | None:
        row = self.db.execute(
            "SELECT window_key, state, attempts, directory, complete, window_json, updated_at FROM runs "
            "WHERE window_key = ?", (key,)).fetchone()
        return None if row is None else _record(row)

    def collected(self, key: str, window: Window, directory: str) -> None:
        """A snapshot of ``window`` was written to ``directory``/snapshot (one more collection attempt)."""
        now = iso_z(self.now)
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO runs (window_key, state, attempts, started_at, updated_at, directory, window_json, "
                "complete) VALUES (?, 'collected', 1, ?, ?, ?, ?, 0) ON CONFLICT(window_key) DO UPDATE SET "
                "state = 'collected', attempts = runs.attempts + 1, updated_at = excluded.updated_at, "
                "directory = excluded.directory, window_json = excluded.window_json, complete = 0",
                (key, now, now, directory, window.model_dump_json()),
            )

    def rendered(self, key: str, *, complete: bool) -> None:
        with self.store.transaction() as db:
            db.execute("UPDATE runs SET state = 'rendered', complete = ?, updated_at = ? WHERE window_key = ?",
                       (int(complete), iso_z(self.now), key))

    def unsettled(self, recollect_for: timedelta) -> list[WindowRecord]:
        """Rendered windows still waiting for complete data, oldest first (provisional ones excluded)."""
        rows = self.db.execute(
            "SELECT window_key, state, attempts, directory, complete, window_json, updated_at FROM runs "
            "WHERE state = 'rendered' AND complete = 0 AND window_key NOT LIKE '%~provisional' ORDER BY window_key"
        ).fetchall()
        return [r for r in map(_record, rows) if not r.settled(self.now, recollect_for)]

    # --- deliveries ------------------------------------------------------------------------------

    def deliveries(self, key: str) -> list[Delivery]:
        rows = self.db.execute(f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE window_key = ? "
                               "ORDER BY channel, revision", (key,)).fetchall()
        return [Delivery(*r) for r in rows]

    def want(self, key: str, channel: str, kind: DeliveryKind = "report") -> Delivery | None:
        """Ask for a delivery: the report once per window and channel (a no-op when it exists), a
        corrected report once, a resent one each time. Returns the new pending delivery, if any."""
        with self.store.transaction() as db:
            rows = db.execute("SELECT kind, revision FROM deliveries WHERE window_key = ? AND channel = ?",
                              (key, channel)).fetchall()
            kinds = {r[0] for r in rows}
            if (kind == "report" and rows) or (kind == "corrected" and "corrected" in kinds):
                return None
            revision = max((r[1] for r in rows), default=-1) + 1
            db.execute(
                "INSERT INTO deliveries (window_key, channel, revision, kind, state, attempts, updated_at) "
                "VALUES (?, ?, ?, ?, 'pending', 0, ?)", (key, channel, revision, kind, iso_z(self.now)))
        return Delivery(key, channel, revision, kind, "pending", 0, None, None)

    def unsent(self, key: str | None = None) -> list[Delivery]:
        """Deliveries still to send (pending, or failed last time), of one window or of all."""
        where, args = ("AND window_key = ?", (key,)) if key else ("", ())
        rows = self.db.execute(f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE state IN ('pending', 'failed') "
                               f"{where} ORDER BY window_key, channel, revision", args).fetchall()
        return [Delivery(*r) for r in rows]

    def refresh(self, delivery: Delivery) -> Delivery | None:
        row = self.db.execute(f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE window_key = ? AND channel = ? "
                              "AND revision = ?", (delivery.key, delivery.channel, delivery.revision)).fetchone()
        return None if row is None else Delivery(*row)

    def settle(self, delivery: Delivery, state: DeliveryState, *, error: str | None = None) -> None:
        """Record an attempt's outcome: ``sent``, ``failed`` (with the error) or ``abandoned`` (why)."""
        now = iso_z(self.now)
        with self.store.transaction() as db:
            db.execute(
                "UPDATE deliveries SET state = ?, attempts = attempts + ?, error = ?, updated_at = ?, "
                "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END "
                "WHERE window_key = ? AND channel = ? AND revision = ?",
                (state, int(state in ("sent", "failed")), error, now, state, now, delivery.key, delivery.channel,
                 delivery.revision))

    def was_sent(self, key: str, channel: str) -> bool:
        row = self.db.execute("SELECT 1 FROM deliveries WHERE window_key = ? AND channel = ? AND state = 'sent'",
                              (key, channel)).fetchone()
        return row is not None


def _record(row: tuple[Any, ...]) -> WindowRecord:
    """``row``: a ``windows`` row as sqlite3 hands it back (untyped values)."""
    key, state, attempts, directory, complete, window_json, updated_at = row
    window = Window.model_validate(json.loads(str(window_json))) if window_json else None
    return WindowRecord(key=str(key), state=state, attempts=int(attempts),
                        directory=None if directory is None else str(directory), complete=bool(complete),
                        window=window, updated_at=parse_iso(str(updated_at)))
