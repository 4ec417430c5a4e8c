"""The one place AWS errors become domain errors.

Every store runs its AWS calls inside `translated(...)`: any botocore fault that the store
did not handle itself leaves as `Unavailable`, naming what could not be done and the AWS
error code, so callers map one domain error (503, keep the last rules, fail closed) and
never match on botocore classes or text. A store that gives a failure a domain meaning
(a conditional write that lost a race) catches it inside the block, using
`is_condition_failure`, before it reaches here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from earnest.errors import Unavailable

CONDITION_FAILURES = frozenset(
    {"ConditionalCheckFailedException", "TransactionCanceledException", "PreconditionFailed"}
)
THROTTLING = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError, else the exception's class name."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__


def is_condition_failure(exc: BaseException) -> bool:
    return error_code(exc) in CONDITION_FAILURES


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Run AWS calls; any botocore fault leaves as Unavailable("<what> (<code>)")."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise Unavailable(f"{what} ({error_code(exc)})") from exc
