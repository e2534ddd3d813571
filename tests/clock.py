"""The tests' clock. ``tests/conftest.py`` pins the whole session at ``PINNED_NOW`` (time-machine,
ticking from there), so ``session_now()`` is that instant plus the seconds the session has run,
whatever day the suite runs on."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

PINNED_NOW = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)  # the day after the test rotations' last window ends

session_now = functools.partial(datetime.now, UTC)  # noqa: clock (pinned by conftest.py: the module docstring)
