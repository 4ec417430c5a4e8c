"""FrontDoor=header: decide and record-exposure admit only requests carrying the CDN's
secret (checked before any work); with no secret configured, CloudFront's IAM decides."""

from __future__ import annotations

from typing import Any

import pytest

from earnest_aws.settings import ConfigError
from earnest_cli.local_stack import load_handler
from tests.builders.experiences import request
from tests.builders.handlers import invoke

SECRET = "edge-secret-0123456789abcdef-0123456789"
OLD = "edge-secret-being-rotated-out-0123456789"


@pytest.mark.parametrize(("folder", "body"), [("decide", request()), ("events", {"events": []})])
def test_only_requests_through_the_front_door_are_served(
    aws: Any, monkeypatch: pytest.MonkeyPatch, folder: str, body: dict[str, Any]
) -> None:
    monkeypatch.setenv("FRONT_DOOR_SECRET", f"{SECRET},{OLD}")
    app = "record_exposure" if folder == "events" else folder
    handler = load_handler(app)
    status, _, answer = invoke(app, body, handler=handler)
    assert (status, answer["error"]["field"]) == (401, "x-earnest-edge-secret")
    wrong = invoke(app, body, {"x-earnest-edge-secret": SECRET[:-1] + "x"}, handler=handler)
    assert wrong[0] == 401
    for secret in (SECRET, OLD):  # both valid during a rotation
        assert invoke(app, body, {"x-earnest-edge-secret": secret}, handler=handler)[0] < 300


def test_without_a_configured_secret_nothing_is_checked(aws: Any) -> None:
    assert invoke("decide", request())[0] == 200


@pytest.mark.parametrize("app", ["decide", "record_exposure"])
def test_a_blank_front_door_secret_fails_the_cold_start_naming_it(
    aws: Any, monkeypatch: pytest.MonkeyPatch, app: str
) -> None:
    monkeypatch.setenv("FRONT_DOOR_SECRET", " , ")
    with pytest.raises(ConfigError, match="FRONT_DOOR_SECRET"):
        load_handler(app)
