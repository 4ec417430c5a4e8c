"""One behaviour, two languages: the edge worker's JS engine decides as decide does.

100,000 requests generated with a fixed seed over the example experiences, decided by
Python's `Engine.decide` and by the worker's engine (clients/edge-worker/src/engine/), each
in one process, compared request by request: experience, variant and reason per placement.
The edge decides without the stored consent and without saved groups; every placement it
decides must be what decide answers whatever the store holds (no record, everything denied,
everything granted), so a stored withdrawal can never be overruled at the edge. Told the
stored consent and given the groups, the JS engine decides every placement as decide does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

from earnest.consent.purposes import PURPOSES
from earnest.decide.bundle import bundle_bytes, edge_bundle
from earnest.decide.engine import Engine
from earnest.tokens import TokenSigner
from tests.builders.edge_requests import bandit_examples, examples, requests
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
    bundle = edge_bundle(docs, global_holdout=0.05, consent_regime=regime, max_placements=20)
    engine = Engine(docs, saved_groups=groups, consent_regime=regime, strict=False)
    assert engine.rules_version == bundle["rules_version"]
    bodies = list(requests(n, seed))
    (tmp_path / "bundle.json").write_bytes(bundle_bytes(bundle))
    (tmp_path / "groups.json").write_text(json.dumps(groups))
    (tmp_path / "requests.jsonl").write_bytes(b"\n".join(orjson.dumps(b) for b in bodies))
    out = subprocess.run(
        [
            "node",
            "test/decide-batch.mjs",
            *(str(tmp_path / f) for f in ("bundle.json", "groups.json", "requests.jsonl")),
            f"{EDGE_KEY[0]}:{EDGE_KEY[1].decode()}",
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
    for body, js in zip(bodies, edge, strict=True):
        python = {k: _slim(engine.decide(body, s)["decisions"]) for k, s in STORED.items()}
        for name, decisions in python.items():
            if js["stored"][name] != decisions:
                wrong.append(f"{name}: {body} -> JS {js['stored'][name]}, Python {decisions}")
        for placement, decision in js["edge"].items():
            local += 1
            if any(python[name][placement] != decision for name in STORED):
                wrong.append(f"edge: {body}[{placement}] -> {decision}, Python {python}")
        remote += len(js["remote"])
        assert set(js["edge"]) | set(js["remote"]) == set(body["placements"])
    return {"edge": edge, "bodies": bodies, "wrong": wrong, "local": local, "remote": remote}


def test_js_and_python_decide_100000_generated_requests_alike(tmp_path: Path) -> None:
    result = _decided_by_both(tmp_path, 100_000, seed=17, regime="opt_in")
    assert result["wrong"][:5] == []
    # Both paths are exercised: placements the edge settles, and placements left to decide.
    assert result["local"] > 50_000
    assert result["remote"] > 10_000


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
    checked = 0
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
            checked += 1
    assert checked > 500
