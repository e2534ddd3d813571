"""The meeting loop: items and notes recorded between meetings appear in the next pre-read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from opsmeeting.cli import main
from opsmeeting.meeting.notes import render_markdown
from tests.accounts import quiet_account
from tests.clock import PINNED_NOW, session_now


@pytest.fixture
def sources() -> Iterator[dict]:
    with quiet_account() as section:
        yield section


def config(tmp_path: Path, sources: dict) -> Path:
    data = {
        "rotation": {"length": "14d", "anchor": "2026-01-12T09:00:00", "timezone": "Europe/Lisbon"},
        "teams": [{"name": "payments"}, {"name": "platform"}, {"name": "search"}],
        "services": [{"name": "checkout", "team": "payments", "pagerduty_service_ids": ["PS1"]}],
        "sources": sources,
        "output": {"directory": "reports"},
        "state": {"path": "state.sqlite"},
        "notes": {"directory": "notes"},
        "wheel": {"slide_position": "after-planning"},
    }
    path = tmp_path / "opsmeeting.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err


def test_items_and_notes_reach_the_next_pre_read(tmp_path, capsys, sources):
    cfg = str(config(tmp_path, sources))
    yesterday = (PINNED_NOW - timedelta(days=1)).strftime("%Y-%m-%d")
    assert cli(["item", "add", "-c", cfg, "--team", "payments", "--owner", "ana", "--due", yesterday,
                "Add a runbook for PSP timeouts"], capsys)[0] == 0
    code, out, _ = cli(["item", "add", "-c", cfg, "--kind", "parking_lot", "--team", "search",
                        "--while-listening-to", "payments", "Do we also retry PSP calls?"], capsys)
    assert code == 0 and out.startswith("#2 parking lot for search")
    assert cli(["item", "add", "-c", cfg, "--team", "platform", "Rotate the TLS certificate"], capsys)[0] == 0
    assert cli(["item", "done", "-c", cfg, "3"], capsys)[0] == 0
    code, _, err = cli(["item", "done", "-c", cfg, "3"], capsys)
    assert code == 2 and "already done" in err
    code, out, _ = cli(["item", "list", "-c", cfg], capsys)
    assert "PAST DUE" in out and "#3" not in out
    code, _, err = cli(["item", "add", "-c", cfg, "--team", "nobody", "x"], capsys)
    assert code == 2 and "not a configured team" in err

    now = session_now()
    window_dir = tmp_path / "notes"
    code, _, err = cli(["run", "-c", cfg, "--as-of", now.isoformat(), "--no-pdf"], capsys)
    assert code == 0, err
    report = next((tmp_path / "reports").glob("*/report.html"))
    slug = report.parent.name
    (window_dir / slug).mkdir(parents=True)
    (window_dir / slug / "payments.md").write_text(
        "# Our week\n\n- PSP outage on **Tuesday**, see [the doc](https://wiki.example.com/psp)\n"
        "- <script>alert(1)</script> [bad](javascript:alert(2)) <img src=x onerror=alert(3)>\n")
    code, _, err = cli(["run", "-c", cfg, "--as-of", now.isoformat(), "--no-pdf", "--force"], capsys)
    assert code == 0, err
    html = report.read_text()
    section = html[html.index('id="improvement"'):html.index('id="appendix"')]
    assert "Add a runbook for PSP timeouts" in section and "Past due:" in section
    assert "raised while payments presented" in section
    assert "Closed since the last meeting" in section and "Rotate the TLS certificate" in section
    assert "<strong>Tuesday</strong>" in section and 'href="https://wiki.example.com/psp"' in section
    # raw HTML in a note is shown as text, never run; unsafe links are not made
    assert "<script>alert(1)" not in section and "&lt;script&gt;alert(1)" in section
    assert 'href="javascript:' not in section and "<img" not in section
    assert "platform, search: any team may be picked" in section
    # presentation mode: the wheel where the configuration puts it; the team focus carries the team's items
    assert 'id="wheel" aria-labelledby="h-wheel" data-slide-position="after-planning"' in html
    focus = html[html.index('class="team-focus" data-team="payments"'):]
    focus = focus[:focus.index("</section>")]
    assert "Add a runbook for PSP timeouts" in focus and "<strong>Tuesday</strong>" in focus
    assert "Do we also retry PSP calls?" in focus  # raised while payments presented


def test_markdown_is_sanitised():
    html = render_markdown('# Title\n\n<b onclick="x()">hi</b> [a](javascript:x) ![i](http://169.254.169.254/)')
    assert "<h3>Title</h3>" in html
    assert "<b onclick" not in html and "&lt;b onclick" in html  # shown as text
    assert 'href="javascript' not in html and "<img" not in html
