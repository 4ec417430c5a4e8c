"""The `earnest` command against a deployed stack: its names from the stack, its report by URL.

`earnest --stack earnest-prod list` reads the stack's outputs (CloudFormation
DescribeStacks) into the environment variables every command already reads, so `push`,
`list`, `report` and `consent show` reach that stack's tables and bucket. Without
`--stack` the CLI keeps its local defaults (`earnest-experiences`, ...), which are the
local stack's names, not a deployed stage's (`earnest-experiences-<Stage>`).

The report sits in the private bucket; `latest_report_url` presigns the latest
`index.html` for a short while, so a person opens it in a browser without bucket access.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import Any

from earnest_aws.clients import client, reset
from earnest_aws.reports_store import LATEST, REPORTS_PREFIX
from earnest_aws.settings import settings
from earnest_cli.errors import CommandError

# Stack output -> the variable the CLI reads (template.yaml's Outputs declare each).
OUTPUTS = {
    "ExperiencesTableName": "EXPERIENCES_TABLE",
    "ConsentTableName": "CONSENT_TABLE",
    "DataBucketName": "EVENTS_BUCKET",
}
# Stack parameter -> the variable, so `earnest report` runs with the stack's own settings.
PARAMETERS = {"ConsentRegime": "CONSENT_REGIME", "GlobalHoldout": "GLOBAL_HOLDOUT"}
REPORT_PAGE = f"{REPORTS_PREFIX}{LATEST}/index.html"


class StackError(CommandError):
    """The stack cannot be read, or lacks what the CLI needs; the message says which."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=2)


def describe(stack: str) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    try:
        stacks = client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        raise StackError(f"stack {stack!r}: {exc.response['Error']['Message']}") from None
    found: dict[str, Any] = stacks[0]
    return found


def stack_environment(stack: str) -> dict[str, str]:
    """The variables that point every command at the stack's resources."""
    found = describe(stack)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
    missing = sorted(set(OUTPUTS) - set(outputs))
    if missing:
        raise StackError(f"stack {stack!r} has no output {', '.join(missing)}: is it Earnest's?")
    env = {variable: outputs[output] for output, variable in OUTPUTS.items()}
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in found.get("Parameters", [])}
    env |= {v: parameters[k] for k, v in PARAMETERS.items() if k in parameters}
    return env


def use_stack(stack: str, environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Point this process's commands at the stack (what `--stack` does before a command)."""
    env = stack_environment(stack)
    (os.environ if environ is None else environ).update(env)
    settings.cache_clear()
    reset()
    return env


def latest_report_url(bucket: str, expires_in: int = 900) -> str:
    """A presigned URL of the latest report page, valid for `expires_in` seconds."""
    from botocore.exceptions import ClientError

    try:
        client("s3").head_object(Bucket=bucket, Key=REPORT_PAGE)
    except ClientError:
        raise StackError(f"no report in s3://{bucket}/{REPORT_PAGE} yet") from None
    params = {"Bucket": bucket, "Key": REPORT_PAGE, "ResponseContentType": "text/html"}
    url: str = _signer().generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
    return url


def _signer() -> Any:
    """An S3 client that presigns with SigV4 (botocore's default for S3 is still SigV2)."""
    import botocore.session
    from botocore.config import Config

    region = client("s3").meta.region_name
    config = Config(signature_version="s3v4")
    return botocore.session.get_session().create_client("s3", region_name=region, config=config)
