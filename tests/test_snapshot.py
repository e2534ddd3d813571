"""Snapshots: written and read back unchanged, and the snapshots of older versions still load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from opsmeeting.aggregate.scorecards import build_scorecards
from opsmeeting.cli import sample_snapshot_dir
from opsmeeting.errors import InputError
from opsmeeting.model import SCHEMA_VERSION
from opsmeeting.report.output import scorecards_json
from opsmeeting.snapshot import read_snapshot, write_snapshot

FIXTURES = Path(__file__).parent / "fixtures"


def test_a_snapshot_round_trips(tmp_path):
    sample = read_snapshot(sample_snapshot_dir())
    write_snapshot(sample, tmp_path / "copy")
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == ["incidents.json", "manifest.json", "slos.json"]
    assert read_snapshot(tmp_path / "copy") == sample


def test_a_schema_1_snapshot_loads_through_its_migration():
    """A snapshot as opsmeeting wrote it before the model of no one vendor (PagerDuty's vocabulary in
    pagerduty.json, prometheus.json): it loads, and gives the very scorecards it gave then."""
    old = read_snapshot(FIXTURES / "snapshot-v1")
    assert old.schema_version == SCHEMA_VERSION and old.incidents is not None and old.slos is not None
    assert old.incidents.source == "pagerduty" and old.roles["incidents"].label == "PagerDuty"
    kinds = {e.kind for i in old.incidents.incidents for e in i.events}
    assert kinds == {"triggered", "notified", "escalated", "acknowledged", "resolved"}
    now = json.loads(scorecards_json(build_scorecards(old)))
    then = json.loads((FIXTURES / "snapshot-v1.scorecards.json").read_text())
    # keys added since (issue 15): display names (a service's was its key then; a team's, its display_name)
    assert all(card.pop("display_name") == card["service"] for card in now["services"])
    names = {t.name: t.display_name or t.name for t in old.setup.teams}
    assert all(card.pop("display_name") == names[card["team"]] for card in now["teams"])
    assert now.pop("service_changes") is None  # no store, so no rotation before
    assert now == then


def test_an_unknown_schema_is_named(tmp_path):
    shutil.copytree(sample_snapshot_dir(), tmp_path / "s")
    manifest = tmp_path / "s" / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "schema_version": 9}))
    with pytest.raises(InputError, match="schema_version 9 is not supported"):
        read_snapshot(tmp_path / "s")
