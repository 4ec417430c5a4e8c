"""One settings reader: every function reads an integer the same way, and a setting that is
not one fails the cold start naming it (never silently truncated)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from earnest_aws.clients import ON_DECIDE, Timeouts
from earnest_aws.consent_config import load as consent_load
from earnest_aws.front_door import load_secrets
from earnest_aws.metrics import Counts
from earnest_aws.nightly_report import ReportOptions
from earnest_aws.settings import (
    ConfigError,
    ConsentSettings,
    DecideSettings,
    EventsSettings,
    Settings,
    declared,
    with_overrides,
)
from earnest_aws.settings_table import BEGIN, END, with_table
from tests.builders.edge_bindings import bindings_documented
from tests.conftest import ROOT

READERS = (
    Settings.from_env,
    DecideSettings.from_env,
    EventsSettings.from_env,
    ConsentSettings.from_env,
)


@pytest.mark.parametrize("read", READERS)
def test_max_placements_of_7_point_9_is_a_config_error_in_every_function(read: object) -> None:
    with pytest.raises(ConfigError, match="MAX_PLACEMENTS must be an integer"):
        read({"MAX_PLACEMENTS": "7.9"})  # type: ignore[operator]


@pytest.mark.parametrize("read", READERS)
def test_every_function_shares_the_common_parts(read: object) -> None:
    got = read({"MAX_PLACEMENTS": " 7 ", "CONSENT_REGIME": "opt_out"})  # type: ignore[operator]
    assert (got.max_placements, got.consent_regime) == (7, "opt_out")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EVENTS_MAX_PER_REQUEST": "100.0"}, "EVENTS_MAX_PER_REQUEST must be an integer"),
        ({"CONSENT_MAX_BODY_BYTES": "1e6"}, "CONSENT_MAX_BODY_BYTES must be an integer"),
        ({"REPORT_LOOKBACK_DAYS": "7.5"}, "REPORT_LOOKBACK_DAYS must be an integer"),
        ({"TOKEN_TTL_SECONDS": "59"}, r"TOKEN_TTL_SECONDS must be within \[60"),
        ({"CONSENT_REGIME": "gdpr"}, "CONSENT_REGIME must be one of opt_in, opt_out"),
        ({"GLOBAL_HOLDOUT": "nan"}, "GLOBAL_HOLDOUT must be within"),
    ],
)
def test_a_malformed_setting_names_itself(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        EventsSettings.from_env(env)
        ConsentSettings.from_env(env)
        ReportOptions.from_env(env)


def test_each_function_adds_its_own_parts_to_the_shared_ones() -> None:
    events = EventsSettings.from_env({"EVENTS_MAX_PER_REQUEST": "100"})
    consent = ConsentSettings.from_env({"CONSENT_SECRETS_TTL_SECONDS": "60"})
    assert events.limits.max_events == 100
    assert (consent.max_body_bytes, consent.secrets_ttl_seconds) == (1024 * 1024, 60)
    assert DecideSettings.from_env({}).consent_timeouts.attempts == 1


def test_the_reports_pre_exposure_days_default_to_14_and_are_bounded() -> None:
    assert ReportOptions.from_env({}).pre_exposure_days == 14
    assert ReportOptions.from_env({"REPORT_PRE_EXPOSURE_DAYS": "0"}).pre_exposure_days == 0
    with pytest.raises(ConfigError, match="REPORT_PRE_EXPOSURE_DAYS must be within"):
        ReportOptions.from_env({"REPORT_PRE_EXPOSURE_DAYS": "91"})


@pytest.mark.parametrize("raw", ["", ",", " ", " , ", "k1:exposure-token-secret-01,", "k1:"])
def test_blank_or_unparsable_exposure_token_keys_fail_the_cold_start_naming_them(
    raw: str,
) -> None:
    with pytest.raises(ConfigError, match="EXPOSURE_TOKEN_KEYS"):
        Settings.from_env({"EXPOSURE_TOKEN_KEYS": raw})


def test_the_docs_settings_table_is_the_declared_one() -> None:
    doc = (ROOT / "docs" / "settings.md").read_text()
    assert BEGIN in doc and END in doc
    assert doc == with_table(doc), "regenerate: python -m earnest_aws.settings_table --write"


class Recording(dict[str, str]):
    """An environment that remembers every name a reader looked up."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.seen: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.seen.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.seen.add(str(key))
        return super().__contains__(key)


def test_every_declared_setting_is_read_by_a_function() -> None:
    """Nothing declared (so nothing in the table) that no function reads."""
    env = Recording({"REPORT_AGGREGATION": "athena", "REPORT_ATHENA_WORKGROUP": "w",
                     "REPORT_ATHENA_DATABASE": "d"})  # fmt: skip
    for read in (*READERS, ReportOptions.from_env, load_secrets, consent_load):
        read(env)  # type: ignore[operator]
    Counts("svc", namespace=None, env=env)
    with_overrides(Timeouts(), env)
    assert {s.name for s in declared()} - env.seen == set()


# Names in backticks that the docs use for something other than a function's setting.
NOT_SETTINGS = {
    # AWS's own, and the CLI's (docs/cli.md)
    "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "EARNEST_ACTOR", "EARNEST_STATE_DIR", "LD_PRELOAD",
    # code constants, states, git's and HTTP methods
    "HEAD",
    "MAX_VALUE", "MAX_ANALYSIS_DAYS", "MIN_CONVERSIONS_PER_ARM", "MAX_REGEX_INPUT",
    "GUARDRAIL_MARGIN", "STATUS_BY_ERROR", "LAYER_ROOTS", "UNOWNED", "OVERDUE",
    "ON_REQUEST", "ON_DECIDE",
    "POST", "PATCH", "DELETE", "OPTIONS",
}  # fmt: skip


def test_no_doc_names_a_setting_that_nothing_reads() -> None:
    """docs/cli.md documented AWS_CONNECT_TIMEOUT and AWS_READ_TIMEOUT, which nothing read."""
    names = {s.name for s in declared()}
    # the edge worker's bindings are its own (clients/edge-worker/README.md, its table)
    readable = names | {f"{n}_PARAM" for n in names} | NOT_SETTINGS | bindings_documented()
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found = {
        (doc.name, name.removesuffix("_*"))
        for doc in docs
        for name in re.findall(r"`([A-Z][A-Z0-9_]{3,}(?:_\*)?)`", doc.read_text())
    }
    unread = sorted(
        (doc, name)
        for doc, name in found
        if name not in readable and not any(n.startswith(f"{name}_") for n in names)
    )
    assert unread == []


def test_the_report_options_default_to_the_declared_defaults() -> None:
    declared_defaults = ReportOptions.from_env({})
    assert declared_defaults == ReportOptions()


def test_aws_timeouts_override_every_callers_budget_only_when_set() -> None:
    """docs/cli.md documented AWS_CONNECT_TIMEOUT and AWS_READ_TIMEOUT; now they are read."""
    assert with_overrides(ON_DECIDE, {}) == ON_DECIDE
    patient = with_overrides(ON_DECIDE, {"AWS_CONNECT_TIMEOUT": "1", "AWS_READ_TIMEOUT": "2"})
    assert (patient.connect, patient.read, patient.attempts) == (1.0, 2.0, ON_DECIDE.attempts)
    assert with_overrides(ON_DECIDE, {"AWS_MAX_ATTEMPTS": "3"}).attempts == 3
    with pytest.raises(ConfigError, match="AWS_READ_TIMEOUT must be a number"):
        with_overrides(ON_DECIDE, {"AWS_READ_TIMEOUT": "2s"})
