"""The consent sources Earnest knows: one entry per cmp/<x>.py, the one list that wires them.

Adding a CMP is its module (declaring `CMP`, earnest.consent.cmp.source) and a line here;
authentication, the flow, the configuration, the settings table, the template, the
secrets bootstrap and the local stack follow from this list (tests/infra/test_cmp_registry.py).
"""

from __future__ import annotations

from earnest.consent.cmp import didomi, earnest_format, ketch, usercentrics
from earnest.consent.cmp.source import Source

CMPS: tuple[Source, ...] = (earnest_format.CMP, didomi.CMP, ketch.CMP, usercentrics.CMP)
BY_NAME = {cmp.name: cmp for cmp in CMPS}
