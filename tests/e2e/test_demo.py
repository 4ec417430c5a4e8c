"""`earnest demo`, the main job: the whole loop on the embedded stack, as a user runs it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def test_the_demo_finds_the_known_loser_pauses_it_and_stops_serving_it(tmp_path: Path) -> None:
    earnest = Path(sys.executable).parent / "earnest"
    out = tmp_path / "report"
    result = subprocess.run(
        [str(earnest), "demo", "--visitors", "2400", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = result.stdout
    # Decisions with reasons; a forged consent change refused; a withdrawal in force at once.
    assert "identity_uncertain" in text and "unknown_placement" in text
    assert "(the signature no longer matches): 401" in text
    assert re.search(r"the very next decision: no_consent", text)
    # The report found the variant simulated at 3 % against a 10 % holdout, and paused it.
    assert re.search(r"pause_variant\s+search-landing-recs/bundles: loses_to_default", text)
    after = text.split("after the report:")[1].splitlines()[0]
    assert "bundles" not in after and "popular" in after
    # The functions' logs went to their file, not into the demo's output.
    assert '"_aws"' not in text and (out / "functions.log").stat().st_size > 0
    html = (out / "index.html").read_text()
    assert "search-landing-recs" in html and "<svg" in html
