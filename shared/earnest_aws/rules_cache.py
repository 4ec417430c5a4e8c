"""decide's in-memory rules: fresh within a stated bound, refreshed off the request path,
compiled only when they change.

Freshness is bounded (docs/decide.md, "Rules cache"): no decision uses rules read more than
RULES_TTL_SECONDS ago, plus at most RULES_WAIT_SECONDS (0.1: the wait of the request that
finds them stale), whether the instance was busy or idle:

- refresh ahead: from `ahead` seconds before the TTL, the request that notices starts one
  refresh in the background and is answered by the engine it has, so under traffic the
  new rules are in place before the old ones reach the TTL and no request waits;
- past the TTL (an instance idle longer than that, or a refresh still running): the
  request starts or joins the refresh and waits up to RULES_WAIT_SECONDS for it. If the
  rules land it is answered with them; if not, `engine()` is None and every placement
  answers `rules_unavailable` (the defaults) until fresh rules are back. Rules past the
  bound are never served, so a pause sticks even when DynamoDB hangs.

A refresh whose rules have the same content as those being served compiles nothing (a
10,000-branch audience costs its compile once, not every TTL) but renews their age. A
failed refresh is retried after `RETRY_AFTER_FAILURE_SECONDS`; until the TTL the last good
engine keeps serving. The first request of a cold start waits up to FIRST_LOAD_WAIT_SECONDS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from earnest.decide.engine import Engine, rules_version_of
from earnest.errors import Unavailable
from earnest.tokens import TokenSigner
from earnest_aws.clients import Timeouts, client
from earnest_aws.experiences_store import ExperiencesStore, Rules
from earnest_aws.settings import Settings

FIRST_LOAD_WAIT_SECONDS = 1.0  # a cold start has no rules yet; decide's timeout is 3 s
RETRY_AFTER_FAILURE_SECONDS = 1.0
MAX_AHEAD_SECONDS = 5.0
# The refresh's own budget (off the request path): short enough that a hung table fails
# it and the next attempt starts soon, long enough for a Scan of every experience.
REFRESH_TIMEOUTS = Timeouts(connect=0.5, read=1.0, attempts=2)
_POLL_SECONDS = 0.002  # how a waiting request looks again (a timed Event.wait never
# returns under libfaketime, which the suite runs under)


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
        self._load = (
            load
            or ExperiencesStore(
                settings.experiences_table, client("dynamodb", REFRESH_TIMEOUTS)
            ).load_rules
        )
        self._clock = clock
        self._on_event = on_event or (lambda _name, _fields: None)
        self._spawn = spawn
        self._ttl = settings.rules_ttl_seconds
        self._wait = settings.rules_wait_seconds
        self._ahead = min(MAX_AHEAD_SECONDS, self._ttl / 2)
        self._engine: Engine | None = None
        self._content: str | None = None  # what the engine was compiled from
        self._refresh_at = 0.0  # from then a refresh is due (clock time)
        self._stale_at = 0.0  # from then the rules are past the TTL: never served
        self._retry_at = 0.0  # after a failure, no new attempt before this
        self._refreshing = threading.Lock()  # at most one refresh at a time
        self._landed = threading.Event()  # the refresh in flight has finished
        self._landed.set()
        self._started = 0.0  # when the refresh in flight started (time.monotonic)

    @property
    def freshness_bound(self) -> float:
        """The oldest, in seconds, the rules of any answer may be."""
        return self._ttl + self._wait

    def engine(self) -> Engine | None:
        """The engine to serve with now; None when no rules within the bound are loaded."""
        now = self._clock()
        if now < self._refresh_at:
            return self._engine
        self._start_refresh(now)
        if self._clock() < self._stale_at:
            return self._engine  # refresh ahead: these are still within the TTL
        budget = FIRST_LOAD_WAIT_SECONDS if self._engine is None else self._wait
        deadline = self._started + budget
        while not self._landed.is_set() and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
        return self._engine if self._clock() < self._stale_at else None

    def refresh(self) -> None:
        """Load the rules now, on the caller's thread (SnapStart restore)."""
        with self._refreshing:
            self._landed.clear()
            try:
                self._refresh_now()
            finally:
                self._landed.set()

    def _start_refresh(self, now: float) -> None:
        if now < self._retry_at or not self._refreshing.acquire(blocking=False):
            return  # backing off after a failure, or one is already in flight
        self._landed.clear()
        self._started = time.monotonic()
        self._spawn(self._refresh_held)

    def _refresh_held(self) -> None:
        try:
            self._refresh_now()
        finally:
            self._landed.set()
            self._refreshing.release()

    def _refresh_now(self) -> None:
        started = self._clock()  # the rules are as of the read's start
        try:
            rules = self._load()
        except Unavailable as exc:
            self._retry_at = self._clock() + min(RETRY_AFTER_FAILURE_SECONDS, self._ttl)
            self._on_event(
                "rules_refresh_failed",
                {"error": exc.message, "serving_last_good": started < self._stale_at},
            )
            return
        content = rules_version_of([*rules.experiences, {"id": "", "groups": rules.saved_groups}])
        if self._engine is None or content != self._content:
            self._compile(rules, content)
        self._refresh_at, self._stale_at = started + self._ttl - self._ahead, started + self._ttl

    def _compile(self, rules: Rules, content: str) -> None:
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
