"""The state store: one SQLite file (standard library) for everything kept between runs.

- ``windows`` and ``service_scorecards``: one record per completed window, every service's
  scorecard as JSON (trends over the last rotations, deltas against the previous one);
- ``problems``: recurring problems per window (was this problem seen in earlier rotations?);
- ``runs`` and ``deliveries``: the run ledger that makes cron runs exactly-once (``opsmeeting/ledger.py``);
- ``wheel``: the Ops Wheel's state; ``items``: action items and the parking lot.

The schema is versioned (``PRAGMA user_version``) and migrated forward in one transaction,
after a backup copy of the file, so earlier history is never lost. WAL mode and a busy timeout
make it safe for two processes at once. A corrupt file gives a clear error and is never
overwritten.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opsmeeting.errors import StoreError
from opsmeeting.timefmt import iso_z, parse_iso
from opsmeeting.window import Window

MIGRATIONS: tuple[str, ...] = (
    # v1
    """
    CREATE TABLE windows (
        window_key TEXT PRIMARY KEY, start TEXT NOT NULL, end TEXT NOT NULL, timezone TEXT NOT NULL,
        generated_at TEXT NOT NULL, overall_json TEXT NOT NULL
    );
    CREATE TABLE service_scorecards (
        window_key TEXT NOT NULL REFERENCES windows(window_key) ON DELETE CASCADE,
        service TEXT NOT NULL, team TEXT NOT NULL, scorecard_json TEXT NOT NULL,
        PRIMARY KEY (window_key, service)
    );
    CREATE TABLE problems (
        window_key TEXT NOT NULL REFERENCES windows(window_key) ON DELETE CASCADE,
        service TEXT NOT NULL, key TEXT NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (window_key, service, key)
    );
    CREATE TABLE runs (
        window_key TEXT PRIMARY KEY, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        started_at TEXT, updated_at TEXT NOT NULL, delivered_at TEXT, error TEXT, directory TEXT
    );
    CREATE TABLE wheel (id INTEGER PRIMARY KEY CHECK (id = 1), state_json TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE TABLE items (
        id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL CHECK (kind IN ('action', 'parking_lot')),
        team TEXT NOT NULL, owner TEXT, due TEXT, text TEXT NOT NULL, link TEXT,
        status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
        raised_by_team TEXT, while_listening_to TEXT,
        created_at TEXT NOT NULL, closed_at TEXT
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE INDEX windows_by_end ON windows(end);
    """,
    # v2: the delivery ledger (opsmeeting/ledger.py, docs/DELIVERY.md): deliveries per window and channel,
    # windows that know whether they are complete
    """
    ALTER TABLE runs ADD COLUMN complete INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN window_json TEXT;
    CREATE TABLE deliveries (
        window_key TEXT NOT NULL, channel TEXT NOT NULL, revision INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('report', 'corrected', 'resent')),
        state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'abandoned')),
        attempts INTEGER NOT NULL DEFAULT 0, updated_at TEXT NOT NULL, sent_at TEXT, error TEXT,
        PRIMARY KEY (window_key, channel, revision)
    );
    INSERT INTO deliveries SELECT window_key, 'email', 0, 'report', 'failed', attempts, updated_at, NULL, error
        FROM runs WHERE state = 'send_failed';
    UPDATE runs SET state = 'collected' WHERE state NOT IN ('delivered', 'send_failed');
    UPDATE runs SET complete = 1, state = 'rendered' WHERE state IN ('delivered', 'send_failed');
    """,
    # v3: the keys given to discovered teams and services, by their source id (a rename keeps its history)
    """
    CREATE TABLE source_keys (source_id TEXT PRIMARY KEY, key TEXT NOT NULL, updated_at TEXT NOT NULL);
    """,
    # v4: each window's responders, for the changes since the previous rotation (sleep-hour interruptions)
    """
    CREATE TABLE responder_scorecards (
        window_key TEXT NOT NULL REFERENCES windows(window_key) ON DELETE CASCADE,
        user TEXT NOT NULL, scorecard_json TEXT NOT NULL,
        PRIMARY KEY (window_key, user)
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


@contextmanager
def _opening(path: Path) -> Iterator[None]:
    """An exclusive lock on ``<store>.lock`` while a process opens the store: two processes opening a
    new file at once would otherwise both create the tables ("table windows already exists") or race
    to switch it to WAL mode ("database is locked")."""
    lock = path.with_name(path.name + ".lock")
    try:
        handle = lock.open("a")
    except OSError as exc:
        raise StoreError(f"{lock}: cannot open the store's lock file ({exc.strerror or exc})") from None
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def _now() -> str:
    return iso_z(datetime.now(UTC))


@dataclass(frozen=True)
class StoredWindow:
    key: str
    start: datetime
    end: datetime
    overall: dict[str, Any]


class Store:
    """Open with ``Store.open(path)``; use as a context manager to close it."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.db = connection
        self.path = path

    @classmethod
    def open(cls, path: Path, *, create: bool = True) -> Store:
        path = Path(path)
        if not path.exists():
            if not create:
                raise StoreError(f"{path}: no state store here (state.path); `opsmeeting run` creates it")
            if not path.parent.is_dir():
                raise StoreError(f"{path}: the folder {path.parent} does not exist (state.path)")
        with _opening(path):  # one process at a time sets WAL mode and migrates; then all share the file
            try:
                db = sqlite3.connect(path, timeout=30, isolation_level=None)
                db.execute("PRAGMA busy_timeout = 30000")
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA foreign_keys = ON")
                version = db.execute("PRAGMA user_version").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{path}: not a readable opsmeeting store ({exc}); it was left untouched") from None
            store = cls(db, path)
            if version > SCHEMA_VERSION:
                db.close()
                raise StoreError(f"{path}: schema version {version} is newer than this opsmeeting "
                                 f"({SCHEMA_VERSION}); upgrade opsmeeting")
            if version < SCHEMA_VERSION:
                store._migrate(version)
        return store

    def _migrate(self, version: int) -> None:
        if version > 0:
            backup = self.path.with_name(f"{self.path.name}.v{version}.bak")
            with sqlite3.connect(backup) as target:
                self.db.backup(target)
        try:
            self.db.execute("BEGIN IMMEDIATE")
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number}")
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self.db.execute("ROLLBACK")
            raise StoreError(f"{self.path}: migration to schema {SCHEMA_VERSION} failed ({exc}); "
                             "nothing was changed") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- history -----------------------------------------------------------------------------

    def record_window(self, scorecards: dict[str, Any]) -> None:
        """Store one window's scorecards (the scorecards.json document); writing it twice is a no-op
        beyond replacing the same rows."""
        window = scorecards["window"]
        key = Window.model_validate(window).key
        with self.transaction() as db:
            db.execute("DELETE FROM windows WHERE window_key = ?", (key,))
            db.execute(
                "INSERT INTO windows VALUES (?, ?, ?, ?, ?, ?)",
                (key, window["start"], window["end"], window["timezone"], scorecards["generated_at"],
                 json.dumps(scorecards["overall"], sort_keys=True)),
            )
            db.executemany(
                "INSERT INTO service_scorecards VALUES (?, ?, ?, ?)",
                [(key, s["service"], s["team"], json.dumps(s, sort_keys=True)) for s in scorecards["services"]],
            )
            db.executemany(
                "INSERT INTO problems VALUES (?, ?, ?, ?)",
                [(key, p["service"], p["key"], p["count"]) for p in scorecards.get("problems", [])],
            )
            db.execute("DELETE FROM responder_scorecards WHERE window_key = ?", (key,))
            db.executemany(
                "INSERT INTO responder_scorecards VALUES (?, ?, ?)",
                [(key, r["user"], json.dumps(r, sort_keys=True)) for r in scorecards.get("responders", [])],
            )

    def windows_before(self, start: datetime, limit: int) -> list[StoredWindow]:
        """The ``limit`` most recent stored windows that ended at or before ``start``, oldest first."""
        rows = self.db.execute(
            "SELECT window_key, start, end, overall_json FROM windows WHERE end <= ? ORDER BY end DESC LIMIT ?",
            (iso_z(start), limit),
        ).fetchall()
        return [
            StoredWindow(key=r[0], start=parse_iso(r[1]), end=parse_iso(r[2]), overall=json.loads(r[3]))
            for r in reversed(rows)
        ]

    def service_scorecards(self, keys: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """window_key → service → scorecard, for the given windows."""
        out: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in keys}
        if not keys:
            return out
        marks = ",".join("?" * len(keys))
        for key, service, data in self.db.execute(
            f"SELECT window_key, service, scorecard_json FROM service_scorecards WHERE window_key IN ({marks})", keys
        ):
            out[key][service] = json.loads(data)
        return out

    def responder_scorecards(self, key: str) -> dict[str, dict[str, Any]]:
        """user → scorecard, for one stored window (empty when it has none)."""
        rows = self.db.execute("SELECT user, scorecard_json FROM responder_scorecards WHERE window_key = ?", (key,))
        return {user: json.loads(data) for user, data in rows}

    def problems_seen(self, keys: list[str]) -> dict[tuple[str, str], int]:
        """(service, problem key) → in how many of the given windows it appeared."""
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        rows = self.db.execute(
            f"SELECT service, key, COUNT(*) FROM problems WHERE window_key IN ({marks}) GROUP BY service, key", keys
        ).fetchall()
        return {(r[0], r[1]): int(r[2]) for r in rows}

    # --- keys of discovered teams and services ------------------------------------------------

    def known_keys(self) -> dict[str, str]:
        """``service:<id>`` / ``team:<id>`` → the key it was given when first discovered."""
        return {str(r[0]): str(r[1]) for r in self.db.execute("SELECT source_id, key FROM source_keys")}

    def remember_keys(self, keys: dict[str, str]) -> None:
        with self.transaction() as db:
            db.executemany("INSERT INTO source_keys VALUES (?, ?, ?) ON CONFLICT(source_id) DO UPDATE SET "
                           "key = excluded.key, updated_at = excluded.updated_at",
                           [(memo, key, _now()) for memo, key in sorted(keys.items())])

    # --- key/value blobs (the wheel) -----------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str | None) -> None:
        with self.transaction() as db:
            if value is None:
                db.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                           (key, value))

    def load_wheel(self) -> dict[str, Any] | None:
        row = self.db.execute("SELECT state_json FROM wheel WHERE id = 1").fetchone()
        return None if row is None else json.loads(row[0])

    def save_wheel(self, state: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO wheel VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "state_json = excluded.state_json, updated_at = excluded.updated_at",
                (json.dumps(state, sort_keys=True), _now()),
            )
