"""Snapshots: written and read back unchanged, and the snapshots of older versions still load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from opsmeeting import snapshot as snapshot_module
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


def test_parts_are_streamed_byte_for_byte_as_one_document(tmp_path):
    """Each part is written a chunk of records at a time, yet is exactly the JSON of the whole model;
    so is a part whose long list is empty or shorter than a chunk."""
    sample = read_snapshot(sample_snapshot_dir())
    assert sample.incidents is not None and sample.slos is not None
    for part in (sample.incidents, sample.slos, sample.incidents.model_copy(update={"incidents": []}),
                 sample.slos.model_copy(update={"measurements": sample.slos.measurements[:1]})):
        field = "incidents" if hasattr(part, "incidents") else "measurements"
        assert b"".join(snapshot_module._json_chunks(part, field)) == part.model_dump_json().encode()


def test_a_large_part_is_written_compressed_and_read_back(tmp_path, monkeypatch):
    """Past COMPRESS_ABOVE a part goes to ``<name>.gz`` (gzip), read as if it were plain; a damaged one
    is named."""
    import gzip

    sample = read_snapshot(sample_snapshot_dir())
    monkeypatch.setattr(snapshot_module, "COMPRESS_ABOVE", 10_000)
    monkeypatch.setattr(snapshot_module, "CHUNK", 3)
    write_snapshot(sample, tmp_path / "copy")
    names = sorted(p.name for p in (tmp_path / "copy").iterdir())
    assert names == ["incidents.json.gz", "manifest.json", "slos.json.gz"]
    packed = gzip.decompress((tmp_path / "copy" / "incidents.json.gz").read_bytes())
    assert sample.incidents is not None and packed == sample.incidents.model_dump_json().encode() + b"\n"
    assert read_snapshot(tmp_path / "copy") == sample
    (tmp_path / "copy" / "slos.json.gz").write_bytes(b"not gzip")
    with pytest.raises(InputError, match=r"slos\.json\.gz: unreadable"):
        read_snapshot(tmp_path / "copy")


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
    # keys added since (display names, team views, the order of major incidents by impact) aside, every
    # value it gave then it gives now
    assert all(card["display_name"] == card["service"] for card in now["services"])
    assert_says(now, then, "scorecards")


def assert_says(now: object, then: object, where: str) -> None:
    """Every key and value of ``then`` is in ``now`` (lists of objects with an ``id`` in any order)."""
    if isinstance(then, dict):
        assert isinstance(now, dict), where
        for key, value in then.items():
            assert key in now, f"{where}.{key} is gone"
            assert_says(now[key], value, f"{where}.{key}")
    elif isinstance(then, list):
        assert isinstance(now, list) and len(now) == len(then), where
        if then and all(isinstance(x, dict) and "id" in x for x in then):
            now = sorted(now, key=lambda x: x["id"])
            then = sorted(then, key=lambda x: x["id"])
        for i, (a, b) in enumerate(zip(now, then, strict=True)):
            assert_says(a, b, f"{where}[{i}]")
    else:
        assert now == then, f"{where}: {now!r} != {then!r}"


def test_an_unknown_schema_is_named(tmp_path):
    shutil.copytree(sample_snapshot_dir(), tmp_path / "s")
    manifest = tmp_path / "s" / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "schema_version": 9}))
    with pytest.raises(InputError, match="schema_version 9 is not supported"):
        read_snapshot(tmp_path / "s")
