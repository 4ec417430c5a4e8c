"""What each CMP module declares about itself: `CMP = Source(...)` at its foot.

Its name (as responses and the history say it), how it authenticates, the setting that
holds its secrets (and the SSM parameter the template and the secrets bootstrap give it),
its parser, and its purpose-code table when it has one. earnest.consent.cmp.registry
lists the modules; everything that wires a CMP (authentication, the consent flow,
consent-update's configuration, the settings table, template.yaml, the secrets
bootstrap, the local stack) reads the registry, and tests/infra/test_cmp_registry.py
checks each of them covers every registered CMP. Pure and tiny.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from earnest.consent.records import ParsedPayload

SIGNED, BEARER, BASIC = "signed", "bearer", "basic"  # Standard Webhooks; Authorization

Parser = Callable[[Any, Mapping[str, str] | None, datetime | None], ParsedPayload]


@dataclass(frozen=True)
class Source:
    """One consent source: who it is, how it proves it, what its payload means."""

    name: str  # "didomi": the `source` of responses and history entries
    title: str  # "Didomi", for people
    auth: str  # SIGNED, BEARER or BASIC
    secret: str  # the setting holding its secrets: CONSENT_DIDOMI_TOKENS
    secret_meaning: str  # what one secret looks like, for the settings table
    parameter: str  # the SSM parameter under the stage's ConsentSecretsPath: didomi-tokens
    parse: Parser
    purposes_setting: str = ""  # its purpose-code table's setting, when it has one
    default_purposes: Mapping[str, str] = field(default_factory=dict)
    min_secret_chars: int = 16


def local_secret(cmp: Source) -> str:
    """A local-only secret of the form `cmp` authenticates with, for the local stack and
    the tests; never used in AWS."""
    if cmp.auth == SIGNED:
        return "whsec_" + base64.b64encode(f"local-{cmp.name}-webhook-secret".encode()).decode()
    if cmp.auth == BASIC:
        return f"{cmp.name}:local-{cmp.name}-password"
    return f"local-{cmp.name}-bearer-token-0001"
