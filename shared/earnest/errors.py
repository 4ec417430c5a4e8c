"""Domain errors that carry their meaning; one registry (earnest_aws.http) maps them to HTTP.

Never choose a status by matching an error's text: raise the class that says what happened.
"""

from __future__ import annotations

from typing import Any


class EarnestError(Exception):
    """Base of every error the product explains to its caller."""

    code = "error"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str]:
        body = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class InvalidRequest(EarnestError):
    """The caller sent something we cannot act on; fixing the named field fixes it."""

    code = "invalid_request"


class InvalidJson(InvalidRequest):
    code = "invalid_json"


class PayloadTooLarge(InvalidRequest):
    code = "payload_too_large"


class Unauthorized(EarnestError):
    """Missing or wrong credentials or signature; nothing was changed."""

    code = "unauthorized"


class Unavailable(EarnestError):
    """A dependency failed; nothing was acknowledged and the caller should retry."""

    code = "unavailable"


class MethodNotAllowed(EarnestError):
    """The route takes another HTTP method (`allowed`)."""

    code = "method_not_allowed"

    def __init__(self, message: str, allowed: str = "POST") -> None:
        super().__init__(message)
        self.allowed = allowed


class ConcurrentModification(EarnestError):
    """Someone else changed the record since it was read; re-read and try again."""

    code = "concurrent_modification"


class Throttled(Unavailable):
    """A dependency kept refusing for capacity past the time allowed to retry; nothing of the
    refused write was applied, and running it again applies it once. To a caller it means
    what `unavailable` means (retry), so it answers with that code."""


class Refused(InvalidRequest):
    """What was asked cannot be done as things stand (resume what is not paused, change an
    experience that is not stored); nothing was changed, and the message says what would
    make it possible."""


class GuardrailsPending(Unavailable):
    """The nightly run could not write some of its guardrail actions (throttled past the
    deadline, or racing other writers every time): `pending` names them, `applied` and
    `already` what was written or found in place before. A re-run applies the rest once."""

    def __init__(
        self,
        message: str,
        applied: list[dict[str, Any]],
        already: list[dict[str, Any]],
        pending: list[dict[str, Any]],
    ) -> None:
        super().__init__(message)
        self.applied = applied
        self.already = already
        self.pending = pending
