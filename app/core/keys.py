"""The server key and what is derived from it.

One secret, `REGIEFLOW_SECRET_KEY` (settings.secret_key), never stored in the database. Each use gets
its own 32-byte key derived with HKDF-SHA256 and a purpose label, so that knowing one derived key
(say, a Fernet key leaked from a log) reveals neither the master key nor the others:

- `fernet(settings)`: encrypts secrets the server must read back (webhook signing secrets);
  a MultiFernet over the current key and `previous_secret_keys`, so a rotation can re-encrypt
  (`MultiFernet.rotate`) while old tokens still decrypt;
- `derived_key(settings, purpose)`: raw bytes for HMACs (the event chain, signed checkpoints).

Where the key comes from (`master_key`): the setting if given; in production it is required (the
settings refuse to load without it); in development it is read from `settings.secret_key_file`,
which is created on first use (mode 0600, 32 random bytes, URL-safe base64) — the demo and a
newcomer's machine keep working across restarts without configuring anything.
"""

from __future__ import annotations

import base64
import os
import secrets
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.core.settings import MIN_SECRET_KEY_LENGTH, Settings


class KeyUnavailable(RuntimeError):
    """The server key cannot be read or created (message in French, for the command line)."""


def generate_key() -> str:
    """A new master key: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def _read_or_create(path: Path) -> str:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as err:
        raise KeyUnavailable(f"Clé du serveur illisible dans {path} : {err}") from None
    if text:
        if len(text) < MIN_SECRET_KEY_LENGTH:
            minimum = MIN_SECRET_KEY_LENGTH
            raise KeyUnavailable(f"Clé du serveur trop courte dans {path} (au moins {minimum} caractères).")
        return text
    key = generate_key()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return _read_or_create(path)
    except OSError as err:
        raise KeyUnavailable(f"Impossible de créer la clé du serveur dans {path} : {err}") from None
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key + "\n")
    return key


@lru_cache(maxsize=8)
def _key_file(path: Path) -> str:
    """The development key file, read once per process (a changed file takes effect on restart)."""
    return _read_or_create(path)


def master_key(settings: Settings) -> str:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().strip()
    return _key_file(settings.secret_key_file)


def master_keys(settings: Settings) -> list[str]:
    """The current key first, then the previous ones (rotation), without duplicates."""
    keys = [master_key(settings)]
    for k in settings.previous_secret_keys:
        value = k.get_secret_value().strip()
        if value and value not in keys:
            keys.append(value)
    return keys


def _derive(master: str, purpose: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"regieflow:{purpose}".encode())
    return hkdf.derive(master.encode())


def derived_key(settings: Settings, purpose: str) -> bytes:
    """The current key for `purpose` (e.g. "event-chain", "checkpoints")."""
    return _derive(master_key(settings), purpose)


def derived_keys(settings: Settings, purpose: str) -> list[bytes]:
    """Current then previous keys for `purpose` (to verify what was made before a rotation)."""
    return [_derive(m, purpose) for m in master_keys(settings)]


def fernet(settings: Settings, purpose: str = "webhook-secrets") -> MultiFernet:
    return MultiFernet([Fernet(base64.urlsafe_b64encode(k)) for k in derived_keys(settings, purpose)])
