"""The site's CloudFront distribution for the Lambda@Edge adapter
(clients/edge-worker/cloudfront-site.yaml): the cache policy that keeps one visitor's page
from another, and the beacon path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from earnest_cli.template import ROOT, load_template

SITE = ROOT / "clients" / "edge-worker" / "cloudfront-site.yaml"
CONFIG: dict[str, Any] = load_template(SITE)["Resources"]["SiteDistribution"]["Properties"][
    "DistributionConfig"
]
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ALL_VIEWER_AND_CLOUDFRONT_HEADERS = "33f36d7e-f396-46d9-90e0-52428a34d9dc"


def test_cfn_lint_passes() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), str(SITE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def events_of(behaviour: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["EventType"]: a for a in behaviour.get("LambdaFunctionAssociations", [])}


def test_every_behaviour_the_adapter_decides_on_never_caches_at_cloudfront() -> None:
    """The cache key is the viewer's request and origin-request runs only on a miss: a
    cached page would skip the decision or hand one visitor's page to the next."""
    behaviours = [CONFIG["DefaultCacheBehavior"], *CONFIG["CacheBehaviors"]]
    decided = [b for b in behaviours if "origin-request" in events_of(b)]
    assert len(decided) == 2  # the pages and the beacon path
    for behaviour in decided:
        assert behaviour["CachePolicyId"] == CACHING_DISABLED
        # origin-request sees the cookies, Sec-GPC, the User-Agent and the viewer's country.
        assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_AND_CLOUDFRONT_HEADERS
    pages = events_of(CONFIG["DefaultCacheBehavior"])
    assert set(pages) == {"origin-request", "origin-response"}
    [assets] = [b for b in behaviours if not events_of(b)]
    assert assets["CachePolicyId"] == CACHING_OPTIMIZED


def test_the_beacon_path_gives_origin_request_the_body_to_relay() -> None:
    [beacon] = [b for b in CONFIG["CacheBehaviors"] if b["PathPattern"] == "BeaconPath"]
    assert "POST" in beacon["AllowedMethods"]
    assert events_of(beacon)["origin-request"]["IncludeBody"] is True
