"""The audit trail read back: what changed (`changes`) and what stood before a night's run
(`as_of`).

`as_of` is what makes a re-run of a report date read the same experiences as the first
run did, give the same report and write nothing twice: it walks back the nightly report's
own changes for that date or a later one, and stops at the first entry someone else wrote.

Pure: stdlib only.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from earnest.experiences.actions import NIGHTLY_REPORT


def changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """{field: {from, to}} for every top-level field that differs (version aside)."""
    keys = sorted((set(old) | set(new)) - {"version"})
    return {k: {"from": old.get(k), "to": new.get(k)} for k in keys if old.get(k) != new.get(k)}


def as_of(doc: Mapping[str, Any], audit: Sequence[Mapping[str, Any]], day: date) -> dict[str, Any]:
    """`doc` (a document or operational state) as it stood before the report of `day` (or a
    later one) changed it, walking `audit` from the newest entry back; a person's change
    is always taken as it is."""
    out = copy.deepcopy(dict(doc))
    out.pop("version", None)
    ordered = sorted(audit, key=lambda e: (int(e.get("version") or 0), str(e.get("at") or "")))
    for entry in reversed(ordered):
        evidence = entry.get("evidence")
        report_date = evidence.get("report_date") if isinstance(evidence, Mapping) else None
        if entry.get("actor") != NIGHTLY_REPORT or not isinstance(report_date, str):
            break
        if report_date < day.isoformat():
            break
        for key, change in (entry.get("changes") or {}).items():
            if not isinstance(change, Mapping):
                continue
            if change.get("from") is None:
                out.pop(key, None)
            else:
                out[key] = copy.deepcopy(change["from"])
    return out
