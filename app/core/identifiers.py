"""Authentication: API keys (Bearer), session cookies for people, login with throttling."""

from __future__ import annotations

import uuid


def parse_uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
