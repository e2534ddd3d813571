"""Instants as opsmeeting writes and reads them: ISO-8601 in UTC with a ``Z`` (``2026-10-19T08:00:00Z``),
in the store, the snapshot, scorecards.json and every API request."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_z(moment: datetime) -> str:
    """``moment`` in UTC, ISO-8601 with a ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def iso_z_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else iso_z(moment)


def parse_iso(text: str) -> datetime:
    """An ISO-8601 instant (``Z`` or an offset) as an aware datetime in UTC; ValueError if it is not one
    or has no offset."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no offset")
    return moment.astimezone(UTC)
