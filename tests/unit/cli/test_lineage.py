"""This checkout's record of what it pushed keeps every push's entry when several pushes
from one checkout run at once (two terminals, a script, the suite's workers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from earnest_cli import lineage

WRITERS = 6
ITEMS_EACH = 15

_WRITER = """
import sys
from pathlib import Path
from earnest_cli import lineage
writer, items, folder = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
for i in range(items):
    item = ("experience", f"w{writer}-{i}")
    lineage.remember("store", {item: (folder / f"{writer}.yaml", i + 1)})
"""


def test_pushes_at_once_from_one_checkout_lose_no_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one state folder shared by several processes that each record their pushes
    state = tmp_path / "state"
    env = {**os.environ, "EARNEST_STATE_DIR": str(state)}
    # When they all record at once, one item at a time
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(w), str(ITEMS_EACH), str(tmp_path)],
            env=env,
        )
        for w in range(WRITERS)
    ]
    assert all(w.wait(timeout=60) == 0 for w in writers)
    # Then every item of every writer is recorded at its version, and the file is whole
    record = json.loads((state / "lineage.json").read_text())
    assert len(record) == WRITERS * ITEMS_EACH
    monkeypatch.setenv("EARNEST_STATE_DIR", str(state))
    for w in range(WRITERS):
        for i in range(ITEMS_EACH):
            found = lineage.lineage("store", tmp_path / f"{w}.yaml", "experience", f"w{w}-{i}")
            assert found.recorded == i + 1
