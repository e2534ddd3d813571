"""On-call windows: half-open ``[start, end)`` intervals in UTC, shown in the rotation's time zone.

Rotations whose length is a whole number of days keep their local wall-clock start time across
daylight-saving changes (every 14 days from Monday 09:00 Europe/Lisbon stays 09:00 in Lisbon), so
such a window may last an hour more or less than 14 × 24 h. Other lengths step in absolute time.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, field_validator

from opsmeeting.errors import InputError
from opsmeeting.timefmt import iso_z

FIRST_YEAR, LAST_YEAR = 1970, 2200  # the times opsmeeting works with (anchors, --as-of, windows)


def in_bounds(moment: datetime, what: str) -> datetime:
    """``moment``, or an InputError naming ``what`` when it lies outside FIRST_YEAR–LAST_YEAR (where
    rotation arithmetic would overflow)."""
    if not FIRST_YEAR <= moment.year <= LAST_YEAR - 1:
        raise InputError(f"{what}: {moment:%Y-%m-%d} is outside the years {FIRST_YEAR}–{LAST_YEAR - 1}")
    return moment


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("window edges must carry a time zone")
    return value.astimezone(UTC)


class Window(BaseModel):
    """One on-call window. ``provisional`` marks a rotation still in progress."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: datetime
    end: datetime
    timezone: str = "UTC"
    provisional: bool = False

    @field_validator("start", "end")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return _utc(value)

    def model_post_init(self, __context: object) -> None:
        if self.end <= self.start:
            raise ValueError(f"window end {self.end.isoformat()} is not after its start {self.start.isoformat()}")

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def slug(self) -> str:
        """A file-system name for the window: ``2026-10-19_2026-11-02`` in the local zone."""
        start, end = self.local_start, self.local_end
        return f"{start:%Y-%m-%d}_{end:%Y-%m-%d}"

    @property
    def key(self) -> str:
        """The window's identity in the store: ``<start>/<end>`` in UTC, ``~provisional`` for a rotation
        still in progress (its report is not the final one)."""
        return f"{iso_z(self.start)}/{iso_z(self.end)}" + ("~provisional" if self.provisional else "")

    @property
    def folder(self) -> str:
        """The report's folder under the output directory: ``2026-10-19_2026-11-02[-provisional]``."""
        return self.slug + ("-provisional" if self.provisional else "")

    @property
    def local_start(self) -> datetime:
        return self.start.astimezone(self.tz)

    @property
    def local_end(self) -> datetime:
        return self.end.astimezone(self.tz)

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def previous(self) -> Window:
        """The window of equal length just before this one (for trends)."""
        return Window(start=self.start - self.duration, end=self.start, timezone=self.timezone)

    def days(self) -> list[tuple[datetime, datetime]]:
        """Days of the window, cut at the window's local start time; the last may be shorter or longer
        by the daylight-saving hour. Each pair is a half-open UTC interval."""
        tz = self.tz
        local = self.local_start.replace(tzinfo=None)
        edges = []
        k = 0
        while True:
            edge = _local_to_utc(local + timedelta(days=k), tz)
            if edge >= self.end:
                break
            edges.append(edge)
            k += 1
        edges.append(self.end)
        # A last sliver shorter than an hour (a DST day) is merged into the day before.
        if len(edges) > 2 and edges[-1] - edges[-2] < timedelta(hours=2):
            del edges[-2]
        return list(itertools.pairwise(edges))

    def label(self) -> str:
        """Human label in the local zone: ``Mon 19 Oct 2026 09:00 → Mon 2 Nov 2026 09:00 (Europe/Lisbon)``."""
        fmt = "%a %-d %b %Y %H:%M"
        return f"{self.local_start.strftime(fmt)} → {self.local_end.strftime(fmt)} ({self.timezone})"


def _local_to_utc(local_naive: datetime, tz: ZoneInfo) -> datetime:
    """Local wall time → UTC. In a spring-forward gap the wall time is moved forward by the gap;
    in a fall-back overlap the first occurrence is used (fold=0)."""
    aware = local_naive.replace(tzinfo=tz, fold=0)
    roundtrip = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if roundtrip != local_naive:  # non-existent wall time
        aware = local_naive.replace(tzinfo=tz, fold=1)
    return aware.astimezone(UTC)


class RotationClock:
    """Rotation boundaries from a length and a local-time anchor."""

    def __init__(self, anchor: datetime, length: timedelta, timezone: str) -> None:
        if anchor.tzinfo is not None:
            raise ValueError("anchor must be local wall time without an offset")
        self.anchor = anchor
        self.length = length
        self.timezone = timezone
        self.tz = ZoneInfo(timezone)
        self._calendar = length.total_seconds() % 86400 == 0

    def boundary(self, k: int) -> datetime:
        """The k-th rotation start (k may be negative), in UTC."""
        if self._calendar:
            return _local_to_utc(self.anchor + k * self.length, self.tz)
        return _local_to_utc(self.anchor, self.tz) + k * self.length

    def index_at(self, moment: datetime) -> int:
        """The index k of the rotation that contains ``moment``: boundary(k) <= moment < boundary(k+1)."""
        moment = _utc(moment)
        base = _local_to_utc(self.anchor, self.tz)
        k = int((moment - base) / self.length)
        while self.boundary(k) > moment:
            k -= 1
        while self.boundary(k + 1) <= moment:
            k += 1
        return k

    def window(self, k: int, *, provisional: bool = False) -> Window:
        return Window(start=self.boundary(k), end=self.boundary(k + 1), timezone=self.timezone, provisional=provisional)

    def last_completed(self, now: datetime, grace: timedelta = timedelta(0)) -> Window:
        """The last rotation that ended at least ``grace`` before ``now``."""
        return self.window(self.index_at(_utc(now) - grace) - 1)

    def current(self, now: datetime) -> Window:
        """The rotation in progress at ``now``, marked provisional."""
        return self.window(self.index_at(now), provisional=True)


def parse_window(text: str, timezone: str) -> Window:
    """``START/END`` in ISO-8601; edges without an offset are read in ``timezone``."""
    if "/" not in text:
        raise InputError(f"--window {text!r}: expected START/END, e.g. 2026-10-19T09:00/2026-11-02T09:00")
    raw_start, raw_end = text.split("/", 1)
    tz = ZoneInfo(timezone)
    edges = []
    for name, raw in (("START", raw_start), ("END", raw_end)):
        try:
            value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"--window {text!r}: {name} {raw!r} is not an ISO-8601 date or time") from None
        in_bounds(value, f"--window {text!r}: {name}")
        edges.append(_local_to_utc(value, tz) if value.tzinfo is None else value.astimezone(UTC))
    if edges[1] <= edges[0]:
        raise InputError(f"--window {text!r}: END must be after START")
    return Window(start=edges[0], end=edges[1], timezone=timezone)
