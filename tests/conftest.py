"""Fixtures shared by every layer of tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# No per-example deadline: it is a timed assertion, and on a shared, loaded machine a
# correct example can take longer than 200 ms (speed is measured in bench/, not here).
settings.register_profile("earnest", deadline=None)
settings.load_profile("earnest")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"  # the spec and conformance data beside the project
EXAMPLES = ROOT / "examples" / "experiences"

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "EXPOSURE_TOKEN_KEYS": "test:test-exposure-token-secret-0001",
    "POWERTOOLS_METRICS_NAMESPACE": "Earnest",
}


@pytest.fixture(autouse=True)
def checkout_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's CLI keeps its record of what it pushed (`.earnest/`) in a folder of its
    own, not in the checkout that runs the suite, which every worker would share."""
    folder = tmp_path / "checkout-record"
    monkeypatch.setenv("EARNEST_STATE_DIR", str(folder))
    return folder


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """In-process moto with the template's tables and bucket; yields the Settings."""
    from moto import mock_aws

    for key, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from earnest_aws.clients import client, reset
    from earnest_aws.settings import settings
    from earnest_cli.template import create_resources

    with mock_aws():
        reset()
        settings.cache_clear()
        create_resources(client("dynamodb"), client("s3"), settings())
        yield settings()
    reset()
    settings.cache_clear()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long tests first, in their collection order, then the rest in theirs: under
    xdist's worksteal (`make test`) they start at once on one worker while the other works
    through the short ones and takes over the first's queue, instead of one of them starting
    last and running alone at the end of the pass."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
