"""Problem review: incidents of one service that share a cause, found by incident key or title.

Incidents of a service whose raw incident key repeats (an alert's dedup key coming back) are one
problem per key. The others, whose keys are unique per incident (``checkout-api/000030``) or
absent, are grouped by their normalised title: lower-cased, with UUIDs, hex ids, IP addresses,
host names and numbers replaced by placeholders, so "Disk 91% full on web-12.prod" and
"Disk 97% full on web-3.prod" are one problem. A key is never normalised: two different keys
are two different alerts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, cast

import pandas as pd

from opsmeeting.aggregate.model import Problem

_SCRUBS: tuple[tuple[str, str], ...] = (
    (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>"),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "<ip>"),
    (r"\b[a-z][a-z0-9-]*\d[a-z0-9-]*(?:\.[a-z0-9-]+)+\b", "<host>"),
    (r"\b(?:[a-z]+-)+\d+[a-z0-9]*\b", "<host>"),
    (r"\b(?=[0-9a-f]*\d)[0-9a-f]{6,}\b", "<id>"),
    (r"\d+(?:\.\d+)?", "<n>"),
    (r"\s+", " "),
)


class _SummaryRow(Protocol):
    """A row of the per-problem summary in ``find_problems`` (``itertuples``), as pandas gives it."""

    service: str
    key: str
    example_title: str
    n: int
    first_seen: pd.Timestamp
    last_seen: pd.Timestamp
    auto_resolved: int
    resolved_without_ack: int
    short: int
    incident_numbers: list[int]
    distinct_titles: int


def normalise(series: pd.Series) -> pd.Series:
    """Vectorised title normalisation (see the module docstring), computed once per distinct title."""
    text = series.fillna("").astype(str)
    distinct = pd.Series(text.unique())
    out = distinct.str.lower()
    for pattern, repl in _SCRUBS:
        out = out.str.replace(pattern, repl, regex=True)
    return text.map(dict(zip(distinct, out.str.strip(), strict=True)))


def find_problems(inc: pd.DataFrame, *, short_incident_seconds: float, limit: int | None = None) -> list[Problem]:
    """Group incidents per service; every group with its counts, recurring ones first."""
    if inc.empty:
        return []
    frame = inc[["service", "title", "incident_key", "created_at", "number", "auto_resolved",
                 "resolved_without_ack", "ttr"]].copy()
    raw_key = frame["incident_key"].fillna("").astype(str)
    repeats = raw_key.ne("") & frame.assign(k=raw_key).duplicated(["service", "k"], keep=False)
    frame["key"] = ("key:" + raw_key).where(repeats, normalise(frame["title"]))
    frame["short"] = frame["ttr"] < short_incident_seconds
    frame = frame.sort_values(["created_at", "number"])
    grouped = frame.groupby(["service", "key"], sort=False)
    summary = grouped.agg(
        example_title=("title", "last"),
        n=("number", "size"),
        first_seen=("created_at", "min"),
        last_seen=("created_at", "max"),
        auto_resolved=("auto_resolved", "sum"),
        resolved_without_ack=("resolved_without_ack", "sum"),
        short=("short", "sum"),
        incident_numbers=("number", list),
        distinct_titles=("title", "nunique"),
    ).reset_index()
    summary = summary.sort_values(["n", "last_seen", "service", "key"], ascending=[False, False, True, True])
    if limit is not None:
        summary = summary.head(limit)
    return [
        Problem(
            service=row.service,
            key=row.key,
            example_title=row.example_title,
            count=int(row.n),
            first_seen=row.first_seen.to_pydatetime(),
            last_seen=row.last_seen.to_pydatetime(),
            auto_resolved=int(row.auto_resolved),
            resolved_without_ack=int(row.resolved_without_ack),
            short=int(row.short),
            incident_numbers=[int(n) for n in row.incident_numbers],
            distinct_titles=int(row.distinct_titles),
        )
        for row in cast("Iterator[_SummaryRow]", summary.itertuples(index=False))
    ]
