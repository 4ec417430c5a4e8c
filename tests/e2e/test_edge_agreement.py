"""One behaviour, two languages: the edge worker's JS engine decides as decide does.

100,000 requests generated with a fixed seed over the example experiences and experiences
reading recency and memory (tests/builders/edge_requests.py), decided by
Python's `Engine.decide` and by the worker's engine (clients/edge-worker/src/engine/), each
in one process, compared request by request: experience, variant and reason per placement.
The edge decides without the stored consent and without saved groups; every placement it
decides must be what decide answers whatever the store holds (no record, everything denied,
everything granted), so a stored withdrawal can never be overruled at the edge. Told the
stored consent and given the groups, the JS engine decides every placement as decide does.
Both are given the same request time (this test's clock when it starts, so nothing depends
on a date) and, for the full comparison, the same memory per unit; the edge, which has no
memory, must leave every capped or dismissable candidate that could win to decide.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from earnest.consent.purposes import PURPOSES
from earnest.decide.bundle import bundle_bytes, edge_bundle
from earnest.decide.engine import Engine
from earnest.decide.segments import reader, recorded, values
from earnest.memory import Memory
from earnest.tokens import TokenSigner
from tests.builders.edge_requests import (
    bandit_examples,
    examples,
    memory_of,
    recency_and_memory,
    requests,
)
from tests.conftest import EXAMPLES, ROOT

WORKER = ROOT / "clients" / "edge-worker"
EDGE_KEY = ("edge", b"edge-agreement-token-secret-0001")
STORED: dict[str, dict[str, str] | None] = {
    "none": None,
    "denied": dict.fromkeys(PURPOSES, "denied"),
    "granted": dict.fromkeys(PURPOSES, "granted"),
}

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node 20")


def _slim(decisions: dict[str, Any]) -> dict[str, list[Any]]:
    return {p: [d["experience"], d["variant"], d["reason"]] for p, d in decisions.items()}


def _decided_by_both(
    tmp_path: Path, n: int, seed: int, regime: str, bandit: bool = False
) -> dict[str, Any]:
    docs, groups = (bandit_examples if bandit else examples)(EXAMPLES)
    docs += recency_and_memory()
    bundle = edge_bundle(docs, global_holdout=0.05, consent_regime=regime, max_placements=20)
    engine = Engine(docs, saved_groups=groups, consent_regime=regime, strict=False)
    assert engine.rules_version == bundle["rules_version"]
    now_ms = int(time.time() * 1000)
    bodies = list(requests(n, seed, now_ms))
    rng = random.Random(seed)
    memories = [memory_of(rng, now_ms) for _ in bodies]
    lines = (
        orjson.dumps({"body": b, "memory": _js(m)}) for b, m in zip(bodies, memories, strict=True)
    )
    (tmp_path / "bundle.json").write_bytes(bundle_bytes(bundle))
    (tmp_path / "groups.json").write_text(json.dumps(groups))
    (tmp_path / "requests.jsonl").write_bytes(b"\n".join(lines))
    out = subprocess.run(
        [
            "node",
            "test/decide-batch.mjs",
            *(str(tmp_path / f) for f in ("bundle.json", "groups.json", "requests.jsonl")),
            f"{EDGE_KEY[0]}:{EDGE_KEY[1].decode()}",
            str(now_ms),
        ],
        cwd=WORKER,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    edge = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(edge) == n
    wrong: list[str] = []
    local = remote = 0
    reasons: set[str] = set()
    for body, memory, js in zip(bodies, memories, edge, strict=True):
        remembered = None if memory is None else Memory(memory["exposures"], memory["dismissed"])
        python = {
            k: _slim(engine.decide(body, s, memory=remembered, now=now_ms / 1000)["decisions"])
            for k, s in STORED.items()
        }
        reasons.update(d[2] for decisions in python.values() for d in decisions.values())
        for name, decisions in python.items():
            if js["stored"][name] != decisions:
                wrong.append(f"{name}: {body} -> JS {js['stored'][name]}, Python {decisions}")
        for placement, decision in js["edge"].items():
            local += 1
            if any(python[name][placement] != decision for name in STORED):
                wrong.append(f"edge: {body}[{placement}] -> {decision}, Python {python}")
        remote += len(js["remote"])
        assert set(js["edge"]) | set(js["remote"]) == set(body["placements"])
    return {
        "edge": edge,
        "bodies": bodies,
        "wrong": wrong,
        "local": local,
        "remote": remote,
        "reasons": reasons,
    }


def _js(memory: dict[str, Any] | None) -> dict[str, Any] | None:
    """The memory as JSON carries it: days as text keys."""
    if memory is None:
        return None
    exposures = {e: {str(d): n for d, n in days.items()} for e, days in memory["exposures"].items()}
    return {"exposures": exposures, "dismissed": memory["dismissed"]}


@pytest.mark.slow
def test_js_and_python_decide_100000_generated_requests_alike(tmp_path: Path) -> None:
    result = _decided_by_both(tmp_path, 100_000, seed=17, regime="opt_in")
    assert result["wrong"][:5] == []
    # Both paths are exercised: placements the edge settles, and placements left to decide.
    assert result["local"] > 50_000
    assert result["remote"] > 10_000
    # ...and recency, caps and dismissals decided on both sides.
    assert {"frequency_capped", "dismissed", "not_in_audience"} <= result["reasons"]


def test_under_the_opt_out_regime_too(tmp_path: Path) -> None:
    result = _decided_by_both(tmp_path, 20_000, seed=18, regime="opt_out")
    assert result["wrong"][:5] == []


def test_bandit_experiences_re_weighted_into_slices_are_decided_alike(tmp_path: Path) -> None:
    # the bundle carries each bandit's slices over the hash; the edge picks from them
    result = _decided_by_both(tmp_path, 20_000, seed=20, regime="opt_in", bandit=True)
    assert result["wrong"][:5] == []
    assert result["local"] > 10_000


def test_the_edges_tokens_verify_as_decides_do(tmp_path: Path) -> None:
    result = _decided_by_both(tmp_path, 1_000, seed=19, regime="opt_in")
    signer = TokenSigner([("decide", b"decide-token-secret-00000001"), EDGE_KEY])
    docs = examples(EXAMPLES)[0] + recency_and_memory()
    readers = {str(d["id"]): [(p, reader(p)) for p in recorded(d)] for d in docs if recorded(d)}
    checked = segmented = 0
    for body, js in zip(result["bodies"], result["edge"], strict=True):
        for placement, token in js["tokens"].items():
            exposure = signer.verify(token)
            experience, variant, reason = js["edge"][placement]
            assert exposure.unit == body["visitor"]["anonymous_id"]
            assert (exposure.experience, exposure.variant, exposure.reason) == (
                experience,
                variant,
                reason,
            )
            # a winner's token records its experience's segments as decide reads them
            won = reason in ("personalized", "holdout", "global_holdout")
            if won and experience in readers:
                assert exposure.segments == values(readers[experience], body)
                segmented += 1
            else:
                assert exposure.segments is None
            checked += 1
    assert checked > 500
    assert segmented > 100
