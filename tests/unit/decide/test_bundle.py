"""The edge's rules bundle: what the worker decides from, and nothing it must not hold."""

from __future__ import annotations

from earnest.decide.bundle import bundle_bytes, edge_bundle
from earnest.decide.engine import Engine
from tests.builders.experiences import experience

SETTINGS = {"global_holdout": 0.05, "consent_regime": "opt_in", "max_placements": 20}


def test_it_holds_the_live_experiences_decide_serves_with_decides_rules_version() -> None:
    docs = [
        experience(id="live"),
        experience(id="draft", status="draft", placement="footer"),
        experience(id="broken", holdout=2, placement="pdp-recs"),  # decide skips it too
    ]
    bundle = edge_bundle(docs, **SETTINGS)
    assert [e["id"] for e in bundle["experiences"]] == ["live"]
    assert bundle["placements"] == ["footer", "home-hero", "pdp-recs"]  # still known
    assert bundle["rules_version"] == Engine(docs, strict=False).rules_version
    assert (bundle["global_holdout"], bundle["consent_regime"]) == (0.05, "opt_in")


def test_paused_variants_are_not_served_and_identity_audiences_get_decides_threshold() -> None:
    doc = experience(
        audience={"attributes.ltv": {"$gte": 250}},
        variants=[
            {"id": "a", "weight": 1, "content": {"v": "a"}, "paused": True},
            {"id": "b", "weight": 2, "content": {"v": "b"}},
        ],
    )
    (served,) = edge_bundle([doc], **SETTINGS)["experiences"]
    assert served["variants"] == [{"id": "b", "weight": 2.0, "content": {"v": "b"}}]
    assert served["min_identity_confidence"] == 0.9


def test_no_saved_groups_ids_and_the_same_rules_give_the_same_bytes() -> None:
    doc = experience(audience={"visitor.user_id": {"$inGroup": "vip_accounts"}})
    first = bundle_bytes(edge_bundle([doc], **SETTINGS))
    assert b"vip_accounts" in first and b"u-1001" not in first
    assert bundle_bytes(edge_bundle([experience(audience=doc["audience"])], **SETTINGS)) == first
