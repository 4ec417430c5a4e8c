"""The decision reasons, each declared once: the words decide, explain, events and the report use.

Every answer of decide carries one reason from this closed set (docs/decide.md). Each is
declared with what the rest of the product reads from it: whether the experience answered
with its default, whether the answer is one of the experience's own arms (its variant or
its holdout: the report's comparison), whether it counts in the program's comparison
(treated by it, or its global holdout), and whether an experience answered at all (an
exposure token is issued, so the report can see it). The engine imports the names; the
report's aggregation reads the sets; the SQL gets them from `earnest.report.sql`, which
fills them in from here; docs/openapi.yaml lists them (checked by a test).

Hot path: stdlib only (decide imports it). Adding a reason is adding a `Reason` here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reason:
    name: str
    default: bool = False  # the experience answers with its default content
    arm: bool = False  # one of the experience's own arms: its variant, or its holdout
    program: bool = False  # in the program's comparison: treated, or the global holdout
    exposed: bool = True  # an experience answered: an exposure token is issued


PERSONALIZED = "personalized"
HOLDOUT = "holdout"
GLOBAL_HOLDOUT = "global_holdout"
NO_CONSENT = "no_consent"
IDENTITY_UNCERTAIN = "identity_uncertain"
NOT_IN_AUDIENCE = "not_in_audience"
NO_LIVE_EXPERIENCE = "no_live_experience"
UNKNOWN_PLACEMENT = "unknown_placement"
RULES_UNAVAILABLE = "rules_unavailable"
# The unit's memory (earnest.memory): shown this experience max_exposures times within its
# frequency_cap's window, or dismissed it within dismiss_for_days. In every arm alike (the
# holdout too), so they are neither an arm nor the program's: the capped are not compared.
FREQUENCY_CAPPED = "frequency_capped"
DISMISSED = "dismissed"

# In the engine's order (the report's coverage keeps it).
DECLARED = (
    Reason(PERSONALIZED, arm=True, program=True),
    Reason(HOLDOUT, default=True, arm=True, program=True),
    Reason(GLOBAL_HOLDOUT, default=True, program=True),
    Reason(NO_CONSENT, default=True),
    Reason(IDENTITY_UNCERTAIN, default=True),
    Reason(NOT_IN_AUDIENCE, default=True),
    Reason(NO_LIVE_EXPERIENCE, exposed=False),
    Reason(UNKNOWN_PLACEMENT, exposed=False),
    Reason(RULES_UNAVAILABLE, exposed=False),
    Reason(FREQUENCY_CAPPED, default=True),
    Reason(DISMISSED, default=True),
)
REASONS = tuple(r.name for r in DECLARED)
# The reasons an experience answers with its default.
DEFAULT_REASONS = tuple(r.name for r in DECLARED if r.default)
# The report's: an experience's own arms (variant, holdout), and the program's units.
ARM_REASONS = frozenset(r.name for r in DECLARED if r.arm)
PROGRAM_REASONS = frozenset(r.name for r in DECLARED if r.program)
# explain's outcome for a candidate that would have served but was outranked: never an
# answer's reason.
LOWER_PRIORITY = "lower_priority"
