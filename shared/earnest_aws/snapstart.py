"""decide's init: set up without the garbage collector; SnapStart's hook, what a function
restored from a snapshot must redo first.

A snapshot freezes the end of init: AWS clients with their open connections, and the rules
as they stood when the version was published, possibly days ago. After a restore the
connections are dead, so the clients are dropped and connected again, and the rules are
reloaded at once rather than served stale until their TTL runs out. Both run inside the
restore (10 s budget), not on the first visitor's request.

Registered through `snapshot_restore_py`, which the Lambda Python runtime ships; where it
is absent (locally, in tests, without SnapStart) `register` does nothing.

`init_phase`: creating a client loads botocore's service models, some hundred thousand
objects; a collection in the middle of it finds no garbage and costs the cold start about
15 ms (bench/bench_decide.py, docs/decide.md "Speed"). What init built lives as long as
the process, so it is then frozen out of every later collection: no request pays for
scanning it either.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from earnest_aws import clients


@contextmanager
def init_phase() -> Iterator[None]:
    """No collection while the block runs; what it leaves alive is then frozen."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        if was_enabled:
            gc.enable()


def after_restore(reload_rules: Callable[[], Any]) -> None:
    """New connections (and credentials) for the restored process, then fresh rules."""
    clients.reset()
    clients.client("dynamodb")
    reload_rules()


def register(reload_rules: Callable[[], Any]) -> bool:
    """Run `after_restore(reload_rules)` after every restore; False where there are no hooks."""
    try:
        from snapshot_restore_py import register_after_restore  # type: ignore[import-untyped]
    except ImportError:
        return False
    register_after_restore(after_restore, reload_rules)
    return True
