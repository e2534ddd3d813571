"""The ``opsmeeting`` command: a thin click layer over the library, with one exception boundary.

Exit codes (README, "Exit codes"): 0 success, 1 failure, 2 bad configuration or usage,
3 degraded (report made with a data-quality banner), 4 delivery failed, 5 another run is busy.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import click

from opsmeeting import __version__
from opsmeeting.aggregate.model import Item, TeamNote
from opsmeeting.aggregate.scorecards import build_scorecards
from opsmeeting.cli.loop import config_option, item, notes, wheel_group
from opsmeeting.collectors.prometheus import PrometheusCollector, PrometheusFailure, check_queries
from opsmeeting.config import Config, load_config
from opsmeeting.config.slo_import import load_slos
from opsmeeting.errors import ExitCode, InputError, OpsMeetingError, write_crash_log
from opsmeeting.meeting.items import items_view
from opsmeeting.meeting.notes import render_markdown
from opsmeeting.meeting.wheel_store import fresh_view
from opsmeeting.model import Snapshot
from opsmeeting.pipeline import configured_sources, exit_code_for
from opsmeeting.report.output import ReportFiles, write_report
from opsmeeting.report.render import render_report
from opsmeeting.runner import Runner
from opsmeeting.snapshot import read_snapshot, write_snapshot
from opsmeeting.window import Window, in_bounds, parse_window

CONFIG_OPTION = config_option  # one definition, shared with the meeting-loop commands


def sample_snapshot_dir() -> Path:
    return Path(str(resources.files("opsmeeting") / "sample" / "snapshot"))


def make_report(snapshot: Snapshot, out: Path, *, pdf: bool = True, templates_dir: Path | None = None,
                echo: bool = True, meeting: dict[str, Any] | None = None) -> tuple[ReportFiles, ExitCode]:
    """Aggregate and render ``snapshot`` into ``out``; print one line per step. The exit code is 3 when a
    source was missing or an item could not be aggregated or rendered."""
    t0 = time.perf_counter()
    cards = build_scorecards(snapshot)
    if meeting:
        cards = cards.model_copy(update=meeting)
    aggregate_s = time.perf_counter() - t0
    wheel = fresh_view(snapshot.setup, snapshot.generated_at)
    rendered = render_report(snapshot, cards, templates_dir=templates_dir, pdf=pdf, wheel=wheel)
    cards = cards.model_copy(update={"item_errors": [*cards.item_errors, *rendered.item_errors]})
    files = write_report(out, cards, rendered)
    if echo:
        timings = " · ".join(f"{k} {v:.2f} s" for k, v in {"aggregation": aggregate_s, **rendered.timings}.items())
        click.echo(f"rendered {len(cards.services)} service scorecards ({timings})", err=True)
    return files, exit_code_for(snapshot, cards)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="opsmeeting")
def cli() -> None:
    """opsmeeting: the Ops Meeting pre-read (PDF), the projected page (HTML) and scorecards,
    from PagerDuty incidents and Prometheus SLOs over an on-call rotation."""


@cli.command("check-config")
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--offline", is_flag=True, help="Do not ask Prometheus to validate the SLO queries.")
@click.option("--as-of", "as_of", metavar="TIME",
              help="Check as if the time were TIME (ISO-8601 with an offset): it picks the rotations shown and the "
              "one whose data are checked.")
def check_config(config_file: Path, offline: bool, as_of: str | None) -> None:
    """Validate CONFIG_FILE and print a short summary. Exit 2 listing every problem if invalid.

    With a Prometheus source (and without --offline), every SLO query is also validated by the
    server (/api/v1/format_query) and services with no data in the last rotation are listed.
    Exit 2 when a query is invalid, 1 when Prometheus cannot be reached.
    """
    config = load_config(config_file)
    now = parse_moment(as_of) if as_of else datetime.now(UTC)
    slos = load_slos(config)
    click.echo(summary(config, now))
    if offline or config.sources.prometheus is None or not slos:
        return
    window = config.rotation.clock().last_completed(
        now, config.rotation.grace)
    collector = PrometheusCollector(config.sources.prometheus, slos, config.services)
    try:
        report = check_queries(collector, window)
    except PrometheusFailure as exc:
        click.echo(f"Prometheus at {config.sources.prometheus.url}: {exc.message} "
                   "(use --offline to check the file alone)", err=True)
        sys.exit(ExitCode.FAILURE)
    click.echo(f"Prometheus {report.version or '(version unknown)'} at {config.sources.prometheus.url}:")
    for line in report.ok:
        click.echo(f"  {line}")
    for line in report.no_data:
        click.echo(f"  warning: {line}")
    if report.invalid:
        for line in report.invalid:
            click.echo(f"  error: {line}", err=True)
        sys.exit(ExitCode.USAGE)


def summary(config: Config, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    rot = config.rotation
    clock = rot.clock()
    last = clock.last_completed(now, rot.grace)
    current = clock.current(now)
    lines = [
        "configuration OK",
        f"rotation: every {_human(rot.length)} from {rot.anchor:%a %Y-%m-%d %H:%M} {rot.timezone}",
        f"  last completed: {last.label()}",
        f"  in progress:    {current.label()}",
        f"teams: {len(config.teams)} ({', '.join(t.name for t in config.teams)})",
        f"services: {len(config.services)}",
        f"SLOs: {len(config.slos)} ({', '.join(s.name for s in config.slos) or 'none'})"
        + (f", plus {len(config.slo_imports)} import file(s)" if config.slo_imports else ""),
    ]
    pd_src = config.sources.pagerduty
    if pd_src:
        state = "set" if os.environ.get(pd_src.token_env) else "NOT set"
        lines.append(f"PagerDuty: {pd_src.url} (token from ${pd_src.token_env}: {state})")
    else:
        lines.append("PagerDuty: not configured")
    prom = config.sources.prometheus
    lines.append(f"Prometheus: {prom.url}" if prom else "Prometheus: not configured")
    if prom and not (config.slos or config.slo_imports):
        lines.append("warning: sources.prometheus is set but no SLO is defined (slos, slo_imports): it is not read")
    if not configured_sources(config):
        lines.append("warning: no source is configured (sources.pagerduty, sources.prometheus with SLOs): "
                     "`opsmeeting run` has nothing to collect and refuses to run")
    lines.append(f"output: {config.output.directory} ({config.output.page_size})")
    lines.append(f"state: {config.state.path}")
    if config.email:
        lines.append(f"email: {len(config.email.recipients)} recipient(s) via {config.email.smtp_host}:"
                     f"{config.email.smtp_port} ({config.email.security})")
    else:
        lines.append("email: not configured")
    return "\n".join(lines)


def _human(delta: timedelta) -> str:
    if delta.total_seconds() % 86400 == 0:
        days = int(delta.total_seconds() // 86400)
        return f"{days} days" if days != 1 else "day"
    return f"{delta.total_seconds() / 3600:g} hours"


@cli.command("run")
@CONFIG_OPTION
@click.option("--window", "window_text", metavar="START/END",
              help="Any past window, ISO-8601; edges without an offset are in the rotation's zone.")
@click.option("--as-of", "as_of", metavar="TIME", help="Run as if the time were TIME (ISO-8601 with an offset).")
@click.option("--provisional", is_flag=True,
              help="Report on the rotation still in progress: marked as such, never emailed, not kept as history.")
@click.option("--force", is_flag=True, help="Collect, render and email again a window already delivered.")
@click.option("--no-pdf", is_flag=True, help="Skip the PDF (and so the email).")
def run(config_path: Path, window_text: str | None, as_of: str | None, provisional: bool, force: bool,
        no_pdf: bool) -> None:
    """Collect the last completed rotation (or --window), render it and email it, exactly once.

    Writes OUTPUT/<window>/ with report.html, report.pdf, scorecards.json, scorecards.csv and
    snapshot/, and OUTPUT/index.html, the archive of every rotation. A window already delivered is
    skipped unless --force; a crashed run resumes from its snapshot; a failed email is retried by the
    next run. Exit codes: 0 delivered, 3 delivered with a data-quality banner (a source failed),
    4 written but not emailed, 5 another run holds this window, 2 bad configuration, 1 failure.
    """
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


def step_logger() -> tuple[Callable[[str], None], Callable[[str], AbstractContextManager[object]]]:
    """One line per step on stderr with a UTC timestamp (cron mail, journald); in a terminal, the
    same lines through rich with a live status spinner."""
    if sys.stderr.isatty():
        from rich.console import Console

        console = Console(stderr=True, highlight=False, log_path=False)

        def pretty(line: str) -> None:
            console.log(line)

        return pretty, lambda text: console.status(text)

    def plain(line: str) -> None:
        click.echo(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} opsmeeting: {line}", err=True)

    return plain, lambda text: nullcontext()


def parse_moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--as-of {text!r}: not an ISO-8601 time such as 2026-11-02T10:00Z") from None
    if moment.tzinfo is None:
        raise InputError(f"--as-of {text!r}: give an offset or Z, e.g. 2026-11-02T10:00Z")
    return in_bounds(moment, f"--as-of {text!r}").astimezone(UTC)


def choose_window(config: Config, now: datetime, window_text: str | None, provisional: bool) -> Window:
    rot = config.rotation
    if window_text and provisional:
        raise InputError("--window and --provisional do not go together")
    if window_text:
        return parse_window(window_text, rot.timezone)
    clock = rot.clock()
    return clock.current(now) if provisional else clock.last_completed(now, rot.grace)


@cli.command("render")
@click.option("--snapshot", "snapshot_dir", required=True,
              type=click.Path(file_okay=False, exists=True, path_type=Path), help="A snapshot directory.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where to write report.html, report.pdf, scorecards.json and scorecards.csv.")
@click.option("--templates", "templates_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="A folder of templates overriding the built-in ones.")
@click.option("--no-pdf", is_flag=True, help="Skip the PDF (faster).")
def render(snapshot_dir: Path, out_dir: Path, templates_dir: Path | None, no_pdf: bool) -> None:
    """Re-render a report from a snapshot directory, with no network.

    Exits 3 when the snapshot records a failed or degraded source, or an item could not be aggregated or
    rendered (the report carries a banner).
    """
    snapshot = read_snapshot(snapshot_dir)
    files, code = make_report(snapshot, out_dir, pdf=not no_pdf, templates_dir=templates_dir)
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
    snapshot = read_snapshot(sample_snapshot_dir())
    write_snapshot(snapshot, out_dir / "snapshot")
    files, code = make_report(snapshot, out_dir, pdf=not no_pdf, meeting=sample_meeting(snapshot))
    print_files(files)
    sys.exit(code)


def sample_meeting(snapshot: Snapshot) -> dict[str, Any]:
    """The sample's meeting loop (items, notes) as a report made with a store would show it."""
    data = json.loads((sample_snapshot_dir().parent / "meeting.json").read_text(encoding="utf-8"))
    items = [Item.model_validate(row) for row in data["items"]]
    return {
        "items": items_view(items, since=snapshot.window.start, now=snapshot.generated_at),
        "notes": [TeamNote(team=t.name, html=render_markdown(data["notes"][t.name]) if t.name in data["notes"]
                           else None) for t in snapshot.setup.teams],
    }


def print_files(files: ReportFiles) -> None:
    click.echo(f"report.html      {files.html.resolve()}")
    if files.pdf:
        click.echo(f"report.pdf       {files.pdf.resolve()}")
    click.echo(f"scorecards.json  {files.json.resolve()}")
    click.echo(f"scorecards.csv   {files.csv.resolve()}")


cli.add_command(item)
cli.add_command(notes)
cli.add_command(wheel_group)


@cli.command("serve")
@CONFIG_OPTION
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--allow-public", is_flag=True, help="Allow a non-loopback --host (the meeting room's network).")
@click.option("--public-host", "public_hosts", multiple=True, metavar="NAME[:PORT]",
              help="With --allow-public: a name (or address) the room's browsers type, e.g. ops-room.example.com; "
                   "repeatable. Needed with --host 0.0.0.0 or ::, which otherwise answers only this machine.")
def serve(config_path: Path, host: str, port: int, allow_public: bool, public_hosts: tuple[str, ...]) -> None:
    """Serve the report archive for the meeting room: the wheel records its picks, and attendees
    add parking-lot items from the page. Binds to 127.0.0.1 unless told otherwise; writes need
    this server's CSRF token, a Host naming the server (127.0.0.1, localhost, [::1] or a
    --public-host) and, when sent, a matching Origin."""
    from opsmeeting.serve import describe, make_server

    config = load_config(config_path)
    server = make_server(config, host, port, allow_public=allow_public, public_hosts=public_hosts)
    click.echo(describe(server), err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    """Entry point: maps every error to a documented exit code and a one-paragraph message."""
    try:
        cli.main(args=argv, prog_name="opsmeeting", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(ExitCode.FAILURE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ExitCode.USAGE)
    except OpsMeetingError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(ExitCode.FAILURE)
    except Exception as exc:  # the one boundary: a bug gets one line and a crash log, never a traceback
        try:
            where = f"the traceback is in {write_crash_log(exc, argv if argv is not None else sys.argv[1:])}"
        except OSError as log_error:
            where = f"no crash log could be written ({log_error.strerror or log_error})"
        click.echo(f"error: unexpected {type(exc).__name__}: {str(exc)[:300]} ({where}; please report it)",
                   err=True)
        sys.exit(ExitCode.FAILURE)
    sys.exit(ExitCode.OK)
