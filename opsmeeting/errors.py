"""Exceptions and the documented exit codes: one exception boundary in the CLI maps them."""

from __future__ import annotations

import os
import tempfile
import traceback
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Exit codes of every `opsmeeting` command (documented in the README)."""

    OK = 0
    FAILURE = 1  # the run could not produce a report
    USAGE = 2  # bad configuration, bad arguments, bad input files
    DEGRADED = 3  # a report was produced, but a source failed or was partial (banner shown)
    DELIVERY_FAILED = 4  # the report was written but the email could not be sent
    BUSY = 5  # another run holds the lock for this window


class OpsMeetingError(Exception):
    """Base class: an error with a message meant for the user."""

    exit_code: ExitCode = ExitCode.FAILURE


class ConfigError(OpsMeetingError):
    """The configuration (or another input file) is invalid; lists every problem at once."""

    exit_code = ExitCode.USAGE

    def __init__(self, origin: str, problems: list[str]) -> None:
        self.origin = origin
        self.problems = problems
        super().__init__(f"{origin}: {len(problems)} problem(s):\n" + "\n".join(f"  {p}" for p in problems))


class InputError(OpsMeetingError):
    """An input (snapshot, option value) is missing or malformed."""

    exit_code = ExitCode.USAGE


class CollectorError(OpsMeetingError):
    """A source failed after its bounded retries. The run goes on without it."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        self.message = message  # without the source's name
        super().__init__(f"{source}: {message}")


class StoreError(OpsMeetingError):
    """The state store is missing, locked or corrupt."""


def write_crash_log(exc: BaseException, argv: list[str] | None = None) -> Path:
    """Write ``exc``'s traceback to ``opsmeeting-crash-<UTC time>-<pid>.log`` in ``$OPSMEETING_CRASH_DIR``
    (default: the temporary directory), never to the terminal (cron mails and logs get one line), and
    return the path. Command arguments are recorded but no environment: secrets live there."""
    moment = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = Path(os.environ.get("OPSMEETING_CRASH_DIR") or tempfile.gettempdir())
    path = folder / f"opsmeeting-crash-{moment}-{os.getpid()}.log"
    text = "".join(traceback.format_exception(exc))
    header = f"opsmeeting crashed at {moment}\narguments: {argv!r}\n\n"
    path.write_text(header + text, encoding="utf-8")
    return path
