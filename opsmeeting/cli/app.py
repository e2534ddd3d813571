"""The ``opsmeeting`` command group and what its commands share: the ``--config`` option, times from
the command line, the step logger, the printed file list. Nothing here imports the data stages, so
``opsmeeting --help`` and the meeting-room commands start at once."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import click

from opsmeeting import __version__
from opsmeeting.errors import InputError
from opsmeeting.window import in_bounds

if TYPE_CHECKING:
    from opsmeeting.report.output import ReportFiles

config_option = click.option(
    "--config", "-c", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    envvar="OPSMEETING_CONFIG", required=True, help="Configuration file (or $OPSMEETING_CONFIG).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="opsmeeting")
def cli() -> None:
    """opsmeeting: the Ops Meeting pre-read (PDF), the projected page (HTML) and scorecards,
    from PagerDuty incidents and Prometheus SLOs over an on-call rotation."""


def sample_snapshot_dir() -> Path:
    return Path(str(resources.files("opsmeeting") / "sample" / "snapshot"))


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


def print_files(files: ReportFiles) -> None:
    click.echo(f"report.html      {files.html.resolve()}")
    if files.pdf:
        click.echo(f"report.pdf       {files.pdf.resolve()}")
    click.echo(f"scorecards.json  {files.json.resolve()}")
    click.echo(f"scorecards.csv   {files.csv.resolve()}")
    if files.teams_csv is not None:
        click.echo(f"teams.csv        {files.teams_csv.resolve()}")
