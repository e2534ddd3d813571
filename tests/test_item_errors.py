"""An unexpected error in one service or one SLO degrades that item (banner, exit 3), never the run.

The errors are simulated by making one function of the product raise for one item, as a bug that
only some data trigger would: the point is what the run does with it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opsmeeting.aggregate import slo
from opsmeeting.aggregate.scorecards import build_scorecards
from opsmeeting.cli import main, sample_snapshot_dir
from opsmeeting.report import formats
from opsmeeting.snapshot import read_snapshot


def render_sample(tmp_path: Path, capsys) -> tuple[int, dict, str, str]:
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        main(["render", "--snapshot", str(sample_snapshot_dir()), "--out", str(out), "--no-pdf"])
    err = capsys.readouterr().err
    data = json.loads((out / "scorecards.json").read_text(encoding="utf-8"))
    return int(info.value.code or 0), data, (out / "report.html").read_text(encoding="utf-8"), err


def test_an_slo_that_cannot_be_aggregated_is_an_error_not_the_end(tmp_path, capsys, monkeypatch):
    original = slo.attribute_budget

    def breaks_for_ledger(card, *args):
        if (card.service, card.name) == ("ledger", "availability"):
            raise ZeroDivisionError("simulated bug")
        return original(card, *args)

    monkeypatch.setattr(slo, "attribute_budget", breaks_for_ledger)
    code, data, html, err = render_sample(tmp_path, capsys)
    assert code == 3, err
    assert "Traceback" not in err
    ledger = next(s for s in data["services"] if s["service"] == "ledger")
    broken = next(s for s in ledger["slos"] if s["name"] == "availability")
    assert broken["status"] == "error" and broken["sli"] is None and "ZeroDivisionError" in broken["reason"]
    assert data["item_errors"] == [{"item": "ledger · SLO availability", "stage": "aggregation",
                                    "error": "ZeroDivisionError: simulated bug"}]
    checkout = next(s for s in data["services"] if s["service"] == "checkout")
    assert all(s["status"] == "ok" for s in checkout["slos"])  # the others are untouched
    assert "Not computed, because of an unexpected error: ledger · SLO availability" in html


def test_a_service_that_cannot_be_rendered_is_left_out_with_a_note(tmp_path, capsys, monkeypatch):
    original = formats.fmt_sli
    cards = build_scorecards(read_snapshot(sample_snapshot_dir()))
    poison = next(s.sli for c in cards.services if c.service == "checkout" for s in c.slos if s.name == "latency")

    def breaks_for_one_value(value):
        if value == poison:
            raise ValueError("simulated template bug")
        return original(value)

    monkeypatch.setattr(formats, "fmt_sli", breaks_for_one_value)
    code, data, html, err = render_sample(tmp_path, capsys)
    assert code == 3, err
    failed = {e["item"] for e in data["item_errors"]}
    assert failed == {"the SLOs of checkout", "service checkout"}, failed  # its table rows and its scorecard
    assert all(e["stage"] == "rendering" for e in data["item_errors"])
    assert "Left out by an error while rendering: " in html
    assert "The SLOs of checkout could not be shown (ValueError)" in html
    assert "<td>availability</td>" in html  # the other services' rows are there
