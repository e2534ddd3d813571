"""The meeting loop: action items and the parking lot, teams' on-call notes, the Ops Wheel."""
