"""Users, role grants and API keys: service functions (one unit of work each; those that write commit it)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from app.accounts.authentication import ThrottlePolicy, _reserve
from app.accounts.models import ApiKey, RoleGrant, User
from app.authorization.rules import Role
from app.core.database import utcnow
from app.core.errors import Conflict, NotFound
from app.core.security import MIN_PASSWORD_LENGTH, hash_password, new_api_key, verify_password
from app.core.unit_of_work import UnitOfWork
from workflow.errors import InvalidInput

SCOPES = ("read", "write")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères.", "password")
    if len(password) > 256:
        raise InvalidInput("Le mot de passe dépasse 256 caractères.", "password")


def _grant(uow: UnitOfWork, user: User, role: str, project_id: uuid.UUID | None, region: str | None) -> RoleGrant:
    role = Role(role).value
    if role == Role.ADMIN and (project_id or region):
        raise InvalidInput("Le rôle admin est global : ni projet ni région.", "role")
    if role == Role.PORTEUR and project_id is None:
        raise InvalidInput("Un porteur l'est d'un projet : indiquez project_id.", "project_id")
    if project_id is not None and region is not None:
        raise InvalidInput("Indiquez un projet ou une région, pas les deux.", "region")
    if project_id is not None and uow.projects.get(project_id) is None:
        raise NotFound("Projet introuvable.")
    if any(g.role == role and g.project_id == project_id and g.region == region for g in user.grants):
        raise Conflict("Ce rôle est déjà attribué.")
    grant = RoleGrant(role=role, project_id=project_id, region=region)
    user.grants.append(grant)
    return grant


def create_user(
    uow: UnitOfWork,
    *,
    email: str,
    name: str,
    password: str,
    grants: Sequence[tuple[str, uuid.UUID | None, str | None]] = (),
    now: datetime,
) -> User:
    """Create a user with their roles, all or nothing."""
    email = email.strip().lower()
    _check_password(password)
    if uow.accounts.email_taken(email):
        raise Conflict("Un utilisateur existe déjà avec cette adresse e-mail.")
    user = User(email=email, name=name.strip(), password_hash=hash_password(password), created_at=now, grants=[])
    uow.accounts.add_user(user)
    for role, project_id, region in grants:
        _grant(uow, user, role, project_id, region)
    uow.commit()
    return user


def get_user(uow: UnitOfWork, user_id: int) -> User:
    user = uow.accounts.user(user_id)
    if user is None:
        raise NotFound("Utilisateur introuvable.")
    return user


def list_users(uow: UnitOfWork) -> list[User]:
    return uow.accounts.users()


def update_user(
    uow: UnitOfWork, user_id: int, *, name: str | None = None, active: bool | None = None, password: str | None = None
) -> User:
    """Rename, deactivate (or reactivate), or give a new password; deactivating or a new password closes
    the user's sessions."""
    user = get_user(uow, user_id)
    if name is not None:
        user.name = name.strip()
    if active is not None:
        user.active = active
        if not active:
            uow.accounts.end_web_sessions_of(user.id)
    if password is not None:
        _check_password(password)
        user.password_hash = hash_password(password)
        uow.accounts.end_web_sessions_of(user.id)
        _forget_reset_links(uow, user.id)
    uow.commit()
    return user


WRONG_CURRENT_PASSWORD = "Le mot de passe actuel est incorrect."


def change_own_password(
    uow: UnitOfWork, user_id: int, *, current: str, new: str, now: datetime, policy: ThrottlePolicy
) -> User:
    """A signed-in person changes their own password: the current one is required, the new one follows
    the same rules and hashing as any other; every session of theirs closes (they sign in again).

    The current password is checked under the login's throttle, on the same counter as the account's
    logins (a stolen session guesses no faster than the login page): the attempt is reserved and
    committed first (Throttled once the account's attempts are all taken), the right password forgets
    the failures. `uow` must not carry the request's Idempotency-Key hook: it commits a refused attempt."""
    user = get_user(uow, user_id)
    key = f"email:{user.email}"[:300]
    _reserve(uow, [(key, policy.max_failures)], now, policy)
    uow.commit()  # the attempt is spent from here on, whatever happens to this request
    user = get_user(uow, user_id)
    if not verify_password(user.password_hash, current):
        raise InvalidInput(WRONG_CURRENT_PASSWORD, "current_password")
    uow.accounts.forget_throttle(key)
    uow.commit()
    user = get_user(uow, user_id)
    if new == current:
        raise InvalidInput("Choisissez un nouveau mot de passe, différent de l'actuel.", "password")
    _check_password(new)
    user.password_hash = hash_password(new)
    uow.accounts.end_web_sessions_of(user.id)
    _forget_reset_links(uow, user.id, now)
    uow.commit()
    return user


def _forget_reset_links(uow: UnitOfWork, user_id: int, now: datetime | None = None) -> None:
    """A new password kills the reset links still in the person's mailbox."""
    from app.accounts.password_reset import forget_links  # local: password_reset imports this module

    forget_links(uow, user_id, now or utcnow())


def add_grant(
    uow: UnitOfWork, user_id: int, *, role: str, project_id: uuid.UUID | None, region: str | None
) -> RoleGrant:
    user = get_user(uow, user_id)
    grant = _grant(uow, user, role, project_id, region)
    uow.commit()
    return grant


def remove_grant(uow: UnitOfWork, user_id: int, grant_id: int) -> None:
    user = get_user(uow, user_id)
    grant = next((g for g in user.grants if g.id == grant_id), None)
    if grant is None:
        raise NotFound("Rôle introuvable.")
    user.grants.remove(grant)
    uow.commit()


@dataclass(frozen=True)
class NewKey:
    row: ApiKey
    key: str  # shown once, never stored


def create_api_key(
    uow: UnitOfWork,
    *,
    name: str,
    scopes: list[str],
    regions: list[str] | None = None,
    project_ids: list[uuid.UUID] | None = None,
    expires_at: datetime | None = None,
    consultant: bool = False,
    created_by: str | None,
    now: datetime,
) -> NewKey:
    if not scopes or any(sc not in SCOPES for sc in scopes):
        raise InvalidInput("Portées possibles : read, write.", "scopes")
    if consultant and "write" not in scopes:
        raise InvalidInput("Une clé « consultant » doit avoir la portée write.", "consultant")
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("La date d'expiration doit être dans le futur.", "expires_at")
    for pid in project_ids or []:
        if uow.projects.get(pid) is None:
            raise NotFound(f"Projet introuvable : {pid}.")
    key, prefix, digest = new_api_key()
    row = ApiKey(
        prefix=prefix,
        secret_hash=digest,
        name=name.strip(),
        scopes=sorted(set(scopes)),
        consultant=consultant,
        regions=sorted(set(regions)) if regions else None,
        project_ids=[str(p) for p in project_ids] if project_ids else None,
        created_by=created_by,
        created_at=now,
        expires_at=expires_at,
    )
    uow.accounts.add_api_key(row)
    uow.commit()
    return NewKey(row, key)


def list_api_keys(uow: UnitOfWork) -> list[ApiKey]:
    return uow.accounts.api_keys()


def get_api_key(uow: UnitOfWork, key_id: int) -> ApiKey:
    row = uow.accounts.api_key(key_id)
    if row is None:
        raise NotFound("Clé d'API introuvable.")
    return row


def revoke_api_key(uow: UnitOfWork, *, key_id: int | None = None, prefix: str | None = None, now: datetime) -> ApiKey:
    """Revoke a key, by id or by its visible prefix; revoking a revoked key changes nothing."""
    row = uow.accounts.api_key(key_id) if key_id is not None else uow.accounts.api_key_by_prefix(prefix or "")
    if row is None:
        raise NotFound("Clé d'API introuvable.")
    if row.revoked_at is None:
        row.revoked_at = now
        uow.commit()
    return row
