"""The ``opsmeeting`` command: a thin click layer over the library, with one exception boundary.

Exit codes (README, "Exit codes"): 0 success, 1 failure, 2 bad configuration or usage,
3 degraded (report made with a data-quality banner), 4 delivery failed, 5 another run is busy.

Commands live in ``check`` (check-config), ``init`` (init), ``reports`` (run, render, demo), ``loop`` (item, notes,
wheel) and ``room`` (serve); importing them registers them on the group of ``app``.
"""

from __future__ import annotations

import sys

import click

from opsmeeting.cli import check, init, loop, reports, room
from opsmeeting.cli.app import cli, sample_snapshot_dir
from opsmeeting.errors import ExitCode, OpsMeetingError, write_crash_log

cli.add_command(loop.item)
cli.add_command(loop.notes)
cli.add_command(loop.wheel_group)

__all__ = ["check", "cli", "init", "main", "reports", "room", "sample_snapshot_dir"]


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
