"""Lift by segment through the whole chain, with a known truth: decide signs each visitor's
device into the exposure token, /events' core stores it from the verified token, the Python
aggregation splits the arms by it, and the nightly report flags the variant that helps
mobile by 30 % and does nothing on desktop."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

from earnest.decide.engine import Engine
from earnest.events.batch import validate_batch
from earnest.report import build
from earnest.report.aggregation import Aggregator
from earnest.report.plan import tracked
from earnest.report.window import Window
from earnest.tokens import TokenSigner
from tests.builders.experiences import one_variant

DAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp()
SIGNER = TokenSigner([("k1", b"segment-simulation-secret-01")])
TRUTH = {
    "mobile": {"holdout": 0.10, "personalized": 0.13},
    "desktop": {"holdout": 0.10, "personalized": 0.10},
}


def test_a_variant_helping_mobile_only_is_flagged_from_the_events_decide_signed() -> None:
    # Given an experience recording the device, and 20,000 visitors, half on each device
    doc = one_variant("recs", "pdp-recs")
    doc["measurement_plan"] = {**doc["measurement_plan"], "segments": ["context.device"]}
    engine = Engine([doc], global_holdout=0.0, signer=SIGNER)
    rng = random.Random(30)
    events: list[dict[str, object]] = []
    for i in range(20_000):
        device = "mobile" if i % 2 else "desktop"
        body = {
            "visitor": {"anonymous_id": f"v-{i}"},
            "placements": ["pdp-recs"],
            "context": {"device": device},
        }
        decision = engine.decide(body, None, now=NOW - 600)["decisions"]["pdp-recs"]
        ts = int((NOW - 500) * 1000)
        events.append(
            {"type": "exposure", "event_id": f"e-{i}", "token": decision["token"], "ts": ts}
        )
        if rng.random() < TRUTH[device][decision["reason"]]:
            events.append(
                {
                    "type": "conversion",
                    "event_id": f"c-{i}",
                    "unit_id": f"v-{i}",
                    "name": "purchase",
                    "ts": ts + 1000,
                }
            )
    # When /events' core stores them and the night's report reads them
    records = []
    for start in range(0, len(events), 500):
        judged = validate_batch(events[start : start + 500], SIGNER, NOW, f"req-{start}")
        assert judged.rejections == []
        records += judged.records
    exposed = [r for r in records if r["type"] == "exposure"]
    assert {r["segments"]["context.device"] for r in exposed} == {"mobile", "desktop"}
    aggregator = Aggregator(tracked([doc]))
    aggregator.partition(DAY.isoformat())
    aggregator.feed(records)
    report = build.build(Window(DAY), [doc], aggregator.totals(), None, global_holdout=0.0)
    # Then b is found to help mobile and to show nothing on desktop, and flagged for it
    section = report["experiences"][0]["segments"]
    effects = {t["value"]: t["effect"] for t in section["tests"]}
    assert effects == {"mobile": "helps", "desktop": "flat"}
    (flag,) = section["flags"]
    assert (flag["variant"], flag["kind"]) == ("b", "helps_one_only")
    assert any("b helps context.device mobile" in w for w in report["summary"]["in_words"])
