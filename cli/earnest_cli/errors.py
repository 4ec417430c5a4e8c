"""The CLI's one error handler: every failure a user can cause is one line and a non-zero
exit, never a traceback.

Commands raise `CommandError` (or let a domain error through); `run` turns each into a
line on stderr and an exit code: 1 for a refusal or a mistake in what was asked, 2 when
AWS (or the local stack) cannot be reached or configuration is missing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from urllib.parse import urlparse


class CommandError(Exception):
    """A refusal or a mistake in what was asked, told in one line."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def use_local_credentials() -> None:
    """When AWS_ENDPOINT_URL points at loopback (the local stack), use its test
    credentials unless some were set: the local stack has no account behind it."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    if urlparse(endpoint).hostname not in LOOPBACK:
        return
    from earnest_cli.local_stack import LOCAL_ENV

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION"):
        os.environ.setdefault(key, LOCAL_ENV[key])


def _unavailable(message: str) -> str:
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if "EndpointConnectionError" in message or "ConnectTimeout" in message:
        where = endpoint or "AWS"
        hint = " (is `earnest serve` running?)" if endpoint else ""
        return f"cannot reach {where}{hint}: {message}"
    if "NoCredentialsError" in message:
        return (
            f"no AWS credentials: {message}. Export AWS_ENDPOINT_URL (the local stack, "
            "printed by `earnest serve`) or configure AWS credentials"
        )
    return message


def run(prog: str, func: Callable[[], int]) -> int:
    """Run a command; a known failure becomes `prog: <one line>` and its exit code."""
    from botocore.exceptions import BotoCoreError, ClientError

    from earnest.errors import ConcurrentModification, EarnestError, Unavailable
    from earnest_aws.settings import ConfigError

    try:
        return func()
    except CommandError as exc:
        message, code = exc.message, exc.code
    except ConcurrentModification as exc:
        message, code = f"refused: {exc.message}", 1
    except Unavailable as exc:
        message, code = _unavailable(exc.message), 2
    except EarnestError as exc:
        message, code = exc.message, 1
    except ConfigError as exc:
        message, code = f"configuration: {exc}", 2
    except (BotoCoreError, ClientError) as exc:  # a store that does not translate yet
        message, code = _unavailable(f"{type(exc).__name__}: {exc}"), 2
    except OSError as exc:
        message, code = f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 2
    except KeyboardInterrupt:
        return 130
    print(f"{prog}: {message}", file=sys.stderr)
    return code
