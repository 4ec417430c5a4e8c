"""Secret settings: read from the variable (local) or the SSM SecureString it names (AWS).

Part of the one settings module (`earnest_aws.settings`, which declares every secret
setting and re-exports these): how a set secret is read and checked (`secret_setting`,
`secret_entries`), and the exposure token keys' `kid:secret` entries (`parse_keys`). A
missing or malformed value is a `ConfigError` naming the setting, at cold start.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping


class ConfigError(RuntimeError):
    """A missing or malformed setting; raised at cold start, never per request."""


def secret_entries(raw: str, name: str, min_chars: int = 1) -> tuple[str, ...]:
    """A set secret setting, `secret,secret`: every entry a secret of `min_chars` or more.

    Set means meant: a value holding no secret (`,`, ` `), an empty entry (a stray comma)
    or a short one is a ConfigError naming the setting, never read as "no secrets" (which
    would admit everything at the front door, or disconnect a CMP without a word).
    """
    parts = [part.strip() for part in raw.split(",")]
    if not any(parts):
        raise ConfigError(f"{name} is set but holds no secret")
    if not all(parts):
        raise ConfigError(f"{name} has an empty entry (a stray comma?)")
    if any(len(part) < min_chars for part in parts):
        raise ConfigError(f"{name}: each secret must be at least {min_chars} characters")
    return tuple(parts)


def secret_setting(
    env: Mapping[str, str],
    name: str,
    min_chars: int,
    read: Callable[[str], str] | None = None,
    missing_ok: bool = False,
) -> tuple[str, ...]:
    """The secrets of setting `name`: the variable (local), else the SSM SecureString its
    `<name>_PARAM` names (AWS); () when neither is set. `missing_ok`: a parameter that does
    not exist means "not connected" (an optional CMP); any other failure is raised."""
    if name in env:
        return secret_entries(env[name], name, min_chars)
    parameter = env.get(f"{name}_PARAM")
    if parameter is None:
        return ()
    if not parameter.strip():
        raise ConfigError(f"{name}_PARAM is set but names no parameter")
    try:
        raw = (read or read_secret_parameter)(parameter)
    except Exception as exc:
        from earnest_aws.aws_errors import error_code

        if missing_ok and error_code(exc) == "ParameterNotFound":
            return ()
        raise
    return secret_entries(raw, f"{name}_PARAM ({parameter})", min_chars)


def read_secret_parameter(name: str) -> str:
    """A SecureString from SSM Parameter Store, read once per cold start."""
    from earnest_aws.clients import client  # lazy: only deployments configured this way pay

    response = client("ssm").get_parameter(Name=name, WithDecryption=True)
    return str(response["Parameter"]["Value"])


def parse_keys(raw: str, name: str) -> tuple[tuple[str, bytes], ...]:
    """`kid:secret,kid:secret` -> ((kid, secret), ...); the first signs, all verify."""
    return tuple(parse_key(entry, name) for entry in secret_entries(raw, name))


def parse_key(entry: str, name: str) -> tuple[str, bytes]:
    kid, sep, secret = entry.partition(":")
    if not sep or not kid or len(secret) < 16:
        raise ConfigError(f"{name} entries must look like kid:secret (secret >= 16 chars)")
    return kid, secret.encode()
