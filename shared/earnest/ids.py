"""The one bound on an identifier a caller sends: visitor, unit, user and subject ids.

Decide's `visitor.anonymous_id` and `visitor.user_id`, the events' `unit_id` and
`user_id`, and consent's subject ids are the same ids, so they share one limit.
"""

from __future__ import annotations

MAX_ID_LENGTH = 256
