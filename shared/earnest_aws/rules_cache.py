"""decide's in-memory rules: refreshed off the request path, compiled only when they change.

The first request of a cold start loads the rules (there is nothing to serve before that).
After that a request never waits for DynamoDB: once RULES_TTL_SECONDS have passed, the
request that notices starts one refresh in the background and is served by the engine it
already has; the next requests get the new engine when it is ready. A refresh whose rules
have the same content as those being served compiles nothing (a 10,000-branch audience
costs its compile once, not every TTL). If a refresh fails the last good engine keeps
serving, and the refresh is retried after a short back-off; with none at all, the caller
answers `rules_unavailable`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from earnest.decide.engine import Engine, rules_version_of
from earnest.errors import Unavailable
from earnest.tokens import TokenSigner
from earnest_aws.experiences_store import ExperiencesStore, Rules
from earnest_aws.settings import Settings

RETRY_AFTER_FAILURE_SECONDS = 5.0


def _in_background(job: Callable[[], None]) -> None:
    threading.Thread(target=job, name="rules-refresh", daemon=True).start()


class RulesCache:
    def __init__(
        self,
        settings: Settings,
        signer: TokenSigner | None,
        load: Callable[[], Rules] | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
        spawn: Callable[[Callable[[], None]], None] = _in_background,
    ) -> None:
        self._settings = settings
        self._signer = signer
        self._load = load or ExperiencesStore(settings.experiences_table).load_rules
        self._clock = clock
        self._on_event = on_event or (lambda _name, _fields: None)
        self._spawn = spawn
        self._engine: Engine | None = None
        self._content: str | None = None  # what the engine was compiled from
        self._next_refresh = 0.0
        self._refreshing = threading.Lock()  # at most one refresh at a time

    def engine(self) -> Engine | None:
        """The engine to serve with now (None only while no rules ever loaded)."""
        if self._engine is None:
            if self._clock() >= self._next_refresh:  # the back-off holds before a first load too
                self.refresh()
        elif self._clock() >= self._next_refresh and self._refreshing.acquire(blocking=False):
            self._spawn(self._refresh_held)
        return self._engine

    def refresh(self) -> None:
        """Load the rules now, on the caller's thread (cold start, SnapStart restore)."""
        with self._refreshing:
            self._refresh_now()

    def _refresh_held(self) -> None:
        try:
            self._refresh_now()
        finally:
            self._refreshing.release()

    def _refresh_now(self) -> None:
        now = self._clock()
        try:
            rules = self._load()
        except Unavailable as exc:
            self._next_refresh = now + min(
                RETRY_AFTER_FAILURE_SECONDS, self._settings.rules_ttl_seconds
            )
            self._on_event(
                "rules_refresh_failed",
                {"error": exc.message, "serving_last_good": self._engine is not None},
            )
            return
        self._next_refresh = now + self._settings.rules_ttl_seconds
        content = rules_version_of([*rules.experiences, {"id": "", "groups": rules.saved_groups}])
        if self._engine is not None and content == self._content:
            return  # the same rules: nothing to compile
        engine = Engine(
            rules.experiences,
            global_holdout=self._settings.global_holdout,
            consent_regime=self._settings.consent_regime,
            saved_groups=rules.saved_groups,
            signer=self._signer,
            max_placements=self._settings.max_placements,
            strict=False,
        )
        for skipped in engine.skipped:
            self._on_event(
                "experience_skipped", {"experience": skipped.experience_id, "error": str(skipped)}
            )
        self._engine, self._content = engine, content
        self._on_event(
            "rules_refreshed",
            {"rules_version": engine.rules_version, "live": len(engine.experiences)},
        )
