"""The SQLite store: versioned schema, migrations with a backup, corrupt files, two writers, history."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import opsmeeting.store.db as store_module
from opsmeeting.aggregate.history import load_history
from opsmeeting.aggregate.scorecards import build_scorecards
from opsmeeting.errors import StoreError
from opsmeeting.report.output import scorecards_json
from opsmeeting.store import SCHEMA_VERSION, Store
from opsmeeting.window import RotationClock
from tests.builders import at, incident, snapshot

CLOCK = RotationClock(datetime(2026, 1, 12, 9), timedelta(days=14), "Europe/Lisbon")


def scorecards_for(k: int, n_incidents: int) -> dict:
    window = CLOCK.window(k)
    snap = snapshot([incident(i + 1, window.start + (window.end - window.start) * (i + 1) / (n_incidents + 2),
                              title="Disk 91% full on web-1.prod")
                     for i in range(n_incidents)])
    snap = snap.model_copy(update={"window": window})
    return json.loads(scorecards_json(build_scorecards(snap)))


def test_created_versioned_and_reopened(tmp_path):
    path = tmp_path / "state.sqlite"
    with Store.open(path) as store:
        store.record_window(scorecards_for(18, 2))
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    with Store.open(path, create=False) as store:
        assert [w.key for w in store.windows_before(CLOCK.boundary(30), 10)] == [
            "2026-09-21T08:00:00Z/2026-10-05T08:00:00Z"]


def test_recording_a_window_twice_is_idempotent(tmp_path):
    with Store.open(tmp_path / "s.sqlite") as store:
        data = scorecards_for(18, 3)
        store.record_window(data)
        first = store.db.execute("SELECT COUNT(*) FROM service_scorecards").fetchone()
        store.record_window(data)
        assert store.db.execute("SELECT COUNT(*) FROM service_scorecards").fetchone() == first
        assert store.db.execute("SELECT COUNT(*) FROM windows").fetchone() == (1,)


def test_missing_and_corrupt_stores(tmp_path):
    with pytest.raises(StoreError, match="no state store here"):
        Store.open(tmp_path / "absent.sqlite", create=False)
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(tmp_path / "no" / "such" / "dir.sqlite")
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"this is not a database, but someone's history" * 100)
    before = corrupt.read_bytes()
    with pytest.raises(StoreError, match="not a readable opsmeeting store"):
        Store.open(corrupt)
    assert corrupt.read_bytes() == before  # never overwritten


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    Store.open(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this opsmeeting"):
        Store.open(path)


def test_migration_keeps_history_and_a_backup(tmp_path, monkeypatch):
    path = tmp_path / "s.sqlite"
    with Store.open(path) as store:
        store.record_window(scorecards_for(18, 2))
    monkeypatch.setattr(store_module, "MIGRATIONS", (*store_module.MIGRATIONS, "CREATE TABLE extra (x INTEGER)"))
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with Store.open(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert store.db.execute("SELECT COUNT(*) FROM windows").fetchone() == (1,)
    backup = tmp_path / f"s.sqlite.v{SCHEMA_VERSION}.bak"
    assert sqlite3.connect(backup).execute("SELECT COUNT(*) FROM windows").fetchone() == (1,)


def test_a_failed_migration_changes_nothing(tmp_path, monkeypatch):
    path = tmp_path / "s.sqlite"
    with Store.open(path) as store:
        store.record_window(scorecards_for(18, 2))
    monkeypatch.setattr(store_module, "MIGRATIONS", (*store_module.MIGRATIONS, "CREATE TABLE windows (x)"))
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match=r"migration .* failed"):
        Store.open(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


WRITER = """
import sys
from datetime import UTC, datetime
from opsmeeting.store.ledger import Ledger
from opsmeeting.store import Store
from opsmeeting.window import Window
window = Window(start="2026-10-19T08:00:00Z", end="2026-11-02T08:00:00Z")
with Store.open(sys.argv[1]) as store:
    ledger = Ledger(store, datetime(2026, 11, 3, tzinfo=UTC))
    for i in range(40):
        key = f"{sys.argv[2]}-{i}"
        ledger.collected(key, window, "/out/" + key)
        ledger.rendered(key, complete=True)
        ledger.settle(ledger.want(key, "email"), "sent")
"""


def test_two_processes_write_at_once(tmp_path):
    path = tmp_path / "s.sqlite"
    Store.open(path).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name], stderr=subprocess.PIPE)
             for name in ("a", "b")]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    with Store.open(path) as store:
        rows = store.db.execute("SELECT COUNT(*), SUM(state = 'rendered'), SUM(attempts) FROM runs").fetchone()
        sent = store.db.execute("SELECT COUNT(*) FROM deliveries WHERE state = 'sent'").fetchone()
    assert rows == (80, 80, 80) and sent == (80,)


OPENER = """
import os, sys
from opsmeeting.store import Store
open(sys.argv[2] + "." + sys.argv[3], "w").close()  # ready
while not os.path.exists(sys.argv[2]):  # the start line
    pass
with Store.open(sys.argv[1]) as store:
    store.set_meta(sys.argv[3], "opened")
"""


def test_a_new_store_opened_by_two_processes_at_once(tmp_path):
    """Both create, migrate and switch the new file to WAL at the same moment: neither may fail
    ("table windows already exists", "database is locked"). Twenty pairs, each on a fresh file."""
    failures = []
    for pair in range(20):
        path, go = tmp_path / f"s{pair}.sqlite", tmp_path / f"go{pair}"
        procs = [subprocess.Popen([sys.executable, "-c", OPENER, str(path), str(go), name],
                                  stderr=subprocess.PIPE) for name in ("a", "b")]
        while not all(Path(f"{go}.{name}").exists() for name in ("a", "b")):
            if any(proc.poll() is not None for proc in procs):
                break
        go.touch()  # both are spinning on it: they open the store together
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            if proc.returncode:
                failures.append(err.decode()[-300:])
        with Store.open(path) as store:
            assert store.get_meta("a") == store.get_meta("b") == "opened"
            assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert not failures, f"{len(failures)} of 40 opens failed: {failures[:2]}"


def test_trends_and_deltas_from_history(tmp_path):
    with Store.open(tmp_path / "s.sqlite") as store:
        for k, n in ((17, 1), (18, 4), (19, 2)):
            store.record_window(scorecards_for(k, n))
        window = CLOCK.window(20)
        history = load_history(store, window, rotations=2)
    assert history.windows == ["2026-09-21", "2026-10-05"]
    assert history.previous_overall is not None and history.previous_overall.incidents_total == 2
    snap = snapshot([incident(1, at(hours=5), title="Disk 97% full on web-7.prod")]).model_copy(
        update={"window": window})
    cards = build_scorecards(snap, history=history)
    checkout = next(c for c in cards.services if c.service == "checkout")
    assert checkout.trend.incidents_total == [4, 2, 1]
    assert checkout.trend.previous_incidents_total == 2 and checkout.trend.previous_rank == 1
    assert cards.previous_overall.incidents_total == 2 and cards.history_windows == 2
    assert cards.problems[0].previous_rotations == 2  # the same disk problem, seen in both stored rotations



def test_written_files_are_readable_by_a_web_server(tmp_path):
    import os

    from opsmeeting.fsutil import atomic_directory, atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "report.html", "<p>hi</p>")
        with atomic_directory(tmp_path / "snapshot") as tmp:
            (tmp / "manifest.json").write_text("{}")
    finally:
        os.umask(old)
    assert (tmp_path / "report.html").stat().st_mode & 0o777 == 0o644  # mkstemp alone gives 0o600
    assert (tmp_path / "snapshot").stat().st_mode & 0o777 == 0o755
