"""One guardrail of the catalog as a record, and the stages that can enforce one.

What `earnest.program.guardrails_catalog` lists (its entries: `catalog_experiences`,
`catalog_visitors`) and prints.

Pure: stdlib only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCHEMA = "earnest.guardrails/1"

# Where a guardrail can be enforced, in the order a change travels.
STAGES = {
    "validate": "`earnest validate`: the launch checks, before anything is stored",
    "push": "`earnest push` and the operator's commands: validate, then write, audited",
    "decide": "`POST /decide`: every request, at serve time",
    "events": "`POST /events`: every exposure and conversion, at ingest",
    "consent": "`POST /consent`: every consent change a CMP sends",
    "nightly": "the nightly run: the report, and the guardrails it applies",
}


@dataclass(frozen=True, slots=True)
class Guardrail:
    """One named guardrail: what it promises, where it is enforced, which tests prove it.

    `covers` lists the product's own names for what the guardrail is made of: launch
    checks (`earnest validate`'s `[check]`), nightly rules (an audit entry's `rule`) and
    decision reasons, so a new check, rule or reason without a guardrail is caught.
    """

    id: str
    name: str
    rule: str
    stages: tuple[str, ...]
    enforced_by: tuple[str, ...]
    tests: tuple[str, ...]
    docs: str
    covers: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "rule": self.rule,
            "stages": list(self.stages),
            "enforced_by": list(self.enforced_by),
            "tests": list(self.tests),
            "docs": self.docs,
            "covers": list(self.covers),
        }
