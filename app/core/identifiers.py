"""Authentication: API keys (Bearer), session cookies for people, login with throttling."""

from __future__ import annotations

import re
import uuid

_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}", re.ASCII)


def parse_uuid(value: object) -> uuid.UUID | None:
    """A UUID written in ASCII hexadecimal (uuid.UUID alone also reads Arabic-Indic digits, braces and
    a `urn:uuid:` prefix); None otherwise (the caller answers 404)."""
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        return None
    return uuid.UUID(value)
