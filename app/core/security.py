"""Secrets: password hashing (argon2id), random tokens, API key format, and the event hash chain."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import secrets
from datetime import UTC, date, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


@functools.cache
def _dummy_hash() -> str:
    """Checked when a login names nobody, so that it costs what a wrong password costs. Computed on
    first use, not at import: one argon2id hash is 0.26 s of CPU off the start-up path."""
    return _hasher.hash("regieflow: a password nobody has")


KEY_PREFIX = "rf"


MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists (a dummy hash is checked when there is none)."""
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_prefixed_secret(kind: str) -> tuple[str, str, str]:
    """(secret shown once, visible prefix, SHA-256 of the secret). Format: <kind>_<8 hex>_<secret>."""
    prefix = f"{kind}_{secrets.token_hex(4)}"
    value = f"{prefix}_{secrets.token_urlsafe(32)}"
    return value, prefix, sha256_hex(value)


def prefix_of(value: str, kind: str) -> str | None:
    """The visible prefix of a well-formed <kind>_<8 hex>_<secret>, or None."""
    parts = value.split("_", 2)
    if len(parts) != 3 or parts[0] != kind or len(parts[1]) != 8 or len(parts[2]) < 20 or len(value) > 120:
        return None
    return f"{parts[0]}_{parts[1]}"


def new_api_key() -> tuple[str, str, str]:
    """(full key shown once, visible prefix, SHA-256 of the full key). Format: rf_<8 hex>_<secret>."""
    return new_prefixed_secret(KEY_PREFIX)


def split_api_key(key: str) -> str | None:
    """The prefix of a well-formed key, or None."""
    return prefix_of(key, KEY_PREFIX)


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


# --- the event chain ------------------------------------------------------------------------------
# Each event's `hash` is HMAC-SHA256, keyed with `derived_key(settings, "event-chain")` (never stored in
# the database), over its canonical content (HASHED_FIELDS, canonical JSON with sorted keys) and the
# previous event's hash (same project). Someone who can write to the database but does not hold the
# server key cannot rewrite an event and recompute the chain after it. (Before revision 0005 it was a
# plain SHA-256 of the same bytes; that migration re-keyed every event.)
CHAIN_PURPOSE = "event-chain"


def canonical_event(fields: dict[str, Any], prev_hash: str | None) -> bytes:
    """The bytes an event's hash covers: its fields (canonical JSON, sorted keys) and the previous hash."""
    content = {k: _canonical(v) for k, v in fields.items()}
    content["prev_hash"] = prev_hash or ""
    raw = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return raw.encode()


def event_hash(fields: dict[str, Any], prev_hash: str | None, key: bytes) -> str:
    """HMAC-SHA256 (hex) with the chain key over an event's canonical content and the previous hash."""
    return hmac.new(key, canonical_event(fields, prev_hash), hashlib.sha256).hexdigest()


HASHED_FIELDS = (
    "project_id",
    "seq",
    "type",
    "trigger",
    "from_state",
    "to_state",
    "effective_on",
    "recorded_at",
    "actor",
    "reason",
    "data",
)


def event_fields(event: Any) -> dict[str, Any]:
    """The hashed content of an event row (the project id as text)."""
    fields = {name: getattr(event, name) for name in HASHED_FIELDS}
    fields["project_id"] = str(fields["project_id"])
    return fields


def hash_of_event(event: Any, key: bytes) -> str:
    return event_hash(event_fields(event), event.prev_hash, key)


def signature(key: bytes, payload: bytes) -> str:
    """HMAC-SHA256 (hex) of `payload`: signed checkpoints."""
    return hmac.new(key, payload, hashlib.sha256).hexdigest()
