"""Durations as SRE configuration writes them: ``14d``, ``2h``, ``90m``, ``1w``, ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)(w|d|h|m|s)")
LONGEST = timedelta(days=3650)  # no duration opsmeeting reads is longer than ten years


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse a Prometheus-style duration (``14d``, ``1h30m``) or a number of seconds."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"duration must not be negative: {text!r}")
        return _bounded(text, text)
    value = text.strip()
    if not value:
        raise ValueError("empty duration")
    pos, seconds = 0, 0
    for match in _PART.finditer(value):
        if match.start() != pos:
            break
        seconds += int(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(value):
        raise ValueError(f"not a duration: {text!r} (use forms like 14d, 2h, 90m, 1h30m)")
    return _bounded(seconds, text)


def _bounded(seconds: float, text: object) -> timedelta:
    if not seconds <= LONGEST.total_seconds():  # also NaN
        raise ValueError(f"duration {text!r} is longer than ten years")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest Prometheus duration for ``delta`` (``1209600s`` → ``2w``; ``14d1h`` stays exact)."""
    seconds = int(delta.total_seconds())
    if seconds != delta.total_seconds():
        raise ValueError(f"duration has sub-second precision: {delta}")
    if seconds == 0:
        return "0s"
    parts = []
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size:
            count, seconds = divmod(seconds, size)
            parts.append(f"{count}{unit}")
    return "".join(parts)
