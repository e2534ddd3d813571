"""``opsmeeting run``, ``render`` and ``demo``: reports made through the one pipeline. The data stages
(pandas, matplotlib, WeasyPrint) are imported when a command runs, not when the CLI starts."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from opsmeeting.cli.app import cli, config_option, parse_moment, print_files, sample_snapshot_dir, step_logger
from opsmeeting.cli.check import configured_sources
from opsmeeting.config import Config, load_config
from opsmeeting.errors import ExitCode, InputError
from opsmeeting.window import Window, parse_window

if TYPE_CHECKING:
    from opsmeeting.meeting.model import MeetingView
    from opsmeeting.model import Snapshot
    from opsmeeting.report.output import ReportFiles


@cli.command("run")
@config_option
@click.option("--window", "window_text", metavar="START/END",
              help="Any past window, ISO-8601; edges without an offset are in the rotation's zone.")
@click.option("--as-of", "as_of", metavar="TIME", help="Run as if the time were TIME (ISO-8601 with an offset).")
@click.option("--provisional", is_flag=True,
              help="Report on the rotation still in progress: marked as such, never emailed, not kept as history.")
@click.option("--force", is_flag=True, help="Collect, render and email again a window already delivered.")
@click.option("--no-pdf", is_flag=True, help="Skip the PDF; the email and chat posts wait for a run that makes it.")
def run(config_path: Path, window_text: str | None, as_of: str | None, provisional: bool, force: bool,
        no_pdf: bool) -> None:
    """Collect the last completed rotation (or --window), render it and email it, exactly once.

    Writes OUTPUT/<window>/ with report.html, report.pdf, scorecards.json, scorecards.csv, teams.csv and
    snapshot/, and OUTPUT/index.html, the archive of every rotation. A window already delivered is
    skipped unless --force; a crashed run resumes from its snapshot; a failed email is retried by the
    next run. Exit codes: 0 delivered, 3 delivered with a data-quality banner (a source failed),
    4 written but not emailed, 5 another run holds this window, 2 bad configuration, 1 failure.
    """
    from opsmeeting.runner import Runner

    config = load_config(config_path)
    if not configured_sources(config):
        raise InputError(f"{config_path}: nothing to collect: configure sources.pagerduty, or sources.prometheus "
                         "with SLOs (`opsmeeting check-config` says what is set)")
    now = parse_moment(as_of) if as_of else datetime.now(UTC)
    window = choose_window(config, now, window_text, provisional)
    log, progress = step_logger()
    log(f"window {window.label()}{' (provisional)' if window.provisional else ''}")
    runner = Runner(config, now=(lambda: now) if as_of else (lambda: datetime.now(UTC)), log=log, pdf=not no_pdf,
                    config_path=config_path.resolve())
    with progress("collecting, rendering and delivering…"):
        result = runner.run(window, force=force)
    if result.files:
        print_files(result.files)
    log(result.message)
    sys.exit(result.exit_code)


def choose_window(config: Config, now: datetime, window_text: str | None, provisional: bool) -> Window:
    rot = config.rotation
    if window_text and provisional:
        raise InputError("--window and --provisional do not go together")
    if window_text:
        return parse_window(window_text, rot.timezone)
    clock = rot.clock()
    return clock.current(now) if provisional else clock.last_completed(now, rot.grace)


def report_from_snapshot(snapshot: Snapshot, out: Path, *, pdf: bool = True, templates_dir: Path | None = None,
                         meeting: MeetingView | None = None) -> tuple[ReportFiles, ExitCode]:
    """The report of ``snapshot`` into ``out``, without the store (the wheel as if it had no history),
    through the one pipeline; print one line with the stages' times."""
    from opsmeeting.meeting.model import MeetingView
    from opsmeeting.meeting.wheel_store import fresh_view
    from opsmeeting.pipeline import make_report

    base = meeting or MeetingView()

    def meeting_for(cards: object) -> MeetingView:
        return MeetingView(items=base.items, notes=base.notes, wheel=fresh_view(snapshot.setup, snapshot.generated_at))

    report = make_report(snapshot, out, meeting_for, templates_dir=templates_dir, pdf=pdf)
    timings = " · ".join(f"{k} {v:.2f} s" for k, v in report.timings.items())
    click.echo(f"rendered {len(report.cards.services)} service scorecards ({timings})", err=True)
    return report.files, report.exit_code


@cli.command("render")
@click.option("--snapshot", "snapshot_dir", required=True,
              type=click.Path(file_okay=False, exists=True, path_type=Path), help="A snapshot directory.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where to write report.html, report.pdf, scorecards.json, scorecards.csv and teams.csv.")
@click.option("--templates", "templates_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="A folder of templates overriding the built-in ones.")
@click.option("--no-pdf", is_flag=True, help="Skip the PDF (faster).")
def render(snapshot_dir: Path, out_dir: Path, templates_dir: Path | None, no_pdf: bool) -> None:
    """Re-render a report from a snapshot directory, with no network.

    Exits 3 when the snapshot records a failed or degraded source, or an item could not be aggregated or
    rendered (the report carries a banner).
    """
    from opsmeeting.snapshot import read_snapshot

    snapshot = read_snapshot(snapshot_dir)
    files, code = report_from_snapshot(snapshot, out_dir, pdf=not no_pdf, templates_dir=templates_dir)
    print_files(files)
    sys.exit(code)


@cli.command("demo")
@click.option("--out", "out_dir", default=Path("demo-report"), show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Where to write the demo report.")
@click.option("--no-pdf", is_flag=True, help="Skip the PDF (faster).")
def demo(out_dir: Path, no_pdf: bool) -> None:
    """Write a complete report from the bundled sample rotation (12 services, 4 teams, ~300 incidents).

    Needs no PagerDuty and no Prometheus. The sample's raw data is copied to OUT/snapshot.
    """
    from opsmeeting.snapshot import read_snapshot, write_snapshot

    snapshot = read_snapshot(sample_snapshot_dir())
    write_snapshot(snapshot, out_dir / "snapshot")
    files, code = report_from_snapshot(snapshot, out_dir, pdf=not no_pdf, meeting=sample_meeting(snapshot))
    print_files(files)
    sys.exit(code)


def sample_meeting(snapshot: Snapshot) -> MeetingView:
    """The sample's meeting loop (items, notes) as a report made with a store would show it."""
    from opsmeeting.meeting.items import items_view
    from opsmeeting.meeting.model import Item, MeetingView, TeamNote
    from opsmeeting.meeting.notes import render_markdown

    data = json.loads((sample_snapshot_dir().parent / "meeting.json").read_text(encoding="utf-8"))
    items = [Item.model_validate(row) for row in data["items"]]
    return MeetingView(
        items=items_view(items, since=snapshot.window.start, now=snapshot.generated_at),
        notes=[TeamNote(team=t.name, html=render_markdown(data["notes"][t.name]) if t.name in data["notes"]
                        else None) for t in snapshot.setup.teams],
    )
