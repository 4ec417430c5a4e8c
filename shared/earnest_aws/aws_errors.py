"""The one place AWS errors become domain errors.

Every store runs its AWS calls inside `translated(...)`: any botocore fault that the store
did not handle itself leaves as `Unavailable` (`Throttled` when AWS refused for capacity),
naming what could not be done and the AWS error code, so callers map one domain error
(503, keep the last rules, fail closed, a run that fails loudly) and never match on
botocore classes or text. A store that gives a failure a domain meaning (a conditional
write that lost a race) catches it inside the block, using `is_condition_failure`, before
it reaches here.

A cancelled DynamoDB transaction says why per item (`CancellationReasons`): only a
`ConditionalCheckFailed` among them is a lost race; a transaction cancelled for
throttling or for a conflict with another transaction in flight is retryable
(`is_throttled`), never "someone else changed it".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from earnest.errors import Throttled, Unavailable

CONDITION_FAILURES = frozenset(
    {"ConditionalCheckFailedException", "TransactionCanceledException", "PreconditionFailed"}
)
THROTTLING = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
    }
)
CANCELLED = "TransactionCanceledException"
CONDITION_FAILED = "ConditionalCheckFailed"
# Cancellation reasons worth retrying: capacity, or another transaction on the same item.
RETRYABLE_CANCELLATIONS = frozenset(
    {
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "TransactionConflict",
        "RequestLimitExceeded",
    }
)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError, else the exception's class name."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__


def cancellation_reasons(exc: BaseException) -> list[str]:
    """A cancelled transaction's reason per item, in the items' order (`None` for an item
    that was fine); empty for any other error."""
    if error_code(exc) != CANCELLED:
        return []
    response = getattr(exc, "response", None) or {}
    reasons = response.get("CancellationReasons") if isinstance(response, dict) else None
    return [str((r or {}).get("Code") or "None") for r in reasons or []]


def is_condition_failure(exc: BaseException) -> bool:
    """A condition of the write did not hold: someone else changed the item first."""
    code = error_code(exc)
    if code == CANCELLED:
        reasons = cancellation_reasons(exc)
        return CONDITION_FAILED in reasons or not reasons  # no reasons: as it always meant
    return code in CONDITION_FAILURES


def is_throttled(exc: BaseException) -> bool:
    """AWS refused for capacity (or an item was busy in another transaction): retry later."""
    code = error_code(exc)
    if code == CANCELLED:
        reasons = set(cancellation_reasons(exc)) - {"None"}
        return bool(reasons) and reasons <= RETRYABLE_CANCELLATIONS
    return code in THROTTLING


def describe(exc: BaseException) -> str:
    """The AWS error code, with a cancelled transaction's reasons: `TransactionCanceled…
    (ThrottlingError, None)`."""
    reasons = cancellation_reasons(exc)
    return f"{error_code(exc)} ({', '.join(reasons)})" if reasons else error_code(exc)


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Run AWS calls; any botocore fault leaves as Unavailable("<what> (<code>)"), or as
    Throttled when AWS refused for capacity."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        error = Throttled if is_throttled(exc) else Unavailable
        raise error(f"{what} ({describe(exc)})") from exc
