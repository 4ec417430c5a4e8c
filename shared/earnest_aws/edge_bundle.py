"""Publishing the rules bundle the edge decides from: one S3 object, rewritten on every change.

`ExperiencesStore` calls `publish` after each write it makes (a push, a pause or resume, the
nightly run's guardrail actions all go through it), so no writer can change what is served
without the edge's bundle following. The bundle is rebuilt from the whole table, then the
table is read again: if another write landed meanwhile, the bundle is published again, so
the last object written always holds every change. Workers fetch it with `If-None-Match`
(docs/deployment.md); S3 reads after a write are strongly consistent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from earnest.decide.bundle import bundle_bytes, edge_bundle
from earnest.decide.engine import rules_version_of
from earnest.errors import Unavailable
from earnest_aws.aws_errors import translated
from earnest_aws.clients import client
from earnest_aws.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# In the data bucket; the worker's EARNEST_BUNDLE_URL names it.
EDGE_BUNDLE_KEY = "edge/bundle.json"
ATTEMPTS = 3


def publish(load: Callable[[], Sequence[dict[str, Any]]], s3: S3Client | None = None) -> str:
    """Write the bundle of the experiences `load` returns; its rules version.

    Raises Unavailable when S3 cannot be written (the change itself is stored: any later
    write publishes every change).
    """
    config = settings()
    s3 = s3 or client("s3")
    experiences = load()
    for _ in range(ATTEMPTS):
        bundle = edge_bundle(
            experiences,
            global_holdout=config.global_holdout,
            consent_regime=config.consent_regime,
            max_placements=config.max_placements,
        )
        with translated("the change is stored, but the edge's rules bundle was not published"):
            s3.put_object(
                Bucket=config.events_bucket,
                Key=EDGE_BUNDLE_KEY,
                Body=bundle_bytes(bundle),
                ContentType="application/json",
                CacheControl="no-cache",
            )
        experiences = load()
        if rules_version_of(experiences) == bundle["rules_version"]:
            return str(bundle["rules_version"])
    raise Unavailable("the edge's rules bundle kept changing while it was published; write again")
