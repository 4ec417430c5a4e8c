"""Creates the SSM SecureStrings a stage's functions read at cold start, before its first deploy.

The parameter names come from the stage's `parameter_overrides` in infra/samconfig.toml
(the template's defaults otherwise), so the stack and this script cannot disagree.

- the exposure-token keys and Earnest's own webhook secret are generated here (random,
  never printed) when they do not exist yet; `--rotate` prepends a new one and keeps the
  old, since every listed key verifies (drop the old one later with `aws ssm`);
- the CMP credentials are shared with the CMP, so they are taken from the environment
  under the setting each registered CMP names (earnest.consent.cmp.registry:
  CONSENT_DIDOMI_TOKENS, ...), as the functions read them; a CMP left unset is simply not
  connected;
- the front door's shared secret (FrontDoor=header) is generated like a key.

    python infra/bootstrap_secrets.py --stage dev [--rotate] [--kms-key-id alias/...]

A mistake (an unknown stage, no AWS credentials, an AWS error) is one line on stderr
naming the fix, exit 2.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from earnest.consent.cmp.registry import CMPS
from earnest.consent.cmp.source import SIGNED

ROOT = Path(__file__).resolve().parents[1]
SAMCONFIG = ROOT / "infra" / "samconfig.toml"
DEFAULTS = {  # the template's parameter defaults
    "ExposureTokenKeysParameter": "/earnest/exposure-token-keys",
    "ConsentSecretsPath": "/earnest/consent",
    "FrontDoorSecretParameter": "/earnest/front-door-secret",
}


def _token_key() -> str:
    return f"k{secrets.token_hex(3)}:{secrets.token_hex(32)}"


def _webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class Secret:
    """One SecureString: its name, and how a new value is made (None: from the operator)."""

    name: str
    generate: Callable[[], str] | None
    env: str = ""  # where an operator-provided value is read from


class Refused(Exception):
    """A mistake the operator can fix; its message says how."""


def stage_config(stage: str, samconfig: Path = SAMCONFIG) -> dict[str, Any]:
    config = tomllib.loads(samconfig.read_text())
    stages = sorted(
        name for name, entry in config.items() if isinstance(entry, dict) and "deploy" in entry
    )
    if stage not in stages:
        raise Refused(
            f"no stage {stage!r} in {samconfig.relative_to(ROOT)} (its stages: "
            f"{', '.join(stages)}); add a [{stage}.deploy.parameters] section or use one of them"
        )
    return dict(config[stage])


def stage_parameters(stage: str, samconfig: Path = SAMCONFIG) -> dict[str, str]:
    """The template parameters the stage overrides, over the template's defaults."""
    overrides = stage_config(stage, samconfig)["deploy"]["parameters"].get(
        "parameter_overrides", []
    )
    pairs = overrides.split() if isinstance(overrides, str) else overrides
    return {**DEFAULTS, **dict(pair.split("=", 1) for pair in pairs)}


def stage_secrets(parameters: Mapping[str, str]) -> list[Secret]:
    """Every SecureString the stage reads: the token keys, each registered CMP's (Earnest's
    own generated, the others from the operator), the front door's."""
    consent = parameters["ConsentSecretsPath"]
    return [
        Secret(parameters["ExposureTokenKeysParameter"], _token_key),
        *(
            Secret(f"{consent}/{cmp.parameter}", _webhook_secret)
            if cmp.auth == SIGNED
            else Secret(f"{consent}/{cmp.parameter}", None, cmp.secret)
            for cmp in CMPS
        ),
        Secret(parameters["FrontDoorSecretParameter"], lambda: secrets.token_urlsafe(32)),
    ]


def _current(ssm: Any, name: str) -> str | None:
    try:
        return str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return None


def bootstrap(
    ssm: Any,
    parameters: Mapping[str, str],
    env: Mapping[str, str],
    rotate: bool = False,
    kms_key_id: str | None = None,
) -> dict[str, str]:
    """Create (or rotate) each secret; returns what was done per name, never a value."""
    done: dict[str, str] = {}
    for secret in stage_secrets(parameters):
        current = _current(ssm, secret.name)
        if secret.generate is None:
            value = env.get(secret.env, "")
            if not value:
                done[secret.name] = "kept" if current else f"not connected (set {secret.env})"
                continue
            action = "kept" if value == current else ("updated" if current else "created")
        elif current is None:
            value, action = secret.generate(), "created"
        elif rotate:
            value, action = f"{secret.generate()},{current}", "rotated"
        else:
            done[secret.name] = "kept"
            continue
        if action != "kept":
            extra = {"KeyId": kms_key_id} if kms_key_id else {}
            ssm.put_parameter(
                Name=secret.name, Value=value, Type="SecureString", Overwrite=True, **extra
            )
        done[secret.name] = action
    return done


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except Refused as exc:
        return _fail(str(exc))
    except NoCredentialsError:
        return _fail(
            "no AWS credentials: export AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY), or run `aws configure`, for the stage's account"
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return _fail(f"AWS refused: {error.get('Code')}: {error.get('Message')}")
    except BotoCoreError as exc:
        return _fail(f"cannot reach AWS: {exc}")


def _fail(message: str) -> int:
    print(f"bootstrap_secrets: {message}", file=sys.stderr)
    return 2


def _run(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True, help="a config env of infra/samconfig.toml")
    parser.add_argument("--rotate", action="store_true", help="prepend new generated secrets")
    parser.add_argument("--kms-key-id", help="a customer-managed key (default: aws/ssm)")
    parser.add_argument("--region", help="default: the stage's region in samconfig.toml")
    args = parser.parse_args(argv)
    config = stage_config(args.stage)
    region = args.region or config.get("global", {}).get("parameters", {}).get("region")
    ssm = boto3.client("ssm", region_name=region)
    done = bootstrap(ssm, stage_parameters(args.stage), os.environ, args.rotate, args.kms_key_id)
    for name, action in done.items():
        print(f"{name}: {action}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
