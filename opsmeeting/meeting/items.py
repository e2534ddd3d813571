"""Action items and the parking lot, kept in the store and carried from one pre-read to the next."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import UTC, date, datetime

from opsmeeting.errors import InputError
from opsmeeting.meeting.model import Item, ItemsView
from opsmeeting.store import Store
from opsmeeting.timefmt import iso_z, parse_iso

KINDS = ("action", "parking_lot")


def _now() -> datetime:
    return datetime.now(UTC)




@dataclass
class ItemBook:
    store: Store

    def add(self, *, kind: str, team: str, text: str, owner: str | None = None, due: date | None = None,
            link: str | None = None, while_listening_to: str | None = None, now: datetime | None = None) -> int:
        if kind not in KINDS:
            raise InputError(f"kind {kind!r}: use one of {', '.join(KINDS)}")
        if not text.strip():
            raise InputError("an item needs a text")
        if link and not link.startswith(("https://", "http://")):
            raise InputError(f"link {link!r}: only http(s) links are kept")
        with self.store.transaction() as db:
            cursor = db.execute(
                "INSERT INTO items (kind, team, owner, due, text, link, raised_by_team, while_listening_to, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (kind, team, owner, due.isoformat() if due else None, text.strip(), link, team, while_listening_to,
                 iso_z(now or _now())),
            )
            return int(cursor.lastrowid or 0)

    def done(self, item_id: int, now: datetime | None = None) -> Item:
        with self.store.transaction() as db:
            changed = db.execute("UPDATE items SET status = 'done', closed_at = ? WHERE id = ? AND status = 'open'",
                                 (iso_z(now or _now()), item_id)).rowcount
        item = self.get(item_id)
        if item is None:
            raise InputError(f"no item #{item_id}")
        if not changed:
            raise InputError(f"item #{item_id} was already done ({item.closed_at:%Y-%m-%d})")
        return item

    def get(self, item_id: int) -> Item | None:
        rows = self._select("WHERE id = ?", (item_id,))
        return rows[0] if rows else None

    def list(self, *, status: str | None = "open", team: str | None = None) -> list[Item]:
        clauses, args = [], []
        if status:
            clauses.append("status = ?")
            args.append(status)
        if team:
            clauses.append("team = ?")
            args.append(team)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return self._select(where + " ORDER BY id", tuple(args))

    def _select(self, tail: str, args: tuple[object, ...]) -> builtins.list[Item]:  # `list` is the method here
        rows = self.store.db.execute(
            "SELECT id, kind, team, owner, due, text, link, status, while_listening_to, created_at, closed_at "
            f"FROM items {tail}", args).fetchall()
        return [
            Item(id=r[0], kind=r[1], team=r[2], owner=r[3], due=date.fromisoformat(r[4]) if r[4] else None,
                 text=r[5], link=r[6], status=r[7], while_listening_to=r[8], created_at=parse_iso(r[9]),
                 closed_at=parse_iso(r[10]) if r[10] else None)
            for r in rows
        ]

    def view(self, since: datetime, now: datetime) -> ItemsView:
        """What section 4 shows (see ``items_view``)."""
        return items_view(self.list(status=None), since, now)


def items_view(items: list[Item], since: datetime, now: datetime) -> ItemsView:
    """Open items (with age), items closed since ``since`` (the last meeting), items past due at ``now``."""
    open_items = [i for i in items if i.status == "open"]
    then = since.date()
    return ItemsView(
        open=open_items,
        closed_since_last=[i for i in items if i.status == "done" and i.closed_at and i.closed_at >= since],
        past_due=[i for i in open_items if i.due and i.due < now.date()],
        as_of=now,
        # open at the last meeting (created before it, not yet closed then) and already past due then
        past_due_at_last_meeting=sum(1 for i in items if i.due and i.due < then and i.created_at < since
                                     and (i.closed_at is None or i.closed_at >= since)),
    )

