"""Every experiences write publishes the edge's rules bundle to S3 (earnest_aws.edge_bundle)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from earnest.errors import Unavailable
from earnest_aws.clients import client
from earnest_aws.edge_bundle import EDGE_BUNDLE_KEY, publish
from earnest_aws.experiences_store import ExperiencesStore
from earnest_aws.settings import Settings
from tests.builders.experiences import experience


def published(aws: Settings) -> dict[str, Any]:
    body = client("s3").get_object(Bucket=aws.events_bucket, Key=EDGE_BUNDLE_KEY)["Body"]
    return json.loads(body.read())


def test_a_push_and_a_pause_each_reach_the_bundle(aws: Settings) -> None:
    store = ExperiencesStore(aws.experiences_table)
    store.save(experience(id="hero"), None, actor="test", action="create")
    (hero,) = published(aws)["experiences"]
    assert [v["id"] for v in hero["variants"]] == ["a", "b"]
    stored = store.get("hero")
    assert stored is not None
    ops = {"variants": {"a": {"status": "paused", "reason": "incident"}}}
    store.save_ops(stored, {**stored.ops, **ops}, "ops", "pause", "CDN incident")
    (hero,) = published(aws)["experiences"]
    assert [v["id"] for v in hero["variants"]] == ["b"]


def test_a_write_that_lands_while_publishing_is_published_too(aws: Settings) -> None:
    reads = iter([[experience(id="one")], [experience(id="one"), experience(id="two")]])
    last: list[dict[str, Any]] = []

    def load() -> list[dict[str, Any]]:
        nonlocal last
        last = next(reads, last)
        return last

    publish(load)
    assert [e["id"] for e in published(aws)["experiences"]] == ["one", "two"]


def test_a_bundle_that_cannot_be_written_is_said_so(aws: Settings) -> None:
    client("s3").delete_bucket(Bucket=aws.events_bucket)
    with pytest.raises(Unavailable, match="edge's rules bundle was not published"):
        publish(lambda: [experience()])
