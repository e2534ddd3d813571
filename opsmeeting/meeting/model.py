"""The meeting loop as a report shows it, beside the scorecards (not inside them): action items and
the parking lot, teams' on-call notes, the Ops Wheel."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from opsmeeting.model import Frozen

if TYPE_CHECKING:
    from opsmeeting.meeting.wheel import WheelRow


class Item(Frozen):
    id: int
    kind: Literal["action", "parking_lot"]
    team: str
    owner: str | None
    due: date | None
    text: str
    link: str | None
    status: Literal["open", "done"]
    while_listening_to: str | None  # a parking-lot item raised while another team presented
    created_at: datetime
    closed_at: datetime | None


class ItemsView(Frozen):
    open: list[Item]
    closed_since_last: list[Item]
    past_due: list[Item]
    as_of: datetime
    past_due_at_last_meeting: int | None = None  # how many were past due at ``since`` (None: not known)


class TeamNote(Frozen):
    team: str
    html: str | None  # sanitised HTML from the team's Markdown; None when the team wrote nothing


@dataclass(frozen=True)
class WheelView:
    """What the page's wheel reads (``ctx.meeting.wheel``)."""

    participants: list[WheelRow]
    record_url: str | None
    csrf_token: str | None
    command: str
    # where presentation mode puts the wheel's slide: "first" (after the summary), "after-<section id>"
    # (incidents, observability, planning, improvement, handoff) or "last"
    slide_position: str = "first"


@dataclass(frozen=True)
class MeetingView:
    """Everything of the meeting loop a report shows. ``items`` is None when the report was made without
    the state store (``opsmeeting render``)."""

    items: ItemsView | None = None
    notes: list[TeamNote] = field(default_factory=list)
    wheel: WheelView | None = None

    def document(self) -> dict[str, object]:
        """The meeting loop's part of scorecards.json (``items``, ``notes``)."""
        return {"items": self.items.model_dump(mode="json") if self.items else None,
                "notes": [n.model_dump(mode="json") for n in self.notes]}
