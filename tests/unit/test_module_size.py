"""No module of the code layer grows past what a reader holds in mind at once.

issue 19: one idea per module; a module past MAX_LINES is a sign it holds several.
"""

from __future__ import annotations

from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
MAX_LINES = 500


def test_no_module_in_the_code_layer_is_over_500_lines() -> None:
    modules = sorted(SHARED.rglob("*.py"))
    assert len(modules) > 50  # the layer itself, not an empty folder
    long = {
        str(p.relative_to(SHARED)): n
        for p in modules
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
