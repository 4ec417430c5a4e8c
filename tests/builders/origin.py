"""The origin's verification helper (clients/origin/earnest_origin.py), imported from where
a site copies it from, and decisions headers signed as the edge worker signs them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

HELPER = Path(__file__).resolve().parents[2] / "clients" / "origin" / "earnest_origin.py"


def origin_helper() -> ModuleType:
    spec = importlib.util.spec_from_file_location("earnest_origin", HELPER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def signed_headers(decisions: dict[str, Any], secret: str, t: int) -> dict[str, str]:
    """The two headers as clients/edge-worker/src/core.js `signedDecisions` writes them."""
    value = json.dumps(decisions, separators=(",", ":"))
    mac = hmac.new(secret.encode(), f"{t}.{value}".encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    return {"x-earnest-decisions": value, "x-earnest-signature": f"t={t},v1={signature}"}
