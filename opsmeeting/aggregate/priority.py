"""The priority ranking: which service should get the next engineering effort, and why.

score = Σ weight × value over five components (weights configurable under ``priority.weights``):

- ``high_urgency_incidents``: high-urgency incidents in the window;
- ``major_incidents``: major incidents (METRICS.md's definition);
- ``sleep_interruptions``: interruptions between 22:00 and 08:00 in the responder's zone;
- ``error_budget_burn``: the largest ``error_budget_consumed`` among the service's judged SLOs
  (1.0 = the window's whole budget; low-traffic and no-data SLOs are not judged);
- ``recurrence``: repeat incidents, i.e. for each recurring problem, its count minus one.

Rank 1 is the highest score; ties go to the service name, so the order is deterministic.
"""

from __future__ import annotations

from collections import Counter

from opsmeeting.aggregate.model import PriorityReason, PriorityScore, Problem, ServiceScorecard
from opsmeeting.model import PriorityWeights

COMPONENTS = (
    "high_urgency_incidents",
    "major_incidents",
    "sleep_interruptions",
    "error_budget_burn",
    "recurrence",
)


def component_values(card: ServiceScorecard, repeats: int, *, slos_known: bool = True) -> dict[str, float | None]:
    """Each component's value; None when its source could not be read (an unknown, never a 0)."""
    inc = card.incidents
    burns = [s.error_budget_consumed for s in card.slos if s.status == "ok" and s.error_budget_consumed is not None]
    known = inc.known

    def count(value: int | None) -> float | None:
        return None if not known or value is None else float(value)

    return {
        "high_urgency_incidents": count(inc.incidents_high_urgency),
        "major_incidents": count(inc.incidents_major),
        "sleep_interruptions": count(inc.interruptions_sleep),
        "error_budget_burn": max([0.0, *burns]) if slos_known or burns else None,
        "recurrence": float(repeats) if known else None,
    }


def rank_services(
    cards: list[ServiceScorecard], problems: list[Problem], weights: PriorityWeights, *, slos_known: bool = True
) -> list[ServiceScorecard]:
    """Return the cards (in their original order) with ``priority`` filled in. A component whose
    source could not be read has value None and contributes nothing; the score then says it is
    partial (``unknown`` lists those components)."""
    repeats: Counter[str] = Counter()
    for problem in problems:
        if problem.count >= 2:
            repeats[problem.service] += problem.count - 1
    scored = []
    for card in cards:
        values = component_values(card, repeats[card.service], slos_known=slos_known)
        reasons = [
            PriorityReason(
                component=name,
                value=values[name],
                weight=getattr(weights, name),
                contribution=(values[name] or 0.0) * getattr(weights, name),
            )
            for name in COMPONENTS
        ]
        scored.append((sum(r.contribution for r in reasons), card, reasons))
    order = sorted(scored, key=lambda item: (-item[0], item[1].service))
    rank_of = {item[1].service: rank for rank, item in enumerate(order, start=1)}
    return [
        card.model_copy(
            update={
                "priority": PriorityScore(
                    score=score,
                    rank=rank_of[card.service],
                    reasons=sorted(reasons, key=lambda r: (-r.contribution, r.component)),
                    unknown=[r.component for r in reasons if r.value is None],
                )
            }
        )
        for score, card, reasons in scored
    ]
