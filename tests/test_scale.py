"""What keeps a 2,000-service organisation in bounded memory and a bounded PDF (issue 19): the compact
records, their JSON, the PDF's caps, the store's trimmed history. The measurements are in bench/."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, datetime, timedelta

import pytest

from opsmeeting.aggregate.scorecards import build_scorecards
from opsmeeting.cli import sample_snapshot_dir
from opsmeeting.collectors.prometheus import PrometheusFailure, Series
from opsmeeting.model import Actor, Event, HourlyCounts, Incident
from opsmeeting.model.base import FloatColumn
from opsmeeting.report.context import SUMMARY_ROWS, detail, teams_shown
from opsmeeting.report.output import read_scorecards, scorecards_json
from opsmeeting.snapshot import read_snapshot
from tests.large_org import large_snapshot

START = datetime(2026, 10, 19, 8, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_timeline_records_are_slotted_validated_and_share_repeated_ids():
    """Events, actors and incidents have no instance dictionary; they validate on construction; a
    person's id read twice is one string in memory."""
    a = Event(id="R1", kind="notified", at=START, actor=Actor(kind="human", id="".join(["PU", "1"])),
              person_id="".join(["PU", "1"]), interrupting=True, assignees=["PU2"])
    assert not hasattr(a, "__dict__") and not hasattr(a.actor, "__dict__")
    assert a.assignees == ("PU2",) and a.actor is not None and a.actor.id is a.person_id
    with pytest.raises(ValueError, match="kind"):
        Event(id="R2", kind="exploded", at=START)  # type: ignore[arg-type]
    incident = Incident(id="Q1", number=1, title="t", service_id="PS1", created_at=START, status="resolved",
                        urgency="high", events=[a])
    assert not hasattr(incident, "__dict__")
    assert dataclasses.replace(incident, title="u").events == [a]


def test_a_float_column_reads_and_writes_as_a_list_of_optional_numbers():
    counts = HourlyCounts(start=START, good=[1.0, None, 0.0, 2.5], total=(2.0, 3.0, 0.0, 2.5))
    assert isinstance(counts.good, FloatColumn) and counts.good.values.itemsize == 8
    assert counts.good == [1.0, None, 0.0, 2.5] and counts.good[1] is None and counts.good[1:3] == [None, 0.0]
    assert list(counts.total) == [2.0, 3.0, 0.0, 2.5] and sum(counts.total) == 7.5  # type: ignore[arg-type]
    text = counts.model_dump_json()
    assert json.loads(text)["good"] == [1.0, None, 0.0, 2.5]
    assert HourlyCounts.model_validate_json(text) == counts
    with pytest.raises(ValueError):
        HourlyCounts(start=START, good=["many"])  # type: ignore[list-item]


def test_a_range_series_is_keyed_by_time_like_a_dict():
    """Samples on the query's grid, a value that is not a number (None), a missing hour, a sample off
    the grid, and a second chunk added later: read as the dict of samples they are."""
    begin = START.timestamp()
    series = Series.of([[begin, "1"], [begin + 3600, "NaN"], [begin + 3 * 3600, "4.5"]], START, HOUR)
    series.add([[begin + 4 * 3600, "2"], [begin + 90, "7"]])
    as_dict = {begin: 1.0, begin + 3600: None, begin + 3 * 3600: 4.5, begin + 4 * 3600: 2.0, begin + 90: 7.0}
    for key, value in as_dict.items():
        assert key in series and series[key] == value and series.get(key, -1.0) == value
    assert begin + 2 * 3600 not in series and series.get(begin + 2 * 3600, 0.0) == 0.0
    assert begin - 3600 not in series and begin + 99 * 3600 not in series
    assert series.not_numbers == 1
    with pytest.raises(PrometheusFailure, match="sample time"):
        Series.of([["soon", "1"]], START, HOUR)
    with pytest.raises(PrometheusFailure, match="not a number"):
        Series.of([[begin, "many"]], START, HOUR)


@pytest.fixture(scope="module")
def big():
    """An organisation past every PDF cap at a small ``pdf_detail``: 300 services in 60 teams."""
    snapshot = large_snapshot(n_services=300, n_teams=60, n_incidents=1500, seed=19)
    snapshot = snapshot.model_copy(update={"setup": snapshot.setup.model_copy(update={"pdf_detail": 10})})
    return build_scorecards(snapshot)


def test_the_pdf_caps_its_lists_and_the_page_keeps_everything(big):
    ranked = sorted(big.services, key=lambda c: c.priority.rank if c.priority else 0)
    teams = sorted(big.teams, key=lambda t: (-(t.incidents.incidents_total or 0), -t.slos_missed, t.display_name))
    shown = detail(big, ranked, "print", 10)
    assert 10 <= len(shown.detailed) <= 20 and len(shown.summarised) == SUMMARY_ROWS * 10
    assert len(shown.detailed) + len(shown.summarised) + shown.summarised_more == len(big.services)
    assert shown.summarised == [c for c in ranked if c not in shown.detailed][: SUMMARY_ROWS * 10]
    printed = teams_shown(teams, "print", 10)
    assert printed[:10] == teams[:10] and len(printed) <= 20
    assert all(t.slos_missed for t in printed[10:]) and [t for t in teams if t in printed] == printed
    screen = detail(big, ranked, "screen", 10)
    assert screen.detailed == ranked and not screen.summarised and teams_shown(teams, "screen", 10) == teams


def test_the_store_keeps_what_later_rotations_read(tmp_path):
    """The history document: each service as in scorecards.json, without the per-incident attribution
    and the daily series, which no later rotation reads."""
    cards = build_scorecards(read_snapshot(sample_snapshot_dir()))
    document = cards.history_document()
    full = json.loads(scorecards_json(cards))
    services = list(document["services"])
    assert len(services) == len(full["services"]) and document["window"] == full["window"]
    assert any(s["attribution"] for c in full["services"] for s in c["slos"])
    for stored, written in zip(services, full["services"], strict=True):
        for slo in written["slos"]:
            slo.pop("attribution", None), slo.pop("daily", None)
        assert stored == written


def test_scorecards_read_back_equal_the_ones_written(tmp_path):
    cards = build_scorecards(read_snapshot(sample_snapshot_dir()))
    path = tmp_path / "scorecards.json"
    path.write_text(scorecards_json(cards), encoding="utf-8")
    again = read_scorecards(path)
    assert type(again) is type(cards) and again == cards.model_copy(update={"setup": None, "roles": {}})
    path.write_text('{"window": 3}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"scorecards\.json"):
        read_scorecards(path)


def test_memory_release_finds_glibc_here():
    from opsmeeting import memory

    memory.release()
    assert not sys.platform.startswith("linux") or memory._trim() is not None


def test_the_archive_reads_a_rotation_again_only_when_it_changed(tmp_path):
    """The archive keeps each folder's entry beside the folders; a changed scorecards.json is read again,
    a removed folder leaves the list, a damaged cache is made again."""
    from opsmeeting.report.archive import CACHE, archive_entries

    cards = build_scorecards(read_snapshot(sample_snapshot_dir()))
    for folder in ("2026-10-05_2026-10-19", "2026-10-19_2026-11-02"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "scorecards.json").write_text(scorecards_json(cards), encoding="utf-8")
    first = archive_entries(tmp_path)
    assert [e.folder for e in first] == ["2026-10-19_2026-11-02", "2026-10-05_2026-10-19"]
    assert (tmp_path / CACHE).is_file() and archive_entries(tmp_path) == first
    # a cached folder is not read again: a document no longer readable keeps its entry while unchanged
    cache = json.loads((tmp_path / CACHE).read_text())
    cache["2026-10-05_2026-10-19"]["entry"]["incidents"] = -1
    (tmp_path / CACHE).write_text(json.dumps(cache))
    assert archive_entries(tmp_path)[1].incidents == -1
    (tmp_path / "2026-10-05_2026-10-19" / "scorecards.json").write_text(scorecards_json(cards) + " ")
    assert archive_entries(tmp_path)[1].incidents == first[1].incidents  # changed: read again
    (tmp_path / CACHE).write_text("{not json")
    assert archive_entries(tmp_path) == first
    (tmp_path / "2026-10-19_2026-11-02" / "scorecards.json").unlink()
    assert [e.folder for e in archive_entries(tmp_path)] == ["2026-10-05_2026-10-19"]
    assert list(json.loads((tmp_path / CACHE).read_text())) == ["2026-10-05_2026-10-19"]
