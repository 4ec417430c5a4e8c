"""Every setting the functions read, declared once: name, default, bounds, meaning, readers.

The one settings module. Each setting is declared here (`DECLARED`, and the CMPs' secrets
and purpose tables from the CMP registry, `declared()`), read once at cold start through
its declaration, and a missing or malformed value fails the start naming the setting.
Each function's settings are a frozen dataclass reading the declarations: `Settings`
(what every function shares), `DecideSettings`, `EventsSettings`, `ConsentSettings`, and
the nightly report's options and Athena's (`report_options`, `athena_options`; their
classes live with the report). docs/settings.md's table is generated from the
declarations (earnest_aws.settings_table) and checked by tests/unit/test_settings.py.

Frozen dataclasses rather than pydantic-settings: decide imports this on its cold path and
pydantic-settings alone costs more to import than the whole decide handler may (see
docs/dependencies.md). Every value is still typed, bounded and named in its error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from earnest_aws.clients import ON_DECIDE, ON_REQUEST, Timeouts
from earnest_aws.secrets import ConfigError as ConfigError
from earnest_aws.secrets import parse_key, secret_setting
from earnest_aws.secrets import parse_keys as parse_keys
from earnest_aws.secrets import read_secret_parameter as read_secret_parameter
from earnest_aws.secrets import secret_entries as secret_entries

if TYPE_CHECKING:
    from earnest.events.batch import Limits

T = TypeVar("T")
N = TypeVar("N", int, float)

DECIDE, EVENTS, CONSENT, REPORT = "decide", "record-exposure", "consent-update", "nightly-report"
ALL = (DECIDE, EVENTS, CONSENT, REPORT)


class Env:
    """The environment a function starts with (os.environ unless given)."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = os.environ if env is None else env

    def raw(self, name: str) -> str:
        return self.env.get(name, "").strip()


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable: its default, what it means, which functions use it."""

    name: str
    default: T
    meaning: str
    used_by: tuple[str, ...]

    def read(self, env: Env) -> T:
        raw = env.raw(self.name)
        return self.parse(raw) if raw else self.default

    def parse(self, raw: str) -> T:
        raise NotImplementedError

    def bounds(self) -> str:
        """The values it accepts, as the settings table says them."""
        return ""

    def shown_default(self) -> str:
        return f"`{self.default}`" if self.default not in ("", None, ()) else "—"


@dataclass(frozen=True)
class Text(Setting[str]):
    required_when: str = ""  # e.g. "REPORT_AGGREGATION=athena": then it must be set

    def parse(self, raw: str) -> str:
        return raw

    def require(self, env: Env) -> str:
        value = env.raw(self.name)
        if not value:
            raise ConfigError(f"{self.name} must be set when {self.required_when}")
        return value

    def bounds(self) -> str:
        return f"required when {self.required_when}" if self.required_when else ""


@dataclass(frozen=True)
class Bounded(Setting[N]):
    lo: N
    hi: N

    def parse(self, raw: str) -> N:
        kind = type(self.default)
        try:
            value = kind(raw)  # int("7.9") fails: an integer is written as one
        except ValueError:
            noun = "an integer" if kind is int else "a number"
            raise ConfigError(f"{self.name} must be {noun}, got {raw!r}") from None
        if not self.lo <= value <= self.hi:  # also refuses nan
            raise ConfigError(f"{self.name} must be within [{self.bounds(', ')}], got {value}")
        return value

    def bounds(self, between: str = " – ") -> str:
        lo, hi = (int(x) if float(x).is_integer() else x for x in (self.lo, self.hi))
        return f"{lo}{between}{hi}"


@dataclass(frozen=True)
class Choice(Setting[str]):
    options: tuple[str, ...] = ()

    def parse(self, raw: str) -> str:
        if raw not in self.options:
            raise ConfigError(f"{self.name} must be one of {', '.join(self.options)}, got {raw!r}")
        return raw

    def bounds(self) -> str:
        return " · ".join(f"`{o}`" for o in self.options)


@dataclass(frozen=True)
class Secret(Setting[tuple[str, ...]]):
    """`secret,secret`, or in AWS the SSM SecureString `<name>_PARAM` names. Unset: ()."""

    min_chars: int = 1
    missing_ok: bool = False  # a parameter that does not exist means "not connected"
    parameter: str = ""  # the SSM parameter the template names, for the table

    def read(self, env: Env, read: Callable[[str], str] | None = None) -> tuple[str, ...]:
        return secret_setting(env.env, self.name, self.min_chars, read, self.missing_ok)

    def bounds(self) -> str:
        each = f", each ≥ {self.min_chars} characters" if self.min_chars > 1 else ""
        where = f" (the template's: `{self.parameter}`)" if self.parameter else ""
        return f"comma-separated{each}; or `{self.name}_PARAM`: the SSM SecureString{where}"


DECLARED: dict[str, Setting[Any]] = {}
S = TypeVar("S", bound=Setting[Any])


def declare(setting: S) -> S:
    """Add a setting to the one list; a name declared twice is a bug."""
    if setting.name in DECLARED:
        raise ValueError(f"{setting.name} is declared twice")
    DECLARED[setting.name] = setting
    return setting


# The declarations, one per setting: name, default, meaning, who uses it, then its bounds.
# fmt: off
EXPERIENCES_TABLE = declare(Text(
    "EXPERIENCES_TABLE", "earnest-experiences", "the experiences table", ALL))
CONSENT_TABLE = declare(Text("CONSENT_TABLE", "earnest-consent", "the consent table", ALL))
EVENTS_BUCKET = declare(Text(
    "EVENTS_BUCKET", "earnest-data", "the bucket of events and reports", ALL))
SERVICE = declare(Text(
    "POWERTOOLS_SERVICE_NAME", "earnest", "the service named in logs and metrics", ALL))
METRICS_NAMESPACE = declare(Text(
    "POWERTOOLS_METRICS_NAMESPACE", "Earnest", "the CloudWatch metrics namespace", ALL))
CONSENT_REGIME = declare(Choice(  # the options are earnest.consent.purposes.REGIMES
    "CONSENT_REGIME", "opt_in", "consent where nothing is known: opt_in denies, opt_out grants",
    (DECIDE, EVENTS, REPORT), options=("opt_in", "opt_out")))
EXPOSURE_TOKEN_KEYS = declare(Secret(
    "EXPOSURE_TOKEN_KEYS", (), "`kid:secret,…` signing exposure tokens: the first signs, all "
    "verify", (DECIDE, EVENTS)))
TOKEN_TTL_SECONDS = declare(Bounded(
    "TOKEN_TTL_SECONDS", 86_400, "how long an exposure token verifies", (DECIDE, EVENTS),
    lo=60, hi=30 * 86_400))
FRONT_DOOR_SECRET = declare(Secret(
    "FRONT_DOOR_SECRET", (), "the CDN's shared secret(s) in `x-earnest-edge-secret` "
    "(FrontDoor=header); unset: CloudFront's IAM is the front door", (DECIDE, EVENTS),
    min_chars=32))
AWS_CONNECT_TIMEOUT = declare(Bounded(
    "AWS_CONNECT_TIMEOUT", 0.0, "seconds every AWS call may take to connect; 0: each caller's "
    "own budget (docs/reliability.md: decide's consent read 0.15, /events and /consent 0.25, "
    "the rules refresh 0.5, the report and the CLI 1)", (*ALL, "the CLI"), lo=0.0, hi=60.0))
AWS_READ_TIMEOUT = declare(Bounded(
    "AWS_READ_TIMEOUT", 0.0, "seconds every AWS call may wait for each read; 0: each caller's "
    "own budget (decide's consent read 0.2, /events and /consent 0.5, the rules refresh 1, "
    "the report and the CLI 2)", (*ALL, "the CLI"), lo=0.0, hi=300.0))
AWS_MAX_ATTEMPTS = declare(Bounded(
    "AWS_MAX_ATTEMPTS", 0, "attempts every AWS call may make; 0: each caller's own (one on "
    "the request paths, two for the rules refresh, three for the report and the CLI)",
    (*ALL, "the CLI"), lo=0, hi=10))
# decide
RULES_TTL_SECONDS = declare(Bounded(
    "RULES_TTL_SECONDS", 30.0, "how often decide re-reads the rules (docs/decide.md), and "
    "record-exposure the experiences whose exposures memory counts (docs/events.md)",
    (DECIDE, EVENTS), lo=0.0, hi=3600.0))
RULES_WAIT_SECONDS = declare(Bounded(
    "RULES_WAIT_SECONDS", 0.1, "how long a request that finds the rules past their TTL waits "
    "for the refresh before answering the defaults: the freshness bound's margin",
    (DECIDE,), lo=0.0, hi=1.0))
GLOBAL_HOLDOUT = declare(Bounded(
    "GLOBAL_HOLDOUT", 0.05, "the share of units never personalized", (DECIDE, REPORT),
    lo=0.0, hi=0.5))
MAX_BODY_BYTES = declare(Bounded(
    "MAX_BODY_BYTES", 64 * 1024, "the largest /decide body", (DECIDE,),
    lo=1024, hi=6 * 1024 * 1024))
MAX_PLACEMENTS = declare(Bounded(
    "MAX_PLACEMENTS", 20, "placements one /decide may ask for", (DECIDE,), lo=1, hi=200))
# record-exposure: the defaults are the SPEC's (earnest.events.batch.LIMITS), only lowered
EVENTS_MAX_PER_REQUEST = declare(Bounded(
    "EVENTS_MAX_PER_REQUEST", 500, "events one /events may carry", (EVENTS,), lo=1, hi=500))
EVENTS_MAX_BODY_BYTES = declare(Bounded(
    "EVENTS_MAX_BODY_BYTES", 1024 * 1024, "the largest /events body", (EVENTS,),
    lo=1024, hi=1024 * 1024))
EVENTS_MAX_FUTURE_SECONDS = declare(Bounded(
    "EVENTS_MAX_FUTURE_SECONDS", 300, "how far ahead of now an event's `ts` may be",
    (EVENTS, REPORT), lo=0, hi=3600))
EVENTS_MAX_AGE_SECONDS = declare(Bounded(
    "EVENTS_MAX_AGE_SECONDS", 72 * 3600, "how old an event's `ts` may be", (EVENTS, REPORT),
    lo=60, hi=30 * 86_400))
# consent-update (the CMPs' secrets and purpose tables: `cmp_settings`)
CONSENT_MAX_BODY_BYTES = declare(Bounded(
    "CONSENT_MAX_BODY_BYTES", 1024 * 1024, "the largest /consent body (100 updates with TC "
    "strings fit)", (CONSENT,), lo=1024, hi=6 * 1024 * 1024))
CONSENT_SECRETS_TTL_SECONDS = declare(Bounded(
    "CONSENT_SECRETS_TTL_SECONDS", 300, "how often the CMPs' secrets are re-read (a rotation "
    "needs no deployment)", (CONSENT,), lo=0, hi=86_400))
# nightly-report
REPORT_LOOKBACK_DAYS = declare(Bounded(
    "REPORT_LOOKBACK_DAYS", 28, "the program's window, and experiences without an allocation",
    (REPORT,), lo=1, hi=400))
REPORT_PROGRAM_ATTRIBUTION_DAYS = declare(Bounded(
    "REPORT_PROGRAM_ATTRIBUTION_DAYS", 7, "days after exposure a conversion counts for the "
    "program", (REPORT,), lo=1, hi=90))
REPORT_FDR = declare(Choice(
    "REPORT_FDR", "off", "`bh`: Benjamini-Hochberg across the program's experiences",
    (REPORT,), options=("off", "bh")))
REPORT_PRE_EXPOSURE_DAYS = declare(Bounded(
    "REPORT_PRE_EXPOSURE_DAYS", 14, "days before exposure whose conversions are CUPED's "
    "covariate (0: none)", (REPORT,), lo=0, hi=90))
REPORT_AGGREGATION = declare(Choice(  # earnest.report.sources.AGGREGATIONS
    "REPORT_AGGREGATION", "python", "where the window's totals are computed: in the "
    "function, or as one Athena query", (REPORT,), options=("python", "athena")))
_ATHENA = "REPORT_AGGREGATION=athena"
REPORT_ATHENA_WORKGROUP = declare(Text(
    "REPORT_ATHENA_WORKGROUP", "", "the Athena workgroup", (REPORT,), required_when=_ATHENA))
REPORT_ATHENA_DATABASE = declare(Text(
    "REPORT_ATHENA_DATABASE", "", "the Glue database of the events table", (REPORT,),
    required_when=_ATHENA))
REPORT_ATHENA_TABLE = declare(Text(
    "REPORT_ATHENA_TABLE", "events", "the events table in it", (REPORT,)))
REPORT_ATHENA_OUTPUT = declare(Text(
    "REPORT_ATHENA_OUTPUT", "", "`s3://bucket/prefix/` for results (unset: the workgroup's)",
    (REPORT,)))
REPORT_ATHENA_TIMEOUT_SECONDS = declare(Bounded(  # 840: the function's 900 s, less a minute
    "REPORT_ATHENA_TIMEOUT_SECONDS", 600.0, "how long the query may run before it is stopped",
    (REPORT,), lo=1.0, hi=840.0))
# fmt: on


def declared() -> list[Setting[Any]]:
    """Every setting: the ones above and each registered CMP's (its secret, its purposes)."""
    return [*DECLARED.values(), *cmp_settings().values()]


@cache
def cmp_settings() -> dict[str, Setting[Any]]:
    """Each registered CMP's secret and purpose-table settings, declared from the registry
    (earnest.consent.cmp.registry); only consent-update and the docs load it."""
    from earnest.consent.cmp.registry import CMPS

    out: dict[str, Setting[Any]] = {}
    for cmp in CMPS:
        out[cmp.secret] = Secret(
            cmp.secret,
            (),
            cmp.secret_meaning,
            (CONSENT,),
            min_chars=cmp.min_secret_chars,
            missing_ok=True,
            parameter=f"<ConsentSecretsPath>/{cmp.parameter}",
        )
        if cmp.purposes_setting:
            unset = "the built-in table, docs/consent.md" if cmp.default_purposes else "none"
            out[cmp.purposes_setting] = Text(
                cmp.purposes_setting,
                "",
                f"{cmp.title}'s purpose codes → Earnest's purposes, `code:purpose,…` "
                f"(unset: {unset})",
                (CONSENT,),
            )
    return out


# ------------------------------------------------------------------ each function's
@dataclass(frozen=True)
class Settings:
    """What every function shares: where things are, the consent regime, the token keys."""

    experiences_table: str = EXPERIENCES_TABLE.default
    consent_table: str = CONSENT_TABLE.default
    events_bucket: str = EVENTS_BUCKET.default
    rules_ttl_seconds: float = RULES_TTL_SECONDS.default
    rules_wait_seconds: float = RULES_WAIT_SECONDS.default
    global_holdout: float = GLOBAL_HOLDOUT.default
    consent_regime: str = CONSENT_REGIME.default
    exposure_token_keys: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    token_ttl_seconds: int = TOKEN_TTL_SECONDS.default
    max_body_bytes: int = MAX_BODY_BYTES.default
    max_placements: int = MAX_PLACEMENTS.default
    service: str = SERVICE.default

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        return cls(**cls._read(Env(env)))

    @classmethod
    def _read(cls, env: Env) -> dict[str, Any]:
        """The fields this class adds, read from `env`; subclasses extend it."""
        keys = EXPOSURE_TOKEN_KEYS
        where = keys.name if keys.name in env.env else f"{keys.name}_PARAM"
        return {
            "experiences_table": EXPERIENCES_TABLE.read(env),
            "consent_table": CONSENT_TABLE.read(env),
            "events_bucket": EVENTS_BUCKET.read(env),
            "rules_ttl_seconds": RULES_TTL_SECONDS.read(env),
            "rules_wait_seconds": RULES_WAIT_SECONDS.read(env),
            "global_holdout": GLOBAL_HOLDOUT.read(env),
            "consent_regime": CONSENT_REGIME.read(env),
            "exposure_token_keys": tuple(parse_key(e, where) for e in keys.read(env)),
            "token_ttl_seconds": TOKEN_TTL_SECONDS.read(env),
            "max_body_bytes": MAX_BODY_BYTES.read(env),
            "max_placements": MAX_PLACEMENTS.read(env),
            "service": SERVICE.read(env),
        }

    def require_token_keys(self) -> tuple[tuple[str, bytes], ...]:
        if not self.exposure_token_keys:
            raise ConfigError(
                "no exposure token keys: set EXPOSURE_TOKEN_KEYS (kid:secret,...) or "
                "EXPOSURE_TOKEN_KEYS_PARAM (an SSM SecureString holding the same)"
            )
        return self.exposure_token_keys


@dataclass(frozen=True)
class DecideSettings(Settings):
    """decide: the shared parts, and the consent read's budget (one short attempt)."""

    consent_timeouts: Timeouts = ON_DECIDE


def with_overrides(timeouts: Timeouts, env: Mapping[str, str] | None = None) -> Timeouts:
    """A caller's budget, with AWS_CONNECT_TIMEOUT, AWS_READ_TIMEOUT and AWS_MAX_ATTEMPTS in
    its place when set (an operator's choice, or the local stack's patience with a loaded
    machine's moto)."""
    read = Env(env)
    connect, each_read = AWS_CONNECT_TIMEOUT.read(read), AWS_READ_TIMEOUT.read(read)
    attempts = AWS_MAX_ATTEMPTS.read(read)
    return Timeouts(
        connect or timeouts.connect, each_read or timeouts.read, attempts or timeouts.attempts
    )


def _spec_limits() -> Limits:
    from earnest.events.batch import LIMITS  # lazy: only record-exposure loads events

    return LIMITS


@dataclass(frozen=True)
class EventsSettings(Settings):
    """record-exposure: the shared parts and its batch limits; its AWS calls (one consent
    read, one PUT) get one short attempt each, so a hung dependency answers 503 in time."""

    limits: Limits = field(default_factory=_spec_limits)
    timeouts: Timeouts = ON_REQUEST

    @classmethod
    def _read(cls, env: Env) -> dict[str, Any]:
        from earnest.events.batch import Limits

        limits = Limits(
            max_events=EVENTS_MAX_PER_REQUEST.read(env),
            max_body_bytes=EVENTS_MAX_BODY_BYTES.read(env),
            max_future_seconds=EVENTS_MAX_FUTURE_SECONDS.read(env),
            max_age_seconds=EVENTS_MAX_AGE_SECONDS.read(env),
        )
        return {**super()._read(env), "limits": limits}


@dataclass(frozen=True)
class ConsentSettings(Settings):
    """consent-update: the shared parts, its body limit and how often secrets are re-read.

    Its body limit is larger than decide's: a batch of 100 updates with long TC strings fits.
    """

    max_body_bytes: int = CONSENT_MAX_BODY_BYTES.default
    secrets_ttl_seconds: int = CONSENT_SECRETS_TTL_SECONDS.default
    timeouts: Timeouts = ON_REQUEST  # a hung table answers 503 within 2 s; the CMP retries

    @classmethod
    def _read(cls, env: Env) -> dict[str, Any]:
        return {
            **super()._read(env),
            "max_body_bytes": CONSENT_MAX_BODY_BYTES.read(env),
            "secrets_ttl_seconds": CONSENT_SECRETS_TTL_SECONDS.read(env),
        }


def report_options(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The nightly report's options (earnest_aws.nightly_report.ReportOptions' fields)."""
    read = Env(env)
    aggregation = REPORT_AGGREGATION.read(read)
    return {
        "lookback_days": REPORT_LOOKBACK_DAYS.read(read),
        # The partitions after the day and before a span's start that may hold its events:
        # as late and as early as /events accepts an event's time.
        "late_days": -(-EVENTS_MAX_AGE_SECONDS.read(read) // 86_400),
        "early_seconds": EVENTS_MAX_FUTURE_SECONDS.read(read),
        "program_attribution_days": REPORT_PROGRAM_ATTRIBUTION_DAYS.read(read),
        "false_discovery_rate": REPORT_FDR.read(read) == "bh",
        "pre_exposure_days": REPORT_PRE_EXPOSURE_DAYS.read(read),
        "aggregation": aggregation,
        "athena": athena_options(read) if aggregation == "athena" else None,
    }


def athena_options(env: Env) -> dict[str, Any]:
    """Where the report's query runs (earnest_aws.athena.AthenaSettings' fields)."""
    return {
        "workgroup": REPORT_ATHENA_WORKGROUP.require(env),
        "database": REPORT_ATHENA_DATABASE.require(env),
        "table": REPORT_ATHENA_TABLE.read(env),
        "output": REPORT_ATHENA_OUTPUT.read(env),
        "timeout_seconds": REPORT_ATHENA_TIMEOUT_SECONDS.read(env),
    }


@cache
def settings() -> Settings:
    return Settings.from_env()
