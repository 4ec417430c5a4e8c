"""The template itself: what an operator relies on when they `sam deploy`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from earnest_cli.template import ROOT, load_template
from tests.builders.policies import conditions_of, statements

RESOURCES: dict[str, Any] = load_template()["Resources"]


def functions() -> dict[str, Any]:
    return {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}


def actions_of(function: dict[str, Any]) -> set[str]:
    """Every action the function can be granted, whichever conditions hold."""
    out: set[str] = set()
    for statement in statements(function, conditions_of(function)):
        acts = statement["Action"]
        out |= set(acts if isinstance(acts, list) else [acts])
    return out


def test_cfn_lint_passes() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), str(ROOT / "template.yaml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_function_runs_on_arm64_with_the_shared_layer() -> None:
    globals_ = load_template()["Globals"]["Function"]
    assert globals_["Architectures"] == ["arm64"]
    assert "SharedLayer" in str(globals_["Layers"])
    for name, fn in functions().items():
        assert fn["Properties"].get("Architectures", ["arm64"]) == ["arm64"], name


def test_tables_have_point_in_time_recovery_and_the_bucket_is_private() -> None:
    for name, res in RESOURCES.items():
        if res["Type"] == "AWS::DynamoDB::Table":
            assert res["Properties"]["PointInTimeRecoverySpecification"][
                "PointInTimeRecoveryEnabled"
            ], name
    bucket = RESOURCES["DataBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]
    assert bucket["LifecycleConfiguration"]["Rules"]


def test_decide_may_only_read() -> None:
    actions = actions_of(RESOURCES["DecideFunction"])
    assert actions <= {
        "dynamodb:Scan",
        "dynamodb:BatchGetItem",
        "dynamodb:GetItem",
        "ssm:GetParameter",
    }
    assert not any(a.endswith("*") for a in actions)


def test_no_function_is_granted_wildcard_actions() -> None:
    for name, fn in functions().items():
        assert not any(a == "*" or a.endswith(":*") for a in actions_of(fn)), name
