"""What a failed command says: one line naming the fix, and an exit code, never a traceback.

Commands raise `CommandError` (or let a domain error through); `describe` turns each into a
line and an exit code: 1 for a refusal or a mistake in what was asked, 2 when AWS (or the
local stack) cannot be reached or configuration is missing. Hints are chosen by the AWS
error code under a domain error (`earnest_aws.aws_errors.error_code`), never by its text.
"""

from __future__ import annotations

import os


class CommandError(Exception):
    """A refusal or a mistake in what was asked, told in one line."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# AWS error codes -> what kind of trouble each is, for its hint.
KINDS = {
    **dict.fromkeys(
        ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"), "unreachable"
    ),
    **dict.fromkeys(("NoCredentialsError", "PartialCredentialsError"), "no_credentials"),
    **dict.fromkeys(
        (
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "ExpiredToken",
            "ExpiredTokenException",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
        ),
        "bad_credentials",
    ),
    **dict.fromkeys(("ResourceNotFoundException", "NoSuchBucket"), "not_found"),
}
NAMES = "check EXPERIENCES_TABLE, CONSENT_TABLE, EVENTS_BUCKET, or give --stack NAME"
# (kind, whether AWS_ENDPOINT_URL is set) -> the hint; {endpoint} is its value.
HINTS = {
    ("unreachable", True): "cannot reach {endpoint} (is `earnest serve` running?)",
    ("unreachable", False): "cannot reach AWS: check the network and AWS_REGION",
    ("no_credentials", True): "no AWS credentials for {endpoint} (AWS_ENDPOINT_URL), which is "
    "not the local stack on 127.0.0.1: set AWS credentials, or export the address `earnest "
    "serve` printed",
    ("no_credentials", False): "no AWS credentials: configure them (AWS_PROFILE, `aws "
    "configure`), or export AWS_ENDPOINT_URL as `earnest serve` prints it for the local stack",
    ("bad_credentials", True): "the endpoint refused the credentials: check AWS_ACCESS_KEY_ID",
    ("bad_credentials", False): "AWS refused the credentials: check AWS_PROFILE or "
    "AWS_ACCESS_KEY_ID",
    ("not_found", True): f"no such table or bucket: {NAMES}",
    ("not_found", False): f"no such table or bucket: {NAMES}",
}


def hint(code: str) -> str:
    """What to do about an AWS error, by its code ("" when there is nothing to add)."""
    kind = KINDS.get(code)
    if kind is None:
        return ""
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    return HINTS[kind, bool(endpoint)].format(endpoint=endpoint)


def _with_hint(message: str, cause: BaseException | None) -> str:
    if cause is None:
        return message
    from earnest_aws.aws_errors import error_code

    said = hint(error_code(cause))
    return f"{said}: {message}" if said else message


def describe(exc: BaseException) -> tuple[str, int] | None:
    """(the line, the exit code) for a failure a user can cause; None for a bug."""
    from botocore.exceptions import BotoCoreError, ClientError

    from earnest.errors import ConcurrentModification, EarnestError, Unavailable
    from earnest_aws.settings import ConfigError

    said: tuple[str, int] | None = None
    if isinstance(exc, CommandError):
        said = exc.message, exc.code
    elif isinstance(exc, Unavailable):
        said = _with_hint(exc.message, exc.__cause__), 2
    elif isinstance(exc, ConcurrentModification):
        said = f"refused: {exc.message}", 1
    elif isinstance(exc, EarnestError):
        said = exc.message, 1
    elif isinstance(exc, ConfigError):
        said = f"configuration: {exc}", 2
    elif isinstance(exc, BotoCoreError | ClientError):  # a store that does not translate yet
        said = _with_hint(f"{type(exc).__name__}: {exc}", exc), 2
    elif isinstance(exc, OSError):
        said = f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 2
    return said
