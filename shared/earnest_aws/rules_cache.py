"""decide's in-memory rules: refreshed at most every RULES_TTL_SECONDS, never lost on a fault.

If a refresh fails the last good engine keeps serving; with none at all, the caller
answers `rules_unavailable`. A failed refresh is retried after a short back-off rather
than on every request, so a DynamoDB outage does not add a timeout to each page.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from earnest.decide.engine import Engine
from earnest.errors import Unavailable
from earnest.tokens import TokenSigner
from earnest_aws.experiences_store import ExperiencesStore, Rules
from earnest_aws.settings import Settings

RETRY_AFTER_FAILURE_SECONDS = 5.0


class RulesCache:
    def __init__(
        self,
        settings: Settings,
        signer: TokenSigner | None,
        load: Callable[[], Rules] | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self._settings = settings
        self._signer = signer
        self._load = load or ExperiencesStore(settings.experiences_table).load_rules
        self._clock = clock
        self._on_event = on_event or (lambda _name, _fields: None)
        self._engine: Engine | None = None
        self._next_refresh = 0.0

    def engine(self) -> Engine | None:
        """The engine to serve with now (None only before any rules ever loaded)."""
        now = self._clock()
        if now >= self._next_refresh:
            self._refresh(now)
        return self._engine

    def _refresh(self, now: float) -> None:
        try:
            rules = self._load()
            engine = Engine(
                rules.experiences,
                global_holdout=self._settings.global_holdout,
                consent_regime=self._settings.consent_regime,
                saved_groups=rules.saved_groups,
                signer=self._signer,
                max_placements=self._settings.max_placements,
                strict=False,
            )
        except Unavailable as exc:
            self._next_refresh = now + min(
                RETRY_AFTER_FAILURE_SECONDS, self._settings.rules_ttl_seconds
            )
            self._on_event(
                "rules_refresh_failed",
                {"error": exc.message, "serving_last_good": self._engine is not None},
            )
            return
        for skipped in engine.skipped:
            self._on_event(
                "experience_skipped", {"experience": skipped.experience_id, "error": str(skipped)}
            )
        self._engine = engine
        self._next_refresh = now + self._settings.rules_ttl_seconds
        self._on_event(
            "rules_refreshed",
            {"rules_version": engine.rules_version, "live": len(engine.experiences)},
        )
