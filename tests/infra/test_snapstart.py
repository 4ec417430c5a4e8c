"""decide's SnapStart hook (earnest_aws.snapstart): after a restore, new clients and
fresh rules, registered with the hook library the Lambda runtime runs."""

from __future__ import annotations

from typing import Any

import snapshot_restore_py

from earnest.tokens import TokenSigner
from earnest_aws import clients, snapstart
from earnest_aws.experiences_store import ExperiencesStore
from earnest_aws.rules_cache import RulesCache
from earnest_aws.settings import Settings
from tests.builders.experiences import experience


def put_live(settings: Settings, doc: dict[str, Any]) -> None:
    ExperiencesStore(settings.experiences_table).save(doc, None, "test", "push")


def test_a_restore_reconnects_and_serves_the_rules_of_now_not_of_the_snapshot(
    aws: Settings,
) -> None:
    now = [0.0]  # the cache's clock stands still: a snapshot restored before the TTL
    rules = RulesCache(aws, TokenSigner([("k1", b"snapstart-test-secret")]), clock=lambda: now[0])
    put_live(aws, experience(id="before-snapshot"))
    snapshot = rules.engine()
    assert snapshot is not None and [e.id for e in snapshot.experiences] == ["before-snapshot"]
    connection = clients.client("dynamodb")
    put_live(aws, experience(id="while-frozen", placement="pdp-recs"))

    snapshot_restore_py.get_after_restore().clear()
    assert snapstart.register(rules.refresh)  # as decide does: a refresh now, whatever the TTL
    for hook, args, kwargs in snapshot_restore_py.get_after_restore():  # as the runtime does
        hook(*args, **kwargs)

    assert clients.client("dynamodb") is not connection
    restored = rules.engine()
    assert restored is not None
    assert sorted(e.id for e in restored.experiences) == ["before-snapshot", "while-frozen"]
    snapshot_restore_py.get_after_restore().clear()
