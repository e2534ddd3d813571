"""Every state and transition of the run ledger (docs/DELIVERY.md), on the ledger itself."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

import opsmeeting.store.db as store_module
from opsmeeting.store import Store
from opsmeeting.store.ledger import Ledger
from opsmeeting.window import Window

WINDOW = Window(start="2026-10-19T08:00:00Z", end="2026-11-02T08:00:00Z", timezone="Europe/Lisbon")
KEY = "2026-10-19T08:00:00Z/2026-11-02T08:00:00Z"
AFTER = WINDOW.end + timedelta(hours=2)
AGE = timedelta(days=3)


@pytest.fixture
def ledger(tmp_path):
    with Store.open(tmp_path / "s.sqlite") as store:
        yield Ledger(store, AFTER)


def test_window_collected_then_rendered_complete_is_settled(ledger):
    assert ledger.get(KEY) is None
    ledger.collected(KEY, WINDOW, "/out/w")
    record = ledger.get(KEY)
    assert (record.state, record.attempts, record.directory, record.window) == ("collected", 1, "/out/w", WINDOW)
    assert not record.settled(AFTER, AGE)  # collected: not rendered yet
    ledger.rendered(KEY, complete=True)
    assert ledger.get(KEY).settled(AFTER, AGE) and ledger.unsettled(AGE) == []


def test_an_incomplete_window_is_unsettled_until_complete_or_old(ledger):
    ledger.collected(KEY, WINDOW, "/out/w")
    ledger.rendered(KEY, complete=False)
    record = ledger.get(KEY)
    assert not record.settled(AFTER, AGE) and [r.key for r in ledger.unsettled(AGE)] == [KEY]
    assert record.settled(WINDOW.end + AGE, AGE)  # the age has passed: final as it is
    ledger.collected(KEY, WINDOW, "/out/w")  # collected again ...
    assert ledger.get(KEY).attempts == 2 and ledger.get(KEY).state == "collected"
    ledger.rendered(KEY, complete=True)  # ... and complete now
    assert ledger.unsettled(AGE) == []


def test_provisional_windows_are_never_waited_for(ledger):
    ledger.collected(KEY + "~provisional", WINDOW.model_copy(update={"provisional": True}), "/out/p")
    ledger.rendered(KEY + "~provisional", complete=False)
    assert ledger.unsettled(AGE) == []


def test_delivery_pending_then_sent(ledger):
    first = ledger.want(KEY, "email")
    assert (first.revision, first.kind, first.state) == (0, "report", "pending")
    assert ledger.want(KEY, "email") is None  # the report is asked for once
    assert [d.state for d in ledger.unsent()] == ["pending"]
    ledger.settle(first, "sent")
    sent = ledger.refresh(first)
    assert sent.state == "sent" and sent.attempts == 1 and sent.sent_at and ledger.was_sent(KEY, "email")
    assert ledger.unsent() == []


def test_delivery_failed_then_retried_then_sent(ledger):
    first = ledger.want(KEY, "email")
    ledger.settle(first, "failed", error="email via smtp:25 failed: Connection refused")
    failed = ledger.refresh(first)
    assert failed.state == "failed" and "Connection refused" in failed.error and failed.attempts == 1
    assert [d.key for d in ledger.unsent()] == [KEY] and not ledger.was_sent(KEY, "email")
    ledger.settle(failed, "sent")
    assert ledger.refresh(first).attempts == 2 and ledger.refresh(first).error is None


@pytest.mark.parametrize("start", ["pending", "failed"])
def test_delivery_abandoned_when_its_files_are_gone(ledger, start):
    first = ledger.want(KEY, "email")
    if start == "failed":
        ledger.settle(first, "failed", error="smtp down")
    ledger.settle(first, "abandoned", error="its report is gone")
    gone = ledger.refresh(first)
    assert gone.state == "abandoned" and ledger.unsent() == [] and not ledger.was_sent(KEY, "email")


def test_corrected_once_and_resent_each_time(ledger):
    ledger.settle(ledger.want(KEY, "email"), "sent")
    corrected = ledger.want(KEY, "email", "corrected")
    assert (corrected.revision, corrected.kind) == (1, "corrected")
    assert ledger.want(KEY, "email", "corrected") is None  # a correction is sent once
    ledger.settle(corrected, "sent")
    assert ledger.want(KEY, "email", "resent").revision == 2
    assert ledger.want(KEY, "email", "resent").revision == 3  # --force: each time
    assert [d.kind for d in ledger.deliveries(KEY)] == ["report", "corrected", "resent", "resent"]


def test_the_v1_ledger_is_migrated(tmp_path, monkeypatch):
    """A store written by the previous version: delivered windows stay done, a failed email stays to send."""
    path = tmp_path / "old.sqlite"
    monkeypatch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:1])
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", 1)
    Store.open(path).close()
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO runs (window_key, state, attempts, updated_at, delivered_at, error, directory) "
            "VALUES (?, ?, 1, '2026-11-02T10:00:00Z', ?, ?, ?)",
            [("a/b", "delivered", "2026-11-02T10:00:00Z", None, "/out/ab"),
             ("c/d", "send_failed", None, "smtp down", "/out/cd"),
             ("e/f", "rendered", None, None, "/out/ef")])
    monkeypatch.undo()
    with Store.open(path) as store:
        ledger = Ledger(store, datetime(2026, 11, 3, tzinfo=UTC))
        assert ledger.get("a/b").state == "rendered" and ledger.get("a/b").settled(AFTER, AGE)
        assert [(d.key, d.state, d.error) for d in ledger.unsent()] == [("c/d", "failed", "smtp down")]
        assert ledger.get("e/f").state == "collected"  # rendered but not emailed: made again from its snapshot
    assert (tmp_path / "old.sqlite.v1.bak").is_file()
